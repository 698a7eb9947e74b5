// Verification accuracy on a subset of LFW View 1, small enough for CI.
#include <algorithm>

#include <gtest/gtest.h>

#include "facespace/embedding.h"
#include "facespace/face.h"
#include "facespace/lfw.h"
#include "facespace/pipeline.h"
#include "test_support.h"

namespace facespace {
namespace {

// Returns the first `count` matched and the first `count` mismatched pairs.
std::vector<LfwPair> FirstPairs(const LfwPairSet& set, int count) {
  std::vector<LfwPair> subset;
  int matched = 0;
  int mismatched = 0;
  for (const LfwPair& pair : set.pairs) {
    int& taken = pair.matched ? matched : mismatched;
    if (taken < count) {
      subset.push_back(pair);
      ++taken;
    }
  }
  return subset;
}

TEST(LfwSubset, DevTestAccuracyAtDefaultThreshold) {
  FACESPACE_REQUIRE_TEST_DATA("lfw/pairsDevTest.txt");
  FACESPACE_REQUIRE_TEST_DATA("lfw/images");
  if (!std::filesystem::exists(DefaultModelPath())) {
    GTEST_SKIP() << "model not found: " << DefaultModelPath() << " (run scripts/setup.sh)";
  }

  const LfwPairSet set = ReadLfwPairs(testing::TestDataDir() / "lfw/pairsDevTest.txt");
  const std::vector<LfwPair> pairs = FirstPairs(set, 50);
  ASSERT_EQ(pairs.size(), 100u);

  PipelineOptions options;
  options.detect.fallback_box = true;
  const Pipeline pipeline(DefaultModelPath(), DefaultLandmarkModelPath(), options);
  const std::vector<LfwImage> images = DistinctImages(pairs);
  const LfwEmbeddingSet embeddings = EmbedLfwImages(pipeline, images, testing::TestDataDir() / "lfw/images");
  EXPECT_EQ(embeddings.images.size(), images.size());

  const std::vector<ScoredPair> scored = ScorePairs(pairs, embeddings, Metric::kL2);
  const double accuracy = AccuracyAtThreshold(scored, kDefaultMatchThreshold);
  EXPECT_GE(accuracy, 0.95) << embeddings.fallbacks << " of " << images.size() << " images used the fallback box";

  // Deep-funneled LFW images are 250x250 crops centred on one face, so the
  // detector should find a face in nearly all of them.
  EXPECT_LE(embeddings.fallbacks, static_cast<int>(images.size() / 10));
}

TEST(LfwSubset, RejectsPipelineWithoutFallback) {
  if (!std::filesystem::exists(DefaultModelPath())) {
    GTEST_SKIP() << "model not found: " << DefaultModelPath() << " (run scripts/setup.sh)";
  }
  const Pipeline pipeline(DefaultModelPath(), DefaultLandmarkModelPath(), PipelineOptions{});
  const std::vector<LfwImage> images = {{"Nobody", 1}};
  EXPECT_THROW(EmbedLfwImages(pipeline, images, "/nonexistent"), Error);
}

}  // namespace
}  // namespace facespace
