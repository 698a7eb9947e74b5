// Face geometry while a recipe is applied: key points, the face frame and
// how geometric steps move points.
#include <algorithm>
#include <cmath>

#include "synth/transforms.h"

namespace facespace {

FaceGeometry FaceGeometry::FromFace(const FaceBox& box, std::span<const cv::Point2f> landmarks) {
  FaceGeometry geometry;
  const float left = static_cast<float>(box.left);
  const float top = static_cast<float>(box.top);
  const float right = static_cast<float>(box.right);
  const float bottom = static_cast<float>(box.bottom);
  geometry.box_corners = {{left, top}, {right, top}, {right, bottom}, {left, bottom}};
  geometry.landmarks.assign(landmarks.begin(), landmarks.end());
  return geometry;
}

FaceBox FaceGeometry::BoundingBox() const {
  if (box_corners.empty()) return FaceBox{};
  float min_x = box_corners[0].x;
  float max_x = min_x;
  float min_y = box_corners[0].y;
  float max_y = min_y;
  for (const cv::Point2f& corner : box_corners) {
    min_x = std::min(min_x, corner.x);
    max_x = std::max(max_x, corner.x);
    min_y = std::min(min_y, corner.y);
    max_y = std::max(max_y, corner.y);
  }
  return FaceBox{static_cast<int>(std::lround(min_x)), static_cast<int>(std::lround(min_y)),
                 static_cast<int>(std::lround(max_x)), static_cast<int>(std::lround(max_y))};
}

namespace synth {
namespace {

// Eye centres and chin in the aligned chip. The eyes are the means of dlib's
// mean-face template points 36-41 and 42-47 placed as get_face_chip_details
// places them (padding 0.25, 150 px). The template has no jaw, so the chin is
// estimated from 300 LFW photographs with dlib's HOG detector and 68-point
// landmarks. There the chin (point 8) lies on average 1.72 times as far from
// the eye midpoint as the mouth centre (mean of points 48-67) does.
const cv::Point2f kChipLeftEye(47.55f, 46.60f);
const cv::Point2f kChipRightEye(100.48f, 46.60f);
const cv::Point2f kChipChin(74.01f, 147.6f);

// Positions of the eyes and chin inside a face box, for faces without
// landmarks, as fractions of the box's width and height. They are means over
// the same 300 LFW photographs of the landmarks relative to dlib's HOG box.
constexpr double kBoxEyeX = 0.31;
constexpr double kBoxEyeY = 0.315;
constexpr double kBoxChinY = 1.07;

// Eye distances below this many pixels are taken as missing landmarks.
constexpr double kMinEyeDistance = 2.0;

cv::Point2f Mean(const std::vector<cv::Point2f>& points, int first, int last) {
  cv::Point2f sum(0, 0);
  for (int i = first; i <= last; ++i) sum += points[i];
  return sum * (1.0f / static_cast<float>(last - first + 1));
}

std::vector<cv::Point2f> KeyPointsInBox(const cv::Point2f& top_left, const cv::Point2f& top_right,
                                        const cv::Point2f& bottom_left) {
  const cv::Point2f across = top_right - top_left;
  const cv::Point2f down = bottom_left - top_left;
  auto at = [&](double x, double y) {
    return top_left + across * static_cast<float>(x) + down * static_cast<float>(y);
  };
  return {at(kBoxEyeX, kBoxEyeY), at(1 - kBoxEyeX, kBoxEyeY), at(0.5, kBoxChinY)};
}

cv::Point2f Transformed(const cv::Matx33d& transform, const cv::Point2f& point) {
  const cv::Vec3d moved = transform * cv::Vec3d(point.x, point.y, 1.0);
  return cv::Point2f(static_cast<float>(moved[0] / moved[2]),
                     static_cast<float>(moved[1] / moved[2]));
}

}  // namespace

ApplyContext MakeContext(ApplyTarget target, cv::Size size, FaceGeometry* geometry) {
  ApplyContext context;
  context.target = target;
  context.geometry = geometry;
  context.has_box = geometry && geometry->box_corners.size() == 4;

  // On a chip the face is where alignment put it; the caller's points (if
  // any) are only carried along.
  const bool has_landmarks = geometry && geometry->landmarks.size() == kLandmarkCount;
  if (target == ApplyTarget::kChip) {
    const float scale = static_cast<float>(size.width) / kChipSize;
    context.key_points = {kChipLeftEye * scale, kChipRightEye * scale, kChipChin * scale};
  } else if (has_landmarks) {
    const std::vector<cv::Point2f>& landmarks = geometry->landmarks;
    context.key_points = {Mean(landmarks, 36, 41), Mean(landmarks, 42, 47), landmarks[8]};
  }
  // Landmarks that put the eyes on top of each other (for example the all-zero
  // landmarks of an aligned-input face) carry no face position, so they are
  // ignored.
  if (!context.key_points.empty() &&
      cv::norm(context.key_points[1] - context.key_points[0]) < kMinEyeDistance) {
    context.key_points.clear();
  }
  if (context.key_points.empty()) {
    if (context.has_box) {
      const std::vector<cv::Point2f>& corners = geometry->box_corners;
      context.key_points = KeyPointsInBox(corners[0], corners[1], corners[3]);
    } else {
      const float width = static_cast<float>(size.width - 1);
      const float height = static_cast<float>(size.height - 1);
      context.key_points = KeyPointsInBox({0, 0}, {width, 0}, {0, height});
    }
  }
  return context;
}

FaceFrame ApplyContext::Frame() const {
  FaceFrame frame;
  const cv::Point2d left(key_points[0]);
  const cv::Point2d right(key_points[1]);
  const cv::Point2d chin(key_points[2]);
  frame.eye_mid = (left + right) * 0.5;

  const cv::Point2d across = right - left;
  frame.eye_distance = std::max(1.0, std::hypot(across.x, across.y));
  frame.u_axis = across * (1.0 / frame.eye_distance);
  if (std::hypot(across.x, across.y) < 1e-9) frame.u_axis = {1, 0};

  // Of the two perpendiculars, the one pointing towards the chin, so a
  // mirrored face (whose eyes swap sides) keeps its chin below.
  frame.v_axis = {-frame.u_axis.y, frame.u_axis.x};
  const cv::Point2d to_chin = chin - frame.eye_mid;
  if (to_chin.dot(frame.v_axis) < 0) frame.v_axis = -frame.v_axis;
  frame.eye_to_chin = std::max(1.0, to_chin.dot(frame.v_axis));
  return frame;
}

double ApplyContext::PixelScale() const {
  if (target == ApplyTarget::kChip) return 1.0;
  return Frame().eye_distance / kChipEyeDistance;
}

cv::Point2d ApplyContext::Center(cv::Size size) const {
  if (target == ApplyTarget::kChip || !geometry) {
    return {(size.width - 1) / 2.0, (size.height - 1) / 2.0};
  }
  if (has_box) {
    cv::Point2d sum(0, 0);
    for (const cv::Point2f& corner : geometry->box_corners) sum += cv::Point2d(corner);
    return sum * 0.25;
  }
  const FaceFrame frame = Frame();
  return frame.ToImage(0, 0.4);
}

void ApplyContext::MovePoints(const cv::Matx33d& transform) {
  for (cv::Point2f& point : key_points) point = Transformed(transform, point);
  if (!geometry) return;
  for (cv::Point2f& point : geometry->box_corners) point = Transformed(transform, point);
  for (cv::Point2f& point : geometry->landmarks) point = Transformed(transform, point);
}

}  // namespace synth
}  // namespace facespace
