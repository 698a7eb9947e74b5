// Decoding of every accepted image kind, EXIF orientation, and rejection of
// empty, truncated, corrupt, unrecognised and oversized inputs. Every input is
// generated here.
#include "facespace/image.h"

#include <fstream>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <png.h>

#include "facespace/error.h"
#include "image/image_writers.h"
#include "test_support.h"

namespace facespace {
namespace {

using testing::ByteVector;

// Runs DecodeImage and returns the Error it throws. Fails the test if it throws none.
Error DecodeError(const ByteVector& bytes, const std::string& name, const DecodeOptions& options = {}) {
  try {
    DecodeImage(bytes, name, options);
  } catch (const Error& error) {
    return error;
  }
  ADD_FAILURE() << name << ": DecodeImage accepted the input";
  return Error(ErrorCategory::kInternal, "no error");
}

testing::PngSpec PngHeader(int width, int height, int color_type, int bit_depth = 8) {
  testing::PngSpec spec;
  spec.width = width;
  spec.height = height;
  spec.color_type = color_type;
  spec.bit_depth = bit_depth;
  return spec;
}

cv::Mat NoiseBgr(int width, int height, unsigned seed) {
  cv::Mat image(height, width, CV_8UC3);
  cv::RNG rng(seed);
  rng.fill(image, cv::RNG::UNIFORM, 0, 256);
  return image;
}

cv::Mat BgrToRgb(const cv::Mat& bgr) {
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

double MaxAbsDifference(const cv::Mat& a, const cv::Mat& b) {
  return cv::norm(a, b, cv::NORM_INF);
}

void ExpectRgb8(const DecodedImage& image, int width, int height) {
  EXPECT_EQ(image.rgb.type(), CV_8UC3);
  EXPECT_EQ(image.rgb.cols, width);
  EXPECT_EQ(image.rgb.rows, height);
}

// ---------------------------------------------------------------- formats

TEST(Decode, PngRgbExact) {
  const cv::Mat bgr = NoiseBgr(17, 9, 1);
  const DecodedImage image = DecodeImage(testing::EncodeWithOpenCv(bgr, ".png"), "rgb.png");
  ExpectRgb8(image, 17, 9);
  EXPECT_EQ(image.format, "png");
  EXPECT_EQ(image.exif_orientation, 1);
  EXPECT_EQ(MaxAbsDifference(image.rgb, BgrToRgb(bgr)), 0);
}

TEST(Decode, JpegIsRgbOrder) {
  cv::Mat bgr(32, 32, CV_8UC3, cv::Scalar(0, 0, 255));  // pure red in OpenCV's B, G, R order
  const DecodedImage image = DecodeImage(testing::EncodeWithOpenCv(bgr, ".jpg"), "red.jpg");
  ExpectRgb8(image, 32, 32);
  EXPECT_EQ(image.format, "jpeg");
  const cv::Vec3b pixel = image.rgb.at<cv::Vec3b>(16, 16);
  EXPECT_GT(pixel[0], 240);
  EXPECT_LT(pixel[1], 15);
  EXPECT_LT(pixel[2], 15);
}

TEST(Decode, JpegGrayscale) {
  cv::Mat gray(24, 40, CV_8UC1, cv::Scalar(90));
  const DecodedImage image = DecodeImage(testing::EncodeWithOpenCv(gray, ".jpg"), "gray.jpg");
  ExpectRgb8(image, 40, 24);
  const cv::Vec3b pixel = image.rgb.at<cv::Vec3b>(10, 10);
  EXPECT_NEAR(pixel[0], 90, 2);
  EXPECT_EQ(pixel[0], pixel[1]);
  EXPECT_EQ(pixel[1], pixel[2]);
}

TEST(Decode, PngGray8) {
  cv::Mat gray(5, 7, CV_8UC1);
  cv::randu(gray, 0, 256);
  const DecodedImage image = DecodeImage(testing::EncodeWithOpenCv(gray, ".png"), "gray.png");
  ExpectRgb8(image, 7, 5);
  cv::Mat expected;
  cv::cvtColor(gray, expected, cv::COLOR_GRAY2RGB);
  EXPECT_EQ(MaxAbsDifference(image.rgb, expected), 0);
}

TEST(Decode, PngGray1Bit) {
  testing::PngSpec spec = PngHeader(8, 2, PNG_COLOR_TYPE_GRAY, 1);
  spec.samples = {0b10100000, 0b01011111};
  const DecodedImage image = DecodeImage(testing::EncodePng(spec), "bits.png");
  ExpectRgb8(image, 8, 2);
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 1), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(1, 7), cv::Vec3b(255, 255, 255));
}

TEST(Decode, PngGrayAlphaOverBlack) {
  testing::PngSpec spec = PngHeader(3, 1, PNG_COLOR_TYPE_GRAY_ALPHA);
  spec.samples = {200, 255, 200, 0, 200, 128};
  const DecodedImage image = DecodeImage(testing::EncodePng(spec), "gray-alpha.png");
  ExpectRgb8(image, 3, 1);
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(200, 200, 200));  // opaque
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 1), cv::Vec3b(0, 0, 0));        // transparent
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 2), cv::Vec3b(100, 100, 100));  // 200 * 128 / 255
}

