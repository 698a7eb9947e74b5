#include "facespace/distance.h"

#include <cassert>
#include <cmath>

#include "facespace/error.h"

namespace facespace {

Metric ParseMetric(std::string_view text) {
  if (text == "l2") return Metric::kL2;
  if (text == "l2sq" || text == "squared-l2") return Metric::kSquaredL2;
  if (text == "cosine") return Metric::kCosine;
  throw Error(ErrorCategory::kInvalidArgument,
              "metric '" + std::string(text) + "': expected l2, squared-l2 or cosine");
}

std::string_view MetricName(Metric metric) {
  switch (metric) {
    case Metric::kL2: return "l2";
    case Metric::kSquaredL2: return "squared-l2";
    case Metric::kCosine: return "cosine";
  }
  return "unknown";
}

float SquaredL2Distance(std::span<const float> a, std::span<const float> b) {
  assert(a.size() == b.size());
  float sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const float diff = a[i] - b[i];
    sum += diff * diff;
  }
  return sum;
}

float L2Distance(std::span<const float> a, std::span<const float> b) {
  return std::sqrt(SquaredL2Distance(a, b));
}

float CosineSimilarity(std::span<const float> a, std::span<const float> b) {
  assert(a.size() == b.size());
  double dot = 0, norm_a = 0, norm_b = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    norm_a += double(a[i]) * a[i];
    norm_b += double(b[i]) * b[i];
  }
  if (norm_a == 0 || norm_b == 0) return 0;
  return static_cast<float>(dot / std::sqrt(norm_a * norm_b));
}

float Distance(Metric metric, std::span<const float> a, std::span<const float> b) {
  switch (metric) {
    case Metric::kL2: return L2Distance(a, b);
    case Metric::kSquaredL2: return SquaredL2Distance(a, b);
    case Metric::kCosine: return 1.0f - CosineSimilarity(a, b);
  }
  return 0;
}

}  // namespace facespace
