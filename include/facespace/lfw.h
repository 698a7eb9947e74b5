// The LFW verification protocol: pair files, image paths and scoring.
//
// LFW (Labeled Faces in the Wild) publishes its benchmark as pair files. Two
// layouts exist:
//   View 1  first line N, then N matched lines "name n1 n2", then N mismatched
//           lines "name1 n1 name2 n2" (pairsDevTrain.txt, pairsDevTest.txt);
//   View 2  first line "F P" (10 300 in the published file), then for each of
//           the F folds P matched lines followed by P mismatched lines.
// A pair is scored by the distance between its two embeddings and predicted
// "same person" when that distance is below a threshold.
#ifndef FACESPACE_LFW_H_
#define FACESPACE_LFW_H_

#include <filesystem>
#include <functional>
#include <istream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "facespace/distance.h"
#include "facespace/embedding.h"

namespace facespace {

// One image of the dataset: images/NAME/NAME_NNNN.jpg.
struct LfwImage {
  std::string name;  // e.g. "Aaron_Peirsol"
  int number = 0;    // 1-based, as in the pair files

  bool operator==(const LfwImage&) const = default;
  auto operator<=>(const LfwImage&) const = default;
};

struct LfwPair {
  LfwImage first;
  LfwImage second;
  bool matched = false;  // true when both images show the same person
  int fold = 0;          // 0-based, and always 0 in View 1
  int line = 0;          // 1-based line number in the pair file
};

enum class LfwLayout { kView1, kView2 };

struct LfwPairSet {
  std::string source;   // file name, used in messages
  LfwLayout layout = LfwLayout::kView1;
  int folds = 1;        // 1 for View 1
  int pairs_per_fold = 0;  // matched pairs per fold (equal to mismatched pairs per fold)
  std::vector<LfwPair> pairs;  // in file order
};

// Parses a pair file in either layout. The first line decides the layout: one
// number means View 1, two numbers mean View 2. `source_name` is used in messages.
// Throws Error(kDecode) with "<source>:<line>: <what was expected>" on a
// malformed line, a missing line or trailing data.
LfwPairSet ParseLfwPairs(std::istream& input, const std::string& source_name);

// Reads and parses `path`. Throws Error(kNotFound) when it cannot be opened.
LfwPairSet ReadLfwPairs(const std::filesystem::path& path);

// Returns images_dir/NAME/NAME_NNNN.jpg.
std::filesystem::path LfwImagePath(const std::filesystem::path& images_dir, const LfwImage& image);

// Returns each image named by `pairs` once, sorted by name and number.
std::vector<LfwImage> DistinctImages(std::span<const LfwPair> pairs);

// A pair's distance and whether it is a matched pair: the input of scoring.
struct ScoredPair {
  double distance = 0;
  bool matched = false;
  int fold = 0;
};

// Returns the fraction of pairs classified correctly when a pair is predicted
// "same person" exactly when distance < threshold. Returns 0 for no pairs.
double AccuracyAtThreshold(std::span<const ScoredPair> pairs, double threshold);

struct FittedThreshold {
  double threshold = 0;
  double accuracy = 0;  // on the pairs it was fitted on
};

// Returns the threshold that maximises AccuracyAtThreshold on `pairs`.
// Candidates lie midway between neighbouring distinct distances, plus the
// smallest distance itself (every pair predicted "different") and the next
// float above the largest (every pair predicted "same"). Among equally good
// candidates the smallest wins, so the result is deterministic.
// Throws Error(kInvalidArgument) when `pairs` is empty.
FittedThreshold FitThreshold(std::span<const ScoredPair> pairs);

struct FoldScore {
  int fold = 0;
  int pairs = 0;
  double threshold = 0;  // fitted on the other folds
  double accuracy = 0;   // on this fold
};

struct CrossValidationScore {
  std::vector<FoldScore> folds;
  double mean_accuracy = 0;
  // Sample standard deviation of the fold accuracies (divisor folds - 1, as
  // the LFW protocol defines it) and the standard error std / sqrt(folds).
  double std_deviation = 0;
  double standard_error = 0;
};

// Scores `pairs` by leave-one-fold-out cross-validation: for each fold, fits
// the threshold on all other folds and measures accuracy on that fold.
// Throws Error(kInvalidArgument) when there are fewer than two folds or a fold
// is empty.
CrossValidationScore CrossValidate(std::span<const ScoredPair> pairs, int folds);

class Pipeline;

// The embedding of one dataset image and how its face was found.
struct LfwEmbedding {
  Embedding embedding{};
  bool fallback = false;  // the detector missed and the fixed central box was used
};

struct LfwEmbeddingSet {
  std::map<LfwImage, LfwEmbedding> images;
  int fallbacks = 0;  // images embedded from the fallback box
};

// Embeds each image of `images` once through `pipeline`, keeping the largest
// face. `pipeline` must be configured with DetectOptions::fallback_box and
// MultiFacePolicy::kLargest so that every image yields exactly one face, and
// without aligned_input. `on_done`, if given, is called with the number of
// images finished so far. Throws Error(kInvalidArgument) for another
// configuration and, because no pair may be dropped, Error naming every image
// that could not be read or decoded.
LfwEmbeddingSet EmbedLfwImages(const Pipeline& pipeline, std::span<const LfwImage> images,
                               const std::filesystem::path& images_dir,
                               const std::function<void(std::size_t done, std::size_t total)>& on_done = {});

// Returns the distance of every pair in `metric` units, in the order of
// `pairs`. Throws Error(kNotFound) when an image of a pair is not in `embeddings`.
std::vector<ScoredPair> ScorePairs(std::span<const LfwPair> pairs, const LfwEmbeddingSet& embeddings,
                                   Metric metric);

// How the threshold applied to a single set was chosen.
enum class ThresholdSource {
  kCrossValidation,  // View 2: fitted on nine folds for each tenth
  kFittedOnTrain,    // fitted on a separate training pair file
  kDefault,          // the fixed default threshold
};

struct VerificationCounts {
  int true_accepts = 0;   // matched pairs predicted same
  int false_rejects = 0;  // matched pairs predicted different
  int true_rejects = 0;   // mismatched pairs predicted different
  int false_accepts = 0;  // mismatched pairs predicted same
};

// Returns the confusion counts of `pairs` at `threshold` (same when distance < threshold).
VerificationCounts CountDecisions(std::span<const ScoredPair> pairs, double threshold);

}  // namespace facespace

#endif  // FACESPACE_LFW_H_
