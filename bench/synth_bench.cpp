// Speed of synthetic sample generation on LFW images: samples per second
// (generate + embed) and the share of the time the transformations take,
// against the detection and embedding work measured in the same run.
//
// Everything runs on one thread (worker jobs 1, pipeline threads 1, OpenBLAS
// limited to one thread), so the parts add up and their ratios do not depend
// on how busy the machine's other cores are.
//
// Usage: synth_bench [--images DIR] [--count N] [--per-image K] [--recipe R]
//                    [--model FILE] [--landmarks FILE]
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <x86_64-linux-gnu/cblas.h>

#include "facespace/embedding.h"
#include "facespace/error.h"
#include "facespace/face.h"
#include "facespace/image.h"
#include "facespace/pipeline.h"
#include "facespace/synth.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using facespace::ApplyTarget;

struct Args {
  fs::path images;
  int count = 40;
  int per_image = 4;
  std::string recipe = "mixed";
  fs::path model;
  fs::path landmarks;
};

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Args ParseArgs(int argc, char** argv) {
  Args args;
  const char* data = std::getenv("FACESPACE_TEST_DATA");
  args.images = fs::path(data && *data ? data : FACESPACE_TEST_DATA_DEFAULT) / "lfw/images";
  args.model = facespace::DefaultModelPath();
  args.landmarks = facespace::DefaultLandmarkModelPath();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--images") {
      args.images = value;
    } else if (flag == "--count") {
      args.count = std::stoi(value);
    } else if (flag == "--per-image") {
      args.per_image = std::stoi(value);
    } else if (flag == "--recipe") {
      args.recipe = value;
    } else if (flag == "--model") {
      args.model = value;
    } else if (flag == "--landmarks") {
      args.landmarks = value;
    } else {
      throw facespace::Error(facespace::ErrorCategory::kInvalidArgument,
                             flag + ": unknown option (known: --images --count --per-image "
                                    "--recipe --model --landmarks)");
    }
  }
  return args;
}

// The first image of each of the first `count` identity folders, in name order.
std::vector<fs::path> ChooseImages(const fs::path& root, int count) {
  std::vector<fs::path> folders;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory()) folders.push_back(entry.path());
  }
  std::sort(folders.begin(), folders.end());
  std::vector<fs::path> images;
  for (const fs::path& folder : folders) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(folder)) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    if (!files.empty()) images.push_back(files.front());
    if (static_cast<int>(images.size()) >= count) break;
  }
  return images;
}

struct ModeResult {
  std::size_t samples = 0;
  std::size_t lost = 0;
  facespace::SynthesisTimings timings;
};

ModeResult RunMode(const facespace::Pipeline& pipeline,
                   const std::vector<facespace::SynthesisSource>& sources, const Args& args,
                   ApplyTarget target) {
  facespace::SynthesisOptions options;
  options.recipe = facespace::ParseRecipe(args.recipe);
  options.per_image = args.per_image;
  options.seed = 1;
  options.target = target;
  options.jobs = 1;
  options.landmark_model = args.landmarks;
  ModeResult result;
  const std::vector<facespace::SyntheticSample> samples =
      facespace::Synthesize(pipeline, sources, options, {}, {}, &result.timings);
  result.samples = samples.size();
  for (const auto& sample : samples) result.lost += sample.face_found ? 0 : 1;
  return result;
}

void PrintMode(const std::string& name, const ModeResult& result, double embed_per_face) {
  const facespace::SynthesisTimings& t = result.timings;
  const double n = static_cast<double>(result.samples);
  const double work = t.detect_seconds + t.embed_seconds;
  std::cout << fmt::format(
      "{}: {} samples ({} lost) in {:.2f} s = {:.2f} samples/s\n"
      "  per sample: read {:.2f} ms, transform {:.2f} ms, detect+align {:.2f} ms, embed {:.2f} ms "
      "(embedding alone: {:.2f} ms a face)\n"
      "  transform / (detect + embed) = {:.2f}%, transform / embed = {:.2f}%\n",
      name, result.samples, result.lost, t.wall_seconds, n / t.wall_seconds,
      1e3 * t.read_seconds / n, 1e3 * t.transform_seconds / n, 1e3 * t.detect_seconds / n,
      1e3 * t.embed_seconds / n, 1e3 * embed_per_face, 100.0 * t.transform_seconds / work,
      100.0 * t.transform_seconds / t.embed_seconds);
}

