// Tests of the before/after comparison. The split, the after gallery, probe
// matching, contamination and the paired intervals are checked on
// constructed embeddings. One end-to-end case runs CompareBeforeAfter with
// the face model on a few LFW identities, and skips when they are missing.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "analysis/compare_internal.h"
#include "facespace/analysis.h"
#include "facespace/compare.h"
#include "facespace/embedding.h"
#include "facespace/error.h"
#include "facespace/face.h"
#include "facespace/ingest.h"
#include "facespace/pipeline.h"
#include "facespace/store.h"
#include "test_support.h"

namespace facespace {
namespace {

using analysis::GalleryProbeSplit;
using analysis::SplitCandidate;
using analysis::VectorSet;

// `identities` identities named person_00.. with sizes cycling through
// 1..max_size; sample ids are 1, 2, ... in identity order.
std::vector<SplitCandidate> MakeCandidates(int identities, int max_size) {
  std::vector<SplitCandidate> candidates;
  std::int64_t id = 1;
  for (int c = 0; c < identities; ++c) {
    const std::string name = "person_" + std::string(c < 10 ? "0" : "") + std::to_string(c);
    for (int s = 0; s < 1 + c % max_size; ++s) candidates.push_back({name, id++});
  }
  return candidates;
}

// Sample ids of the split's probes (or gallery), grouped by identity name.
std::map<std::string, std::set<std::int64_t>> IdsByIdentity(const std::vector<SplitCandidate>& candidates,
                                                             const GalleryProbeSplit& split, bool probes) {
  std::map<std::string, std::set<std::int64_t>> ids;
  const auto& rows = probes ? split.probes : split.gallery;
  const auto& labels = probes ? split.probe_labels : split.gallery_labels;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    EXPECT_EQ(candidates[rows[k]].identity, split.identities[labels[k]]);
    ids[candidates[rows[k]].identity].insert(candidates[rows[k]].sample_id);
  }
  return ids;
}

TEST(SplitGalleryProbes, SameSeedSameSplit) {
  const std::vector<SplitCandidate> candidates = MakeCandidates(30, 7);
  const GalleryProbeSplit first = analysis::SplitGalleryProbes(candidates, 0.3, 11);
  const GalleryProbeSplit second = analysis::SplitGalleryProbes(candidates, 0.3, 11);
  EXPECT_EQ(first.identities, second.identities);
  EXPECT_EQ(first.gallery, second.gallery);
  EXPECT_EQ(first.probes, second.probes);
  EXPECT_EQ(first.gallery_labels, second.gallery_labels);
  EXPECT_EQ(first.probe_labels, second.probe_labels);

  const GalleryProbeSplit other = analysis::SplitGalleryProbes(candidates, 0.3, 12);
  EXPECT_EQ(other.identities, first.identities);
  EXPECT_EQ(other.probes.size(), first.probes.size());
  EXPECT_NE(other.probes, first.probes);
}

TEST(SplitGalleryProbes, EverySampleInExactlyOneSide) {
  const std::vector<SplitCandidate> candidates = MakeCandidates(30, 7);
  const GalleryProbeSplit split = analysis::SplitGalleryProbes(candidates, 0.3, 5);

  // Sizes cycle 1..7, so 30 identities hold 5 singletons, which take no part.
  EXPECT_EQ(split.identities.size(), 25u);
  EXPECT_TRUE(std::is_sorted(split.identities.begin(), split.identities.end()));
  const auto gallery = IdsByIdentity(candidates, split, false);
  const auto probes = IdsByIdentity(candidates, split, true);
  std::map<std::string, int> sizes;
  for (const SplitCandidate& candidate : candidates) ++sizes[candidate.identity];
  for (const auto& [name, size] : sizes) {
    if (size == 1) {
      EXPECT_EQ(gallery.count(name), 0u) << name;
      EXPECT_EQ(probes.count(name), 0u) << name;
      continue;
    }
    ASSERT_EQ(gallery.count(name), 1u) << name;
    ASSERT_EQ(probes.count(name), 1u) << name;
    const long expected_probes = std::clamp(std::lround(0.3 * size), 1L, long(size) - 1);
    EXPECT_EQ(long(probes.at(name).size()), expected_probes) << name;
    EXPECT_EQ(long(gallery.at(name).size()), size - expected_probes) << name;
    for (std::int64_t id : probes.at(name)) EXPECT_EQ(gallery.at(name).count(id), 0u) << name << " sample " << id;
  }
}

TEST(SplitGalleryProbes, IgnoresCandidateOrder) {
  const std::vector<SplitCandidate> candidates = MakeCandidates(20, 6);
  std::vector<SplitCandidate> shuffled = candidates;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(3));
  const GalleryProbeSplit a = analysis::SplitGalleryProbes(candidates, 0.4, 9);
  const GalleryProbeSplit b = analysis::SplitGalleryProbes(shuffled, 0.4, 9);
  EXPECT_EQ(IdsByIdentity(candidates, a, true), IdsByIdentity(shuffled, b, true));
  EXPECT_EQ(IdsByIdentity(candidates, a, false), IdsByIdentity(shuffled, b, false));
}

