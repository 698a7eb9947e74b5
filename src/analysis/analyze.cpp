// AnalyzeEmbeddings: prepares the vectors, runs the all-pairs scan (which
// also keeps every sample's exact k nearest neighbours) and the centroid
// sums, then assembles the figures and their bootstrap intervals.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <string>

#include <omp.h>

#include "analysis/analysis_internal.h"
#include "facespace/error.h"
#include "facespace/log.h"

namespace facespace {
namespace {

using analysis::PreparedSpace;
using analysis::ScanResult;

constexpr double kQuantileProbabilities[] = {0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0};
// Operating targets in the order SweepScores reports them: FMR100, FMR1000,
// ZeroFMR, then TAR at FAR 1e-1 .. 1e-4.
constexpr double kTargets[] = {1e-2, 1e-3, 0.0, 1e-1, 1e-2, 1e-3, 1e-4};
constexpr std::size_t kTargetCount = std::size(kTargets);
// Impostor pairs drawn to place the bootstrap tail threshold.
constexpr std::size_t kPilotPairs = 200'000;
// Davies-Bouldin ratios kept per identity for the bootstrap replicates.
constexpr int kTopRatios = 32;

std::uint64_t Mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Labels renumbered so every identity has at least one row; names follow.
LabeledEmbeddings CompactIdentities(const LabeledEmbeddings& data) {
  std::vector<std::int32_t> remap(data.identities(), -1);
  LabeledEmbeddings compact;
  compact.dimension = data.dimension;
  compact.vectors = data.vectors;
  compact.synthetic = data.synthetic;
  compact.sample_ids = data.sample_ids;
  compact.labels.reserve(data.rows());
  std::vector<bool> used(data.identities(), false);
  for (std::int32_t label : data.labels) used[label] = true;
  for (std::size_t c = 0; c < data.identities(); ++c) {
    if (!used[c]) continue;
    remap[c] = std::int32_t(compact.identity_names.size());
    compact.identity_names.push_back(data.identity_names[c]);
  }
  for (std::int32_t label : data.labels) compact.labels.push_back(remap[label]);
  return compact;
}

// Places the bootstrap tail threshold at the tail_fraction quantile of a
// seeded sample of impostor pairs.
float PilotTailThreshold(const PreparedSpace& space, const AnalysisOptions& options) {
  std::mt19937_64 rng(Mix(options.seed ^ 0x7A11ULL));
  std::vector<float> pilot;
  pilot.reserve(kPilotPairs);
  for (std::size_t attempt = 0; pilot.size() < kPilotPairs && attempt < 20 * kPilotPairs; ++attempt) {
    const std::size_t i = rng() % space.rows;
    const std::size_t j = rng() % space.rows;
    if (space.labels[i] == space.labels[j]) continue;
    pilot.push_back(float(analysis::PairDistance(space, i, j)));
  }
  std::sort(pilot.begin(), pilot.end());
  return float(analysis::SortedQuantile(pilot, options.bootstrap_tail_fraction));
}

DistanceDistribution Describe(std::span<const float> sorted, std::uint64_t population, bool exact,
                              std::span<const double> edges) {
  DistanceDistribution distribution;
  distribution.count = population;
  distribution.used = sorted.size();
  distribution.exact = exact;
  if (sorted.empty()) return distribution;
  const analysis::Moments moments = analysis::ComputeMoments(sorted);
  distribution.mean = moments.mean;
  distribution.std = std::sqrt(moments.variance);
  distribution.min = sorted.front();
  distribution.max = sorted.back();
  for (double p : kQuantileProbabilities) {
    distribution.quantiles.push_back({p, analysis::SortedQuantile(sorted, p)});
  }
  // Bins are [e_k, e_k+1), the last one closed; counted by binary search on
  // the sorted values.
  const std::size_t bins = edges.size() - 1;
  distribution.histogram.assign(bins, 0);
  std::size_t previous = 0;
  for (std::size_t b = 0; b < bins; ++b) {
    const std::size_t end =
        b + 1 == bins ? sorted.size()
                      : std::size_t(std::lower_bound(sorted.begin(), sorted.end(), float(edges[b + 1])) -
                                    sorted.begin());
    distribution.histogram[b] = end - previous;
    previous = end;
  }
  return distribution;
}

// Describe() for the impostor runs, whose moments the verification reuses.
DistanceDistribution DescribeRuns(const analysis::ScoreRuns& runs, std::uint64_t population, bool exact,
                                  const analysis::Moments& moments, std::span<const double> edges) {
  DistanceDistribution distribution;
  distribution.count = population;
  distribution.used = runs.total;
  distribution.exact = exact;
  if (runs.empty()) return distribution;
  distribution.mean = moments.mean;
  distribution.std = std::sqrt(moments.variance);
  distribution.min = runs.min();
  distribution.max = runs.max();
  const std::vector<double> quantiles = analysis::RunsQuantiles(runs, kQuantileProbabilities);
  for (std::size_t q = 0; q < quantiles.size(); ++q) {
    distribution.quantiles.push_back({kQuantileProbabilities[q], quantiles[q]});
  }
  // The bins of Describe(): values below each inner edge, the rest in the last bin.
  const std::size_t bins = edges.size() - 1;
  std::vector<float> inner_edges;
  for (std::size_t b = 1; b < bins; ++b) inner_edges.push_back(float(edges[b]));
  const std::vector<std::uint64_t> below = analysis::CountsBelow(runs, inner_edges);
  distribution.histogram.assign(bins, 0);
  std::uint64_t previous = 0;
  for (std::size_t b = 0; b < bins; ++b) {
    const std::uint64_t end = b + 1 == bins ? runs.total : below[b];
    distribution.histogram[b] = end - previous;
    previous = end;
  }
  return distribution;
}

struct NeighbourFigures {
  std::vector<double> purity;          // per sorted row
  std::vector<double> k_occurrence;    // per sorted row
};

// Label purity and k-occurrence from the k nearest neighbours the scan kept.
NeighbourFigures ComputeNeighbourFigures(const PreparedSpace& space, const ScanResult& scan) {
  NeighbourFigures figures;
  const std::size_t n = space.rows;
  const int kept = scan.knn_k;
  const std::vector<std::uint32_t>& neighbours = scan.neighbours;
  figures.purity.assign(n, 0.0);
  figures.k_occurrence.assign(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    int same = 0;
    for (int r = 0; r < kept; ++r) {
      const std::uint32_t j = neighbours[i * kept + r];
      if (space.labels[j] == space.labels[i]) ++same;
      figures.k_occurrence[j] += 1.0;
    }
    figures.purity[i] = kept > 0 ? double(same) / kept : kNotAvailable;
  }
  return figures;
}

// Weighted mean and skewness (third standardised moment, population form).
double WeightedMean(std::span<const double> values, std::span<const double> weights) {
  double sum = 0, total = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    sum += weights[i] * values[i];
    total += weights[i];
  }
  return total > 0 ? sum / total : kNotAvailable;
}

double WeightedSkewness(std::span<const double> values, std::span<const double> weights) {
  const double mean = WeightedMean(values, weights);
  double m2 = 0, m3 = 0, total = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double diff = values[i] - mean;
    m2 += weights[i] * diff * diff;
    m3 += weights[i] * diff * diff * diff;
    total += weights[i];
  }
  if (!(total > 0) || !(m2 > 0)) return kNotAvailable;
  m2 /= total;
  m3 /= total;
  return m3 / std::pow(m2, 1.5);
}

