// Format detection from magic bytes and image size from the header, for every
// format DecodeImage accepts. Nothing here decodes pixel data, so the pixel
// limit can be enforced before any large allocation.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "facespace/error.h"
#include "image/decoders.h"

namespace facespace::image_internal {
namespace {

[[noreturn]] void ThrowDecode(const std::string& source, const std::string& cause) {
  throw Error(ErrorCategory::kDecode, source + ": " + cause);
}

bool StartsWith(Bytes bytes, std::string_view magic, std::size_t offset = 0) {
  if (bytes.size() < offset + magic.size()) return false;
  return std::memcmp(bytes.data() + offset, magic.data(), magic.size()) == 0;
}

// Bounds-checked little- and big-endian readers over the header bytes.
class HeaderReader {
 public:
  HeaderReader(Bytes bytes, const std::string& source, const char* format)
      : bytes_(bytes), source_(source), format_(format) {}

  bool Has(std::size_t offset, std::size_t count) const {
    return offset <= bytes_.size() && count <= bytes_.size() - offset;
  }

  std::uint32_t Read(std::size_t offset, std::size_t count, bool big_endian) const {
    if (!Has(offset, count)) ThrowDecode(source_, fmt::format("truncated {} header", format_));
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t index = big_endian ? i : count - 1 - i;
      value = (value << 8) | bytes_[offset + index];
    }
    return value;
  }

  std::uint32_t Be16(std::size_t offset) const { return Read(offset, 2, true); }
  std::uint32_t Be32(std::size_t offset) const { return Read(offset, 4, true); }
  std::uint32_t Le16(std::size_t offset) const { return Read(offset, 2, false); }
  std::uint32_t Le24(std::size_t offset) const { return Read(offset, 3, false); }
  std::uint32_t Le32(std::size_t offset) const { return Read(offset, 4, false); }
  std::uint8_t Byte(std::size_t offset) const { return static_cast<std::uint8_t>(Read(offset, 1, true)); }

  [[noreturn]] void Fail(const std::string& cause) const { ThrowDecode(source_, cause); }