TEST(Decode, PngRgbaOverBlack) {
  cv::Mat bgra(1, 2, CV_8UC4);
  bgra.at<cv::Vec4b>(0, 0) = cv::Vec4b(30, 20, 10, 255);
  bgra.at<cv::Vec4b>(0, 1) = cv::Vec4b(250, 150, 50, 51);
  const DecodedImage image = DecodeImage(testing::EncodeWithOpenCv(bgra, ".png"), "rgba.png");
  ExpectRgb8(image, 2, 1);
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(10, 20, 30));
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 1), cv::Vec3b(10, 30, 50));  // scaled by 51 / 255
}

TEST(Decode, Png16BitScalesTo8) {
  cv::Mat bgr16(1, 3, CV_16UC3);
  bgr16.at<cv::Vec3w>(0, 0) = cv::Vec3w(0, 257 * 100, 65535);
  bgr16.at<cv::Vec3w>(0, 1) = cv::Vec3w(65535, 65535, 65535);
  bgr16.at<cv::Vec3w>(0, 2) = cv::Vec3w(0, 0, 0);
  const DecodedImage image = DecodeImage(testing::EncodeWithOpenCv(bgr16, ".png"), "deep.png");
  ExpectRgb8(image, 3, 1);
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 100, 0));
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 1), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 2), cv::Vec3b(0, 0, 0));
}

TEST(Decode, PngGray16) {
  cv::Mat gray16(1, 2, CV_16UC1);
  gray16.at<std::uint16_t>(0, 0) = 257 * 42;
  gray16.at<std::uint16_t>(0, 1) = 65535;
  const DecodedImage image = DecodeImage(testing::EncodeWithOpenCv(gray16, ".png"), "gray16.png");
  ExpectRgb8(image, 2, 1);
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(42, 42, 42));
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 1), cv::Vec3b(255, 255, 255));
}

TEST(Decode, PngPaletteWithTransparency) {
  testing::PngSpec spec = PngHeader(3, 1, PNG_COLOR_TYPE_PALETTE);
  spec.palette = {cv::Vec3b(255, 0, 0), cv::Vec3b(0, 200, 0), cv::Vec3b(0, 0, 100)};
  spec.palette_alpha = {255, 255, 0};
  spec.samples = {0, 1, 2};
  const DecodedImage image = DecodeImage(testing::EncodePng(spec), "palette.png");
  ExpectRgb8(image, 3, 1);
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 1), cv::Vec3b(0, 200, 0));
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 2), cv::Vec3b(0, 0, 0));  // fully transparent entry
}

