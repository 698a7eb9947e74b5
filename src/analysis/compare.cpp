// The before/after comparison: split, synthesis from the gallery, analysis of
// both gallery spaces, probe matching, robustness and transform response.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <tuple>
#include <utility>

#include <cblas.h>
#include <fmt/format.h>

#include "analysis/analysis_internal.h"
#include "analysis/compare_internal.h"
#include "facespace/compare.h"
#include "facespace/error.h"
#include "facespace/log.h"
#include "facespace/pipeline.h"
#include "facespace/synth.h"

namespace facespace {
namespace {

using Clock = std::chrono::steady_clock;

// Impostor pairs a probe bootstrap replicate reweights (a seeded uniform sample).
constexpr std::size_t kReplicateImpostorPairs = 1'000'000;
// Probes per block of the probe-vs-gallery product.
constexpr std::size_t kProbeBlock = 256;

std::uint64_t Mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::uint64_t HashText(std::string_view text) {
  std::uint64_t hash = 0xCBF29CE484222325ULL;  // FNV-1a
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001B3ULL;
  return hash;
}

// One real sample with what synthesis needs to reopen its face.
struct RealSample {
  Sample sample;
  SynthesisSource source;
};

using analysis::ProbeEvaluation;
using analysis::ProbeOutcomes;
using analysis::VectorSet;

// Seeded Fisher-Yates shuffle with a portable index draw.
template <typename T>
void Shuffle(std::vector<T>& items, std::uint64_t seed) {
  std::mt19937_64 rng(Mix(seed));
  for (std::size_t i = items.size(); i > 1; --i) {
    const auto j = std::size_t((static_cast<unsigned __int128>(rng()) * i) >> 64);
    std::swap(items[i - 1], items[j]);
  }
}

LabeledEmbeddings ToLabeled(const VectorSet& set, const std::vector<std::string>& names) {
  LabeledEmbeddings data;
  data.dimension = set.dimension;
  data.vectors = set.vectors;
  data.labels = set.labels;
  data.synthetic = set.synthetic;
  data.identity_names = names;
  return data;
}

std::vector<float> Normalised(std::span<const float> vectors, int dimension) {
  std::vector<float> out(vectors.begin(), vectors.end());
  for (std::size_t i = 0; i * dimension < out.size(); ++i) {
    double norm = 0;
    for (int k = 0; k < dimension; ++k) norm += double(out[i * dimension + k]) * out[i * dimension + k];
    const double scale = norm > 0 ? 1.0 / std::sqrt(norm) : 0.0;
    for (int k = 0; k < dimension; ++k) out[i * dimension + k] = float(out[i * dimension + k] * scale);
  }
  return out;
}

enum ProbeIndex { kSampleRank1, kSampleRank5, kCentroidRank1, kCentroidRank5, kCentroidEer, kCentroidAuc,
                  kTar1e2, kTar1e3, kContamination, kProbeFigureCount };

// Probe figures under identity weights (all 1 when `weights` is empty).
std::vector<double> ProbeFigureValues(const ProbeOutcomes& outcomes, const std::vector<std::uint32_t>& weights,
                                      bool exact) {
  std::vector<double> out(kProbeFigureCount, kNotAvailable);
  auto weight = [&](std::int32_t label) { return weights.empty() ? 1.0 : double(weights[label]); };
  double total = 0, s1 = 0, s5 = 0, c1 = 0, c5 = 0, contaminated = 0;
  for (std::size_t i = 0; i < outcomes.labels.size(); ++i) {
    const double w = weight(outcomes.labels[i]);
    total += w;
    s1 += w * (outcomes.sample_rank[i] <= 1);
    s5 += w * (outcomes.sample_rank[i] <= 5);
    c1 += w * (outcomes.centroid_rank[i] <= 1);
    c5 += w * (outcomes.centroid_rank[i] <= 5);
    contaminated += w * outcomes.contaminated[i];
  }
  if (total > 0) {
    out[kSampleRank1] = s1 / total;
    out[kSampleRank5] = s5 / total;
    out[kCentroidRank1] = c1 / total;
    out[kCentroidRank5] = c5 / total;
    out[kContamination] = contaminated / total;
  }
  const double targets[] = {1e-2, 1e-3};
  std::vector<float> genuine;
  for (const auto& pair : outcomes.genuine_labeled) genuine.push_back(pair.distance);
  analysis::SweepFigures sweep;
  if (exact) {
    sweep = analysis::SweepScores(genuine, nullptr, outcomes.impostor_sorted, nullptr, targets, 0);
  } else {
    std::vector<double> genuine_weights, impostor_weights;
    std::vector<float> impostor;
    for (const auto& pair : outcomes.genuine_labeled) genuine_weights.push_back(weight(pair.first));
    for (const auto& pair : outcomes.impostor_sample) {
      impostor.push_back(pair.distance);
      impostor_weights.push_back(weight(pair.first) * weight(pair.second) * outcomes.impostor_scale);
    }
    sweep = analysis::SweepScores(genuine, genuine_weights.data(), impostor, impostor_weights.data(), targets, 0);
  }
  out[kCentroidEer] = sweep.eer;
  out[kCentroidAuc] = sweep.auc;
  out[kTar1e2] = 1.0 - sweep.fnmr[0];
  out[kTar1e3] = 1.0 - sweep.fnmr[1];
  return out;
}

}  // namespace

namespace analysis {

void Append(VectorSet& set, std::span<const float> vector, std::int32_t label, bool synthetic) {
  set.vectors.insert(set.vectors.end(), vector.begin(), vector.end());
  set.labels.push_back(label);
  set.synthetic.push_back(synthetic ? 1 : 0);
}

GalleryProbeSplit SplitGalleryProbes(std::span<const SplitCandidate> candidates, double probe_fraction,
                                     std::uint64_t seed) {
  if (!(probe_fraction > 0 && probe_fraction < 1)) {
    throw Error(ErrorCategory::kInvalidArgument, "probe fraction: must be in (0, 1)");
  }
  std::map<std::string, std::vector<std::size_t>> by_identity;
  for (std::size_t k = 0; k < candidates.size(); ++k) by_identity[candidates[k].identity].push_back(k);

  // Seeded by the identity's name, so adding other identities to the store
  // does not change this identity's split.
  GalleryProbeSplit split;
  for (auto& [name, members] : by_identity) {
    if (members.size() < 2) continue;
    std::sort(members.begin(), members.end(),
              [&](std::size_t a, std::size_t b) { return candidates[a].sample_id < candidates[b].sample_id; });
    Shuffle(members, seed ^ HashText(name));
    const long n = long(members.size());
    const long probes = std::clamp(std::lround(probe_fraction * double(n)), 1L, n - 1);
    const std::int32_t label = std::int32_t(split.identities.size());
    split.identities.push_back(name);
    for (long k = 0; k < n; ++k) {
      (k < probes ? split.probes : split.gallery).push_back(members[k]);
      (k < probes ? split.probe_labels : split.gallery_labels).push_back(label);
    }
  }
  return split;
}

VectorSet AddSyntheticRows(const VectorSet& before, std::span<const SyntheticSample> synthetic,
                           std::uint64_t& lost) {
  VectorSet after = before;
  for (const SyntheticSample& sample : synthetic) {
    if (sample.source_index >= before.rows()) {
      throw Error(ErrorCategory::kInternal, "synthetic sample: source index " + std::to_string(sample.source_index) +
                                                " is outside the gallery's " + std::to_string(before.rows()) + " rows");
    }
    if (!sample.face_found) {
      ++lost;
      continue;
    }
    Append(after, sample.embedding, before.labels[sample.source_index], true);
  }
  return after;
}

ProbeOutcomes MatchProbes(const VectorSet& gallery, const VectorSet& probes, std::size_t identities,
                          Metric metric, std::uint64_t seed) {
  const int d = gallery.dimension;
  const std::size_t g = gallery.rows();
  const std::size_t p = probes.rows();
  const bool cosine = metric == Metric::kCosine;
  const std::vector<float> gallery_vectors = cosine ? Normalised(gallery.vectors, d) : gallery.vectors;
  const std::vector<float> probe_vectors = cosine ? Normalised(probes.vectors, d) : probes.vectors;

  // Centroid templates in double precision.
  std::vector<double> centroids(identities * d, 0.0);
  std::vector<std::uint64_t> sizes(identities, 0);
  for (std::size_t i = 0; i < g; ++i) {
    ++sizes[gallery.labels[i]];
    for (int k = 0; k < d; ++k) centroids[gallery.labels[i] * d + k] += gallery_vectors[i * d + k];
  }
  for (std::size_t c = 0; c < identities; ++c) {
    for (int k = 0; k < d; ++k) centroids[c * d + k] /= double(std::max<std::uint64_t>(1, sizes[c]));
  }
  auto distance_to = [&](const float* probe, const double* centroid) {
    if (cosine) {
      double dot = 0, norm = 0;
      for (int k = 0; k < d; ++k) {
        dot += probe[k] * centroid[k];
        norm += centroid[k] * centroid[k];
      }
      return norm > 0 ? std::max(0.0, 1.0 - dot / std::sqrt(norm)) : 1.0;
    }
    double squared = 0;
    for (int k = 0; k < d; ++k) squared += (probe[k] - centroid[k]) * (probe[k] - centroid[k]);
    return std::sqrt(squared);
  };

  std::vector<float> gallery_norms(g);
  for (std::size_t i = 0; i < g; ++i) {
    double squared = 0;
    for (int k = 0; k < d; ++k) squared += double(gallery_vectors[i * d + k]) * gallery_vectors[i * d + k];
    gallery_norms[i] = float(squared);
  }

  ProbeOutcomes out;
  out.labels = probes.labels;
  out.sample_rank.assign(p, 0);
  out.centroid_rank.assign(p, 0);
  out.contaminated.assign(p, 0);
  out.genuine.assign(p, 0.0f);
  std::vector<std::vector<float>> impostors(p);
  std::vector<float> dots(kProbeBlock * g);
  for (std::size_t block = 0; block < p; block += kProbeBlock) {
    const std::size_t rows = std::min(kProbeBlock, p - block);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(g), d, 1.0f,
                probe_vectors.data() + block * d, d, gallery_vectors.data(), d, 0.0f, dots.data(), int(g));
#pragma omp parallel for schedule(dynamic, 8)
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t i = block + r;
      const float* probe = probe_vectors.data() + i * d;
      double own_norm = 0;
      for (int k = 0; k < d; ++k) own_norm += double(probe[k]) * probe[k];
      std::vector<float> nearest(identities, std::numeric_limits<float>::infinity());
      float best = std::numeric_limits<float>::infinity();
      std::size_t best_index = 0;
      for (std::size_t j = 0; j < g; ++j) {
        const float dot = dots[r * g + j];
        float distance;
        if (cosine) {
          distance = std::max(0.0f, 1.0f - dot);
        } else {
          const float squared = float(own_norm) + gallery_norms[j] - 2.0f * dot;
          distance = squared > 0 ? std::sqrt(squared) : 0.0f;
        }
        nearest[gallery.labels[j]] = std::min(nearest[gallery.labels[j]], distance);
        if (distance < best) {
          best = distance;
          best_index = j;
        }
      }
      const std::int32_t own = probes.labels[i];
      std::uint32_t closer = 0;
      for (std::size_t c = 0; c < identities; ++c) {
        if (std::int32_t(c) != own && nearest[c] < nearest[own]) ++closer;
      }
      out.sample_rank[i] = closer + 1;
      out.contaminated[i] = gallery.synthetic[best_index] && gallery.labels[best_index] != own;

      std::vector<double> to_centroid(identities);
      for (std::size_t c = 0; c < identities; ++c) to_centroid[c] = distance_to(probe, centroids.data() + c * d);
      std::uint32_t centroid_closer = 0;
      for (std::size_t c = 0; c < identities; ++c) {
        if (std::int32_t(c) == own) continue;
        if (to_centroid[c] < to_centroid[own]) ++centroid_closer;
        impostors[i].push_back(float(to_centroid[c]));
      }
      out.centroid_rank[i] = centroid_closer + 1;
      out.genuine[i] = float(to_centroid[own]);
    }
  }

