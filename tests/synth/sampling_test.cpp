#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "facespace/error.h"
#include "facespace/synth.h"
#include "synth/random.h"

namespace facespace {
namespace {

TEST(Sampling, SameSeedSameValues) {
  const Recipe recipe = ParseRecipe("mixed quality");
  EXPECT_EQ(SampleParameters(recipe, 99), SampleParameters(recipe, 99));
  EXPECT_NE(SampleParameters(recipe, 99), SampleParameters(recipe, 100));
}

TEST(SplitMix64, MatchesTheReferenceSequence) {
  // The first outputs of the reference splitmix64.c for seed 1234567. A change
  // here changes every synthetic sample made from a seed.
  synth::SplitMix64 random(1234567);
  EXPECT_EQ(random.Next(), 6457827717110365317ULL);
  EXPECT_EQ(random.Next(), 3203168211198807973ULL);
}

TEST(SplitMix64, UniformAndNormalMoments) {
  synth::SplitMix64 random(11);
  constexpr int kDraws = 100000;
  double uniform_sum = 0;
  double normal_sum = 0;
  double normal_squares = 0;
  for (int i = 0; i < kDraws; ++i) {
    const double u = random.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    uniform_sum += u;
    const double n = random.Normal();
    normal_sum += n;
    normal_squares += n * n;
  }
  EXPECT_NEAR(uniform_sum / kDraws, 0.5, 0.01);
  EXPECT_NEAR(normal_sum / kDraws, 0.0, 0.02);
  EXPECT_NEAR(normal_squares / kDraws, 1.0, 0.02);
}

TEST(Sampling, ValuesStayInTheirRanges) {
  const Recipe recipe = ParseRecipe("rotate(-15,15) motion_blur(length=2..9,angle=0..180) gamma(1.2)");
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    const SampledRecipe sampled = SampleParameters(recipe, seed);
    EXPECT_GE(sampled.steps[0].values[0], -15);
    EXPECT_LT(sampled.steps[0].values[0], 15);
    EXPECT_GE(sampled.steps[1].values[0], 2);
    EXPECT_LT(sampled.steps[1].values[0], 9);
    EXPECT_EQ(sampled.steps[2].values[0], 1.2);
  }
}

TEST(Sampling, ProbabilityControlsApplication) {
  const Recipe recipe = ParseRecipe("p=0:blur p=1:blur p=0.3:blur");
  int applied = 0;
  constexpr int kDraws = 2000;
  for (std::uint64_t seed = 0; seed < kDraws; ++seed) {
    const SampledRecipe sampled = SampleParameters(recipe, seed);
    EXPECT_FALSE(sampled.steps[0].applied);
    EXPECT_EQ(sampled.steps[0].strength, 0.0);
    EXPECT_TRUE(sampled.steps[1].applied);
    applied += sampled.steps[2].applied ? 1 : 0;
  }
  EXPECT_NEAR(applied / static_cast<double>(kDraws), 0.3, 0.04);
}

TEST(Sampling, LaterStepsIgnoreEarlierOutcomes) {
  // Changing the first step's probability changes whether it applies, never
  // the values drawn for the second step.
  const SampledRecipe always = SampleParameters(ParseRecipe("p=1:blur rotate"), 5);
  const SampledRecipe never = SampleParameters(ParseRecipe("p=0:blur rotate"), 5);
  EXPECT_EQ(always.steps[1], never.steps[1]);
}

TEST(Sampling, DerivedSeedsDiffer) {
  std::set<std::uint64_t> seeds;
  for (const std::uint64_t run : {0ULL, 1ULL}) {
    for (const std::string key : {"a:1,2,3,4", "b:1,2,3,4", "a:1,2,3,5"}) {
      for (int variant = 0; variant < 10; ++variant) {
        seeds.insert(DeriveSampleSeed(run, key, variant));
      }
    }
  }
  EXPECT_EQ(seeds.size(), 60u);
}

TEST(SampledJson, RoundTripsExactly) {
  const SampledRecipe sampled = SampleParameters(ParseRecipe("pose light quality occlusion"), 77);
  const std::string json = SampledRecipeJson(sampled);
  EXPECT_EQ(ParseSampledRecipeJson(json), sampled);
  EXPECT_NE(json.find("\"format_version\":1"), std::string::npos);
  EXPECT_NE(json.find("\"transform\":\"rotate\""), std::string::npos);
}

TEST(SampledJson, RejectsBadInput) {
  const std::vector<std::string> bad = {
      "not json",
      R"({"format_version":2,"seed":1,"steps":[]})",
      R"({"seed":1,"steps":[]})",
      R"({"format_version":1,"seed":1,"steps":[{"transform":"twirl","applied":true,"strength":0,"noise_seed":1,"params":{}}]})",
      R"({"format_version":1,"seed":1,"steps":[{"transform":"rotate","applied":true,"strength":0,"noise_seed":1,"params":{}}]})",
  };
  for (const std::string& text : bad) {
    SCOPED_TRACE(text);
    try {
      ParseSampledRecipeJson(text);
      ADD_FAILURE() << "no error";
    } catch (const Error& error) {
      EXPECT_EQ(error.category(), ErrorCategory::kCorrupt);
    }
  }
}

TEST(StrengthBucket, Edges) {
  EXPECT_EQ(StrengthBucket(0.0), 0);
  EXPECT_EQ(StrengthBucket(0.2499), 0);
  EXPECT_EQ(StrengthBucket(0.25), 1);
  EXPECT_EQ(StrengthBucket(0.74), 2);
  EXPECT_EQ(StrengthBucket(0.75), 3);
  EXPECT_EQ(StrengthBucket(1.0), 3);
  EXPECT_EQ(StrengthBucket(7.0), 3);
}

cv::Mat NoisyPattern(int width, int height) {
  cv::Mat rgb(height, width, CV_8UC3);
  cv::randu(rgb, 0, 255);
  cv::GaussianBlur(rgb, rgb, cv::Size(7, 7), 2.0);
  cv::rectangle(rgb, {width / 3, height / 3}, {width / 2, height / 2}, cv::Scalar(250, 240, 10),
                cv::FILLED);
  return rgb;
}

// Applies every preset for seeds [0, count) with `threads` threads, each
// sample on whichever thread takes it.
std::vector<cv::Mat> ApplyAll(const cv::Mat& picture, int count, int threads) {
  const Recipe recipe = ParseRecipe("pose light quality occlusion");
  std::vector<cv::Mat> results(count);
  std::vector<std::thread> pool;
  std::atomic<int> next{0};
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        FaceGeometry geometry = FaceGeometry::FromFace(FaceBox{90, 60, 210, 180}, {});
        results[i] = ApplyRecipe(SampleParameters(recipe, DeriveSampleSeed(3, "key", i)), picture,
                                 ApplyTarget::kImage, &geometry);
      }
    });
  }
  for (std::thread& thread : pool) thread.join();
  return results;
}

