// Tests of the analysis stage: hand-computed verification figures, the
// blockwise scan against a naive double loop, scikit-learn agreement,
// bootstrap reproducibility, and the JSON round trip.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sys/wait.h>

#include <faiss/IndexFlat.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "analysis/analysis_internal.h"
#include "analysis/nearest_lists.h"
#include "facespace/analysis.h"
#include "facespace/compare.h"
#include "facespace/error.h"
#include "facespace/store.h"
#include "test_support.h"

namespace facespace {
namespace {

// Seeded clustered data: `identities` centres on a sphere of radius
// `spread`, members scattered around them with standard deviation `noise`.
// Sizes cycle through 1..max_size, so singletons are included.
LabeledEmbeddings MakeClusters(int identities, int max_size, int dimension, double spread,
                               double noise, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  LabeledEmbeddings data;
  data.dimension = dimension;
  for (int c = 0; c < identities; ++c) {
    data.identity_names.push_back("person_" + std::to_string(c));
    std::vector<double> centre(dimension);
    double norm = 0;
    for (double& value : centre) {
      value = normal(rng);
      norm += value * value;
    }
    for (double& value : centre) value *= spread / std::sqrt(norm);
    const int size = 1 + c % max_size;
    for (int s = 0; s < size; ++s) {
      for (int k = 0; k < dimension; ++k) data.vectors.push_back(float(centre[k] + 0.1 + noise * normal(rng)));
      data.labels.push_back(c);
    }
  }
  return data;
}

double Naive(Metric metric, std::span<const float> a, std::span<const float> b) {
  double dot = 0, na = 0, nb = 0, squared = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    dot += double(a[k]) * b[k];
    na += double(a[k]) * a[k];
    nb += double(b[k]) * b[k];
    squared += (double(a[k]) - b[k]) * (double(a[k]) - b[k]);
  }
  return metric == Metric::kCosine ? 1.0 - dot / std::sqrt(na * nb) : std::sqrt(squared);
}

AnalysisOptions QuickOptions(Metric metric = Metric::kL2) {
  AnalysisOptions options;
  options.metric = metric;
  options.bootstrap_replicates = 0;
  options.knn_k = 3;
  return options;
}

TEST(VerifyScores, HandComputedSmallSet) {
  const std::vector<float> genuine = {0.1f, 0.2f, 0.3f, 0.4f};
  const std::vector<float> impostor = {0.25f, 0.5f, 0.6f, 0.7f, 0.8f};
  const VerificationResult result = VerifyScores(genuine, impostor, 100);

  // 18 of the 20 (genuine, impostor) pairs have the genuine distance smaller.
  EXPECT_NEAR(result.auc.value, 18.0 / 20.0, 1e-12);
  // Rates cross between t = 0.3 (FMR 0.2, FNMR 0.25) and t = 0.4 (FMR 0.2, FNMR 0).
  EXPECT_NEAR(result.eer.value, 0.2, 1e-12);
  EXPECT_NEAR(result.eer_threshold, 0.3, 1e-7);
  // Means 0.25 and 0.57, population variances 0.0125 and 0.0356.
  const double mean_g = (0.1 + 0.2 + 0.3 + 0.4) / 4, mean_i = (0.25 + 0.5 + 0.6 + 0.7 + 0.8) / 5;
  EXPECT_NEAR(result.d_prime.value, 0.32 / std::sqrt((0.0125 + 0.0356) / 2), 1e-6);
  EXPECT_NEAR(mean_i - mean_g, 0.32, 1e-12);
  // ZeroFMR: accept only below the smallest impostor (0.25): two genuines pass.
  EXPECT_TRUE(result.zero_fmr.supported);
  EXPECT_NEAR(result.zero_fmr.fnmr.value, 0.5, 1e-12);
  EXPECT_LT(result.zero_fmr.threshold, 0.25);
  EXPECT_GT(result.zero_fmr.threshold, 0.2499);
  EXPECT_EQ(result.zero_fmr.fmr, 0.0);
  // Five impostor pairs cannot resolve FMR 1e-2 or below.
  EXPECT_FALSE(result.fmr100.supported);
  EXPECT_FALSE(result.fmr1000.supported);
  for (const auto& point : result.tar_at_far) EXPECT_FALSE(point.supported);
}

TEST(VerifyScores, TarAtFarOnThousandImpostors) {
  std::vector<float> impostor, genuine;
  for (int k = 1; k <= 1000; ++k) impostor.push_back(float(k) / 1000.0f);
  for (int k = 0; k < 100; ++k) genuine.push_back(0.0005f * float(k) + 0.00025f);
  const VerificationResult result = VerifyScores(genuine, impostor, 100);

  ASSERT_EQ(result.tar_at_far.size(), 4u);
  // FAR 1e-1: the 101st impostor (0.101) is the first one that may not pass.
  EXPECT_TRUE(result.tar_at_far[0].supported);
  EXPECT_NEAR(result.tar_at_far[0].fmr, 0.1, 1e-12);
  EXPECT_NEAR(1 - result.tar_at_far[0].fnmr.value, 1.0, 1e-12);
  // FAR 1e-2: below 0.011 lie 22 genuines (0.00025 .. 0.01075).
  EXPECT_NEAR(1 - result.tar_at_far[1].fnmr.value, 0.22, 1e-12);
  EXPECT_NEAR(result.tar_at_far[1].threshold, 0.011, 1e-6);
  // FAR 1e-3: below 0.002 lie 4 genuines.
  EXPECT_NEAR(1 - result.tar_at_far[2].fnmr.value, 0.04, 1e-12);
  EXPECT_NEAR(result.fmr1000.fnmr.value, 0.96, 1e-12);
  // FAR 1e-4 needs 10,000 impostor pairs.
  EXPECT_FALSE(result.tar_at_far[3].supported);
  EXPECT_FALSE(result.tar_at_far[3].fnmr.note.empty());
  // Genuine k (0.0005k + 0.00025) lies above exactly k/2 (rounded down)
  // impostors, so 2 * (0 + 1 + ... + 49) = 2450 of the 100,000 pairs are
  // ordered the wrong way and none tie.
  EXPECT_NEAR(result.auc.value, 1.0 - 2450.0 / 100000.0, 1e-12);
}

TEST(VerifyScores, TiesCountHalf) {
  const std::vector<float> genuine = {0.5f, 0.5f};
  const std::vector<float> impostor = {0.5f, 0.5f};
  const VerificationResult result = VerifyScores(genuine, impostor, 10);
  EXPECT_NEAR(result.auc.value, 0.5, 1e-12);
  EXPECT_NEAR(result.eer.value, 0.5, 1e-12);
}

TEST(VerifyScores, RejectsEmptySet) {
  const std::vector<float> some = {0.1f};
  EXPECT_THROW(VerifyScores({}, some, 10), Error);
  EXPECT_THROW(VerifyScores(some, {}, 10), Error);
}

TEST(VerifyScores, CurveIsMonotoneAndDecimated) {
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.4f, 0.1f), i(0.9f, 0.1f);
  std::vector<float> genuine(5000), impostor(200000);
  for (float& v : genuine) v = std::max(0.0f, g(rng));
  for (float& v : impostor) v = std::max(0.0f, i(rng));
  std::sort(genuine.begin(), genuine.end());
  std::sort(impostor.begin(), impostor.end());
  const VerificationResult result = VerifyScores(genuine, impostor, 200);
  ASSERT_GT(result.curve.size(), 10u);
  EXPECT_LT(result.curve.size(), 2000u);
  for (std::size_t k = 1; k < result.curve.size(); ++k) {
    EXPECT_GT(result.curve[k].threshold, result.curve[k - 1].threshold);
    EXPECT_GE(result.curve[k].fmr, result.curve[k - 1].fmr);
    EXPECT_LE(result.curve[k].fnmr, result.curve[k - 1].fnmr);
  }
  EXPECT_EQ(result.curve.back().fmr, 1.0);
  EXPECT_EQ(result.curve.back().fnmr, 0.0);
}

