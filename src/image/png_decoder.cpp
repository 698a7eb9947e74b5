// PNG decoding with libpng directly, so that palette, gray, gray+alpha,
// 16-bit and transparency are all expanded the same way and a file that ends
// before its IEND chunk is an error rather than a partly decoded image.
//
// libpng reports errors by longjmp; the functions that call it hold no local
// object with a destructor, which keeps the longjmp well defined in C++.
#include <cstring>
#include <vector>

#include <png.h>

#include <fmt/format.h>

#include "facespace/error.h"
#include "facespace/log.h"
#include "image/decoders.h"

namespace facespace::image_internal {
namespace {

constexpr char kEndOfData[] = "unexpected end of data";

struct PngState {
  png_structp png = nullptr;
  png_infop info = nullptr;
  Bytes bytes;
  std::size_t position = 0;
  char message[256] = {};
  char last_warning[256] = {};
  int warnings = 0;
  png_uint_32 width = 0;
  png_uint_32 height = 0;
  int channels = 0;
  int orientation = 1;
};

void OnPngError(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof state->message, "%s", message);
  png_longjmp(png, 1);
}

void OnPngWarning(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngState*>(png_get_error_ptr(png));
  state->warnings++;
  std::snprintf(state->last_warning, sizeof state->last_warning, "%s", message);
}

void ReadFromMemory(png_structp png, png_bytep out, png_size_t length) {
  auto* state = static_cast<PngState*>(png_get_io_ptr(png));
  if (length > state->bytes.size() - state->position) png_error(png, kEndOfData);
  std::memcpy(out, state->bytes.data() + state->position, length);
  state->position += length;
}

// Reads the header and sets the transforms that turn every colour type into
// 8-bit RGB or RGBA. Returns false with state->message set on failure.
bool StartPng(PngState* state) {
  if (setjmp(png_jmpbuf(state->png))) return false;

  png_structp png = state->png;
  png_infop info = state->info;
  png_set_read_fn(png, state, ReadFromMemory);
  png_read_info(png, info);

  const int color_type = png_get_color_type(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (bit_depth == 16) png_set_scale_16(png);
  if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  state->width = png_get_image_width(png, info);
  state->height = png_get_image_height(png, info);
  state->channels = png_get_channels(png, info);
  return true;
}

// Decodes all rows, then reads the chunks up to IEND, which checks the CRCs
// and finds an eXIf chunk placed after the image data.
bool ReadPngRows(PngState* state, png_bytepp rows) {
  if (setjmp(png_jmpbuf(state->png))) return false;

  png_read_image(state->png, rows);
  png_read_end(state->png, state->info);

  png_uint_32 exif_length = 0;
  png_bytep exif = nullptr;
  if (png_get_eXIf_1(state->png, state->info, &exif_length, &exif) != 0 && exif != nullptr) {
    state->orientation = ReadExifOrientation(Bytes(exif, exif_length));
  }
  return true;
}

[[noreturn]] void ThrowPngError(const std::string& source, const char* libpng_message) {
  const std::string message = libpng_message;
  const std::string cause = message == kEndOfData ? "truncated PNG data (the file ends before its IEND chunk)"
                                                  : "corrupt PNG data (" + message + ")";
  throw Error(ErrorCategory::kDecode, source + ": " + cause);
}

}  // namespace

RawImage DecodePng(Bytes bytes, const ImageHeader& header, const std::string& source) {
  PngState state;
  state.bytes = bytes;
  state.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, OnPngError, OnPngWarning);
  if (state.png != nullptr) state.info = png_create_info_struct(state.png);
  if (state.png == nullptr || state.info == nullptr) {
    png_destroy_read_struct(&state.png, &state.info, nullptr);
    throw Error(ErrorCategory::kInternal, source + ": libpng could not allocate its decoder");
  }

  cv::Mat pixels;
  std::vector<png_bytep> rows;
  bool ok = StartPng(&state);
  if (ok && (state.width != header.width || state.height != header.height || state.channels < 3)) {
    std::snprintf(state.message, sizeof state.message, "unexpected size or channel count after IHDR");
    ok = false;
  }
  if (ok) {
    pixels.create(static_cast<int>(state.height), static_cast<int>(state.width), CV_8UC(state.channels));
    for (int y = 0; y < pixels.rows; ++y) rows.push_back(pixels.ptr(y));
    ok = ReadPngRows(&state, rows.data());
  }
  png_destroy_read_struct(&state.png, &state.info, nullptr);
  if (!ok) ThrowPngError(source, state.message);

  if (state.warnings > 0) {
    Logger().debug("{}: {} libpng warning(s), last: {}", source, state.warnings, state.last_warning);
  }
  RawImage result;
  result.rgb = pixels.channels() == 4 ? CompositeOverBlack(pixels) : pixels;
  result.exif_orientation = state.orientation;
  return result;
}

}  // namespace facespace::image_internal
