// Generating synthetic samples: read, transform, find the face again, embed.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "facespace/error.h"
#include "facespace/image.h"
#include "facespace/log.h"
#include "facespace/pipeline.h"
#include "facespace/store.h"
#include "facespace/synth.h"

namespace facespace {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Intersection over union of two boxes with inclusive corners.
double Overlap(const FaceBox& a, const FaceBox& b) {
  const long width = std::min(a.right, b.right) - std::max(a.left, b.left) + 1;
  const long height = std::min(a.bottom, b.bottom) - std::max(a.top, b.top) + 1;
  if (width <= 0 || height <= 0) return 0.0;
  const double intersection = static_cast<double>(width) * static_cast<double>(height);
  return intersection / (static_cast<double>(a.area()) + static_cast<double>(b.area()) - intersection);
}

std::string BoxText(const FaceBox& box) {
  return fmt::format("{},{},{},{}", box.left, box.top, box.right, box.bottom);
}

// Per-thread time sums, added to the shared totals once a worker finishes.
struct WorkerTimes {
  double read = 0;
  double transform = 0;
  double detect = 0;
};

class Synthesizer {
 public:
  Synthesizer(const Pipeline& pipeline, const std::vector<SynthesisSource>& sources,
              const SynthesisOptions& options, const std::function<bool(std::size_t, int)>& skip)
      : pipeline_(pipeline), sources_(sources), options_(options), skip_(skip) {
    if (options.per_image < 0) {
      throw Error(ErrorCategory::kInvalidArgument,
                  fmt::format("per-image count {}: must not be negative", options.per_image));
    }
    jobs_ = options.jobs > 0 ? options.jobs
                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    if (NeedsFinder()) {
      const std::filesystem::path model = options.landmark_model.empty()
                                              ? DefaultLandmarkModelPath()
                                              : options.landmark_model;
      finders_.emplace_back(model);
      for (int i = 1; i < jobs_; ++i) finders_.push_back(finders_.front());
    }
  }

  // Transforms and detects sources [begin, end) on the worker threads.
  std::vector<std::vector<SyntheticSample>> Generate(std::size_t begin, std::size_t end,
                                                     SynthesisTimings& timings) {
    std::vector<std::vector<SyntheticSample>> results(end - begin);
    const int workers = static_cast<int>(std::min<std::size_t>(jobs_, end - begin));
    std::atomic<std::size_t> next{begin};
    std::vector<std::exception_ptr> errors(workers);
    std::vector<WorkerTimes> times(workers);
    auto work = [&](int worker) {
      try {
        for (std::size_t i = next++; i < end; i = next++) {
          results[i - begin] = GenerateSource(i, worker, times[worker]);
        }
      } catch (...) {
        errors[worker] = std::current_exception();
      }
    };
    std::vector<std::thread> pool;
    for (int worker = 1; worker < workers; ++worker) pool.emplace_back(work, worker);
    work(0);
    for (std::thread& thread : pool) thread.join();
    for (const std::exception_ptr& error : errors) {
      if (error) std::rethrow_exception(error);
    }
    for (const WorkerTimes& time : times) {
      timings.read_seconds += time.read;
      timings.transform_seconds += time.transform;
      timings.detect_seconds += time.detect;
    }
    return results;
  }

  int jobs() const { return jobs_; }

 private:
  bool NeedsFinder() const {
    if (options_.target == ApplyTarget::kImage) return true;
    return std::any_of(sources_.begin(), sources_.end(),
                       [](const SynthesisSource& source) { return source.chip.empty(); });
  }

  std::vector<SyntheticSample> GenerateSource(std::size_t index, int worker, WorkerTimes& times) {
    const SynthesisSource& source = sources_[index];
    std::vector<int> variants;
    for (int variant = 0; variant < options_.per_image; ++variant) {
      if (!skip_ || !skip_(index, variant)) variants.push_back(variant);
    }
    if (variants.empty()) return {};

    const Clock::time_point read_start = Clock::now();
    const bool chip_given = options_.target == ApplyTarget::kChip && !source.chip.empty();
    cv::Mat picture;
    std::string key = source.source_key;
    if (chip_given) {
      picture = source.chip;
      if (key.empty()) {
        const std::span<const std::uint8_t> pixels(source.chip.data,
                                                   source.chip.total() * source.chip.elemSize());
        key = Sha256Bytes(pixels) + ":" + BoxText(source.box);
      }
    } else {
      const std::vector<std::uint8_t> bytes = ReadFileBytes(source.image_path);
      picture = DecodeImage(bytes, source.image_path.string()).rgb;
      if (key.empty()) key = Sha256Bytes(bytes) + ":" + BoxText(source.box);
      if (options_.target == ApplyTarget::kChip) {
        picture = finders_[worker].AlignInBox(picture, source.box).chip;
      }
    }
    times.read += SecondsSince(read_start);

    std::vector<SyntheticSample> samples;
    for (const int variant : variants) {
      SyntheticSample sample;
      sample.source_sample_id = source.sample_id;
      sample.source_index = index;
      sample.variant = variant;
      sample.source_key = key;
      if (options_.target == ApplyTarget::kImage) {
        MakeOnImage(source, picture, worker, times, sample);
      } else {
        MakeOnChip(picture, times, sample);
      }
      samples.push_back(std::move(sample));
    }
    return samples;
  }

