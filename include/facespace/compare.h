// Reading analysis input from a store, and the leakage-free before/after
// comparison behind `facespace compare`.
//
// The comparison, in order:
//   1. Split: for every identity with at least two real samples, a seeded
//      shuffle puts round(probe_fraction * n) samples (at least 1, at most
//      n - 1) in the probe set and the rest in the gallery. Identities with one
//      real sample take no part. Stored synthetic samples are ignored.
//   2. Synthesis: synthetic samples are made from gallery images only, with
//      the recipe, per_image and seed given (through Synthesize()).
//   3. Before = the real gallery; after = the real gallery plus its synthetic
//      samples. Both gallery spaces get the full analysis (same seed, so the
//      bootstrap replicates are paired), and the same real probes are matched
//      against both, per sample and against per-identity centroids.
//   4. Robustness: the probes degraded by each preset are matched again.
//   5. Transform-response curves from a seeded subset of gallery images.
//
// The store is opened read-only and never written: synthetic and degraded
// samples live in memory for the run, and the JSON output records the recipe,
// seed and split sizes that reproduce them.
#ifndef FACESPACE_COMPARE_H_
#define FACESPACE_COMPARE_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "facespace/analysis.h"
#include "facespace/store.h"

namespace facespace {

class Pipeline;

// Version of the JSON document ToJson(CompareResult) writes.
constexpr int kCompareFormatVersion = 1;

// ---------------------------------------------------------------------------
// Reading a store

enum class SampleSubset { kReal, kSynthetic, kAll };
std::string_view SampleSubsetName(SampleSubset subset);  // "real", "synthetic", "all"
SampleSubset ParseSampleSubset(std::string_view text);   // throws Error(kInvalidArgument)

// Loads the embeddings of `subset` with identity labels (identity index =
// position in the store's identity list, ordered by name) and synthetic flags.
// Throws Error(kInvalidArgument) when the subset is empty.
LabeledEmbeddings LoadStoreEmbeddings(const Store& store, SampleSubset subset);

// ---------------------------------------------------------------------------
// Before/after comparison

struct CompareOptions {
  std::string recipe;                 // synthesis recipe (see synth.h)
  int per_image = 1;                  // synthetic samples per gallery image
  std::uint64_t seed = 1;             // split, synthesis and bootstrap
  double probe_fraction = 0.3;        // in (0, 1)
  Metric metric = Metric::kL2;
  int bootstrap_replicates = 1000;
  double confidence = 0.95;
  // Folder the store's relative image paths are resolved against.
  std::filesystem::path dataset_root;
  // Only the real samples of these identities take part; empty means every
  // identity. Splits are seeded per identity name, so leaving identities out
  // does not change the split of the others.
  std::vector<std::string> identities;
  // Presets whose degraded probes make the robustness view.
  std::vector<std::string> robustness_presets = {"pose", "light", "quality", "occlusion"};
  // Transform-response curves: gallery images used and strengths evaluated.
  int response_sources = 20;
  std::vector<double> response_strengths = {0.0, 0.25, 0.5, 0.75, 1.0};
  int jobs = 0;                       // synthesis threads; 0 = all cores
};

// One figure before and after, with the verdict on the interval of
// after - before. The verdict is "improved" or "worse" when the interval
// excludes 0 (direction from higher_is_better), "no significant change" when
// it contains 0, and "n/a" when the interval is unknown.
struct MetricComparison {
  std::string key;        // e.g. "gallery.eer", "probes.sample.rank1", "robustness.pose.rank1"
  bool higher_is_better = true;
  double before = kNotAvailable;
  double after = kNotAvailable;
  double difference = kNotAvailable;  // after - before
  double ci_low = kNotAvailable;      // paired bootstrap interval of the difference
  double ci_high = kNotAvailable;
  std::string verdict;
};

// Figures of one probe set matched against one gallery.
struct ProbeFigures {
  std::uint64_t probes = 0;
  Figure sample_rank1;      // gallery of samples: nearest identity by its closest sample
  Figure sample_rank5;
  Figure centroid_rank1;    // gallery of per-identity centroids
  Figure centroid_rank5;
  Figure centroid_eer;      // probe-vs-centroid verification
  Figure centroid_auc;
  Figure centroid_tar_far_1e2;  // TAR at FAR 1e-2
  Figure centroid_tar_far_1e3;  // TAR at FAR 1e-3
  Figure contamination;     // nearest gallery sample is synthetic and of another identity
};

struct ResponsePoint {
  double strength = 0;
  std::uint64_t samples = 0;       // transformed images whose face was found
  std::uint64_t lost = 0;          // transformed images whose face was lost
  double mean_distance = kNotAvailable;  // source embedding to transformed embedding
  double p95_distance = kNotAvailable;
};

struct ResponseCurve {
  std::string family;              // geometry, light, quality, occlusion
  std::vector<std::string> transforms;
  std::vector<ResponsePoint> points;
  // Smallest strength at which the mean distance reaches the threshold,
  // linearly interpolated between evaluated strengths; NaN when never reached.
  double crossing_strength = kNotAvailable;
};

struct CompareResult {
  int format_version = kCompareFormatVersion;
  CompareOptions options;
  std::string recipe_canonical;
  std::uint64_t identities = 0;          // identities split
  std::uint64_t gallery_samples = 0;
  std::uint64_t probe_samples = 0;
  std::uint64_t synthetic_samples = 0;   // made from the gallery
  std::uint64_t synthetic_lost = 0;
  AnalysisResult before;                 // real gallery
  AnalysisResult after;                  // real gallery + synthetic
  ProbeFigures probes_before;
  ProbeFigures probes_after;
  struct Robustness {
    std::string preset;
    std::uint64_t lost = 0;              // probes whose degraded face was lost
    ProbeFigures before;
    ProbeFigures after;
  };
  std::vector<Robustness> robustness;
  std::vector<MetricComparison> comparisons;
  double match_threshold = kNotAvailable;  // threshold of the response curves (before EER threshold)
  std::vector<ResponseCurve> response;
  double seconds = 0;
};

// Runs the comparison. Throws Error(kInvalidArgument) for bad options or too
// few identities with two real samples, Error(kNotFound) for missing images.
CompareResult CompareBeforeAfter(const Store& store, const Pipeline& pipeline,
                                 const CompareOptions& options);

// Returns the verdict for an interval of after - before.
std::string Verdict(double ci_low, double ci_high, bool higher_is_better);

// Serialises everything except bootstrap replicates; see docs/metrics.md.
nlohmann::json ToJson(const CompareResult& result);

// The human-readable comparison table.
std::string FormatCompareTable(const CompareResult& result);

}  // namespace facespace

#endif  // FACESPACE_COMPARE_H_
