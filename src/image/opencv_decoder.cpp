// Formats decoded through OpenCV's imdecode (BMP, WebP, TIFF, PNM/PAM, PFM,
// Sun raster), and the conversions every decoder shares.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <fmt/format.h>

#include "facespace/error.h"
#include "image/decoders.h"

namespace facespace::image_internal {
namespace {

std::uint32_t ReadLe32(Bytes bytes, std::size_t offset) {
  return bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) |
         (static_cast<std::uint32_t>(bytes[offset + 3]) << 24);
}

// OpenCV 4.6 reports a BMP that ends inside its pixel array only on stderr,
// so the length of an uncompressed BMP is checked here first.
void CheckBmpLength(Bytes bytes, const std::string& source) {
  if (bytes.size() < 34 || ReadLe32(bytes, 14) < 40) return;
  const std::uint32_t compression = ReadLe32(bytes, 30);
  if (compression != 0 && compression != 3) return;  // BI_RGB, BI_BITFIELDS

  const std::int64_t width = static_cast<std::int32_t>(ReadLe32(bytes, 18));
  const std::int64_t height = std::abs(static_cast<std::int64_t>(static_cast<std::int32_t>(ReadLe32(bytes, 22))));
  const std::int64_t bits_per_pixel = bytes[28] | (bytes[29] << 8);
  const std::int64_t row_bytes = (bits_per_pixel * width + 31) / 32 * 4;
  const std::int64_t needed = std::int64_t{ReadLe32(bytes, 10)} + row_bytes * height;
  if (static_cast<std::int64_t>(bytes.size()) < needed) {
    throw Error(ErrorCategory::kDecode,
                fmt::format("{}: truncated BMP data ({} bytes, the header requires {})", source,
                            bytes.size(), needed));
  }
}

// OpenCV 4.6 reports a binary PNM that ends inside its samples only on stderr.
void CheckPnmLength(Bytes bytes, const std::string& source) {
  const std::optional<std::int64_t> needed = RequiredPnmLength(bytes, source);
  if (needed && static_cast<std::int64_t>(bytes.size()) < *needed) {
    throw Error(ErrorCategory::kDecode,
                fmt::format("{}: truncated PNM data ({} bytes, the header requires {})", source,
                            bytes.size(), *needed));
  }
}

}  // namespace

cv::Mat CompositeOverBlack(const cv::Mat& rgba) {
  cv::Mat rgb(rgba.rows, rgba.cols, CV_8UC3);
  for (int y = 0; y < rgba.rows; ++y) {
    const std::uint8_t* in = rgba.ptr<std::uint8_t>(y);
    std::uint8_t* out = rgb.ptr<std::uint8_t>(y);
    for (int x = 0; x < rgba.cols; ++x, in += 4, out += 3) {
      for (int c = 0; c < 3; ++c) out[c] = static_cast<std::uint8_t>((in[c] * in[3] + 127) / 255);
    }
  }
  return rgb;
}

cv::Mat ToRgb8FromOpenCv(const cv::Mat& image) {
  cv::Mat eight_bit;
  switch (image.depth()) {
    case CV_8U: eight_bit = image; break;
    case CV_16U: image.convertTo(eight_bit, CV_8U, 255.0 / 65535.0); break;
    case CV_32F:
    case CV_64F: image.convertTo(eight_bit, CV_8U, 255.0); break;
    default:
      throw Error(ErrorCategory::kDecode, fmt::format("unsupported sample type (OpenCV depth {})", image.depth()));
  }

  cv::Mat rgb;
  switch (eight_bit.channels()) {
    case 1: cv::cvtColor(eight_bit, rgb, cv::COLOR_GRAY2RGB); break;
    case 2: {
      cv::Mat planes[2];
      cv::split(eight_bit, planes);
      cv::Mat rgba;
      cv::merge(std::vector<cv::Mat>{planes[0], planes[0], planes[0], planes[1]}, rgba);
      rgb = CompositeOverBlack(rgba);
      break;
    }
    case 3: cv::cvtColor(eight_bit, rgb, cv::COLOR_BGR2RGB); break;
    case 4: {
      cv::Mat rgba;
      cv::cvtColor(eight_bit, rgba, cv::COLOR_BGRA2RGBA);
      rgb = CompositeOverBlack(rgba);
      break;
    }
    default:
      throw Error(ErrorCategory::kDecode, fmt::format("unsupported channel count {}", eight_bit.channels()));
  }
  return rgb;
}

RawImage DecodeWithOpenCv(Bytes bytes, ImageFormat format, const std::string& source) {
  if (format == ImageFormat::kBmp) CheckBmpLength(bytes, source);
  if (format == ImageFormat::kPnm) CheckPnmLength(bytes, source);

  std::vector<std::uint8_t> tiff_copy;
  if (format == ImageFormat::kTiff) {
    tiff_copy = WithTiffOrientationCleared(bytes);
    bytes = tiff_copy;
  }
  const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8U, const_cast<std::uint8_t*>(bytes.data()));
  cv::Mat decoded;
  try {
    // IMREAD_UNCHANGED keeps alpha and 16-bit samples for the conversion below
    // and leaves EXIF orientation to DecodeImage.
    decoded = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& error) {
    throw Error(ErrorCategory::kDecode, fmt::format("{}: corrupt {} data ({})", source, FormatName(format), error.what()));
  }
  if (decoded.empty()) {
    throw Error(ErrorCategory::kDecode,
                fmt::format("{}: corrupt or truncated {} data (OpenCV could not decode it)", source, FormatName(format)));
  }

  RawImage result;
  try {
    result.rgb = ToRgb8FromOpenCv(decoded);
  } catch (const Error& error) {
    throw Error(ErrorCategory::kDecode, source + ": " + error.what());
  }
  return result;
}

}  // namespace facespace::image_internal
