// Encoders for the image decoding tests: each builds a small image file in
// memory, including kinds OpenCV cannot write (gray+alpha and palette PNG,
// PNG with an eXIf chunk, CMYK and YCCK JPEG, GIF) and JPEGs with an EXIF
// orientation tag.
#ifndef FACESPACE_TESTS_IMAGE_IMAGE_WRITERS_H_
#define FACESPACE_TESTS_IMAGE_IMAGE_WRITERS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace facespace::testing {

using ByteVector = std::vector<std::uint8_t>;

// Encodes `image` with cv::imencode (`extension` such as ".png"); OpenCV
// expects B, G, R(, A) channel order. Fails the test on error.
ByteVector EncodeWithOpenCv(const cv::Mat& image, const std::string& extension,
                            const std::vector<int>& parameters = {});

struct PngSpec {
  int width = 0;
  int height = 0;
  int color_type = 0;  // PNG_COLOR_TYPE_*
  int bit_depth = 8;
  // Samples row by row, bit_depth bits each (16-bit samples big-endian),
  // already packed as the PNG stores them.
  ByteVector samples;
  std::vector<cv::Vec3b> palette;        // RGB entries for PNG_COLOR_TYPE_PALETTE
  std::vector<std::uint8_t> palette_alpha;  // tRNS alpha per palette entry
  std::optional<int> exif_orientation;   // writes an eXIf chunk when set
};

// Encodes a PNG with libpng.
ByteVector EncodePng(const PngSpec& spec);

// Encodes a 4-channel JPEG with libjpeg. `samples` are the stored C, M, Y, K
// bytes. `ycck` stores them as YCCK instead of CMYK; `adobe_marker` writes the
// APP14 Adobe marker (libjpeg's default for these colour spaces).
ByteVector EncodeCmykJpeg(const cv::Mat& samples, bool ycck, bool adobe_marker);

// Returns the EXIF block "Exif\0\0" + a big-endian TIFF structure whose IFD0
// holds only the Orientation tag.
ByteVector MakeExifBlock(int orientation);

// Returns `jpeg` with an APP1 EXIF segment carrying `orientation` inserted
// right after the SOI marker.
ByteVector InsertExifOrientation(const ByteVector& jpeg, int orientation);

// Writes an uncompressed little-endian RGB TIFF by hand, so that IFD0 can
// carry an Orientation tag (OpenCV's TIFF writer sets none). `rgb` is CV_8UC3.
ByteVector EncodeTiffWithOrientation(const cv::Mat& rgb, int orientation);

// Encodes a GIF with giflib: `indices` (CV_8UC1) index into `palette` (RGB).
ByteVector EncodeGif(const cv::Mat& indices, const std::vector<cv::Vec3b>& palette, int transparent_index,
                     bool interlaced);

}  // namespace facespace::testing

#endif  // FACESPACE_TESTS_IMAGE_IMAGE_WRITERS_H_
