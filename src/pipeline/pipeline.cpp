#include "facespace/pipeline.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>

#include <opencv2/core.hpp>

#include "facespace/log.h"

namespace facespace {
namespace {

// Chips passed to FaceEmbedder::Embed at once, so TTA with many jittered
// copies does not hold every copy of a large batch in memory.
constexpr std::size_t kMaxChipsPerEmbedCall = 256;

int ResolveThreads(int threads) {
  if (threads > 0) return threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

// Returns the chips to embed for `chip`: the chip itself, then its mirror and
// its jittered copies as `tta` asks.
void AppendVariants(const cv::Mat& chip, const TtaSpec& tta, std::vector<cv::Mat>& out) {
  out.push_back(chip);
  if (tta.flip) {
    cv::Mat mirrored;
    cv::flip(chip, mirrored, 1);
    out.push_back(mirrored);
  }
  if (tta.jitter > 0) {
    for (cv::Mat& copy : JitterChip(chip, tta.jitter, tta.seed)) out.push_back(std::move(copy));
  }
}

Embedding Mean(std::span<const Embedding> embeddings) {
  Embedding mean{};
  for (const Embedding& embedding : embeddings) {
    for (int i = 0; i < kEmbeddingDim; ++i) mean[i] += embedding[i];
  }
  for (float& value : mean) value /= static_cast<float>(embeddings.size());
  return mean;
}

Face AlignedInputFace(const cv::Mat& rgb) {
  Face face;
  face.box = FaceBox{0, 0, rgb.cols - 1, rgb.rows - 1};
  face.landmarks.fill(cv::Point2f(0, 0));
  face.chip = ChipFromCroppedFace(rgb);
  return face;
}

}  // namespace

struct Pipeline::Impl {
  Impl(const std::filesystem::path& model_file, const std::filesystem::path& landmark_model,
       const PipelineOptions& pipeline_options)
      : options(pipeline_options), threads(ResolveThreads(pipeline_options.threads)),
        embedder(model_file) {
    if (!options.aligned_input) {
      finders.emplace_back(landmark_model);
      for (int i = 1; i < threads; ++i) finders.push_back(finders.front());
    }
  }

  // Finds the faces of one decoded image; their embeddings are filled in later.
  std::vector<EmbeddedFace> FindFaces(const cv::Mat& rgb, int worker) const {
    std::vector<Face> faces;
    if (options.aligned_input) {
      faces.push_back(AlignedInputFace(rgb));
    } else {
      faces = finders[worker].Find(rgb, options.detect);
    }
    std::vector<EmbeddedFace> result(faces.size());
    for (std::size_t i = 0; i < faces.size(); ++i) result[i].face = std::move(faces[i]);
    return result;
  }

  // Reads, decodes and detects one file, capturing expected failures in the result.
  ImageResult DetectFile(const std::filesystem::path& file, int worker) const {
    ImageResult result;
    result.source = file.string();
    try {
      const DecodedImage image = ReadImageFile(file, options.decode);
      result.width = image.rgb.cols;
      result.height = image.rgb.rows;
      result.faces = FindFaces(image.rgb, worker);
    } catch (const Error& error) {
      Logger().debug("{}: skipped: {}", result.source, error.what());
      result.faces.clear();
      result.error = error;
    }
    return result;
  }

  // Runs DetectFile on files[begin, end) with one thread per FaceFinder.
  void DetectRange(std::span<const std::filesystem::path> files, std::size_t begin,
                   std::size_t end, std::vector<ImageResult>& results) const {
    const int workers = static_cast<int>(std::min<std::size_t>(threads, end - begin));
    std::atomic<std::size_t> next{begin};
    std::vector<std::exception_ptr> failures(workers);
    auto work = [&](int worker) {
      try {
        for (std::size_t i = next++; i < end; i = next++) results[i] = DetectFile(files[i], worker);
      } catch (...) {
        failures[worker] = std::current_exception();
      }
    };
    std::vector<std::thread> pool;
    for (int worker = 1; worker < workers; ++worker) pool.emplace_back(work, worker);
    work(0);
    for (std::thread& thread : pool) thread.join();
    for (const std::exception_ptr& failure : failures) {
      if (failure) std::rethrow_exception(failure);
    }
  }

