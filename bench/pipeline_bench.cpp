// End-to-end speed of the embedding pipeline on LFW images, against a
// baseline measured in the same run.
//
// Baseline: one image at a time on one thread (OpenBLAS limited to one
// thread too) through dlib's HOG detector, shape predictor, face chip and the
// ResNet, as dlib's own examples chain them. Candidate: facespace::Pipeline
// with all cores. Also measured: embedding alone (the same chips through the
// single-chip dlib network and through FaceEmbedder::Embed on all cores), and
// the machine's single-precision GEMM rate, against which the embedding
// stage's GFLOP/s is reported.
//
// The two end-to-end chains take turns for --rounds rounds over the same
// images, so a change in machine load during the run reaches both. The
// program reports the median of the per-round ratios.
//
// Usage: pipeline_bench [--images DIR] [--count N] [--rounds N] [--upsample N]
//                       [--model FILE] [--landmarks FILE]
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>
#include <fmt/format.h>
#include <x86_64-linux-gnu/cblas.h>

#include "embed/model_file.h"
#include "embed/resnet.h"
#include "facespace/distance.h"
#include "facespace/embedding.h"
#include "facespace/error.h"
#include "facespace/face.h"
#include "facespace/image.h"
#include "facespace/pipeline.h"
#include "lfw_images.h"

namespace {

using Clock = std::chrono::steady_clock;
using facespace::Embedding;

// Floating-point operations of one forward pass of the face ResNet: twice the
// multiply-adds of its 29 convolutions and the fully connected layer, summed
// from the layer shapes (the same count bench/embed_bench uses).
constexpr double kGflopPerFace = 0.5416;

struct Args {
  std::filesystem::path images;
  int count = 200;
  int rounds = 3;
  int upsample = 1;
  std::filesystem::path model;
  std::filesystem::path landmarks;
};

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Args ParseArgs(int argc, char** argv) {
  Args args;
  args.images = facespace::bench::DefaultLfwImages();
  args.model = facespace::DefaultModelPath();
  args.landmarks = facespace::DefaultLandmarkModelPath();
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw facespace::Error(facespace::ErrorCategory::kInvalidArgument, flag + ": missing value");
    const std::string value = argv[++i];
    if (flag == "--images") {
      args.images = value;
    } else if (flag == "--count") {
      args.count = std::stoi(value);
    } else if (flag == "--rounds") {
      args.rounds = std::stoi(value);
      if (args.rounds < 1) {
        throw facespace::Error(facespace::ErrorCategory::kInvalidArgument,
                               "--rounds " + value + ": must be at least 1");
      }
    } else if (flag == "--upsample") {
      args.upsample = std::stoi(value);
    } else if (flag == "--model") {
      args.model = value;
    } else if (flag == "--landmarks") {
      args.landmarks = value;
    } else {
      throw facespace::Error(facespace::ErrorCategory::kInvalidArgument,
                             flag + ": unknown option (known: --images --count --rounds --upsample --model --landmarks)");
    }
  }
  return args;
}

dlib::matrix<dlib::rgb_pixel> ToDlib(const cv::Mat& rgb) {
  dlib::matrix<dlib::rgb_pixel> image(rgb.rows, rgb.cols);
  for (int y = 0; y < rgb.rows; ++y) {
    const auto* row = rgb.ptr<cv::Vec3b>(y);
    for (int x = 0; x < rgb.cols; ++x) image(y, x) = dlib::rgb_pixel(row[x][0], row[x][1], row[x][2]);
  }
  return image;
}

Embedding ToEmbedding(const dlib::matrix<float, 0, 1>& descriptor) {
  Embedding embedding{};
  std::copy(descriptor.begin(), descriptor.end(), embedding.begin());
  return embedding;
}

// The baseline: dlib's components chained by hand, one image at a time.
class DlibBaseline {
 public:
  DlibBaseline(const Args& args) : upsample_(args.upsample) {
    detector_ = dlib::get_frontal_face_detector();
    dlib::deserialize(args.landmarks.string()) >> predictor_;
    facespace::embed::LoadModelFile(args.model, net_);
  }

  Embedding ProcessFile(const std::filesystem::path& file) {
    const facespace::DecodedImage decoded = facespace::ReadImageFile(file);
    const dlib::matrix<dlib::rgb_pixel> image = ToDlib(decoded.rgb);

    dlib::matrix<dlib::rgb_pixel> scaled = image;
    for (int i = 0; i < upsample_; ++i) dlib::pyramid_up(scaled);
    std::vector<dlib::rectangle> faces = detector_(scaled);
    const double factor = 1 << upsample_;

    dlib::rectangle box;
    if (faces.empty()) {
      const facespace::FaceBox fallback = facespace::FallbackBox(image.nc(), image.nr());
      box = dlib::rectangle(fallback.left, fallback.top, fallback.right, fallback.bottom);
    } else {
      const auto largest = std::max_element(faces.begin(), faces.end(), [](const auto& a, const auto& b) {
        return a.area() < b.area();
      });
      box = dlib::rectangle(std::lround(largest->left() / factor), std::lround(largest->top() / factor),
                            std::lround(largest->right() / factor), std::lround(largest->bottom() / factor));
    }
    const dlib::full_object_detection shape = predictor_(image, box);
    dlib::matrix<dlib::rgb_pixel> chip;
    dlib::extract_image_chip(image, dlib::get_face_chip_details(shape, facespace::kChipSize, facespace::kChipPadding),
                             chip);
    return ToEmbedding(net_(chip));
  }

  Embedding EmbedChip(const cv::Mat& chip) { return ToEmbedding(net_(ToDlib(chip))); }