TEST(Decode, OpenCvFormatsExact) {
  const cv::Mat bgr = NoiseBgr(13, 11, 2);
  const struct {
    const char* extension;
    const char* format;
    std::vector<int> parameters;
  } cases[] = {
      {".bmp", "bmp", {}},
      {".tiff", "tiff", {}},
      {".ppm", "pnm", {}},
      {".webp", "webp", {cv::IMWRITE_WEBP_QUALITY, 101}},  // quality above 100 means lossless
      {".ras", "sunraster", {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.extension);
    const DecodedImage image =
        DecodeImage(testing::EncodeWithOpenCv(bgr, c.extension, c.parameters), std::string("image") + c.extension);
    ExpectRgb8(image, 13, 11);
    EXPECT_EQ(image.format, c.format);
    EXPECT_EQ(MaxAbsDifference(image.rgb, BgrToRgb(bgr)), 0);
  }
}

TEST(Decode, TiffRgbaAndGray16) {
  cv::Mat bgra(1, 1, CV_8UC4, cv::Scalar(40, 80, 120, 255));
  DecodedImage image = DecodeImage(testing::EncodeWithOpenCv(bgra, ".tiff"), "rgba.tiff");
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(120, 80, 40));

  cv::Mat gray16(1, 1, CV_16UC1, cv::Scalar(257 * 7));
  image = DecodeImage(testing::EncodeWithOpenCv(gray16, ".tiff"), "gray16.tiff");
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(7, 7, 7));
}

TEST(Decode, PgmGray) {
  cv::Mat gray(2, 2, CV_8UC1, cv::Scalar(77));
  const DecodedImage image = DecodeImage(testing::EncodeWithOpenCv(gray, ".pgm"), "gray.pgm");
  EXPECT_EQ(image.format, "pnm");
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(1, 1), cv::Vec3b(77, 77, 77));
}

TEST(Decode, GifWithTransparency) {
  cv::Mat indices = (cv::Mat_<std::uint8_t>(2, 3) << 0, 1, 2, 2, 1, 0);
  const std::vector<cv::Vec3b> palette = {cv::Vec3b(255, 0, 0), cv::Vec3b(0, 255, 0), cv::Vec3b(9, 9, 9)};
  const DecodedImage image = DecodeImage(testing::EncodeGif(indices, palette, 2, false), "anim.gif");
  ExpectRgb8(image, 3, 2);
  EXPECT_EQ(image.format, "gif");
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 1), cv::Vec3b(0, 255, 0));
  EXPECT_EQ(image.rgb.at<cv::Vec3b>(0, 2), cv::Vec3b(0, 0, 0));  // transparent index
}

TEST(Decode, GifInterlaced) {
  cv::Mat indices(20, 4, CV_8UC1);
  for (int y = 0; y < indices.rows; ++y) indices.row(y).setTo(y);
  std::vector<cv::Vec3b> palette;
  for (int i = 0; i < 20; ++i) palette.emplace_back(static_cast<std::uint8_t>(i * 10), 0, 0);
  const DecodedImage image = DecodeImage(testing::EncodeGif(indices, palette, -1, true), "interlaced.gif");
  ExpectRgb8(image, 4, 20);
  for (int y = 0; y < 20; ++y) EXPECT_EQ(image.rgb.at<cv::Vec3b>(y, 2)[0], y * 10) << "row " << y;
}

// ------------------------------------------------------------- CMYK JPEG

// Stored C, M, Y, K bytes for a red pixel (no cyan, full magenta and yellow),
// written either as ink amounts or inverted as Adobe's applications do.
cv::Mat RedCmykSamples(bool inverted) {
  const std::uint8_t ink[4] = {0, 255, 255, 0};
  cv::Mat samples(16, 16, CV_8UC4);
  for (int c = 0; c < 4; ++c) {
    const std::uint8_t stored = inverted ? static_cast<std::uint8_t>(255 - ink[c]) : ink[c];
    samples.forEach<cv::Vec4b>([&](cv::Vec4b& pixel, const int*) { pixel[c] = stored; });
  }
  return samples;
}