  // Embeds the faces of results[begin, end) in one batch.
  void EmbedRange(std::vector<ImageResult>& results, std::size_t begin, std::size_t end) const {
    std::vector<cv::Mat> chips;
    for (std::size_t i = begin; i < end; ++i) {
      for (const EmbeddedFace& face : results[i].faces) chips.push_back(face.face.chip);
    }
    const std::vector<Embedding> embeddings = EmbedChips(chips);
    std::size_t next = 0;
    for (std::size_t i = begin; i < end; ++i) {
      for (EmbeddedFace& face : results[i].faces) face.embedding = embeddings[next++];
    }
  }

  std::vector<Embedding> EmbedChips(const std::vector<cv::Mat>& chips) const {
    const std::size_t variants = static_cast<std::size_t>(options.tta.variants());
    const std::size_t chips_per_call = std::max<std::size_t>(1, kMaxChipsPerEmbedCall / variants);
    std::vector<Embedding> result;
    result.reserve(chips.size());

    for (std::size_t begin = 0; begin < chips.size(); begin += chips_per_call) {
      const std::size_t end = std::min(chips.size(), begin + chips_per_call);
      std::vector<cv::Mat> batch;
      batch.reserve((end - begin) * variants);
      for (std::size_t i = begin; i < end; ++i) AppendVariants(chips[i], options.tta, batch);

      const std::vector<Embedding> embedded = embedder.Embed(batch, threads);
      for (std::size_t i = 0; i < end - begin; ++i) {
        result.push_back(Mean(std::span(embedded).subspan(i * variants, variants)));
      }
    }
    return result;
  }

  PipelineOptions options;
  int threads;
  FaceEmbedder embedder;
  std::vector<FaceFinder> finders;  // one per worker thread; copies share the models
};

Pipeline::Pipeline(const std::filesystem::path& model_file,
                   const std::filesystem::path& landmark_model, const PipelineOptions& options)
    : impl_(std::make_unique<Impl>(model_file, landmark_model, options)) {}

Pipeline::~Pipeline() = default;

const ModelInfo& Pipeline::model_info() const { return impl_->embedder.info(); }

const PipelineOptions& Pipeline::options() const { return impl_->options; }

ImageResult Pipeline::ProcessImage(const cv::Mat& rgb, const std::string& source) const {
  ImageResult result;
  result.source = source;
  result.width = rgb.cols;
  result.height = rgb.rows;
  if (impl_->options.aligned_input) {
    result.faces = impl_->FindFaces(rgb, 0);
  } else {
    // FaceFinder is not safe for concurrent use, so this call gets its own copy.
    const FaceFinder finder(impl_->finders.front());
    std::vector<Face> faces = finder.Find(rgb, impl_->options.detect);
    for (Face& face : faces) result.faces.push_back(EmbeddedFace{std::move(face), {}});
  }
  std::vector<cv::Mat> chips;
  for (const EmbeddedFace& face : result.faces) chips.push_back(face.face.chip);
  const std::vector<Embedding> embeddings = impl_->EmbedChips(chips);
  for (std::size_t i = 0; i < embeddings.size(); ++i) result.faces[i].embedding = embeddings[i];
  return result;
}

std::vector<ImageResult> Pipeline::ProcessFiles(
    std::span<const std::filesystem::path> files,
    const std::function<void(const ImageResult&)>& on_done) const {
  std::vector<ImageResult> results(files.size());
  const std::size_t batch = static_cast<std::size_t>(std::max(1, impl_->options.batch_images));
  for (std::size_t begin = 0; begin < files.size(); begin += batch) {
    const std::size_t end = std::min(files.size(), begin + batch);
    impl_->DetectRange(files, begin, end, results);
    impl_->EmbedRange(results, begin, end);
    if (on_done) {
      for (std::size_t i = begin; i < end; ++i) on_done(results[i]);
    }
  }
  return results;
}

std::vector<Embedding> Pipeline::EmbedChips(const std::vector<cv::Mat>& chips) const {
  return impl_->EmbedChips(chips);
}

}  // namespace facespace