TEST(DecidabilityIndex, MatchesFormula) {
  EXPECT_NEAR(DecidabilityIndex(0.4, 0.01, 0.9, 0.03), 0.5 / std::sqrt(0.02), 1e-12);
  EXPECT_TRUE(std::isnan(DecidabilityIndex(0.4, 0.0, 0.9, 0.0)));
}

TEST(RadixSort, MatchesStdSort) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uniform(0.0f, 3.0f);
  std::vector<float> values(100003);
  for (float& v : values) v = uniform(rng);
  values[5] = 0.0f;
  std::vector<float> expected = values;
  std::sort(expected.begin(), expected.end());
  analysis::RadixSortNonNegative(values);
  EXPECT_EQ(values, expected);
}

// Writes runs out in full, ascending.
std::vector<float> Expand(const analysis::ScoreRuns& runs) {
  std::vector<float> values;
  for (std::size_t r = 0; r < runs.values.size(); ++r) values.insert(values.end(), runs.counts[r], runs.values[r]);
  return values;
}

// The blockwise scan must give the same pairs and per-row figures as a naive
// double loop in double precision.
void CheckScanAgainstNaive(const LabeledEmbeddings& data, Metric metric) {
  const analysis::PreparedSpace space = analysis::PrepareSpace(data, metric);
  analysis::ScanOptions options;
  options.max_exact_impostor_pairs = ~0ULL;
  options.knn_k = 3;
  const analysis::ScanResult scan = analysis::ScanAllPairs(space, options);

  std::vector<double> genuine, impostor;
  const std::size_t n = data.rows();
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      const double d = Naive(metric, data.row(i), data.row(j));
      (data.labels[i] == data.labels[j] ? genuine : impostor).push_back(d);
    }
  }
  std::sort(genuine.begin(), genuine.end());
  std::sort(impostor.begin(), impostor.end());
  const std::vector<float> scan_impostor = Expand(scan.impostor);
  ASSERT_EQ(scan.genuine.size(), genuine.size());
  ASSERT_EQ(scan_impostor.size(), impostor.size());
  EXPECT_EQ(scan.impostor.total, impostor.size());
  EXPECT_EQ(scan.genuine_pairs, genuine.size());
  EXPECT_EQ(scan.impostor_pairs, impostor.size());
  for (std::size_t k = 0; k < genuine.size(); ++k) EXPECT_NEAR(scan.genuine[k], genuine[k], 2e-5) << k;
  for (std::size_t k = 0; k < impostor.size(); k += 7) EXPECT_NEAR(scan_impostor[k], impostor[k], 2e-5) << k;

  // Per-row silhouette, identity rank, nearest impostor and farthest genuine,
  // and the k nearest neighbours, naively.
  for (std::size_t s = 0; s < n; ++s) {
    const std::size_t i = space.order[s];
    const std::int32_t own = data.labels[i];
    std::vector<double> sums(data.identities(), 0.0), minimum(data.identities(), 1e300);
    std::vector<int> sizes(data.identities(), 0);
    std::vector<double> to_row(n);
    double farthest_genuine = 0;
    for (std::size_t j = 0; j < n; ++j) {
      ++sizes[data.labels[j]];
      if (j == i) continue;
      const double d = Naive(metric, data.row(i), data.row(j));
      to_row[j] = d;
      sums[data.labels[j]] += d;
      minimum[data.labels[j]] = std::min(minimum[data.labels[j]], d);
      if (data.labels[j] == own) farthest_genuine = std::max(farthest_genuine, d);
    }
    double nearest_impostor = 1e300;
    for (std::size_t c = 0; c < data.identities(); ++c) {
      if (std::int32_t(c) != own) nearest_impostor = std::min(nearest_impostor, minimum[c]);
    }
    EXPECT_NEAR(scan.rows[s].nearest_impostor, nearest_impostor, 2e-5) << s;

    // Every kept neighbour lies within the k-th smallest naive distance.
    std::vector<double> sorted_to_row;
    for (std::size_t j = 0; j < n; ++j) {
      if (j != i) sorted_to_row.push_back(to_row[j]);
    }
    std::sort(sorted_to_row.begin(), sorted_to_row.end());
    ASSERT_EQ(scan.knn_k, 3);
    for (int r = 0; r < 3; ++r) {
      const std::size_t neighbour = space.order[scan.neighbours[s * 3 + r]];
      EXPECT_NE(neighbour, i) << s;
      EXPECT_LE(to_row[neighbour], sorted_to_row[2] + 2e-5) << s << " neighbour " << r;
    }

    if (sizes[own] == 1) {
      EXPECT_EQ(scan.rows[s].silhouette, 0.0);
      EXPECT_EQ(scan.rows[s].identity_rank, 0u);
      continue;
    }
    EXPECT_NEAR(scan.rows[s].farthest_genuine, farthest_genuine, 2e-5) << s;
    const double a = sums[own] / (sizes[own] - 1);
    double b = 1e300;
    int closer = 0;
    for (std::size_t c = 0; c < data.identities(); ++c) {
      if (std::int32_t(c) == own) continue;
      b = std::min(b, sums[c] / sizes[c]);
      if (minimum[c] < minimum[own]) ++closer;
    }
    EXPECT_NEAR(scan.rows[s].silhouette, (b - a) / std::max(a, b), 1e-5) << s;
    EXPECT_EQ(scan.rows[s].identity_rank, std::uint32_t(closer + 1)) << s;
  }
}