// Everything a replicate (or the full data, with unit weights) is computed from.
struct FigureInputs {
  const PreparedSpace* space = nullptr;
  const ScanResult* scan = nullptr;
  const analysis::IdentitySums* sums = nullptr;
  const NeighbourFigures* neighbours = nullptr;
  std::vector<float> bootstrap_impostors;  // tail then body, ascending
  std::vector<double> genuine_values;      // scan->genuine as doubles
  std::vector<double> impostor_values;     // bootstrap_impostors as doubles
  double body_scale = 1;                   // body pairs each stand for this many
};

// Headline figures of one bootstrap replicate, in a fixed order.
enum HeadlineIndex {
  kDPrime, kEer, kAuc, kFnmrTarget0,
  kRank1 = kFnmrTarget0 + int(kTargetCount), kRank5, kPurity, kHubness,
  kSilhouette, kDaviesBouldin, kCalinskiHarabasz, kFisher, kHeadlineCount
};

std::vector<double> ReplicateFigures(const FigureInputs& in, const std::vector<std::uint32_t>& weights) {
  std::vector<double> out(kHeadlineCount, kNotAvailable);
  const PreparedSpace& space = *in.space;
  const ScanResult& scan = *in.scan;

  std::vector<double> genuine_weights(scan.genuine_labeled.size());
  for (std::size_t k = 0; k < genuine_weights.size(); ++k) {
    genuine_weights[k] = weights[scan.genuine_labeled[k].first];
  }
  std::vector<double> impostor_weights(in.bootstrap_impostors.size());
  const std::size_t tail = scan.tail_impostors.size();
  for (std::size_t k = 0; k < impostor_weights.size(); ++k) {
    const analysis::LabeledPair& pair =
        k < tail ? scan.tail_impostors[k] : scan.body_impostors[k - tail];
    impostor_weights[k] = double(weights[pair.first]) * weights[pair.second] * (k < tail ? 1.0 : in.body_scale);
  }
  const analysis::SweepFigures sweep = analysis::SweepScores(
      scan.genuine, genuine_weights.data(), in.bootstrap_impostors, impostor_weights.data(), kTargets, 0);
  const std::vector<double>& genuine_values = in.genuine_values;
  const std::vector<double>& impostor_values = in.impostor_values;
  const double mean_g = WeightedMean(genuine_values, genuine_weights);
  const double mean_i = WeightedMean(impostor_values, impostor_weights);
  double var_g = 0, var_i = 0, total_g = 0, total_i = 0;
  for (std::size_t k = 0; k < genuine_values.size(); ++k) {
    var_g += genuine_weights[k] * (genuine_values[k] - mean_g) * (genuine_values[k] - mean_g);
    total_g += genuine_weights[k];
  }
  for (std::size_t k = 0; k < impostor_values.size(); ++k) {
    var_i += impostor_weights[k] * (impostor_values[k] - mean_i) * (impostor_values[k] - mean_i);
    total_i += impostor_weights[k];
  }
  if (total_g > 0 && total_i > 0) {
    out[kDPrime] = DecidabilityIndex(mean_g, var_g / total_g, mean_i, var_i / total_i);
  }
  out[kEer] = sweep.eer;
  out[kAuc] = sweep.auc;
  for (std::size_t t = 0; t < kTargetCount; ++t) out[kFnmrTarget0 + t] = sweep.fnmr[t];

  const std::size_t n = space.rows;
  std::vector<double> sample_weights(n), probe_weights(n), rank1(n), rank5(n), silhouettes(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double w = weights[space.labels[i]];
    sample_weights[i] = w;
    const auto& row = scan.rows[i];
    probe_weights[i] = row.identity_rank > 0 ? w : 0.0;
    rank1[i] = row.identity_rank == 1 ? 1.0 : 0.0;
    rank5[i] = row.identity_rank >= 1 && row.identity_rank <= 5 ? 1.0 : 0.0;
    silhouettes[i] = row.silhouette;
  }
  out[kRank1] = WeightedMean(rank1, probe_weights);
  out[kRank5] = WeightedMean(rank5, probe_weights);
  out[kPurity] = WeightedMean(in.neighbours->purity, sample_weights);
  out[kHubness] = WeightedSkewness(in.neighbours->k_occurrence, sample_weights);
  out[kSilhouette] = WeightedMean(silhouettes, sample_weights);

  const analysis::ClusterIndices indices = analysis::ComputeClusterIndices(space, *in.sums, weights.data());
  out[kDaviesBouldin] = indices.davies_bouldin;
  out[kCalinskiHarabasz] = indices.calinski_harabasz;
  out[kFisher] = indices.fisher_ratio;
  return out;
}