// Mean time of each transformation at strength 1 on `picture`, in ms.
void PrintTransformCosts(const cv::Mat& photo, const cv::Mat& chip, double embed_per_face) {
  std::cout << fmt::format("{:<13} {:>12} {:>12} {:>16}\n", "transform", "photo ms", "chip ms",
                           "chip / embed");
  constexpr int kRepeats = 20;
  for (const facespace::TransformSpec& spec : facespace::Transforms()) {
    const facespace::SampledRecipe sampled =
        facespace::SampleParameters(facespace::RecipeAtStrength(spec.name, 1.0), 7);
    double seconds[2] = {0, 0};
    const cv::Mat* pictures[2] = {&photo, &chip};
    for (int which = 0; which < 2; ++which) {
      const ApplyTarget target = which == 0 ? ApplyTarget::kImage : ApplyTarget::kChip;
      const Clock::time_point start = Clock::now();
      for (int i = 0; i < kRepeats; ++i) facespace::ApplyRecipe(sampled, *pictures[which], target);
      seconds[which] = Seconds(start) / kRepeats;
    }
    std::cout << fmt::format("{:<13} {:>12.3f} {:>12.3f} {:>15.2f}%\n", spec.name, 1e3 * seconds[0],
                             1e3 * seconds[1], 100.0 * seconds[1] / embed_per_face);
  }
}

int Run(const Args& args) {
  openblas_set_num_threads(1);
  facespace::PipelineOptions pipeline_options;
  pipeline_options.threads = 1;
  pipeline_options.detect.fallback_box = true;
  const facespace::Pipeline pipeline(args.model, args.landmarks, pipeline_options);

  const std::vector<fs::path> files = ChooseImages(args.images, args.count);
  std::cout << fmt::format("{} LFW images from {}, recipe \"{}\", {} per image, one thread\n",
                           files.size(), args.images.string(),
                           facespace::FormatRecipe(facespace::ParseRecipe(args.recipe)),
                           args.per_image);

  // The real faces, as ingest would find them.
  std::vector<facespace::SynthesisSource> sources;
  std::vector<cv::Mat> chips;
  for (const facespace::ImageResult& result : pipeline.ProcessFiles(files)) {
    if (result.faces.empty()) continue;
    const facespace::Face& face = result.faces.front().face;
    facespace::SynthesisSource source;
    source.sample_id = static_cast<std::int64_t>(sources.size());
    source.image_path = result.source;
    source.box = face.box;
    source.landmarks.assign(face.landmarks.begin(), face.landmarks.end());
    source.fallback = face.fallback;
    sources.push_back(source);
    chips.push_back(face.chip);
  }

  // Baseline: embedding alone, the same chips, same thread count.
  const Clock::time_point embed_start = Clock::now();
  pipeline.EmbedChips(chips);
  const double embed_per_face = Seconds(embed_start) / static_cast<double>(chips.size());
  std::cout << fmt::format("baseline: embedding {} chips alone: {:.2f} ms a face ({:.1f} faces/s)\n",
                           chips.size(), 1e3 * embed_per_face, 1.0 / embed_per_face);

  PrintMode("on image", RunMode(pipeline, sources, args, ApplyTarget::kImage), embed_per_face);
  PrintMode("on chip", RunMode(pipeline, sources, args, ApplyTarget::kChip), embed_per_face);

  const cv::Mat photo = facespace::ReadImageFile(files.front()).rgb;
  PrintTransformCosts(photo, chips.front(), embed_per_face);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(ParseArgs(argc, argv));
  } catch (const facespace::Error& error) {
    std::cerr << "synth_bench: error: " << error.what() << "\n";
    return 1;
  }
}
