// Internal interface of the image stage: header sniffing, the per-format
// decoders and the EXIF orientation helpers that DecodeImage combines.
#ifndef FACESPACE_SRC_IMAGE_DECODERS_H_
#define FACESPACE_SRC_IMAGE_DECODERS_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace facespace::image_internal {

using Bytes = std::span<const std::uint8_t>;

enum class ImageFormat { kJpeg, kPng, kGif, kBmp, kWebp, kTiff, kPnm, kPfm, kSunRaster };

// Lower-case format name as reported in DecodedImage::format, e.g. "jpeg".
const char* FormatName(ImageFormat format);

// Format and size read from the first bytes of an image, without decoding pixels.
struct ImageHeader {
  ImageFormat format;
  std::int64_t width = 0;
  std::int64_t height = 0;
};

// Reads the format from the magic bytes and the size from the header.
// Throws Error(kDecode) "<source>: <cause>" for unrecognised, unsupported or
// malformed headers.
ImageHeader ReadImageHeader(Bytes bytes, const std::string& source);

// Returns the file length that a binary PNM (P4, P5, P6) header requires, or
// nullopt for the other PNM kinds.
std::optional<std::int64_t> RequiredPnmLength(Bytes bytes, const std::string& source);

// Pixels as a decoder produced them, before orientation is applied.
struct RawImage {
  cv::Mat rgb;              // CV_8UC3, R, G, B order
  int exif_orientation = 1;  // 1..8; 1 when the file carries no valid tag
};

// Each decoder throws Error(kDecode) "<source>: <cause>" on any failure,
// including truncated data.
// DecodeJpeg, DecodePng and DecodeGif check that the size their library reads
// matches `header`, so the pixel limit checked on `header` holds.
RawImage DecodeJpeg(Bytes bytes, const ImageHeader& header, const std::string& source);
RawImage DecodePng(Bytes bytes, const ImageHeader& header, const std::string& source);
RawImage DecodeGif(Bytes bytes, const ImageHeader& header, const std::string& source);
// BMP, WebP, TIFF, PNM, PFM and Sun raster go through OpenCV's imdecode.
RawImage DecodeWithOpenCv(Bytes bytes, ImageFormat format, const std::string& source);

// Converts any OpenCV image (1 to 4 channels, 8/16-bit integer or 32/64-bit
// float, channels in OpenCV's B, G, R, A order) into CV_8UC3 R, G, B. Alpha is
// composited over black. Floats are taken as 0..1.
cv::Mat ToRgb8FromOpenCv(const cv::Mat& image);

// Composites an 8-bit R, G, B, A image over black into R, G, B.
cv::Mat CompositeOverBlack(const cv::Mat& rgba);

// Reads the Orientation tag (0x0112) of IFD0 from a TIFF structure (the body
// of an EXIF block after "Exif\0\0", or a whole TIFF file). Returns 1 when the
// tag is absent, out of range or the structure is malformed.
int ReadTiffOrientation(Bytes tiff);

// Returns a copy of a TIFF file whose Orientation tag, if any, is set to 1.
// OpenCV 4.6 applies the TIFF orientation itself, and DecodeImage applies it
// once for every format, so OpenCV gets the copy.
std::vector<std::uint8_t> WithTiffOrientationCleared(Bytes tiff);

// Same, for an EXIF block that may start with the "Exif\0\0" prefix.
int ReadExifOrientation(Bytes exif);

// Returns `rgb` transformed so that it displays upright for EXIF orientation
// `orientation` (1..8).
cv::Mat ApplyOrientation(const cv::Mat& rgb, int orientation);

}  // namespace facespace::image_internal

#endif  // FACESPACE_SRC_IMAGE_DECODERS_H_
