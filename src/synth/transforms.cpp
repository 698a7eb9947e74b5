// The transformation table: parameters, strengths and pixel operations.
//
// Every operation works on CV_8UC3 pictures and returns a new Mat. No pixel
// depends on a reduction whose order could change with threads, because the
// one mean used is an exact integer sum. The OpenCV calls used (warpAffine,
// warpPerspective, GaussianBlur, filter2D, resize, LUT, JPEG coding) compute
// each output pixel the same way however OpenCV splits the rows, so results
// do not depend on cv::setNumThreads; a test checks this with 1 and 4 threads.
#include "synth/transforms.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "facespace/error.h"
#include "synth/random.h"

namespace facespace::synth {
namespace {

constexpr double kKeepRange = std::numeric_limits<double>::quiet_NaN();
constexpr double kPi = std::numbers::pi;

// Areas a geometric step uncovers repeat the nearest edge pixel: no
// artificial black border, and no mirrored copy of a face part for the
// detector to find. Filters read beyond the edge by mirroring.
constexpr int kWarpBorder = cv::BORDER_REPLICATE;
constexpr int kBorder = cv::BORDER_REFLECT_101;

// Fill colours of the occlusions, R, G, B.
const cv::Scalar kEyeBandColour(20, 20, 20);       // dark glasses or a censor bar
const cv::Scalar kMaskColour(205, 222, 236);       // light blue, like a surgical mask

std::uint8_t Saturate(double value) {
  return static_cast<std::uint8_t>(std::clamp(std::lround(value), 0L, 255L));
}

// Returns the mean of all channels of all pixels, from an exact integer sum.
double MeanIntensity(const cv::Mat& rgb) {
  std::uint64_t sum = 0;
  for (int y = 0; y < rgb.rows; ++y) {
    const std::uint8_t* row = rgb.ptr<std::uint8_t>(y);
    for (int x = 0; x < rgb.cols * 3; ++x) sum += row[x];
  }
  return static_cast<double>(sum) / (static_cast<double>(rgb.total()) * 3.0);
}

// Applies a per-value lookup f: 0..255 -> double to every channel.
cv::Mat ApplyCurve(const cv::Mat& rgb, const std::function<double(int)>& curve) {
  cv::Mat table(1, 256, CV_8U);
  for (int i = 0; i < 256; ++i) table.at<std::uint8_t>(i) = Saturate(curve(i));
  cv::Mat result;
  cv::LUT(rgb, table, result);
  return result;
}

// Integer luma (ITU-R BT.601 weights 0.299, 0.587, 0.114 in 8-bit fixed point).
int Luma(const std::uint8_t* pixel) {
  return (77 * pixel[0] + 150 * pixel[1] + 29 * pixel[2] + 128) >> 8;
}

cv::Mat Warp(const cv::Mat& rgb, const cv::Matx33d& transform, ApplyContext& context) {
  cv::Mat result;
  const bool affine = transform(2, 0) == 0 && transform(2, 1) == 0 && transform(2, 2) == 1;
  if (affine) {
    const cv::Matx23d matrix(transform(0, 0), transform(0, 1), transform(0, 2),
                             transform(1, 0), transform(1, 1), transform(1, 2));
    cv::warpAffine(rgb, result, matrix, rgb.size(), cv::INTER_LINEAR, kWarpBorder);
  } else {
    cv::warpPerspective(rgb, result, transform, rgb.size(), cv::INTER_LINEAR, kWarpBorder);
  }
  context.MovePoints(transform);
  return result;
}

// Rotation by `degrees` (counter-clockwise on screen) and scaling about `center`.
cv::Matx33d RotationScaling(cv::Point2d center, double degrees, double scale) {
  const double angle = degrees * kPi / 180.0;
  const double a = scale * std::cos(angle);
  const double b = scale * std::sin(angle);
  return cv::Matx33d(a, b, (1 - a) * center.x - b * center.y,
                     -b, a, b * center.x + (1 - a) * center.y,
                     0, 0, 1);
}

// Homography that turns the picture plane about `center` by `yaw` (about the
// vertical axis) and `pitch` (about the horizontal axis), in degrees, seen by
// a pinhole camera at distance `focal` pixels.
cv::Matx33d PlaneTurn(cv::Point2d center, double yaw, double pitch, double focal, cv::Size size) {
  const double y = yaw * kPi / 180.0;
  const double p = pitch * kPi / 180.0;
  const cv::Matx33d turn_yaw(std::cos(y), 0, std::sin(y), 0, 1, 0, -std::sin(y), 0, std::cos(y));
  const cv::Matx33d turn_pitch(1, 0, 0, 0, std::cos(p), -std::sin(p), 0, std::sin(p), std::cos(p));
  const cv::Matx33d rotation = turn_yaw * turn_pitch;

  const double width = size.width - 1;
  const double height = size.height - 1;
  const cv::Point2f corners[4] = {{0, 0}, {static_cast<float>(width), 0},
                                  {static_cast<float>(width), static_cast<float>(height)},
                                  {0, static_cast<float>(height)}};
  cv::Point2f moved[4];
  for (int i = 0; i < 4; ++i) {
    const cv::Vec3d point = rotation * cv::Vec3d(corners[i].x - center.x, corners[i].y - center.y, 0);
    const double depth = focal + point[2];
    moved[i] = cv::Point2f(static_cast<float>(center.x + focal * point[0] / depth),
                           static_cast<float>(center.y + focal * point[1] / depth));
  }
  const cv::Mat homography = cv::getPerspectiveTransform(corners, moved);
  return cv::Matx33d(homography.ptr<double>());
}

// A normalised line kernel of `length` pixels at `degrees`, anti-aliased by
// splatting points spaced a quarter pixel apart bilinearly.
cv::Mat LineKernel(double length, double degrees) {
  const int radius = static_cast<int>(std::ceil(length / 2.0));
  const int size = 2 * radius + 1;
  cv::Mat kernel = cv::Mat::zeros(size, size, CV_32F);
  const double dx = std::cos(degrees * kPi / 180.0);
  const double dy = -std::sin(degrees * kPi / 180.0);
  const int points = static_cast<int>(std::ceil(length * 4)) + 1;
  for (int i = 0; i < points; ++i) {
    const double t = (points == 1 ? 0.0 : static_cast<double>(i) / (points - 1) - 0.5) * length;
    const double x = radius + t * dx;
    const double y = radius + t * dy;
    const int x0 = static_cast<int>(std::floor(x));
    const int y0 = static_cast<int>(std::floor(y));
    const double fx = x - x0;
    const double fy = y - y0;
    const double weights[4] = {(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy};
    const int xs[4] = {x0, x0 + 1, x0, x0 + 1};
    const int ys[4] = {y0, y0, y0 + 1, y0 + 1};
    for (int k = 0; k < 4; ++k) {
      if (xs[k] >= 0 && xs[k] < size && ys[k] >= 0 && ys[k] < size) {
        kernel.at<float>(ys[k], xs[k]) += static_cast<float>(weights[k]);
      }
    }
  }
  kernel /= cv::sum(kernel)[0];
  return kernel;
}

// Fills the polygon whose corners are given in face-frame coordinates (u, v).
cv::Mat FillInFrame(const cv::Mat& rgb, const FaceFrame& frame,
                    const std::vector<cv::Point2d>& corners_uv, const cv::Scalar& colour) {
  constexpr int kShift = 4;  // sub-pixel bits of the polygon corners
  std::vector<cv::Point> corners;
  for (const cv::Point2d& uv : corners_uv) {
    const cv::Point2d point = frame.ToImage(uv.x, uv.y);
    corners.emplace_back(static_cast<int>(std::lround(point.x * (1 << kShift))),
                         static_cast<int>(std::lround(point.y * (1 << kShift))));
  }
  cv::Mat result = rgb.clone();
  cv::fillConvexPoly(result, corners, colour, cv::LINE_8, kShift);
  return result;
}

cv::Mat Identity(const cv::Mat& rgb) { return rgb.clone(); }

// --- geometry ---------------------------------------------------------------

cv::Mat Rotate(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb, ApplyContext& c) {
  if (v[0] == 0) return Identity(rgb);
  return Warp(rgb, RotationScaling(c.Center(rgb.size()), v[0], 1.0), c);
}

cv::Mat Scale(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb, ApplyContext& c) {
  if (v[0] == 1) return Identity(rgb);
  return Warp(rgb, RotationScaling(c.Center(rgb.size()), 0.0, v[0]), c);
}

cv::Mat Translate(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb,
                  ApplyContext& c) {
  if (v[0] == 0 && v[1] == 0) return Identity(rgb);
  const cv::Matx33d shift(1, 0, v[0] * rgb.cols, 0, 1, v[1] * rgb.rows, 0, 0, 1);
  return Warp(rgb, shift, c);
}

cv::Mat HorizontalFlip(const std::vector<double>&, std::uint64_t, const cv::Mat& rgb,
                       ApplyContext& c) {
  cv::Mat result;
  cv::flip(rgb, result, 1);
  c.MovePoints(cv::Matx33d(-1, 0, rgb.cols - 1, 0, 1, 0, 0, 0, 1));
  return result;
}

cv::Mat Perspective(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb,
                    ApplyContext& c) {
  if (v[0] == 0 && v[1] == 0) return Identity(rgb);
  // A camera about six eye distances away: a close portrait.
  const double focal = 6.0 * c.Frame().eye_distance;
  return Warp(rgb, PlaneTurn(c.Center(rgb.size()), v[0], v[1], focal, rgb.size()), c);
}

// --- light and colour ------------------------------------------------------------

cv::Mat Brightness(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb,
                   ApplyContext&) {
  if (v[0] == 0) return Identity(rgb);
  const double offset = v[0] * 255.0;
  return ApplyCurve(rgb, [&](int i) { return i + offset; });
}

cv::Mat Contrast(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb, ApplyContext&) {
  if (v[0] == 1) return Identity(rgb);
  const double mean = MeanIntensity(rgb);
  return ApplyCurve(rgb, [&](int i) { return mean + v[0] * (i - mean); });
}

cv::Mat Gamma(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb, ApplyContext&) {
  if (v[0] == 1) return Identity(rgb);
  return ApplyCurve(rgb, [&](int i) { return 255.0 * std::pow(i / 255.0, v[0]); });
}

cv::Mat Temperature(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb,
                    ApplyContext&) {
  if (v[0] == 0) return Identity(rgb);
  // Warmer pictures gain red and lose blue; 1 scales red by 1.3 and blue by 0.7.
  const double gains[3] = {1 + 0.3 * v[0], 1.0, 1 - 0.3 * v[0]};
  cv::Mat table(1, 256, CV_8UC3);
  for (int i = 0; i < 256; ++i) {
    for (int channel = 0; channel < 3; ++channel) {
      table.at<cv::Vec3b>(i)[channel] = Saturate(i * gains[channel]);
    }
  }
  cv::Mat result;
  cv::LUT(rgb, table, result);
  return result;
}

cv::Mat Saturation(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb,
                   ApplyContext&) {
  if (v[0] == 1) return Identity(rgb);
  cv::Mat result(rgb.size(), CV_8UC3);
  for (int y = 0; y < rgb.rows; ++y) {
    const std::uint8_t* in = rgb.ptr<std::uint8_t>(y);
    std::uint8_t* out = result.ptr<std::uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x, in += 3, out += 3) {
      const int luma = Luma(in);
      for (int channel = 0; channel < 3; ++channel) {
        out[channel] = Saturate(luma + v[0] * (in[channel] - luma));
      }
    }
  }
  return result;
}

cv::Mat Grayscale(const std::vector<double>&, std::uint64_t, const cv::Mat& rgb, ApplyContext&) {
  cv::Mat result(rgb.size(), CV_8UC3);
  for (int y = 0; y < rgb.rows; ++y) {
    const std::uint8_t* in = rgb.ptr<std::uint8_t>(y);
    std::uint8_t* out = result.ptr<std::uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x, in += 3, out += 3) {
      const std::uint8_t luma = static_cast<std::uint8_t>(Luma(in));
      out[0] = out[1] = out[2] = luma;
    }
  }
  return result;
}

// Darkens the picture along a direction, as light from one side does. The
// gain falls linearly from 1 on the lit side to 1 - amount on the far side,
// over 1.2 eye distances either side of the face centre.
cv::Mat Shade(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb, ApplyContext& c) {
  const double amount = v[0];
  if (amount == 0) return Identity(rgb);
  const FaceFrame frame = c.Frame();
  const cv::Point2d centre = frame.ToImage(0, 0.5);
  const double half_width = 1.2 * frame.eye_distance;
  const double angle = v[1] * kPi / 180.0;
  const double dx = std::cos(angle);
  const double dy = std::sin(angle);

  cv::Mat result(rgb.size(), CV_8UC3);
  for (int y = 0; y < rgb.rows; ++y) {
    const std::uint8_t* in = rgb.ptr<std::uint8_t>(y);
    std::uint8_t* out = result.ptr<std::uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x, in += 3, out += 3) {
      const double along = ((x - centre.x) * dx + (y - centre.y) * dy) / half_width;
      const double gain = 1.0 - amount * (1.0 + std::clamp(along, -1.0, 1.0)) / 2.0;
      for (int channel = 0; channel < 3; ++channel) out[channel] = Saturate(in[channel] * gain);
    }
  }
  return result;
}