// 300 rows span two row blocks.
void CheckScanAgainstNaive(Metric metric) { CheckScanAgainstNaive(MakeClusters(60, 9, 32, 1.0, 0.25, 7), metric); }

TEST(ScanAllPairs, L2MatchesNaiveLoop) { CheckScanAgainstNaive(Metric::kL2); }
TEST(ScanAllPairs, CosineMatchesNaiveLoop) { CheckScanAgainstNaive(Metric::kCosine); }

// Over 2,048 rows the scan runs on every OpenMP thread and merges what each
// saw. One identity of 400 samples is larger than a row block.
TEST(ScanAllPairs, ThreadedScanMatchesNaiveLoop) {
  LabeledEmbeddings data = MakeClusters(700, 5, 16, 1.0, 0.3, 19);
  const LabeledEmbeddings large = MakeClusters(1, 1, 16, 1.0, 0.3, 23);
  std::mt19937_64 rng(29);
  std::normal_distribution<double> normal(0.0, 0.3);
  data.identity_names.push_back("large");
  for (int s = 0; s < 400; ++s) {
    for (int k = 0; k < 16; ++k) data.vectors.push_back(float(large.vectors[k] + normal(rng)));
    data.labels.push_back(700);
  }
  ASSERT_GT(data.rows(), 2048u);
  CheckScanAgainstNaive(data, Metric::kL2);
}

TEST(ScanAllPairs, SampledImpostorsAreSeededAndSized) {
  const LabeledEmbeddings data = MakeClusters(80, 6, 16, 1.0, 0.3, 5);
  const analysis::PreparedSpace space = analysis::PrepareSpace(data, Metric::kL2);
  analysis::ScanOptions options;
  options.seed = 42;
  options.max_exact_impostor_pairs = 1000;
  options.impostor_sample_size = 8000;
  const analysis::ScanResult first = analysis::ScanAllPairs(space, options);
  const analysis::ScanResult second = analysis::ScanAllPairs(space, options);
  EXPECT_FALSE(first.impostor_exact);
  EXPECT_EQ(first.impostor.values, second.impostor.values);
  EXPECT_EQ(first.impostor.counts, second.impostor.counts);
  // Bernoulli sampling: the size is within a few standard deviations of 8000.
  EXPECT_NEAR(double(first.impostor.total), 8000.0, 400.0);
  options.seed = 43;
  EXPECT_NE(Expand(analysis::ScanAllPairs(space, options).impostor), Expand(first.impostor));
}

