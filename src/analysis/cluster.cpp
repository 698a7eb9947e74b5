// Preparation of the analysed vectors, per-identity sums, and the
// centroid-based cluster indices (Davies-Bouldin, Calinski-Harabasz, Fisher).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <cblas.h>

#include "analysis/analysis_internal.h"
#include "facespace/error.h"

namespace facespace::analysis {
namespace {

// Centroid rows per block of the centroid distance product.
constexpr std::size_t kCentroidBlock = 512;

// Largest Davies-Bouldin ratio of identity c over the drawn identities other
// than c itself, scanning all centroids (used when the kept top list has no
// drawn identity).
double MaxRatioOverDrawn(const PreparedSpace& space, const IdentitySums& sums, std::size_t c,
                         const std::uint32_t* weights) {
  const int d = space.dimension;
  double best = -1;
  for (std::size_t j = 0; j < space.identities(); ++j) {
    if (j == c || space.label_size(std::int32_t(j)) == 0 || weights[j] == 0) continue;
    double squared = 0;
    for (int k = 0; k < d; ++k) {
      const double diff = sums.centroids[c * d + k] - sums.centroids[j * d + k];
      squared += diff * diff;
    }
    const double distance = std::sqrt(squared);
    const double ratio = distance > 0 ? (sums.radius_mean[c] + sums.radius_mean[j]) / distance : 0.0;
    best = std::max(best, ratio);
  }
  return best;
}

}  // namespace

PreparedSpace PrepareSpace(const LabeledEmbeddings& data, Metric metric) {
  PreparedSpace space;
  space.metric = metric;
  space.dimension = data.dimension;
  space.rows = data.rows();
  const std::size_t n = space.rows;
  const std::size_t d = std::size_t(data.dimension);

  space.order.resize(n);
  std::iota(space.order.begin(), space.order.end(), 0u);
  std::stable_sort(space.order.begin(), space.order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return data.labels[a] < data.labels[b]; });

  const std::size_t identities = data.identities();
  space.label_begin.assign(identities + 1, 0);
  for (std::int32_t label : data.labels) ++space.label_begin[label + 1];
  std::partial_sum(space.label_begin.begin(), space.label_begin.end(), space.label_begin.begin());

  std::vector<double> mean(d, 0.0);
  if (metric == Metric::kL2) {
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t k = 0; k < d; ++k) mean[k] += data.vectors[i * d + k];
    }
    for (double& m : mean) m /= double(n);
  }

  space.vectors.resize(n * d);
  space.squared_norms.resize(n);
  space.labels.resize(n);
  space.synthetic.assign(n, 0);
  std::vector<double> row(d);
  for (std::size_t s = 0; s < n; ++s) {
    const std::size_t i = space.order[s];
    space.labels[s] = data.labels[i];
    if (!data.synthetic.empty()) space.synthetic[s] = data.synthetic[i];
    double norm = 0;
    for (std::size_t k = 0; k < d; ++k) {
      row[k] = double(data.vectors[i * d + k]) - mean[k];
      norm += row[k] * row[k];
    }
    const double scale = metric == Metric::kCosine ? 1.0 / std::sqrt(norm) : 1.0;
    double squared = 0;
    for (std::size_t k = 0; k < d; ++k) {
      const float value = float(row[k] * scale);
      space.vectors[s * d + k] = value;
      squared += double(value) * value;
    }
    space.squared_norms[s] = float(squared);
  }
  return space;
}