  void MakeOnChip(const cv::Mat& chip, WorkerTimes& times, SyntheticSample& sample) const {
    const Clock::time_point start = Clock::now();
    sample.sampled = SampleParameters(
        options_.recipe, DeriveSampleSeed(options_.seed, sample.source_key, sample.variant));
    const cv::Mat transformed = ApplyRecipe(sample.sampled, chip, ApplyTarget::kChip);
    times.transform += SecondsSince(start);

    sample.face.box = FaceBox{0, 0, chip.cols - 1, chip.rows - 1};
    sample.moved_box = sample.face.box;
    sample.face.chip = transformed;
    sample.face_found = true;
    if (options_.keep_images) sample.image = transformed;
  }

  void MakeOnImage(const SynthesisSource& source, const cv::Mat& picture, int worker,
                   WorkerTimes& times, SyntheticSample& sample) const {
    const Clock::time_point start = Clock::now();
    sample.sampled = SampleParameters(
        options_.recipe, DeriveSampleSeed(options_.seed, sample.source_key, sample.variant));
    FaceGeometry geometry = FaceGeometry::FromFace(source.box, source.landmarks);
    const cv::Mat transformed = ApplyRecipe(sample.sampled, picture, ApplyTarget::kImage, &geometry);
    sample.moved_box = geometry.BoundingBox();
    times.transform += SecondsSince(start);

    const Clock::time_point detect_start = Clock::now();
    DetectOptions detect = pipeline_.options().detect;
    detect.policy = MultiFacePolicy::kAll;
    detect.fallback_box = false;
    std::vector<Face> faces = finders_[worker].Find(transformed, detect);

    double best_overlap = 0;
    Face* best = nullptr;
    for (Face& face : faces) {
      const double overlap = Overlap(face.box, sample.moved_box);
      if (overlap > best_overlap) {
        best_overlap = overlap;
        best = &face;
      }
    }
    if (best && best_overlap >= options_.min_overlap) {
      sample.face = std::move(*best);
      sample.face_found = true;
    } else if (source.fallback && pipeline_.options().detect.fallback_box) {
      sample.face = finders_[worker].AlignInBox(transformed, sample.moved_box);
      sample.face.fallback = true;
      sample.face_found = true;
    } else if (faces.empty()) {
      sample.lost_reason = "no face detected";
    } else {
      sample.lost_reason = fmt::format(
          "no detected face overlaps the moved source box (best intersection over union {:.2f}, "
          "needed {:.2f})",
          best_overlap, options_.min_overlap);
    }
    times.detect += SecondsSince(detect_start);
    if (options_.keep_images) sample.image = transformed;
  }

  const Pipeline& pipeline_;
  const std::vector<SynthesisSource>& sources_;
  const SynthesisOptions& options_;
  const std::function<bool(std::size_t, int)>& skip_;
  int jobs_ = 1;
  std::vector<FaceFinder> finders_;  // one per worker; copies share the models
};

// Embeds the found samples' chips in one call and stores the embeddings.
void EmbedFound(const Pipeline& pipeline, std::vector<std::vector<SyntheticSample>>& chunk) {
  std::vector<cv::Mat> chips;
  for (const std::vector<SyntheticSample>& samples : chunk) {
    for (const SyntheticSample& sample : samples) {
      if (sample.face_found) chips.push_back(sample.face.chip);
    }
  }
  if (chips.empty()) return;
  const std::vector<Embedding> embeddings = pipeline.EmbedChips(chips);
  std::size_t next = 0;
  for (std::vector<SyntheticSample>& samples : chunk) {
    for (SyntheticSample& sample : samples) {
      if (sample.face_found) sample.embedding = embeddings[next++];
    }
  }
}

}  // namespace

std::vector<SyntheticSample> Synthesize(const Pipeline& pipeline,
                                        const std::vector<SynthesisSource>& sources,
                                        const SynthesisOptions& options,
                                        const std::function<bool(std::size_t, int)>& skip,
                                        const std::function<void(std::size_t)>& on_done,
                                        SynthesisTimings* timings) {
  const Clock::time_point start = Clock::now();
  SynthesisTimings local;
  Synthesizer synthesizer(pipeline, sources, options, skip);

  // Sources are handled in chunks, so one embedding call gets many chips while
  // memory stays bounded, and progress is reported as chunks finish.
  const std::size_t chunk_size = static_cast<std::size_t>(std::max(8, 4 * synthesizer.jobs()));
  std::vector<SyntheticSample> results;
  for (std::size_t begin = 0; begin < sources.size(); begin += chunk_size) {
    const std::size_t end = std::min(sources.size(), begin + chunk_size);
    std::vector<std::vector<SyntheticSample>> chunk = synthesizer.Generate(begin, end, local);

    const Clock::time_point embed_start = Clock::now();
    EmbedFound(pipeline, chunk);
    local.embed_seconds += SecondsSince(embed_start);

    for (std::size_t i = begin; i < end; ++i) {
      for (SyntheticSample& sample : chunk[i - begin]) results.push_back(std::move(sample));
      if (on_done) on_done(i);
    }
  }
  local.wall_seconds = SecondsSince(start);
  if (timings) *timings = local;
  Logger().info("synthesised {} samples from {} sources in {:.1f} s", results.size(),
                sources.size(), local.wall_seconds);
  return results;
}

}  // namespace facespace