  // Exact score arrays, and a seeded uniform sample of impostor pairs with
  // labels for the bootstrap replicates.
  const std::uint64_t impostor_total = std::uint64_t(p) * (identities - 1);
  const double keep = std::min(1.0, double(kReplicateImpostorPairs) / double(std::max<std::uint64_t>(1, impostor_total)));
  std::mt19937_64 rng(Mix(seed ^ 0xC0FFEEULL));
  for (std::size_t i = 0; i < p; ++i) {
    const std::int32_t own = probes.labels[i];
    out.genuine_labeled.push_back({out.genuine[i], own, own});
    std::size_t index = 0;
    for (std::size_t c = 0; c < identities; ++c) {
      if (std::int32_t(c) == own) continue;
      const float value = impostors[i][index++];
      out.impostor_sorted.push_back(value);
      if (double(rng() >> 11) * 0x1.0p-53 < keep) out.impostor_sample.push_back({value, own, std::int32_t(c)});
    }
    std::vector<float>().swap(impostors[i]);
  }
  auto by_distance = [](const LabeledPair& a, const LabeledPair& b) {
    if (a.distance != b.distance) return a.distance < b.distance;
    return a.first != b.first ? a.first < b.first : a.second < b.second;
  };
  std::sort(out.genuine_labeled.begin(), out.genuine_labeled.end(), by_distance);
  std::sort(out.impostor_sample.begin(), out.impostor_sample.end(), by_distance);
  RadixSortNonNegative(out.impostor_sorted);
  out.impostor_scale = out.impostor_sample.empty() ? 0.0 : double(impostor_total) / double(out.impostor_sample.size());
  return out;
}

