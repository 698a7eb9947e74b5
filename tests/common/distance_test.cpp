#include "facespace/distance.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "facespace/error.h"

namespace facespace {
namespace {

TEST(Distance, PlainAndSquaredL2Agree) {
  const std::vector<float> a = {1, 2, 3}, b = {4, 6, 3};
  EXPECT_FLOAT_EQ(L2Distance(a, b), 5.0f);
  EXPECT_FLOAT_EQ(SquaredL2Distance(a, b), 25.0f);
}

TEST(Distance, CosineOfUnitVectorsMatchesL2) {
  const float s = std::sqrt(0.5f);
  const std::vector<float> a = {1, 0}, b = {s, s};
  const float cosine_distance = Distance(Metric::kCosine, a, b);
  EXPECT_NEAR(SquaredL2Distance(a, b), 2 * cosine_distance, 1e-6);
}

TEST(Distance, CosineOfZeroVectorIsZeroSimilarity) {
  const std::vector<float> a = {0, 0}, b = {1, 0};
  EXPECT_EQ(CosineSimilarity(a, b), 0.0f);
}

TEST(Distance, ParseMetricNames) {
  EXPECT_EQ(ParseMetric("l2"), Metric::kL2);
  EXPECT_EQ(ParseMetric("squared-l2"), Metric::kSquaredL2);
  EXPECT_EQ(ParseMetric("cosine"), Metric::kCosine);
  EXPECT_THROW(ParseMetric("manhattan"), Error);
}

}  // namespace
}  // namespace facespace
