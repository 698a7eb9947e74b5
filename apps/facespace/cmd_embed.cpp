// facespace embed, facespace verify: faces and embeddings of single images.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "facespace/distance.h"
#include "facespace/embedding.h"
#include "facespace/error.h"
#include "facespace/face.h"
#include "facespace/pipeline.h"

namespace facespace::cli {
namespace {

// Options that decide how faces are found and embedded, shared by embed and verify.
struct FaceOptions {
  bool aligned = false;
  bool all_faces = false;
  std::string face = "largest";  // face kept when an image has several: largest or central
  bool fallback_box = false;
  int upsample = 1;
  std::string tta = "none";
  int threads = 0;
};

void AddFaceOptions(CLI::App& command, FaceOptions& options, bool allow_all_faces) {
  command.add_flag("--aligned", options.aligned,
                   "Take each image as an already cropped face: pad it to a square and resize "
                   "it to the 150x150 chip, without detection");
  CLI::Option* face = command.add_option("--face", options.face,
                                          "Face kept when an image has several: largest, or central (the one "
                                          "nearest the image centre, as LFW labels it)")
                          ->default_val("largest")
                          ->check(CLI::IsMember({"largest", "central"}));
  if (allow_all_faces) {
    command.add_flag("--all-faces", options.all_faces,
                     "Embed every detected face, highest detector score first (default: only the "
                     "largest face)")
        ->excludes(face);
  }
  command.add_flag("--fallback-box", options.fallback_box,
                   "When no face is detected, embed a fixed central box and mark it as a fallback "
                   "(for datasets of pre-cropped faces such as LFW)");
  command.add_option("--upsample", options.upsample,
                     "Times the image is doubled in size before detection; finds smaller faces, "
                     "costs about 4x the time per step")
      ->default_val(1)
      ->check(CLI::Range(0, 3));
  command.add_option("--tta", options.tta,
                     "Test-time augmentation: none, flip, jitter:N, or a comma-separated "
                     "combination such as flip,jitter:10 (add seed:S to change the jitter)")
      ->default_val("none");
  command.add_option("--threads", options.threads, "Worker threads (0: all cores)")->default_val(0)
      ->check(CLI::NonNegativeNumber);
}

std::filesystem::path ModelPath(const CommandContext& context) {
  return context.model_path.empty() ? DefaultModelPath() : std::filesystem::path(context.model_path);
}

std::filesystem::path LandmarkPath(const CommandContext& context) {
  return context.landmark_path.empty() ? DefaultLandmarkModelPath()
                                       : std::filesystem::path(context.landmark_path);
}

PipelineOptions ToPipelineOptions(const FaceOptions& options) {
  PipelineOptions pipeline;
  pipeline.aligned_input = options.aligned;
  pipeline.detect.upsample = options.upsample;
  pipeline.detect.policy = options.all_faces        ? MultiFacePolicy::kAll
                           : options.face == "central" ? MultiFacePolicy::kCentral
                                                       : MultiFacePolicy::kLargest;
  pipeline.detect.fallback_box = options.fallback_box;
  pipeline.tta = ParseTtaSpec(options.tta);
  pipeline.threads = options.threads;
  return pipeline;
}

nlohmann::json FaceJson(const ImageResult& result, std::size_t index, const PipelineOptions& options,
                        const ModelInfo& model) {
  const EmbeddedFace& face = result.faces[index];
  nlohmann::json json;
  json["file"] = result.source;
  json["face"] = index;
  json["faces"] = result.faces.size();
  json["box"] = {{"left", face.face.box.left},
                 {"top", face.face.box.top},
                 {"right", face.face.box.right},
                 {"bottom", face.face.box.bottom}};
  if (options.aligned_input) {
    json["aligned"] = true;
    json["landmarks"] = nullptr;
  } else {
    nlohmann::json landmarks = nlohmann::json::array();
    for (const cv::Point2f& point : face.face.landmarks) landmarks.push_back({point.x, point.y});
    json["landmarks"] = std::move(landmarks);
  }
  json["fallback"] = face.face.fallback;
  json["detector_score"] = face.face.detector_score;
  json["model"] = model.model_id;
  json["tta"] = FormatTtaSpec(options.tta);
  json["embedding"] = face.embedding;
  return json;
}

std::string Summary(const ImageResult& result, std::size_t index) {
  const EmbeddedFace& face = result.faces[index];
  const FaceBox& box = face.face.box;
  double norm = 0;
  for (float value : face.embedding) norm += double(value) * value;
  return fmt::format("{} face {}/{}: box ({}, {})-({}, {}), detector score {:.3f}{}, "
                     "embedding [{:.4f}, {:.4f}, {:.4f}, ... {:.4f}] (128 floats, length {:.4f})",
                     result.source, index + 1, result.faces.size(), box.left, box.top, box.right,
                     box.bottom, face.face.detector_score, face.face.fallback ? ", fallback box" : "",
                     face.embedding[0], face.embedding[1], face.embedding[2], face.embedding[127],
                     std::sqrt(norm));
}

// Prints one image's faces, its "no face" line or its error. Returns false on an error.
bool PrintResult(const ImageResult& result, bool json, const PipelineOptions& options,
                 const ModelInfo& model) {
  if (result.error) {
    std::fflush(stdout);
    std::cerr << "facespace: error: " << result.error->what() << "\n";
    if (json) {
      nlohmann::json line = {{"file", result.source},
                             {"faces", 0},
                             {"error", result.error->what()},
                             {"error_category", CategoryName(result.error->category())}};
      std::cout << line.dump() << "\n";
    }
    return false;
  }
  if (result.faces.empty()) {
    if (json) {
      std::cout << nlohmann::json{{"file", result.source}, {"faces", 0}}.dump() << "\n";
    } else {
      std::cout << result.source << ": no face found\n";
    }
    return true;
  }
  for (std::size_t i = 0; i < result.faces.size(); ++i) {
    std::cout << (json ? FaceJson(result, i, options, model).dump() : Summary(result, i)) << "\n";
  }
  return true;
}

struct EmbedArgs {
  FaceOptions face;
  bool json = false;
  std::vector<std::string> images;
};

void RunEmbed(const EmbedArgs& args, CommandContext& context) {
  const PipelineOptions options = ToPipelineOptions(args.face);
  const Pipeline pipeline(ModelPath(context), LandmarkPath(context), options);

  std::vector<std::filesystem::path> files(args.images.begin(), args.images.end());
  std::optional<ErrorCategory> first_failure;
  pipeline.ProcessFiles(files, [&](const ImageResult& result) {
    if (!PrintResult(result, args.json, options, pipeline.model_info()) && !first_failure) {
      first_failure = result.error->category();
    }
    std::cout.flush();
  });
  if (first_failure) context.exit_code = static_cast<int>(ExitCodeFor(*first_failure));
}

// Embeds the face of one image for verify, which expects exactly one face.
EmbeddedFace EmbedForVerify(const Pipeline& pipeline, const std::string& image) {
  const std::filesystem::path file(image);
  std::vector<ImageResult> results = pipeline.ProcessFiles(std::span(&file, 1));
  ImageResult& result = results.front();
  if (result.error) throw *result.error;
  if (result.faces.empty()) {
    throw Error(ErrorCategory::kNoFace,
                image + ": no face found; try --upsample 2, or --fallback-box or --aligned for a "
                        "cropped face");
  }
  return std::move(result.faces.front());
}

struct VerifyArgs {
  FaceOptions face;
  std::string metric = "l2";
  std::optional<double> threshold;
  bool json = false;
  std::string image_a;
  std::string image_b;
};

// The cosine distance threshold that equals kDefaultMatchThreshold for
// unit-length vectors, where squared L2 = 2 * cosine distance.
double DefaultCosineThreshold() { return kDefaultMatchThreshold * kDefaultMatchThreshold / 2; }

void RunVerify(const VerifyArgs& args, CommandContext& context) {
  const Metric metric = ParseMetric(args.metric);
  if (metric == Metric::kSquaredL2) {
    throw Error(ErrorCategory::kInvalidArgument,
                "--metric squared-l2: verify compares in l2 or cosine; square the l2 threshold "
                "to compare with FAISS distances");
  }
  const double threshold =
      args.threshold.value_or(metric == Metric::kL2 ? kDefaultMatchThreshold : DefaultCosineThreshold());

  const Pipeline pipeline(ModelPath(context), LandmarkPath(context), ToPipelineOptions(args.face));
  const EmbeddedFace a = EmbedForVerify(pipeline, args.image_a);
  const EmbeddedFace b = EmbedForVerify(pipeline, args.image_b);

  const double l2 = L2Distance(a.embedding, b.embedding);
  const double similarity = CosineSimilarity(a.embedding, b.embedding);
  const double distance = metric == Metric::kL2 ? l2 : 1.0 - similarity;
  const bool same = distance < threshold;

  if (args.json) {
    nlohmann::json json = {{"image_a", args.image_a},
                           {"image_b", args.image_b},
                           {"l2_distance", l2},
                           {"squared_l2_distance", l2 * l2},
                           {"cosine_similarity", similarity},
                           {"metric", MetricName(metric)},
                           {"distance", distance},
                           {"threshold", threshold},
                           {"same_person", same},
                           {"fallback_a", a.face.fallback},
                           {"fallback_b", b.face.fallback},
                           {"tta", FormatTtaSpec(pipeline.options().tta)}};
    std::cout << json.dump() << "\n";
    return;
  }
  std::cout << fmt::format("L2 distance:       {:.4f}\n", l2)
            << fmt::format("squared L2:        {:.4f}\n", l2 * l2)
            << fmt::format("cosine similarity: {:.4f}\n", similarity)
            << fmt::format("decision:          {} ({} {:.4f} {} threshold {:.4f})\n",
                           same ? "same person" : "different people", MetricName(metric), distance,
                           same ? "<" : ">=", threshold);
}

constexpr const char* kVerifyUnits =
    "Compare the largest face of two images.\n"
    "Units: plain L2 is d = |a - b|, the unit of the model's published threshold 0.6. "
    "FAISS's L2 indexes report squared L2, d^2, so 0.6 there reads 0.36. "
    "Cosine similarity is a.b / (|a| |b|) and cosine distance is 1 - similarity. "
    "Only for unit-length vectors does d^2 = 2 * cosine distance hold; this model's "
    "embeddings are not normalised, so that conversion is approximate. "
    "--metric cosine compares cosine distance, with default threshold 0.18 (= 0.6^2 / 2).";

}  // namespace

void AddEmbedCommands(CLI::App& app, CommandContext& context) {
  auto embed_args = std::make_shared<EmbedArgs>();
  CLI::App* embed = app.add_subcommand(
      "embed",
      "Detect, align and embed faces; print one line per face (JSON lines with --json). "
      "Embeddings are 128 floats in plain L2 units, not normalised");
  AddFaceOptions(*embed, embed_args->face, true);
  embed->add_flag("--json", embed_args->json,
                  "Print one JSON object per face per line: file, face, faces, box, landmarks, "
                  "fallback, detector_score, model, tta, embedding. An image without a face "
                  "prints {\"file\", \"faces\": 0}; an unreadable one adds \"error\"");
  embed->add_option("IMAGE", embed_args->images, "Image files")->required();
  embed->footer("Exit code: 0 when every file was read, even if it has no face. When a file cannot "
                "be read or decoded, its error goes to stderr, the other files are still processed "
                "and the exit code is that of the first failure (3 for a missing or undecodable "
                "file, 6 for an I/O error).");
  embed->callback([embed_args, &context] { RunEmbed(*embed_args, context); });

  auto verify_args = std::make_shared<VerifyArgs>();
  CLI::App* verify = app.add_subcommand("verify", kVerifyUnits);
  AddFaceOptions(*verify, verify_args->face, false);
  verify->add_option("--metric", verify_args->metric, "Distance to threshold: l2 or cosine")
      ->default_val("l2");
  verify->add_option("--threshold", verify_args->threshold,
                     "Same person when the distance is below this (default: 0.6 for l2, 0.18 for "
                     "cosine)");
  verify->add_flag("--json", verify_args->json, "Print one JSON object");
  verify->add_option("IMAGE_A", verify_args->image_a, "First image")->required();
  verify->add_option("IMAGE_B", verify_args->image_b, "Second image")->required();
  verify->callback([verify_args, &context] { RunVerify(*verify_args, context); });
}

}  // namespace facespace::cli