TEST(SplitGalleryProbes, OtherIdentitiesDoNotMoveASplit) {
  const std::vector<SplitCandidate> candidates = MakeCandidates(12, 6);
  std::vector<SplitCandidate> more = candidates;
  for (int s = 0; s < 5; ++s) more.push_back({"another_person", 1000 + s});
  const GalleryProbeSplit a = analysis::SplitGalleryProbes(candidates, 0.3, 4);
  const GalleryProbeSplit b = analysis::SplitGalleryProbes(more, 0.3, 4);
  auto probes_b = IdsByIdentity(more, b, true);
  EXPECT_EQ(probes_b.erase("another_person"), 1u);
  EXPECT_EQ(IdsByIdentity(candidates, a, true), probes_b);
}

TEST(SplitGalleryProbes, RejectsFractionOutsideUnitInterval) {
  const std::vector<SplitCandidate> candidates = MakeCandidates(4, 3);
  for (double fraction : {0.0, 1.0, -0.1, 1.5, std::nan("")}) {
    EXPECT_THROW(analysis::SplitGalleryProbes(candidates, fraction, 1), Error) << fraction;
  }
}

// A gallery of two rows per identity in `dimension` dimensions.
VectorSet MakeGallery(int identities, int dimension) {
  VectorSet gallery(dimension);
  for (int c = 0; c < identities; ++c) {
    for (int s = 0; s < 2; ++s) {
      std::vector<float> row(dimension, 0.0f);
      row[c % dimension] = 1.0f + 0.1f * float(s);
      analysis::Append(gallery, row, c, false);
    }
  }
  return gallery;
}

SyntheticSample MadeFrom(std::size_t source_index, std::vector<float> embedding, bool found) {
  SyntheticSample sample;
  sample.source_index = source_index;
  sample.face_found = found;
  std::copy(embedding.begin(), embedding.end(), sample.embedding.begin());
  return sample;
}

TEST(AddSyntheticRows, LabelsRowsWithTheirSourceIdentity) {
  const VectorSet before = MakeGallery(3, kEmbeddingDim);
  std::vector<float> embedding(kEmbeddingDim, 0.5f);
  const std::vector<SyntheticSample> synthetic = {MadeFrom(5, embedding, true), MadeFrom(0, embedding, false),
                                                  MadeFrom(2, embedding, true)};
  std::uint64_t lost = 0;
  const VectorSet after = analysis::AddSyntheticRows(before, synthetic, lost);

  EXPECT_EQ(lost, 1u);
  ASSERT_EQ(after.rows(), before.rows() + 2);
  // The real rows come first and are unchanged.
  EXPECT_TRUE(std::equal(before.vectors.begin(), before.vectors.end(), after.vectors.begin()));
  EXPECT_TRUE(std::equal(before.labels.begin(), before.labels.end(), after.labels.begin()));
  for (std::size_t k = 0; k < before.rows(); ++k) EXPECT_EQ(after.synthetic[k], 0);
  // Source rows 5 and 2 belong to identities 2 and 1.
  EXPECT_EQ(after.labels[before.rows()], 2);
  EXPECT_EQ(after.labels[before.rows() + 1], 1);
  EXPECT_EQ(after.synthetic[before.rows()], 1);
  EXPECT_EQ(after.synthetic[before.rows() + 1], 1);
}

