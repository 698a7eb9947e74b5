// Analysis of an embedding space: genuine and impostor distance
// distributions, verification and identification figures, cluster indices,
// per-identity geometry, and bootstrap intervals for every headline figure.
//
// docs/metrics.md defines every figure (formula, units, direction, edge
// cases) and the JSON schema that ToJson() writes.
//
// Units: distances are in the analysis metric, plain L2 (||a - b||) or cosine
// distance (1 - cos). Cluster indices (Davies-Bouldin, Calinski-Harabasz,
// Fisher ratio) and per-identity centroid geometry are Euclidean, computed on
// the vectors as given for kL2 and on the L2-normalised vectors for kCosine.
//
// Thread safety: the functions are pure and may run concurrently; each call
// uses OpenMP and the BLAS library's threads internally.
#ifndef FACESPACE_ANALYSIS_H_
#define FACESPACE_ANALYSIS_H_

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "facespace/distance.h"

namespace facespace {

// Version of the JSON document ToJson(AnalysisResult) writes; FromJson rejects others.
constexpr int kAnalysisFormatVersion = 1;

constexpr double kNotAvailable = std::numeric_limits<double>::quiet_NaN();

// Embeddings with identity labels, the input of every analysis.
struct LabeledEmbeddings {
  int dimension = 0;
  std::vector<float> vectors;          // rows() * dimension floats, row-major
  std::vector<std::int32_t> labels;    // identity index of each row, 0 .. identity_names.size()-1
  std::vector<std::string> identity_names;  // name of each identity index
  std::vector<std::uint8_t> synthetic;  // 1 for a synthetic row; empty means all real
  std::vector<std::int64_t> sample_ids;  // store sample id of each row; may be empty

