#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "facespace/error.h"
#include "facespace/lfw.h"

namespace facespace {
namespace {

TEST(Scoring, AccuracyUsesStrictlyBelow) {
  const std::vector<ScoredPair> pairs = {{0.5, true}, {0.7, false}, {0.6, true}, {0.6, false}};
  EXPECT_DOUBLE_EQ(AccuracyAtThreshold(pairs, 0.6), 0.75);
  EXPECT_DOUBLE_EQ(AccuracyAtThreshold(pairs, 0.65), 0.75);
  EXPECT_DOUBLE_EQ(AccuracyAtThreshold(pairs, 0.55), 0.75);
  EXPECT_DOUBLE_EQ(AccuracyAtThreshold(pairs, 0.4), 0.5);
  EXPECT_DOUBLE_EQ(AccuracyAtThreshold({}, 0.6), 0.0);
}

TEST(Scoring, FitThresholdMidwayBetweenClasses) {
  const std::vector<ScoredPair> pairs = {
      {0.2, true}, {0.3, true}, {0.4, true}, {0.8, false}, {0.9, false}};
  const FittedThreshold fitted = FitThreshold(pairs);
  EXPECT_DOUBLE_EQ(fitted.threshold, 0.6);
  EXPECT_DOUBLE_EQ(fitted.accuracy, 1.0);
}

TEST(Scoring, FitThresholdWithOverlap) {
  // The best threshold accepts 0.5 (matched) and rejects 0.55 (mismatched),
  // leaving the mismatched 0.1 and the matched 0.9 wrong.
  const std::vector<ScoredPair> pairs = {{0.1, false}, {0.3, true}, {0.5, true},
                                         {0.55, false}, {0.7, false}, {0.9, true}};
  const FittedThreshold fitted = FitThreshold(pairs);
  EXPECT_DOUBLE_EQ(fitted.threshold, 0.525);
  EXPECT_DOUBLE_EQ(fitted.accuracy, 4.0 / 6.0);
}

TEST(Scoring, FitThresholdPrefersSmallestOnTies) {
  // Thresholds 0.2 (below everything) and 0.6 both classify two pairs correctly.
  const std::vector<ScoredPair> pairs = {{0.2, false}, {0.5, true}, {0.7, false}, {0.9, true}};
  EXPECT_DOUBLE_EQ(FitThreshold(pairs).threshold, 0.2);
}

TEST(Scoring, FitThresholdAllMatchedAcceptsAll) {
  const std::vector<ScoredPair> pairs = {{0.2, true}, {0.5, true}};
  const FittedThreshold fitted = FitThreshold(pairs);
  EXPECT_GT(fitted.threshold, 0.5);
  EXPECT_LT(fitted.threshold, 0.5 + 1e-9);
  EXPECT_DOUBLE_EQ(fitted.accuracy, 1.0);
}

TEST(Scoring, FitThresholdEqualDistancesNotSplit) {
  const std::vector<ScoredPair> pairs = {{0.4, true}, {0.4, true}, {0.4, false}, {0.8, false}};
  const FittedThreshold fitted = FitThreshold(pairs);
  EXPECT_DOUBLE_EQ(fitted.threshold, 0.6);
  EXPECT_DOUBLE_EQ(fitted.accuracy, 0.75);
}

TEST(Scoring, FitThresholdRejectsEmpty) {
  EXPECT_THROW(FitThreshold({}), Error);
}

// Ten folds of 10 matched pairs at 0.3 and 10 mismatched pairs at 0.8, except
// that fold k has k of its mismatched pairs at 0.2. Any threshold fitted on nine
// folds is 0.55 (midway between 0.3 and 0.8, because moving below 0.2 would lose
// 90 matched pairs), so fold k scores (20 - k) / 20.
std::vector<ScoredPair> PlantedFolds() {
  std::vector<ScoredPair> pairs;
  for (int fold = 0; fold < 10; ++fold) {
    for (int i = 0; i < 10; ++i) pairs.push_back({0.3, true, fold});
    for (int i = 0; i < 10; ++i) pairs.push_back({i < fold ? 0.2 : 0.8, false, fold});
  }
  return pairs;
}

TEST(Scoring, CrossValidateKnownAnswer) {
  const CrossValidationScore score = CrossValidate(PlantedFolds(), 10);
  ASSERT_EQ(score.folds.size(), 10u);
  for (int fold = 0; fold < 10; ++fold) {
    EXPECT_EQ(score.folds[fold].fold, fold);
    EXPECT_EQ(score.folds[fold].pairs, 20);
    EXPECT_DOUBLE_EQ(score.folds[fold].threshold, 0.55) << "fold " << fold;
    EXPECT_DOUBLE_EQ(score.folds[fold].accuracy, (20.0 - fold) / 20.0) << "fold " << fold;
  }
  // Fold error rates are k/20 for k = 0..9: mean 4.5/20, sample variance of
  // 0..9 is 82.5/9.
  const double expected_std = std::sqrt(82.5 / 9.0) / 20.0;
  EXPECT_NEAR(score.mean_accuracy, 1.0 - 4.5 / 20.0, 1e-12);
  EXPECT_NEAR(score.std_deviation, expected_std, 1e-12);
  EXPECT_NEAR(score.standard_error, expected_std / std::sqrt(10.0), 1e-12);
}

TEST(Scoring, CrossValidateFitsOnOtherFoldsOnly) {
  // Fold 1 alone would be fitted at 0.75, but the threshold applied to it must
  // come from fold 0, whose classes separate at 0.45.
  const std::vector<ScoredPair> pairs = {{0.4, true, 0}, {0.5, false, 0},
                                         {0.7, true, 1}, {0.8, false, 1}};
  const CrossValidationScore score = CrossValidate(pairs, 2);
  EXPECT_DOUBLE_EQ(score.folds[1].threshold, 0.45);
  EXPECT_DOUBLE_EQ(score.folds[1].accuracy, 0.5);
  EXPECT_DOUBLE_EQ(score.folds[0].threshold, 0.75);
  EXPECT_DOUBLE_EQ(score.folds[0].accuracy, 0.5);
}

TEST(Scoring, CrossValidateRejectsEmptyFold) {
  const std::vector<ScoredPair> pairs = {{0.4, true, 0}, {0.5, false, 0}};
  EXPECT_THROW(CrossValidate(pairs, 2), Error);
  EXPECT_THROW(CrossValidate(pairs, 1), Error);
}

}  // namespace
}  // namespace facespace
