// Machinery shared by the analysis sources: the blockwise all-pairs scan,
// the score sweeps behind the verification figures, and the per-identity
// sums the cluster indices and their bootstrap replicates are built from.
#ifndef FACESPACE_SRC_ANALYSIS_ANALYSIS_INTERNAL_H_
#define FACESPACE_SRC_ANALYSIS_ANALYSIS_INTERNAL_H_

#include <cstdint>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/score_runs.h"
#include "facespace/analysis.h"

namespace facespace::analysis {

// The analysed vectors, rows sorted by label so each identity is one
// contiguous range. For kL2 the rows are centred on the global mean (distances
// do not change, and the cancellation in ||a||^2 + ||b||^2 - 2ab shrinks); for
// kCosine they are L2-normalised, so cosine distance = 1 - a.b.
struct PreparedSpace {
  Metric metric = Metric::kL2;
  int dimension = 0;
  std::size_t rows = 0;
  std::vector<float> vectors;             // rows * dimension, sorted by label
  std::vector<float> squared_norms;       // per row, of `vectors`
  std::vector<std::int32_t> labels;       // per sorted row
  std::vector<std::uint32_t> order;       // sorted row -> input row
  std::vector<std::uint64_t> label_begin;  // identities + 1 offsets into the sorted rows
  std::vector<std::uint8_t> synthetic;    // per sorted row