void AttachInterval(Figure& figure, std::vector<double> replicates, double confidence) {
  const auto [low, high] = PercentileInterval(replicates, confidence);
  figure.ci_low = low;
  figure.ci_high = high;
  figure.replicates = std::move(replicates);
}

void CheckOptions(const AnalysisOptions& options) {
  auto invalid = [](const std::string& message) {
    throw Error(ErrorCategory::kInvalidArgument, message);
  };
  if (options.metric != Metric::kL2 && options.metric != Metric::kCosine) {
    invalid("metric '" + std::string(MetricName(options.metric)) + "': analysis supports l2 and cosine");
  }
  if (options.bootstrap_replicates < 0) invalid("bootstrap replicates: must be >= 0");
  if (!(options.confidence > 0 && options.confidence < 1)) invalid("confidence: must be in (0, 1)");
  if (options.knn_k < 1) invalid("k-NN k: must be >= 1");
  if (options.cmc_max_rank < 5) invalid("CMC length: must be >= 5");
  if (options.histogram_bins < 1) invalid("histogram bins: must be >= 1");
  if (options.impostor_sample_size < 1) invalid("impostor sample size: must be >= 1");
  // The scan counts each distinct impostor distance in 32 bits.
  if (options.max_exact_impostor_pairs > analysis::kMaxCollectedScores) {
    invalid("max exact impostor pairs: must be at most " + std::to_string(analysis::kMaxCollectedScores));
  }
  if (options.impostor_sample_size > 4'000'000'000ULL) invalid("impostor sample size: must be at most 4000000000");
  if (!(options.bootstrap_tail_fraction > 0 && options.bootstrap_tail_fraction < 1)) {
    invalid("bootstrap tail fraction: must be in (0, 1)");
  }
}

}  // namespace

