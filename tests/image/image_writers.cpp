#include "image/image_writers.h"

#include <algorithm>
#include <csetjmp>
#include <iterator>
#include <cstdio>
#include <cstring>

#include <gif_lib.h>
#include <jpeglib.h>
#include <png.h>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

namespace facespace::testing {
namespace {

void AppendToVector(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<ByteVector*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + length);
}

int AppendGifBytes(GifFileType* gif, const GifByteType* data, int length) {
  auto* out = static_cast<ByteVector*>(gif->UserData);
  out->insert(out->end(), data, data + length);
  return length;
}

}  // namespace

ByteVector EncodeWithOpenCv(const cv::Mat& image, const std::string& extension, const std::vector<int>& parameters) {
  ByteVector bytes;
  EXPECT_TRUE(cv::imencode(extension, image, bytes, parameters)) << "cv::imencode failed for " << extension;
  return bytes;
}

ByteVector MakeExifBlock(int orientation) {
  ByteVector block = {'E', 'x', 'i', 'f', 0, 0,
                      'M', 'M', 0, 42, 0, 0, 0, 8,  // big-endian TIFF header, IFD0 at offset 8
                      0, 1,                         // one entry
                      0x01, 0x12, 0, 3, 0, 0, 0, 1, // Orientation, SHORT, count 1
                      0, static_cast<std::uint8_t>(orientation), 0, 0,
                      0, 0, 0, 0};                  // no next IFD
  return block;
}

ByteVector InsertExifOrientation(const ByteVector& jpeg, int orientation) {
  const ByteVector block = MakeExifBlock(orientation);
  const std::size_t length = block.size() + 2;
  const std::uint8_t segment_start[] = {0xFF, 0xD8,  // SOI
                                        0xFF, 0xE1, static_cast<std::uint8_t>(length >> 8),
                                        static_cast<std::uint8_t>(length & 0xFF)};
  ByteVector out;
  out.reserve(sizeof segment_start + block.size() + jpeg.size());
  std::copy(std::begin(segment_start), std::end(segment_start), std::back_inserter(out));
  std::copy(block.begin(), block.end(), std::back_inserter(out));
  std::copy(jpeg.begin() + 2, jpeg.end(), std::back_inserter(out));
  return out;
}

ByteVector EncodePng(const PngSpec& spec) {
  ByteVector out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    ADD_FAILURE() << "libpng failed to encode the test image";
    return {};
  }
  png_set_write_fn(png, &out, AppendToVector, nullptr);
  png_set_IHDR(png, info, static_cast<png_uint_32>(spec.width), static_cast<png_uint_32>(spec.height), spec.bit_depth,
               spec.color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);

  std::vector<png_color> palette;
  for (const cv::Vec3b& entry : spec.palette) palette.push_back({entry[0], entry[1], entry[2]});
  if (!palette.empty()) png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
  std::vector<png_byte> alpha(spec.palette_alpha.begin(), spec.palette_alpha.end());
  if (!alpha.empty()) png_set_tRNS(png, info, alpha.data(), static_cast<int>(alpha.size()), nullptr);
  ByteVector exif;
  if (spec.exif_orientation) {
    const ByteVector block = MakeExifBlock(*spec.exif_orientation);
    exif.assign(block.begin() + 6, block.end());  // eXIf contains the TIFF structure without "Exif\0\0"
    png_set_eXIf_1(png, info, static_cast<png_uint_32>(exif.size()), exif.data());
  }
  png_write_info(png, info);

  const std::size_t row_bytes = spec.samples.size() / static_cast<std::size_t>(spec.height);
  for (int y = 0; y < spec.height; ++y) {
    png_write_row(png, const_cast<png_bytep>(spec.samples.data() + row_bytes * static_cast<std::size_t>(y)));
  }
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

ByteVector EncodeCmykJpeg(const cv::Mat& samples, bool ycck, bool adobe_marker) {
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr errors{};
  cinfo.err = jpeg_std_error(&errors);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);

  cinfo.image_width = static_cast<JDIMENSION>(samples.cols);
  cinfo.image_height = static_cast<JDIMENSION>(samples.rows);
  cinfo.input_components = 4;
  cinfo.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  jpeg_set_colorspace(&cinfo, ycck ? JCS_YCCK : JCS_CMYK);
  cinfo.write_Adobe_marker = adobe_marker ? TRUE : FALSE;
  jpeg_set_quality(&cinfo, 95, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(samples.ptr<std::uint8_t>(static_cast<int>(cinfo.next_scanline)));
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);

  ByteVector out(buffer, buffer + size);
  std::free(buffer);
  return out;
}