  std::size_t identities() const { return label_begin.size() - 1; }
  std::uint64_t label_size(std::int32_t label) const {
    return label_begin[label + 1] - label_begin[label];
  }
  const float* row(std::size_t i) const { return vectors.data() + i * dimension; }
};

PreparedSpace PrepareSpace(const LabeledEmbeddings& data, Metric metric);

// A pair distance with the labels of its two samples (bootstrap input).
struct LabeledPair {
  float distance;
  std::int32_t first;
  std::int32_t second;  // == first for a genuine pair
};

struct ScanOptions {
  std::uint64_t seed = 1;
  // Keep every impostor pair when there are at most this many, otherwise keep
  // each with probability sample_size / impostor_pairs (seeded hash of the pair).
  std::uint64_t max_exact_impostor_pairs = 0;
  std::uint64_t impostor_sample_size = 0;
  // Bootstrap pairs: impostor pairs with distance <= tail_threshold, and a
  // uniform sample of the others with probability body_probability.
  bool collect_bootstrap = false;
  int knn_k = 0;  // nearest neighbours kept per row; 0 keeps none
  float tail_threshold = 0;
  double body_probability = 0;
};

// Per-row results of the all-pairs scan, in sorted-row order.
struct RowFigures {
  double silhouette = 0;
  std::uint32_t identity_rank = 0;    // 0 for rows of a singleton identity
  float nearest_impostor = 0;         // min distance to another identity's sample
  float farthest_genuine = 0;         // max distance within its identity (0 for singletons)
};

struct ScanResult {
  std::vector<float> genuine;          // sorted ascending
  ScoreRuns impostor;                  // all impostor pairs, or the sample
  bool impostor_exact = true;
  std::uint64_t genuine_pairs = 0;
  std::uint64_t impostor_pairs = 0;
  double keep_probability = 1;         // of an impostor pair in the sample
  std::vector<RowFigures> rows;
  int knn_k = 0;
  std::vector<std::uint32_t> neighbours;  // rows * knn_k sorted-row indices, nearest first
  // Bootstrap material, sorted by distance.
  std::vector<LabeledPair> genuine_labeled;
  std::vector<LabeledPair> tail_impostors;     // every impostor pair <= tail_threshold
  std::vector<LabeledPair> body_impostors;     // sampled impostor pairs > tail_threshold
  std::uint64_t body_population = 0;           // impostor pairs > tail_threshold
};

// Computes every pair distance once, in row blocks of one matrix product
// each, and derives genuine and impostor arrays, silhouettes, identity ranks,
// nearest impostors and farthest genuines from each block.
ScanResult ScanAllPairs(const PreparedSpace& space, const ScanOptions& options);

// Limits BLAS to one thread while alive (when `active`), for BLAS calls made
// from inside OpenMP threads; restores the previous count afterwards.
class SingleThreadedBlas {
 public:
  explicit SingleThreadedBlas(bool active);
  ~SingleThreadedBlas();
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int previous_ = 0;
};

// Distance between sorted rows i and j, computed directly (double precision).
double PairDistance(const PreparedSpace& space, std::size_t i, std::size_t j);

// Returns the deterministic uniform value in [0, 1) for the pair (i, j) under `seed`.
double PairUniform(std::uint64_t seed, std::uint64_t i, std::uint64_t j);

// ---------------------------------------------------------------------------
// Score sweeps. Scores are distances; a comparison is accepted when d <= t.

struct SweepFigures {
  double auc = kNotAvailable;
  double eer = kNotAvailable;
  double eer_threshold = kNotAvailable;
  std::vector<double> fnmr;        // per target
  std::vector<double> thresholds;  // per target
  std::vector<double> fmr;         // achieved, per target
  std::vector<CurvePoint> curve;   // only when requested
};

// Weighted sweep over sorted genuine and impostor scores. A weight function
// of nullptr means weight 1 for every element.
SweepFigures SweepScores(std::span<const float> genuine, const double* genuine_weights,
                         std::span<const float> impostor, const double* impostor_weights,
                         std::span<const double> target_fmrs, int curve_points);

// The same sweep with impostor scores as runs, each of weight 1; equal to
// SweepScores on the written-out runs.
SweepFigures SweepScoreRuns(std::span<const float> genuine, const ScoreRuns& impostor,
                            std::span<const double> target_fmrs, int curve_points);

// Mean and population variance, summed in fixed-size chunks so the result
// does not depend on the number of threads.
struct Moments {
  double mean = kNotAvailable;
  double variance = kNotAvailable;
};
Moments ComputeMoments(std::span<const float> values);
// Mean and population variance of the runs, from count * value terms with
// compensated summation, in chunks of runs independent of the thread count.
Moments ComputeMoments(const ScoreRuns& runs);

// VerifyScores with impostor scores as runs and their moments already known.
VerificationResult VerifyScoreRuns(std::span<const float> genuine_sorted, const ScoreRuns& impostors,
                                   const Moments& impostor_moments, int curve_points);

// Linear-interpolation quantile (numpy's default) of sorted values.
double SortedQuantile(std::span<const float> sorted, double probability);

// ---------------------------------------------------------------------------
// Per-identity sums in the Euclidean geometry of the prepared vectors.

struct IdentitySums {
  std::vector<double> centroids;        // identities * dimension
  std::vector<double> within_squared;   // sum of ||x - centroid||^2 per identity
  std::vector<double> radius_mean;      // mean ||x - centroid|| per identity
  std::vector<double> radius_max;
  std::vector<double> centroid_norm;    // norm of the centroid in the input coordinates
  std::vector<double> nearest_centroid_distance;
  std::vector<std::int32_t> nearest_centroid;
  // Davies-Bouldin: for each identity the largest ratios (s_i + s_j) / D_ij,
  // largest first, so a bootstrap replicate finds its maximum over the drawn
  // identities without the full matrix.
  std::vector<std::vector<std::pair<double, std::int32_t>>> top_ratios;
};

IdentitySums ComputeIdentitySums(const PreparedSpace& space, std::span<const double> input_mean,
                                 int top_ratio_count);

struct ClusterIndices {
  double davies_bouldin = kNotAvailable;
  double calinski_harabasz = kNotAvailable;
  double fisher_ratio = kNotAvailable;
  double trace_between = kNotAvailable;
  double trace_within = kNotAvailable;
};

// Cluster indices with identity multiplicities `weights` (nullptr: all 1).
ClusterIndices ComputeClusterIndices(const PreparedSpace& space, const IdentitySums& sums,
                                     const std::uint32_t* weights);

// Returns `value` as JSON, with NaN and infinities written as null.
nlohmann::json NumberJson(double value);

// Returns a Figure as the JSON object documented in docs/metrics.md.
nlohmann::json FigureJson(const Figure& figure);

}  // namespace facespace::analysis

#endif  // FACESPACE_SRC_ANALYSIS_ANALYSIS_INTERNAL_H_
