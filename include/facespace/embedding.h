// The face embedding model: a 150x150 aligned RGB chip in, 128 floats out.
//
// The network is dlib's face-recognition ResNet (29 convolutional layers,
// about 0.54 GFLOP a face). Its input is (pixel - channel mean) / 256 with
// means R 122.782, G 117.001, B 104.298. Embeddings are in plain Euclidean (L2)
// units and are not normalised; the model's published match threshold is 0.6.
#ifndef FACESPACE_EMBEDDING_H_
#define FACESPACE_EMBEDDING_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace facespace {

constexpr int kEmbeddingDim = 128;
using Embedding = std::array<float, kEmbeddingDim>;

// The model's published operating point, in plain L2 units.
constexpr double kDefaultMatchThreshold = 0.6;

struct ModelInfo {
  std::string model_id;         // e.g. "dlib-resnet-v1"; stored with every embedding
  std::string file_kind;        // "facespace" (our versioned file) or "dlib" (official .dat)
  std::uint32_t format_version = 0;  // 0 for an official dlib file
  std::string source;           // where the weights came from
  std::string source_sha256;    // hash of the source the weights were converted from
  std::size_t parameter_count = 0;
};

// Loads a model file: facespace's own format (written by ImportTfjsModel) or
// dlib's official dlib_face_recognition_resnet_model_v1.dat.
// Throws Error(kNotFound), Error(kCorrupt) on a damaged file and Error(kMismatch)
// on a file of another format version.
class FaceEmbedder {
 public:
  explicit FaceEmbedder(const std::filesystem::path& model_file);
  ~FaceEmbedder();
  FaceEmbedder(FaceEmbedder&&) noexcept;
  FaceEmbedder& operator=(FaceEmbedder&&) noexcept;

  const ModelInfo& info() const;

  // Embeds `chips` (each kChipSize x kChipSize, CV_8UC3, RGB order) and returns
  // one Embedding per chip, in order. Chips run through the network
  // `batch_size` at a time (0 = 4); up to `threads` threads (0 = all cores)
  // each take whole batches, and OpenBLAS gets the cores no worker uses.
  // Throws Error(kInvalidArgument) before any work if a chip has another size
  // or type. Thread-safe: concurrent calls use separate network buffers.
  // NOTE: the OpenBLAS thread count is process-wide; it is set for the call and
  // restored afterwards.
  std::vector<Embedding> Embed(const std::vector<cv::Mat>& chips, int threads = 0,
                               std::size_t batch_size = 0) const;

  Embedding EmbedOne(const cv::Mat& chip) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Makes a chip from an image that already is a face crop: pads it to a square
// (centred, black), then resizes it to 150x150 with bilinear interpolation, as
// the model's reference descriptors were made. `rgb` is CV_8UC3, RGB order.
cv::Mat ChipFromCroppedFace(const cv::Mat& rgb);

// Converts the tfjs weights of the @vladmandic/face-api package (manifest JSON
// plus binary) into facespace's model file at `output`, written atomically
// through a temporary file and a rename. `source` is stored as given (empty:
// the binary's file name); the stored hash is the SHA-256 of `weights_bin`.
// Throws Error(kNotFound) or Error(kIo) on unreadable input, Error(kCorrupt)
// when the manifest and the binary disagree or a tensor does not fit the
// network, and Error(kIo) when the output cannot be written.
ModelInfo ImportTfjsModel(const std::filesystem::path& manifest_json,
                          const std::filesystem::path& weights_bin,
                          const std::filesystem::path& output,
                          const std::string& source = "");

// Reads only the header of a model file and returns what it is.
ModelInfo ReadModelInfo(const std::filesystem::path& model_file);

// Returns the default model file: $FACESPACE_MODEL if set, otherwise
// <model dir>/dlib_resnet_v1.fsmodel where <model dir> is $FACESPACE_MODEL_DIR
// or the folder the build was configured with.
std::filesystem::path DefaultModelPath();

}  // namespace facespace

#endif  // FACESPACE_EMBEDDING_H_
