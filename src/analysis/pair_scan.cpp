// The all-pairs scan. For each block of rows, one matrix product gives the
// dot products of the block against every row. Distances follow from
// ||a||^2 + ||b||^2 - 2ab (clamped at 0 before the square root) or 1 - ab.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include <cblas.h>
#include <omp.h>

#include "analysis/analysis_internal.h"
#include "facespace/error.h"

namespace facespace::analysis {
namespace {

// Rows per block: 256 rows against 13,233 columns is a 13 MB product, which
// stays in memory comfortably and still gives BLAS a large enough problem.
constexpr std::size_t kBlockRows = 256;

std::uint64_t SplitMix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Per-thread output of the scan, merged after the last block.
struct ThreadBuffers {
  std::vector<LabeledPair> genuine;
  std::vector<float> sampled_impostors;
  std::vector<LabeledPair> tail;
  std::vector<LabeledPair> body;
  std::uint64_t body_population = 0;
  std::vector<float> distances;  // one row of distances
};

bool LabeledLess(const LabeledPair& a, const LabeledPair& b) {
  if (a.distance != b.distance) return a.distance < b.distance;
  if (a.first != b.first) return a.first < b.first;
  return a.second < b.second;
}

template <typename Member>
std::vector<LabeledPair> MergeLabeled(std::vector<ThreadBuffers>& buffers, Member member) {
  std::vector<LabeledPair> merged;
  for (auto& buffer : buffers) {
    auto& part = buffer.*member;
    merged.insert(merged.end(), part.begin(), part.end());
    std::vector<LabeledPair>().swap(part);
  }
  std::sort(merged.begin(), merged.end(), LabeledLess);
  return merged;
}

// Fills `out` with the distances of sorted row i to every row, from the dot
// products of the block.
void RowDistances(const PreparedSpace& space, std::size_t i, const float* dots, float* out) {
  const std::size_t n = space.rows;
  if (space.metric == Metric::kCosine) {
    for (std::size_t j = 0; j < n; ++j) {
      const float d = 1.0f - dots[j];
      out[j] = d > 0 ? d : 0.0f;
    }
  } else {
    const float own = space.squared_norms[i];
    const float* norms = space.squared_norms.data();
    for (std::size_t j = 0; j < n; ++j) {
      const float squared = own + norms[j] - 2.0f * dots[j];
      out[j] = squared > 0 ? std::sqrt(squared) : 0.0f;
    }
  }
  out[i] = 0.0f;
}

// Silhouette, identity rank, nearest impostor and farthest genuine of row i.
RowFigures RowSummary(const PreparedSpace& space, std::size_t i, const float* distances) {
  RowFigures figures;
  const std::int32_t own = space.labels[i];
  const std::size_t identities = space.identities();
  const std::uint64_t own_size = space.label_size(own);

  double own_sum = 0;
  float own_min = std::numeric_limits<float>::infinity();
  float own_max = 0;
  for (std::uint64_t j = space.label_begin[own]; j < space.label_begin[own + 1]; ++j) {
    if (j == i) continue;
    own_sum += distances[j];
    own_min = std::min(own_min, distances[j]);
    own_max = std::max(own_max, distances[j]);
  }

  double nearest_mean = std::numeric_limits<double>::infinity();
  float nearest_impostor = std::numeric_limits<float>::infinity();
  std::uint32_t closer_identities = 0;
  for (std::size_t label = 0; label < identities; ++label) {
    if (static_cast<std::int32_t>(label) == own) continue;
    const std::uint64_t begin = space.label_begin[label];
    const std::uint64_t end = space.label_begin[label + 1];
    if (begin == end) continue;
    double sum = 0;
    float minimum = std::numeric_limits<float>::infinity();
    for (std::uint64_t j = begin; j < end; ++j) {
      sum += distances[j];
      minimum = std::min(minimum, distances[j]);
    }
    nearest_mean = std::min(nearest_mean, sum / double(end - begin));
    nearest_impostor = std::min(nearest_impostor, minimum);
    if (own_size > 1 && minimum < own_min) ++closer_identities;
  }

  figures.nearest_impostor = nearest_impostor;
  if (own_size > 1) {
    // scikit-learn's definition: a = mean distance to the other members,
    // b = smallest mean distance to another cluster, s = (b - a) / max(a, b);
    // a sample alone in its cluster gets 0.
    const double a = own_sum / double(own_size - 1);
    const double b = nearest_mean;
    const double denominator = std::max(a, b);
    figures.silhouette = denominator > 0 ? (b - a) / denominator : 0.0;
    figures.identity_rank = closer_identities + 1;
    figures.farthest_genuine = own_max;
  }
  return figures;
}

// Appends the pairs (i, j > i) of row i: genuine pairs to the thread's
// buffer, impostor pairs to their fixed place in the exact array (or the
// seeded sample), and the bootstrap tail and body pairs.
void CollectPairs(const PreparedSpace& space, const ScanOptions& options, ScanResult& result,
                  const std::vector<std::uint64_t>& impostor_offset, std::size_t i, const float* distances,
                  ThreadBuffers& buffer) {
  const std::size_t n = space.rows;
  const std::int32_t own = space.labels[i];
  const std::uint64_t label_end = space.label_begin[own + 1];
  for (std::uint64_t j = i + 1; j < label_end; ++j) {
    buffer.genuine.push_back({distances[j], own, own});
  }
  if (result.impostor_exact) {
    std::memcpy(result.impostor.data() + impostor_offset[i], distances + label_end, (n - label_end) * sizeof(float));
  } else {
    for (std::uint64_t j = label_end; j < n; ++j) {
      if (PairUniform(options.seed, i, j) < result.keep_probability) buffer.sampled_impostors.push_back(distances[j]);
    }
  }
  if (!options.collect_bootstrap) return;
  for (std::uint64_t j = label_end; j < n; ++j) {
    const float d = distances[j];
    if (d <= options.tail_threshold) {
      buffer.tail.push_back({d, own, space.labels[j]});
      continue;
    }
    ++buffer.body_population;
    if (PairUniform(options.seed ^ 0xB0075712A9ULL, i, j) < options.body_probability) {
      buffer.body.push_back({d, own, space.labels[j]});
    }
  }
}

// Writes the k nearest other rows of row i, nearest first (ties by row index).
void SelectNearest(const float* distances, std::size_t n, std::size_t i, int k,
                   std::vector<std::pair<float, std::uint32_t>>& nearest, std::uint32_t* out) {
  nearest.clear();
  for (std::size_t j = 0; j < n; ++j) {
    if (j == i) continue;
    const float d = distances[j];
    if (int(nearest.size()) == k && !(d < nearest.back().first)) continue;
    auto place = nearest.end();
    while (place != nearest.begin() && d < (place - 1)->first) --place;
    nearest.insert(place, {d, std::uint32_t(j)});
    if (int(nearest.size()) > k) nearest.pop_back();
  }
  for (int r = 0; r < k; ++r) out[r] = nearest[r].second;
}

}  // namespace

double PairUniform(std::uint64_t seed, std::uint64_t i, std::uint64_t j) {
  const std::uint64_t hash = SplitMix64(SplitMix64(seed ^ (i * 0x100000001B3ULL)) ^ j);
  return double(hash >> 11) * 0x1.0p-53;
}

SingleThreadedBlas::SingleThreadedBlas(bool active) {
  if (!active) return;
  previous_ = openblas_get_num_threads();
  openblas_set_num_threads(1);
}

SingleThreadedBlas::~SingleThreadedBlas() {
  if (previous_ > 0) openblas_set_num_threads(previous_);
}

double PairDistance(const PreparedSpace& space, std::size_t i, std::size_t j) {
  const float* a = space.row(i);
  const float* b = space.row(j);
  if (space.metric == Metric::kCosine) {
    double dot = 0;
    for (int k = 0; k < space.dimension; ++k) dot += double(a[k]) * b[k];
    return std::max(0.0, 1.0 - dot);
  }
  double sum = 0;
  for (int k = 0; k < space.dimension; ++k) {
    const double diff = double(a[k]) - b[k];
    sum += diff * diff;
  }
  return std::sqrt(sum);
}

void RadixSortNonNegative(std::vector<float>& values) {
  // Non-negative IEEE floats order like their bit patterns as unsigned
  // integers, so three stable counting passes of 11, 11 and 10 bits sort them.
  const std::size_t n = values.size();
  if (n < 2) return;
  std::vector<std::uint32_t> keys(n), scratch(n);
  std::memcpy(keys.data(), values.data(), n * sizeof(float));
  constexpr int kShifts[3] = {0, 11, 22};
  for (int pass = 0; pass < 3; ++pass) {
    const int shift = kShifts[pass];
    const std::uint32_t mask = pass == 2 ? 0x3FF : 0x7FF;
    // Small inputs sort on one thread: waking a team costs more than it saves.
    const int threads = n > (1u << 20) ? omp_get_max_threads() : 1;
    std::vector<std::vector<std::uint64_t>> counts(threads, std::vector<std::uint64_t>(2048, 0));
    const std::size_t chunk = (n + threads - 1) / threads;
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      const std::size_t begin = std::min(n, t * chunk);
      const std::size_t end = std::min(n, begin + chunk);
      auto& count = counts[t];
      for (std::size_t k = begin; k < end; ++k) ++count[(keys[k] >> shift) & mask];
#pragma omp barrier
#pragma omp single
      {
        std::uint64_t offset = 0;
        for (std::uint32_t bucket = 0; bucket <= mask; ++bucket) {
          for (int u = 0; u < threads; ++u) {
            const std::uint64_t c = counts[u][bucket];
            counts[u][bucket] = offset;
            offset += c;
          }
        }
      }
      for (std::size_t k = begin; k < end; ++k) {
        const std::uint32_t key = keys[k];
        scratch[count[(key >> shift) & mask]++] = key;
      }
    }
    keys.swap(scratch);
  }
  std::memcpy(values.data(), keys.data(), n * sizeof(float));
}

