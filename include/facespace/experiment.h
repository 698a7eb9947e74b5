// The end-to-end experiment: ingest -> before/after comparison -> analysis of the
// real, synthetic and combined spaces -> report.
#ifndef FACESPACE_EXPERIMENT_H_
#define FACESPACE_EXPERIMENT_H_

#include <cstdint>
#include <span>
#include <vector>

namespace facespace {

// Groups unlabelled faces into identities with Chinese whispers (dlib) over the
// graph whose edges join every pair of embeddings closer than `threshold` (plain
// L2). `vectors` holds rows * dimension floats. Returns one label per row,
// numbered 0, 1, ... in the order the clusters first appear, so the same input and
// seed always give the same labels. Throws Error(kInvalidArgument) when the sizes
// disagree or threshold is not positive.
std::vector<int> ClusterByChineseWhispers(std::span<const float> vectors, int dimension,
                                          double threshold, std::uint64_t seed = 0,
                                          int iterations = 100);

}  // namespace facespace

#endif  // FACESPACE_EXPERIMENT_H_
