// facespace analyze: the geometry and biometric figures of a store's
// embedding space. facespace compare: the before/after experiment.
#include <fstream>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "facespace/analysis.h"
#include "facespace/compare.h"
#include "facespace/embedding.h"
#include "facespace/error.h"
#include "facespace/face.h"
#include "facespace/pipeline.h"
#include "facespace/store.h"

namespace facespace::cli {
namespace {

struct AnalyzeArgs {
  std::string store;
  std::string subset = "real";
  std::string metric = "l2";
  std::string json_out;
  std::string csv_dir;
  std::uint64_t seed = 1;
  int bootstrap = 1000;
  int knn = 10;
  std::uint64_t max_exact_pairs = AnalysisOptions{}.max_exact_impostor_pairs;
  std::uint64_t sample_pairs = AnalysisOptions{}.impostor_sample_size;
};

void WriteJsonFile(const std::string& path, const nlohmann::json& document) {
  std::ofstream out(path);
  if (!out) throw Error(ErrorCategory::kIo, path + ": cannot open for writing");
  out << document.dump(2) << "\n";
  out.flush();
  if (!out) throw Error(ErrorCategory::kIo, path + ": write failed");
}

void RunAnalyze(const AnalyzeArgs& args) {
  OpenOptions open;
  open.verify_database = false;
  const Store store = Store::Open(args.store, open);
  const SampleSubset subset = ParseSampleSubset(args.subset);
  const LabeledEmbeddings data = LoadStoreEmbeddings(store, subset);

  AnalysisOptions options;
  options.metric = ParseMetric(args.metric);
  options.seed = args.seed;
  options.bootstrap_replicates = args.bootstrap;
  options.knn_k = args.knn;
  options.max_exact_impostor_pairs = args.max_exact_pairs;
  options.impostor_sample_size = args.sample_pairs;
  const AnalysisResult result = AnalyzeEmbeddings(data, options);

  const StoreInfo info = store.Info();
  std::cout << fmt::format("store {} (model {}, generation {}), subset {}\n", args.store,
                           info.config.model_id, info.generation, args.subset);
  std::cout << FormatAnalysisTable(result);

  if (!args.json_out.empty()) {
    nlohmann::json document = ToJson(result);
    document["input"] = {{"store", std::filesystem::absolute(args.store).string()},
                         {"model_id", info.config.model_id},
                         {"store_generation", info.generation},
                         {"subset", args.subset}};
    WriteJsonFile(args.json_out, document);
  }
  if (!args.csv_dir.empty()) WriteAnalysisCsv(result, args.csv_dir);
}

void AddAnalyze(CLI::App& app) {
  auto args = std::make_shared<AnalyzeArgs>();
  CLI::App* command = app.add_subcommand(
      "analyze", "Genuine/impostor distances, verification, identification and cluster figures of a store");
  command->add_option("--store", args->store, "Store directory")->required();
  command->add_option("--subset", args->subset, "Samples to analyse: real, synthetic or all")
      ->capture_default_str();
  command->add_option("--metric", args->metric, "Distance: l2 (plain Euclidean) or cosine (1 - cos)")
      ->capture_default_str();
  command->add_option("--json", args->json_out, "Write every figure, curve and per-identity row as JSON to this file");
  command->add_option("--csv-dir", args->csv_dir,
                      "Write identities.csv, curve.csv, cmc.csv and histogram.csv into this folder");
  command->add_option("--seed", args->seed, "Seed of the bootstrap and of impostor pair sampling")
      ->capture_default_str();
  command->add_option("--bootstrap", args->bootstrap, "Bootstrap replicates over identities (0: no intervals)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--knn", args->knn, "Neighbours k for label purity and hubness")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--max-exact-pairs", args->max_exact_pairs,
                      "Impostor pairs kept exactly; above this a uniform seeded sample is used")
      ->capture_default_str();
  command->add_option("--sample-pairs", args->sample_pairs, "Size of that impostor sample")
      ->capture_default_str();
  command->callback([args] { RunAnalyze(*args); });
}

struct CompareArgs {
  std::string store;
  std::string dataset;
  std::string recipe;
  int per_image = 5;
  std::uint64_t seed = 1;
  double probe_fraction = CompareOptions{}.probe_fraction;
  int bootstrap = CompareOptions{}.bootstrap_replicates;
  bool fallback_box = false;
  int jobs = 0;
  std::string json_out;
};

void RunCompare(const CompareArgs& args, const CommandContext& context) {
  const std::filesystem::path model =
      context.model_path.empty() ? DefaultModelPath() : std::filesystem::path(context.model_path);
  const std::filesystem::path landmarks = context.landmark_path.empty()
                                              ? DefaultLandmarkModelPath()
                                              : std::filesystem::path(context.landmark_path);
  OpenOptions open;
  open.expect_model_id = ReadModelInfo(model).model_id;
  open.expect_dimension = kEmbeddingDim;
  const Store store = Store::Open(args.store, open);

  PipelineOptions pipeline_options;
  pipeline_options.threads = args.jobs;
  pipeline_options.detect.fallback_box = args.fallback_box;
  const Pipeline pipeline(model, landmarks, pipeline_options);

  CompareOptions options;
  options.recipe = args.recipe;
  options.per_image = args.per_image;
  options.seed = args.seed;
  options.probe_fraction = args.probe_fraction;
  options.bootstrap_replicates = args.bootstrap;
  options.dataset_root = args.dataset;
  options.jobs = args.jobs;
  const CompareResult result = CompareBeforeAfter(store, pipeline, options);

  std::cout << FormatCompareTable(result);
  if (!args.json_out.empty()) {
    nlohmann::json document = ToJson(result);
    document["input"] = {{"store", std::filesystem::absolute(args.store).string()},
                         {"dataset", std::filesystem::absolute(args.dataset).string()},
                         {"model_id", store.Info().config.model_id}};
    WriteJsonFile(args.json_out, document);
  }
}

void AddCompare(CLI::App& app, CommandContext& context) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* command = app.add_subcommand(
      "compare",
      "Before/after experiment: split real images into gallery and probes, add synthetic samples "
      "made from the gallery only, and compare every figure with paired bootstrap intervals");
  command->add_option("--store", args->store, "Store directory (read only; nothing is added to it)")->required();
  command->add_option("--dataset", args->dataset, "Folder the store's image paths are relative to")->required();
  command->add_option("--recipe", args->recipe, "Synthesis recipe or preset name (see facespace recipe)")
      ->required();
  command->add_option("--per-image", args->per_image, "Synthetic samples per gallery image")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--seed", args->seed, "Seed of the split, the synthesis and the bootstrap")
      ->capture_default_str();
  command->add_option("--probe-fraction", args->probe_fraction,
                      "Share of each identity's real images held out as probes, in (0, 1)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  command->add_option("--bootstrap", args->bootstrap, "Paired bootstrap replicates over identities")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_flag("--fallback-box", args->fallback_box,
                    "Use the central box when a transformed image has no detected face");
  command->add_option("--jobs", args->jobs, "Worker threads (0: all cores)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--json", args->json_out, "Write every comparison, curve and count as JSON to this file");
  command->callback([args, &context] { RunCompare(*args, context); });
}

}  // namespace

void AddAnalysisCommands(CLI::App& app, CommandContext& context) {
  AddAnalyze(app);
  AddCompare(app, context);
}

}  // namespace facespace::cli
