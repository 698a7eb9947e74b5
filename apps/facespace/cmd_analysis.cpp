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
#include "facespace/error.h"
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

}  // namespace

void AddAnalysisCommands(CLI::App& app, CommandContext& context) { AddAnalyze(app); }

}  // namespace facespace::cli