  std::size_t rows() const { return labels.size(); }
  std::size_t identities() const { return identity_names.size(); }
  std::span<const float> row(std::size_t i) const {
    return {vectors.data() + i * static_cast<std::size_t>(dimension),
            static_cast<std::size_t>(dimension)};
  }
};

// Checks shapes, label range and finiteness. Throws Error(kInvalidArgument)
// naming the first offending row or field.
void ValidateEmbeddings(const LabeledEmbeddings& data);

struct AnalysisOptions {
  Metric metric = Metric::kL2;  // kL2 or kCosine; kSquaredL2 is rejected
  std::uint64_t seed = 1;       // bootstrap and pair sampling
  int bootstrap_replicates = 1000;  // 0 disables the intervals
  double confidence = 0.95;     // two-sided percentile interval
  int knn_k = 10;               // neighbours for label purity and hubness
  int cmc_max_rank = 20;        // length of the CMC curve
  int histogram_bins = 100;     // bins of the shared genuine/impostor histogram
  // Impostor pairs are all kept (exact) up to this many; beyond it a uniform
  // seeded sample of about impostor_sample_size pairs is used.
  std::uint64_t max_exact_impostor_pairs = 150'000'000;
  std::uint64_t impostor_sample_size = 50'000'000;
  // Impostor pairs the bootstrap reweights: all pairs below the tail quantile
  // (estimated from a pilot sample) plus a uniform sample of this many others.
  std::uint64_t bootstrap_impostor_sample = 1'000'000;
  double bootstrap_tail_fraction = 0.015;
  int curve_points = 1000;      // target number of ROC/DET points after decimation
};

// One headline figure: the point estimate over all data and its bootstrap
// interval. Intervals are NaN when the bootstrap is off or the figure is not
// defined; `supported` is false when the data cannot support the figure at
// all (then `note` gives the reason and value is NaN).
struct Figure {
  double value = kNotAvailable;
  double ci_low = kNotAvailable;
  double ci_high = kNotAvailable;
  bool supported = true;
  std::string note;
  // Bootstrap replicate values (not serialised); paired comparisons use them.
  std::vector<double> replicates;
};

struct Quantile {
  double probability = 0;  // in [0, 1]
  double value = 0;        // linear interpolation between order statistics (numpy's default)
};

// Distances of one kind of pair (genuine or impostor).
struct DistanceDistribution {
  std::uint64_t count = 0;      // pairs in the population
  std::uint64_t used = 0;       // pairs the figures below come from (== count when exact)
  bool exact = true;            // false when a uniform seeded sample was used
  double mean = kNotAvailable;
  double std = kNotAvailable;   // population standard deviation (divides by `used`)
  double min = kNotAvailable;
  double max = kNotAvailable;
  std::vector<Quantile> quantiles;
  std::vector<std::uint64_t> histogram;  // counts per bin of DistanceHistogramEdges
};

// A threshold chosen for a target false match rate. Acceptance is d <= threshold.
struct OperatingPoint {
  double target_fmr = 0;
  bool supported = true;        // false when fewer than 1/target impostor pairs exist
  double threshold = kNotAvailable;  // the largest threshold with FMR <= target
  double fmr = kNotAvailable;   // achieved FMR at that threshold
  Figure fnmr;                  // FNMR at that threshold; TAR = 1 - FNMR
};

// One point of the ROC / DET curve. ROC plots (fmr, 1 - fnmr); DET plots
// (fmr, fnmr), usually on normal-deviate axes.
struct CurvePoint {
  double threshold = 0;
  double fmr = 0;
  double fnmr = 0;
};

struct VerificationResult {
  Figure d_prime;
  Figure eer;
  double eer_threshold = kNotAvailable;
  Figure auc;
  OperatingPoint fmr100;    // FNMR at FMR <= 1e-2
  OperatingPoint fmr1000;   // FNMR at FMR <= 1e-3
  OperatingPoint zero_fmr;  // FNMR at FMR == 0
  std::vector<OperatingPoint> tar_at_far;  // targets 1e-1, 1e-2, 1e-3, 1e-4
  std::vector<CurvePoint> curve;           // decimated, ascending threshold
};

struct IdentificationResult {
  std::uint64_t probes = 0;               // samples whose identity has another sample
  std::uint64_t probes_without_mate = 0;  // samples of singleton identities, not probes
  Figure rank1;
  Figure rank5;
  std::vector<double> cmc;  // cmc[r-1] = fraction of probes with identity rank <= r
  int knn_k = 0;
  Figure knn_purity;        // mean fraction of a sample's k nearest neighbours with its label
  Figure hubness_skewness;  // skewness of the k-occurrence distribution
  std::uint64_t max_k_occurrence = 0;
  std::uint64_t anti_hubs = 0;  // samples in nobody's k-NN list
};

struct ClusterResult {
  Figure silhouette;         // mean over all samples, singletons counted as 0
  Figure davies_bouldin;     // lower is better
  Figure calinski_harabasz;  // higher is better
  Figure fisher_ratio;       // trace(S_b) / trace(S_w), higher is better
  double trace_between = kNotAvailable;  // trace(S_b)
  double trace_within = kNotAvailable;   // trace(S_w)
};

// Geometry of one identity. NaN marks a value that is not defined (e.g. the
// margin of an identity with one sample).
struct IdentityRow {
  std::int32_t label = 0;
  std::string name;
  std::uint64_t samples = 0;
  std::uint64_t synthetic_samples = 0;
  double centroid_norm = kNotAvailable;
  double radius_mean = kNotAvailable;  // mean Euclidean distance of members to the centroid
  double radius_max = kNotAvailable;
  double nearest_centroid_distance = kNotAvailable;  // Euclidean, to another identity's centroid
  std::string nearest_centroid_identity;
  double nearest_impostor = kNotAvailable;   // min metric distance to another identity's sample
  double farthest_genuine = kNotAvailable;   // max metric distance within the identity
  double margin = kNotAvailable;             // nearest_impostor - farthest_genuine
  double silhouette = kNotAvailable;         // mean silhouette of its samples
};

struct AnalysisCounts {
  std::uint64_t samples = 0;
  std::uint64_t real_samples = 0;
  std::uint64_t synthetic_samples = 0;
  std::uint64_t identities = 0;            // identities with at least one sample
  std::uint64_t singleton_identities = 0;  // one sample: no genuine pair, impostor pairs only
  std::uint64_t genuine_pairs = 0;
  std::uint64_t impostor_pairs = 0;
};

struct AnalysisResult {
  int format_version = kAnalysisFormatVersion;
  Metric metric = Metric::kL2;
  std::uint64_t seed = 0;
  int bootstrap_replicates = 0;
  double confidence = 0.95;
  AnalysisCounts counts;
  std::vector<double> histogram_edges;  // histogram_bins + 1 ascending edges
  DistanceDistribution genuine;
  DistanceDistribution impostor;
  VerificationResult verification;
  IdentificationResult identification;
  ClusterResult cluster;
  std::vector<IdentityRow> identities;  // by label
  double seconds = 0;                   // wall time of the analysis
};

// Runs the whole analysis. Needs at least two identities and one genuine pair;
// throws Error(kInvalidArgument) otherwise or for invalid options.
AnalysisResult AnalyzeEmbeddings(const LabeledEmbeddings& data, const AnalysisOptions& options);

// ---------------------------------------------------------------------------
// Building blocks, also used by `compare` and by the tests.

// Verification figures of two score sets (distances; accept when d <= t).
// Both arrays must be sorted ascending. Throws Error(kInvalidArgument) when
// either is empty.
VerificationResult VerifyScores(std::span<const float> genuine_sorted,
                                std::span<const float> impostor_sorted, int curve_points);

// d' = |mu_g - mu_i| / sqrt((var_g + var_i) / 2), population variances.
double DecidabilityIndex(double mean_genuine, double var_genuine, double mean_impostor,
                         double var_impostor);

// Returns the percentile interval of `values` (NaNs ignored) at `confidence`.
std::pair<double, double> PercentileInterval(std::vector<double> values, double confidence);

// Returns how many times each identity is drawn in bootstrap replicate
// `replicate` (identities drawn with replacement, `identities` draws). The
// same seed, replicate and identity count always give the same weights, which
// pairs the replicates of two analyses over the same identities.
std::vector<std::uint32_t> BootstrapIdentityWeights(std::uint64_t seed, int replicate,
                                                    std::size_t identities);

// ---------------------------------------------------------------------------
// Output

// Serialises everything except Figure::replicates. The schema is documented in
// docs/metrics.md and carries kAnalysisFormatVersion.
nlohmann::json ToJson(const AnalysisResult& result);
// Reads what ToJson wrote. Throws Error(kCorrupt) for another format version
// or a missing field.
AnalysisResult AnalysisResultFromJson(const nlohmann::json& json);

// Writes identities.csv, curve.csv (threshold, fmr, fnmr, tar), cmc.csv and
// histogram.csv into `directory` (created if missing). Throws Error(kIo).
void WriteAnalysisCsv(const AnalysisResult& result, const std::filesystem::path& directory);

// Prints the human-readable summary table.
std::string FormatAnalysisTable(const AnalysisResult& result);

}  // namespace facespace

#endif  // FACESPACE_ANALYSIS_H_