void ExpectRed(const DecodedImage& image) {
  ExpectRgb8(image, 16, 16);
  const cv::Vec3b pixel = image.rgb.at<cv::Vec3b>(8, 8);
  EXPECT_GT(pixel[0], 240);
  EXPECT_LT(pixel[1], 15);
  EXPECT_LT(pixel[2], 15);
}

TEST(Decode, CmykJpegAdobeInverted) {
  ExpectRed(DecodeImage(testing::EncodeCmykJpeg(RedCmykSamples(true), false, true), "adobe-cmyk.jpg"));
}

TEST(Decode, YcckJpegAdobeInverted) {
  ExpectRed(DecodeImage(testing::EncodeCmykJpeg(RedCmykSamples(true), true, true), "adobe-ycck.jpg"));
}

TEST(Decode, CmykJpegWithoutAdobeMarker) {
  ExpectRed(DecodeImage(testing::EncodeCmykJpeg(RedCmykSamples(false), false, false), "plain-cmyk.jpg"));
}

// ---------------------------------------------------------- orientation

// A 3x2 image whose six pixels a..f have distinct red values 10..60:
//   a b c
//   d e f
// Each case lists the upright rows that the orientation tag requires.
struct OrientationCase {
  int orientation;
  std::vector<std::vector<int>> rows;
};

const OrientationCase kOrientationCases[] = {
    {1, {{10, 20, 30}, {40, 50, 60}}},
    {2, {{30, 20, 10}, {60, 50, 40}}},
    {3, {{60, 50, 40}, {30, 20, 10}}},
    {4, {{40, 50, 60}, {10, 20, 30}}},
    {5, {{10, 40}, {20, 50}, {30, 60}}},
    {6, {{40, 10}, {50, 20}, {60, 30}}},
    {7, {{60, 30}, {50, 20}, {40, 10}}},
    {8, {{30, 60}, {20, 50}, {10, 40}}},
};

TEST(Orientation, PngExifAllEight) {
  for (const OrientationCase& c : kOrientationCases) {
    SCOPED_TRACE("orientation " + std::to_string(c.orientation));
    testing::PngSpec spec = PngHeader(3, 2, PNG_COLOR_TYPE_RGB);
    for (int value : {10, 20, 30, 40, 50, 60}) spec.samples.insert(spec.samples.end(), {static_cast<std::uint8_t>(value), 0, 0});
    spec.exif_orientation = c.orientation;

    const DecodedImage image = DecodeImage(testing::EncodePng(spec), "oriented.png");
    EXPECT_EQ(image.exif_orientation, c.orientation);
    ASSERT_EQ(image.rgb.rows, static_cast<int>(c.rows.size()));
    ASSERT_EQ(image.rgb.cols, static_cast<int>(c.rows[0].size()));
    for (int y = 0; y < image.rgb.rows; ++y) {
      for (int x = 0; x < image.rgb.cols; ++x) {
        EXPECT_EQ(image.rgb.at<cv::Vec3b>(y, x)[0], c.rows[y][x]) << "at x=" << x << " y=" << y;
      }
    }
  }
}

TEST(Orientation, TiffAllEight) {
  cv::Mat rgb(2, 3, CV_8UC3, cv::Scalar(0, 0, 0));
  const int values[] = {10, 20, 30, 40, 50, 60};
  for (int i = 0; i < 6; ++i) rgb.at<cv::Vec3b>(i / 3, i % 3)[0] = static_cast<std::uint8_t>(values[i]);

  for (const OrientationCase& c : kOrientationCases) {
    SCOPED_TRACE("orientation " + std::to_string(c.orientation));
    const DecodedImage image = DecodeImage(testing::EncodeTiffWithOrientation(rgb, c.orientation), "oriented.tiff");
    EXPECT_EQ(image.format, "tiff");
    EXPECT_EQ(image.exif_orientation, c.orientation);
    ASSERT_EQ(image.rgb.rows, static_cast<int>(c.rows.size()));
    ASSERT_EQ(image.rgb.cols, static_cast<int>(c.rows[0].size()));
    for (int y = 0; y < image.rgb.rows; ++y) {
      for (int x = 0; x < image.rgb.cols; ++x) {
        EXPECT_EQ(image.rgb.at<cv::Vec3b>(y, x)[0], c.rows[y][x]) << "at x=" << x << " y=" << y;
      }
    }
  }
}