TEST(NearestLists, KeepsSmallestPairsTiesByIndex) {
  analysis::NearestLists lists(2, 3);
  const std::vector<std::pair<float, std::uint32_t>> offers = {
      {1.0f, 5}, {2.0f, 1}, {1.0f, 3}, {1.0f, 7}, {0.5f, 9}, {1.0f, 2}, {3.0f, 0}, {1.0f, 8}};
  for (const auto& [distance, index] : offers) lists.Offer(1, distance, index);

  std::vector<std::pair<float, std::uint32_t>> expected = offers;
  std::sort(expected.begin(), expected.end());
  ASSERT_EQ(lists.count(1), 3);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(lists.distance(1, r), expected[r].first) << r;
    EXPECT_EQ(lists.index(1, r), expected[r].second) << r;
  }
  EXPECT_EQ(lists.bound(1), 1.0f);
  EXPECT_EQ(lists.count(0), 0);
  EXPECT_EQ(lists.bound(0), std::numeric_limits<float>::infinity());
}

// Scores with many repeats, spread over several binades, and two zeros.
std::vector<float> RepeatedScores(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<float> spread(-0.2f, 0.6f);
  std::vector<float> pool(count / 7);
  for (float& value : pool) value = spread(rng);
  std::vector<float> scores;
  for (std::size_t k = 0; k < count; ++k) scores.push_back(pool[rng() % pool.size()]);
  scores[3] = 0.0f;
  scores[count / 2] = 0.0f;
  return scores;
}

analysis::ScoreRuns CollectRuns(const std::vector<float>& scores, int threads) {
  analysis::ScoreCollector collector(threads);
  std::vector<analysis::ScoreCollector::Writer> writers;
  for (int t = 0; t < threads; ++t) writers.push_back(collector.writer(t));
  for (std::size_t k = 0; k < scores.size(); ++k) writers[k % threads].Add(scores[k]);
  return collector.Finish();
}

TEST(ScoreRuns, CollectorCountsEveryScore) {
  const std::vector<float> scores = RepeatedScores(300000, 3);
  const analysis::ScoreRuns runs = CollectRuns(scores, 3);
  std::vector<float> sorted = scores;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(runs.total, scores.size());
  EXPECT_TRUE(std::is_sorted(runs.values.begin(), runs.values.end()));
  EXPECT_EQ(std::adjacent_find(runs.values.begin(), runs.values.end()), runs.values.end());
  EXPECT_EQ(Expand(runs), sorted);
  EXPECT_EQ(runs.min(), 0.0f);
  EXPECT_EQ(runs.max(), sorted.back());
}

TEST(ScoreRuns, QueriesMatchSortedArray) {
  const std::vector<float> scores = RepeatedScores(200000, 5);
  const analysis::ScoreRuns runs = CollectRuns(scores, 2);
  const std::vector<float> sorted = Expand(runs);

  const std::vector<double> probabilities = {0.0, 1e-6, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0};
  const std::vector<double> quantiles = analysis::RunsQuantiles(runs, probabilities);
  for (std::size_t q = 0; q < probabilities.size(); ++q) {
    EXPECT_EQ(quantiles[q], analysis::SortedQuantile(sorted, probabilities[q])) << probabilities[q];
  }
  std::vector<float> thresholds = {0.0f, 1e-30f, 0.3f, sorted[1000], 0.8f, sorted[150000], 10.0f};
  std::sort(thresholds.begin(), thresholds.end());
  const std::vector<std::uint64_t> below = analysis::CountsBelow(runs, thresholds);
  for (std::size_t t = 0; t < thresholds.size(); ++t) {
    const auto expected = std::lower_bound(sorted.begin(), sorted.end(), thresholds[t]) - sorted.begin();
    EXPECT_EQ(below[t], std::uint64_t(expected)) << thresholds[t];
  }
}

TEST(ScoreRuns, SweepMatchesSortedArray) {
  std::vector<float> impostor = RepeatedScores(250000, 7);
  for (float& value : impostor) value += 0.4f;
  std::vector<float> genuine = RepeatedScores(5000, 11);
  std::sort(genuine.begin(), genuine.end());
  const analysis::ScoreRuns runs = CollectRuns(impostor, 2);
  const std::vector<float> sorted = Expand(runs);
  const double targets[] = {1e-2, 1e-3, 0.0, 1e-1, 1e-4};

  const analysis::SweepFigures expected = analysis::SweepScores(genuine, nullptr, sorted, nullptr, targets, 300);
  const analysis::SweepFigures actual = analysis::SweepScoreRuns(genuine, runs, targets, 300);
  EXPECT_EQ(actual.auc, expected.auc);
  EXPECT_EQ(actual.eer, expected.eer);
  EXPECT_EQ(actual.eer_threshold, expected.eer_threshold);
  EXPECT_EQ(actual.fnmr, expected.fnmr);
  EXPECT_EQ(actual.thresholds, expected.thresholds);
  EXPECT_EQ(actual.fmr, expected.fmr);
  ASSERT_EQ(actual.curve.size(), expected.curve.size());
  for (std::size_t k = 0; k < actual.curve.size(); ++k) {
    EXPECT_EQ(actual.curve[k].threshold, expected.curve[k].threshold) << k;
    EXPECT_EQ(actual.curve[k].fmr, expected.curve[k].fmr) << k;
    EXPECT_EQ(actual.curve[k].fnmr, expected.curve[k].fnmr) << k;
  }
}