// --- quality ----------------------------------------------------------------

cv::Mat Blur(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb, ApplyContext& c) {
  const double sigma = v[0] * c.PixelScale();
  if (v[0] == 0) return Identity(rgb);
  const int radius = std::max(1, static_cast<int>(std::ceil(3.0 * sigma)));
  cv::Mat result;
  cv::GaussianBlur(rgb, result, cv::Size(2 * radius + 1, 2 * radius + 1), sigma, sigma, kBorder);
  return result;
}

cv::Mat MotionBlur(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb,
                   ApplyContext& c) {
  const double length = v[0] * c.PixelScale();
  if (v[0] == 0) return Identity(rgb);
  cv::Mat result;
  cv::filter2D(rgb, result, -1, LineKernel(length, v[1]), cv::Point(-1, -1), 0, kBorder);
  return result;
}

cv::Mat Noise(const std::vector<double>& v, std::uint64_t seed, const cv::Mat& rgb,
              ApplyContext&) {
  if (v[0] == 0) return Identity(rgb);
  SplitMix64 random(seed);
  cv::Mat result(rgb.size(), CV_8UC3);
  for (int y = 0; y < rgb.rows; ++y) {
    const std::uint8_t* in = rgb.ptr<std::uint8_t>(y);
    std::uint8_t* out = result.ptr<std::uint8_t>(y);
    for (int x = 0; x < rgb.cols * 3; ++x) out[x] = Saturate(in[x] + v[0] * random.Normal());
  }
  return result;
}

