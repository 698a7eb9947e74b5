// embed_bench: embedding-only throughput against the machine's SGEMM rate.
//
// Measures, in one run:
//   1. cblas_sgemm GFLOP/s (OpenBLAS) on the GEMM shapes the network's
//      convolutions produce at batch 16 and on a 2048 square, with one thread
//      and with all cores;
//   2. the baseline: dlib's own forward pass, one chip at a time, one thread;
//   3. FaceEmbedder::Embed faces/s for several batch sizes and thread counts,
//      its achieved GFLOP/s and that as a fraction of the all-core SGEMM rate
//      of the 2048 square.
// Chips are centre crops of LFW images resized to 150x150 (the network cost
// does not depend on the content).
//
// Usage: embed_bench [--images DIR] [--faces N] [--model FILE]
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "embed/model_file.h"
#include "embed/resnet.h"
#include "facespace/embedding.h"
#include "facespace/error.h"

namespace {

using Clock = std::chrono::steady_clock;

// Multiply-adds x 2 of the 29 convolutions and the fully connected layer for
// one 150x150 chip, summed from the layer shapes (output pixels x filters x
// kernel area x input channels): 0.5416 GFLOP.
constexpr double kFlopsPerFace = 541.6e6;

double Seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::vector<cv::Mat> LoadChips(const std::filesystem::path& images, std::size_t count) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(images)) {
    if (entry.is_regular_file() && entry.path().extension() == ".jpg") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<cv::Mat> chips;
  for (const auto& file : files) {
    if (chips.size() == count) break;
    const cv::Mat bgr = cv::imread(file.string(), cv::IMREAD_COLOR);
    if (bgr.empty()) continue;
    const int side = std::min(bgr.rows, bgr.cols) / 2;
    const cv::Rect centre((bgr.cols - side) / 2, (bgr.rows - side) / 2, side, side);
    cv::Mat rgb;
    cv::cvtColor(bgr(centre), rgb, cv::COLOR_BGR2RGB);
    cv::Mat chip;
    cv::resize(rgb, chip, cv::Size(150, 150), 0, 0, cv::INTER_LINEAR);
    chips.push_back(chip);
  }
  return chips;
}

// Returns GFLOP/s of C = A * B with A m x k, B k x n, repeated for at least 0.5 s.
double SgemmRate(int m, int n, int k, int threads) {
  openblas_set_num_threads(threads);
  std::vector<float> a(static_cast<std::size_t>(m) * k, 0.5f);
  std::vector<float> b(static_cast<std::size_t>(k) * n, 0.25f);
  std::vector<float> c(static_cast<std::size_t>(m) * n);
  auto run = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(),
                n);
  };
  run();
  int repeats = 0;
  const auto start = Clock::now();
  do {
    run();
    ++repeats;
  } while (Seconds(start) < 0.5);
  return 2.0 * m * n * k * repeats / Seconds(start) / 1e9;
}

double EmbedRate(const facespace::FaceEmbedder& embedder, const std::vector<cv::Mat>& chips, int threads,
                 std::size_t batch) {
  embedder.Embed({chips.begin(), chips.begin() + std::min<std::size_t>(chips.size(), batch * threads)}, threads,
                 batch);  // warm-up: buffers and OpenBLAS threads
  const auto start = Clock::now();
  embedder.Embed(chips, threads, batch);
  return chips.size() / Seconds(start);
}

double DlibBaselineRate(const std::filesystem::path& model, const std::vector<cv::Mat>& chips) {
  openblas_set_num_threads(1);
  facespace::embed::ResNet net;
  facespace::embed::LoadModelFile(model, net);
  net(facespace::embed::ToDlibChip(chips.front()));
  const auto start = Clock::now();
  for (const cv::Mat& chip : chips) net(facespace::embed::ToDlibChip(chip));
  return chips.size() / Seconds(start);
}

}  // namespace

int main(int argc, char** argv) {
  const char* data = std::getenv("FACESPACE_TEST_DATA");
  std::filesystem::path images = std::filesystem::path(data && *data ? data : FACESPACE_TEST_DATA_DEFAULT) / "lfw/images";
  std::size_t faces = 256;
  std::filesystem::path model = facespace::DefaultModelPath();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--images") {
      images = argv[i + 1];
    } else if (flag == "--faces") {
      faces = std::stoul(argv[i + 1]);
    } else if (flag == "--model") {
      model = argv[i + 1];
    } else {
      std::fprintf(stderr, "embed_bench: unknown option %s\n", argv[i]);
      return 2;
    }
  }

  try {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const std::vector<cv::Mat> chips = LoadChips(images, faces);
    if (chips.empty()) {
      std::fprintf(stderr, "embed_bench: no .jpg images under %s\n", images.c_str());
      return 1;
    }
    std::printf("chips: %zu centre crops from %s; model %s; %d cores\n\n", chips.size(), images.c_str(),
                model.c_str(), cores);

    std::printf("SGEMM (OpenBLAS), GFLOP/s\n%-34s %10s %10s\n", "shape m x n x k", "1 thread", "all cores");
    const struct {
      const char* name;
      int m, n, k;
    } shapes[] = {
        {"conv 7x7, 3->32 (batch 16)", 5184 * 16, 32, 147}, {"conv 3x3, 32->32 (batch 16)", 1225 * 16, 32, 288},
        {"conv 3x3, 64->64 (batch 16)", 289 * 16, 64, 576}, {"conv 3x3, 128->128 (batch 16)", 64 * 16, 128, 1152},
        {"conv 3x3, 256->256 (batch 16)", 16 * 16, 256, 2304}, {"square 2048", 2048, 2048, 2048},
    };
    double machine_rate = 0;
    double single_rate = 0;
    for (const auto& shape : shapes) {
      const double one = SgemmRate(shape.m, shape.n, shape.k, 1);
      const double all = SgemmRate(shape.m, shape.n, shape.k, cores);
      std::printf("%-34s %10.1f %10.1f\n", shape.name, one, all);
      single_rate = one;
      machine_rate = all;  // the square, measured last
    }
    // On a busy machine the all-core run can be slower than one thread; the
    // larger of the two is the rate the fraction is taken against.
    machine_rate = std::max(machine_rate, single_rate);
    std::printf("machine SGEMM rate (2048 square, best of 1 thread and all cores): %.1f GFLOP/s\n\n",
                machine_rate);

    const std::vector<cv::Mat> baseline_chips(chips.begin(), chips.begin() + std::min<std::size_t>(chips.size(), 32));
    const double baseline = DlibBaselineRate(model, baseline_chips);
    std::printf("baseline: dlib forward pass, one chip at a time, 1 thread: %.1f faces/s (%.1f GFLOP/s)\n\n", baseline,
                baseline * kFlopsPerFace / 1e9);

    const facespace::FaceEmbedder embedder(model);
    std::printf("%-8s %-6s %10s %10s %12s %12s\n", "threads", "batch", "faces/s", "GFLOP/s", "of machine", "x baseline");
    for (int threads : {1, cores}) {
      for (std::size_t batch : {1, 2, 4, 8, 16, 32}) {
        const double rate = EmbedRate(embedder, chips, threads, batch);
        const double gflops = rate * kFlopsPerFace / 1e9;
        std::printf("%-8d %-6zu %10.1f %10.1f %11.0f%% %12.2f\n", threads, batch, rate, gflops,
                    100.0 * gflops / machine_rate, rate / baseline);
      }
    }
  } catch (const facespace::Error& error) {
    std::fprintf(stderr, "embed_bench: error: %s\n", error.what());
    return 1;
  }
  return 0;
}
