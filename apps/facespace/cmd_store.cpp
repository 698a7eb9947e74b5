// facespace ingest, holdout, search and store info|check|remove|export.
#include <cstdio>
#include <iostream>
#include <map>
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
#include "facespace/ingest.h"
#include "facespace/pipeline.h"
#include "facespace/store.h"

namespace facespace::cli {
namespace {

namespace fs = std::filesystem;

// Options of the commands that embed images (ingest, search).
struct EmbedOptions {
  bool fallback_box = false;
  std::string face = "largest";
  int jobs = 0;
};

void AddEmbedOptions(CLI::App& command, EmbedOptions& options) {
  command.add_flag("--fallback-box", options.fallback_box,
                   "When no face is detected, embed a fixed central box and mark it as a fallback "
                   "(for datasets of pre-cropped faces such as LFW)");
  command.add_option("--face", options.face,
                     "Face kept when an image has several: largest, or central (the one nearest the image "
                     "centre, as LFW labels it)")
      ->default_val("largest")
      ->check(CLI::IsMember({"largest", "central"}));
  command.add_option("--jobs", options.jobs, "Worker threads for decoding and embedding (0: all cores)")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
}

std::unique_ptr<Pipeline> MakePipeline(const CommandContext& context, const EmbedOptions& options) {
  PipelineOptions pipeline;
  pipeline.detect.fallback_box = options.fallback_box;
  pipeline.detect.policy = options.face == "central" ? MultiFacePolicy::kCentral : MultiFacePolicy::kLargest;
  pipeline.threads = options.jobs;
  const fs::path model = context.model_path.empty() ? DefaultModelPath() : fs::path(context.model_path);
  const fs::path landmarks =
      context.landmark_path.empty() ? DefaultLandmarkModelPath() : fs::path(context.landmark_path);
  return std::make_unique<Pipeline>(model, landmarks, pipeline);
}

OpenOptions ReaderFor(const Pipeline& pipeline) {
  OpenOptions options;
  options.expect_model_id = pipeline.model_info().model_id;
  options.expect_dimension = kEmbeddingDim;
  return options;
}

std::string ScanSummary(const DatasetScan& scan) {
  return fmt::format(
      "{} images of {} identities; skipped {} hidden, {} non-image, {} loose in the root, {} empty folders, "
      "{} repeated directories (symlink loops), {} excluded, {} outside the people list",
      scan.files.size(), scan.identities, scan.hidden_skipped, scan.non_images, scan.loose_files, scan.empty_folders,
      scan.symlink_loops, scan.excluded, scan.not_in_people);
}

// ---------------------------------------------------------------------------
// ingest

struct IngestArgs {
  std::string dataset;
  std::string store;
  std::string people;
  std::string exclude;
  std::string index = "Flat";
  std::string metric = "l2";
  int batch = 64;
  EmbedOptions embed;
};

void RunIngest(const IngestArgs& args, CommandContext& context) {
  ScanOptions scan_options;
  if (!args.people.empty()) scan_options.people = ReadPeopleFile(args.people);
  if (!args.exclude.empty()) scan_options.exclude = ReadHoldoutFile(args.exclude);

  ProgressBar scan_progress("scan", "images", context.quiet);
  const DatasetScan scan = ScanDataset(args.dataset, scan_options);
  scan_progress.Finish(ScanSummary(scan));

  const std::unique_ptr<Pipeline> pipeline = MakePipeline(context, args.embed);
  StoreConfig config;
  config.model_id = pipeline->model_info().model_id;
  config.dimension = kEmbeddingDim;
  config.index.factory = args.index;
  config.index.metric = ParseMetric(args.metric);
  Store store = Store::OpenOrCreate(args.store, config);

  ProgressBar progress("ingest", "images", context.quiet);
  IngestOptions options;
  options.batch_size = args.batch;
  options.on_progress = [&progress](std::int64_t done, std::int64_t total) { progress.Update(done, total); };
  const IngestSummary summary = Ingest(scan, *pipeline, store, options);
  progress.Finish(fmt::format("{} images embedded, {} already stored, {:.1f} s ({:.1f} images/s)", summary.images,
                              summary.already_stored, summary.seconds,
                              summary.seconds > 0 ? summary.images / summary.seconds : 0.0));

  std::int64_t failures = 0;
  for (const auto& [reason, count] : summary.failures_by_reason) failures += count;
  const StoreInfo info = store.Info();
  std::cout << fmt::format("store {}: {} identities ({} with a single image), {} images, {} samples\n",
                           args.store, info.identities, info.single_image_identities, info.images,
                           info.real_samples + info.synthetic_samples);
  std::cout << fmt::format(
      "this run: {} images, {} faces, {} fallback boxes, {} already stored, {} failures, {} "
      "(store {:.2f} s, hashing {:.2f} s)\n",
      summary.images, summary.faces, summary.fallbacks, summary.already_stored, failures,
      FormatDuration(summary.seconds), summary.store_seconds, summary.hash_seconds);
  for (const auto& [reason, count] : summary.failures_by_reason) {
    std::cout << fmt::format("  failed {}x: {}\n", count, reason);
  }
}

// ---------------------------------------------------------------------------
// holdout

struct HoldoutArgs {
  std::string dataset;
  std::string out;
  std::string people;
  std::uint64_t seed = 1;
};

void RunHoldout(const HoldoutArgs& args) {
  ScanOptions options;
  if (!args.people.empty()) options.people = ReadPeopleFile(args.people);
  const DatasetScan scan = ScanDataset(args.dataset, options);
  const std::vector<std::string> chosen = ChooseHoldout(scan, args.seed);
  WriteHoldoutFile(args.out, chosen);
  std::cout << fmt::format("{}: held back {} images, one of each of the {} identities with at least two\n",
                           args.out, chosen.size(), chosen.size());
}

// ---------------------------------------------------------------------------
// search

struct SearchArgs {
  std::string store;
  std::vector<std::string> images;
  std::string holdout;
  std::string dataset;
  int k = 5;
  double threshold = kDefaultMatchThreshold;
  std::optional<double> range;
  bool json = false;
  EmbedOptions embed;
};

// Converts a plain-L2 threshold into the store's metric. Cosine stores take
// the threshold as a cosine distance unchanged.
double ThresholdInStoreUnits(double threshold, Metric metric) {
  return metric == Metric::kSquaredL2 ? threshold * threshold : threshold;
}

struct QueryOutcome {
  std::optional<std::string> decision;  // identity, or empty for unknown
  bool answered = false;                // a face was found and searched
};

QueryOutcome SearchOne(const Store& store, const ImageResult& result, const SearchArgs& args, double threshold,
                       nlohmann::json& json_out) {
  QueryOutcome outcome;
  json_out["image"] = result.source;
  if (result.error) {
    json_out["error"] = result.error->what();
    if (!args.json) std::cout << result.source << ": error: " << result.error->what() << "\n";
    return outcome;
  }
  if (result.faces.empty()) {
    json_out["error"] = "no face found";
    if (!args.json) std::cout << result.source << ": no face found\n";
    return outcome;
  }
  const EmbeddedFace& face = result.faces.front();
  const std::vector<Neighbor> neighbors =
      args.range ? store.RangeSearch(face.embedding, ThresholdInStoreUnits(*args.range, store.metric()))
                 : store.Search(face.embedding, args.k);
  outcome.answered = true;
  if (!neighbors.empty() && neighbors.front().distance <= threshold) outcome.decision = neighbors.front().identity;

  nlohmann::json list = nlohmann::json::array();
  for (std::size_t rank = 0; rank < neighbors.size(); ++rank) {
    const Neighbor& neighbor = neighbors[rank];
    list.push_back({{"rank", rank + 1},
                    {"sample_id", neighbor.sample_id},
                    {"identity", neighbor.identity},
                    {"kind", SampleKindName(neighbor.kind)},
                    {"distance", neighbor.distance}});
  }
  json_out["fallback"] = face.face.fallback;
  json_out["neighbors"] = std::move(list);
  json_out["decision"] = outcome.decision ? nlohmann::json(*outcome.decision) : nlohmann::json(nullptr);
  if (args.json) return outcome;

  const std::string unit(MetricName(store.metric()));
  std::cout << result.source << (face.face.fallback ? " (fallback box)" : "") << ":\n";
  if (neighbors.empty()) {
    std::cout << (args.range ? "  no sample within the range\n" : "  the store is empty: no neighbours\n");
  }
  for (std::size_t rank = 0; rank < neighbors.size(); ++rank) {
    const Neighbor& neighbor = neighbors[rank];
    std::cout << fmt::format("  {:>3}. sample {:>7}  {}  ({}, {} distance {:.4f})\n", rank + 1, neighbor.sample_id,
                             neighbor.identity, SampleKindName(neighbor.kind), unit, neighbor.distance);
  }
  if (!args.range && neighbors.size() < static_cast<std::size_t>(args.k) && !neighbors.empty()) {
    std::cout << fmt::format("  (the store holds only {} samples)\n", neighbors.size());
  }
  if (outcome.decision) {
    std::cout << fmt::format("  decision: {} ({} distance {:.4f} <= threshold {:.4f})\n", *outcome.decision, unit,
                             neighbors.front().distance, threshold);
  } else if (!neighbors.empty()) {
    std::cout << fmt::format("  decision: unknown (nearest {} distance {:.4f} > threshold {:.4f})\n", unit,
                             neighbors.front().distance, threshold);
  } else {
    std::cout << "  decision: unknown\n";
  }
  return outcome;
}

void RunSearch(const SearchArgs& args, CommandContext& context) {
  std::vector<fs::path> files(args.images.begin(), args.images.end());
  std::vector<std::string> truth;  // expected identity per file, for holdout lists
  if (!args.holdout.empty()) {
    if (args.dataset.empty()) {
      throw Error(ErrorCategory::kInvalidArgument, "--holdout: needs --dataset, the folder the list is relative to");
    }
    for (const std::string& relative : ReadHoldoutFile(args.holdout)) {
      files.push_back(fs::path(args.dataset) / relative);
      truth.push_back(relative.substr(0, relative.find('/')));
    }
  }
  if (files.empty()) throw Error(ErrorCategory::kInvalidArgument, "search: give IMAGE files or --holdout FILE");

  const std::unique_ptr<Pipeline> pipeline = MakePipeline(context, args.embed);
  const Store store = Store::Open(args.store, ReaderFor(*pipeline));
  const double threshold = ThresholdInStoreUnits(args.threshold, store.metric());

  nlohmann::json report = {{"store", args.store},
                           {"metric", MetricName(store.metric())},
                           {"k", args.k},
                           {"threshold", threshold},
                           {"samples", store.index().size()}};
  nlohmann::json queries = nlohmann::json::array();
  const std::size_t first_truth = files.size() - truth.size();
  std::int64_t answered = 0;
  std::int64_t rank1_correct = 0;
  std::int64_t decided_correct = 0;
  ProgressBar progress("search", "images", context.quiet || truth.empty());
  constexpr std::size_t kBatch = 64;
  for (std::size_t begin = 0; begin < files.size(); begin += kBatch) {
    const std::size_t end = std::min(files.size(), begin + kBatch);
    const std::vector<ImageResult> results =
        pipeline->ProcessFiles(std::span<const fs::path>(files).subspan(begin, end - begin));
    for (std::size_t i = 0; i < results.size(); ++i) {
      nlohmann::json query;
      const QueryOutcome outcome = SearchOne(store, results[i], args, threshold, query);
      const std::size_t index = begin + i;
      if (index >= first_truth) {
        const std::string& expected = truth[index - first_truth];
        query["expected"] = expected;
        const bool correct = outcome.answered && !query["neighbors"].empty() &&
                             query["neighbors"][0]["identity"].get<std::string>() == expected;
        query["rank1_correct"] = correct;
        answered += outcome.answered;
        rank1_correct += correct;
        decided_correct += outcome.decision && *outcome.decision == expected;
      }
      queries.push_back(std::move(query));
    }
    progress.Update(static_cast<std::int64_t>(end), static_cast<std::int64_t>(files.size()));
  }
  if (!truth.empty()) {
    const double total = static_cast<double>(truth.size());
    report["holdout"] = {{"queries", truth.size()},
                         {"answered", answered},
                         {"rank1_correct", rank1_correct},
                         {"rank1_rate", rank1_correct / total},
                         {"accepted_correct", decided_correct},
                         {"accepted_correct_rate", decided_correct / total}};
    const std::string line = fmt::format(
        "rank-1 identity rate: {}/{} = {:.4f} ({} queries had a face); correct and within threshold {:.2f}: "
        "{}/{} = {:.4f}",
        rank1_correct, truth.size(), rank1_correct / total, answered, args.threshold, decided_correct, truth.size(),
        decided_correct / total);
    std::cout << (args.json ? "" : line + "\n");
    progress.Finish(fmt::format("{} queries in {:.1f} s", truth.size(), progress.Seconds()));
  }
  if (args.json) {
    report["queries"] = std::move(queries);
    std::cout << report.dump(2) << "\n";
  }
}

// ---------------------------------------------------------------------------
// store info|check|remove|export

void PrintInfo(const Store& store, bool json) {
  const StoreInfo info = store.Info();
  if (json) {
    std::cout << nlohmann::json{{"directory", info.directory.string()},
                                {"model_id", info.config.model_id},
                                {"dimension", info.config.dimension},
                                {"metric", MetricName(info.config.index.metric)},
                                {"index", info.config.index.factory},
                                {"index_trained", store.index().trained()},
                                {"schema_version", info.schema_version},
                                {"index_format_version", info.index_format_version},
                                {"generation", info.generation},
                                {"identities", info.identities},
                                {"single_image_identities", info.single_image_identities},
                                {"images", info.images},
                                {"faces", info.faces},
                                {"fallback_faces", info.fallback_faces},
                                {"real_samples", info.real_samples},
                                {"synthetic_samples", info.synthetic_samples},
                                {"indexed_vectors", info.indexed_vectors},
                                {"failures", info.failures},
                                {"runs", info.runs}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << fmt::format(
      "store:        {}\nmodel:        {} ({} dimensions)\nmetric:       {} (distances shown in these units)\n"
      "index:        {}{} (index format {}, schema {}, generation {})\n"
      "identities:   {} ({} with a single image)\nimages:       {}\nfaces:        {} ({} fallback boxes)\n"
      "samples:      {} real, {} synthetic ({} indexed)\nfailures:     {}\nruns:         {}\n",
      info.directory.string(), info.config.model_id, info.config.dimension, MetricName(info.config.index.metric),
      info.config.index.factory, store.index().trained() ? "" : " (untrained: exact search until enough vectors)",
      info.index_format_version, info.schema_version, info.generation, info.identities, info.single_image_identities,
      info.images, info.faces, info.fallback_faces, info.real_samples, info.synthetic_samples, info.indexed_vectors,
      info.failures, info.runs);
}

void RunCheck(const std::string& directory, bool repair, CommandContext& context) {
  OpenOptions options;
  options.rebuild_stale_index = false;
  if (repair) {
    options.writable = true;
    options.repair_index = true;
  }
  std::optional<Store> store;
  try {
    store.emplace(Store::Open(directory, options));
  } catch (const Error& error) {
    if (error.category() != ErrorCategory::kCorrupt) throw;
    std::cout << "problem: " << error.what() << "\n";
    context.exit_code = static_cast<int>(ExitCode::kDataError);
    return;
  }
  if (repair) store->RebuildIndex();
  const CheckReport report = store->Check();
  for (const std::string& problem : report.problems) std::cout << "problem: " << problem << "\n";
  if (report.ok) {
    std::cout << fmt::format("{}: ok ({} samples, index matches the database{})\n", directory,
                             store->index().size(), repair ? ", index rebuilt" : "");
  } else {
    context.exit_code = static_cast<int>(ExitCode::kDataError);
  }
}

void AddStoreSubcommands(CLI::App& app, CommandContext& context) {
  CLI::App* store = app.add_subcommand("store", "Inspect, check, edit or export a store");
  store->require_subcommand(1);
  auto directory = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);

  CLI::App* info = store->add_subcommand("info", "Print counts and configuration");
  info->add_option("--store", *directory, "Store directory")->required();
  info->add_flag("--json", *json, "Print JSON");
  info->callback([directory, json] { PrintInfo(Store::Open(*directory), *json); });

  auto repair = std::make_shared<bool>(false);
  CLI::App* check = store->add_subcommand("check", "Check the database and compare the index with it");
  check->add_option("--store", *directory, "Store directory")->required();
  check->add_flag("--repair", *repair, "Rebuild the index from the embeddings kept in the database");
  check->callback([directory, repair, &context] { RunCheck(*directory, *repair, context); });

  auto identity = std::make_shared<std::string>();
  auto sample = std::make_shared<std::int64_t>(0);
  CLI::App* remove = store->add_subcommand("remove", "Remove an identity or a sample (with synthetic samples made from it)");
  remove->add_option("--store", *directory, "Store directory")->required();
  CLI::Option* by_identity = remove->add_option("--identity", *identity, "Identity name, exactly as stored");
  CLI::Option* by_sample = remove->add_option("--sample", *sample, "Sample id");
  by_identity->excludes(by_sample);
  remove->callback([directory, identity, sample, by_identity, by_sample] {
    if (by_identity->count() == 0 && by_sample->count() == 0) {
      throw Error(ErrorCategory::kInvalidArgument, "store remove: give --identity NAME or --sample ID");
    }
    OpenOptions options;
    options.writable = true;
    Store opened = Store::Open(*directory, options);
    const std::size_t removed =
        by_identity->count() > 0 ? opened.RemoveIdentity(*identity) : opened.RemoveSample(*sample);
    std::cout << fmt::format("removed {} samples\n", removed);
  });

  auto out = std::make_shared<std::string>();
  auto kind = std::make_shared<std::string>();
  CLI::App* exporter = store->add_subcommand("export", "Write embeddings.npy, metadata.csv and TensorBoard projector TSVs");
  exporter->add_option("--store", *directory, "Store directory")->required();
  exporter->add_option("--out", *out, "Output directory")->required();
  exporter->add_option("--kind", *kind, "Export only real or only synthetic samples")->check(CLI::IsMember({"real", "synthetic"}));
  exporter->callback([directory, out, kind] {
    SampleFilter filter;
    if (!kind->empty()) filter.kind = ParseSampleKind(*kind);
    const ExportSummary summary = ExportStore(Store::Open(*directory), *out, filter);
    std::cout << fmt::format("exported {} rows to", summary.rows);
    for (const fs::path& file : summary.files) std::cout << " " << file.string();
    std::cout << "\n";
  });
}

}  // namespace

void AddStoreCommands(CLI::App& app, CommandContext& context) {
  auto ingest = std::make_shared<IngestArgs>();
  CLI::App* ingest_command = app.add_subcommand(
      "ingest", "Embed a dataset (one folder per identity) into a store; re-running resumes");
  ingest_command->add_option("DATASET", ingest->dataset, "Dataset folder: DATASET/NAME/image files")->required();
  ingest_command->add_option("--store", ingest->store, "Store directory (created when missing)")->required();
  ingest_command->add_option("--people", ingest->people, "LFW people file: ingest only the names it lists");
  ingest_command->add_option("--exclude", ingest->exclude, "Holdout list (from `facespace holdout`) of images to leave out");
  ingest_command->add_option("--index", ingest->index,
                             "FAISS factory string of a new store's index: Flat (exact), HNSW32, IVF<n>,Flat")
      ->default_val("Flat");
  ingest_command->add_option("--metric", ingest->metric, "Metric of a new store: l2, squared-l2 or cosine")
      ->default_val("l2");
  ingest_command->add_option("--batch", ingest->batch, "Images per committed batch")->default_val(64)->check(CLI::PositiveNumber);
  AddEmbedOptions(*ingest_command, ingest->embed);
  ingest_command->callback([ingest, &context] { RunIngest(*ingest, context); });

  auto holdout = std::make_shared<HoldoutArgs>();
  CLI::App* holdout_command = app.add_subcommand(
      "holdout", "Write a holdout list: one image of every identity with at least two, chosen with a seed");
  holdout_command->add_option("DATASET", holdout->dataset, "Dataset folder")->required();
  holdout_command->add_option("--out", holdout->out, "Holdout list to write")->required();
  holdout_command->add_option("--people", holdout->people, "LFW people file: consider only the names it lists");
  holdout_command->add_option("--seed", holdout->seed, "Seed of the choice")->default_val(1);
  holdout_command->callback([holdout] { RunHoldout(*holdout); });

  auto search = std::make_shared<SearchArgs>();
  CLI::App* search_command = app.add_subcommand("search", "Find the nearest stored faces to the face in each image");
  search_command->add_option("IMAGE", search->images, "Query images");
  search_command->add_option("--store", search->store, "Store directory")->required();
  search_command->add_option("-k", search->k, "Neighbours per query")->default_val(5)->check(CLI::PositiveNumber);
  search_command->add_option("--threshold", search->threshold,
                             "Match threshold in plain L2 units (cosine distance for a cosine store); "
                             "the nearest neighbour within it decides the identity")
      ->default_val(kDefaultMatchThreshold)
      ->check(CLI::NonNegativeNumber);
  search_command->add_option("--range", search->range,
                             "Return every sample within this distance (same units as --threshold) instead of k")
      ->check(CLI::NonNegativeNumber);
  search_command->add_option("--holdout", search->holdout,
                             "Holdout list: search its images and report the rank-1 identity rate");
  search_command->add_option("--dataset", search->dataset, "Folder the holdout list's paths are relative to");
  search_command->add_flag("--json", search->json, "Print one JSON document");
  AddEmbedOptions(*search_command, search->embed);
  search_command->callback([search, &context] { RunSearch(*search, context); });

  AddStoreSubcommands(app, context);
}

}  // namespace facespace::cli