ProbeEvaluation EvaluateProbes(const ProbeOutcomes& outcomes, std::size_t identities, const CompareOptions& options) {
  ProbeEvaluation evaluation;
  const std::vector<double> point = ProbeFigureValues(outcomes, {}, true);
  evaluation.replicates.assign(kProbeFigureCount, std::vector<double>(options.bootstrap_replicates));
#pragma omp parallel for schedule(dynamic, 4)
  for (int r = 0; r < options.bootstrap_replicates; ++r) {
    const std::vector<double> values =
        ProbeFigureValues(outcomes, BootstrapIdentityWeights(options.seed, r, identities), false);
    for (int f = 0; f < kProbeFigureCount; ++f) evaluation.replicates[f][r] = values[f];
  }
  Figure* targets[kProbeFigureCount] = {
      &evaluation.figures.sample_rank1, &evaluation.figures.sample_rank5, &evaluation.figures.centroid_rank1,
      &evaluation.figures.centroid_rank5, &evaluation.figures.centroid_eer, &evaluation.figures.centroid_auc,
      &evaluation.figures.centroid_tar_far_1e2, &evaluation.figures.centroid_tar_far_1e3,
      &evaluation.figures.contamination};
  const std::uint64_t impostor_pairs = outcomes.impostor_sorted.size();
  for (int f = 0; f < kProbeFigureCount; ++f) {
    Figure& figure = *targets[f];
    figure.value = point[f];
    const bool unsupported = (f == kTar1e2 && impostor_pairs < 100) || (f == kTar1e3 && impostor_pairs < 1000);
    if (unsupported) {
      figure = Figure{};
      figure.supported = false;
      figure.note = "not supported by the data: fewer than 1/FAR impostor pairs";
      continue;
    }
    if (options.bootstrap_replicates > 0) {
      const auto [low, high] = PercentileInterval(evaluation.replicates[f], options.confidence);
      figure.ci_low = low;
      figure.ci_high = high;
      figure.replicates = evaluation.replicates[f];
    }
  }
  evaluation.figures.probes = outcomes.labels.size();
  return evaluation;
}