// A 64x32 JPEG whose left half is red and right half blue.
ByteVector RedBlueJpeg(int orientation) {
  cv::Mat bgr(32, 64, CV_8UC3, cv::Scalar(255, 0, 0));
  bgr(cv::Rect(0, 0, 32, 32)).setTo(cv::Scalar(0, 0, 255));
  return testing::InsertExifOrientation(testing::EncodeWithOpenCv(bgr, ".jpg"), orientation);
}

bool IsRed(const cv::Vec3b& pixel) { return pixel[0] > 200 && pixel[2] < 50; }
bool IsBlue(const cv::Vec3b& pixel) { return pixel[2] > 200 && pixel[0] < 50; }

TEST(Orientation, JpegRotate180) {
  const DecodedImage image = DecodeImage(RedBlueJpeg(3), "rotated.jpg");
  EXPECT_EQ(image.exif_orientation, 3);
  ExpectRgb8(image, 64, 32);
  EXPECT_TRUE(IsBlue(image.rgb.at<cv::Vec3b>(16, 8)));
  EXPECT_TRUE(IsRed(image.rgb.at<cv::Vec3b>(16, 56)));
}

TEST(Orientation, JpegRotate90Clockwise) {
  const DecodedImage image = DecodeImage(RedBlueJpeg(6), "rotated.jpg");
  EXPECT_EQ(image.exif_orientation, 6);
  ExpectRgb8(image, 32, 64);
  EXPECT_TRUE(IsRed(image.rgb.at<cv::Vec3b>(8, 16)));
  EXPECT_TRUE(IsBlue(image.rgb.at<cv::Vec3b>(56, 16)));
}

TEST(Orientation, JpegRotate90CounterClockwise) {
  const DecodedImage image = DecodeImage(RedBlueJpeg(8), "rotated.jpg");
  EXPECT_EQ(image.exif_orientation, 8);
  ExpectRgb8(image, 32, 64);
  EXPECT_TRUE(IsBlue(image.rgb.at<cv::Vec3b>(8, 16)));
  EXPECT_TRUE(IsRed(image.rgb.at<cv::Vec3b>(56, 16)));
}

TEST(Orientation, InvalidTagIgnored) {
  const DecodedImage image = DecodeImage(RedBlueJpeg(9), "bad-tag.jpg");
  EXPECT_EQ(image.exif_orientation, 1);
  ExpectRgb8(image, 64, 32);
}

// -------------------------------------------------------------- rejects

TEST(Reject, ZeroBytes) {
  const Error error = DecodeError({}, "empty.jpg");
  EXPECT_EQ(error.category(), ErrorCategory::kDecode);
  EXPECT_STREQ(error.what(), "empty.jpg: empty file (0 bytes)");
}

TEST(Reject, ZeroByteFile) {
  testing::TempDir dir;
  const auto path = dir.path() / "empty.png";
  std::ofstream(path).close();
  try {
    ReadImageFile(path);
    FAIL() << "an empty file was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kDecode);
    EXPECT_EQ(std::string(error.what()), path.string() + ": empty file (0 bytes)");
  }
}

TEST(Reject, MissingFile) {
  try {
    ReadImageFile("/nonexistent/facespace/face.jpg");
    FAIL() << "a missing file was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kNotFound);
    EXPECT_STREQ(error.what(), "/nonexistent/facespace/face.jpg: file not found");
  }
}

TEST(Reject, UnrecognisedFormat) {
  const std::string text = "<!DOCTYPE html>";
  const Error error = DecodeError(ByteVector(text.begin(), text.end()), "page.jpg");
  EXPECT_EQ(error.category(), ErrorCategory::kDecode);
  EXPECT_STREQ(error.what(), "page.jpg: unrecognised image format (first bytes: 3c 21 44 4f 43 54 59 50)");
}

