// DecodeImage and file reading: picks the decoder from the header, enforces
// the pixel limit before decoding, and applies EXIF orientation.
#include "facespace/image.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>

#include <fmt/format.h>

#include "facespace/error.h"
#include "image/decoders.h"

namespace facespace {
namespace {

using image_internal::Bytes;
using image_internal::ImageFormat;

// Finds the EXIF chunk of a WebP file (RIFF container) and reads its orientation.
// NOTE: no test covers a WebP file with an EXIF chunk, because OpenCV 4.6
// cannot write one and libwebp's mux library is not a dependency.
int ReadWebpOrientation(Bytes bytes) {
  std::size_t offset = 12;
  while (offset + 8 <= bytes.size()) {
    const std::uint32_t size = bytes[offset + 4] | (bytes[offset + 5] << 8) | (bytes[offset + 6] << 16) |
                               (static_cast<std::uint32_t>(bytes[offset + 7]) << 24);
    const std::size_t data = offset + 8;
    if (size > bytes.size() - data) return 1;
    if (std::memcmp(bytes.data() + offset, "EXIF", 4) == 0) {
      return image_internal::ReadExifOrientation(bytes.subspan(data, size));
    }
    offset = data + size + (size & 1);
  }
  return 1;
}

void CheckPixelLimit(std::int64_t width, std::int64_t height, const std::string& source,
                     const DecodeOptions& options) {
  if (options.max_pixels <= 0) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("{}: the pixel limit must be positive, not {}", source, options.max_pixels));
  }
  if (width * height > options.max_pixels) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("{}: image of {}x{} pixels exceeds the limit of {} pixels", source, width, height,
                            options.max_pixels));
  }
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

}  // namespace

DecodedImage DecodeImage(std::span<const std::uint8_t> bytes, const std::string& source_name,
                         const DecodeOptions& options) {
  const image_internal::ImageHeader header = image_internal::ReadImageHeader(bytes, source_name);
  CheckPixelLimit(header.width, header.height, source_name, options);

  image_internal::RawImage raw;
  switch (header.format) {
    case ImageFormat::kJpeg: raw = image_internal::DecodeJpeg(bytes, header, source_name); break;
    case ImageFormat::kPng: raw = image_internal::DecodePng(bytes, header, source_name); break;
    case ImageFormat::kGif: raw = image_internal::DecodeGif(bytes, header, source_name); break;
    default: raw = image_internal::DecodeWithOpenCv(bytes, header.format, source_name); break;
  }
  if (header.format == ImageFormat::kTiff) raw.exif_orientation = image_internal::ReadTiffOrientation(bytes);
  if (header.format == ImageFormat::kWebp) raw.exif_orientation = ReadWebpOrientation(bytes);
  CheckPixelLimit(raw.rgb.cols, raw.rgb.rows, source_name, options);

  DecodedImage image;
  image.rgb = image_internal::ApplyOrientation(raw.rgb, raw.exif_orientation);
  image.format = image_internal::FormatName(header.format);
  image.exif_orientation = raw.exif_orientation;
  return image;
}

std::vector<std::uint8_t> ReadFileBytes(const std::filesystem::path& path) {
  std::error_code status;
  const auto type = std::filesystem::status(path, status).type();
  if (type == std::filesystem::file_type::not_found) {
    throw Error(ErrorCategory::kNotFound, path.string() + ": file not found");
  }
  if (type == std::filesystem::file_type::directory) {
    throw Error(ErrorCategory::kIo, path.string() + ": is a directory, not a file");
  }

  const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) throw Error(ErrorCategory::kIo, path.string() + ": cannot open: " + std::strerror(errno));
  std::vector<std::uint8_t> bytes;
  std::uint8_t chunk[1 << 16];
  while (true) {
    const std::size_t count = std::fread(chunk, 1, sizeof chunk, file.get());
    bytes.insert(bytes.end(), chunk, chunk + count);
    if (count < sizeof chunk) break;
  }
  if (std::ferror(file.get())) throw Error(ErrorCategory::kIo, path.string() + ": read failed: " + std::strerror(errno));
  return bytes;
}

DecodedImage ReadImageFile(const std::filesystem::path& path, const DecodeOptions& options) {
  const std::vector<std::uint8_t> bytes = ReadFileBytes(path);
  return DecodeImage(bytes, path.string(), options);
}

}  // namespace facespace