TEST(ScoreRuns, MomentsMatchLongDoubleSums) {
  const std::vector<float> scores = RepeatedScores(400000, 13);
  const analysis::ScoreRuns runs = CollectRuns(scores, 2);
  long double sum = 0;
  for (float value : scores) sum += value;
  const long double mean = sum / scores.size();
  long double squares = 0;
  for (float value : scores) squares += (value - mean) * (value - mean);
  const analysis::Moments moments = analysis::ComputeMoments(runs);
  EXPECT_NEAR(moments.mean, double(mean), 1e-15 * double(mean));
  EXPECT_NEAR(moments.variance, double(squares / scores.size()), 1e-14 * double(squares / scores.size()));
  EXPECT_TRUE(std::isnan(analysis::ComputeMoments(analysis::ScoreRuns{}).mean));
}

// Writes the vectors and labels in the raw layouts the reference script reads.
void ExportForPython(const LabeledEmbeddings& data, const std::filesystem::path& folder) {
  std::ofstream vectors(folder / "vectors.f32", std::ios::binary);
  vectors.write(reinterpret_cast<const char*>(data.vectors.data()), std::streamsize(data.vectors.size() * 4));
  std::ofstream labels(folder / "labels.i32", std::ios::binary);
  labels.write(reinterpret_cast<const char*>(data.labels.data()), std::streamsize(data.labels.size() * 4));
}

// Returns a Python interpreter that can import scikit-learn, or "" when none
// can: $FACESPACE_PYTHON, then Debian's /usr/bin/python3 (where python3-sklearn
// installs), then whatever python3 is first on PATH.
std::string SklearnPython() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("FACESPACE_PYTHON"); env && *env) candidates.push_back(env);
  candidates.push_back("/usr/bin/python3");
  candidates.push_back("python3");
  for (const auto& python : candidates) {
    const std::string probe = "'" + python + "' -c 'import sklearn' >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) return python;
  }
  return "";
}

nlohmann::json RunReference(const std::string& python, const LabeledEmbeddings& data, Metric metric,
                            const std::filesystem::path& folder) {
  ExportForPython(data, folder);
  const std::filesystem::path output = folder / "reference.json";
  const std::string command = "'" + python + "' '" FACESPACE_SOURCE_DIR "/tests/analysis/sklearn_reference.py' '" +
                              (folder / "vectors.f32").string() + "' '" + (folder / "labels.i32").string() +
                              "' " + std::to_string(data.dimension) + " " + std::string(MetricName(metric)) +
                              " > '" + output.string() + "'";
  if (std::system(command.c_str()) != 0) return {};
  std::ifstream in(output);
  return nlohmann::json::parse(in);
}

void CheckAgainstSklearn(Metric metric) {
  const std::string python = SklearnPython();
  if (python.empty()) GTEST_SKIP() << "no python3 with scikit-learn found (Debian: python3-sklearn; or set FACESPACE_PYTHON)";
  const LabeledEmbeddings data = MakeClusters(70, 8, 128, 1.0, 0.35, 21);
  testing::TempDir folder;
  const nlohmann::json reference = RunReference(python, data, metric, folder.path());
  ASSERT_FALSE(reference.is_null()) << "reference script failed";

  const AnalysisResult result = AnalyzeEmbeddings(data, QuickOptions(metric));
  auto relative = [](double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); };
  EXPECT_LT(relative(result.cluster.silhouette.value, reference["silhouette"]), 1e-6)
      << result.cluster.silhouette.value << " vs " << reference["silhouette"];
  EXPECT_LT(relative(result.cluster.davies_bouldin.value, reference["davies_bouldin"]), 1e-6)
      << result.cluster.davies_bouldin.value << " vs " << reference["davies_bouldin"];
  EXPECT_LT(relative(result.cluster.calinski_harabasz.value, reference["calinski_harabasz"]), 1e-6)
      << result.cluster.calinski_harabasz.value << " vs " << reference["calinski_harabasz"];
  EXPECT_LT(relative(result.verification.auc.value, reference["auc"]), 1e-6)
      << result.verification.auc.value << " vs " << reference["auc"];
}

TEST(AnalyzeEmbeddings, L2AgreesWithScikitLearn) { CheckAgainstSklearn(Metric::kL2); }
TEST(AnalyzeEmbeddings, CosineAgreesWithScikitLearn) { CheckAgainstSklearn(Metric::kCosine); }

TEST(AnalyzeEmbeddings, CountsSingletonsAndPairs) {
  const LabeledEmbeddings data = MakeClusters(30, 5, 16, 1.0, 0.3, 9);
  const AnalysisResult result = AnalyzeEmbeddings(data, QuickOptions());
  EXPECT_EQ(result.counts.samples, data.rows());
  EXPECT_EQ(result.counts.identities, 30u);
  EXPECT_EQ(result.counts.singleton_identities, 6u);  // sizes cycle 1..5
  const std::uint64_t n = data.rows();
  EXPECT_EQ(result.counts.genuine_pairs + result.counts.impostor_pairs, n * (n - 1) / 2);
  EXPECT_EQ(result.identification.probes_without_mate, 6u);
  EXPECT_EQ(result.identification.probes + 6u, n);
  std::uint64_t histogram_total = 0;
  for (auto count : result.impostor.histogram) histogram_total += count;
  EXPECT_EQ(histogram_total, result.counts.impostor_pairs);
  ASSERT_EQ(result.identities.size(), 30u);
  EXPECT_TRUE(std::isnan(result.identities[0].margin));  // identity 0 has one sample
  EXPECT_FALSE(std::isnan(result.identities[1].margin));
  EXPECT_NEAR(result.identities[1].margin,
              result.identities[1].nearest_impostor - result.identities[1].farthest_genuine, 1e-12);
}

