// FaceEmbedder: runs the ResNet on batches of chips.
#include <algorithm>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include <cblas.h>

#include "embed/fast_resnet.h"
#include "embed/model_file.h"
#include "embed/resnet.h"
#include "facespace/embedding.h"
#include "facespace/error.h"
#include "facespace/face.h"
#include "facespace/log.h"

namespace facespace {
namespace {

// Chips go through the network this many at a time by default. In
// bench/embed_bench on a 2-core AVX2 machine, batches of 2 to 4 ran 10 to 20%
// faster than 16, on one thread and on two. The likely cause is that a small
// batch's activations and im2col buffer stay in cache.
constexpr std::size_t kBatchSize = 4;

}  // namespace

namespace embed {

void CheckChip(const cv::Mat& chip) {
  if (chip.rows != kChipSize || chip.cols != kChipSize || chip.type() != CV_8UC3) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("chip: expected {}x{} 8-bit RGB, got {}x{} of OpenCV type {}", kChipSize, kChipSize,
                            chip.cols, chip.rows, chip.type()));
  }
}

dlib::matrix<dlib::rgb_pixel> ToDlibChip(const cv::Mat& chip) {
  CheckChip(chip);
  dlib::matrix<dlib::rgb_pixel> image(kChipSize, kChipSize);
  for (int y = 0; y < kChipSize; ++y) {
    const auto* row = chip.ptr<cv::Vec3b>(y);
    for (int x = 0; x < kChipSize; ++x) image(y, x) = dlib::rgb_pixel(row[x][0], row[x][1], row[x][2]);
  }
  return image;
}

}  // namespace embed

struct FaceEmbedder::Impl {
  ModelInfo info;
  embed::ResNet net;

  // A FastResNet keeps scratch buffers, so each running worker takes its own;
  // the pool keeps them for later calls.
  std::mutex pool_mutex;
  std::vector<std::unique_ptr<embed::FastResNet>> pool;

  std::unique_ptr<embed::FastResNet> Acquire() {
    std::lock_guard lock(pool_mutex);
    if (pool.empty()) return std::make_unique<embed::FastResNet>(net);
    auto engine = std::move(pool.back());
    pool.pop_back();
    return engine;
  }

  void Release(std::unique_ptr<embed::FastResNet> engine) {
    std::lock_guard lock(pool_mutex);
    pool.push_back(std::move(engine));
  }

  void Run(const std::vector<cv::Mat>& chips, std::size_t begin, std::size_t end, std::size_t batch_size,
           std::vector<Embedding>& out) {
    auto engine = Acquire();
    for (std::size_t start = begin; start < end; start += batch_size) {
      const std::size_t count = std::min(end, start + batch_size) - start;
      engine->Forward(chips.data() + start, count, out.data() + start);
    }
    Release(std::move(engine));
  }
};

FaceEmbedder::FaceEmbedder(const std::filesystem::path& model_file) : impl_(std::make_unique<Impl>()) {
  impl_->info = embed::LoadModelFile(model_file, impl_->net);
  impl_->Release(std::make_unique<embed::FastResNet>(impl_->net));  // fails early on a wrong network
  Logger().debug("loaded model {} ({}, {} parameters) from {}", impl_->info.model_id, impl_->info.file_kind,
                 impl_->info.parameter_count, model_file.string());
}

FaceEmbedder::~FaceEmbedder() = default;
FaceEmbedder::FaceEmbedder(FaceEmbedder&&) noexcept = default;
FaceEmbedder& FaceEmbedder::operator=(FaceEmbedder&&) noexcept = default;

const ModelInfo& FaceEmbedder::info() const { return impl_->info; }

std::vector<Embedding> FaceEmbedder::Embed(const std::vector<cv::Mat>& chips, int threads,
                                           std::size_t batch_size) const {
  // Every chip is checked before any work, so one bad chip fails the whole call.
  for (const cv::Mat& chip : chips) embed::CheckChip(chip);
  std::vector<Embedding> out(chips.size());
  if (chips.empty()) return out;

  if (batch_size == 0) batch_size = kBatchSize;
  const std::size_t cores = threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
  const std::size_t batches = (chips.size() + batch_size - 1) / batch_size;
  const std::size_t workers = std::min(cores, batches);

  // Each worker runs whole batches; OpenBLAS gets the cores no worker uses.
  // NOTE: openblas_set_num_threads is process-wide, so a concurrent call from
  // another component may run with this call's setting until it is restored.
  const int saved_blas_threads = openblas_get_num_threads();
  openblas_set_num_threads(static_cast<int>(std::max<std::size_t>(1, cores / workers)));

  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> failures(workers);
  const std::size_t share = (batches + workers - 1) / workers * batch_size;
  for (std::size_t w = 0; w < workers; ++w) {
    const std::size_t begin = std::min(chips.size(), w * share);
    const std::size_t end = std::min(chips.size(), begin + share);
    auto work = [&, w, begin, end] {
      try {
        impl_->Run(chips, begin, end, batch_size, out);
      } catch (...) {
        failures[w] = std::current_exception();
      }
    };
    if (workers == 1) {
      work();
    } else {
      pool.emplace_back(work);
    }
  }
  for (std::thread& thread : pool) thread.join();
  openblas_set_num_threads(saved_blas_threads);
  for (const auto& failure : failures) {
    if (failure) std::rethrow_exception(failure);
  }
  return out;
}

Embedding FaceEmbedder::EmbedOne(const cv::Mat& chip) const { return Embed({chip}, 1).front(); }

cv::Mat ChipFromCroppedFace(const cv::Mat& rgb) {
  if (rgb.empty() || rgb.type() != CV_8UC3) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("face crop: expected a non-empty 8-bit RGB image, got {}x{} of OpenCV type {}", rgb.cols,
                            rgb.rows, rgb.type()));
  }
  const int side = std::max(rgb.cols, rgb.rows);
  // When the difference is odd, the padding before the image is the larger half.
  const int left = (side - rgb.cols + 1) / 2;
  const int top = (side - rgb.rows + 1) / 2;
  cv::Mat square(side, side, CV_8UC3, cv::Scalar::all(0));
  rgb.copyTo(square(cv::Rect(left, top, rgb.cols, rgb.rows)));

  cv::Mat chip;
  cv::resize(square, chip, cv::Size(kChipSize, kChipSize), 0, 0, cv::INTER_LINEAR);
  return chip;
}

}  // namespace facespace