TEST(Reject, UnsupportedFormatNamed) {
  const ByteVector jpeg2000 = {0xFF, 0x4F, 0xFF, 0x51, 0, 0, 0, 0};
  const Error error = DecodeError(jpeg2000, "scan.jp2");
  EXPECT_EQ(error.category(), ErrorCategory::kDecode);
  EXPECT_EQ(std::string(error.what()).rfind("scan.jp2: JPEG 2000 images are not supported", 0), 0u) << error.what();
}

TEST(Decode, FormatFromBytesNotName) {
  testing::TempDir dir;
  const auto path = dir.path() / "photo.jpg";
  const ByteVector png = testing::EncodeWithOpenCv(NoiseBgr(4, 4, 3), ".png");
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
  const DecodedImage image = ReadImageFile(path);
  EXPECT_EQ(image.format, "png");
  ExpectRgb8(image, 4, 4);
}

TEST(Reject, TruncatedJpeg) {
  const ByteVector jpeg = testing::EncodeWithOpenCv(NoiseBgr(64, 64, 4), ".jpg");
  const ByteVector half(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(jpeg.size() / 2));
  const Error error = DecodeError(half, "half.jpg");
  EXPECT_EQ(error.category(), ErrorCategory::kDecode);
  EXPECT_STREQ(error.what(), "half.jpg: truncated JPEG data (premature end of file)");
}

TEST(Reject, JpegWithoutEndMarker) {
  const ByteVector jpeg = testing::EncodeWithOpenCv(NoiseBgr(64, 64, 5), ".jpg");
  ASSERT_EQ(jpeg[jpeg.size() - 2], 0xFF);
  ASSERT_EQ(jpeg[jpeg.size() - 1], 0xD9);
  const ByteVector cut(jpeg.begin(), jpeg.end() - 2);
  const Error error = DecodeError(cut, "no-eoi.jpg");
  EXPECT_STREQ(error.what(), "no-eoi.jpg: truncated JPEG data (premature end of file)");
}

TEST(Reject, TruncatedJpegHeader) {
  const ByteVector jpeg = testing::EncodeWithOpenCv(NoiseBgr(8, 8, 6), ".jpg");
  const ByteVector cut(jpeg.begin(), jpeg.begin() + 30);
  const Error error = DecodeError(cut, "stub.jpg");
  EXPECT_EQ(error.category(), ErrorCategory::kDecode);
  EXPECT_STREQ(error.what(), "stub.jpg: truncated JPEG header");
}

TEST(Reject, CorruptJpegScan) {
  ByteVector jpeg = testing::EncodeWithOpenCv(NoiseBgr(64, 64, 7), ".jpg");
  // Overwrite the middle of the entropy-coded data with a restart marker,
  // which a stream without a restart interval never contains.
  const std::size_t middle = jpeg.size() / 2 + 200;
  ASSERT_LT(middle + 2, jpeg.size() - 2);
  jpeg[middle] = 0xFF;
  jpeg[middle + 1] = 0xD3;
  const Error error = DecodeError(jpeg, "corrupt.jpg");
  EXPECT_EQ(error.category(), ErrorCategory::kDecode);
  EXPECT_EQ(std::string(error.what()).rfind("corrupt.jpg: corrupt JPEG data (", 0), 0u) << error.what();
}

TEST(Reject, TwelveBitJpeg) {
  ByteVector jpeg = testing::EncodeWithOpenCv(NoiseBgr(8, 8, 17), ".jpg");
  std::size_t sof = 2;
  while (!(jpeg[sof] == 0xFF && jpeg[sof + 1] == 0xC0)) ++sof;
  jpeg[sof + 4] = 12;  // sample precision
  const Error error = DecodeError(jpeg, "deep.jpg");
  EXPECT_EQ(error.category(), ErrorCategory::kDecode);
  EXPECT_STREQ(error.what(), "deep.jpg: unsupported JPEG variant (Unsupported JPEG data precision 12)");
}

