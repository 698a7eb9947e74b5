// The embedding pipeline: image file or bytes in, faces with embeddings out.
//
// decode -> detect -> landmarks -> align -> embed, with the embedding step
// batched across images and threads. Every later stage (ingest, augment,
// benchmark) goes through this one path, so a face is embedded the same way
// wherever it comes from.
#ifndef FACESPACE_PIPELINE_H_
#define FACESPACE_PIPELINE_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "facespace/embedding.h"
#include "facespace/error.h"
#include "facespace/face.h"
#include "facespace/image.h"

namespace facespace {

// Test-time augmentation: each chip is embedded together with transformed
// copies and the embeddings are averaged.
struct TtaSpec {
  bool flip = false;  // add the mirrored chip
  int jitter = 0;     // add this many seeded random small rotations, scalings, shifts, mirrors
  std::uint64_t seed = 0;

  bool enabled() const { return flip || jitter > 0; }
};

// Parses "flip", "jitter:N", "flip,jitter:N" or "none".
// Throws Error(kInvalidArgument) naming the bad part.
TtaSpec ParseTtaSpec(const std::string& text);
std::string FormatTtaSpec(const TtaSpec& spec);

struct PipelineOptions {
  DecodeOptions decode;
  DetectOptions detect;
  TtaSpec tta;
  bool aligned_input = false;  // the image already is a face crop: skip detection
  int threads = 0;             // 0 = all cores
};

struct EmbeddedFace {
  Face face;              // box, landmarks, score, fallback flag, chip
  Embedding embedding;    // plain L2 units, not normalised
};

// What one image produced. Exactly one of `faces` (possibly empty: no face)
// and `error` is meaningful: `error` is set when the image failed to decode.
struct ImageResult {
  std::string source;                 // file path or caller's name for a buffer
  int width = 0;
  int height = 0;
  std::vector<EmbeddedFace> faces;
  std::optional<Error> error;         // decode failure; faces is then empty
};

class Pipeline {
 public:
  // Loads both models. Throws Error as FaceFinder and FaceEmbedder do.
  Pipeline(const std::filesystem::path& model_file,
           const std::filesystem::path& landmark_model,
           const PipelineOptions& options);
  ~Pipeline();

  const ModelInfo& model_info() const;
  const PipelineOptions& options() const;

  // Processes one image already in memory (RGB, CV_8UC3).
  ImageResult ProcessImage(const cv::Mat& rgb, const std::string& source) const;

  // Processes files in parallel. Results come back in the order of `files`;
  // a file that fails to decode yields an ImageResult with `error` set and never
  // stops the batch. `on_done`, if given, is called once per finished file from
  // worker threads (for progress bars); it must be thread-safe.
  std::vector<ImageResult> ProcessFiles(
      std::span<const std::filesystem::path> files,
      const std::function<void(const ImageResult&)>& on_done = {}) const;

  // Embeds chips (kChipSize square, RGB) with the configured TTA.
  std::vector<Embedding> EmbedChips(const std::vector<cv::Mat>& chips) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace facespace

#endif  // FACESPACE_PIPELINE_H_