void ValidateEmbeddings(const LabeledEmbeddings& data) {
  auto invalid = [](const std::string& message) {
    throw Error(ErrorCategory::kInvalidArgument, message);
  };
  if (data.dimension < 1) invalid("embeddings: dimension must be >= 1");
  if (data.vectors.size() != data.rows() * std::size_t(data.dimension)) {
    invalid("embeddings: " + std::to_string(data.vectors.size()) + " floats for " +
            std::to_string(data.rows()) + " rows of dimension " + std::to_string(data.dimension));
  }
  if (!data.synthetic.empty() && data.synthetic.size() != data.rows()) {
    invalid("embeddings: synthetic flags for " + std::to_string(data.synthetic.size()) +
            " rows, expected " + std::to_string(data.rows()));
  }
  if (!data.sample_ids.empty() && data.sample_ids.size() != data.rows()) {
    invalid("embeddings: sample ids for " + std::to_string(data.sample_ids.size()) +
            " rows, expected " + std::to_string(data.rows()));
  }
  for (std::size_t i = 0; i < data.rows(); ++i) {
    if (data.labels[i] < 0 || std::size_t(data.labels[i]) >= data.identities()) {
      invalid("embeddings: row " + std::to_string(i) + " has label " + std::to_string(data.labels[i]) +
              " outside 0.." + std::to_string(data.identities()));
    }
    for (float value : data.row(i)) {
      if (!std::isfinite(value)) invalid("embeddings: row " + std::to_string(i) + " has a NaN or infinite value");
    }
  }
}

std::vector<std::uint32_t> BootstrapIdentityWeights(std::uint64_t seed, int replicate,
                                                    std::size_t identities) {
  std::vector<std::uint32_t> weights(identities, 0);
  if (identities == 0) return weights;
  std::mt19937_64 rng(Mix(Mix(seed) ^ std::uint64_t(replicate)));
  for (std::size_t draw = 0; draw < identities; ++draw) {
    // Multiply-shift maps a 64-bit draw to [0, identities) without relying on
    // the library's distribution classes, which differ between implementations.
    const auto index = std::size_t((static_cast<unsigned __int128>(rng()) * identities) >> 64);
    ++weights[index];
  }
  return weights;
}

