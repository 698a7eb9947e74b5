// Augmenting a store: choose real samples, skip what earlier runs made,
// synthesise, store with provenance, and account for lost faces.
#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "facespace/error.h"
#include "facespace/log.h"
#include "facespace/pipeline.h"
#include "facespace/store.h"
#include "facespace/synth.h"
#include "synth/contact_sheet.h"

namespace facespace {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kFailureStage = "synth";
// Separates a loss's readable reason from its parameters JSON in the failure row.
constexpr std::string_view kParamsMarker = "; params ";

// The identity of a synthetic sample across runs: the same key is never
// generated twice in one store.
std::string SampleKey(SampleId source, std::string_view recipe, std::uint64_t seed,
                      ApplyTarget target, int variant) {
  return fmt::format("sample {}, variant {}, seed {}, on {}, recipe \"{}\"", source, variant, seed,
                     ApplyTargetName(target), recipe);
}

// Folder ingest read the dataset from, when its run recorded one.
std::filesystem::path RecordedDatasetRoot(const Store& store) {
  const std::vector<Run> runs = store.ListRuns();
  for (auto run = runs.rbegin(); run != runs.rend(); ++run) {
    if (run->command != "ingest") continue;
    const nlohmann::json params = nlohmann::json::parse(run->params_json, nullptr, false);
    if (params.is_object() && params.contains("dataset") && params["dataset"].is_string()) {
      return params["dataset"].get<std::string>();
    }
  }
  return {};
}

std::vector<cv::Point2f> LandmarkPoints(const std::vector<float>& coordinates) {
  std::vector<cv::Point2f> points;
  for (std::size_t i = 0; i + 1 < coordinates.size(); i += 2) {
    points.emplace_back(coordinates[i], coordinates[i + 1]);
  }
  return points;
}

struct SourceInfo {
  SynthesisSource source;
  IdentityId identity_id = 0;
  std::string relative_path;
};

// Collects the real samples to augment, in sample id order.
std::vector<SourceInfo> CollectSources(const Store& store, const AugmentOptions& options,
                                       const std::filesystem::path& root) {
  std::optional<std::set<std::string>> selected;
  if (!options.identities.empty()) {
    selected.emplace(options.identities.begin(), options.identities.end());
    for (const std::string& name : *selected) {
      if (!store.FindIdentity(name)) {
        throw Error(ErrorCategory::kNotFound,
                    fmt::format("identity \"{}\": not in store {}", name, store.directory().string()));
      }
    }
  }

  SampleFilter filter;
  filter.kind = SampleKind::kReal;
  filter.with_embeddings = false;
  std::unordered_map<ImageId, std::vector<FaceRecord>> faces_by_image;
  std::vector<SourceInfo> sources;
  for (const Sample& sample : store.ListSamples(filter)) {
    if (selected && !selected->count(sample.identity)) continue;
    if (!sample.face_id || !sample.image_id) continue;
    auto found = faces_by_image.find(*sample.image_id);
    if (found == faces_by_image.end()) {
      found = faces_by_image.emplace(*sample.image_id, store.FacesOfImage(*sample.image_id)).first;
    }
    const auto face = std::find_if(found->second.begin(), found->second.end(),
                                   [&](const FaceRecord& record) { return record.id == *sample.face_id; });
    if (face == found->second.end()) continue;

    SourceInfo info;
    info.identity_id = sample.identity_id;
    info.relative_path = sample.image_path;
    info.source.sample_id = sample.id;
    info.source.identity = sample.identity;
    info.source.image_path = root / sample.image_path;
    info.source.box = face->box;
    info.source.landmarks = LandmarkPoints(face->landmarks);
    info.source.fallback = face->fallback;
    sources.push_back(std::move(info));
  }
  return sources;
}

// Keys of the samples earlier runs stored or recorded as lost.
std::unordered_set<std::string> DoneKeys(const Store& store) {
  std::unordered_set<std::string> keys;
  SampleFilter filter;
  filter.kind = SampleKind::kSynthetic;
  filter.with_embeddings = false;
  for (const Sample& sample : store.ListSamples(filter)) {
    if (!sample.synthetic) continue;
    const nlohmann::json params = nlohmann::json::parse(sample.synthetic->params_json, nullptr, false);
    if (!params.is_object() || !params.contains("variant") || !params.contains("target")) continue;
    keys.insert(SampleKey(sample.synthetic->source_sample, sample.synthetic->recipe,
                          sample.synthetic->seed,
                          ParseApplyTarget(params["target"].get<std::string>()),
                          params["variant"].get<int>()));
  }
  for (const Failure& failure : store.ListFailures()) {
    if (failure.stage != kFailureStage) continue;
    const std::size_t end = failure.reason.find(": face lost");
    if (end != std::string::npos) keys.insert(failure.reason.substr(0, end));
  }
  return keys;
}

// The parameters JSON stored with a sample: the drawn values plus what
// identifies the sample within its run.
std::string ParamsJson(const SyntheticSample& sample, const AugmentOptions& options) {
  nlohmann::ordered_json params = nlohmann::ordered_json::parse(SampledRecipeJson(sample.sampled));
  params["run_seed"] = options.synthesis.seed;
  params["variant"] = sample.variant;
  params["target"] = std::string(ApplyTargetName(options.synthesis.target));
  params["source_key"] = sample.source_key;
  return params.dump();
}

// Lists the applied steps with their values, e.g. "rotate(deg=12.3) hflip".
std::string AppliedSteps(const SampledRecipe& sampled) {
  std::vector<std::string> steps;
  for (const SampledStep& step : sampled.steps) {
    if (!step.applied) continue;
    const TransformSpec* spec = FindTransform(step.transform);
    std::vector<std::string> values;
    for (std::size_t i = 0; spec && i < spec->parameters.size(); ++i) {
      values.push_back(fmt::format("{}={:.3g}", spec->parameters[i].name, step.values[i]));
    }
    steps.push_back(values.empty() ? step.transform
                                   : fmt::format("{}({})", step.transform, fmt::join(values, ",")));
  }
  return steps.empty() ? "none" : fmt::format("{}", fmt::join(steps, " "));
}

void SaveImages(const AugmentOptions& options, const std::vector<SourceInfo>& infos,
                std::size_t offset, const std::vector<SyntheticSample>& samples,
                synth::ContactSheets& sheets) {
  for (const SyntheticSample& sample : samples) {
    const SourceInfo& info = infos[offset + sample.source_index];
    sheets.AddVariant(info.source, options.synthesis.target, sample);
    const std::filesystem::path file =
        synth::SampleImagePath(options.save_images, info.source, sample);
    synth::WritePng(file, sample.image);
  }
}

}  // namespace

