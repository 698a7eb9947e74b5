// The steps of the before/after comparison that need no model or store: the
// gallery/probe split, the after gallery, probe matching and the paired
// comparison of figures. CompareBeforeAfter() chains them; the tests call
// them on constructed embeddings.
#ifndef FACESPACE_SRC_ANALYSIS_COMPARE_INTERNAL_H_
#define FACESPACE_SRC_ANALYSIS_COMPARE_INTERNAL_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "analysis/analysis_internal.h"
#include "facespace/compare.h"
#include "facespace/synth.h"

namespace facespace::analysis {

// A probe or gallery set as plain arrays. Labels index the split identities.
struct VectorSet {
  explicit VectorSet(int dimension) : dimension(dimension) {}

  int dimension = 0;
  std::vector<float> vectors;          // rows() * dimension floats, row-major
  std::vector<std::int32_t> labels;
  std::vector<std::uint8_t> synthetic;  // 1 for a synthetic row
  std::size_t rows() const { return labels.size(); }
};

void Append(VectorSet& set, std::span<const float> vector, std::int32_t label, bool synthetic);

// One real sample, as input of the split.
struct SplitCandidate {
  std::string identity;
  std::int64_t sample_id = 0;
};

// Gallery and probe rows as positions in the candidate list. Labels index
// `identities`, the names of the identities taking part in ascending order.
struct GalleryProbeSplit {
  std::vector<std::string> identities;
  std::vector<std::size_t> gallery;
  std::vector<std::int32_t> gallery_labels;
  std::vector<std::size_t> probes;
  std::vector<std::int32_t> probe_labels;
};

// Splits every identity with at least two candidates: its candidates, ordered
// by sample id, are shuffled with a seed derived from `seed` and the identity's
// name, and the first round(probe_fraction * n) of them, clamped to 1 .. n - 1,
// become probes. Identities with one candidate take no part. The split of an
// identity depends only on its own candidates, the seed and the fraction.
// Throws Error(kInvalidArgument) unless probe_fraction is in (0, 1).
GalleryProbeSplit SplitGalleryProbes(std::span<const SplitCandidate> candidates, double probe_fraction,
                                     std::uint64_t seed);

// Returns the after gallery: every row of `before`, then each synthetic
// sample whose face was found, labelled with the identity of the `before`
// row it was made from (SyntheticSample::source_index indexes `before`).
// Adds the samples whose face was lost to `lost`. Throws Error(kInternal)
// when a source index is not a row of `before`.
VectorSet AddSyntheticRows(const VectorSet& before, std::span<const SyntheticSample> synthetic,
                           std::uint64_t& lost);

// Per-probe outcomes against one gallery, which bootstrap replicates reweight.
struct ProbeOutcomes {
  std::vector<std::int32_t> labels;
  std::vector<std::uint32_t> sample_rank;    // 1 + identities whose closest sample beats the own identity's
  std::vector<std::uint32_t> centroid_rank;  // 1 + identities whose centroid is closer than the own one
  std::vector<std::uint8_t> contaminated;    // nearest gallery row is synthetic and of another identity
  std::vector<float> genuine;                // probe to own centroid, in probe order
  std::vector<float> impostor_sorted;        // probe to other centroids, sorted
  std::vector<LabeledPair> genuine_labeled;  // sorted by distance
  std::vector<LabeledPair> impostor_sample;  // seeded sample, sorted by distance
  double impostor_scale = 1;                 // pairs each sampled pair stands for
};

// Matches every probe against the gallery rows and against the per-identity
// centroids of the gallery. `identities` is the number of labels; every label
// needs at least one gallery row. Distances are in `metric` (kL2 or kCosine).
ProbeOutcomes MatchProbes(const VectorSet& gallery, const VectorSet& probes, std::size_t identities, Metric metric,
                          std::uint64_t seed);

struct ProbeEvaluation {
  ProbeFigures figures;
  std::vector<std::vector<double>> replicates;  // [figure][replicate]
};

// Figures of one probe set with bootstrap intervals over identities
// (options.seed, bootstrap_replicates and confidence). The same seed and
// identity count give the same identity draws, so evaluations of the same
// probes against two galleries have paired replicates.
ProbeEvaluation EvaluateProbes(const ProbeOutcomes& outcomes, std::size_t identities, const CompareOptions& options);

// Compares one figure before and after: the difference of the point values,
// the percentile interval of the replicate-by-replicate differences (NaN
// unless both have the same nonzero number of replicates) and the verdict.
MetricComparison CompareFigures(std::string key, bool higher_is_better, const Figure& before, const Figure& after,
                                double confidence);

// Appends the rows "<prefix>.sample.rank1" .. "<prefix>.contamination".
void AddProbeComparisons(std::vector<MetricComparison>& rows, const std::string& prefix, const ProbeFigures& before,
                         const ProbeFigures& after, double confidence);

// Appends the rows "gallery.d_prime" .. "gallery.fisher_ratio".
void AddGalleryComparisons(std::vector<MetricComparison>& rows, const AnalysisResult& before,
                           const AnalysisResult& after, double confidence);

}  // namespace facespace::analysis

#endif  // FACESPACE_SRC_ANALYSIS_COMPARE_INTERNAL_H_