TEST(AddSyntheticRows, RejectsSourceOutsideGallery) {
  const VectorSet before = MakeGallery(2, kEmbeddingDim);
  const std::vector<SyntheticSample> synthetic = {MadeFrom(before.rows(), std::vector<float>(kEmbeddingDim), true)};
  std::uint64_t lost = 0;
  try {
    analysis::AddSyntheticRows(before, synthetic, lost);
    FAIL() << "expected Error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kInternal);
  }
}

// Three identities in the plane. Only probe 0's nearest gallery row in the
// after gallery is a synthetic sample of another identity:
//   probe 0 (A at 0,0):    A real 1.0 away, B synthetic 0.2 away -> contaminated
//   probe 1 (B at 5,0.1):  B real 0.1 away                      -> clean
//   probe 2 (C at 0.1,4):  C synthetic 0.2 away (own identity)  -> clean
//   probe 3 (A at 3.5,0):  B real 1.5 away (real sample)        -> clean
struct PlaneCase {
  VectorSet before{2};
  VectorSet after{2};
  VectorSet probes{2};
};

PlaneCase MakePlaneCase() {
  PlaneCase plane;
  analysis::Append(plane.before, std::vector<float>{1.0f, 0.0f}, 0, false);
  analysis::Append(plane.before, std::vector<float>{5.0f, 0.0f}, 1, false);
  analysis::Append(plane.before, std::vector<float>{0.0f, 5.0f}, 2, false);
  plane.after = plane.before;
  analysis::Append(plane.after, std::vector<float>{0.2f, 0.0f}, 1, true);
  analysis::Append(plane.after, std::vector<float>{0.1f, 4.2f}, 2, true);
  analysis::Append(plane.probes, std::vector<float>{0.0f, 0.0f}, 0, false);
  analysis::Append(plane.probes, std::vector<float>{5.0f, 0.1f}, 1, false);
  analysis::Append(plane.probes, std::vector<float>{0.1f, 4.0f}, 2, false);
  analysis::Append(plane.probes, std::vector<float>{3.5f, 0.0f}, 0, false);
  return plane;
}

// The plane case's probes against its before and after gallery.
std::pair<analysis::ProbeOutcomes, analysis::ProbeOutcomes> MatchPlaneProbes(const PlaneCase& plane) {
  return {analysis::MatchProbes(plane.before, plane.probes, 3, Metric::kL2, 1),
          analysis::MatchProbes(plane.after, plane.probes, 3, Metric::kL2, 1)};
}

TEST(MatchProbes, CountsContaminationOnlyForOtherIdentitySynthetic) {
  const PlaneCase plane = MakePlaneCase();
  const auto [before, after] = MatchPlaneProbes(plane);

  EXPECT_EQ(before.contaminated, (std::vector<std::uint8_t>{0, 0, 0, 0}));
  EXPECT_EQ(after.contaminated, (std::vector<std::uint8_t>{1, 0, 0, 0}));

  CompareOptions options;
  options.bootstrap_replicates = 0;
  EXPECT_EQ(analysis::EvaluateProbes(before, 3, options).figures.contamination.value, 0.0);
  EXPECT_EQ(analysis::EvaluateProbes(after, 3, options).figures.contamination.value, 0.25);
}

