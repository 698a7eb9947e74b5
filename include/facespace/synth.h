// Synthetic face data: seeded image transformations written as recipes.
//
// A recipe is a short string of steps, each naming a transformation and the
// range its parameters are drawn from, optionally with a probability:
//
//   rotate(-15,15) gamma(0.6,1.6) p=0.5:blur(0,1.5) motion_blur(length=3..9,angle=0..180)
//
// Grammar (spaces separate steps; none are allowed inside a step):
//   recipe  := item { ' ' item }
//   item    := preset-name | step
//   step    := [ 'p=' number ':' ] name [ '(' [ args ] ')' ]
//   args    := value [ ',' value ]                for a transformation with one parameter:
//                                                 one value is fixed, two are a range
//            | param '=' range { ',' param '=' range }   otherwise; a parameter left
//                                                 out keeps its default range
//   range   := number [ '..' number ]
// A preset name expands to its steps. FormatRecipe prints the canonical form:
// presets expanded, every parameter of a multi-parameter transformation named
// in declaration order, `p=` only when below 1, numbers in their shortest
// round-trip form. ParseRecipe(FormatRecipe(r)) == r for every recipe.
//
// Sampling: SampleParameters draws every value uniformly from its range with
// a splitmix64 generator implemented here (the std:: distributions differ
// between standard libraries). Each step always consumes the same number of
// draws whether or not it is applied, so a step's values do not depend on the
// outcome of earlier steps. Applying a SampledRecipe is a pure function of its
// values and the input pixels: the same input, recipe and seed give the same
// pixels bit for bit, independent of thread counts.
//
// Units. Spatial parameters (blur sigma, motion blur length) are in pixels of
// the 150x150 aligned chip, whose eyes are 52.9 px apart. On a whole image
// they are scaled by the face's eye distance / 52.9, so the same recipe
// degrades a small and a large face alike; downscale factors are likewise
// relative to the chip's resolution. Translation is a fraction of the picture's
// width and height. Intensities are in 8-bit units or fractions of 255.
#ifndef FACESPACE_SYNTH_H_
#define FACESPACE_SYNTH_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "facespace/embedding.h"
#include "facespace/face.h"

namespace facespace {

class Pipeline;
class Store;

// Version of the sampled-parameter JSON written into the store; JSON of
// another version is rejected by ParseSampledRecipeJson.
constexpr int kSynthParamsFormatVersion = 1;

// ---------------------------------------------------------------------------
// Transformations

enum class TransformFamily { kGeometry, kLight, kQuality, kOcclusion };
std::string_view TransformFamilyName(TransformFamily family);  // "geometry", ...
// Throws Error(kInvalidArgument) for an unknown name.
TransformFamily ParseTransformFamily(std::string_view name);

struct ParameterSpec {
  std::string name;         // e.g. "deg"
  std::string unit;         // e.g. "degrees", for help text
  double min = 0;           // smallest value a recipe may ask for
  double max = 0;           // largest value a recipe may ask for
  double default_low = 0;   // range used when a recipe leaves the parameter out
  double default_high = 0;
};

struct TransformSpec {
  std::string name;                    // e.g. "rotate"
  TransformFamily family = TransformFamily::kGeometry;
  std::string description;             // one line, for help text and docs
  std::vector<ParameterSpec> parameters;
  // Parameter values that leave the picture bit-identical, when such values
  // exist (empty for jpeg, hflip and grayscale, which always change pixels).
  std::vector<double> identity;
  bool geometric = false;              // moves pixels, so carried points move too
};

// Every transformation, in a fixed order (the order of the docs).
const std::vector<TransformSpec>& Transforms();
// Returns nullptr when no transformation has that name.
const TransformSpec* FindTransform(std::string_view name);

// ---------------------------------------------------------------------------
// Recipes

struct ParameterRange {
  double low = 0;
  double high = 0;  // equal to low for a fixed value

  bool operator==(const ParameterRange&) const = default;
};

struct RecipeStep {
  std::string transform;                 // a TransformSpec name
  std::vector<ParameterRange> ranges;    // one per TransformSpec::parameters entry
  double probability = 1;                // in [0, 1]