std::pair<double, double> PercentileInterval(std::vector<double> values, double confidence) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }),
               values.end());
  if (values.empty()) return {kNotAvailable, kNotAvailable};
  std::sort(values.begin(), values.end());
  auto quantile = [&](double p) {
    const double position = p * double(values.size() - 1);
    const std::size_t low = std::size_t(std::floor(position));
    const std::size_t high = std::min(values.size() - 1, low + 1);
    return values[low] + (position - double(low)) * (values[high] - values[low]);
  };
  const double tail = (1.0 - confidence) / 2.0;
  return {quantile(tail), quantile(1.0 - tail)};
}

AnalysisResult AnalyzeEmbeddings(const LabeledEmbeddings& input, const AnalysisOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  auto phase_start = started;
  // Logs the wall time of the step that just ended (visible with -vv).
  auto phase_done = [&phase_start](const char* step) {
    const auto now = std::chrono::steady_clock::now();
    Logger().debug("analysis: {} took {:.3f} s", step, std::chrono::duration<double>(now - phase_start).count());
    phase_start = now;
  };
  CheckOptions(options);
  ValidateEmbeddings(input);
  const LabeledEmbeddings data = CompactIdentities(input);
  if (data.identities() < 2) {
    throw Error(ErrorCategory::kInvalidArgument,
                "embeddings: analysis needs at least two identities, got " + std::to_string(data.identities()));
  }

  AnalysisResult result;
  result.metric = options.metric;
  result.seed = options.seed;
  result.bootstrap_replicates = options.bootstrap_replicates;
  result.confidence = options.confidence;

  const PreparedSpace space = analysis::PrepareSpace(data, options.metric);
  AnalysisCounts& counts = result.counts;
  counts.samples = space.rows;
  for (std::uint8_t flag : space.synthetic) counts.synthetic_samples += flag ? 1 : 0;
  counts.real_samples = counts.samples - counts.synthetic_samples;
  counts.identities = space.identities();
  for (std::size_t c = 0; c < space.identities(); ++c) {
    if (space.label_size(std::int32_t(c)) == 1) ++counts.singleton_identities;
  }
  if (counts.singleton_identities == counts.identities) {
    throw Error(ErrorCategory::kInvalidArgument,
                "embeddings: every identity has a single sample, so there is no genuine pair");
  }

  // The all-pairs scan.
  analysis::ScanOptions scan_options;
  scan_options.seed = options.seed;
  scan_options.max_exact_impostor_pairs = options.max_exact_impostor_pairs;
  scan_options.impostor_sample_size = options.impostor_sample_size;
  scan_options.collect_bootstrap = options.bootstrap_replicates > 0;
  scan_options.knn_k = options.knn_k;
  if (scan_options.collect_bootstrap) {
    scan_options.tail_threshold = PilotTailThreshold(space, options);
  }
  {
    const double n = double(space.rows);
    double genuine = 0;
    for (std::size_t c = 0; c < space.identities(); ++c) {
      const double size = double(space.label_size(std::int32_t(c)));
      genuine += size * (size - 1) / 2;
    }
    const double impostors = n * (n - 1) / 2 - genuine;
    scan_options.body_probability =
        std::min(1.0, double(options.bootstrap_impostor_sample) /
                          std::max(1.0, impostors * (1.0 - options.bootstrap_tail_fraction)));
  }
  Logger().info("analysis: scanning {} pairs of {} samples", space.rows * (space.rows - 1) / 2, space.rows);
  const ScanResult scan = analysis::ScanAllPairs(space, scan_options);
  phase_done("preparation and all-pairs scan");
  counts.genuine_pairs = scan.genuine_pairs;
  counts.impostor_pairs = scan.impostor_pairs;

  // Distributions on shared histogram edges.
  float low = scan.genuine.front();
  float high = scan.genuine.back();
  if (!scan.impostor.empty()) {
    low = std::min(low, scan.impostor.min());
    high = std::max(high, scan.impostor.max());
  }
  if (!(high > low)) high = low + 1.0f;
  for (int b = 0; b <= options.histogram_bins; ++b) {
    result.histogram_edges.push_back(double(low) + (double(high) - low) * b / options.histogram_bins);
  }
  result.genuine = Describe(scan.genuine, scan.genuine_pairs, true, result.histogram_edges);
  const analysis::Moments impostor_moments = analysis::ComputeMoments(scan.impostor);
  result.impostor =
      DescribeRuns(scan.impostor, scan.impostor_pairs, scan.impostor_exact, impostor_moments, result.histogram_edges);
  phase_done("distributions");

  // Verification. Support is judged on the impostor population, not the sample.
  result.verification =
      analysis::VerifyScoreRuns(scan.genuine, scan.impostor, impostor_moments, options.curve_points);
  {
    auto judge = [&](OperatingPoint& point) {
      const bool supported = point.target_fmr == 0 || double(scan.impostor_pairs) * point.target_fmr >= 1.0 - 1e-9;
      if (supported == point.supported) return;
      const double target = point.target_fmr;
      point = OperatingPoint{};
      point.target_fmr = target;
      point.supported = false;
      point.fnmr.supported = false;
      point.fnmr.note = "not supported by the data: fewer than 1/FMR impostor pairs";
    };
    judge(result.verification.fmr100);
    judge(result.verification.fmr1000);
    for (auto& point : result.verification.tar_at_far) judge(point);
  }

  phase_done("verification sweep");

  // Identification from the scan's identity ranks.
  IdentificationResult& identification = result.identification;
  identification.cmc.assign(options.cmc_max_rank, 0.0);
  for (const auto& row : scan.rows) {
    if (row.identity_rank == 0) {
      ++identification.probes_without_mate;
      continue;
    }
    ++identification.probes;
    for (std::uint32_t r = row.identity_rank; r <= std::uint32_t(options.cmc_max_rank); ++r) {
      identification.cmc[r - 1] += 1.0;
    }
  }
  for (double& value : identification.cmc) value /= double(identification.probes);
  identification.rank1.value = identification.cmc[0];
  identification.rank5.value = identification.cmc[4];

  const NeighbourFigures neighbours = ComputeNeighbourFigures(space, scan);
  identification.knn_k = scan.knn_k;
  const std::vector<double> unit(space.rows, 1.0);
  identification.knn_purity.value = WeightedMean(neighbours.purity, unit);
  identification.hubness_skewness.value = WeightedSkewness(neighbours.k_occurrence, unit);
  for (double occurrence : neighbours.k_occurrence) {
    identification.max_k_occurrence = std::max(identification.max_k_occurrence, std::uint64_t(occurrence));
    if (occurrence == 0) ++identification.anti_hubs;
  }

  phase_done("identification and k-NN figures");

  // Cluster structure.
  std::vector<double> input_mean;
  if (options.metric == Metric::kL2) {
    input_mean.assign(data.dimension, 0.0);
    for (std::size_t i = 0; i < data.rows(); ++i) {
      for (int k = 0; k < data.dimension; ++k) input_mean[k] += data.vectors[i * data.dimension + k];
    }
    for (double& m : input_mean) m /= double(data.rows());
  }
  // Without replicates only the largest Davies-Bouldin ratio is read.
  const int top_ratios = options.bootstrap_replicates > 0 ? kTopRatios : 1;
  const analysis::IdentitySums sums = analysis::ComputeIdentitySums(space, input_mean, top_ratios);
  const analysis::ClusterIndices indices = analysis::ComputeClusterIndices(space, sums, nullptr);
  double silhouette_sum = 0;
  for (const auto& row : scan.rows) silhouette_sum += row.silhouette;
  result.cluster.silhouette.value = silhouette_sum / double(space.rows);
  result.cluster.davies_bouldin.value = indices.davies_bouldin;
  result.cluster.calinski_harabasz.value = indices.calinski_harabasz;
  result.cluster.fisher_ratio.value = indices.fisher_ratio;
  result.cluster.trace_between = indices.trace_between;
  result.cluster.trace_within = indices.trace_within;

  phase_done("centroid sums and cluster indices");

  // Per identity.
  for (std::size_t c = 0; c < space.identities(); ++c) {
    IdentityRow row;
    row.label = std::int32_t(c);
    row.name = data.identity_names[c];
    row.samples = space.label_size(std::int32_t(c));
    row.centroid_norm = sums.centroid_norm[c];
    row.radius_mean = sums.radius_mean[c];
    row.radius_max = sums.radius_max[c];
    row.nearest_centroid_distance = sums.nearest_centroid_distance[c];
    if (sums.nearest_centroid[c] >= 0) row.nearest_centroid_identity = data.identity_names[sums.nearest_centroid[c]];
    double silhouette = 0;
    float nearest_impostor = std::numeric_limits<float>::infinity();
    float farthest_genuine = 0;
    for (std::uint64_t i = space.label_begin[c]; i < space.label_begin[c + 1]; ++i) {
      row.synthetic_samples += space.synthetic[i] ? 1 : 0;
      silhouette += scan.rows[i].silhouette;
      nearest_impostor = std::min(nearest_impostor, scan.rows[i].nearest_impostor);
      farthest_genuine = std::max(farthest_genuine, scan.rows[i].farthest_genuine);
    }
    row.silhouette = silhouette / double(row.samples);
    row.nearest_impostor = nearest_impostor;
    if (row.samples > 1) {
      row.farthest_genuine = farthest_genuine;
      row.margin = double(nearest_impostor) - double(farthest_genuine);
    }
    result.identities.push_back(std::move(row));
  }

  // Bootstrap over identities.
  if (options.bootstrap_replicates > 0) {
    Logger().info("analysis: {} bootstrap replicates", options.bootstrap_replicates);
    FigureInputs inputs;
    inputs.space = &space;
    inputs.scan = &scan;
    inputs.sums = &sums;
    inputs.neighbours = &neighbours;
    for (const auto& pair : scan.tail_impostors) inputs.bootstrap_impostors.push_back(pair.distance);
    for (const auto& pair : scan.body_impostors) inputs.bootstrap_impostors.push_back(pair.distance);
    inputs.genuine_values.assign(scan.genuine.begin(), scan.genuine.end());
    inputs.impostor_values.assign(inputs.bootstrap_impostors.begin(), inputs.bootstrap_impostors.end());
    inputs.body_scale = scan.body_impostors.empty()
                            ? 0.0
                            : double(scan.body_population) / double(scan.body_impostors.size());

    const int replicates = options.bootstrap_replicates;
    std::vector<std::vector<double>> values(replicates);
#pragma omp parallel for schedule(dynamic, 1) if (space.rows > 2048)
    for (int r = 0; r < replicates; ++r) {
      values[r] = ReplicateFigures(inputs, BootstrapIdentityWeights(options.seed, r, space.identities()));
    }
    auto column = [&](int index) {
      std::vector<double> out(replicates);
      for (int r = 0; r < replicates; ++r) out[r] = values[r][index];
      return out;
    };
    const double confidence = options.confidence;
    VerificationResult& verification = result.verification;
    AttachInterval(verification.d_prime, column(kDPrime), confidence);
    AttachInterval(verification.eer, column(kEer), confidence);
    AttachInterval(verification.auc, column(kAuc), confidence);
    OperatingPoint* points[kTargetCount] = {&verification.fmr100, &verification.fmr1000, &verification.zero_fmr,
                                            &verification.tar_at_far[0], &verification.tar_at_far[1],
                                            &verification.tar_at_far[2], &verification.tar_at_far[3]};
    for (std::size_t t = 0; t < kTargetCount; ++t) {
      if (points[t]->supported) AttachInterval(points[t]->fnmr, column(kFnmrTarget0 + int(t)), confidence);
    }
    AttachInterval(identification.rank1, column(kRank1), confidence);
    AttachInterval(identification.rank5, column(kRank5), confidence);
    AttachInterval(identification.knn_purity, column(kPurity), confidence);
    AttachInterval(identification.hubness_skewness, column(kHubness), confidence);
    AttachInterval(result.cluster.silhouette, column(kSilhouette), confidence);
    AttachInterval(result.cluster.davies_bouldin, column(kDaviesBouldin), confidence);
    AttachInterval(result.cluster.calinski_harabasz, column(kCalinskiHarabasz), confidence);
    AttachInterval(result.cluster.fisher_ratio, column(kFisher), confidence);
  }

  phase_done("per-identity rows and bootstrap");
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace facespace