TEST(AnalyzeEmbeddings, FisherRatioMatchesScatterTraces) {
  const LabeledEmbeddings data = MakeClusters(25, 4, 8, 1.0, 0.3, 13);
  const AnalysisResult result = AnalyzeEmbeddings(data, QuickOptions());
  // trace(S_w) = sum of squared distances to the own centroid; trace(S_b) =
  // sum over identities of n_c * ||centroid_c - mean||^2.
  const std::size_t d = data.dimension;
  std::vector<double> mean(d, 0.0);
  std::vector<std::vector<double>> centroids(25, std::vector<double>(d, 0.0));
  std::vector<int> sizes(25, 0);
  for (std::size_t i = 0; i < data.rows(); ++i) {
    ++sizes[data.labels[i]];
    for (std::size_t k = 0; k < d; ++k) {
      mean[k] += data.vectors[i * d + k];
      centroids[data.labels[i]][k] += data.vectors[i * d + k];
    }
  }
  for (auto& m : mean) m /= double(data.rows());
  for (int c = 0; c < 25; ++c) for (auto& v : centroids[c]) v /= sizes[c];
  double within = 0, between = 0;
  for (std::size_t i = 0; i < data.rows(); ++i) {
    for (std::size_t k = 0; k < d; ++k) {
      const double diff = data.vectors[i * d + k] - centroids[data.labels[i]][k];
      within += diff * diff;
    }
  }
  for (int c = 0; c < 25; ++c) {
    for (std::size_t k = 0; k < d; ++k) between += sizes[c] * std::pow(centroids[c][k] - mean[k], 2);
  }
  EXPECT_NEAR(result.cluster.trace_within, within, 1e-6 * within);
  EXPECT_NEAR(result.cluster.trace_between, between, 1e-6 * between);
  EXPECT_NEAR(result.cluster.fisher_ratio.value, between / within, 1e-6 * between / within);
}

TEST(Bootstrap, WeightsAreReproducible) {
  const auto first = BootstrapIdentityWeights(5, 3, 1000);
  EXPECT_EQ(first, BootstrapIdentityWeights(5, 3, 1000));
  EXPECT_NE(first, BootstrapIdentityWeights(5, 4, 1000));
  EXPECT_NE(first, BootstrapIdentityWeights(6, 3, 1000));
  std::uint64_t total = 0;
  for (auto w : first) total += w;
  EXPECT_EQ(total, 1000u);
}

TEST(Bootstrap, IntervalsReproducibleForSeed) {
  const LabeledEmbeddings data = MakeClusters(40, 5, 16, 1.0, 0.35, 17);
  AnalysisOptions options = QuickOptions();
  options.bootstrap_replicates = 50;
  options.seed = 99;
  const AnalysisResult first = AnalyzeEmbeddings(data, options);
  const AnalysisResult second = AnalyzeEmbeddings(data, options);
  EXPECT_EQ(first.verification.eer.ci_low, second.verification.eer.ci_low);
  EXPECT_EQ(first.verification.eer.ci_high, second.verification.eer.ci_high);
  EXPECT_EQ(first.cluster.silhouette.replicates, second.cluster.silhouette.replicates);
  EXPECT_EQ(first.cluster.davies_bouldin.replicates, second.cluster.davies_bouldin.replicates);
  EXPECT_LE(first.verification.auc.ci_low, first.verification.auc.ci_high);
  EXPECT_LE(first.identification.rank1.ci_low, first.identification.rank1.ci_high);
  EXPECT_TRUE(std::isfinite(first.cluster.calinski_harabasz.ci_low));

  options.seed = 100;
  const AnalysisResult other = AnalyzeEmbeddings(data, options);
  EXPECT_NE(first.cluster.silhouette.replicates, other.cluster.silhouette.replicates);
}

TEST(Bootstrap, PercentileIntervalIgnoresNan) {
  std::vector<double> values;
  for (int k = 0; k <= 100; ++k) values.push_back(k);
  values.push_back(std::nan(""));
  const auto [low, high] = PercentileInterval(values, 0.9);
  EXPECT_NEAR(low, 5.0, 1e-12);
  EXPECT_NEAR(high, 95.0, 1e-12);
}

TEST(AnalysisJson, RoundTrips) {
  const LabeledEmbeddings data = MakeClusters(20, 4, 8, 1.0, 0.3, 23);
  AnalysisOptions options = QuickOptions();
  options.bootstrap_replicates = 20;
  const AnalysisResult result = AnalyzeEmbeddings(data, options);
  const nlohmann::json json = ToJson(result);
  EXPECT_EQ(json["format_version"], kAnalysisFormatVersion);
  EXPECT_EQ(ToJson(AnalysisResultFromJson(json)), json);
}

TEST(AnalysisJson, RejectsOtherVersion) {
  const LabeledEmbeddings data = MakeClusters(10, 3, 8, 1.0, 0.3, 29);
  nlohmann::json json = ToJson(AnalyzeEmbeddings(data, QuickOptions()));
  json["format_version"] = kAnalysisFormatVersion + 1;
  try {
    AnalysisResultFromJson(json);
    FAIL() << "expected Error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kCorrupt);
    EXPECT_NE(std::string(error.what()).find("format version"), std::string::npos);
  }
}

