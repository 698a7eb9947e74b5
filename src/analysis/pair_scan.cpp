// The all-pairs scan. Rows are sorted by label and cut into blocks of whole
// identities, and each unordered pair of blocks (I, J), I <= J, is multiplied
// once: row i of I reads its distances to J along its row of the product, and
// row j of J reads the same numbers down its column. So every pair has one
// distance, computed once and used by both its rows. Distances follow from
// ||a||^2 + ||b||^2 - 2ab (clamped at 0 before the square root) or 1 - ab.
//
// The figures do not depend on the order of the blocks or the threads. Sums
// over an identity's members run in member order from either side, minima and
// counts do not depend on order, and the k nearest neighbours are the k
// smallest (distance, row) pairs. A distance's last bit does depend on the
// shape of the product it came from, because OpenBLAS accumulates a dot
// product in an order that varies with the matrix sizes.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include <cblas.h>
#include <omp.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "analysis/analysis_internal.h"
#include "analysis/nearest_lists.h"
#include "facespace/error.h"

namespace facespace::analysis {
namespace {

// Rows per block, unless one identity has more. A product of 256 rows
// against kColumnBlocks blocks (about 2,048 columns) is 2 MB, which stays in
// cache while its rows are read.
constexpr std::size_t kBlockRows = 256;
constexpr std::size_t kColumnBlocks = 8;

constexpr float kInfinity = std::numeric_limits<float>::infinity();

std::uint64_t SplitMix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Rows [begin, end) of the sorted space; never splits an identity.
struct Block {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t size() const { return end - begin; }
};

std::vector<Block> WholeIdentityBlocks(const PreparedSpace& space) {
  std::vector<Block> blocks;
  Block current;
  for (std::size_t label = 0; label < space.identities(); ++label) {
    const std::size_t size = space.label_size(std::int32_t(label));
    if (current.size() > 0 && current.size() + size > kBlockRows) {
      blocks.push_back(current);
      current.begin = current.end;
    }
    current.end += size;
  }
  if (current.size() > 0) blocks.push_back(current);
  return blocks;
}

// One thread's figures of every row, merged after the scan.
struct ScanThread {
  ScanThread(std::size_t rows, int knn, ScoreCollector::Writer impostors)
      : nearest_mean(rows, std::numeric_limits<double>::infinity()),
        nearest_impostor(rows, kInfinity),
        closer(rows, 0),
        nearest(rows, knn),
        impostors(impostors) {}

  std::vector<double> nearest_mean;      // smallest mean distance to another identity's members
  std::vector<float> nearest_impostor;   // smallest distance to another identity's member
  std::vector<std::uint32_t> closer;     // identities whose closest member beats the own closest
  NearestLists nearest;
  ScoreCollector::Writer impostors;      // impostor pairs (all, or the sample)
  std::vector<LabeledPair> genuine;
  std::vector<LabeledPair> tail;
  std::vector<LabeledPair> body;
  std::uint64_t body_population = 0;
  std::unique_ptr<float[]> product;      // one block product, turned into distances in place
  std::vector<double> column_sum;        // per column: sum over the current identity's rows
  std::vector<float> column_min;
};

// Shared state of one scan.
struct ScanContext {
  const PreparedSpace& space;
  const ScanOptions& options;
  bool impostor_exact = true;
  double keep_probability = 1;
  int knn = 0;
  // Per row: where the run of one-member identities starting at the row
  // ends (the row itself when its identity has more members).
  std::vector<std::size_t> singleton_run_end;
  // Per row, from its own identity (written once, by the diagonal block's thread).
  std::vector<double> own_sum;
  std::vector<float> own_min;
  std::vector<float> own_max;
};

bool LabeledLess(const LabeledPair& a, const LabeledPair& b) {
  if (a.distance != b.distance) return a.distance < b.distance;
  if (a.first != b.first) return a.first < b.first;
  return a.second < b.second;
}

std::vector<LabeledPair> MergeLabeled(std::vector<ScanThread>& threads, std::vector<LabeledPair> ScanThread::*member) {
  std::vector<LabeledPair> merged;
  for (auto& thread : threads) {
    auto& part = thread.*member;
    merged.insert(merged.end(), part.begin(), part.end());
    std::vector<LabeledPair>().swap(part);
  }
  std::sort(merged.begin(), merged.end(), LabeledLess);
  return merged;
}

// Multiplies rows [row_begin, row_begin + rows) by rows [column_begin,
// column_begin + columns) into `out` (rows x columns, row-major).
void BlockProduct(const PreparedSpace& space, std::size_t row_begin, std::size_t rows, std::size_t column_begin,
                  std::size_t columns, float* out) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(columns), space.dimension, 1.0f,
              space.row(row_begin), space.dimension, space.row(column_begin), space.dimension, 0.0f, out,
              int(columns));
}

