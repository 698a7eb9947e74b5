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
// copies, and the result is the plain mean of all those embeddings, left
// unnormalised as dlib's own jitter example does. Averaging shortens the
// vectors a little, so distances between averaged embeddings run slightly
// below plain ones; fit the threshold on TTA embeddings when using TTA.
struct TtaSpec {
  bool flip = false;  // add the mirrored chip
  // Add this many copies, each rotated by up to 3 degrees, zoomed in by 1% to
  // 4%, shifted by up to 2% of the chip size and mirrored with probability 1/2
  // (the ranges of dlib's jitter_image). The copies depend only on `seed`, so
  // every chip gets the same transforms and results never depend on batching.
  int jitter = 0;
  std::uint64_t seed = 0;

  bool enabled() const { return flip || jitter > 0; }
  // Returns the number of chips embedded per face (1 without TTA).
  int variants() const { return 1 + (flip ? 1 : 0) + jitter; }
};

// Parses a comma-separated list of parts: "flip", "jitter:N" (N in 1..1000),
// "seed:S", or the whole text "none" / "" for no augmentation. Examples:
// "flip", "jitter:10", "flip,jitter:10,seed:7".
// Throws Error(kInvalidArgument) naming the bad part.
TtaSpec ParseTtaSpec(const std::string& text);

// Returns the text ParseTtaSpec reads back into `spec`: "none", or the parts
// in the order flip, jitter, seed (seed only when not 0).
std::string FormatTtaSpec(const TtaSpec& spec);

// Returns the `count` jittered copies of `chip` that TtaSpec::jitter adds for
// `seed`, in order. Exposed for tests and tools that inspect the transforms.
std::vector<cv::Mat> JitterChip(const cv::Mat& chip, int count, std::uint64_t seed);

struct PipelineOptions {
  DecodeOptions decode;
  DetectOptions detect;
  TtaSpec tta;
  // The image already is a face crop: skip detection and make the chip with
  // ChipFromCroppedFace. The face's box is then the whole image, its landmarks
  // are all (0, 0) and its detector score is 0.
  bool aligned_input = false;
  int threads = 0;             // worker threads for detection and embedding; 0 = all cores
  // Images decoded and detected before their chips are embedded together.
  // Larger batches use the cores better, smaller ones report progress sooner.
  int batch_images = 32;
};

struct EmbeddedFace {
  Face face;              // box, landmarks, score, fallback flag, chip
  Embedding embedding;    // plain L2 units, not normalised
};

// What one image produced. Exactly one of `faces` (possibly empty: no face)
// and `error` is meaningful: `error` is set when the file could not be read or
// decoded, or when detection failed on it.
struct ImageResult {
  std::string source;                 // file path or caller's name for a buffer
  int width = 0;
  int height = 0;
  std::vector<EmbeddedFace> faces;
  std::optional<Error> error;         // read or decode failure; faces is then empty
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

  // Processes one image already in memory (RGB, CV_8UC3). Throws Error when
  // detection or embedding fails. Thread-safe.
  ImageResult ProcessImage(const cv::Mat& rgb, const std::string& source) const;

  // Processes files in parallel: options().batch_images files at a time are
  // read, decoded and detected on options().threads threads, then all their
  // chips are embedded in one batch. Results come back in the order of
  // `files`. A file that cannot be read, decoded or searched for faces yields
  // an ImageResult with `error` set and never stops the batch. `on_done`, if
  // given, is called once per finished file, in input order, on the calling
  // thread. Throws Error only when embedding fails. Thread-safe.
  std::vector<ImageResult> ProcessFiles(
      std::span<const std::filesystem::path> files,
      const std::function<void(const ImageResult&)>& on_done = {}) const;

  // Embeds chips (kChipSize square, CV_8UC3, RGB) with the configured TTA and
  // returns one embedding per chip, in order. Thread-safe.
  std::vector<Embedding> EmbedChips(const std::vector<cv::Mat>& chips) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace facespace

#endif  // FACESPACE_PIPELINE_H_