TEST(MatchProbes, RanksAgainstSamplesAndCentroids) {
  const PlaneCase plane = MakePlaneCase();
  const auto [before, after] = MatchPlaneProbes(plane);

  // Probe 3 is nearer B (1.5) than A (2.5) in both; probe 0 only after B's
  // synthetic sample arrives at 0.2.
  EXPECT_EQ(before.sample_rank, (std::vector<std::uint32_t>{1, 1, 1, 2}));
  EXPECT_EQ(after.sample_rank, (std::vector<std::uint32_t>{2, 1, 1, 2}));
  // After, B's centroid is (2.6, 0): still farther from probe 0 than A's
  // (1, 0), but nearer probe 3 (0.9) than A's (2.5).
  EXPECT_EQ(before.centroid_rank, (std::vector<std::uint32_t>{1, 1, 1, 2}));
  EXPECT_EQ(after.centroid_rank, (std::vector<std::uint32_t>{1, 1, 1, 2}));
  EXPECT_FLOAT_EQ(before.genuine[0], 1.0f);
  EXPECT_FLOAT_EQ(after.genuine[1], std::hypot(2.4f, 0.1f));
  EXPECT_EQ(before.labels, plane.probes.labels);
  EXPECT_EQ(after.labels, plane.probes.labels);
  // Every probe against the two other identities' centroids.
  EXPECT_EQ(before.impostor_sorted.size(), 8u);
  EXPECT_TRUE(std::is_sorted(after.impostor_sorted.begin(), after.impostor_sorted.end()));

  CompareOptions options;
  options.bootstrap_replicates = 0;
  const ProbeFigures figures = analysis::EvaluateProbes(after, 3, options).figures;
  EXPECT_EQ(figures.probes, 4u);
  EXPECT_EQ(figures.sample_rank1.value, 0.5);
  EXPECT_EQ(figures.centroid_rank1.value, 0.75);
  EXPECT_EQ(figures.sample_rank5.value, 1.0);
}

// Seeded clusters: identity c has a centre on a sphere of radius 1 and
// `per_identity` rows scattered around it with standard deviation `noise`.
VectorSet MakeClusterSet(int identities, int per_identity, int dimension, double noise, std::uint64_t seed,
                         std::uint64_t centre_seed = 77) {
  std::mt19937_64 centre_rng(centre_seed), rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  VectorSet set(dimension);
  for (int c = 0; c < identities; ++c) {
    std::vector<double> centre(dimension);
    double norm = 0;
    for (double& value : centre) {
      value = normal(centre_rng);
      norm += value * value;
    }
    for (int s = 0; s < per_identity; ++s) {
      std::vector<float> row(dimension);
      for (int k = 0; k < dimension; ++k) row[k] = float(centre[k] / std::sqrt(norm) + noise * normal(rng));
      analysis::Append(set, row, c, false);
    }
  }
  return set;
}

// Probe figures before and after for the same probes, with replicates.
struct ProbePair {
  ProbeFigures before;
  ProbeFigures after;
};

ProbePair EvaluateClusterProbes(std::uint64_t seed) {
  const VectorSet before = MakeClusterSet(30, 3, 8, 0.35, 1);
  VectorSet after = before;
  const VectorSet synthetic = MakeClusterSet(30, 2, 8, 0.2, 2);
  for (std::size_t k = 0; k < synthetic.rows(); ++k) {
    analysis::Append(after, std::span<const float>(synthetic.vectors).subspan(k * 8, 8), synthetic.labels[k], true);
  }
  const VectorSet probes = MakeClusterSet(30, 2, 8, 0.35, 3);
  CompareOptions options;
  options.seed = seed;
  options.bootstrap_replicates = 200;
  return {analysis::EvaluateProbes(analysis::MatchProbes(before, probes, 30, Metric::kL2, seed), 30, options).figures,
          analysis::EvaluateProbes(analysis::MatchProbes(after, probes, 30, Metric::kL2, seed), 30, options).figures};
}