MetricComparison CompareFigures(std::string key, bool higher_is_better, const Figure& before, const Figure& after,
                         double confidence) {
  MetricComparison row;
  row.key = std::move(key);
  row.higher_is_better = higher_is_better;
  row.before = before.value;
  row.after = after.value;
  row.difference = after.value - before.value;
  if (!before.replicates.empty() && before.replicates.size() == after.replicates.size()) {
    std::vector<double> differences(before.replicates.size());
    for (std::size_t r = 0; r < differences.size(); ++r) differences[r] = after.replicates[r] - before.replicates[r];
    const auto [low, high] = PercentileInterval(differences, confidence);
    row.ci_low = low;
    row.ci_high = high;
  }
  row.verdict = Verdict(row.ci_low, row.ci_high, higher_is_better);
  return row;
}

void AddProbeComparisons(std::vector<MetricComparison>& rows, const std::string& prefix, const ProbeFigures& before,
                         const ProbeFigures& after, double confidence) {
  rows.push_back(CompareFigures(prefix + ".sample.rank1", true, before.sample_rank1, after.sample_rank1, confidence));
  rows.push_back(CompareFigures(prefix + ".sample.rank5", true, before.sample_rank5, after.sample_rank5, confidence));
  rows.push_back(CompareFigures(prefix + ".centroid.rank1", true, before.centroid_rank1, after.centroid_rank1, confidence));
  rows.push_back(CompareFigures(prefix + ".centroid.rank5", true, before.centroid_rank5, after.centroid_rank5, confidence));
  rows.push_back(CompareFigures(prefix + ".centroid.eer", false, before.centroid_eer, after.centroid_eer, confidence));
  rows.push_back(CompareFigures(prefix + ".centroid.auc", true, before.centroid_auc, after.centroid_auc, confidence));
  rows.push_back(CompareFigures(prefix + ".centroid.tar_far_1e-2", true, before.centroid_tar_far_1e2,
                         after.centroid_tar_far_1e2, confidence));
  rows.push_back(CompareFigures(prefix + ".centroid.tar_far_1e-3", true, before.centroid_tar_far_1e3,
                         after.centroid_tar_far_1e3, confidence));
  rows.push_back(CompareFigures(prefix + ".contamination", false, before.contamination, after.contamination, confidence));
}