 private:
  int upsample_;
  dlib::frontal_face_detector detector_;
  dlib::shape_predictor predictor_;
  facespace::embed::ResNet net_;
};

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

// Returns the single-precision GEMM rate in GFLOP/s on square matrices of
// size 1024, with OpenBLAS using its current thread count.
double MeasureGemmGflops() {
  const int n = 1024;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n, 0.0f);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
              c.data(), n);
  int runs = 0;
  const auto start = Clock::now();
  while (runs < 5 || Seconds(start) < 1.0) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
                c.data(), n);
    ++runs;
  }
  return 2.0 * n * n * n * runs / Seconds(start) / 1e9;
}

int Run(const Args& args) {
  const std::vector<std::filesystem::path> files = facespace::bench::FirstImageOfEachPerson(args.images, args.count);
  if (files.empty()) {
    throw facespace::Error(facespace::ErrorCategory::kNotFound,
                           args.images.string() + ": no LFW images found (set --images or FACESPACE_TEST_DATA)");
  }
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int blas_threads = openblas_get_num_threads();
  std::cout << fmt::format("pipeline_bench: {} LFW images from {}, upsample {}, {} cores, OpenBLAS {} threads\n",
                           files.size(), args.images.string(), args.upsample, cores, blas_threads);

  DlibBaseline baseline(args);
  facespace::PipelineOptions options;
  options.detect.upsample = args.upsample;
  options.detect.fallback_box = true;
  const facespace::Pipeline pipeline(args.model, args.landmarks, options);

  // Warm-up: first-call allocations of both chains.
  openblas_set_num_threads(1);
  baseline.ProcessFile(files.front());
  openblas_set_num_threads(blas_threads);
  pipeline.ProcessFiles(std::span(files).first(1));

  // End to end. The baseline runs one image at a time on one thread, with
  // OpenBLAS on one thread too. The Pipeline uses every core.
  std::vector<Embedding> baseline_embeddings;
  std::vector<facespace::ImageResult> results;
  std::vector<double> baseline_rates;
  std::vector<double> pipeline_rates;
  std::vector<double> ratios;
  for (int round = 0; round < args.rounds; ++round) {
    openblas_set_num_threads(1);
    baseline_embeddings.clear();
    auto start = Clock::now();
    for (const auto& file : files) baseline_embeddings.push_back(baseline.ProcessFile(file));
    baseline_rates.push_back(files.size() / Seconds(start));
    openblas_set_num_threads(blas_threads);

    start = Clock::now();
    results = pipeline.ProcessFiles(files);
    pipeline_rates.push_back(files.size() / Seconds(start));
    ratios.push_back(pipeline_rates.back() / baseline_rates.back());
    std::cout << fmt::format("round {}: baseline {:6.2f} images/s, Pipeline {:6.2f} images/s, ratio {:.2f}x\n",
                             round + 1, baseline_rates.back(), pipeline_rates.back(), ratios.back());
  }

  std::vector<cv::Mat> chips;
  double max_difference = 0;
  int fallbacks = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i].error || results[i].faces.empty()) continue;
    const facespace::EmbeddedFace& face = results[i].faces.front();
    chips.push_back(face.face.chip);
    if (face.face.fallback) ++fallbacks;
    max_difference = std::max<double>(max_difference, facespace::L2Distance(face.embedding, baseline_embeddings[i]));
  }

  // Embedding alone, on the pipeline's chips.
  openblas_set_num_threads(1);
  auto start = Clock::now();
  for (const cv::Mat& chip : chips) baseline.EmbedChip(chip);
  const double baseline_embed_seconds = Seconds(start);
  openblas_set_num_threads(blas_threads);
  start = Clock::now();
  pipeline.EmbedChips(chips);
  const double pipeline_embed_seconds = Seconds(start);

  const double gemm_gflops = MeasureGemmGflops();

  const double baseline_rate = Median(baseline_rates);
  const double pipeline_rate = Median(pipeline_rates);
  const double baseline_faces = chips.size() / baseline_embed_seconds;
  const double pipeline_faces = chips.size() / pipeline_embed_seconds;
  const double embed_gflops = pipeline_faces * kGflopPerFace;
  std::cout << fmt::format("end to end, median of {} rounds:\n", args.rounds)
            << fmt::format("end to end, baseline (dlib, 1 thread): {:8.2f} images/s\n", baseline_rate)
            << fmt::format("end to end, Pipeline ({} threads):    {:8.2f} images/s  ratio {:.2f}x (median of the "
                           "per-round ratios)\n",
                           cores, pipeline_rate, Median(ratios))
            << fmt::format("embedding, baseline (1 chip, 1 thread): {:6.2f} faces/s\n", baseline_faces)
            << fmt::format("embedding, FaceEmbedder (batched):     {:6.2f} faces/s  ratio {:.2f}x\n",
                           pipeline_faces, pipeline_faces / baseline_faces)
            << fmt::format("GEMM (sgemm 1024, {} threads):        {:7.1f} GFLOP/s\n", blas_threads, gemm_gflops)
            << fmt::format("embedding stage: {:.1f} GFLOP/s = {:.0f}% of GEMM (at {} GFLOP a face)\n",
                           embed_gflops, 100 * embed_gflops / gemm_gflops, kGflopPerFace)
            << fmt::format("fallback boxes: {} of {}; max L2 between pipeline and baseline embeddings: {:.2e}\n",
                           fallbacks, results.size(), max_difference);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(ParseArgs(argc, argv));
  } catch (const std::exception& error) {
    std::cerr << "pipeline_bench: error: " << error.what() << "\n";
    return 1;
  }
}
