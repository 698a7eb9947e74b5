#include <random>

#include <gtest/gtest.h>

#include "facespace/error.h"
#include "facespace/experiment.h"

namespace facespace {
namespace {

constexpr int kDimension = 16;

// `per_cluster` points around each of `clusters` centres; centres are about 1.4
// apart, points lie within about 0.1 of their centre.
std::vector<float> ClusteredVectors(int clusters, int per_cluster, std::uint32_t seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> noise(0.f, 0.02f);
  std::vector<float> vectors;
  for (int point = 0; point < per_cluster; ++point) {
    for (int cluster = 0; cluster < clusters; ++cluster) {
      for (int d = 0; d < kDimension; ++d) vectors.push_back((d == cluster ? 1.f : 0.f) + noise(random));
    }
  }
  return vectors;
}

TEST(ChineseWhispers, FindsSeparatedClusters) {
  const auto vectors = ClusteredVectors(4, 6, 1);
  const auto labels = ClusterByChineseWhispers(vectors, kDimension, 0.6, 7);
  ASSERT_EQ(labels.size(), 24u);
  // Rows are interleaved: row r belongs to cluster r % 4.
  for (std::size_t row = 0; row < labels.size(); ++row) {
    EXPECT_EQ(labels[row], labels[row % 4]) << "row " << row;
  }
  EXPECT_EQ(labels[0], 0);
  EXPECT_EQ(labels[1], 1);
  EXPECT_EQ(labels[2], 2);
  EXPECT_EQ(labels[3], 3);
}

TEST(ChineseWhispers, IsolatedFaceFormsOwnCluster) {
  auto vectors = ClusteredVectors(2, 5, 2);
  for (int d = 0; d < kDimension; ++d) vectors.push_back(d == 9 ? 5.f : 0.f);
  const auto labels = ClusterByChineseWhispers(vectors, kDimension, 0.6, 7);
  EXPECT_EQ(labels.back(), 2);
}

TEST(ChineseWhispers, SameSeedSameLabels) {
  const auto vectors = ClusteredVectors(3, 8, 3);
  EXPECT_EQ(ClusterByChineseWhispers(vectors, kDimension, 0.6, 11),
            ClusterByChineseWhispers(vectors, kDimension, 0.6, 11));
}

TEST(ChineseWhispers, ThresholdAboveAllDistancesGivesOneCluster) {
  const auto vectors = ClusteredVectors(3, 4, 4);
  const auto labels = ClusterByChineseWhispers(vectors, kDimension, 10.0, 1);
  for (int label : labels) EXPECT_EQ(label, 0);
}

TEST(ChineseWhispers, RejectsRaggedInput) {
  const std::vector<float> vectors(kDimension + 1, 0.f);
  EXPECT_THROW(ClusterByChineseWhispers(vectors, kDimension, 0.6), Error);
}

TEST(ChineseWhispers, RejectsNonPositiveThreshold) {
  const auto vectors = ClusteredVectors(2, 2, 5);
  EXPECT_THROW(ClusterByChineseWhispers(vectors, kDimension, 0.0), Error);
}

}  // namespace
}  // namespace facespace
