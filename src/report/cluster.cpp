// Chinese whispers clustering of unlabelled faces into identities.
#include <map>

#include <dlib/clustering.h>
#include <fmt/format.h>

#include "facespace/distance.h"
#include "facespace/error.h"
#include "facespace/experiment.h"

namespace facespace {

std::vector<int> ClusterByChineseWhispers(std::span<const float> vectors, int dimension,
                                          double threshold, std::uint64_t seed, int iterations) {
  if (dimension < 1 || vectors.size() % static_cast<std::size_t>(dimension) != 0) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("clustering: {} floats do not form rows of dimension {}", vectors.size(), dimension));
  }
  if (!(threshold > 0)) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("clustering: threshold {}: must be positive", threshold));
  }
  const std::size_t rows = vectors.size() / dimension;
  const auto row = [&](std::size_t i) { return vectors.subspan(i * dimension, dimension); };

  // Every face gets a self edge so that a face with no close neighbour forms its own cluster.
  std::vector<dlib::sample_pair> edges;
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = i; j < rows; ++j) {
      if (i == j || L2Distance(row(i), row(j)) < threshold) edges.emplace_back(i, j);
    }
  }

  std::vector<unsigned long> raw;
  dlib::rand random(std::to_string(seed));
  dlib::chinese_whispers(edges, raw, iterations, random);

  std::map<unsigned long, int> renumbered;
  std::vector<int> labels(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    const auto [it, inserted] = renumbered.try_emplace(raw[i], static_cast<int>(renumbered.size()));
    labels[i] = it->second;
  }
  return labels;
}

}  // namespace facespace