  bool operator==(const RecipeStep&) const = default;
};

struct Recipe {
  std::vector<RecipeStep> steps;

  bool operator==(const Recipe&) const = default;
};

// Parses a recipe. Throws Error(kInvalidArgument) for an unknown name, a bad
// number, a range with low > high, a value outside the parameter's limits, a
// probability outside [0, 1] or an empty recipe. The message gives the
// 1-based column and repeats the recipe with a caret under that column:
//   recipe: column 16: unknown transformation "gamam" (did you mean "gamma"?)
//     rotate(-15,15) gamam(1,2)
//                    ^
Recipe ParseRecipe(std::string_view text);

// Prints the canonical form described at the top of this file.
std::string FormatRecipe(const Recipe& recipe);

struct Preset {
  std::string name;         // "pose", "light", "quality", "occlusion", "mixed"
  std::string recipe;       // the steps it expands to
  std::string description;  // one line
};
const std::vector<Preset>& Presets();

// Returns a recipe of one step of `transform` with every parameter fixed at
// the value of the given strength: 0 is the identity (where one exists) and 1
// is the strongest setting the presets use. Parameters that choose a place or
// direction (occlusion position, blur angle, shading angle) keep their default
// ranges. For transform-response curves. Throws Error(kInvalidArgument) for an
// unknown transformation or a strength outside [0, 1].
Recipe RecipeAtStrength(std::string_view transform, double strength);

// ---------------------------------------------------------------------------
// Sampling

struct SampledStep {
  std::string transform;
  bool applied = false;                 // false when the probability draw skipped it
  std::vector<double> values;           // one per parameter, drawn even when skipped
  std::uint64_t noise_seed = 0;         // seeds per-pixel randomness (noise); drawn always
  // Strength of the drawn values in [0, 1] on the same scale as
  // RecipeAtStrength; 0 when the step was skipped.
  double strength = 0;

  bool operator==(const SampledStep&) const = default;
};

struct SampledRecipe {
  std::uint64_t seed = 0;               // the seed the values were drawn with
  std::vector<SampledStep> steps;       // one per recipe step, in order

  bool operator==(const SampledRecipe&) const = default;
};

// Draws concrete values for every step. Deterministic in (recipe, seed).
SampledRecipe SampleParameters(const Recipe& recipe, std::uint64_t seed);

// Returns the seed of one synthetic sample: a hash of the run seed, a string
// that identifies the source face independently of any store (facespace uses
// "<image sha256>:<left>,<top>,<right>,<bottom>") and the variant index.
std::uint64_t DeriveSampleSeed(std::uint64_t run_seed, std::string_view source_key, int variant);

// Serialises the drawn values as a JSON object:
//   {"format_version":1,"seed":N,"steps":[{"transform":"rotate","applied":true,
//    "strength":0.4,"params":{"deg":12.0}}, ...]}
// Doubles are written in their shortest round-trip form, so parsing returns
// the same SampledRecipe.
std::string SampledRecipeJson(const SampledRecipe& sampled);
// Throws Error(kCorrupt) for malformed JSON, another format version or an
// unknown transformation.
SampledRecipe ParseSampledRecipeJson(std::string_view json);

// Bucket of a strength: 0 for [0, 0.25), 1 for [0.25, 0.5), 2 for [0.5, 0.75),
// 3 for [0.75, 1]. Strengths above 1 land in bucket 3.
int StrengthBucket(double strength);
constexpr int kStrengthBuckets = 4;

// ---------------------------------------------------------------------------
// Applying

enum class ApplyTarget {
  kImage,  // the whole photograph, before detection and alignment
  kChip,   // the kChipSize x kChipSize aligned chip
};
std::string_view ApplyTargetName(ApplyTarget target);  // "image" or "chip"
ApplyTarget ParseApplyTarget(std::string_view name);  // throws Error(kInvalidArgument)

// Face geometry that geometric steps move along with the pixels and that
// occlusion steps use to place themselves.
struct FaceGeometry {
  // Corners of the face box (top-left, top-right, bottom-right, bottom-left),
  // in pixel coordinates. Empty when unknown.
  std::vector<cv::Point2f> box_corners;
  // kLandmarkCount points in pixel coordinates, or empty.
  std::vector<cv::Point2f> landmarks;