void AddGalleryComparisons(std::vector<MetricComparison>& rows, const AnalysisResult& before,
                           const AnalysisResult& after, double confidence) {
  const auto& vb = before.verification;
  const auto& va = after.verification;
  rows.push_back(CompareFigures("gallery.d_prime", true, vb.d_prime, va.d_prime, confidence));
  rows.push_back(CompareFigures("gallery.eer", false, vb.eer, va.eer, confidence));
  rows.push_back(CompareFigures("gallery.auc", true, vb.auc, va.auc, confidence));
  rows.push_back(CompareFigures("gallery.fnmr_at_fmr_1e-2", false, vb.fmr100.fnmr, va.fmr100.fnmr, confidence));
  rows.push_back(CompareFigures("gallery.fnmr_at_fmr_1e-3", false, vb.fmr1000.fnmr, va.fmr1000.fnmr, confidence));
  rows.push_back(CompareFigures("gallery.rank1", true, before.identification.rank1, after.identification.rank1, confidence));
  rows.push_back(CompareFigures("gallery.rank5", true, before.identification.rank5, after.identification.rank5, confidence));
  rows.push_back(CompareFigures("gallery.knn_purity", true, before.identification.knn_purity,
                         after.identification.knn_purity, confidence));
  rows.push_back(CompareFigures("gallery.hubness_skewness", false, before.identification.hubness_skewness,
                         after.identification.hubness_skewness, confidence));
  rows.push_back(CompareFigures("gallery.silhouette", true, before.cluster.silhouette, after.cluster.silhouette, confidence));
  rows.push_back(CompareFigures("gallery.davies_bouldin", false, before.cluster.davies_bouldin, after.cluster.davies_bouldin,
                         confidence));
  rows.push_back(CompareFigures("gallery.calinski_harabasz", true, before.cluster.calinski_harabasz,
                         after.cluster.calinski_harabasz, confidence));
  rows.push_back(CompareFigures("gallery.fisher_ratio", true, before.cluster.fisher_ratio, after.cluster.fisher_ratio,
                         confidence));
}

}  // namespace analysis

