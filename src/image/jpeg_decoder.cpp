// JPEG decoding with libjpeg(-turbo) directly rather than through OpenCV,
// because OpenCV 4.6 only warns on truncated or corrupt scan data and returns
// a partly grey image. Here the warnings that mean lost image data are errors.
//
// libjpeg reports failures through a callback that must not return, so the
// functions that call libjpeg use setjmp/longjmp. They hold no local object
// with a destructor, which keeps the longjmp well defined in C++.
#include <csetjmp>
#include <cstdio>

// jpeglib.h first: jerror.h depends on the configuration it includes.
#include <jpeglib.h>
#include <jerror.h>

#include <fmt/format.h>

#include "facespace/error.h"
#include "facespace/log.h"
#include "image/decoders.h"

namespace facespace::image_internal {
namespace {

struct JpegErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  char last_warning[JMSG_LENGTH_MAX];
};

// Warnings that mean part of the image data is missing or wrong.
bool IsDataLossWarning(int code) {
  switch (code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
      return true;
    default:
      return false;
  }
}

void OnJpegError(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  cinfo->err->format_message(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

void OnJpegMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace output
  auto* errors = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  if (IsDataLossWarning(cinfo->err->msg_code)) {
    cinfo->err->format_message(cinfo, errors->message);
    std::longjmp(errors->jump, 1);
  }
  cinfo->err->num_warnings++;
  cinfo->err->format_message(cinfo, errors->last_warning);
}

struct JpegState {
  jpeg_decompress_struct cinfo;
  JpegErrorManager errors;
  bool adobe_inverted = false;
  int orientation = 1;
};

// Reads the header, picks the output colour space and starts decompression.
// Returns false with state->errors.message set when libjpeg fails.
bool StartJpeg(JpegState* state, Bytes bytes) {
  if (setjmp(state->errors.jump)) return false;

  jpeg_decompress_struct* cinfo = &state->cinfo;
  jpeg_mem_src(cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(cinfo, TRUE);

  for (jpeg_saved_marker_ptr marker = cinfo->marker_list; marker; marker = marker->next) {
    if (marker->marker != JPEG_APP0 + 1) continue;
    const int orientation = ReadExifOrientation(Bytes(marker->data, marker->data_length));
    if (orientation != 1) state->orientation = orientation;
  }

  // CMYK and YCCK both come out as CMYK. Adobe's applications store CMYK
  // inverted (0 = full ink) and write an APP14 Adobe marker, so a file with
  // that marker is read as inverted and one without it as plain CMYK.
  if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK) {
    cinfo->out_color_space = JCS_CMYK;
    state->adobe_inverted = cinfo->saw_Adobe_marker;
  } else {
    cinfo->out_color_space = JCS_RGB;
  }
  jpeg_start_decompress(cinfo);
  return true;
}

// Reads every scanline into `pixels` (already sized from the output
// dimensions) and checks the data up to the end-of-image marker.
bool ReadJpegScanlines(JpegState* state, cv::Mat* pixels) {
  if (setjmp(state->errors.jump)) return false;

  jpeg_decompress_struct* cinfo = &state->cinfo;
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = pixels->ptr(static_cast<int>(cinfo->output_scanline));
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

cv::Mat CmykToRgb(const cv::Mat& cmyk, bool adobe_inverted) {
  cv::Mat rgb(cmyk.rows, cmyk.cols, CV_8UC3);
  for (int y = 0; y < cmyk.rows; ++y) {
    const std::uint8_t* in = cmyk.ptr<std::uint8_t>(y);
    std::uint8_t* out = rgb.ptr<std::uint8_t>(y);
    for (int x = 0; x < cmyk.cols; ++x, in += 4, out += 3) {
      // With ink amounts C and K in 0..1, red = (1 - C)(1 - K); likewise for
      // green with M and blue with Y.
      const int key = adobe_inverted ? in[3] : 255 - in[3];
      for (int c = 0; c < 3; ++c) {
        const int paper = adobe_inverted ? in[c] : 255 - in[c];
        out[c] = static_cast<std::uint8_t>((paper * key + 127) / 255);
      }
    }
  }
  return rgb;
}

[[noreturn]] void ThrowJpegError(const std::string& source, const char* libjpeg_message) {
  // libjpeg's messages for valid files it cannot decode (12-bit samples,
  // lossless JPEG) start with "Unsupported".
  const std::string message = libjpeg_message;
  std::string cause;
  if (message == "Premature end of JPEG file") {
    cause = "truncated JPEG data (premature end of file)";
  } else if (message.rfind("Unsupported", 0) == 0) {
    cause = "unsupported JPEG variant (" + message + ")";
  } else {
    cause = "corrupt JPEG data (" + message + ")";
  }
  throw Error(ErrorCategory::kDecode, source + ": " + cause);
}

}  // namespace

RawImage DecodeJpeg(Bytes bytes, const ImageHeader& header, const std::string& source) {
  JpegState state{};
  state.cinfo.err = jpeg_std_error(&state.errors.base);
  state.errors.base.error_exit = OnJpegError;
  state.errors.base.emit_message = OnJpegMessage;
  jpeg_create_decompress(&state.cinfo);

  RawImage result;
  cv::Mat pixels;
  bool ok = StartJpeg(&state, bytes);
  if (ok && (state.cinfo.image_width != header.width || state.cinfo.image_height != header.height)) {
    jpeg_destroy_decompress(&state.cinfo);
    throw Error(ErrorCategory::kDecode,
                fmt::format("{}: corrupt JPEG header (frame size {}x{} differs from the first frame "
                            "header's {}x{})",
                            source, state.cinfo.image_width, state.cinfo.image_height, header.width,
                            header.height));
  }
  if (ok) {
    pixels.create(static_cast<int>(state.cinfo.output_height), static_cast<int>(state.cinfo.output_width),
                  CV_8UC(state.cinfo.output_components));
    ok = ReadJpegScanlines(&state, &pixels);
  }
  jpeg_destroy_decompress(&state.cinfo);
  if (!ok) ThrowJpegError(source, state.errors.message);

  if (state.errors.base.num_warnings > 0) {
    Logger().debug("{}: {} libjpeg warning(s), last: {}", source, state.errors.base.num_warnings,
                   state.errors.last_warning);
  }
  result.rgb = pixels.channels() == 4 ? CmykToRgb(pixels, state.adobe_inverted) : pixels;
  result.exif_orientation = state.orientation;
  return result;
}

}  // namespace facespace::image_internal