TEST(AnalysisCsv, WritesFourFiles) {
  const LabeledEmbeddings data = MakeClusters(10, 3, 8, 1.0, 0.3, 31);
  const AnalysisResult result = AnalyzeEmbeddings(data, QuickOptions());
  testing::TempDir folder;
  WriteAnalysisCsv(result, folder.path() / "csv");
  for (const char* name : {"identities.csv", "curve.csv", "cmc.csv", "histogram.csv"}) {
    EXPECT_TRUE(std::filesystem::exists(folder.path() / "csv" / name)) << name;
  }
  std::ifstream identities(folder.path() / "csv" / "identities.csv");
  std::string line;
  int lines = 0;
  while (std::getline(identities, line)) ++lines;
  EXPECT_EQ(lines, 11);
}

TEST(ValidateEmbeddings, RejectsBadInput) {
  LabeledEmbeddings data = MakeClusters(5, 2, 4, 1.0, 0.3, 37);
  data.labels[2] = 99;
  EXPECT_THROW(ValidateEmbeddings(data), Error);
  data = MakeClusters(5, 2, 4, 1.0, 0.3, 37);
  data.vectors[3] = std::nanf("");
  EXPECT_THROW(ValidateEmbeddings(data), Error);
  data = MakeClusters(5, 2, 4, 1.0, 0.3, 37);
  data.vectors.pop_back();
  EXPECT_THROW(ValidateEmbeddings(data), Error);
}

TEST(AnalyzeEmbeddings, RejectsSingleIdentity) {
  LabeledEmbeddings data = MakeClusters(1, 4, 4, 1.0, 0.3, 41);
  EXPECT_THROW(AnalyzeEmbeddings(data, QuickOptions()), Error);
}

TEST(AnalyzeEmbeddings, RejectsSquaredL2) {
  const LabeledEmbeddings data = MakeClusters(5, 3, 4, 1.0, 0.3, 43);
  EXPECT_THROW(AnalyzeEmbeddings(data, QuickOptions(Metric::kSquaredL2)), Error);
}

}  // namespace
}  // namespace facespace

namespace facespace {
namespace {

// Fills a new store with the rows of `data` as real samples (one image and
// face each); rows flagged synthetic become synthetic samples of the row before.
void FillStore(const std::filesystem::path& directory, const LabeledEmbeddings& data) {
  StoreConfig config;
  config.model_id = "test-model";
  config.dimension = data.dimension;
  Store store = Store::Create(directory, config);
  const RunId run = store.BeginRun("test", "{}");
  SampleId previous = 0;
  for (std::size_t i = 0; i < data.rows(); ++i) {
    const IdentityId identity = store.AddIdentity(data.identity_names[data.labels[i]]);
    if (!data.synthetic.empty() && data.synthetic[i]) {
      SyntheticProvenance provenance;
      provenance.source_sample = previous;
      provenance.recipe = "gamma(1.2)";
      provenance.params_json = "{}";
      store.AddSyntheticSample(identity, provenance, data.row(i), run);
      continue;
    }
    ImageRecord image;
    image.identity_id = identity;
    image.relative_path = data.identity_names[data.labels[i]] + "/" + std::to_string(i) + ".jpg";
    char hash[65];
    std::snprintf(hash, sizeof hash, "%064zx", i + 1);
    image.sha256 = hash;
    const ImageId image_id = store.AddImage(image);
    FaceRecord face;
    face.image_id = image_id;
    face.box = {0, 0, 99, 99};
    const FaceId face_id = store.AddFace(face);
    previous = store.AddRealSample(identity, face_id, data.row(i), run);
  }
  store.FinishRun(run, "ok");
  store.Commit();
}

TEST(LoadStoreEmbeddings, ReadsSubsetsWithLabels) {
  LabeledEmbeddings data = MakeClusters(12, 4, 8, 1.0, 0.3, 47);
  data.synthetic.assign(data.rows(), 0);
  data.synthetic[2] = 1;  // identity 1's second row
  testing::TempDir folder;
  FillStore(folder.path() / "store", data);
  const Store store = Store::Open(folder.path() / "store");

  const LabeledEmbeddings real = LoadStoreEmbeddings(store, SampleSubset::kReal);
  const LabeledEmbeddings synthetic = LoadStoreEmbeddings(store, SampleSubset::kSynthetic);
  const LabeledEmbeddings all = LoadStoreEmbeddings(store, SampleSubset::kAll);
  EXPECT_EQ(real.rows(), data.rows() - 1);
  EXPECT_EQ(synthetic.rows(), 1u);
  EXPECT_EQ(all.rows(), data.rows());
  EXPECT_EQ(all.identities(), 12u);
  ASSERT_EQ(synthetic.synthetic.size(), 1u);
  EXPECT_EQ(synthetic.synthetic[0], 1);
  EXPECT_EQ(synthetic.identity_names[synthetic.labels[0]], "person_1");

  // The same analysis from the store and from memory.
  AnalysisOptions options = QuickOptions();
  const AnalysisResult from_store = AnalyzeEmbeddings(all, options);
  const AnalysisResult from_memory = AnalyzeEmbeddings(data, options);
  EXPECT_EQ(from_store.counts.genuine_pairs, from_memory.counts.genuine_pairs);
  EXPECT_EQ(from_store.counts.synthetic_samples, 1u);
  EXPECT_NEAR(from_store.verification.auc.value, from_memory.verification.auc.value, 1e-12);
  // Rows arrive in another order, so float sums may differ in the last digits.
  EXPECT_NEAR(from_store.cluster.silhouette.value, from_memory.cluster.silhouette.value, 1e-7);
}

TEST(LoadStoreEmbeddings, RejectsEmptySubset) {
  const LabeledEmbeddings data = MakeClusters(4, 3, 8, 1.0, 0.3, 53);
  testing::TempDir folder;
  FillStore(folder.path() / "store", data);
  const Store store = Store::Open(folder.path() / "store");
  EXPECT_THROW(LoadStoreEmbeddings(store, SampleSubset::kSynthetic), Error);
  EXPECT_THROW(ParseSampleSubset("everything"), Error);
}

}  // namespace
}  // namespace facespace

