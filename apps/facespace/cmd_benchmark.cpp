// facespace benchmark lfw: verification accuracy on LFW pair files.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "progress.h"
#include "facespace/distance.h"
#include "facespace/embedding.h"
#include "facespace/error.h"
#include "facespace/face.h"
#include "facespace/lfw.h"
#include "facespace/pipeline.h"

namespace facespace::cli {
namespace {

// Version of the JSON report written by --json, which readers check.
constexpr int kLfwReportFormatVersion = 1;

struct LfwArgs {
  std::string pairs;
  std::string images;
  std::string train;
  std::string tta = "none";
  std::string metric = "l2";
  std::string json_out;
  std::string scores_out;
  int upsample = 1;
  int threads = 0;
};

struct SetScore {
  std::string protocol;  // how the threshold was chosen, in words
  ThresholdSource source = ThresholdSource::kDefault;
  double accuracy = 0;
  double threshold = 0;
  std::optional<double> train_accuracy;
  std::optional<CrossValidationScore> cross_validation;
  VerificationCounts counts;
};

std::string ThresholdSourceName(ThresholdSource source) {
  switch (source) {
    case ThresholdSource::kCrossValidation: return "cross-validation";
    case ThresholdSource::kFittedOnTrain: return "fitted-on-train";
    case ThresholdSource::kDefault: return "default";
  }
  return "unknown";
}

double DefaultThreshold(Metric metric) {
  // For unit-length vectors, squared L2 = 2 * cosine distance (see distance.h).
  return metric == Metric::kL2 ? kDefaultMatchThreshold
                               : kDefaultMatchThreshold * kDefaultMatchThreshold / 2;
}

SetScore ScoreSet(const LfwPairSet& set, const std::vector<ScoredPair>& scored,
                  const std::optional<std::vector<ScoredPair>>& train_scored,
                  const std::string& train_file, Metric metric) {
  SetScore score;
  if (set.folds > 1) {
    score.source = ThresholdSource::kCrossValidation;
    score.cross_validation = CrossValidate(scored, set.folds);
    score.accuracy = score.cross_validation->mean_accuracy;
    score.threshold = FitThreshold(scored).threshold;
    score.protocol = fmt::format(
        "{}-fold cross-validation: threshold fitted on {} folds, applied to the remaining one",
        set.folds, set.folds - 1);
  } else if (train_scored) {
    const FittedThreshold fitted = FitThreshold(*train_scored);
    score.source = ThresholdSource::kFittedOnTrain;
    score.threshold = fitted.threshold;
    score.train_accuracy = fitted.accuracy;
    score.accuracy = AccuracyAtThreshold(scored, fitted.threshold);
    score.protocol = "threshold fitted on " + train_file;
  } else {
    score.source = ThresholdSource::kDefault;
    score.threshold = DefaultThreshold(metric);
    score.accuracy = AccuracyAtThreshold(scored, score.threshold);
    score.protocol = "the default threshold, since no --train file was given";
  }
  score.counts = CountDecisions(scored, score.threshold);
  return score;
}

void PrintReport(const LfwArgs& args, const LfwPairSet& set, const LfwEmbeddingSet& embeddings,
                 std::size_t distinct_images, const SetScore& score, Metric metric,
                 const std::string& tta, double seconds) {
  std::cout << fmt::format("pairs file:  {} ({}, {} pairs: {} matched, {} mismatched)\n", args.pairs,
                           set.layout == LfwLayout::kView2 ? "View 2" : "View 1", set.pairs.size(),
                           set.pairs.size() / 2, set.pairs.size() / 2);
  std::cout << fmt::format("images:      {} distinct, each embedded once; {} used the fallback box "
                           "because the detector found no face\n",
                           distinct_images, embeddings.fallbacks);
  std::cout << fmt::format("settings:    metric {}, upsample {}, tta {}\n", MetricName(metric),
                           args.upsample, tta);
  if (score.cross_validation) {
    const CrossValidationScore& cv = *score.cross_validation;
    std::cout << fmt::format("accuracy:    {:.4f} +- {:.4f} (mean over folds +- standard error, "
                             "sample std {:.4f} / sqrt({}))\n",
                             cv.mean_accuracy, cv.standard_error, cv.std_deviation, cv.folds.size());
    for (const FoldScore& fold : cv.folds) {
      std::cout << fmt::format("  fold {:2}:   {:.4f} at threshold {:.4f}\n", fold.fold + 1,
                               fold.accuracy, fold.threshold);
    }
  } else {
    std::cout << fmt::format("accuracy:    {:.4f} ({} of {} pairs correct)\n", score.accuracy,
                             score.counts.true_accepts + score.counts.true_rejects, set.pairs.size());
  }
  std::cout << fmt::format("threshold:   {:.4f} ({})\n", score.threshold, score.protocol);
  if (score.train_accuracy) {
    std::cout << fmt::format("train:       {:.4f} accuracy at that threshold\n", *score.train_accuracy);
  }
  std::cout << fmt::format("decisions:   {} true accepts, {} false rejects, {} true rejects, "
                           "{} false accepts\n",
                           score.counts.true_accepts, score.counts.false_rejects,
                           score.counts.true_rejects, score.counts.false_accepts);
  std::cout << fmt::format("time:        {:.1f} s ({:.1f} images/s)\n", seconds,
                           distinct_images / std::max(seconds, 1e-9));
}

nlohmann::json ReportJson(const LfwArgs& args, const LfwPairSet& set, const LfwEmbeddingSet& embeddings,
                          std::size_t distinct_images, const SetScore& score, Metric metric,
                          const std::string& tta, const ModelInfo& model, double seconds) {
  nlohmann::json json = {
      {"format_version", kLfwReportFormatVersion},
      {"kind", "facespace-lfw-benchmark"},
      {"pairs_file", args.pairs},
      {"layout", set.layout == LfwLayout::kView2 ? "view2" : "view1"},
      {"pairs", set.pairs.size()},
      {"distinct_images", distinct_images},
      {"fallback_images", embeddings.fallbacks},
      {"model", model.model_id},
      {"metric", MetricName(metric)},
      {"upsample", args.upsample},
      {"tta", tta},
      {"accuracy", score.accuracy},
      {"threshold", score.threshold},
      {"threshold_source", ThresholdSourceName(score.source)},
      {"protocol", score.protocol},
      {"true_accepts", score.counts.true_accepts},
      {"false_rejects", score.counts.false_rejects},
      {"true_rejects", score.counts.true_rejects},
      {"false_accepts", score.counts.false_accepts},
      {"seconds", seconds}};
  if (!args.train.empty()) json["train_file"] = args.train;
  if (score.train_accuracy) json["train_accuracy"] = *score.train_accuracy;
  if (score.cross_validation) {
    const CrossValidationScore& cv = *score.cross_validation;
    json["standard_error"] = cv.standard_error;
    json["fold_std_deviation"] = cv.std_deviation;
    nlohmann::json folds = nlohmann::json::array();
    for (const FoldScore& fold : cv.folds) {
      folds.push_back({{"fold", fold.fold + 1}, {"accuracy", fold.accuracy}, {"threshold", fold.threshold}});
    }
    json["folds"] = std::move(folds);
  }
  return json;
}

void WriteJson(const std::string& path, const nlohmann::json& json) {
  std::ofstream out(path);
  out << json.dump(2) << "\n";
  out.close();
  if (!out) throw Error(ErrorCategory::kIo, path + ": cannot write the JSON report");
}

// Quotes a CSV field when it contains a separator, a quote or a line break.
std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

// Writes one CSV row per pair of `set` and, when given, of the training set:
// the pair, its distance, which images used the fallback box, and the
// decision at the threshold applied to it (for View 2, its fold's threshold).
void WriteScores(const std::string& path, const LfwPairSet& set, const std::vector<ScoredPair>& scored,
                 const SetScore& score, const std::optional<LfwPairSet>& train,
                 const std::optional<std::vector<ScoredPair>>& train_scored, const LfwEmbeddingSet& embeddings) {
  std::ofstream out(path);
  out << "set,file,line,fold,name1,number1,name2,number2,matched,distance,threshold,predicted_same,correct,"
         "fallback1,fallback2\n";
  const auto write_set = [&](const char* role, const LfwPairSet& pairs, const std::vector<ScoredPair>& scores) {
    for (std::size_t i = 0; i < pairs.pairs.size(); ++i) {
      const LfwPair& pair = pairs.pairs[i];
      double threshold = score.threshold;
      if (score.cross_validation && pairs.folds > 1) {
        threshold = score.cross_validation->folds[static_cast<std::size_t>(pair.fold)].threshold;
      }
      const bool predicted_same = scores[i].distance < threshold;
      out << fmt::format("{},{},{},{},{},{},{},{},{},{:.6f},{:.6f},{},{},{},{}\n", role, CsvField(pairs.source),
                         pair.line, pair.fold + 1, CsvField(pair.first.name), pair.first.number,
                         CsvField(pair.second.name), pair.second.number, pair.matched ? 1 : 0, scores[i].distance,
                         threshold, predicted_same ? 1 : 0, predicted_same == pair.matched ? 1 : 0,
                         embeddings.images.at(pair.first).fallback ? 1 : 0,
                         embeddings.images.at(pair.second).fallback ? 1 : 0);
    }
  };
  write_set("test", set, scored);
  if (train && train_scored) write_set("train", *train, *train_scored);
  out.close();
  if (!out) throw Error(ErrorCategory::kIo, path + ": cannot write the pair scores");
}

void RunLfw(const LfwArgs& args, CommandContext& context) {
  const auto start = std::chrono::steady_clock::now();
  const Metric metric = ParseMetric(args.metric);
  const LfwPairSet set = ReadLfwPairs(args.pairs);
  std::optional<LfwPairSet> train;
  if (!args.train.empty()) {
    if (set.folds > 1) {
      throw Error(ErrorCategory::kInvalidArgument,
                  "--train " + args.train + ": " + args.pairs +
                      " is a View 2 file, which is scored by cross-validation over its own folds");
    }
    train = ReadLfwPairs(args.train);
  }

  PipelineOptions options;
  options.detect.upsample = args.upsample;
  // LFW labels the person in the middle of each image; the largest face is sometimes another.
  options.detect.policy = MultiFacePolicy::kCentral;
  options.detect.fallback_box = true;
  options.tta = ParseTtaSpec(args.tta);
  options.threads = args.threads;
  const std::filesystem::path model =
      context.model_path.empty() ? DefaultModelPath() : std::filesystem::path(context.model_path);
  const std::filesystem::path landmarks = context.landmark_path.empty()
                                              ? DefaultLandmarkModelPath()
                                              : std::filesystem::path(context.landmark_path);
  const Pipeline pipeline(model, landmarks, options);

  std::vector<LfwPair> all_pairs = set.pairs;
  if (train) all_pairs.insert(all_pairs.end(), train->pairs.begin(), train->pairs.end());
  const std::vector<LfwImage> images = DistinctImages(all_pairs);
  ProgressBar progress("embed", "images", context.quiet);
  const LfwEmbeddingSet embeddings =
      EmbedLfwImages(pipeline, images, args.images, [&](std::size_t done, std::size_t total) {
        progress.Update(static_cast<std::int64_t>(done), static_cast<std::int64_t>(total));
      });
  progress.Finish(fmt::format("{} distinct images in {}", images.size(), FormatDuration(progress.Seconds())));

  const std::vector<ScoredPair> scored = ScorePairs(set.pairs, embeddings, metric);
  std::optional<std::vector<ScoredPair>> train_scored;
  if (train) train_scored = ScorePairs(train->pairs, embeddings, metric);
  const SetScore score = ScoreSet(set, scored, train_scored, args.train, metric);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const std::string tta = FormatTtaSpec(options.tta);
  PrintReport(args, set, embeddings, images.size(), score, metric, tta, seconds);
  if (!args.scores_out.empty()) WriteScores(args.scores_out, set, scored, score, train, train_scored, embeddings);
  if (!args.json_out.empty()) {
    WriteJson(args.json_out,
              ReportJson(args, set, embeddings, images.size(), score, metric, tta, pipeline.model_info(), seconds));
  }
}

}  // namespace

void AddBenchmarkCommands(CLI::App& app, CommandContext& context) {
  CLI::App* benchmark = app.add_subcommand("benchmark", "Measure accuracy on a standard benchmark");
  benchmark->require_subcommand(1);

  auto args = std::make_shared<LfwArgs>();
  CLI::App* lfw = benchmark->add_subcommand(
      "lfw",
      "Face verification accuracy on LFW pair files. A View 2 file (first line '10 300') is "
      "scored by 10-fold cross-validation (mean accuracy +- standard error). A View 1 file is "
      "scored at the threshold fitted on --train, or else at the default 0.6 (plain L2). "
      "Images where the detector finds no face use the central fallback box and are counted; "
      "no pair is dropped");
  lfw->add_option("--pairs", args->pairs, "Pair file to score (View 1 or View 2 layout)")
      ->required()
      ->check(CLI::ExistingFile);
  lfw->add_option("--images", args->images, "LFW image folder, containing NAME/NAME_NNNN.jpg")
      ->required()
      ->check(CLI::ExistingDirectory);
  lfw->add_option("--train", args->train,
                  "View 1 pair file to fit the threshold on, e.g. pairsDevTrain.txt")
      ->check(CLI::ExistingFile);
  lfw->add_option("--tta", args->tta, "Test-time augmentation: none, flip, jitter:N, flip,jitter:N")
      ->default_val("none");
  lfw->add_option("--metric", args->metric, "Distance: l2 (plain Euclidean) or cosine")->default_val("l2");
  lfw->add_option("--upsample", args->upsample, "Times the image is doubled before detection")
      ->default_val(1)
      ->check(CLI::Range(0, 3));
  lfw->add_option("--threads", args->threads, "Worker threads (0: all cores)")->default_val(0);
  lfw->add_option("--json", args->json_out, "Also write the report as JSON to this file");
  lfw->add_option("--scores", args->scores_out,
                  "Also write every pair's distance, decision and fallback flags as CSV to this file "
                  "(the --train pairs too, marked 'train')");
  lfw->callback([args, &context] { RunLfw(*args, context); });
}

}  // namespace facespace::cli