cv::Mat Jpeg(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb, ApplyContext&) {
  const int quality = static_cast<int>(std::lround(v[0]));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<std::uint8_t> bytes;
  if (!cv::imencode(".jpg", bgr, bytes, {cv::IMWRITE_JPEG_QUALITY, quality})) {
    throw Error(ErrorCategory::kInternal, "jpeg(" + std::to_string(quality) + "): encoding failed");
  }
  const cv::Mat decoded = cv::imdecode(bytes, cv::IMREAD_COLOR);
  if (decoded.empty() || decoded.size() != rgb.size()) {
    throw Error(ErrorCategory::kInternal, "jpeg(" + std::to_string(quality) + "): decoding failed");
  }
  cv::Mat result;
  cv::cvtColor(decoded, result, cv::COLOR_BGR2RGB);
  return result;
}

// Lowers the face's resolution to `factor` times the chip's (on a whole
// picture, relative to the face's own size), then scales back up.
cv::Mat Downscale(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb,
                  ApplyContext& c) {
  const double factor = std::min(1.0, v[0] / c.PixelScale());
  if (v[0] == 1 || factor >= 1.0) return Identity(rgb);
  const cv::Size small(std::max(1, static_cast<int>(std::lround(rgb.cols * factor))),
                       std::max(1, static_cast<int>(std::lround(rgb.rows * factor))));
  cv::Mat reduced;
  cv::resize(rgb, reduced, small, 0, 0, cv::INTER_AREA);
  cv::Mat result;
  cv::resize(reduced, result, rgb.size(), 0, 0, cv::INTER_LINEAR);
  return result;
}