 private:
  Bytes bytes_;
  const std::string& source_;
  const char* format_;
};

bool IsJpegSofMarker(std::uint8_t marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// Walks the marker segments up to the first SOFn and reads its size.
ImageHeader ReadJpegHeader(Bytes bytes, const std::string& source) {
  const HeaderReader reader(bytes, source, "JPEG");
  std::size_t offset = 2;
  while (true) {
    if (reader.Byte(offset) != 0xFF) reader.Fail("corrupt JPEG header (expected a marker)");
    std::uint8_t marker = reader.Byte(offset + 1);
    while (marker == 0xFF) marker = reader.Byte(++offset + 1);  // fill bytes
    offset += 2;
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;  // no length field
    if (marker == 0xD9 || marker == 0xDA) reader.Fail("corrupt JPEG header (no frame header before image data)");

    const std::uint32_t length = reader.Be16(offset);
    if (length < 2) reader.Fail("corrupt JPEG header (segment length below 2)");
    if (IsJpegSofMarker(marker)) {
      ImageHeader header{ImageFormat::kJpeg, reader.Be16(offset + 5), reader.Be16(offset + 3)};
      if (header.width == 0 || header.height == 0) reader.Fail("JPEG header gives a zero width or height");
      return header;
    }
    offset += length;
  }
}

ImageHeader ReadPngHeader(Bytes bytes, const std::string& source) {
  const HeaderReader reader(bytes, source, "PNG");
  if (!StartsWith(bytes, "IHDR", 12)) {
    if (!reader.Has(12, 4)) reader.Fail("truncated PNG header");
    reader.Fail("corrupt PNG header (first chunk is not IHDR)");
  }
  return {ImageFormat::kPng, reader.Be32(16), reader.Be32(20)};
}

ImageHeader ReadBmpHeader(Bytes bytes, const std::string& source) {
  const HeaderReader reader(bytes, source, "BMP");
  const std::uint32_t info_size = reader.Le32(14);
  if (info_size == 12) return {ImageFormat::kBmp, reader.Le16(18), reader.Le16(20)};
  if (info_size < 40) reader.Fail(fmt::format("corrupt BMP header (info header of {} bytes)", info_size));
  const auto width = static_cast<std::int32_t>(reader.Le32(18));
  const auto height = static_cast<std::int32_t>(reader.Le32(22));  // negative means top-down rows
  return {ImageFormat::kBmp, std::abs(static_cast<std::int64_t>(width)),
          std::abs(static_cast<std::int64_t>(height))};
}

ImageHeader ReadWebpHeader(Bytes bytes, const std::string& source) {
  const HeaderReader reader(bytes, source, "WebP");
  if (StartsWith(bytes, "VP8 ", 12)) {
    if (reader.Be32(23) >> 8 != 0x9D012A) reader.Fail("corrupt WebP header (bad VP8 start code)");
    return {ImageFormat::kWebp, reader.Le16(26) & 0x3FFF, reader.Le16(28) & 0x3FFF};
  }
  if (StartsWith(bytes, "VP8L", 12)) {
    if (reader.Byte(20) != 0x2F) reader.Fail("corrupt WebP header (bad VP8L signature)");
    const std::uint32_t bits = reader.Le32(21);
    return {ImageFormat::kWebp, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
  }
  if (StartsWith(bytes, "VP8X", 12)) {
    return {ImageFormat::kWebp, std::int64_t{reader.Le24(24)} + 1, std::int64_t{reader.Le24(27)} + 1};
  }
  if (!reader.Has(12, 4)) reader.Fail("truncated WebP header");
  reader.Fail("corrupt WebP header (unknown first chunk)");
}

// One value of a tag in IFD0, and where its bytes sit in the file.
struct TiffTagValue {
  std::uint32_t value = 0;
  std::size_t offset = 0;  // of the value inside the IFD entry
  std::size_t size = 0;    // 2 for SHORT, 4 for LONG
  bool big_endian = false;
};

// Reads one SHORT or LONG value of a tag in IFD0 of a classic TIFF structure.
std::optional<TiffTagValue> FindTiffTagValue(Bytes tiff, std::uint16_t tag) {
  const std::string source = "TIFF";
  const HeaderReader reader(tiff, source, "TIFF");
  if (!reader.Has(0, 8)) return std::nullopt;
  bool big_endian;
  if (StartsWith(tiff, std::string_view("II*\0", 4))) {
    big_endian = false;
  } else if (StartsWith(tiff, std::string_view("MM\0*", 4))) {
    big_endian = true;
  } else {
    return std::nullopt;
  }

  const std::size_t ifd = reader.Read(4, 4, big_endian);
  if (!reader.Has(ifd, 2)) return std::nullopt;
  const std::uint32_t entries = reader.Read(ifd, 2, big_endian);
  for (std::uint32_t i = 0; i < entries; ++i) {
    const std::size_t entry = ifd + 2 + 12 * std::size_t{i};
    if (!reader.Has(entry, 12)) return std::nullopt;
    if (reader.Read(entry, 2, big_endian) != tag) continue;
    const std::uint32_t type = reader.Read(entry + 2, 2, big_endian);
    if (reader.Read(entry + 4, 4, big_endian) < 1) return std::nullopt;
    const std::size_t size = type == 3 ? 2 : (type == 4 ? 4 : 0);  // SHORT, LONG
    if (size == 0) return std::nullopt;
    return TiffTagValue{reader.Read(entry + 8, size, big_endian), entry + 8, size, big_endian};
  }
  return std::nullopt;
}

std::optional<std::uint32_t> FindTiffTag(Bytes tiff, std::uint16_t tag) {
  const auto found = FindTiffTagValue(tiff, tag);
  if (!found) return std::nullopt;
  return found->value;
}

ImageHeader ReadTiffHeader(Bytes bytes, const std::string& source) {
  const auto width = FindTiffTag(bytes, 256);   // ImageWidth
  const auto height = FindTiffTag(bytes, 257);  // ImageLength
  if (!width || !height) ThrowDecode(source, "corrupt or truncated TIFF header (no image size in the first directory)");
  return {ImageFormat::kTiff, *width, *height};
}

// Reads the whitespace-separated header tokens of PNM and PFM files, skipping
// '#' comments.
class TextHeaderReader {
 public:
  TextHeaderReader(Bytes bytes, const std::string& source, std::size_t offset)
      : bytes_(bytes), source_(source), offset_(offset) {}

  std::string NextToken() {
    while (offset_ < bytes_.size()) {
      const char c = static_cast<char>(bytes_[offset_]);
      if (c == '#') {
        while (offset_ < bytes_.size() && bytes_[offset_] != '\n') ++offset_;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++offset_;
      } else {
        break;
      }
    }
    std::string token;
    while (offset_ < bytes_.size() && !std::isspace(bytes_[offset_]) && token.size() < 32) {
      token += static_cast<char>(bytes_[offset_++]);
    }
    if (token.empty()) ThrowDecode(source_, "truncated PNM header");
    return token;
  }

  std::int64_t NextNumber() {
    const std::string token = NextToken();
    if (token.size() > 12 || !std::all_of(token.begin(), token.end(), ::isdigit)) {
      ThrowDecode(source_, fmt::format("corrupt PNM header (expected a number, found '{}')", token));
    }
    return std::stoll(token);
  }

  std::size_t offset() const { return offset_; }

 private:
  Bytes bytes_;
  const std::string& source_;
  std::size_t offset_;
};

ImageHeader ReadPnmHeader(Bytes bytes, const std::string& source) {
  TextHeaderReader reader(bytes, source, 2);
  if (bytes[1] != '7') {
    const std::int64_t width = reader.NextNumber();
    return {ImageFormat::kPnm, width, reader.NextNumber()};
  }

  // PAM: "KEY value" lines up to ENDHDR.
  ImageHeader header{ImageFormat::kPnm};
  for (std::string key = reader.NextToken(); key != "ENDHDR"; key = reader.NextToken()) {
    if (key == "WIDTH") header.width = reader.NextNumber();
    if (key == "HEIGHT") header.height = reader.NextNumber();
  }
  return header;
}

ImageHeader ReadPfmHeader(Bytes bytes, const std::string& source) {
  TextHeaderReader reader(bytes, source, 2);
  const std::int64_t width = reader.NextNumber();
  return {ImageFormat::kPfm, width, reader.NextNumber()};
}

// Names formats that have a recognisable signature but that DecodeImage does
// not accept, so the error message names the format.
std::optional<std::string> RecogniseUnsupported(Bytes bytes) {
  if (StartsWith(bytes, std::string_view("\x00\x00\x00\x0CjP  \r\n\x87\n", 12)) ||
      StartsWith(bytes, "\xFF\x4F\xFF\x51")) {
    return "JPEG 2000";
  }
  if (StartsWith(bytes, std::string_view("\x00\x00\x00\x0CJXL \r\n\x87\n", 12)) ||
      StartsWith(bytes, "\xFF\x0A")) {
    return "JPEG XL";
  }
  if (StartsWith(bytes, "ftypavif", 4) || StartsWith(bytes, "ftypavis", 4)) return "AVIF";
  if (StartsWith(bytes, "ftyphei", 4) || StartsWith(bytes, "ftypmif1", 4) ||
      StartsWith(bytes, "ftyphev", 4)) {
    return "HEIF";
  }
  if (StartsWith(bytes, std::string_view("II+\0", 4)) || StartsWith(bytes, std::string_view("MM\0+", 4))) {
    return "BigTIFF";
  }
  if (StartsWith(bytes, "\x76\x2F\x31\x01")) return "OpenEXR";
  if (StartsWith(bytes, "#?RADIANCE") || StartsWith(bytes, "#?RGBE")) return "Radiance HDR";
  if (StartsWith(bytes, "%PDF")) return "PDF";
  return std::nullopt;
}

ImageHeader DetectAndRead(Bytes bytes, const std::string& source) {
  if (StartsWith(bytes, "\xFF\xD8\xFF")) return ReadJpegHeader(bytes, source);
  if (StartsWith(bytes, "\x89PNG\r\n\x1A\n")) return ReadPngHeader(bytes, source);
  if (StartsWith(bytes, "GIF87a") || StartsWith(bytes, "GIF89a")) {
    const HeaderReader reader(bytes, source, "GIF");
    return {ImageFormat::kGif, reader.Le16(6), reader.Le16(8)};
  }
  if (StartsWith(bytes, "BM")) return ReadBmpHeader(bytes, source);
  if (StartsWith(bytes, "RIFF") && StartsWith(bytes, "WEBP", 8)) return ReadWebpHeader(bytes, source);
  if (StartsWith(bytes, std::string_view("II*\0", 4)) || StartsWith(bytes, std::string_view("MM\0*", 4))) {
    return ReadTiffHeader(bytes, source);
  }
  if (bytes.size() >= 3 && bytes[0] == 'P' && bytes[1] >= '1' && bytes[1] <= '7' &&
      std::isspace(bytes[2])) {
    return ReadPnmHeader(bytes, source);
  }
  if (bytes.size() >= 3 && bytes[0] == 'P' && (bytes[1] == 'F' || bytes[1] == 'f') &&
      std::isspace(bytes[2])) {
    return ReadPfmHeader(bytes, source);
  }
  if (StartsWith(bytes, "\x59\xA6\x6A\x95")) {
    const HeaderReader reader(bytes, source, "Sun raster");
    return {ImageFormat::kSunRaster, reader.Be32(4), reader.Be32(8)};
  }

  if (const auto name = RecogniseUnsupported(bytes)) {
    ThrowDecode(source, *name + " images are not supported (supported: JPEG, PNG, GIF, BMP, WebP, TIFF, "
                                "PNM/PAM, PFM, Sun raster)");
  }
  std::string first_bytes;
  for (std::size_t i = 0; i < std::min<std::size_t>(bytes.size(), 8); ++i) {
    first_bytes += fmt::format(" {:02x}", bytes[i]);
  }
  ThrowDecode(source, "unrecognised image format (first bytes:" + first_bytes + ")");
}

}  // namespace

const char* FormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg: return "jpeg";
    case ImageFormat::kPng: return "png";
    case ImageFormat::kGif: return "gif";
    case ImageFormat::kBmp: return "bmp";
    case ImageFormat::kWebp: return "webp";
    case ImageFormat::kTiff: return "tiff";
    case ImageFormat::kPnm: return "pnm";
    case ImageFormat::kPfm: return "pfm";
    case ImageFormat::kSunRaster: return "sunraster";
  }
  return "unknown";
}