ScanResult ScanAllPairs(const PreparedSpace& space, const ScanOptions& options) {
  const std::size_t n = space.rows;
  ScanResult result;
  result.rows.resize(n);

  // Pair counts: rows are sorted by label, so the impostor partners of row i
  // after it are exactly the rows from the end of its label range onwards.
  std::vector<std::uint64_t> impostor_offset(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t label_end = space.label_begin[space.labels[i] + 1];
    impostor_offset[i + 1] = impostor_offset[i] + (n - label_end);
    result.genuine_pairs += label_end - i - 1;
  }
  result.impostor_pairs = impostor_offset[n];
  result.impostor_exact = result.impostor_pairs <= options.max_exact_impostor_pairs;
  result.keep_probability =
      result.impostor_exact ? 1.0 : double(options.impostor_sample_size) / double(result.impostor_pairs);
  if (result.impostor_exact) result.impostor.resize(result.impostor_pairs);

  const int threads = n > 2048 ? omp_get_max_threads() : 1;
  std::vector<ThreadBuffers> buffers(threads);
  const int knn = options.knn_k > 0 ? int(std::min<std::size_t>(std::size_t(options.knn_k), n - 1)) : 0;
  result.knn_k = knn;
  result.neighbours.assign(n * std::size_t(knn), 0);

  // Each thread takes whole blocks: its own single-threaded product, then the
  // rows of that block. Alternating a multi-threaded BLAS call with an OpenMP
  // loop makes the two thread pools spin against each other on a busy machine.
  const SingleThreadedBlas single_threaded_blas(threads > 1);
#pragma omp parallel num_threads(threads)
  {
    ThreadBuffers& buffer = buffers[omp_get_thread_num()];
    buffer.distances.resize(n);
    std::vector<float> dots(kBlockRows * n);
    std::vector<std::pair<float, std::uint32_t>> nearest;
#pragma omp for schedule(dynamic, 1)
    for (std::size_t block = 0; block < n; block += kBlockRows) {
      const std::size_t block_rows = std::min(kBlockRows, n - block);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(block_rows), int(n), space.dimension, 1.0f,
                  space.row(block), space.dimension, space.vectors.data(), space.dimension, 0.0f, dots.data(),
                  int(n));
      for (std::size_t r = 0; r < block_rows; ++r) {
        const std::size_t i = block + r;
        float* distances = buffer.distances.data();
        RowDistances(space, i, dots.data() + r * n, distances);
        result.rows[i] = RowSummary(space, i, distances);
        if (knn > 0) SelectNearest(distances, n, i, knn, nearest, result.neighbours.data() + i * knn);
        CollectPairs(space, options, result, impostor_offset, i, distances, buffer);
      }
    }
  }

  result.genuine_labeled = MergeLabeled(buffers, &ThreadBuffers::genuine);
  result.genuine.reserve(result.genuine_labeled.size());
  for (const auto& pair : result.genuine_labeled) result.genuine.push_back(pair.distance);
  if (options.collect_bootstrap) {
    result.tail_impostors = MergeLabeled(buffers, &ThreadBuffers::tail);
    result.body_impostors = MergeLabeled(buffers, &ThreadBuffers::body);
    for (const auto& buffer : buffers) result.body_population += buffer.body_population;
  }
  if (!result.impostor_exact) {
    for (auto& buffer : buffers) {
      result.impostor.insert(result.impostor.end(), buffer.sampled_impostors.begin(),
                             buffer.sampled_impostors.end());
      std::vector<float>().swap(buffer.sampled_impostors);
    }
  }
  RadixSortNonNegative(result.impostor);
  return result;
}

}  // namespace facespace::analysis