// --- occlusion --------------------------------------------------------------

// A square of side `size` face widths (a face is two eye distances wide),
// centred at (x, y) in the face region from the forehead to the chin, in a
// grey level from black (0) to white (1). It turns with the face.
cv::Mat Occlude(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb, ApplyContext& c) {
  if (v[0] == 0) return Identity(rgb);
  const FaceFrame frame = c.Frame();
  const double u = -1.0 + 2.0 * v[1];
  const double w = -0.6 + 1.6 * v[2];
  const double half_u = v[0];  // half the side: size * 2 eye distances / 2
  const double half_v = v[0] * frame.eye_distance / frame.eye_to_chin;
  const double grey = 255.0 * v[3];
  return FillInFrame(rgb, frame,
                     {{u - half_u, w - half_v}, {u + half_u, w - half_v},
                      {u + half_u, w + half_v}, {u - half_u, w + half_v}},
                     cv::Scalar(grey, grey, grey));
}

// A band along the eye line, 2.2 eye distances long and `height` eye
// distances high.
cv::Mat OccludeEyes(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb,
                    ApplyContext& c) {
  if (v[0] == 0) return Identity(rgb);
  const FaceFrame frame = c.Frame();
  const double half_v = v[0] / 2.0 * frame.eye_distance / frame.eye_to_chin;
  return FillInFrame(rgb, frame, {{-1.1, -half_v}, {1.1, -half_v}, {1.1, half_v}, {-1.1, half_v}},
                     kEyeBandColour);
}