ImageHeader ReadImageHeader(Bytes bytes, const std::string& source) {
  if (bytes.empty()) ThrowDecode(source, "empty file (0 bytes)");
  ImageHeader header = DetectAndRead(bytes, source);
  if (header.width <= 0 || header.height <= 0) {
    ThrowDecode(source, fmt::format("{} header gives an invalid size {}x{}", FormatName(header.format),
                                    header.width, header.height));
  }
  return header;
}

std::optional<std::int64_t> RequiredPnmLength(Bytes bytes, const std::string& source) {
  if (bytes.size() < 3 || bytes[1] < '4' || bytes[1] > '6') return std::nullopt;
  TextHeaderReader reader(bytes, source, 2);
  const std::int64_t width = reader.NextNumber();
  const std::int64_t height = reader.NextNumber();
  if (bytes[1] == '4') return static_cast<std::int64_t>(reader.offset()) + 1 + (width + 7) / 8 * height;

  const std::int64_t max_value = reader.NextNumber();
  const std::int64_t channels = bytes[1] == '6' ? 3 : 1;
  const std::int64_t sample_bytes = max_value > 255 ? 2 : 1;
  // One whitespace byte separates the header from the samples.
  return static_cast<std::int64_t>(reader.offset()) + 1 + width * height * channels * sample_bytes;
}

int ReadTiffOrientation(Bytes tiff) {
  const auto orientation = FindTiffTag(tiff, 0x0112);
  if (!orientation || *orientation < 1 || *orientation > 8) return 1;
  return static_cast<int>(*orientation);
}

std::vector<std::uint8_t> WithTiffOrientationCleared(Bytes tiff) {
  std::vector<std::uint8_t> copy(tiff.begin(), tiff.end());
  const auto found = FindTiffTagValue(tiff, 0x0112);
  if (!found) return copy;
  for (std::size_t i = 0; i < found->size; ++i) copy[found->offset + i] = 0;
  copy[found->offset + (found->big_endian ? found->size - 1 : 0)] = 1;
  return copy;
}

int ReadExifOrientation(Bytes exif) {
  if (StartsWith(exif, std::string_view("Exif\0\0", 6))) exif = exif.subspan(6);
  return ReadTiffOrientation(exif);
}

}  // namespace facespace::image_internal