// Turns the dot products of row i with rows [column_begin, column_begin +
// columns) into distances, in place.
void ToDistances(const PreparedSpace& space, std::size_t i, std::size_t column_begin, std::size_t columns,
                 float* row) {
  if (space.metric == Metric::kCosine) {
    for (std::size_t c = 0; c < columns; ++c) {
      const float d = 1.0f - row[c];
      row[c] = d > 0 ? d : 0.0f;
    }
    return;
  }
  const float own = space.squared_norms[i];
  const float* norms = space.squared_norms.data() + column_begin;
  for (std::size_t c = 0; c < columns; ++c) {
    const float squared = own + norms[c] - 2.0f * row[c];
    row[c] = squared > 0 ? std::sqrt(squared) : 0.0f;
  }
}

// Row i against the identities of rows [column_begin, column_end), none of
// them its own: smallest mean distance, closest member, identities closer
// than its own.
void ReduceRowOverIdentities(const ScanContext& context, ScanThread& thread, std::size_t i, const float* row,
                             std::size_t column_begin, std::size_t column_end) {
  const PreparedSpace& space = context.space;
  double nearest_mean = thread.nearest_mean[i];
  float nearest_impostor = thread.nearest_impostor[i];
  std::uint32_t closer = 0;
  const float own_min = context.own_min[i];
  std::size_t j = column_begin;
  while (j < column_end) {
    const std::size_t singletons_end = std::min(context.singleton_run_end[j], column_end);
    if (singletons_end > j) {
      // One-member identities: each mean is the distance itself (0.0 + d,
      // divided by 1), so the run reduces to one minimum and one count.
      float minimum = kInfinity;
      std::uint32_t below = 0;
      for (; j < singletons_end; ++j) {
        const float d = row[j - column_begin];
        minimum = d < minimum ? d : minimum;
        below += d < own_min ? 1 : 0;
      }
      nearest_mean = std::min(nearest_mean, double(minimum));
      nearest_impostor = std::min(nearest_impostor, minimum);
      closer += below;
      continue;
    }
    const std::int32_t label = space.labels[j];
    const std::size_t end = space.label_begin[label + 1];
    double sum = 0;
    float minimum = kInfinity;
    for (; j < end; ++j) {
      sum += row[j - column_begin];
      minimum = std::min(minimum, row[j - column_begin]);
    }
    nearest_mean = std::min(nearest_mean, sum / double(space.label_size(label)));
    nearest_impostor = std::min(nearest_impostor, minimum);
    if (minimum < own_min) ++closer;
  }
  thread.nearest_mean[i] = nearest_mean;
  thread.nearest_impostor[i] = nearest_impostor;
  thread.closer[i] += closer;
}

// Offers row[c] as a neighbour of row i for every column c that is within
// the list's bound, testing four columns at a time. Offer() checks again, so
// a bound that shrinks within a group of four does no harm.
void OfferRowCandidates(ScanThread& thread, std::size_t i, const float* row, std::size_t column_begin,
                        std::size_t columns) {
  std::size_t c = 0;
#if defined(__SSE2__)
  for (; c + 4 <= columns; c += 4) {
    const __m128 bound = _mm_set1_ps(thread.nearest.bound(i));
    int mask = _mm_movemask_ps(_mm_cmple_ps(_mm_loadu_ps(row + c), bound));
    while (mask != 0) {
      const int k = __builtin_ctz(unsigned(mask));
      mask &= mask - 1;
      thread.nearest.Offer(i, row[c + k], std::uint32_t(column_begin + c + k));
    }
  }
#endif
  for (; c < columns; ++c) {
    if (row[c] <= thread.nearest.bound(i)) thread.nearest.Offer(i, row[c], std::uint32_t(column_begin + c));
  }
}

// Offers row i as a neighbour of every column j = column_begin + c whose
// list bound row[c] is within.
void OfferColumnCandidates(ScanThread& thread, std::size_t i, const float* row, std::size_t column_begin,
                           std::size_t columns) {
  const float* bounds = thread.nearest.bounds() + column_begin;
  std::size_t c = 0;
#if defined(__SSE2__)
  for (; c + 4 <= columns; c += 4) {
    int mask = _mm_movemask_ps(_mm_cmple_ps(_mm_loadu_ps(row + c), _mm_loadu_ps(bounds + c)));
    while (mask != 0) {
      const int k = __builtin_ctz(unsigned(mask));
      mask &= mask - 1;
      thread.nearest.Offer(column_begin + c + k, row[c + k], std::uint32_t(i));
    }
  }
#endif
  for (; c < columns; ++c) {
    if (row[c] <= bounds[c]) thread.nearest.Offer(column_begin + c, row[c], std::uint32_t(i));
  }
}

