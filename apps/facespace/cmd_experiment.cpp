// facespace experiment: the whole study in one command.
//
//   input -> ingest -> synthetic samples -> analysis of the real, synthetic and
//   combined spaces -> report (HTML, figures as SVG and PNG, numbers as JSON and CSV)
//
// Unlabelled photos (--photos, and the default input) are first cut into one
// picture per face, grouped into identities by Chinese whispers clustering, and
// then go through the same path as a dataset folder.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <dlib/revision.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <opencv2/core/version.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "commands.h"
#include "experiment_pictures.h"
#include "progress.h"
#include "facespace/analysis.h"
#include "facespace/compare.h"
#include "facespace/embedding.h"
#include "facespace/error.h"
#include "facespace/experiment.h"
#include "facespace/image.h"
#include "facespace/ingest.h"
#include "facespace/log.h"
#include "facespace/pipeline.h"
#include "facespace/report.h"
#include "facespace/store.h"
#include "facespace/synth.h"

namespace facespace::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// The photo Debian's libdlib19.1 package installs: 24 faces of 4 people.
constexpr const char* kDefaultPhoto = "/usr/share/doc/libdlib19.1/examples/faces/bald_guys.jpg";

struct ExperimentArgs {
  std::string dataset;
  std::vector<std::string> photos;
  std::string out;
  std::string recipe = "mixed";
  int per_image = 2;
  std::uint64_t seed = 1;
  std::string store;              // empty: OUT/store
  std::string on = "image";
  bool fallback_box = false;
  std::string face = "largest";   // face kept when an image has several: largest or central
  int min_images = 1;             // identities with fewer images in the dataset are left out
  int jobs = 0;
  int bootstrap = 200;
  int projection_points = 3000;
  std::string projection = "pca";
  int contact_sheets = 4;
};

// One line per stage on stderr: "[2/6] ingest: ..." when it ends, and a redrawn
// bar while it runs when stderr is a terminal. Also records each stage's time.
class StageProgress {
 public:
  StageProgress(int stages, bool quiet) : stages_(stages), quiet_(quiet), terminal_(ProgressOnTerminal(quiet)) {}

  void Begin(const std::string& name) {
    ++index_;
    name_ = name;
    start_ = Clock::now();
    if (terminal_) std::cerr << fmt::format("[{}/{}] {} ...", index_, stages_, name_) << std::flush;
  }

  void Update(std::int64_t done, std::int64_t total, std::string_view unit) {
    if (!terminal_ || total <= 0) return;
    std::cerr << fmt::format("\r[{}/{}] {} {} {}/{} {}   ", index_, stages_, name_, FormatBar(done, total, 28), done,
                             total, unit)
              << std::flush;
  }

  void End(const std::string& summary) {
    const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    timings_.push_back({{"stage", name_}, {"seconds", seconds}});
    if (quiet_) return;
    if (terminal_) std::cerr << "\r\033[K";
    std::cerr << fmt::format("[{}/{}] {}: {} ({:.1f} s)\n", index_, stages_, name_, summary, seconds);
  }

  const json& timings() const { return timings_; }

 private:
  int stages_;
  bool quiet_;
  bool terminal_;
  int index_ = 0;
  std::string name_;
  Clock::time_point start_;
  json timings_ = json::array();
};

// ---------------------------------------------------------------------------
// Arguments

// Checks everything that can be checked before a model is loaded.
void ValidateArguments(ExperimentArgs& args) {
  if (!args.dataset.empty() && !args.photos.empty()) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("{}: give either a DATASET folder or --photos, not both", args.dataset));
  }
  if (args.dataset.empty() && args.photos.empty()) args.photos.push_back(kDefaultPhoto);
  if (!args.dataset.empty() && !fs::is_directory(args.dataset)) {
    throw Error(ErrorCategory::kNotFound,
                fmt::format("{}: dataset folder not found (expected one sub-folder per identity)", args.dataset));
  }
  for (const std::string& photo : args.photos) {
    if (!fs::is_regular_file(photo)) throw Error(ErrorCategory::kNotFound, fmt::format("{}: photo not found", photo));
  }
  ParseRecipe(args.recipe);
  ParseApplyTarget(args.on);
  if (args.store.empty()) args.store = (fs::path(args.out) / "store").string();
}