TEST(Determinism, BitExactAcrossRunsAndThreadCounts) {
  const cv::Mat picture = NoisyPattern(300, 250);
  constexpr int kSamples = 24;
  const int opencv_threads = cv::getNumThreads();

  cv::setNumThreads(1);
  const std::vector<cv::Mat> serial = ApplyAll(picture, kSamples, 1);
  cv::setNumThreads(4);
  const std::vector<cv::Mat> parallel = ApplyAll(picture, kSamples, 4);
  const std::vector<cv::Mat> again = ApplyAll(picture, kSamples, 3);
  cv::setNumThreads(opencv_threads);

  int changed = 0;
  for (int i = 0; i < kSamples; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(cv::norm(serial[i], parallel[i], cv::NORM_INF), 0.0);
    EXPECT_EQ(cv::norm(serial[i], again[i], cv::NORM_INF), 0.0);
    changed += cv::norm(serial[i], picture, cv::NORM_INF) > 0 ? 1 : 0;
  }
  EXPECT_EQ(changed, kSamples);
}

TEST(ApplyTarget, NamesRoundTrip) {
  EXPECT_EQ(ParseApplyTarget("image"), ApplyTarget::kImage);
  EXPECT_EQ(ParseApplyTarget("chip"), ApplyTarget::kChip);
  EXPECT_EQ(ApplyTargetName(ApplyTarget::kChip), "chip");
  EXPECT_THROW(ParseApplyTarget("face"), Error);
}

}  // namespace
}  // namespace facespace