TEST(PairedInterval, ReproducibleForSeed) {
  const ProbePair first = EvaluateClusterProbes(21);
  const ProbePair second = EvaluateClusterProbes(21);
  ASSERT_EQ(first.before.centroid_auc.replicates.size(), 200u);
  EXPECT_EQ(first.before.centroid_auc.replicates, second.before.centroid_auc.replicates);
  EXPECT_EQ(first.after.sample_rank1.replicates, second.after.sample_rank1.replicates);

  const MetricComparison a =
      analysis::CompareFigures("auc", true, first.before.centroid_auc, first.after.centroid_auc, 0.95);
  const MetricComparison b =
      analysis::CompareFigures("auc", true, second.before.centroid_auc, second.after.centroid_auc, 0.95);
  EXPECT_TRUE(std::isfinite(a.ci_low));
  EXPECT_EQ(a.ci_low, b.ci_low);
  EXPECT_EQ(a.ci_high, b.ci_high);
  EXPECT_EQ(a.verdict, b.verdict);

  const ProbePair other = EvaluateClusterProbes(22);
  EXPECT_NE(other.before.centroid_auc.replicates, first.before.centroid_auc.replicates);
}

TEST(PairedInterval, DifferencesTakenPerReplicate) {
  // Replicate r of the after figure is paired with replicate r of the before
  // figure. With after = before + 0.01 in every replicate, each difference,
  // and so the interval, is 0.01, although each side's own interval is wide.
  const ProbePair pair = EvaluateClusterProbes(5);
  Figure before = pair.before.sample_rank1;
  Figure after = before;
  after.value += 0.01;
  for (double& value : after.replicates) value += 0.01;
  const MetricComparison row = analysis::CompareFigures("rank1", true, before, after, 0.95);
  EXPECT_NEAR(row.difference, 0.01, 1e-12);
  EXPECT_NEAR(row.ci_low, 0.01, 1e-12);
  EXPECT_NEAR(row.ci_high, 0.01, 1e-12);
  EXPECT_EQ(row.verdict, "improved");
  EXPECT_GT(before.ci_high - before.ci_low, 0.05);
}

Figure WithReplicates(double value, std::vector<double> replicates) {
  Figure figure;
  figure.value = value;
  figure.replicates = std::move(replicates);
  return figure;
}

TEST(CompareFigures, IntervalOfReplicateDifferences) {
  // Differences k/100 - 0.5 for k = 0..100: the 90% interval is [-0.45, 0.45].
  std::vector<double> before_values, after_values;
  for (int k = 0; k <= 100; ++k) {
    before_values.push_back(1.0);
    after_values.push_back(0.5 + k / 100.0);
  }
  const MetricComparison row =
      analysis::CompareFigures("x", true, WithReplicates(1.0, before_values), WithReplicates(1.1, after_values), 0.9);
  EXPECT_EQ(row.key, "x");
  EXPECT_NEAR(row.difference, 0.1, 1e-12);
  EXPECT_NEAR(row.ci_low, -0.45, 1e-12);
  EXPECT_NEAR(row.ci_high, 0.45, 1e-12);
  EXPECT_EQ(row.verdict, "no significant change");
}

TEST(CompareFigures, LowerIsBetterReversesVerdict) {
  const Figure before = WithReplicates(0.10, {0.10, 0.12, 0.11});
  const Figure after = WithReplicates(0.05, {0.06, 0.07, 0.05});
  EXPECT_EQ(analysis::CompareFigures("eer", false, before, after, 0.95).verdict, "improved");
  EXPECT_EQ(analysis::CompareFigures("rank1", true, before, after, 0.95).verdict, "worse");
  EXPECT_EQ(analysis::CompareFigures("eer", false, after, before, 0.95).verdict, "worse");
}