std::unique_ptr<Pipeline> MakePipeline(const CommandContext& context, const ExperimentArgs& args,
                                       MultiFacePolicy policy) {
  PipelineOptions options;
  options.detect.policy = policy;
  options.detect.fallback_box = args.fallback_box;
  options.threads = args.jobs;
  const fs::path model = context.model_path.empty() ? DefaultModelPath() : fs::path(context.model_path);
  const fs::path landmarks =
      context.landmark_path.empty() ? DefaultLandmarkModelPath() : fs::path(context.landmark_path);
  return std::make_unique<Pipeline>(model, landmarks, options);
}

// ---------------------------------------------------------------------------
// Unlabelled photos -> a dataset folder of face pictures grouped by cluster

struct PhotoGrouping {
  fs::path dataset;
  int faces = 0;
  int clusters = 0;
  int photos_without_faces = 0;
};

std::string ClusterName(int label) { return fmt::format("cluster {:02}", label + 1); }

// Returns the face box grown by half its size on every side, inside the picture,
// so the face can be found again in the cut-out.
cv::Rect Surroundings(const FaceBox& box, const cv::Mat& picture) {
  const int width = box.right - box.left + 1;
  const int height = box.bottom - box.top + 1;
  const cv::Rect grown(box.left - width / 2, box.top - height / 2, 2 * width, 2 * height);
  return grown & cv::Rect(0, 0, picture.cols, picture.rows);
}

PhotoGrouping GroupPhotoFaces(const std::vector<std::string>& photos, const Pipeline& pipeline,
                              const fs::path& dataset, std::uint64_t seed) {
  std::vector<fs::path> files(photos.begin(), photos.end());
  const std::vector<ImageResult> results = pipeline.ProcessFiles(files);

  std::vector<float> vectors;
  for (const ImageResult& result : results) {
    if (result.error) throw *result.error;
    for (const EmbeddedFace& face : result.faces) {
      vectors.insert(vectors.end(), face.embedding.begin(), face.embedding.end());
    }
  }
  PhotoGrouping grouping;
  grouping.dataset = dataset;
  grouping.faces = static_cast<int>(vectors.size() / kEmbeddingDim);
  if (grouping.faces < 4) {
    throw Error(ErrorCategory::kNoFace,
                fmt::format("{}: {} faces found in {} photo(s); at least 4 are needed to compare identities",
                            photos.front(), grouping.faces, photos.size()));
  }
  const std::vector<int> labels = ClusterByChineseWhispers(vectors, kEmbeddingDim, kDefaultMatchThreshold, seed);
  grouping.clusters = *std::max_element(labels.begin(), labels.end()) + 1;

  // The folder is rebuilt from scratch so it holds exactly this run's faces.
  std::error_code ignored;
  fs::remove_all(dataset, ignored);
  std::size_t next = 0;
  for (std::size_t photo = 0; photo < results.size(); ++photo) {
    if (results[photo].faces.empty()) {
      ++grouping.photos_without_faces;
      continue;
    }
    const cv::Mat rgb = ReadImageFile(files[photo]).rgb;
    for (std::size_t face = 0; face < results[photo].faces.size(); ++face, ++next) {
      const fs::path folder = dataset / ClusterName(labels[next]);
      fs::create_directories(folder);
      const fs::path file = folder / fmt::format("{}_face{:02}.png", files[photo].stem().string(), face + 1);
      cv::Mat bgr;
      cv::cvtColor(rgb(Surroundings(results[photo].faces[face].face.box, rgb)), bgr, cv::COLOR_RGB2BGR);
      if (!cv::imwrite(file.string(), bgr)) throw Error(ErrorCategory::kIo, fmt::format("{}: cannot write", file.string()));
    }
  }
  return grouping;
}