// The impostor pairs (i, j) of row i with j in [column_begin, column_begin +
// columns), all with i < j: to the collector (every pair, or the seeded
// sample) and to the bootstrap tail or body.
void CollectImpostors(const ScanContext& context, ScanThread& thread, std::size_t i, const float* row,
                      std::size_t column_begin, std::size_t columns) {
  const ScanOptions& options = context.options;
  ScoreCollector::Writer& impostors = thread.impostors;
  if (context.impostor_exact) {
    for (std::size_t c = 0; c < columns; ++c) impostors.Add(row[c]);
  } else {
    for (std::size_t c = 0; c < columns; ++c) {
      if (PairUniform(options.seed, i, column_begin + c) < context.keep_probability) impostors.Add(row[c]);
    }
  }
  if (!options.collect_bootstrap) return;
  const std::int32_t own = context.space.labels[i];
  for (std::size_t c = 0; c < columns; ++c) {
    const std::size_t j = column_begin + c;
    const float d = row[c];
    if (d <= options.tail_threshold) {
      thread.tail.push_back({d, own, context.space.labels[j]});
      continue;
    }
    ++thread.body_population;
    if (PairUniform(options.seed ^ 0xB0075712A9ULL, i, j) < options.body_probability) {
      thread.body.push_back({d, own, context.space.labels[j]});
    }
  }
}

// The pairs inside one block: each row's own identity first (its sums and
// extremes, the genuine pairs), then the other identities of the block.
void ScanDiagonalBlock(ScanContext& context, ScanThread& thread, Block block) {
  const PreparedSpace& space = context.space;
  const std::size_t size = block.size();
  float* product = thread.product.get();
  BlockProduct(space, block.begin, size, block.begin, size, product);
  for (std::size_t r = 0; r < size; ++r) {
    const std::size_t i = block.begin + r;
    float* row = product + r * size;
    ToDistances(space, i, block.begin, size, row);
    row[r] = 0.0f;

    const std::int32_t own = space.labels[i];
    const std::size_t own_begin = space.label_begin[own];
    const std::size_t own_end = space.label_begin[own + 1];
    double own_sum = 0;
    float own_min = kInfinity;
    float own_max = 0;
    for (std::size_t j = own_begin; j < own_end; ++j) {
      if (j == i) continue;
      const float d = row[j - block.begin];
      own_sum += d;
      own_min = std::min(own_min, d);
      own_max = std::max(own_max, d);
    }
    context.own_sum[i] = own_sum;
    context.own_min[i] = own_min;
    context.own_max[i] = own_max;

    ReduceRowOverIdentities(context, thread, i, row, block.begin, own_begin);
    ReduceRowOverIdentities(context, thread, i, row + (own_end - block.begin), own_end, block.end);
    if (context.knn > 0) {
      OfferRowCandidates(thread, i, row, block.begin, r);
      OfferRowCandidates(thread, i, row + r + 1, i + 1, size - r - 1);
    }
    for (std::size_t j = i + 1; j < own_end; ++j) thread.genuine.push_back({row[j - block.begin], own, own});
    CollectImpostors(context, thread, i, row + (own_end - block.begin), own_end, block.end - own_end);
  }
}

// Applies the column sums of one identity's rows to the columns' own figures:
// the columns see that identity as an impostor identity.
void ReduceColumnsOverIdentity(const ScanContext& context, ScanThread& thread, std::int32_t label,
                               std::size_t column_begin, std::size_t columns) {
  const double size = double(context.space.label_size(label));
  for (std::size_t c = 0; c < columns; ++c) {
    const std::size_t j = column_begin + c;
    thread.nearest_mean[j] = std::min(thread.nearest_mean[j], thread.column_sum[c] / size);
    thread.nearest_impostor[j] = std::min(thread.nearest_impostor[j], thread.column_min[c]);
    if (thread.column_min[c] < context.own_min[j]) ++thread.closer[j];
  }
}

