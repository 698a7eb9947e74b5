#include "store/vector_checks.h"

#include <cmath>

#include "facespace/error.h"

namespace facespace {
namespace {

// Returns an empty string when every component is finite, else a description.
std::string FindNonFinite(std::span<const float> vector) {
  for (std::size_t i = 0; i < vector.size(); ++i) {
    if (!std::isfinite(vector[i])) {
      return "component " + std::to_string(i) + " is " + (std::isnan(vector[i]) ? "NaN" : "infinite");
    }
  }
  return {};
}

bool IsAllZero(std::span<const float> vector) {
  for (float value : vector) {
    if (value != 0.0f) return false;
  }
  return true;
}

}  // namespace

void CheckEmbedding(std::span<const float> vector, const std::string& subject) {
  if (const std::string problem = FindNonFinite(vector); !problem.empty()) {
    throw Error(ErrorCategory::kInvalidArgument, subject + ": " + problem);
  }
  if (IsAllZero(vector)) {
    throw Error(ErrorCategory::kInvalidArgument, subject + ": all components are zero");
  }
}

void CheckQuery(std::span<const float> query, Metric metric) {
  if (const std::string problem = FindNonFinite(query); !problem.empty()) {
    throw Error(ErrorCategory::kInvalidArgument, "query: " + problem);
  }
  if (metric == Metric::kCosine && IsAllZero(query)) {
    throw Error(ErrorCategory::kInvalidArgument,
                "query: all components are zero, which has no cosine distance");
  }
}

void NormaliseInPlace(std::span<float> vector) {
  double sum = 0;
  for (float value : vector) sum += double(value) * value;
  if (sum == 0) return;
  const float scale = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& value : vector) value *= scale;
}

}  // namespace facespace
