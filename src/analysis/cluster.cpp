// Preparation of the analysed vectors, per-identity sums, and the
// centroid-based cluster indices (Davies-Bouldin, Calinski-Harabasz, Fisher).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <cblas.h>
#include <omp.h>

#include "analysis/analysis_internal.h"
#include "facespace/error.h"

namespace facespace::analysis {
namespace {

// Rows and columns of one block of the centroid distance product (2 MB).
constexpr std::size_t kCentroidBlock = 256;
constexpr std::size_t kCentroidColumns = 1024;

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

// Keeps the `count` largest (ratio, label) pairs in `top`, largest ratio
// first and the smaller label first among equal ratios: the order a full sort
// of all pairs would give.
void OfferRatio(std::vector<std::pair<double, std::int32_t>>& top, int count, double ratio, std::int32_t label) {
  auto before = [](double r, std::int32_t l, const std::pair<double, std::int32_t>& other) {
    return r != other.first ? r > other.first : l < other.second;
  };
  if (int(top.size()) == count) {
    if (count == 0 || !before(ratio, label, top.back())) return;
    top.pop_back();
  }
  auto place = top.end();
  while (place != top.begin() && before(ratio, label, *(place - 1))) --place;
  top.insert(place, {ratio, label});
}

// Nearest centroid and largest Davies-Bouldin ratios of one thread's pairs.
struct CentroidThread {
  CentroidThread(std::size_t identities, int top_count)
      : top_count(top_count),
        nearest(identities, std::numeric_limits<double>::infinity()),
        nearest_label(identities, -1),
        top(identities),
        ratio_bound(identities, -std::numeric_limits<double>::infinity()) {}

  // Takes centroid `other` at `distance` as a candidate nearest centroid of
  // `c`: the smaller distance wins, then the smaller label.
  void OfferNearest(std::size_t c, double distance, std::int32_t other) {
    if (distance < nearest[c] || (distance == nearest[c] && other < nearest_label[c])) {
      nearest[c] = distance;
      nearest_label[c] = other;
    }
  }

  // Takes (ratio, other) as a candidate of c's largest ratios.
  void OfferTop(std::size_t c, double ratio, std::int32_t other) {
    if (ratio < ratio_bound[c]) return;
    OfferRatio(top[c], top_count, ratio, other);
    if (int(top[c].size()) == top_count) ratio_bound[c] = top[c].back().first;
  }

  int top_count;
  std::vector<double> nearest;
  std::vector<std::int32_t> nearest_label;
  std::vector<std::vector<std::pair<double, std::int32_t>>> top;
  std::vector<double> ratio_bound;  // a ratio below it cannot enter `top` (-inf until it is full)
};

// Fills nearest_centroid_distance, nearest_centroid and top_ratios from the
// centroids and radii in `sums`. Centroid distances come a block pair at a
// time from D^2 = |a|^2 + |b|^2 - 2ab, each unordered pair once: the row
// centroid and the column centroid both take it as a candidate.
void FindNearestCentroids(const PreparedSpace& space, int top_ratio_count, IdentitySums& sums) {
  const std::size_t identities = space.identities();
  const std::size_t d = std::size_t(space.dimension);
  std::vector<double> centroid_squared(identities, 0.0);
  for (std::size_t c = 0; c < identities; ++c) {
    for (std::size_t k = 0; k < d; ++k) centroid_squared[c] += sums.centroids[c * d + k] * sums.centroids[c * d + k];
  }
  struct Task {
    std::size_t row_begin, rows, column_begin, columns;
  };
  std::vector<Task> tasks;
  for (std::size_t row = 0; row < identities; row += kCentroidBlock) {
    for (std::size_t column = row; column < identities; column += kCentroidColumns) {
      tasks.push_back({row, std::min(kCentroidBlock, identities - row), column,
                       std::min(kCentroidColumns, identities - column)});
    }
  }

  // Each thread takes whole tasks with its own single-threaded product (see
  // ScanAllPairs for why BLAS and OpenMP threads are not mixed).
  const bool parallel = identities > 512;
  const int threads = parallel ? omp_get_max_threads() : 1;
  std::vector<CentroidThread> states(threads, CentroidThread(identities, top_ratio_count));
  const SingleThreadedBlas single_threaded_blas(parallel);
#pragma omp parallel num_threads(threads)
  {
    CentroidThread& state = states[omp_get_thread_num()];
    std::vector<double> dots(kCentroidBlock * kCentroidColumns);
    std::vector<double> distance(kCentroidColumns), ratio(kCentroidColumns);
#pragma omp for schedule(dynamic, 1)
    for (std::size_t t = 0; t < tasks.size(); ++t) {
      const Task& task = tasks[t];
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(task.rows), int(task.columns), int(d), 1.0,
                  sums.centroids.data() + task.row_begin * d, int(d), sums.centroids.data() + task.column_begin * d,
                  int(d), 0.0, dots.data(), int(task.columns));
      for (std::size_t r = 0; r < task.rows; ++r) {
        const std::size_t c = task.row_begin + r;
        if (space.label_size(std::int32_t(c)) == 0) continue;
        // Only the columns after c: the others pair with c in another row.
        const std::size_t first = c + 1 > task.column_begin ? c + 1 - task.column_begin : 0;
        const double* dot = dots.data() + r * task.columns;
        for (std::size_t k = first; k < task.columns; ++k) {
          const std::size_t j = task.column_begin + k;
          const double squared = centroid_squared[c] + centroid_squared[j] - 2.0 * dot[k];
          distance[k] = squared > 0 ? std::sqrt(squared) : 0.0;
          // scikit-learn treats coincident centroids as infinitely far apart.
          ratio[k] = distance[k] > 0 ? (sums.radius_mean[c] + sums.radius_mean[j]) / distance[k] : 0.0;
        }
        for (std::size_t k = first; k < task.columns; ++k) {
          const std::size_t j = task.column_begin + k;
          if (space.label_size(std::int32_t(j)) == 0) continue;
          // Most candidates fail both bounds, so test before calling.
          if (distance[k] <= state.nearest[c]) state.OfferNearest(c, distance[k], std::int32_t(j));
          if (distance[k] <= state.nearest[j]) state.OfferNearest(j, distance[k], std::int32_t(c));
          if (ratio[k] >= state.ratio_bound[c]) state.OfferTop(c, ratio[k], std::int32_t(j));
          if (ratio[k] >= state.ratio_bound[j]) state.OfferTop(j, ratio[k], std::int32_t(c));
        }
      }
    }
  }

  // Merge the threads' candidates.
  for (std::size_t c = 0; c < identities; ++c) {
    if (space.label_size(std::int32_t(c)) == 0) continue;
    CentroidThread& first = states[0];
    for (std::size_t t = 1; t < states.size(); ++t) {
      first.OfferNearest(c, states[t].nearest[c], states[t].nearest_label[c]);
      for (const auto& [ratio, label] : states[t].top[c]) first.OfferTop(c, ratio, label);
    }
    sums.top_ratios[c] = std::move(first.top[c]);
    if (first.nearest_label[c] >= 0) {
      sums.nearest_centroid_distance[c] = first.nearest[c];
      sums.nearest_centroid[c] = first.nearest_label[c];
    }
  }
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

  FindNearestCentroids(space, top_ratio_count, sums);
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