  // Builds the geometry of a detected face.
  static FaceGeometry FromFace(const FaceBox& box, std::span<const cv::Point2f> landmarks);
  // Returns the axis-aligned bounding box of the corners (all zero when empty).
  FaceBox BoundingBox() const;
};

// Applies the applied steps of `sampled` in order to `rgb` (CV_8UC3, R,G,B)
// and returns a new image of the same size; `rgb` is not modified.
//
// On kChip the face's eyes, mouth and chin are where the aligned chip puts
// them. On kImage they come from `geometry` (landmarks, else the box, else the
// whole picture is taken as the face). When `geometry` is given, geometric
// steps move its points with the pixels.
//
// Thread-safe; the result does not depend on cv::setNumThreads.
// Throws Error(kInvalidArgument) for an empty or non-CV_8UC3 image or an
// unknown transformation, Error(kInternal) when OpenCV fails.
cv::Mat ApplyRecipe(const SampledRecipe& sampled, const cv::Mat& rgb, ApplyTarget target,
                    FaceGeometry* geometry = nullptr);

// Applies one step as ApplyRecipe does (also when step.applied is false).
cv::Mat ApplyStep(const SampledStep& step, const cv::Mat& rgb, ApplyTarget target,
                  FaceGeometry* geometry = nullptr);

// ---------------------------------------------------------------------------
// Generating synthetic samples

// A real face to make synthetic samples from.
struct SynthesisSource {
  std::int64_t sample_id = 0;           // the real sample; copied into results
  // Identifies the face for seeding, independently of any store. Empty: the
  // SHA-256 of the image file, ':' and the box as "left,top,right,bottom".
  std::string source_key;
  std::string identity;                 // used for contact sheets and file names
  std::filesystem::path image_path;     // the original photograph
  FaceBox box;                          // the face in that photograph
  std::vector<cv::Point2f> landmarks;   // kLandmarkCount points, or empty
  bool fallback = false;                // the box is the fixed fallback box
  // The aligned chip, when the caller already has it (kChip only). When empty,
  // the chip is cut again from the photograph at `box`.
  cv::Mat chip;
};

struct SynthesisOptions {
  Recipe recipe;
  int per_image = 1;                    // synthetic samples per source
  std::uint64_t seed = 0;               // run seed
  ApplyTarget target = ApplyTarget::kImage;
  int jobs = 0;                         // worker threads for reading, transforming, detecting; 0 = all cores
  // 68-point landmark model for detection in transformed images and for
  // cutting chips again; empty means DefaultLandmarkModelPath().
  std::filesystem::path landmark_model;
  // A face found in the transformed image counts as the source face when its
  // box overlaps the moved source box by at least this intersection over union.
  double min_overlap = 0.3;
  // When set, each result keeps its transformed picture in SyntheticSample::image.
  bool keep_images = false;
};

// One synthetic sample, found or lost.
struct SyntheticSample {
  std::int64_t source_sample_id = 0;
  std::size_t source_index = 0;         // index into the sources given
  int variant = 0;                      // 0 .. per_image - 1
  std::string source_key;               // see DeriveSampleSeed
  SampledRecipe sampled;                // sampled.seed is the sample's derived seed
  bool face_found = false;              // false: the face was lost (no embedding)
  std::string lost_reason;              // why, when not found
  Embedding embedding{};                // valid when face_found
  // The face found (image mode) or the transformed chip (chip mode); its
  // chip is the one embedded.
  Face face;
  FaceBox moved_box;                    // the source box after the geometric steps
  cv::Mat image;                        // the transformed picture, when keep_images
};

// Applied and lost counts of one transformation at one strength bucket.
struct FailureCount {
  std::int64_t applied = 0;
  std::int64_t lost = 0;
};

// Failure accounting: for each transformation, kStrengthBuckets counts. A
// lost sample counts against every step that was applied to it.
struct FailureTable {
  std::map<std::string, std::array<FailureCount, kStrengthBuckets>> by_transform;
  std::int64_t samples = 0;
  std::int64_t lost = 0;