TEST(Reject, TruncatedPng) {
  const ByteVector png = testing::EncodeWithOpenCv(NoiseBgr(64, 64, 8), ".png");
  const ByteVector half(png.begin(), png.begin() + static_cast<std::ptrdiff_t>(png.size() / 2));
  const Error error = DecodeError(half, "half.png");
  EXPECT_EQ(error.category(), ErrorCategory::kDecode);
  EXPECT_STREQ(error.what(), "half.png: truncated PNG data (the file ends before its IEND chunk)");
}

TEST(Reject, PngWithoutEndChunk) {
  const ByteVector png = testing::EncodeWithOpenCv(NoiseBgr(16, 16, 9), ".png");
  const ByteVector cut(png.begin(), png.end() - 12);  // the IEND chunk is 12 bytes
  const Error error = DecodeError(cut, "no-iend.png");
  EXPECT_STREQ(error.what(), "no-iend.png: truncated PNG data (the file ends before its IEND chunk)");
}

TEST(Reject, CorruptPngCrc) {
  ByteVector png = testing::EncodeWithOpenCv(NoiseBgr(16, 16, 10), ".png");
  png[29] ^= 0xFF;  // last byte of the IHDR chunk's CRC
  const Error error = DecodeError(png, "crc.png");
  EXPECT_EQ(error.category(), ErrorCategory::kDecode);
  EXPECT_STREQ(error.what(), "crc.png: corrupt PNG data (IHDR: CRC error)");
}

TEST(Reject, TruncatedGif) {
  cv::Mat indices(32, 32, CV_8UC1);
  cv::randu(indices, 0, 200);
  std::vector<cv::Vec3b> palette(200, cv::Vec3b(1, 2, 3));
  const ByteVector gif = testing::EncodeGif(indices, palette, -1, false);
  const ByteVector half(gif.begin(), gif.begin() + static_cast<std::ptrdiff_t>(gif.size() * 2 / 3));
  const Error error = DecodeError(half, "half.gif");
  EXPECT_EQ(error.category(), ErrorCategory::kDecode);
  EXPECT_EQ(std::string(error.what()).rfind("half.gif: truncated GIF data (", 0), 0u) << error.what();
}

TEST(Reject, TruncatedBmp) {
  const ByteVector bmp = testing::EncodeWithOpenCv(NoiseBgr(16, 16, 11), ".bmp");
  const ByteVector cut(bmp.begin(), bmp.end() - 100);
  const Error error = DecodeError(cut, "cut.bmp");
  EXPECT_EQ(error.category(), ErrorCategory::kDecode);
  EXPECT_EQ(std::string(error.what()), "cut.bmp: truncated BMP data (722 bytes, the header requires 822)");
}

TEST(Reject, TruncatedOpenCvFormats) {
  const cv::Mat bgr = NoiseBgr(64, 64, 15);
  const struct {
    const char* extension;
    std::vector<int> parameters;
  } cases[] = {
      {".tiff", {}},
      {".ppm", {}},
      {".webp", {cv::IMWRITE_WEBP_QUALITY, 101}},
      {".ras", {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.extension);
    const ByteVector bytes = testing::EncodeWithOpenCv(bgr, c.extension, c.parameters);
    const ByteVector half(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 2));
    const Error error = DecodeError(half, std::string("half") + c.extension);
    EXPECT_EQ(error.category(), ErrorCategory::kDecode);
  }
}

TEST(Reject, TruncatedPpm) {
  const ByteVector ppm = testing::EncodeWithOpenCv(NoiseBgr(8, 4, 16), ".ppm");
  const ByteVector cut(ppm.begin(), ppm.end() - 10);
  const Error error = DecodeError(cut, "cut.ppm");
  EXPECT_EQ(error.category(), ErrorCategory::kDecode);
  EXPECT_EQ(std::string(error.what()),
            fmt::format("cut.ppm: truncated PNM data ({} bytes, the header requires {})", cut.size(), ppm.size()));
}