namespace facespace {
namespace {

// The scan keeps each sample's k nearest neighbours itself; FAISS's exact
// flat index is the independent reference for the figures built on them.
TEST(AnalyzeEmbeddings, KnnPurityMatchesFaiss) {
  const LabeledEmbeddings data = MakeClusters(60, 7, 32, 1.0, 0.4, 59);
  AnalysisOptions options = QuickOptions();
  options.knn_k = 5;
  const AnalysisResult result = AnalyzeEmbeddings(data, options);

  const std::size_t n = data.rows();
  faiss::IndexFlatL2 index(data.dimension);
  index.add(faiss::Index::idx_t(n), data.vectors.data());
  std::vector<float> distances(n * 6);
  std::vector<faiss::Index::idx_t> ids(n * 6);
  index.search(faiss::Index::idx_t(n), data.vectors.data(), 6, distances.data(), ids.data());
  double purity = 0;
  std::vector<double> occurrence(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    int same = 0, taken = 0;
    for (int r = 0; r < 6 && taken < 5; ++r) {
      const auto j = ids[i * 6 + r];
      if (j == faiss::Index::idx_t(i)) continue;
      ++taken;
      occurrence[j] += 1;
      if (data.labels[j] == data.labels[i]) ++same;
    }
    purity += same / 5.0;
  }
  purity /= double(n);
  EXPECT_NEAR(result.identification.knn_purity.value, purity, 1e-12);
  std::uint64_t anti_hubs = 0;
  for (double count : occurrence) anti_hubs += count == 0 ? 1 : 0;
  EXPECT_EQ(result.identification.anti_hubs, anti_hubs);
}

}  // namespace
}  // namespace facespace

namespace facespace {
namespace {

// Runs the real facespace binary on a small store and reads its JSON.
TEST(AnalyzeCommand, WritesJsonAndCsv) {
  if (!std::filesystem::exists(testing::FacespaceBinary())) {
    GTEST_SKIP() << "facespace binary not built: " << testing::FacespaceBinary();
  }
  const LabeledEmbeddings data = MakeClusters(15, 4, 8, 1.0, 0.3, 61);
  testing::TempDir folder;
  FillStore(folder.path() / "store", data);
  const std::filesystem::path json_file = folder.path() / "analysis.json";
  const std::string command = "'" + testing::FacespaceBinary().string() + "' analyze --store '" +
                              (folder.path() / "store").string() + "' --bootstrap 20 --seed 4 --json '" +
                              json_file.string() + "' --csv-dir '" + (folder.path() / "csv").string() +
                              "' > '" + (folder.path() / "table.txt").string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  std::ifstream in(json_file);
  const nlohmann::json json = nlohmann::json::parse(in);
  EXPECT_EQ(json["format_version"], kAnalysisFormatVersion);
  EXPECT_EQ(json["input"]["subset"], "real");
  EXPECT_EQ(json["input"]["model_id"], "test-model");
  EXPECT_EQ(json["seed"], 4);
  EXPECT_EQ(json["counts"]["samples"], data.rows());
  const AnalysisResult result = AnalysisResultFromJson(json);
  EXPECT_EQ(result.bootstrap_replicates, 20);
  EXPECT_TRUE(std::filesystem::exists(folder.path() / "csv" / "identities.csv"));

  std::ifstream table(folder.path() / "table.txt");
  const std::string text((std::istreambuf_iterator<char>(table)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("ROC AUC"), std::string::npos);
  EXPECT_NE(text.find("with one sample"), std::string::npos);
}

TEST(AnalyzeCommand, RejectsUnknownSubset) {
  if (!std::filesystem::exists(testing::FacespaceBinary())) {
    GTEST_SKIP() << "facespace binary not built: " << testing::FacespaceBinary();
  }
  const LabeledEmbeddings data = MakeClusters(4, 3, 8, 1.0, 0.3, 67);
  testing::TempDir folder;
  FillStore(folder.path() / "store", data);
  const std::string command = "'" + testing::FacespaceBinary().string() + "' analyze --store '" +
                              (folder.path() / "store").string() + "' --subset everything 2> '" +
                              (folder.path() / "error.txt").string() + "' > /dev/null";
  const int status = std::system(command.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 3);  // ExitCode::kInputError
  std::ifstream error(folder.path() / "error.txt");
  const std::string text((std::istreambuf_iterator<char>(error)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "facespace: error: subset 'everything': expected real, synthetic or all\n");
}

}  // namespace
}  // namespace facespace