namespace {

std::vector<RealSample> LoadRealSamples(const Store& store, const CompareOptions& options) {
  SampleFilter filter;
  filter.kind = SampleKind::kReal;
  const std::set<std::string> selected(options.identities.begin(), options.identities.end());
  std::vector<RealSample> samples;
  for (Sample& sample : store.ListSamples(filter)) {
    if (!selected.empty() && !selected.count(sample.identity)) continue;
    RealSample real;
    real.source.sample_id = sample.id;
    real.source.identity = sample.identity;
    real.source.image_path = options.dataset_root / sample.image_path;
    if (sample.image_id) {
      for (const FaceRecord& face : store.FacesOfImage(*sample.image_id)) {
        if (!sample.face_id || face.id != *sample.face_id) continue;
        real.source.box = face.box;
        real.source.fallback = face.fallback;
        for (std::size_t k = 0; k + 1 < face.landmarks.size(); k += 2) {
          real.source.landmarks.emplace_back(face.landmarks[k], face.landmarks[k + 1]);
        }
      }
    }
    real.sample = std::move(sample);
    samples.push_back(std::move(real));
  }
  return samples;
}

std::vector<ResponseCurve> TransformResponse(const Pipeline& pipeline, const std::vector<const RealSample*>& gallery,
                                             const CompareOptions& options, double threshold) {
  std::vector<const RealSample*> sources = gallery;
  Shuffle(sources, options.seed ^ 0x5E5EULL);
  sources.resize(std::min<std::size_t>(sources.size(), std::size_t(std::max(0, options.response_sources))));
  std::vector<SynthesisSource> synthesis_sources;
  for (const RealSample* source : sources) synthesis_sources.push_back(source->source);

  std::vector<ResponseCurve> curves;
  for (TransformFamily family : {TransformFamily::kGeometry, TransformFamily::kLight, TransformFamily::kQuality,
                                 TransformFamily::kOcclusion}) {
    ResponseCurve curve;
    curve.family = std::string(TransformFamilyName(family));
    for (const TransformSpec& spec : Transforms()) {
      if (spec.family == family) curve.transforms.push_back(spec.name);
    }
    for (double strength : options.response_strengths) {
      ResponsePoint point;
      point.strength = strength;
      std::vector<float> distances;
      for (const std::string& transform : curve.transforms) {
        SynthesisOptions synthesis;
        synthesis.recipe = RecipeAtStrength(transform, strength);
        synthesis.per_image = 1;
        synthesis.seed = options.seed;
        synthesis.jobs = options.jobs;
        const std::vector<SyntheticSample> made = Synthesize(pipeline, synthesis_sources, synthesis);
        for (const SyntheticSample& sample : made) {
          if (!sample.face_found) {
            ++point.lost;
            continue;
          }
          const Sample& source = sources[sample.source_index]->sample;
          distances.push_back(Distance(options.metric, source.embedding, sample.embedding));
          ++point.samples;
        }
      }
      std::sort(distances.begin(), distances.end());
      if (!distances.empty()) {
        double sum = 0;
        for (float value : distances) sum += value;
        point.mean_distance = sum / double(distances.size());
        point.p95_distance = analysis::SortedQuantile(distances, 0.95);
      }
      curve.points.push_back(point);
    }
    for (std::size_t k = 0; k < curve.points.size(); ++k) {
      const ResponsePoint& here = curve.points[k];
      if (!(here.mean_distance >= threshold)) continue;
      if (k == 0) {
        curve.crossing_strength = here.strength;
      } else {
        const ResponsePoint& before = curve.points[k - 1];
        const double fraction = (threshold - before.mean_distance) / (here.mean_distance - before.mean_distance);
        curve.crossing_strength = before.strength + fraction * (here.strength - before.strength);
      }
      break;
    }
    curves.push_back(std::move(curve));
  }
  return curves;
}

// Figures of one probe set against the before and the after gallery. Both
// use the same probes and seed, so their bootstrap replicates are paired.
std::pair<ProbeFigures, ProbeFigures> MatchBeforeAfter(const VectorSet& before, const VectorSet& after,
                                                       const VectorSet& probes, std::size_t identities,
                                                       const CompareOptions& options) {
  const analysis::ProbeOutcomes against_before =
      analysis::MatchProbes(before, probes, identities, options.metric, options.seed);
  const analysis::ProbeOutcomes against_after =
      analysis::MatchProbes(after, probes, identities, options.metric, options.seed);
  return {analysis::EvaluateProbes(against_before, identities, options).figures,
          analysis::EvaluateProbes(against_after, identities, options).figures};
}

void CheckCompareOptions(const CompareOptions& options) {
  auto invalid = [](const std::string& message) { throw Error(ErrorCategory::kInvalidArgument, message); };
  if (!(options.probe_fraction > 0 && options.probe_fraction < 1)) invalid("probe fraction: must be in (0, 1)");
  if (options.per_image < 1) invalid("per-image: must be >= 1");
  if (options.metric != Metric::kL2 && options.metric != Metric::kCosine) {
    invalid("metric '" + std::string(MetricName(options.metric)) + "': compare supports l2 and cosine");
  }
  if (options.bootstrap_replicates < 0) invalid("bootstrap replicates: must be >= 0");
  for (double strength : options.response_strengths) {
    if (!(strength >= 0 && strength <= 1)) invalid("response strength " + std::to_string(strength) + ": must be in [0, 1]");
  }
}

}  // namespace

