#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "facespace/error.h"
#include "facespace/report.h"
#include "synth/random.h"

namespace facespace {
namespace {

constexpr int kDimension = 32;

// `clusters` isotropic Gaussian clusters of `per_cluster` rows each, standard
// deviation 1 around centres 12 apart along distinct axes, rows interleaved
// so that cluster membership does not follow row order.
std::vector<float> GaussianClusters(int clusters, int per_cluster, std::vector<int>& labels) {
  synth::SplitMix64 random(7);
  std::vector<float> vectors;
  labels.clear();
  for (int n = 0; n < per_cluster; ++n) {
    for (int c = 0; c < clusters; ++c) {
      for (int d = 0; d < kDimension; ++d) {
        const double centre = d == c ? 12.0 : 0.0;
        vectors.push_back(static_cast<float>(centre + random.Normal()));
      }
      labels.push_back(c);
    }
  }
  return vectors;
}

// Share of the k nearest 2-D neighbours of every point that carry its label.
double NeighbourPurity(const Projection2d& projection, const std::vector<int>& labels, int k) {
  const std::size_t n = projection.points.size();
  int same = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::pair<double, std::size_t>> by_distance;
    for (std::size_t j = 0; j < n; ++j) {
      if (j == i) continue;
      const double dx = projection.points[i][0] - projection.points[j][0];
      const double dy = projection.points[i][1] - projection.points[j][1];
      by_distance.emplace_back(dx * dx + dy * dy, j);
    }
    std::partial_sort(by_distance.begin(), by_distance.begin() + k, by_distance.end());
    for (int m = 0; m < k; ++m) same += labels[by_distance[m].second] == labels[i] ? 1 : 0;
  }
  return static_cast<double>(same) / static_cast<double>(n * k);
}

TEST(ProjectTsne, SeparatedClustersStaySeparated) {
  std::vector<int> labels;
  const std::vector<float> vectors = GaussianClusters(5, 40, labels);
  TsneOptions options;
  options.seed = 3;
  const Projection2d projection = ProjectTsne(vectors, kDimension, options);
  ASSERT_EQ(projection.points.size(), labels.size());
  EXPECT_GE(NeighbourPurity(projection, labels, 5), 0.98);
  EXPECT_TRUE(std::isnan(projection.explained_variance[0]));
}

TEST(ProjectTsne, ExactRepulsionAlsoSeparates) {
  std::vector<int> labels;
  const std::vector<float> vectors = GaussianClusters(3, 20, labels);
  TsneOptions options;
  options.theta = 0;
  options.iterations = 500;
  const Projection2d projection = ProjectTsne(vectors, kDimension, options);
  EXPECT_GE(NeighbourPurity(projection, labels, 5), 0.98);
}

TEST(ProjectTsne, SameSeedSameOutput) {
  std::vector<int> labels;
  const std::vector<float> vectors = GaussianClusters(4, 25, labels);
  TsneOptions options;
  options.seed = 11;
  options.iterations = 300;
  const Projection2d first = ProjectTsne(vectors, kDimension, options);
  const Projection2d second = ProjectTsne(vectors, kDimension, options);
  ASSERT_EQ(first.points.size(), second.points.size());
  for (std::size_t i = 0; i < first.points.size(); ++i) {
    EXPECT_EQ(first.points[i][0], second.points[i][0]) << "row " << i;
    EXPECT_EQ(first.points[i][1], second.points[i][1]) << "row " << i;
  }
}

TEST(ProjectTsne, ThreadCountDoesNotChangeOutput) {
  // Large enough for the gradient to run on several threads.
  std::vector<int> labels;
  const std::vector<float> vectors = GaussianClusters(10, 120, labels);
  TsneOptions options;
  options.iterations = 20;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Projection2d one_thread = ProjectTsne(vectors, kDimension, options);
  omp_set_num_threads(2);
  const Projection2d two_threads = ProjectTsne(vectors, kDimension, options);
  omp_set_num_threads(threads);
  ASSERT_EQ(one_thread.points.size(), two_threads.points.size());
  for (std::size_t i = 0; i < one_thread.points.size(); ++i) {
    ASSERT_EQ(one_thread.points[i], two_threads.points[i]) << "row " << i;
  }
}

TEST(ProjectTsne, OtherSeedOtherOutput) {
  std::vector<int> labels;
  const std::vector<float> vectors = GaussianClusters(4, 25, labels);
  TsneOptions options;
  options.iterations = 300;
  options.seed = 1;
  const Projection2d first = ProjectTsne(vectors, kDimension, options);
  options.seed = 2;
  const Projection2d second = ProjectTsne(vectors, kDimension, options);
  EXPECT_NE(first.points[0], second.points[0]);
}

TEST(ProjectTsne, CoincidentRowsDoNotBreakTree) {
  // Many identical rows put equal positions into one quadtree leaf.
  std::vector<float> vectors;
  for (int i = 0; i < 30; ++i) {
    for (int d = 0; d < 4; ++d) vectors.push_back(i < 20 ? 1.f : float(i * d));
  }
  TsneOptions options;
  options.iterations = 100;
  const Projection2d projection = ProjectTsne(vectors, 4, options);
  for (const auto& point : projection.points) {
    EXPECT_TRUE(std::isfinite(point[0]));
    EXPECT_TRUE(std::isfinite(point[1]));
  }
}

TEST(EffectiveTsnePerplexity, LoweredForFewRows) {
  EXPECT_DOUBLE_EQ(EffectiveTsnePerplexity(30, 3000), 30);
  EXPECT_DOUBLE_EQ(EffectiveTsnePerplexity(30, 73), 24);
  EXPECT_DOUBLE_EQ(EffectiveTsnePerplexity(30, 4), 1);
}

TEST(ProjectTsne, RejectsTooFewRows) {
  const std::vector<float> vectors(9, 1.f);
  try {
    ProjectTsne(vectors, 3);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kInvalidArgument);
    EXPECT_STREQ(error.what(), "t-SNE: 3 rows, at least 4 are needed");
  }
}

TEST(ProjectTsne, RejectsRaggedInput) {
  const std::vector<float> vectors(10, 1.f);
  EXPECT_THROW(ProjectTsne(vectors, 3), Error);
}

TEST(ProjectTsne, RejectsNegativeTheta) {
  const std::vector<float> vectors(12, 1.f);
  TsneOptions options;
  options.theta = -1;
  EXPECT_THROW(ProjectTsne(vectors, 3, options), Error);
}

}  // namespace
}  // namespace facespace