// The same for an identity with one member, whose sums are its row itself.
void ReduceColumnsOverSingleton(const ScanContext& context, ScanThread& thread, const float* row,
                                std::size_t column_begin, std::size_t columns) {
  double* nearest_mean = thread.nearest_mean.data() + column_begin;
  float* nearest_impostor = thread.nearest_impostor.data() + column_begin;
  std::uint32_t* closer = thread.closer.data() + column_begin;
  const float* own_min = context.own_min.data() + column_begin;
  for (std::size_t c = 0; c < columns; ++c) {
    const float d = row[c];
    nearest_mean[c] = std::min(nearest_mean[c], double(d));
    nearest_impostor[c] = d < nearest_impostor[c] ? d : nearest_impostor[c];
    closer[c] += d < own_min[c] ? 1 : 0;
  }
}

// Rows of `block` against rows [column_begin, column_end) of later blocks:
// every pair is an impostor pair, seen once from each side.
void ScanBlockPair(ScanContext& context, ScanThread& thread, Block block, std::size_t column_begin,
                   std::size_t column_end) {
  const PreparedSpace& space = context.space;
  const std::size_t columns = column_end - column_begin;
  float* product = thread.product.get();
  BlockProduct(space, block.begin, block.size(), column_begin, columns, product);
  double* column_sum = thread.column_sum.data();
  float* column_min = thread.column_min.data();

  for (std::size_t i = block.begin; i < block.end; ++i) {
    float* row = product + (i - block.begin) * columns;
    ToDistances(space, i, column_begin, columns, row);
    ReduceRowOverIdentities(context, thread, i, row, column_begin, column_end);
    if (context.knn > 0) {
      OfferRowCandidates(thread, i, row, column_begin, columns);
      OfferColumnCandidates(thread, i, row, column_begin, columns);
    }

    // Columns: sums and minima over each identity's rows, in row order.
    const std::int32_t label = space.labels[i];
    const std::size_t label_begin = space.label_begin[label];
    const std::size_t label_end = space.label_begin[label + 1];
    if (label_end - label_begin == 1) {
      ReduceColumnsOverSingleton(context, thread, row, column_begin, columns);
    } else {
      if (i == label_begin) {
        std::fill(column_sum, column_sum + columns, 0.0);
        std::fill(column_min, column_min + columns, kInfinity);
      }
      for (std::size_t c = 0; c < columns; ++c) {
        column_sum[c] += row[c];
        column_min[c] = row[c] < column_min[c] ? row[c] : column_min[c];
      }
      if (i + 1 == label_end) ReduceColumnsOverIdentity(context, thread, label, column_begin, columns);
    }
    CollectImpostors(context, thread, i, row, column_begin, columns);
  }
}

// Silhouette, identity rank, nearest impostor and farthest genuine of row i
// from the merged per-thread figures.
RowFigures RowSummary(const ScanContext& context, const std::vector<ScanThread>& threads, std::size_t i) {
  RowFigures figures;
  double nearest_mean = std::numeric_limits<double>::infinity();
  float nearest_impostor = kInfinity;
  std::uint32_t closer = 0;
  for (const ScanThread& thread : threads) {
    nearest_mean = std::min(nearest_mean, thread.nearest_mean[i]);
    nearest_impostor = std::min(nearest_impostor, thread.nearest_impostor[i]);
    closer += thread.closer[i];
  }
  figures.nearest_impostor = nearest_impostor;
  const std::uint64_t own_size = context.space.label_size(context.space.labels[i]);
  if (own_size > 1) {
    // scikit-learn's definition: a = mean distance to the other members,
    // b = smallest mean distance to another cluster, s = (b - a) / max(a, b);
    // a sample alone in its cluster gets 0.
    const double a = context.own_sum[i] / double(own_size - 1);
    const double b = nearest_mean;
    const double denominator = std::max(a, b);
    figures.silhouette = denominator > 0 ? (b - a) / denominator : 0.0;
    figures.identity_rank = closer + 1;
    figures.farthest_genuine = context.own_max[i];
  }
  return figures;
}