TEST(Reject, RandomBytesAfterJpegMagic) {
  std::mt19937 random(12);
  ByteVector bytes = {0xFF, 0xD8, 0xFF};
  for (int i = 0; i < 500; ++i) bytes.push_back(static_cast<std::uint8_t>(random()));
  const Error error = DecodeError(bytes, "noise.jpg");
  EXPECT_EQ(error.category(), ErrorCategory::kDecode);
  EXPECT_EQ(std::string(error.what()).rfind("noise.jpg: ", 0), 0u);
}

TEST(Decode, ConcurrentCallsAgree) {
  std::vector<ByteVector> files = {
      testing::EncodeWithOpenCv(NoiseBgr(40, 30, 20), ".jpg"),
      testing::EncodeWithOpenCv(NoiseBgr(40, 30, 21), ".png"),
      testing::EncodeGif(cv::Mat(30, 40, CV_8UC1, cv::Scalar(1)), {cv::Vec3b(0, 0, 0), cv::Vec3b(5, 6, 7)}, -1, false),
      testing::EncodeWithOpenCv(NoiseBgr(40, 30, 22), ".bmp"),
  };
  std::vector<cv::Mat> expected;
  for (const ByteVector& file : files) expected.push_back(DecodeImage(file, "serial").rgb);

  std::vector<int> mismatches(files.size(), 0);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < files.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < 50; ++round) {
        const cv::Mat decoded = DecodeImage(files[i], "concurrent").rgb;
        mismatches[i] += cv::norm(decoded, expected[i], cv::NORM_INF) != 0;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (std::size_t i = 0; i < files.size(); ++i) EXPECT_EQ(mismatches[i], 0) << "file " << i;
}

// ----------------------------------------------------------- pixel limit

// A PNG signature and IHDR claiming 100000x100000 pixels, with no image data:
// only a header check can reject it with the size message.
ByteVector HugePngHeader() {
  ByteVector png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  png.insert(png.end(), {0x00, 0x01, 0x86, 0xA0, 0x00, 0x01, 0x86, 0xA0, 8, 2, 0, 0, 0});
  png.insert(png.end(), {0, 0, 0, 0});  // CRC, never checked because the header is rejected first
  return png;
}

TEST(PixelLimit, RejectedFromPngHeader) {
  const Error error = DecodeError(HugePngHeader(), "huge.png");
  EXPECT_EQ(error.category(), ErrorCategory::kInvalidArgument);
  EXPECT_STREQ(error.what(), "huge.png: image of 100000x100000 pixels exceeds the limit of 64000000 pixels");
}

TEST(PixelLimit, RejectedFromJpegHeader) {
  ByteVector jpeg = testing::EncodeWithOpenCv(NoiseBgr(8, 8, 13), ".jpg");
  // Find the SOF0 marker and rewrite its height and width to 60000.
  std::size_t sof = 2;
  while (!(jpeg[sof] == 0xFF && jpeg[sof + 1] == 0xC0)) ++sof;
  jpeg[sof + 5] = 0xEA;
  jpeg[sof + 6] = 0x60;
  jpeg[sof + 7] = 0xEA;
  jpeg[sof + 8] = 0x60;
  const Error error = DecodeError(jpeg, "huge.jpg");
  EXPECT_EQ(error.category(), ErrorCategory::kInvalidArgument);
  EXPECT_STREQ(error.what(), "huge.jpg: image of 60000x60000 pixels exceeds the limit of 64000000 pixels");
}

TEST(PixelLimit, Configurable) {
  const ByteVector png = testing::EncodeWithOpenCv(NoiseBgr(10, 10, 14), ".png");
  DecodeOptions options;
  options.max_pixels = 100;
  EXPECT_NO_THROW(DecodeImage(png, "ten.png", options));
  options.max_pixels = 99;
  const Error error = DecodeError(png, "ten.png", options);
  EXPECT_STREQ(error.what(), "ten.png: image of 10x10 pixels exceeds the limit of 99 pixels");
}

}  // namespace
}  // namespace facespace
