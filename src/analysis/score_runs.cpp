// ScoreCollector, the rank queries on ScoreRuns, and the radix sort of
// smaller score sets.
#include "analysis/score_runs.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <omp.h>

#include "facespace/error.h"

namespace facespace::analysis {

ScoreCollector::ScoreCollector(int threads) : streams_(std::max(threads, 1)) {
  for (auto& streams : streams_) streams.resize(kGroups);
}

void ScoreCollector::Grow(Stream& stream) {
  // new[] without () leaves the buffer uninitialised: every slot is written
  // before it is read.
  stream.chunks.emplace_back(new std::uint16_t[kChunk]);
  stream.fill = stream.chunks.back().get();
  stream.end = stream.fill + kChunk;
}

ScoreRuns ScoreCollector::Finish() {
  // Groups that received anything, and how many scores in all.
  std::vector<std::uint32_t> active;
  std::uint64_t total = 0;
  for (std::size_t group = 0; group < kGroups; ++group) {
    bool any = false;
    for (const auto& streams : streams_) {
      const Stream& stream = streams[group];
      if (stream.chunks.empty()) continue;
      any = true;
      total += (stream.chunks.size() - 1) * kChunk + std::size_t(stream.fill - stream.chunks.back().get());
    }
    if (any) active.push_back(std::uint32_t(group));
  }
  if (total > kMaxCollectedScores) {
    throw Error(ErrorCategory::kInvalidArgument,
                "distance collection: " + std::to_string(total) + " distances exceed the supported " +
                    std::to_string(kMaxCollectedScores) + "; lower the exact pair limit or the sample size");
  }

  // A group is counted with a table of 65,536 counters (256 KB), cleared
  // while its non-zero entries are read out in order. A sparse group is
  // sorted instead, which saves reading the whole table.
  std::vector<ScoreRuns> parts(active.size());
#pragma omp parallel if (total > (1u << 20))
  {
    std::vector<std::uint32_t> table(std::size_t(1) << kLowBits, 0);
    std::vector<std::uint16_t> sparse;
#pragma omp for schedule(dynamic, 1)
    for (std::size_t a = 0; a < active.size(); ++a) {
      const std::uint32_t group = active[a];
      sparse.clear();
      std::uint64_t size = 0;
      for (auto& streams : streams_) {
        Stream& stream = streams[group];
        for (std::size_t c = 0; c < stream.chunks.size(); ++c) {
          const std::uint16_t* low = stream.chunks[c].get();
          const std::uint16_t* end = c + 1 == stream.chunks.size() ? stream.fill : low + kChunk;
          size += std::uint64_t(end - low);
          if (size <= kSparseGroup) {
            sparse.insert(sparse.end(), low, end);
          } else {
            for (const std::uint16_t value : sparse) ++table[value];
            sparse.clear();
            for (; low < end; ++low) ++table[*low];
          }
        }
        stream = Stream{};
      }

      ScoreRuns& part = parts[a];
      auto emit = [&](std::uint32_t low, std::uint32_t count) {
        const std::uint32_t key = (group << kLowBits) | low;
        float value;
        std::memcpy(&value, &key, sizeof value);
        part.values.push_back(value);
        part.counts.push_back(count);
      };
      if (size <= kSparseGroup) {
        std::sort(sparse.begin(), sparse.end());
        for (std::size_t k = 0; k < sparse.size();) {
          std::size_t next = k + 1;
          while (next < sparse.size() && sparse[next] == sparse[k]) ++next;
          emit(sparse[k], std::uint32_t(next - k));
          k = next;
        }
        continue;
      }
      for (std::uint32_t low = 0; low < table.size(); ++low) {
        if (table[low] == 0) continue;
        emit(low, table[low]);
        table[low] = 0;
      }
    }
  }

  // Concatenate the groups, which are already in ascending order.
  std::vector<std::size_t> offsets(parts.size() + 1, 0);
  for (std::size_t a = 0; a < parts.size(); ++a) offsets[a + 1] = offsets[a] + parts[a].values.size();
  ScoreRuns runs;
  runs.values.resize(offsets.back());
  runs.counts.resize(offsets.back());
  runs.total = total;
#pragma omp parallel for schedule(dynamic, 8) if (total > (1u << 20))
  for (std::size_t a = 0; a < parts.size(); ++a) {
    std::copy(parts[a].values.begin(), parts[a].values.end(), runs.values.begin() + offsets[a]);
    std::copy(parts[a].counts.begin(), parts[a].counts.end(), runs.counts.begin() + offsets[a]);
    parts[a] = ScoreRuns{};
  }
  return runs;
}

std::vector<float> ValuesAtRanks(const ScoreRuns& runs, std::span<const std::uint64_t> ranks) {
  std::vector<float> out;
  out.reserve(ranks.size());
  std::size_t run = 0;
  std::uint64_t run_end = runs.values.empty() ? 0 : runs.counts[0];  // ranks below this lie in runs 0 .. run
  for (std::uint64_t rank : ranks) {
    while (rank >= run_end) run_end += runs.counts[++run];
    out.push_back(runs.values[run]);
  }
  return out;
}

std::vector<std::uint64_t> CountsBelow(const ScoreRuns& runs, std::span<const float> thresholds) {
  std::vector<std::uint64_t> out;
  out.reserve(thresholds.size());
  std::size_t run = 0;
  std::uint64_t below = 0;
  for (float threshold : thresholds) {
    while (run < runs.values.size() && runs.values[run] < threshold) below += runs.counts[run++];
    out.push_back(below);
  }
  return out;
}

std::vector<double> RunsQuantiles(const ScoreRuns& runs, std::span<const double> probabilities) {
  if (runs.empty()) return std::vector<double>(probabilities.size(), std::nan(""));

  // The same positions and interpolation as SortedQuantile.
  std::vector<std::uint64_t> ranks;
  std::vector<double> fractions;
  for (double probability : probabilities) {
    const double position = probability * double(runs.total - 1);
    const std::uint64_t low = static_cast<std::uint64_t>(std::floor(position));
    ranks.push_back(low);
    ranks.push_back(std::min(runs.total - 1, low + 1));
    fractions.push_back(position - double(low));
  }
  const std::vector<float> values = ValuesAtRanks(runs, ranks);
  std::vector<double> quantiles;
  for (std::size_t q = 0; q < fractions.size(); ++q) {
    const double low = values[2 * q];
    const double high = values[2 * q + 1];
    quantiles.push_back(low + fractions[q] * (high - low));
  }
  return quantiles;
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

}  // namespace facespace::analysis