TEST(CompareFigures, NoIntervalWithoutPairedReplicates) {
  const Figure three = WithReplicates(0.5, {0.5, 0.6, 0.4});
  const Figure two = WithReplicates(0.7, {0.7, 0.8});
  const Figure none = WithReplicates(0.9, {});
  for (const auto& [before, after] : {std::pair{three, two}, std::pair{none, none}, std::pair{three, none}}) {
    const MetricComparison row = analysis::CompareFigures("x", true, before, after, 0.95);
    EXPECT_TRUE(std::isnan(row.ci_low));
    EXPECT_TRUE(std::isnan(row.ci_high));
    EXPECT_EQ(row.verdict, "n/a");
    EXPECT_NEAR(row.difference, after.value - before.value, 1e-15);
  }
}

TEST(Verdict, Table) {
  struct Case {
    double low, high;
    bool higher_is_better;
    const char* verdict;
  };
  const double nan = std::nan("");
  const Case cases[] = {
      {0.01, 0.03, true, "improved"},
      {0.01, 0.03, false, "worse"},
      {-0.03, -0.01, true, "worse"},
      {-0.03, -0.01, false, "improved"},
      {-0.01, 0.01, true, "no significant change"},
      {0.0, 0.02, true, "no significant change"},   // an interval touching 0 contains it
      {-0.02, 0.0, false, "no significant change"},
      {0.0, 0.0, true, "no significant change"},
      {nan, 0.01, true, "n/a"},
      {0.01, nan, false, "n/a"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Verdict(c.low, c.high, c.higher_is_better), c.verdict)
        << "[" << c.low << ", " << c.high << "] higher_is_better=" << c.higher_is_better;
  }
}

LabeledEmbeddings ToLabeled(const VectorSet& set, int identities) {
  LabeledEmbeddings data;
  data.dimension = set.dimension;
  data.vectors = set.vectors;
  data.labels = set.labels;
  data.synthetic = set.synthetic;
  for (int c = 0; c < identities; ++c) data.identity_names.push_back("person_" + std::to_string(c));
  return data;
}

TEST(AddGalleryComparisons, SameSpaceAndSeedGivesZeroIntervals) {
  const LabeledEmbeddings data = ToLabeled(MakeClusterSet(30, 3, 8, 0.35, 1), 30);
  AnalysisOptions options;
  options.bootstrap_replicates = 40;
  options.knn_k = 3;
  options.seed = 8;
  const AnalysisResult first = AnalyzeEmbeddings(data, options);
  const AnalysisResult second = AnalyzeEmbeddings(data, options);
  std::vector<MetricComparison> rows;
  analysis::AddGalleryComparisons(rows, first, second, 0.95);

  ASSERT_EQ(rows.size(), 13u);
  EXPECT_EQ(rows.front().key, "gallery.d_prime");
  EXPECT_EQ(rows.back().key, "gallery.fisher_ratio");
  for (const MetricComparison& row : rows) {
    EXPECT_EQ(row.difference, 0.0) << row.key;
    EXPECT_EQ(row.ci_low, 0.0) << row.key;
    EXPECT_EQ(row.ci_high, 0.0) << row.key;
    EXPECT_EQ(row.verdict, "no significant change") << row.key;
  }

  // Another seed draws other identities, so the differences spread.
  options.seed = 9;
  const AnalysisResult reseeded = AnalyzeEmbeddings(data, options);
  rows.clear();
  analysis::AddGalleryComparisons(rows, first, reseeded, 0.95);
  const auto auc = std::find_if(rows.begin(), rows.end(), [](const auto& row) { return row.key == "gallery.auc"; });
  ASSERT_NE(auc, rows.end());
  EXPECT_LT(auc->ci_low, auc->ci_high);
}


std::set<std::string> Keys(const nlohmann::json& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.insert(key);
  return keys;
}