// ---------------------------------------------------------------------------
// Choosing the identities studied

// Keeps in `scan` only the images of identities with at least min_images
// images and returns the names kept, sorted. The study covers these names
// alone, also when the store contains other identities from earlier runs.
std::vector<std::string> KeepIdentitiesWithImages(DatasetScan& scan, int min_images) {
  std::map<std::string, int> images_of;
  for (const DatasetFile& file : scan.files) ++images_of[file.identity];
  std::erase_if(scan.files, [&](const DatasetFile& file) { return images_of[file.identity] < min_images; });

  std::vector<std::string> kept;
  for (const auto& [name, images] : images_of) {
    if (images >= min_images) kept.push_back(name);
  }
  scan.identities = static_cast<std::int64_t>(kept.size());
  return kept;
}

// Returns the names the store has an identity for. An identity none of whose
// images gave a face is not in the store, and augment rejects unknown names.
std::vector<std::string> StoredIdentities(const Store& store, const std::vector<std::string>& names) {
  std::vector<std::string> stored;
  for (const std::string& name : names) {
    if (store.FindIdentity(name)) stored.push_back(name);
  }
  return stored;
}

// Returns the store's samples, real and synthetic, of the named identities.
std::vector<Sample> SamplesOf(const Store& store, const std::vector<std::string>& names) {
  const std::set<std::string> selected(names.begin(), names.end());
  std::vector<Sample> samples = store.ListSamples();
  std::erase_if(samples, [&](const Sample& sample) { return !selected.count(sample.identity); });
  return samples;
}

// ---------------------------------------------------------------------------
// Reading the store into analysis input

enum class Subset { kReal, kSynthetic, kAll };

// Samples of the chosen kind with identity labels. Identities are numbered by
// name over the whole store, so the real and the combined space share labels.
LabeledEmbeddings LoadSpace(const std::vector<Sample>& samples, Subset subset) {
  std::map<std::string, int> label_of;
  for (const Sample& sample : samples) label_of.emplace(sample.identity, 0);
  LabeledEmbeddings data;
  data.dimension = kEmbeddingDim;
  for (auto& [name, label] : label_of) {
    label = static_cast<int>(data.identity_names.size());
    data.identity_names.push_back(name);
  }
  for (const Sample& sample : samples) {
    const bool synthetic = sample.kind == SampleKind::kSynthetic;
    if ((subset == Subset::kReal && synthetic) || (subset == Subset::kSynthetic && !synthetic)) continue;
    data.vectors.insert(data.vectors.end(), sample.embedding.begin(), sample.embedding.end());
    data.labels.push_back(label_of.at(sample.identity));
    data.synthetic.push_back(synthetic ? 1 : 0);
    data.sample_ids.push_back(sample.id);
  }
  return data;
}

// ---------------------------------------------------------------------------
// Report sections from the store and the run

json FailuresJson(const Store& store, const AugmentSummary& augment) {
  std::map<std::pair<std::string, std::string>, std::int64_t> counts;
  for (const Failure& failure : store.ListFailures()) ++counts[{failure.stage, failure.reason}];
  const StoreInfo info = store.Info();
  json rows = json::array();
  rows.push_back({{"stage", "detect"}, {"reason", "fallback box used"}, {"count", info.fallback_faces}});
  for (const auto& [key, count] : counts) rows.push_back({{"stage", key.first}, {"reason", key.second}, {"count", count}});

  static const char* kBuckets[] = {"0–0.25", "0.25–0.5", "0.5–0.75", "0.75–1"};
  json synthetic = json::array();
  for (const auto& [transform, buckets] : augment.failures.by_transform) {
    for (int bucket = 0; bucket < kStrengthBuckets; ++bucket) {
      if (buckets[bucket].applied == 0) continue;
      synthetic.push_back({{"transform", transform}, {"bucket", kBuckets[bucket]},
                           {"attempts", buckets[bucket].applied}, {"lost", buckets[bucket].lost}});
    }
  }
  return {{"counts", rows}, {"synthetic", synthetic}};
}

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// The command line that repeats this run, with every default spelled out.
std::string CommandLine(const ExperimentArgs& args) {
  std::string command = "facespace experiment";
  if (!args.dataset.empty()) command += " " + args.dataset;
  for (const std::string& photo : args.photos) command += " --photos " + photo;
  command += fmt::format(" --out {} --recipe '{}' --per-image {} --seed {} --store {} --on {} --bootstrap {}",
                         args.out, args.recipe, args.per_image, args.seed, args.store, args.on, args.bootstrap);
  command += fmt::format(" --projection {} --projection-points {}", args.projection, args.projection_points);
  command += fmt::format(" --min-images {} --face {}", args.min_images, args.face);
  if (args.fallback_box) command += " --fallback-box";
  return command;
}

