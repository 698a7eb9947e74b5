// The transformations behind recipes: their parameters, strengths and pixels.
#ifndef FACESPACE_SRC_SYNTH_TRANSFORMS_H_
#define FACESPACE_SRC_SYNTH_TRANSFORMS_H_

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "facespace/synth.h"

namespace facespace::synth {

// Distance between the eye centres in the aligned chip: dlib's mean face
// template (padding 0.25, 150 px) puts them at x = 47.5 and x = 100.5.
constexpr double kChipEyeDistance = 52.93;

// Face coordinate frame. The u axis runs from the image-left eye towards the
// other, in units of the eye distance. The v axis runs from the eye midpoint
// towards the chin, in units of the eye-to-chin distance (v = 1 at the chin).
// Occlusions are drawn in this frame, so they follow a tilted or mirrored face.
struct FaceFrame {
  cv::Point2d eye_mid;
  cv::Point2d u_axis;       // unit vector
  cv::Point2d v_axis;       // unit vector, perpendicular to u_axis, towards the chin
  double eye_distance = 1;  // pixels
  double eye_to_chin = 1;   // pixels, along v_axis

  cv::Point2d ToImage(double u, double v) const {
    return eye_mid + u_axis * (u * eye_distance) + v_axis * (v * eye_to_chin);
  }
};

// State carried from step to step while a recipe is applied.
struct ApplyContext {
  ApplyTarget target = ApplyTarget::kImage;
  // Left eye, right eye and chin, always present: from landmarks, estimated
  // from the box, or from the chip template. Moved by geometric steps.
  std::vector<cv::Point2f> key_points;
  // True when the caller gave a face box (its centre is the centre of rotation).
  bool has_box = false;
  FaceGeometry* geometry = nullptr;  // the caller's geometry, moved too when set

  FaceFrame Frame() const;
  // Spatial parameters are in chip pixels; this converts them to picture pixels.
  double PixelScale() const;
  // Centre of rotation, scaling and perspective for a picture of `size`.
  cv::Point2d Center(cv::Size size) const;
  // Moves key points and geometry by the 3x3 homography `transform`.
  void MovePoints(const cv::Matx33d& transform);
};

// Builds the context for a picture of `size`.
ApplyContext MakeContext(ApplyTarget target, cv::Size size, FaceGeometry* geometry);

struct TransformImpl {
  TransformSpec spec;
  // Returns the strength in [0, 1] (values above 1 are possible for settings
  // beyond the presets' strongest) of drawn values.
  std::function<double(const std::vector<double>&)> strength;
  // Returns the fixed value of each parameter at strength s in [0, 1]; NaN
  // means the parameter keeps its default range.
  std::function<std::vector<double>(double)> at_strength;
  // Returns the transformed picture. Never modifies `rgb`.
  std::function<cv::Mat(const std::vector<double>&, std::uint64_t, const cv::Mat&,
                        ApplyContext&)>
      apply;
};

const std::vector<TransformImpl>& Registry();
// Returns nullptr for an unknown name.
const TransformImpl* FindImpl(std::string_view name);

}  // namespace facespace::synth

#endif  // FACESPACE_SRC_SYNTH_TRANSFORMS_H_
