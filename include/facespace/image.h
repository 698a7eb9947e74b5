// Image decoding: bytes in, 8-bit RGB out.
//
// Files and in-memory buffers take the same path: the format is read from the
// magic bytes, never from the file name. Accepted: JPEG, PNG, GIF (first
// frame), BMP, WebP, TIFF (first page), PNM/PAM, PFM and Sun raster. EXIF
// orientation is applied (JPEG APP1, PNG eXIf, WebP EXIF, TIFF tag 274).
// Gray, gray+alpha, RGBA, 16-bit and palette images become 8-bit RGB; alpha
// is composited over black. CMYK and YCCK JPEGs become RGB, read as inverted
// CMYK when the file has an Adobe APP14 marker (as Adobe's applications write
// it) and as plain CMYK otherwise. Anything that cannot be decoded completely
// (zero bytes, truncated data, corrupt data, a size beyond the pixel limit)
// throws facespace::Error whose message names the source and the cause.
#ifndef FACESPACE_IMAGE_H_
#define FACESPACE_IMAGE_H_

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace facespace {

struct DecodeOptions {
  // Images with more pixels (width x height) than this are rejected from their
  // header, before the pixel data is decoded. Must be positive.
  std::int64_t max_pixels = 64'000'000;
};

struct DecodedImage {
  cv::Mat rgb;              // CV_8UC3, channels in R, G, B order (not OpenCV's BGR)
  std::string format;       // "jpeg", "png", "gif", "bmp", "webp", "tiff", "pnm", "pfm", "sunraster"
  int exif_orientation = 1; // 1..8 as read from the file; already applied to `rgb`
};

// Decodes `bytes`. `source_name` is used only in error messages.
// Throws Error(kDecode) on undecodable data and Error(kInvalidArgument) when the
// image exceeds options.max_pixels or max_pixels is not positive. Thread-safe.
DecodedImage DecodeImage(std::span<const std::uint8_t> bytes,
                         const std::string& source_name,
                         const DecodeOptions& options = {});

// Reads the whole file and decodes it as DecodeImage does.
// Throws Error(kNotFound) or Error(kIo) when the file cannot be read.
DecodedImage ReadImageFile(const std::filesystem::path& path,
                           const DecodeOptions& options = {});

// Reads a file into memory. Throws Error(kNotFound) or Error(kIo).
std::vector<std::uint8_t> ReadFileBytes(const std::filesystem::path& path);

}  // namespace facespace

#endif  // FACESPACE_IMAGE_H_