// The keys docs/metrics.md lists for `compare --json`, level by level.
TEST(CompareJson, KeysMatchDocumentedSchema) {
  CompareResult result;
  result.robustness.push_back({"light", 1, {}, {}});
  result.comparisons.push_back(analysis::CompareFigures("gallery.eer", false, Figure{}, Figure{}, 0.95));
  result.response.push_back({"light", {"gamma"}, {ResponsePoint{}}, kNotAvailable});
  const nlohmann::json json = ToJson(result);

  EXPECT_EQ(json["format"], "facespace-compare");
  EXPECT_EQ(json["format_version"], kCompareFormatVersion);
  EXPECT_EQ(Keys(json), (std::set<std::string>{"format", "format_version", "options", "counts", "before", "after",
                                               "probes_before", "probes_after", "robustness", "comparisons",
                                               "match_threshold", "response", "seconds"}));
  EXPECT_EQ(Keys(json["options"]),
            (std::set<std::string>{"recipe", "recipe_canonical", "per_image", "seed", "probe_fraction", "metric",
                                   "bootstrap_replicates", "confidence", "robustness_presets", "response_sources",
                                   "response_strengths"}));
  EXPECT_EQ(Keys(json["counts"]), (std::set<std::string>{"identities", "gallery_samples", "probe_samples",
                                                         "synthetic_samples", "synthetic_lost"}));
  const std::set<std::string> probe_keys = {"probes", "sample_rank1", "sample_rank5", "centroid_rank1",
                                            "centroid_rank5", "centroid_eer", "centroid_auc",
                                            "centroid_tar_far_1e-2", "centroid_tar_far_1e-3", "contamination"};
  EXPECT_EQ(Keys(json["probes_before"]), probe_keys);
  EXPECT_EQ(Keys(json["probes_after"]), probe_keys);
  EXPECT_EQ(Keys(json["probes_before"]["contamination"]),
            (std::set<std::string>{"value", "ci_low", "ci_high", "supported"}));
  EXPECT_EQ(Keys(json["robustness"][0]), (std::set<std::string>{"preset", "lost", "before", "after"}));
  EXPECT_EQ(Keys(json["robustness"][0]["after"]), probe_keys);
  EXPECT_EQ(Keys(json["comparisons"][0]), (std::set<std::string>{"key", "higher_is_better", "before", "after",
                                                                 "difference", "ci_low", "ci_high", "verdict"}));
  EXPECT_EQ(Keys(json["response"][0]), (std::set<std::string>{"family", "transforms", "points", "crossing_strength"}));
  EXPECT_EQ(Keys(json["response"][0]["points"][0]),
            (std::set<std::string>{"strength", "samples", "lost", "mean_distance", "p95_distance"}));
  // "before" and "after" are whole analysis documents.
  EXPECT_EQ(json["before"]["format"], "facespace-analysis");
  EXPECT_EQ(json["after"]["format"], "facespace-analysis");
}
}  // namespace
}  // namespace facespace

