// Face detection, landmarks and alignment.
//
// dlib's HOG frontal detector finds faces, the 68-point shape predictor from
// libdlib-data places landmarks, and dlib's face-chip geometry cuts a 150x150
// aligned chip with padding 0.25, the input the embedding model expects. The
// detector and the shape predictor run through faster code that returns
// dlib's boxes, scores and landmarks bit for bit.
#ifndef FACESPACE_FACE_H_
#define FACESPACE_FACE_H_

#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace facespace {

constexpr int kChipSize = 150;
constexpr double kChipPadding = 0.25;
constexpr int kLandmarkCount = 68;

struct FaceBox {
  // Pixel coordinates in the decoded image; may extend beyond its border.
  int left = 0;
  int top = 0;
  int right = 0;   // inclusive, as dlib::rectangle
  int bottom = 0;  // inclusive

  long area() const { return static_cast<long>(right - left + 1) * (bottom - top + 1); }
};

struct Face {
  FaceBox box;
  std::array<cv::Point2f, kLandmarkCount> landmarks;  // image pixel coordinates
  double detector_score = 0;  // HOG detection confidence (dlib's SVM score, above 0), or 0 for a fallback box
  bool fallback = false;      // true when the box is the fixed central fallback box
  cv::Mat chip;               // kChipSize x kChipSize, CV_8UC3, RGB order
};

enum class MultiFacePolicy {
  kLargest,  // keep only the face with the largest box (the higher score on a tie)
  kAll,      // keep every face, ordered by detector score (highest first)
  kCentral,  // keep only the face whose box centre is nearest the image centre, as in
             // datasets such as LFW where the labelled person is the one in the middle
};

struct DetectOptions {
  // Times the image is doubled before detection (dlib's pyramid_up), 0 to 3.
  // HOG finds faces of about 80x80 pixels and up at 0, 40x40 at 1.
  int upsample = 1;
  MultiFacePolicy policy = MultiFacePolicy::kLargest;
  // When no face is detected, try the other upsampling levels from 0 to
  // upsample + 1 (at most 2), and when those find none either, use a fixed
  // central box instead of reporting no face. Meant for datasets of
  // pre-cropped faces such as LFW.
  bool fallback_box = false;
};

// Returns the fixed central box used when options.fallback_box is set and the
// detector finds nothing in an image of `width` x `height` pixels: a square of
// 0.42 times the shorter side, centred horizontally, its centre at 0.535 of
// the height. For LFW's 250x250 images this is (73, 81)-(177, 185), close to
// the mean HOG box on a sample of LFW images.
FaceBox FallbackBox(int width, int height);

// Detects, landmarks and aligns faces. One FaceFinder is not safe for
// concurrent use; give each thread its own (copies share the loaded models).
class FaceFinder {
 public:
  // Loads the 68-point landmark model, or shares the copy already loaded from
  // the same path. Throws Error(kNotFound), Error(kCorrupt), or
  // Error(kMismatch) for a model with another number of points.
  explicit FaceFinder(const std::filesystem::path& landmark_model);
  FaceFinder(const FaceFinder& other);
  FaceFinder& operator=(const FaceFinder&) = delete;
  ~FaceFinder();

  // Returns the faces in `rgb` (CV_8UC3, RGB) according to `options`. Returns an
  // empty vector when there is no face and no fallback box was requested.
  // Throws Error(kInvalidArgument) for another image type or an upsample
  // outside 0..3.
  std::vector<Face> Find(const cv::Mat& rgb, const DetectOptions& options) const;

  // Landmarks and aligns a face inside a known box (no detection). The box may
  // extend beyond the image, and chip pixels outside the image are black.
  Face AlignInBox(const cv::Mat& rgb, const FaceBox& box) const;

 private:
  struct Models;
  std::shared_ptr<const Models> models_;
  struct Detector;
  std::unique_ptr<Detector> detector_;
};

// Returns the default landmark model path: $FACESPACE_LANDMARK_MODEL if set,
// otherwise the libdlib-data location the build was configured with.
std::filesystem::path DefaultLandmarkModelPath();

}  // namespace facespace

#endif  // FACESPACE_FACE_H_