// ---------------------------------------------------------------------------
// The comparison's figures in the report document

// Headline rows: figures of the gallery space (pairs among gallery samples) and
// of the real probes matched against the gallery, before and after.
std::vector<HeadlineRow> HeadlineFromComparison(const CompareResult& comparison) {
  struct Choice {
    const char* source;  // MetricComparison::key
    const char* key;     // HeadlineRow::key
    const char* label;
  };
  static const Choice kChoices[] = {
      {"gallery.d_prime", "d_prime", "d′ (gallery pairs)"},
      {"gallery.eer", "eer", "EER (gallery pairs)"},
      {"probes.centroid.tar_far_1e-2", "tar_at_far", "TAR@FAR=0.01 (probes vs centroids)"},
      {"probes.sample.rank1", "rank1", "rank-1 (real probes)"},
      {"gallery.silhouette", "silhouette", "silhouette (gallery)"},
      {"gallery.fisher_ratio", "fisher_ratio", "Fisher ratio (gallery)"},
  };
  std::vector<HeadlineRow> rows;
  for (const Choice& choice : kChoices) {
    const auto found = std::find_if(comparison.comparisons.begin(), comparison.comparisons.end(),
                                    [&](const MetricComparison& row) { return row.key == choice.source; });
    HeadlineRow row;
    row.key = choice.key;
    row.label = choice.label;
    if (found == comparison.comparisons.end()) {
      row.note = fmt::format("the comparison has no figure {}", choice.source);
    } else {
      row.higher_is_better = found->higher_is_better;
      row.before = found->before;
      row.after = found->after;
      row.ci_low = found->ci_low;
      row.ci_high = found->ci_high;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

json Nullable(double value) { return std::isnan(value) ? json(nullptr) : json(value); }

json ComparisonsJson(const CompareResult& comparison) {
  json rows = json::array();
  for (const MetricComparison& row : comparison.comparisons) {
    rows.push_back({{"key", row.key},
                    {"higher_is_better", row.higher_is_better},
                    {"before", Nullable(row.before)},
                    {"after", Nullable(row.after)},
                    {"difference", Nullable(row.difference)},
                    {"ci_low", Nullable(row.ci_low)},
                    {"ci_high", Nullable(row.ci_high)},
                    {"verdict", row.verdict}});
  }
  return rows;
}

json TransformResponseJson(const CompareResult& comparison) {
  json curves = json::array();
  json crossings = json::array();
  for (const ResponseCurve& curve : comparison.response) {
    for (const ResponsePoint& point : curve.points) {
      curves.push_back({{"family", curve.family},
                        {"strength", point.strength},
                        {"mean", Nullable(point.mean_distance)},
                        {"p95", Nullable(point.p95_distance)},
                        {"samples", point.samples},
                        {"lost", point.lost}});
    }
    crossings.push_back({{"family", curve.family}, {"strength", Nullable(curve.crossing_strength)}});
  }
  return {{"threshold", Nullable(comparison.match_threshold)},
          {"unit", "plain L2"},
          {"curves", curves},
          {"crossings", crossings}};
}

// ---------------------------------------------------------------------------
// The command

void RunExperiment(ExperimentArgs& args, CommandContext& context) {
  ValidateArguments(args);
  const bool photos_mode = !args.photos.empty();
  const fs::path out = args.out;
  fs::create_directories(out);
  StageProgress progress(photos_mode ? 6 : 5, context.quiet);

  fs::path dataset_root = args.dataset;
  PhotoGrouping grouping;
  if (photos_mode) {
    progress.Begin("faces");
    const auto finder = MakePipeline(context, args, MultiFacePolicy::kAll);
    grouping = GroupPhotoFaces(args.photos, *finder, out / "faces", args.seed);
    dataset_root = grouping.dataset;
    progress.End(fmt::format("{} faces in {} photo(s), grouped into {} clusters by Chinese whispers "
                             "(edges below {} plain L2)",
                             grouping.faces, args.photos.size(), grouping.clusters, kDefaultMatchThreshold));
  }

  progress.Begin("ingest");
  // The dataset is scanned before the model is loaded, so a selection that is
  // too small fails at once.
  DatasetScan scan = ScanDataset(dataset_root);
  const std::int64_t identities_in_dataset = scan.identities;
  const std::vector<std::string> identities = KeepIdentitiesWithImages(scan, args.min_images);
  if (args.min_images > 1 && identities.size() < 2) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("{}: {} of {} identities have at least {} images; the comparison needs at least 2 "
                            "(lower --min-images)",
                            dataset_root.string(), identities.size(), identities_in_dataset, args.min_images));
  }
  const auto pipeline = MakePipeline(context, args,
                                     args.face == "central" ? MultiFacePolicy::kCentral : MultiFacePolicy::kLargest);
  StoreConfig config;
  config.model_id = pipeline->model_info().model_id;
  config.dimension = kEmbeddingDim;
  Store store = Store::OpenOrCreate(args.store, config);
  IngestOptions ingest_options;
  ingest_options.on_progress = [&progress](std::int64_t done, std::int64_t total) {
    progress.Update(done, total, "images");
  };
  const IngestSummary ingest = Ingest(scan, *pipeline, store, ingest_options);
  const std::string selection =
      args.min_images > 1 ? fmt::format(" (of {} in the dataset, those with at least {} images)", identities_in_dataset,
                                        args.min_images)
                          : "";
  progress.End(fmt::format("{} images of {} identities{}: {} embedded, {} already in the store {}", scan.files.size(),
                           scan.identities, selection, ingest.images, ingest.already_stored, args.store));

  progress.Begin("compare");
  CompareOptions compare_options;
  compare_options.recipe = args.recipe;
  compare_options.per_image = args.per_image;
  compare_options.seed = args.seed;
  compare_options.bootstrap_replicates = args.bootstrap;
  compare_options.dataset_root = dataset_root;
  compare_options.identities = identities;
  compare_options.jobs = args.jobs;
  const CompareResult comparison = CompareBeforeAfter(store, *pipeline, compare_options);
  progress.End(fmt::format("{} identities split into {} gallery and {} probe samples; {} synthetic samples made "
                           "from the gallery, {} faces lost",
                           comparison.identities, comparison.gallery_samples, comparison.probe_samples,
                           comparison.synthetic_samples, comparison.synthetic_lost));

  progress.Begin("augment");
  AugmentOptions augment_options;
  augment_options.synthesis.recipe = ParseRecipe(args.recipe);
  augment_options.synthesis.per_image = args.per_image;
  augment_options.synthesis.seed = args.seed;
  augment_options.synthesis.target = ParseApplyTarget(args.on);
  augment_options.synthesis.jobs = args.jobs;
  augment_options.dataset_root = dataset_root;
  augment_options.identities = StoredIdentities(store, identities);
  augment_options.save_images = out / "synthetic";
  augment_options.on_progress = [&progress](std::int64_t done, std::int64_t total) {
    progress.Update(done, total, "faces");
  };
  const AugmentSummary augment = Augment(store, *pipeline, augment_options);
  progress.End(fmt::format("{} synthetic samples added, {} already stored, {} faces lost, recipe {}",
                           augment.generated, augment.already_stored, augment.lost, augment.recipe));

  progress.Begin("analyze");
  const std::vector<Sample> samples = SamplesOf(store, identities);
  AnalysisOptions analysis_options;
  analysis_options.seed = args.seed;
  analysis_options.bootstrap_replicates = args.bootstrap;
  const AnalysisResult real = AnalyzeEmbeddings(LoadSpace(samples, Subset::kReal), analysis_options);
  const AnalysisResult all = AnalyzeEmbeddings(LoadSpace(samples, Subset::kAll), analysis_options);
  json spaces = json::array({SpaceRowJson("real", real)});
  const LabeledEmbeddings synthetic_space = LoadSpace(samples, Subset::kSynthetic);
  try {
    spaces.push_back(SpaceRowJson("synthetic", AnalyzeEmbeddings(synthetic_space, analysis_options)));
  } catch (const Error& error) {
    Logger().warn("synthetic space not analysed: {}", error.what());
  }
  spaces.push_back(SpaceRowJson("all", all));
  progress.End(fmt::format("real {} samples, combined {} samples, {} identities", real.counts.samples,
                           all.counts.samples, real.counts.identities));

  progress.Begin("report");
  ProjectionRequest projection_request;
  projection_request.method = args.projection;
  projection_request.seed = args.seed;
  projection_request.max_points = args.projection_points;
  projection_request.dataset_root = dataset_root;
  projection_request.out = out;
  projection_request.landmark_model =
      context.landmark_path.empty() ? DefaultLandmarkModelPath() : fs::path(context.landmark_path);
  const std::vector<HeadlineRow> headline = HeadlineFromComparison(comparison);
  const AnalysisResult& before = comparison.before;
  const AnalysisResult& after = comparison.after;
  const auto [question, answer] = QuestionAndAnswer(headline, augment.recipe, args.per_image);
  json document = {
      {"format", kReportFormat},
      {"format_version", kReportFormatVersion},
      {"title", fmt::format("facespace report: {}", photos_mode ? fs::path(args.photos.front()).filename().string()
                                                                : fs::path(args.dataset).filename().string())},
      {"question", question},
      {"answer", answer},
      {"headline", HeadlineJson(headline)},
      {"comparisons", ComparisonsJson(comparison)},
      {"distances", {{"threshold", kDefaultMatchThreshold}, {"unit", "plain L2"},
                     {"histograms", DistanceHistogramsJson(before, after)}}},
      {"roc", RocJson(before, after)},
      {"det", DetJson(before, after)},
      {"cmc", CmcJson(before, after)},
      {"spaces", spaces},
      {"identities", IdentityRowsJson(before, after)},
      {"transform_response", TransformResponseJson(comparison)},
      {"projection", ProjectionJson(store, samples, projection_request)},
      {"contact_sheets", ContactSheetsJson(out / "synthetic", out, args.contact_sheets)},
      {"failures", FailuresJson(store, augment)},
  };
  json versions = {{"facespace", FACESPACE_VERSION},
                   {"dlib", fmt::format("{}.{}.{}", DLIB_MAJOR_VERSION, DLIB_MINOR_VERSION, DLIB_PATCH_VERSION)},
                   {"opencv", CV_VERSION}};
  document["config"] = {
      {"dataset", photos_mode ? fmt::format("{}", fmt::join(args.photos, " ")) : args.dataset},
      {"input_kind", photos_mode ? "photos" : "folders"},
      {"identities_are_clusters", photos_mode},
      {"model_id", pipeline->model_info().model_id},
      {"recipe", augment.recipe},
      {"per_image", args.per_image},
      {"seed", args.seed},
      {"apply_to", args.on},
      {"min_images", args.min_images},
      {"identities_in_dataset", identities_in_dataset},
      {"identities_studied", identities.size()},
      {"face_policy", args.face},
      {"fallback_box", args.fallback_box},
      {"projection", args.projection},
      {"metric", "l2"},
      {"threshold", kDefaultMatchThreshold},
      {"bootstrap_replicates", args.bootstrap},
      {"before", "real gallery samples"},
      {"after", "real gallery samples and their synthetic samples"},
      {"probe_fraction", compare_options.probe_fraction},
      {"gallery_samples", comparison.gallery_samples},
      {"probe_samples", comparison.probe_samples},
      {"store", args.store},
      {"created", UtcNow()},
      {"command", CommandLine(args)},
      {"versions", versions},
  };
  document["config"]["timings"] = progress.timings();
  const fs::path html = RenderReport(document, out);
  progress.End(fmt::format("{} figures and tables written", (out / "figures").string()));

  std::cout << "report: " << fs::absolute(html).string() << "\n";
  for (const HeadlineRow& row : headline) {
    if (row.key != "d_prime" && row.key != "eer" && row.key != "rank1") continue;
    std::cout << fmt::format("{:<8} before {:.4f}  after {:.4f}  ({})\n", row.label, row.before, row.after,
                             HeadlineVerdict(row));
  }
}

}  // namespace