IdentitySums ComputeIdentitySums(const PreparedSpace& space, std::span<const double> input_mean,
                                 int top_ratio_count) {
  const std::size_t identities = space.identities();
  const std::size_t d = std::size_t(space.dimension);
  IdentitySums sums;
  sums.centroids.assign(identities * d, 0.0);
  sums.within_squared.assign(identities, 0.0);
  sums.radius_mean.assign(identities, kNotAvailable);
  sums.radius_max.assign(identities, kNotAvailable);
  sums.centroid_norm.assign(identities, kNotAvailable);
  sums.nearest_centroid_distance.assign(identities, kNotAvailable);
  sums.nearest_centroid.assign(identities, -1);
  sums.top_ratios.assign(identities, {});

#pragma omp parallel for schedule(dynamic, 64) if (identities > 512)
  for (std::size_t c = 0; c < identities; ++c) {
    const std::uint64_t begin = space.label_begin[c];
    const std::uint64_t end = space.label_begin[c + 1];
    if (begin == end) continue;
    double* centroid = sums.centroids.data() + c * d;
    for (std::uint64_t i = begin; i < end; ++i) {
      for (std::size_t k = 0; k < d; ++k) centroid[k] += space.row(i)[k];
    }
    for (std::size_t k = 0; k < d; ++k) centroid[k] /= double(end - begin);

    double radius_sum = 0, radius_max = 0, squared_sum = 0;
    for (std::uint64_t i = begin; i < end; ++i) {
      double squared = 0;
      for (std::size_t k = 0; k < d; ++k) {
        const double diff = space.row(i)[k] - centroid[k];
        squared += diff * diff;
      }
      squared_sum += squared;
      radius_sum += std::sqrt(squared);
      radius_max = std::max(radius_max, std::sqrt(squared));
    }
    sums.within_squared[c] = squared_sum;
    sums.radius_mean[c] = radius_sum / double(end - begin);
    sums.radius_max[c] = radius_max;
    double norm = 0;
    for (std::size_t k = 0; k < d; ++k) {
      const double value = centroid[k] + (input_mean.empty() ? 0.0 : input_mean[k]);
      norm += value * value;
    }
    sums.centroid_norm[c] = std::sqrt(norm);
  }

  // Centroid distances, a block of rows at a time: D^2 = |a|^2 + |b|^2 - 2ab.
  std::vector<double> centroid_squared(identities, 0.0);
  for (std::size_t c = 0; c < identities; ++c) {
    for (std::size_t k = 0; k < d; ++k) centroid_squared[c] += sums.centroids[c * d + k] * sums.centroids[c * d + k];
  }
  // Each thread takes whole blocks with its own single-threaded product (see
  // ScanAllPairs for why BLAS and OpenMP threads are not mixed).
  const bool parallel = identities > 512;
  const SingleThreadedBlas single_threaded_blas(parallel);
#pragma omp parallel if (parallel)
  {
  std::vector<double> dots(kCentroidBlock * identities);
#pragma omp for schedule(dynamic, 1)
  for (std::size_t block = 0; block < identities; block += kCentroidBlock) {
    const std::size_t rows = std::min(kCentroidBlock, identities - block);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(identities), int(d), 1.0,
                sums.centroids.data() + block * d, int(d), sums.centroids.data(), int(d), 0.0,
                dots.data(), int(identities));
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t c = block + r;
      if (space.label_size(std::int32_t(c)) == 0) continue;
      std::vector<std::pair<double, std::int32_t>> ratios;
      ratios.reserve(identities);
      double nearest = std::numeric_limits<double>::infinity();
      std::int32_t nearest_label = -1;
      for (std::size_t j = 0; j < identities; ++j) {
        if (j == c || space.label_size(std::int32_t(j)) == 0) continue;
        const double squared = centroid_squared[c] + centroid_squared[j] - 2.0 * dots[r * identities + j];
        const double distance = squared > 0 ? std::sqrt(squared) : 0.0;
        if (distance < nearest) {
          nearest = distance;
          nearest_label = std::int32_t(j);
        }
        // scikit-learn treats coincident centroids as infinitely far apart.
        const double ratio = distance > 0 ? (sums.radius_mean[c] + sums.radius_mean[j]) / distance : 0.0;
        ratios.emplace_back(ratio, std::int32_t(j));
      }
      const std::size_t keep = std::min<std::size_t>(ratios.size(), std::size_t(top_ratio_count));
      std::partial_sort(ratios.begin(), ratios.begin() + keep, ratios.end(),
                        [](const auto& a, const auto& b) {
                          return a.first != b.first ? a.first > b.first : a.second < b.second;
                        });
      ratios.resize(keep);
      sums.top_ratios[c] = std::move(ratios);
      if (nearest_label >= 0) {
        sums.nearest_centroid_distance[c] = nearest;
        sums.nearest_centroid[c] = nearest_label;
      }
    }
  }
  }
  return sums;
}

ClusterIndices ComputeClusterIndices(const PreparedSpace& space, const IdentitySums& sums,
                                     const std::uint32_t* weights) {
  const std::size_t identities = space.identities();
  const std::size_t d = std::size_t(space.dimension);
  auto weight = [&](std::size_t c) -> double {
    if (space.label_size(std::int32_t(c)) == 0) return 0.0;
    return weights ? double(weights[c]) : 1.0;
  };

  double samples = 0, clusters = 0;
  std::vector<double> mean(d, 0.0);
  for (std::size_t c = 0; c < identities; ++c) {
    const double w = weight(c);
    if (w == 0) continue;
    const double size = double(space.label_size(std::int32_t(c)));
    samples += w * size;
    clusters += w;
    for (std::size_t k = 0; k < d; ++k) mean[k] += w * size * sums.centroids[c * d + k];
  }
  ClusterIndices indices;
  if (clusters < 2) return indices;
  for (double& m : mean) m /= samples;

  double between = 0, within = 0;
  for (std::size_t c = 0; c < identities; ++c) {
    const double w = weight(c);
    if (w == 0) continue;
    double squared = 0;
    for (std::size_t k = 0; k < d; ++k) {
      const double diff = sums.centroids[c * d + k] - mean[k];
      squared += diff * diff;
    }
    between += w * double(space.label_size(std::int32_t(c))) * squared;
    within += w * sums.within_squared[c];
  }
  indices.trace_between = between;
  indices.trace_within = within;
  indices.fisher_ratio = within > 0 ? between / within : kNotAvailable;
  // scikit-learn returns 1 when there is no within-cluster dispersion.
  indices.calinski_harabasz =
      within > 0 ? (between / (clusters - 1.0)) / (within / (samples - clusters)) : 1.0;

  // Davies-Bouldin: mean over clusters of the largest (s_i + s_j) / D_ij over
  // the other clusters. Copies of the same identity in a bootstrap replicate
  // do not count as other clusters.
  double ratio_sum = 0;
  bool any_spread = false;
  for (std::size_t c = 0; c < identities; ++c) {
    const double w = weight(c);
    if (w == 0) continue;
    if (sums.radius_mean[c] > 0) any_spread = true;
    double best = -1;
    for (const auto& [ratio, j] : sums.top_ratios[c]) {
      if (weight(std::size_t(j)) > 0) {
        best = ratio;
        break;
      }
    }
    if (best < 0 && weights) best = MaxRatioOverDrawn(space, sums, c, weights);
    if (best < 0) return indices;  // only copies of one identity were drawn
    ratio_sum += w * best;
  }
  indices.davies_bouldin = any_spread ? ratio_sum / clusters : 0.0;
  return indices;
}

}  // namespace facespace::analysis
