#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "facespace/error.h"
#include "facespace/lfw.h"

namespace facespace {

double AccuracyAtThreshold(std::span<const ScoredPair> pairs, double threshold) {
  if (pairs.empty()) return 0;
  std::size_t correct = 0;
  for (const ScoredPair& pair : pairs) {
    const bool predicted_same = pair.distance < threshold;
    if (predicted_same == pair.matched) ++correct;
  }
  return static_cast<double>(correct) / pairs.size();
}

FittedThreshold FitThreshold(std::span<const ScoredPair> pairs) {
  if (pairs.empty()) {
    throw Error(ErrorCategory::kInvalidArgument, "threshold fitting: no pairs to fit on");
  }
  std::vector<ScoredPair> sorted(pairs.begin(), pairs.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const ScoredPair& a, const ScoredPair& b) { return a.distance < b.distance; });

  // Sweep the threshold upwards. Below every distance all pairs are predicted
  // "different", so exactly the mismatched pairs are correct. Passing a group
  // of equal distances turns its matched pairs correct and its mismatched ones wrong.
  long correct = std::count_if(sorted.begin(), sorted.end(),
                               [](const ScoredPair& pair) { return !pair.matched; });
  FittedThreshold best{sorted.front().distance, static_cast<double>(correct) / sorted.size()};
  long best_correct = correct;

  std::size_t i = 0;
  while (i < sorted.size()) {
    const double distance = sorted[i].distance;
    for (; i < sorted.size() && sorted[i].distance == distance; ++i) {
      correct += sorted[i].matched ? 1 : -1;
    }
    if (correct <= best_correct) continue;

    best_correct = correct;
    best.threshold = i < sorted.size()
                         ? distance + (sorted[i].distance - distance) / 2
                         : std::nextafter(distance, std::numeric_limits<double>::infinity());
  }
  best.accuracy = static_cast<double>(best_correct) / sorted.size();
  return best;
}

CrossValidationScore CrossValidate(std::span<const ScoredPair> pairs, int folds) {
  if (folds < 2) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("cross-validation: {} fold(s); at least 2 are needed", folds));
  }
  CrossValidationScore score;
  for (int fold = 0; fold < folds; ++fold) {
    std::vector<ScoredPair> train;
    std::vector<ScoredPair> test;
    for (const ScoredPair& pair : pairs) {
      (pair.fold == fold ? test : train).push_back(pair);
    }
    if (test.empty() || train.empty()) {
      throw Error(ErrorCategory::kInvalidArgument,
                  fmt::format("cross-validation: fold {} of {} has no pairs", fold + 1, folds));
    }
    FoldScore fold_score;
    fold_score.fold = fold;
    fold_score.pairs = static_cast<int>(test.size());
    fold_score.threshold = FitThreshold(train).threshold;
    fold_score.accuracy = AccuracyAtThreshold(test, fold_score.threshold);
    score.folds.push_back(fold_score);
  }

  double sum = 0;
  for (const FoldScore& fold : score.folds) sum += fold.accuracy;
  score.mean_accuracy = sum / folds;
  double squares = 0;
  for (const FoldScore& fold : score.folds) {
    squares += (fold.accuracy - score.mean_accuracy) * (fold.accuracy - score.mean_accuracy);
  }
  score.std_deviation = std::sqrt(squares / (folds - 1));
  score.standard_error = score.std_deviation / std::sqrt(static_cast<double>(folds));
  return score;
}

}  // namespace facespace