// Writes the k nearest other rows of row i, nearest first (ties by row
// index), from the threads' candidate lists.
void MergeNearest(const std::vector<ScanThread>& threads, std::size_t i, int k,
                  std::vector<std::pair<float, std::uint32_t>>& candidates, std::uint32_t* out) {
  candidates.clear();
  for (const ScanThread& thread : threads) {
    for (int r = 0; r < thread.nearest.count(i); ++r) {
      candidates.emplace_back(thread.nearest.distance(i, r), thread.nearest.index(i, r));
    }
  }
  std::partial_sort(candidates.begin(), candidates.begin() + k, candidates.end());
  for (int r = 0; r < k; ++r) out[r] = candidates[r].second;
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

ScanResult ScanAllPairs(const PreparedSpace& space, const ScanOptions& options) {
  const std::size_t n = space.rows;
  ScanResult result;
  result.rows.resize(n);

  // Pair counts: rows are sorted by label, so the impostor partners of row i
  // after it are exactly the rows from the end of its label range onwards.
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t label_end = space.label_begin[space.labels[i] + 1];
    result.impostor_pairs += n - label_end;
    result.genuine_pairs += label_end - i - 1;
  }
  result.impostor_exact = result.impostor_pairs <= options.max_exact_impostor_pairs;
  result.keep_probability =
      result.impostor_exact ? 1.0 : double(options.impostor_sample_size) / double(result.impostor_pairs);

  const int threads = n > 2048 ? omp_get_max_threads() : 1;
  const int knn = options.knn_k > 0 ? int(std::min<std::size_t>(std::size_t(options.knn_k), n - 1)) : 0;
  result.knn_k = knn;
  result.neighbours.assign(n * std::size_t(knn), 0);

  ScoreCollector impostors(threads);
  ScanContext context{space, options, result.impostor_exact, result.keep_probability, knn, {}, {}, {}, {}};
  context.singleton_run_end.assign(n, 0);
  for (std::size_t j = n; j-- > 0;) {
    const bool singleton = space.label_size(space.labels[j]) == 1;
    context.singleton_run_end[j] = !singleton ? j : (j + 1 < n ? std::max(j + 1, context.singleton_run_end[j + 1]) : n);
  }
  context.own_sum.assign(n, 0.0);
  context.own_min.assign(n, kInfinity);
  context.own_max.assign(n, 0.0f);

  // Tasks: every block against itself, then every block against the later
  // blocks, kColumnBlocks at a time.
  const std::vector<Block> blocks = WholeIdentityBlocks(space);
  struct PairTask {
    std::size_t block;
    std::size_t column_begin;
    std::size_t column_end;
  };
  std::vector<PairTask> pair_tasks;
  std::size_t largest_block = 0;
  std::size_t widest = 0;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    largest_block = std::max(largest_block, blocks[b].size());
    for (std::size_t first = b + 1; first < blocks.size(); first += kColumnBlocks) {
      const std::size_t last = std::min(blocks.size(), first + kColumnBlocks) - 1;
      pair_tasks.push_back({b, blocks[first].begin, blocks[last].end});
      widest = std::max(widest, blocks[last].end - blocks[first].begin);
    }
  }
  const std::size_t product_size = std::max(largest_block * largest_block, largest_block * widest);

  std::vector<ScanThread> scan_threads;
  scan_threads.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    scan_threads.emplace_back(n, std::max(knn, 1), impostors.writer(t));
    scan_threads.back().product.reset(new float[product_size]);
    scan_threads.back().column_sum.resize(widest);
    scan_threads.back().column_min.resize(widest);
  }

  // Each thread runs its own single-threaded products: alternating a
  // multi-threaded BLAS call with an OpenMP loop makes the two thread pools
  // spin against each other on a busy machine. The diagonal blocks come first
  // because the block pairs need every row's closest own-identity distance.
  const SingleThreadedBlas single_threaded_blas(threads > 1);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    ScanThread& thread = scan_threads[t];
#pragma omp for schedule(dynamic, 1)
    for (std::size_t b = 0; b < blocks.size(); ++b) ScanDiagonalBlock(context, thread, blocks[b]);
#pragma omp for schedule(dynamic, 1)
    for (std::size_t k = 0; k < pair_tasks.size(); ++k) {
      const PairTask& task = pair_tasks[k];
      ScanBlockPair(context, thread, blocks[task.block], task.column_begin, task.column_end);
    }
  }

#pragma omp parallel num_threads(threads)
  {
    std::vector<std::pair<float, std::uint32_t>> candidates;
#pragma omp for schedule(static)
    for (std::size_t i = 0; i < n; ++i) {
      result.rows[i] = RowSummary(context, scan_threads, i);
      if (knn > 0) MergeNearest(scan_threads, i, knn, candidates, result.neighbours.data() + i * knn);
    }
  }
  result.genuine_labeled = MergeLabeled(scan_threads, &ScanThread::genuine);
  result.genuine.reserve(result.genuine_labeled.size());
  for (const auto& pair : result.genuine_labeled) result.genuine.push_back(pair.distance);
  if (options.collect_bootstrap) {
    result.tail_impostors = MergeLabeled(scan_threads, &ScanThread::tail);
    result.body_impostors = MergeLabeled(scan_threads, &ScanThread::body);
    for (const auto& thread : scan_threads) result.body_population += thread.body_population;
  }
  scan_threads.clear();
  result.impostor = impostors.Finish();
  return result;
}

}  // namespace facespace::analysis