void FailureTable::Add(const SampledRecipe& sampled, bool lost_face) {
  ++samples;
  if (lost_face) ++lost;
  for (const SampledStep& step : sampled.steps) {
    if (!step.applied) continue;
    FailureCount& count = by_transform[step.transform][StrengthBucket(step.strength)];
    ++count.applied;
    if (lost_face) ++count.lost;
  }
}

namespace {

std::string BucketName(int bucket) {
  const double low = static_cast<double>(bucket) / kStrengthBuckets;
  const double high = static_cast<double>(bucket + 1) / kStrengthBuckets;
  return fmt::format("{:g}-{:g}{}", low, high, bucket + 1 == kStrengthBuckets ? "+" : "");
}

}  // namespace

std::string FailureTable::ToJson() const {
  nlohmann::ordered_json transforms = nlohmann::ordered_json::object();
  for (const auto& [name, buckets] : by_transform) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (int bucket = 0; bucket < kStrengthBuckets; ++bucket) {
      rows.push_back({{"bucket", BucketName(bucket)},
                      {"applied", buckets[bucket].applied},
                      {"lost", buckets[bucket].lost}});
    }
    transforms[name] = rows;
  }
  const nlohmann::ordered_json json = {{"samples", samples}, {"lost", lost}, {"transforms", transforms}};
  return json.dump();
}

std::string FailureTable::ToText() const {
  std::string text = fmt::format("{:<14} {:<10} {:>8} {:>8} {:>7}\n", "transformation",
                                 "strength", "applied", "lost", "lost %");
  for (const auto& [name, buckets] : by_transform) {
    for (int bucket = 0; bucket < kStrengthBuckets; ++bucket) {
      const FailureCount& count = buckets[bucket];
      if (count.applied == 0) continue;
      text += fmt::format("{:<14} {:<10} {:>8} {:>8} {:>6.1f}%\n", name, BucketName(bucket),
                          count.applied, count.lost, 100.0 * count.lost / count.applied);
    }
  }
  text += fmt::format("{} samples, {} lost ({:.1f}%)\n", samples, lost,
                      samples ? 100.0 * lost / samples : 0.0);
  return text;
}

