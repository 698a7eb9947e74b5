// Distances between embeddings and the conversions between their units.
//
// Three units appear in this field and are easy to mix up:
//   plain L2     d = ||a - b||            (dlib's threshold 0.6 is in these units)
//   squared L2   d^2                      (what FAISS's L2 indexes report)
//   cosine       1 - a.b / (|a| |b|)      (cosine distance; similarity is a.b/(|a||b|))
// Plain and squared L2 convert exactly. L2 and cosine convert exactly only for
// unit-length vectors, where d^2 = 2 * cosine_distance.
#ifndef FACESPACE_DISTANCE_H_
#define FACESPACE_DISTANCE_H_

#include <span>
#include <string>
#include <string_view>

namespace facespace {

enum class Metric { kL2, kSquaredL2, kCosine };

// Parses "l2", "l2sq" / "squared-l2", "cosine". Throws Error(kInvalidArgument).
Metric ParseMetric(std::string_view text);
std::string_view MetricName(Metric metric);

float L2Distance(std::span<const float> a, std::span<const float> b);
float SquaredL2Distance(std::span<const float> a, std::span<const float> b);
float CosineSimilarity(std::span<const float> a, std::span<const float> b);
float Distance(Metric metric, std::span<const float> a, std::span<const float> b);

}  // namespace facespace

#endif  // FACESPACE_DISTANCE_H_