ByteVector EncodeTiffWithOrientation(const cv::Mat& rgb, int orientation) {
  ByteVector out;
  auto put16 = [&](int value) {
    out.push_back(static_cast<std::uint8_t>(value & 0xFF));
    out.push_back(static_cast<std::uint8_t>((value >> 8) & 0xFF));
  };
  auto put32 = [&](std::uint32_t value) {
    put16(static_cast<int>(value & 0xFFFF));
    put16(static_cast<int>(value >> 16));
  };
  constexpr int kEntries = 11;
  constexpr std::uint32_t kIfdOffset = 8;
  constexpr std::uint32_t kBitsOffset = kIfdOffset + 2 + 12 * kEntries + 4;
  constexpr std::uint32_t kPixelOffset = kBitsOffset + 6;
  const auto pixel_bytes = static_cast<std::uint32_t>(rgb.total() * 3);

  out.insert(out.end(), {'I', 'I', 42, 0});
  put32(kIfdOffset);
  put16(kEntries);
  auto entry = [&](int tag, int type, std::uint32_t value) {
    put16(tag);
    put16(type);
    put32(tag == 258 ? 3 : 1);
    if (type == 3 && tag != 258) {
      put16(static_cast<int>(value));
      put16(0);
    } else {
      put32(value);
    }
  };
  constexpr int kShort = 3;
  constexpr int kLong = 4;
  entry(256, kShort, static_cast<std::uint32_t>(rgb.cols));  // ImageWidth
  entry(257, kShort, static_cast<std::uint32_t>(rgb.rows));  // ImageLength
  entry(258, kShort, kBitsOffset);                           // BitsPerSample, three values
  entry(259, kShort, 1);                                     // Compression: none
  entry(262, kShort, 2);                                     // PhotometricInterpretation: RGB
  entry(273, kLong, kPixelOffset);                           // StripOffsets
  entry(274, kShort, static_cast<std::uint32_t>(orientation));  // Orientation
  entry(277, kShort, 3);                                     // SamplesPerPixel
  entry(278, kShort, static_cast<std::uint32_t>(rgb.rows));  // RowsPerStrip
  entry(279, kLong, pixel_bytes);                            // StripByteCounts
  entry(284, kShort, 1);                                     // PlanarConfiguration: chunky
  put32(0);                                                  // no next IFD
  for (int i = 0; i < 3; ++i) put16(8);
  for (int y = 0; y < rgb.rows; ++y) out.insert(out.end(), rgb.ptr<std::uint8_t>(y), rgb.ptr<std::uint8_t>(y) + rgb.cols * 3);
  return out;
}

ByteVector EncodeGif(const cv::Mat& indices, const std::vector<cv::Vec3b>& palette, int transparent_index,
                     bool interlaced) {
  ByteVector out;
  int error = 0;
  GifFileType* gif = EGifOpen(&out, AppendGifBytes, &error);
  EXPECT_NE(gif, nullptr) << GifErrorString(error);
  if (gif == nullptr) return {};

  std::vector<GifColorType> colors;
  for (const cv::Vec3b& entry : palette) colors.push_back({entry[0], entry[1], entry[2]});
  colors.resize(256);  // a GIF colour table has a power-of-two size
  ColorMapObject* map = GifMakeMapObject(256, colors.data());
  EGifSetGifVersion(gif, true);
  EXPECT_EQ(EGifPutScreenDesc(gif, indices.cols, indices.rows, 8, 0, map), GIF_OK);
  if (transparent_index >= 0) {
    GraphicsControlBlock control{};
    control.TransparentColor = transparent_index;
    GifByteType extension[4];
    const size_t length = EGifGCBToExtension(&control, extension);
    EXPECT_EQ(EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, static_cast<int>(length), extension), GIF_OK);
  }
  EXPECT_EQ(EGifPutImageDesc(gif, 0, 0, indices.cols, indices.rows, interlaced, nullptr), GIF_OK);

  std::vector<int> row_order;
  if (interlaced) {
    for (int start : {0, 4, 2, 1}) {
      const int step = start == 0 || start == 4 ? 8 : (start == 2 ? 4 : 2);
      for (int y = start; y < indices.rows; y += step) row_order.push_back(y);
    }
  } else {
    for (int y = 0; y < indices.rows; ++y) row_order.push_back(y);
  }
  for (int y : row_order) {
    EXPECT_EQ(EGifPutLine(gif, const_cast<GifPixelType*>(indices.ptr<std::uint8_t>(y)), indices.cols), GIF_OK);
  }
  EGifCloseFile(gif, &error);
  GifFreeMapObject(map);
  return out;
}

}  // namespace facespace::testing