  // Counts one sample given its drawn values and whether its face was lost.
  void Add(const SampledRecipe& sampled, bool lost);
  // {"samples":N,"lost":N,"transforms":{"rotate":[{"bucket":"0-0.25","applied":N,"lost":N},...]}}
  std::string ToJson() const;
  // A fixed-width text table with one row per transformation and bucket that
  // has applications.
  std::string ToText() const;
};

struct SynthesisTimings {
  // Summed over worker threads: reading and decoding sources, cutting chips.
  double read_seconds = 0;
  // Summed over worker threads: sampling and applying recipes.
  double transform_seconds = 0;
  // Summed over worker threads: detection and alignment in transformed images.
  double detect_seconds = 0;
  // Wall-clock time of the embedding calls (which use the pipeline's threads).
  double embed_seconds = 0;
  double wall_seconds = 0;
};

// Makes, for every source, options.per_image synthetic samples and embeds them
// with `pipeline`. On kImage each transformed photograph goes through
// detection again (every face, no fallback box), and the face whose box
// overlaps the moved source box best is embedded. A photograph without such a
// face is a lost sample, unless the source itself came from the fallback box
// and the pipeline allows one: then the moved box is aligned as ingest aligns
// its fallback box. On kChip the chip is transformed and embedded directly.
//
// Results are ordered by (source index, variant) whatever the thread count,
// and each is deterministic in (source, recipe, run seed, variant).
// `skip(source_index, variant)`, if given, leaves a sample out (used to avoid
// regenerating stored ones). `on_done(source_index)` is called on the calling
// thread, in source order, after each source's samples are embedded.
// Throws Error(kNotFound) / Error(kDecode) when a source image cannot be read.
std::vector<SyntheticSample> Synthesize(
    const Pipeline& pipeline, const std::vector<SynthesisSource>& sources,
    const SynthesisOptions& options,
    const std::function<bool(std::size_t, int)>& skip = {},
    const std::function<void(std::size_t)>& on_done = {},
    SynthesisTimings* timings = nullptr);

// ---------------------------------------------------------------------------
// Augmenting a store

struct AugmentOptions {
  SynthesisOptions synthesis;
  // Folder the store's relative image paths are resolved against. Empty: the
  // dataset folder recorded by the store's ingest run.
  std::filesystem::path dataset_root;
  // Only real samples of these identities; empty means every identity.
  std::vector<std::string> identities;
  // When non-empty, the synthetic pictures are written here as
  // <identity>/<image stem>_s<source sample>_v<variant>[_lost].png, with
  // contact sheets <identity>/contact_sheet_NNN.png: one row per source, the
  // original face first and its variants after it, lost ones framed in red.
  std::filesystem::path save_images;
  int batch_size = 64;  // sources per store commit
  // Called with (sources done, sources total) for progress display.
  std::function<void(std::int64_t, std::int64_t)> on_progress;
};

struct AugmentSummary {
  std::int64_t sources = 0;             // real samples considered
  std::int64_t already_stored = 0;      // samples (or recorded losses) skipped as done before
  std::int64_t generated = 0;           // synthetic samples added
  std::int64_t lost = 0;                // synthetic images whose face was lost
  FailureTable failures;                // this run's accounting
  SynthesisTimings timings;
  std::int64_t run = 0;                 // the store run that recorded this
  std::string recipe;                   // canonical recipe text
};

// Generates and stores synthetic samples for the real samples of `store`:
// kind synthetic, with provenance (source sample, canonical recipe, sampled
// parameters JSON, run seed). A sample whose (source, recipe, seed, variant)
// is already stored, or whose loss is already recorded, is not made again, so
// re-running adds nothing. Each lost face is recorded as a store failure of
// stage "synth". Commits every options.batch_size sources.
AugmentSummary Augment(Store& store, const Pipeline& pipeline, const AugmentOptions& options);

// Rebuilds the failure accounting of augment runs from the store: applied
// counts from the synthetic samples' parameters, losses from the "synth"
// failures, whose reasons end in the lost sample's parameters JSON. Only runs
// `run` when given, otherwise every augment run.
FailureTable StoredFailureTable(const Store& store, std::optional<std::int64_t> run = std::nullopt);

}  // namespace facespace

#endif  // FACESPACE_SYNTH_H_