std::string Verdict(double ci_low, double ci_high, bool higher_is_better) {
  if (std::isnan(ci_low) || std::isnan(ci_high)) return "n/a";
  if (ci_low > 0) return higher_is_better ? "improved" : "worse";
  if (ci_high < 0) return higher_is_better ? "worse" : "improved";
  return "no significant change";
}

CompareResult CompareBeforeAfter(const Store& store, const Pipeline& pipeline, const CompareOptions& options) {
  const auto started = Clock::now();
  CheckCompareOptions(options);
  CompareResult result;
  result.options = options;
  const Recipe recipe = ParseRecipe(options.recipe);
  result.recipe_canonical = FormatRecipe(recipe);

  const std::vector<RealSample> samples = LoadRealSamples(store, options);
  std::vector<analysis::SplitCandidate> candidates;
  for (const RealSample& sample : samples) candidates.push_back({sample.sample.identity, sample.sample.id});
  const analysis::GalleryProbeSplit split =
      analysis::SplitGalleryProbes(candidates, options.probe_fraction, options.seed);
  const std::vector<std::string>& names = split.identities;
  if (names.size() < 2) {
    throw Error(ErrorCategory::kInvalidArgument,
                store.directory().string() + ": compare needs at least two identities with two real samples, found " +
                    std::to_string(names.size()));
  }
  std::vector<const RealSample*> gallery_samples, probe_samples;
  for (std::size_t k : split.gallery) gallery_samples.push_back(&samples[k]);
  for (std::size_t k : split.probes) probe_samples.push_back(&samples[k]);
  const std::vector<std::int32_t>& probe_labels = split.probe_labels;
  result.identities = names.size();
  result.gallery_samples = gallery_samples.size();
  result.probe_samples = probe_samples.size();
  const int d = store.config().dimension;

  // Synthetic samples from the gallery only.
  std::vector<SynthesisSource> gallery_sources;
  for (const RealSample* sample : gallery_samples) gallery_sources.push_back(sample->source);
  SynthesisOptions synthesis;
  synthesis.recipe = recipe;
  synthesis.per_image = options.per_image;
  synthesis.seed = options.seed;
  synthesis.jobs = options.jobs;
  Logger().info("compare: synthesising {} x {} samples from the gallery", gallery_sources.size(), options.per_image);
  const std::vector<SyntheticSample> synthetic = Synthesize(pipeline, gallery_sources, synthesis);

  VectorSet before(d), probes(d);
  for (std::size_t k = 0; k < gallery_samples.size(); ++k) {
    analysis::Append(before, gallery_samples[k]->sample.embedding, split.gallery_labels[k], false);
  }
  const VectorSet after = analysis::AddSyntheticRows(before, synthetic, result.synthetic_lost);
  result.synthetic_samples = after.rows() - before.rows();
  for (std::size_t k = 0; k < probe_samples.size(); ++k) {
    analysis::Append(probes, probe_samples[k]->sample.embedding, probe_labels[k], false);
  }

  // Both gallery spaces with the same seed: paired bootstrap replicates.
  AnalysisOptions analysis;
  analysis.metric = options.metric;
  analysis.seed = options.seed;
  analysis.bootstrap_replicates = options.bootstrap_replicates;
  analysis.confidence = options.confidence;
  Logger().info("compare: analysing the before and after galleries");
  result.before = AnalyzeEmbeddings(ToLabeled(before, names), analysis);
  result.after = AnalyzeEmbeddings(ToLabeled(after, names), analysis);
  analysis::AddGalleryComparisons(result.comparisons, result.before, result.after, options.confidence);

  // The same real probes against each gallery.
  const std::size_t identities = names.size();
  std::tie(result.probes_before, result.probes_after) = MatchBeforeAfter(before, after, probes, identities, options);
  analysis::AddProbeComparisons(result.comparisons, "probes", result.probes_before, result.probes_after,
                                options.confidence);

  // Robustness: the probes degraded by each preset.
  std::vector<SynthesisSource> probe_sources;
  for (const RealSample* sample : probe_samples) probe_sources.push_back(sample->source);
  for (const std::string& preset : options.robustness_presets) {
    SynthesisOptions degrade;
    degrade.recipe = ParseRecipe(preset);
    degrade.per_image = 1;
    degrade.seed = Mix(options.seed ^ HashText(preset));
    degrade.jobs = options.jobs;
    Logger().info("compare: degrading {} probes with preset {}", probe_sources.size(), preset);
    const std::vector<SyntheticSample> degraded = Synthesize(pipeline, probe_sources, degrade);
    CompareResult::Robustness robustness;
    robustness.preset = preset;
    VectorSet degraded_probes(d);
    for (const SyntheticSample& sample : degraded) {
      if (!sample.face_found) {
        ++robustness.lost;
        continue;
      }
      analysis::Append(degraded_probes, sample.embedding, probe_labels[sample.source_index], false);
    }
    if (degraded_probes.rows() > 0) {
      std::tie(robustness.before, robustness.after) =
          MatchBeforeAfter(before, after, degraded_probes, identities, options);
      analysis::AddProbeComparisons(result.comparisons, "robustness." + preset, robustness.before, robustness.after,
                                    options.confidence);
    }
    result.robustness.push_back(std::move(robustness));
  }

  // Transform response, against the before gallery's EER threshold.
  result.match_threshold = result.before.verification.eer_threshold;
  if (options.response_sources > 0) {
    Logger().info("compare: transform-response curves from {} gallery images", options.response_sources);
    result.response = TransformResponse(pipeline, gallery_samples, options, result.match_threshold);
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return result;
}

}  // namespace facespace
