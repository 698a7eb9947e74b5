// GIF decoding with giflib, because OpenCV 4.6 has no GIF reader. The first
// frame is decoded onto a black canvas of the logical screen size, so pixels
// outside the frame and transparent pixels are black. The remaining frames
// are read without decoding, only to detect a truncated or corrupt file.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include <gif_lib.h>

#include <fmt/format.h>

#include "facespace/error.h"
#include "image/decoders.h"

namespace facespace::image_internal {
namespace {

struct MemoryInput {
  Bytes bytes;
  std::size_t position = 0;
};

int ReadFromMemory(GifFileType* gif, GifByteType* out, int length) {
  auto* input = static_cast<MemoryInput*>(gif->UserData);
  const std::size_t count = std::min<std::size_t>(static_cast<std::size_t>(length),
                                                  input->bytes.size() - input->position);
  std::memcpy(out, input->bytes.data() + input->position, count);
  input->position += count;
  return static_cast<int>(count);
}

struct GifCloser {
  void operator()(GifFileType* gif) const {
    int ignored = 0;
    DGifCloseFile(gif, &ignored);
  }
};
using GifHandle = std::unique_ptr<GifFileType, GifCloser>;

class GifReader {
 public:
  GifReader(Bytes bytes, const std::string& source) : source_(source) {
    input_.bytes = bytes;
    int error = 0;
    gif_.reset(DGifOpen(&input_, ReadFromMemory, &error));
    if (!gif_) Fail(error);
  }

  [[noreturn]] void Fail(int error) const {
    const char* text = GifErrorString(error);
    const std::string detail = text ? text : fmt::format("giflib error {}", error);
    const bool truncated = error == D_GIF_ERR_READ_FAILED || error == D_GIF_ERR_EOF_TOO_SOON;
    throw Error(ErrorCategory::kDecode,
                source_ + (truncated ? ": truncated GIF data (" : ": corrupt GIF data (") + detail + ")");
  }

  void Check(int status) const {
    if (status == GIF_ERROR) Fail(gif_->Error);
  }

  GifFileType* get() const { return gif_.get(); }

 private:
  const std::string& source_;
  MemoryInput input_;
  GifHandle gif_;
};

// Decodes the pixel indices of the current frame, de-interlacing if needed.
std::vector<GifPixelType> ReadFrameIndices(const GifReader& reader, int width, int height, bool interlaced) {
  std::vector<GifPixelType> indices(static_cast<std::size_t>(width) * height);
  auto read_row = [&](int y) {
    reader.Check(DGifGetLine(reader.get(), indices.data() + static_cast<std::size_t>(y) * width, width));
  };
  if (!interlaced) {
    for (int y = 0; y < height; ++y) read_row(y);
    return indices;
  }
  // GIF interlacing stores rows in four passes: every 8th row from 0, every
  // 8th from 4, every 4th from 2, every 2nd from 1.
  constexpr int kStart[] = {0, 4, 2, 1};
  constexpr int kStep[] = {8, 8, 4, 2};
  for (int pass = 0; pass < 4; ++pass) {
    for (int y = kStart[pass]; y < height; y += kStep[pass]) read_row(y);
  }
  return indices;
}

void SkipFrameData(const GifReader& reader) {
  int code_size = 0;
  GifByteType* block = nullptr;
  reader.Check(DGifGetCode(reader.get(), &code_size, &block));
  while (block != nullptr) reader.Check(DGifGetCodeNext(reader.get(), &block));
}

}  // namespace

RawImage DecodeGif(Bytes bytes, const ImageHeader& header, const std::string& source) {
  GifReader reader(bytes, source);
  GifFileType* gif = reader.get();
  if (gif->SWidth != header.width || gif->SHeight != header.height) {
    throw Error(ErrorCategory::kDecode, source + ": corrupt GIF header (screen size mismatch)");
  }

  cv::Mat canvas = cv::Mat::zeros(gif->SHeight, gif->SWidth, CV_8UC3);
  int transparent_index = NO_TRANSPARENT_COLOR;
  bool have_frame = false;
  GifRecordType record = UNDEFINED_RECORD_TYPE;
  while (record != TERMINATE_RECORD_TYPE) {
    reader.Check(DGifGetRecordType(gif, &record));

    if (record == EXTENSION_RECORD_TYPE) {
      int code = 0;
      GifByteType* extension = nullptr;
      reader.Check(DGifGetExtension(gif, &code, &extension));
      if (!have_frame && code == GRAPHICS_EXT_FUNC_CODE && extension != nullptr) {
        GraphicsControlBlock control{};
        if (DGifExtensionToGCB(extension[0], extension + 1, &control) == GIF_OK) {
          transparent_index = control.TransparentColor;
        }
      }
      while (extension != nullptr) reader.Check(DGifGetExtensionNext(gif, &extension));
      continue;
    }
    if (record != IMAGE_DESC_RECORD_TYPE) continue;

    reader.Check(DGifGetImageDesc(gif));
    if (have_frame) {
      SkipFrameData(reader);
      continue;
    }
    const GifImageDesc& frame = gif->Image;
    if (frame.Width <= 0 || frame.Height <= 0 ||
        std::int64_t{frame.Width} * frame.Height > std::int64_t{gif->SWidth} * gif->SHeight) {
      throw Error(ErrorCategory::kDecode,
                  fmt::format("{}: corrupt GIF data (frame of {}x{} pixels on a {}x{} screen)", source,
                              frame.Width, frame.Height, gif->SWidth, gif->SHeight));
    }
    const ColorMapObject* colors = frame.ColorMap ? frame.ColorMap : gif->SColorMap;
    if (colors == nullptr) throw Error(ErrorCategory::kDecode, source + ": corrupt GIF data (no colour map)");

    const std::vector<GifPixelType> indices = ReadFrameIndices(reader, frame.Width, frame.Height, frame.Interlace);
    for (int y = 0; y < frame.Height; ++y) {
      const int canvas_y = frame.Top + y;
      if (canvas_y < 0 || canvas_y >= canvas.rows) continue;
      for (int x = 0; x < frame.Width; ++x) {
        const int canvas_x = frame.Left + x;
        const int index = indices[static_cast<std::size_t>(y) * frame.Width + x];
        if (canvas_x < 0 || canvas_x >= canvas.cols) continue;
        if (index == transparent_index || index >= colors->ColorCount) continue;
        const GifColorType color = colors->Colors[index];
        canvas.at<cv::Vec3b>(canvas_y, canvas_x) = cv::Vec3b(color.Red, color.Green, color.Blue);
      }
    }
    have_frame = true;
  }
  if (!have_frame) throw Error(ErrorCategory::kDecode, source + ": corrupt GIF data (the file contains no image)");

  RawImage result;
  result.rgb = canvas;
  return result;
}

}  // namespace facespace::image_internal