// A mask over the lower face: from the chin up to `fraction` of the way to the
// eye line, 2.2 eye distances wide, narrowing towards the chin like a jaw.
cv::Mat OccludeLower(const std::vector<double>& v, std::uint64_t, const cv::Mat& rgb,
                     ApplyContext& c) {
  if (v[0] == 0) return Identity(rgb);
  const FaceFrame frame = c.Frame();
  const double top = 1.0 - v[0];
  constexpr double kBottom = 1.1;     // a little below the chin
  constexpr double kHalfWidth = 1.1;  // eye distances
  constexpr double kTaperStart = 0.55;
  constexpr int kSteps = 12;

  auto half_width = [&](double w) {
    if (w <= kTaperStart) return kHalfWidth;
    const double t = (w - kTaperStart) / (kBottom - kTaperStart + 0.1);
    return kHalfWidth * std::sqrt(1.0 - t * t);
  };
  std::vector<cv::Point2d> corners;
  for (int i = 0; i <= kSteps; ++i) {
    const double w = top + (kBottom - top) * i / kSteps;
    corners.emplace_back(-half_width(w), w);
  }
  for (int i = kSteps; i >= 0; --i) {
    const double w = top + (kBottom - top) * i / kSteps;
    corners.emplace_back(half_width(w), w);
  }
  return FillInFrame(rgb, frame, corners, kMaskColour);
}

// --- the table ----------------------------------------------------------------

