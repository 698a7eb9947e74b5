// Exact order statistics of tens of millions of distances without sorting
// them. Distances are non-negative floats, whose bit patterns order like
// unsigned integers. ScoreCollector files each distance under the high 16 bits
// of its pattern (65,536 consecutive floats) and keeps only the low 16 bits.
// Finish() then counts every group with a table that fits in a core's cache,
// and returns the distinct values with their counts in ascending order.
//
// The rank queries here and SweepScoreRuns() give the same results, to the
// bit, as the sorted-array versions (std::lower_bound, SortedQuantile,
// SweepScores) applied to the runs written out in full.
#ifndef FACESPACE_SRC_ANALYSIS_SCORE_RUNS_H_
#define FACESPACE_SRC_ANALYSIS_SCORE_RUNS_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

namespace facespace::analysis {

// A multiset of non-negative floats as distinct values with their counts.
struct ScoreRuns {
  std::vector<float> values;          // distinct, ascending
  std::vector<std::uint32_t> counts;  // copies of each value, >= 1
  std::uint64_t total = 0;            // sum of counts

  bool empty() const { return total == 0; }
  float min() const { return values.front(); }
  float max() const { return values.back(); }
};

// Most scores one collector takes, so that no count overflows 32 bits.
constexpr std::uint64_t kMaxCollectedScores = 0xFFFFFFFFULL;

class ScoreCollector {
  struct Stream;

 public:
  // One set of buffers per thread index 0 .. threads - 1.
  explicit ScoreCollector(int threads);

  // Adds the scores of one thread index. Writers of different thread indices
  // may run concurrently; two writers of the same index may not.
  class Writer {
   public:
    // Adds a score >= 0 (+0.0, not -0.0, not NaN).
    void Add(float score) {
      std::uint32_t key;
      std::memcpy(&key, &score, sizeof key);
      Stream& stream = streams_[key >> kLowBits];
      if (stream.fill == stream.end) Grow(stream);
      *stream.fill++ = static_cast<std::uint16_t>(key);
    }

   private:
    friend class ScoreCollector;
    explicit Writer(Stream* streams) : streams_(streams) {}
    Stream* streams_;
  };

  Writer writer(int thread) { return Writer(streams_[thread].data()); }

  // Returns every added score as runs and releases the buffers. Uses OpenMP
  // threads. Throws Error(kInvalidArgument) beyond kMaxCollectedScores.
  ScoreRuns Finish();

 private:
  static constexpr int kLowBits = 16;
  static constexpr std::size_t kGroups = std::size_t(1) << (31 - kLowBits);  // positive floats only
  static constexpr std::size_t kChunk = 32768;  // low halves per buffer (64 KB)
  static constexpr std::uint64_t kSparseGroup = 4096;  // at most this many: sorted, not counted

  struct Stream {
    std::uint16_t* fill = nullptr;
    std::uint16_t* end = nullptr;
    std::vector<std::unique_ptr<std::uint16_t[]>> chunks;  // the last one is filled up to `fill`
  };

  static void Grow(Stream& stream);

  std::vector<std::vector<Stream>> streams_;  // [thread][group]
};

// Value of the element at `rank` (0-based) of each requested rank, as if the
// runs were written out in ascending order. `ranks` must be ascending and
// below runs.total.
std::vector<float> ValuesAtRanks(const ScoreRuns& runs, std::span<const std::uint64_t> ranks);

// Number of elements strictly below each threshold; `thresholds` ascending.
std::vector<std::uint64_t> CountsBelow(const ScoreRuns& runs, std::span<const float> thresholds);

// Linear-interpolation quantiles at ascending probabilities, equal to
// SortedQuantile on the written-out runs; NaN for empty runs.
std::vector<double> RunsQuantiles(const ScoreRuns& runs, std::span<const double> probabilities);

// Sorts non-negative floats ascending (LSD radix sort on their bit patterns).
void RadixSortNonNegative(std::vector<float>& values);

}  // namespace facespace::analysis

#endif  // FACESPACE_SRC_ANALYSIS_SCORE_RUNS_H_