namespace facespace {
namespace {

namespace fs = std::filesystem;

// Four identities with four LFW images each and one with a single image.
const std::vector<std::string> kCompareImages = {
    "Aaron_Peirsol/Aaron_Peirsol_0001.jpg", "Aaron_Peirsol/Aaron_Peirsol_0002.jpg",
    "Aaron_Peirsol/Aaron_Peirsol_0003.jpg", "Aaron_Peirsol/Aaron_Peirsol_0004.jpg",
    "Abel_Pacheco/Abel_Pacheco_0001.jpg",   "Abel_Pacheco/Abel_Pacheco_0002.jpg",
    "Abel_Pacheco/Abel_Pacheco_0003.jpg",   "Abel_Pacheco/Abel_Pacheco_0004.jpg",
    "Adam_Sandler/Adam_Sandler_0001.jpg",   "Adam_Sandler/Adam_Sandler_0002.jpg",
    "Adam_Sandler/Adam_Sandler_0003.jpg",   "Adam_Sandler/Adam_Sandler_0004.jpg",
    "Abdoulaye_Wade/Abdoulaye_Wade_0001.jpg", "Abdoulaye_Wade/Abdoulaye_Wade_0002.jpg",
    "Abdoulaye_Wade/Abdoulaye_Wade_0003.jpg", "Abdoulaye_Wade/Abdoulaye_Wade_0004.jpg",
    "Abdullah/Abdullah_0001.jpg"};

// The JSON of a comparison without its wall times.
nlohmann::json WithoutTimes(nlohmann::json json) {
  json.erase("seconds");
  json["before"].erase("seconds");
  json["after"].erase("seconds");
  return json;
}

TEST(CompareBeforeAfter, SplitsSynthesisesAndReproduces) {
  FACESPACE_REQUIRE_TEST_DATA("lfw/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg");
  if (!fs::exists(DefaultModelPath())) {
    GTEST_SKIP() << "model not found: " << DefaultModelPath() << " (run scripts/setup.sh)";
  }
  if (!fs::exists(DefaultLandmarkModelPath())) {
    GTEST_SKIP() << "landmark model not found: " << DefaultLandmarkModelPath();
  }
  testing::TempDir temp;
  const fs::path dataset = temp.path() / "dataset";
  for (const std::string& image : kCompareImages) {
    fs::create_directories((dataset / image).parent_path());
    fs::copy_file(testing::TestDataDir() / "lfw/images" / image, dataset / image);
  }
  PipelineOptions pipeline_options;
  pipeline_options.threads = 2;
  pipeline_options.detect.fallback_box = true;
  const Pipeline pipeline(DefaultModelPath(), DefaultLandmarkModelPath(), pipeline_options);
  StoreConfig config;
  config.model_id = pipeline.model_info().model_id;
  Store store = Store::Create(temp.path() / "store", config);
  ASSERT_EQ(Ingest(ScanDataset(dataset), pipeline, store).faces, 17);

  CompareOptions options;
  options.recipe = "rotate(-10,10) gamma(0.8,1.25)";
  options.per_image = 1;
  options.seed = 3;
  options.bootstrap_replicates = 50;
  options.dataset_root = dataset;
  options.robustness_presets = {"light"};
  options.response_sources = 1;
  options.response_strengths = {1.0};
  options.jobs = 2;
  const CompareResult result = CompareBeforeAfter(store, pipeline, options);

  // One probe per identity (round(0.3 * 4) = 1); Abdullah's single image
  // takes no part.
  EXPECT_EQ(result.identities, 4u);
  EXPECT_EQ(result.probe_samples, 4u);
  EXPECT_EQ(result.gallery_samples, 12u);
  EXPECT_EQ(result.synthetic_samples + result.synthetic_lost, 12u);
  EXPECT_EQ(result.before.counts.samples, 12u);
  EXPECT_EQ(result.before.counts.synthetic_samples, 0u);
  EXPECT_EQ(result.after.counts.real_samples, 12u);
  EXPECT_EQ(result.after.counts.synthetic_samples, result.synthetic_samples);

  // The same real probes before and after.
  EXPECT_EQ(result.probes_before.probes, 4u);
  EXPECT_EQ(result.probes_after.probes, 4u);
  ASSERT_EQ(result.robustness.size(), 1u);
  EXPECT_EQ(result.robustness[0].before.probes, 4u - result.robustness[0].lost);
  EXPECT_EQ(result.robustness[0].after.probes, result.robustness[0].before.probes);
  EXPECT_EQ(result.probes_before.contamination.value, 0.0);

  // 13 gallery rows, 9 probe rows and 9 rows for the preset.
  EXPECT_EQ(result.comparisons.size(), 13u + 9u + (result.robustness[0].before.probes > 0 ? 9u : 0u));
  for (const MetricComparison& row : result.comparisons) {
    if (std::isnan(row.ci_low)) continue;
    EXPECT_EQ(row.verdict, Verdict(row.ci_low, row.ci_high, row.higher_is_better)) << row.key;
  }
  ASSERT_EQ(result.response.size(), 4u);
  EXPECT_EQ(result.response[0].points.size(), 1u);

  const CompareResult again = CompareBeforeAfter(store, pipeline, options);
  EXPECT_EQ(WithoutTimes(ToJson(again)), WithoutTimes(ToJson(result)));
}

}  // namespace
}  // namespace facespace