std::vector<double> Fixed(std::initializer_list<double> values) { return values; }

std::vector<TransformImpl> BuildRegistry() {
  using F = TransformFamily;
  std::vector<TransformImpl> table;
  auto add = [&](TransformSpec spec, auto strength, auto at_strength, auto apply) {
    table.push_back(TransformImpl{std::move(spec), strength, at_strength, apply});
  };

  add({"rotate", F::kGeometry, "in-plane rotation about the face centre, counter-clockwise",
       {{"deg", "degrees", -180, 180, -15, 15}}, {0}, true},
      [](const auto& v) { return std::abs(v[0]) / 30.0; },
      [](double s) { return Fixed({30.0 * s}); }, Rotate);
  add({"scale", F::kGeometry, "zoom about the face centre (below 1 the face gets smaller)",
       {{"factor", "ratio", 0.25, 4, 0.9, 1.1}}, {1}, true},
      [](const auto& v) { return std::abs(std::log2(v[0])); },
      [](double s) { return Fixed({std::exp2(-s)}); }, Scale);
  add({"translate", F::kGeometry, "shift by fractions of the picture's width and height",
       {{"dx", "fraction of width", -0.5, 0.5, -0.05, 0.05},
        {"dy", "fraction of height", -0.5, 0.5, -0.05, 0.05}},
       {0, 0}, true},
      [](const auto& v) { return std::max(std::abs(v[0]), std::abs(v[1])) / 0.2; },
      [](double s) { return Fixed({0.2 * s, 0.0}); }, Translate);
  add({"hflip", F::kGeometry, "horizontal mirror image", {}, {}, true},
      [](const auto&) { return 1.0; }, [](double) { return Fixed({}); }, HorizontalFlip);
  add({"perspective", F::kGeometry,
       "turn of the picture plane about the vertical (yaw) and horizontal (pitch) axes",
       {{"yaw", "degrees", -45, 45, -10, 10}, {"pitch", "degrees", -45, 45, -8, 8}},
       {0, 0}, true},
      [](const auto& v) { return std::max(std::abs(v[0]), std::abs(v[1])) / 20.0; },
      [](double s) { return Fixed({20.0 * s, 0.0}); }, Perspective);

  add({"brightness", F::kLight, "add a fraction of full scale (255) to every channel",
       {{"delta", "fraction of 255", -1, 1, -0.2, 0.2}}, {0}, false},
      [](const auto& v) { return std::abs(v[0]) / 0.4; },
      [](double s) { return Fixed({-0.4 * s}); }, Brightness);
  add({"contrast", F::kLight, "scale the distance of every value from the picture's mean",
       {{"factor", "ratio", 0, 4, 0.75, 1.3}}, {1}, false},
      [](const auto& v) { return std::abs(std::log2(std::max(v[0], 1.0 / 1024))); },
      [](double s) { return Fixed({std::exp2(-s)}); }, Contrast);
  add({"gamma", F::kLight, "power curve 255 * (x / 255) ^ gamma; below 1 brightens",
       {{"gamma", "exponent", 0.1, 10, 0.6, 1.6}}, {1}, false},
      [](const auto& v) { return std::abs(std::log(v[0])) / std::log(2.5); },
      [](double s) { return Fixed({std::pow(2.5, s)}); }, Gamma);
  add({"temperature", F::kLight, "colour temperature: positive warms (red up, blue down)",
       {{"shift", "-1 cold .. 1 warm", -1, 1, -0.4, 0.4}}, {0}, false},
      [](const auto& v) { return std::abs(v[0]); },
      [](double s) { return Fixed({s}); }, Temperature);
  add({"saturation", F::kLight, "scale colour away from (above 1) or towards (below 1) grey",
       {{"factor", "ratio", 0, 4, 0.6, 1.4}}, {1}, false},
      [](const auto& v) { return std::abs(v[0] - 1.0); },
      [](double s) { return Fixed({1.0 - s}); }, Saturation);
  add({"grayscale", F::kLight, "replace every pixel by its luma (BT.601)", {}, {}, false},
      [](const auto&) { return 1.0; }, [](double) { return Fixed({}); }, Grayscale);
  add({"shade", F::kLight, "side lighting: darken towards one side of the face",
       {{"amount", "fraction darkened", 0, 1, 0, 0.6}, {"angle", "degrees", -180, 180, -180, 180}},
       {0, 0}, false},
      [](const auto& v) { return v[0] / 0.8; },
      [](double s) { return Fixed({0.8 * s, kKeepRange}); }, Shade);

  add({"blur", F::kQuality, "Gaussian blur",
       {{"sigma", "chip pixels", 0, 20, 0, 1.5}}, {0}, false},
      [](const auto& v) { return v[0] / 3.0; },
      [](double s) { return Fixed({3.0 * s}); }, Blur);
  add({"motion_blur", F::kQuality, "blur along a line, as a moving camera makes",
       {{"length", "chip pixels", 0, 60, 0, 7}, {"angle", "degrees", 0, 180, 0, 180}},
       {0, 0}, false},
      [](const auto& v) { return v[0] / 12.0; },
      [](double s) { return Fixed({12.0 * s, kKeepRange}); }, MotionBlur);
  add({"noise", F::kQuality, "additive Gaussian noise, independent per pixel and channel",
       {{"sigma", "8-bit levels", 0, 100, 0, 10}}, {0}, false},
      [](const auto& v) { return v[0] / 25.0; },
      [](double s) { return Fixed({25.0 * s}); }, Noise);
  add({"jpeg", F::kQuality, "JPEG compression at a quality (rounded to an integer)",
       {{"quality", "1..100", 1, 100, 20, 90}}, {}, false},
      [](const auto& v) { return (100.0 - v[0]) / 90.0; },
      [](double s) { return Fixed({100.0 - 90.0 * s}); }, Jpeg);
  add({"downscale", F::kQuality, "lower the face's resolution to a fraction of the chip's",
       {{"factor", "ratio", 0.05, 1, 0.4, 1}}, {1}, false},
      [](const auto& v) { return (1.0 - v[0]) / 0.8; },
      [](double s) { return Fixed({1.0 - 0.8 * s}); }, Downscale);

  add({"occlude", F::kOcclusion, "a grey square at a random place on the face",
       {{"size", "face widths", 0, 1, 0.2, 0.45},
        {"x", "0 left .. 1 right", 0, 1, 0, 1},
        {"y", "0 forehead .. 1 chin", 0, 1, 0, 1},
        {"gray", "0 black .. 1 white", 0, 1, 0, 1}},
       {0, 0.5, 0.5, 0.5}, false},
      [](const auto& v) { return v[0] / 0.5; },
      [](double s) { return Fixed({0.5 * s, kKeepRange, kKeepRange, kKeepRange}); }, Occlude);
  add({"occlude_eyes", F::kOcclusion, "a dark band over both eyes",
       {{"height", "eye distances", 0, 2, 0.35, 0.6}}, {0}, false},
      [](const auto& v) { return v[0] / 0.6; },
      [](double s) { return Fixed({0.6 * s}); }, OccludeEyes);
  add({"occlude_lower", F::kOcclusion, "a mask over the lower face, from the chin upwards",
       {{"fraction", "of eye-to-chin", 0, 1, 0.3, 0.6}}, {0}, false},
      [](const auto& v) { return v[0] / 0.7; },
      [](double s) { return Fixed({0.7 * s}); }, OccludeLower);
  return table;
}

}  // namespace

const std::vector<TransformImpl>& Registry() {
  static const std::vector<TransformImpl> table = BuildRegistry();
  return table;
}

const TransformImpl* FindImpl(std::string_view name) {
  for (const TransformImpl& transform : Registry()) {
    if (transform.spec.name == name) return &transform;
  }
  return nullptr;
}

}  // namespace facespace::synth