AugmentSummary Augment(Store& store, const Pipeline& pipeline, const AugmentOptions& options) {
  const Clock::time_point start = Clock::now();
  AugmentSummary summary;
  summary.recipe = FormatRecipe(options.synthesis.recipe);

  std::filesystem::path root = options.dataset_root;
  if (root.empty()) root = RecordedDatasetRoot(store);
  if (root.empty()) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("store {}: the dataset folder is not recorded; pass the folder ingest "
                            "read with --dataset DIR",
                            store.directory().string()));
  }

  const std::vector<SourceInfo> infos = CollectSources(store, options, root);
  summary.sources = static_cast<std::int64_t>(infos.size());
  const std::unordered_set<std::string> done = DoneKeys(store);

  nlohmann::ordered_json run_params = {
      {"recipe", summary.recipe},
      {"seed", options.synthesis.seed},
      {"per_image", options.synthesis.per_image},
      {"target", std::string(ApplyTargetName(options.synthesis.target))},
      {"identities", options.identities},
      {"dataset", root.string()},
      {"model_id", pipeline.model_info().model_id}};
  summary.run = store.BeginRun("augment", run_params.dump());
  store.Commit();

  SynthesisOptions synthesis = options.synthesis;
  synthesis.keep_images = synthesis.keep_images || !options.save_images.empty();
  synth::ContactSheets sheets(options.save_images);

  const std::size_t batch = static_cast<std::size_t>(std::max(1, options.batch_size));
  std::int64_t sources_done = 0;
  for (std::size_t begin = 0; begin < infos.size(); begin += batch) {
    const std::size_t end = std::min(infos.size(), begin + batch);
    std::vector<SynthesisSource> sources;
    for (std::size_t i = begin; i < end; ++i) sources.push_back(infos[i].source);

    auto skip = [&](std::size_t index, int variant) {
      const std::string key = SampleKey(sources[index].sample_id, summary.recipe,
                                        options.synthesis.seed, options.synthesis.target, variant);
      return done.count(key) > 0;
    };
    auto on_done = [&](std::size_t) {
      ++sources_done;
      if (options.on_progress) options.on_progress(sources_done, summary.sources);
    };
    SynthesisTimings timings;
    const std::vector<SyntheticSample> samples =
        Synthesize(pipeline, sources, synthesis, skip, on_done, &timings);
    summary.timings.read_seconds += timings.read_seconds;
    summary.timings.transform_seconds += timings.transform_seconds;
    summary.timings.detect_seconds += timings.detect_seconds;
    summary.timings.embed_seconds += timings.embed_seconds;

    for (const SyntheticSample& sample : samples) {
      const SourceInfo& info = infos[begin + sample.source_index];
      const std::string key = SampleKey(info.source.sample_id, summary.recipe,
                                        options.synthesis.seed, options.synthesis.target,
                                        sample.variant);
      summary.failures.Add(sample.sampled, !sample.face_found);
      if (sample.face_found) {
        SyntheticProvenance provenance;
        provenance.source_sample = info.source.sample_id;
        provenance.recipe = summary.recipe;
        provenance.params_json = ParamsJson(sample, options);
        provenance.seed = options.synthesis.seed;
        store.AddSyntheticSample(info.identity_id, provenance, sample.embedding, summary.run);
        ++summary.generated;
      } else {
        store.AddFailure(summary.run, info.relative_path, kFailureStage,
                         fmt::format("{}: face lost: {}; applied {}{}{}", key, sample.lost_reason,
                                     AppliedSteps(sample.sampled), kParamsMarker,
                                     ParamsJson(sample, options)));
        ++summary.lost;
      }
    }
    store.Commit();
    if (!options.save_images.empty()) SaveImages(options, infos, begin, samples, sheets);
  }

  summary.already_stored =
      summary.sources * options.synthesis.per_image - summary.generated - summary.lost;
  sheets.Flush();
  store.FinishRun(summary.run, "ok");
  store.Commit();
  summary.timings.wall_seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  Logger().info("augment run {}: {} added, {} lost, {} already stored", summary.run,
                summary.generated, summary.lost, summary.already_stored);
  return summary;
}

FailureTable StoredFailureTable(const Store& store, std::optional<std::int64_t> run) {
  FailureTable table;
  SampleFilter filter;
  filter.kind = SampleKind::kSynthetic;
  filter.with_embeddings = false;
  if (run) filter.run_id = *run;
  for (const Sample& sample : store.ListSamples(filter)) {
    if (!sample.synthetic) continue;
    table.Add(ParseSampledRecipeJson(sample.synthetic->params_json), false);
  }
  for (const Failure& failure : store.ListFailures(run)) {
    if (failure.stage != kFailureStage) continue;
    const std::size_t marker = failure.reason.rfind(kParamsMarker);
    if (marker == std::string::npos) continue;
    table.Add(ParseSampledRecipeJson(failure.reason.substr(marker + kParamsMarker.size())), true);
  }
  return table;
}

}  // namespace facespace