void AddExperimentCommands(CLI::App& app, CommandContext& context) {
  auto args = std::make_shared<ExperimentArgs>();
  CLI::App* command = app.add_subcommand(
      "experiment",
      "Run the whole study: ingest, synthetic samples, analysis of the real, synthetic and combined spaces, "
      "and the report");
  command->add_option("dataset", args->dataset,
                      "Dataset folder with one sub-folder per identity (default: the --photos path on "
                      "dlib's bald_guys.jpg)");
  command->add_option("--photos", args->photos,
                      "Unlabelled photos: faces are grouped into identities by Chinese whispers clustering")
      ->check(CLI::ExistingFile);
  command->add_option("--out", args->out, "Folder for the report, its figures and data")->required();
  command->add_option("--recipe", args->recipe, "Synthesis recipe or preset name")->default_val("mixed");
  command->add_option("--per-image", args->per_image, "Synthetic samples per real face")
      ->default_val(2)
      ->check(CLI::Range(1, 1000));
  command->add_option("--seed", args->seed, "Seed of synthesis, clustering and bootstrap")->default_val(1);
  command->add_option("--store", args->store, "Store folder, reused when it already holds the dataset "
                                              "(default: OUT/store)");
  command->add_option("--on", args->on, "Apply transformations to the whole image or the aligned chip")
      ->default_val("image")
      ->check(CLI::IsMember({"image", "chip"}));
  command->add_flag("--fallback-box", args->fallback_box,
                    "When no face is detected, embed a fixed central box (for pre-cropped faces such as LFW)");
  command->add_option("--face", args->face,
                      "Face kept when an image has several: largest, or central (the one nearest the image centre, "
                      "as LFW labels it)")
      ->default_val("largest")
      ->check(CLI::IsMember({"largest", "central"}));
  command->add_option("--min-images", args->min_images,
                      "Study only the identities with at least this many images in the dataset (1: all)")
      ->default_val(1)
      ->check(CLI::PositiveNumber);
  command->add_option("--jobs", args->jobs, "Worker threads (0: all cores)")->default_val(0)->check(CLI::NonNegativeNumber);
  command->add_option("--bootstrap", args->bootstrap, "Bootstrap replicates for the 95% intervals")
      ->default_val(200)
      ->check(CLI::Range(0, 100000));
  command->add_option("--projection-points", args->projection_points,
                      "Most samples shown in the 2-D projection")
      ->default_val(3000)
      ->check(CLI::PositiveNumber);
  command->add_option("--projection", args->projection,
                      "2-D projection of the embeddings: pca (fitted on the real samples) or tsne (real and "
                      "synthetic samples together, seeded by --seed)")
      ->default_val("pca")
      ->check(CLI::IsMember({"pca", "tsne"}));
  command->callback([args, &context] { RunExperiment(*args, context); });
}

}  // namespace facespace::cli
