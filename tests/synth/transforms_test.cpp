#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "facespace/error.h"
#include "facespace/synth.h"

namespace facespace {
namespace {

// A seeded test pattern: smooth colour gradients, a checkerboard and a few
// discs, so geometry, histograms and high frequencies all have something to act on.
cv::Mat Pattern(int width = 160, int height = 120) {
  cv::Mat rgb(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const bool check = ((x / 8) + (y / 8)) % 2 == 0;
      rgb.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<std::uint8_t>(40 + x * 150 / width),
                                          static_cast<std::uint8_t>(40 + y * 150 / height),
                                          static_cast<std::uint8_t>(check ? 170 : 80));
    }
  }
  cv::circle(rgb, {40, 40}, 10, cv::Scalar(230, 30, 30), cv::FILLED);
  cv::circle(rgb, {120, 80}, 14, cv::Scalar(20, 200, 60), cv::FILLED);
  return rgb;
}

// A dark picture with one bright Gaussian spot at `center`.
cv::Mat Spot(cv::Size size, cv::Point2d center) {
  cv::Mat rgb(size, CV_8UC3);
  for (int y = 0; y < size.height; ++y) {
    for (int x = 0; x < size.width; ++x) {
      const double r2 = (x - center.x) * (x - center.x) + (y - center.y) * (y - center.y);
      const auto value = static_cast<std::uint8_t>(std::lround(250.0 * std::exp(-r2 / 18.0)));
      rgb.at<cv::Vec3b>(y, x) = cv::Vec3b(value, value, value);
    }
  }
  return rgb;
}

cv::Point2d Centroid(const cv::Mat& rgb) {
  double sum = 0;
  double sx = 0;
  double sy = 0;
  for (int y = 0; y < rgb.rows; ++y) {
    for (int x = 0; x < rgb.cols; ++x) {
      const double value = rgb.at<cv::Vec3b>(y, x)[0];
      sum += value;
      sx += value * x;
      sy += value * y;
    }
  }
  return {sx / sum, sy / sum};
}

SampledStep Step(const std::string& transform, std::vector<double> values,
                 std::uint64_t noise_seed = 1) {
  SampledStep step;
  step.transform = transform;
  step.applied = true;
  step.values = std::move(values);
  step.noise_seed = noise_seed;
  return step;
}

cv::Mat Apply(const std::string& transform, std::vector<double> values, const cv::Mat& rgb,
              ApplyTarget target = ApplyTarget::kChip, FaceGeometry* geometry = nullptr) {
  return ApplyStep(Step(transform, std::move(values)), rgb, target, geometry);
}

bool Identical(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

double Mean(const cv::Mat& rgb) {
  const cv::Scalar mean = cv::mean(rgb);
  return (mean[0] + mean[1] + mean[2]) / 3;
}

double ChannelMean(const cv::Mat& rgb, int channel) { return cv::mean(rgb)[channel]; }

double StdDev(const cv::Mat& rgb) {
  cv::Mat gray;
  cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
  cv::Scalar mean;
  cv::Scalar deviation;
  cv::meanStdDev(gray, mean, deviation);
  return deviation[0];
}

// Energy of the Laplacian: how much fine detail a picture has.
double HighFrequencyEnergy(const cv::Mat& rgb) {
  cv::Mat gray;
  cv::Mat laplacian;
  cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
  cv::Laplacian(gray, laplacian, CV_64F);
  return cv::mean(laplacian.mul(laplacian))[0];
}

// Mean squared difference of horizontal (dx = 1) or vertical neighbours.
double GradientEnergy(const cv::Mat& rgb, bool horizontal) {
  cv::Mat gray;
  cv::Mat gradient;
  cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
  cv::Sobel(gray, gradient, CV_64F, horizontal ? 1 : 0, horizontal ? 0 : 1);
  return cv::mean(gradient.mul(gradient))[0];
}

TEST(Transform, IdentityParametersLeavePixelsUnchanged) {
  const cv::Mat pattern = Pattern();
  int checked = 0;
  for (const TransformSpec& spec : Transforms()) {
    if (spec.identity.empty()) continue;
    SCOPED_TRACE(spec.name);
    for (const ApplyTarget target : {ApplyTarget::kChip, ApplyTarget::kImage}) {
      FaceGeometry geometry = FaceGeometry::FromFace(FaceBox{50, 30, 110, 90}, {});
      const cv::Mat result = Apply(spec.name, spec.identity, pattern, target, &geometry);
      EXPECT_TRUE(Identical(result, pattern));
      EXPECT_EQ(geometry.BoundingBox().left, 50);
      EXPECT_EQ(geometry.BoundingBox().bottom, 90);
    }
    ++checked;
  }
  EXPECT_GE(checked, 15);
}

TEST(Transform, SkippedStepsLeavePixelsUnchanged) {
  const cv::Mat pattern = Pattern();
  SampledRecipe sampled = SampleParameters(ParseRecipe("p=0:rotate(30) p=0:jpeg(10)"), 7);
  ASSERT_FALSE(sampled.steps[0].applied);
  EXPECT_TRUE(Identical(ApplyRecipe(sampled, pattern, ApplyTarget::kImage), pattern));
}

TEST(Transform, InputIsNotModified) {
  const cv::Mat pattern = Pattern();
  const cv::Mat copy = pattern.clone();
  for (const TransformSpec& spec : Transforms()) {
    const SampledRecipe sampled = SampleParameters(RecipeAtStrength(spec.name, 1.0), 5);
    ApplyRecipe(sampled, pattern, ApplyTarget::kImage);
  }
  EXPECT_TRUE(Identical(pattern, copy));
}

TEST(Geometry, RotatedPointLandsWithinAPixel) {
  const cv::Size size(150, 150);
  const cv::Point2d spot(110, 60);
  const cv::Point2d center(74.5, 74.5);
  for (const double degrees : {30.0, -47.0, 90.0}) {
    SCOPED_TRACE(degrees);
    FaceGeometry geometry;
    geometry.landmarks.assign(kLandmarkCount, cv::Point2f(spot));
    const cv::Mat result = Apply("rotate", {degrees}, Spot(size, spot), ApplyTarget::kChip,
                                 &geometry);

    // Counter-clockwise on screen, where y grows downwards.
    const double angle = degrees * M_PI / 180;
    const cv::Point2d offset = spot - center;
    const cv::Point2d expected(center.x + offset.x * std::cos(angle) + offset.y * std::sin(angle),
                               center.y - offset.x * std::sin(angle) + offset.y * std::cos(angle));
    const cv::Point2d found = Centroid(result);
    EXPECT_NEAR(found.x, expected.x, 1.0);
    EXPECT_NEAR(found.y, expected.y, 1.0);
    EXPECT_NEAR(geometry.landmarks[0].x, expected.x, 1e-3);
    EXPECT_NEAR(geometry.landmarks[0].y, expected.y, 1e-3);
  }
}

TEST(Geometry, ImageRotationTurnsAboutTheFaceBox) {
  const cv::Size size(200, 160);
  const cv::Point2d spot(140, 50);
  FaceGeometry geometry = FaceGeometry::FromFace(FaceBox{100, 20, 180, 100}, {});
  const cv::Mat result = Apply("rotate", {90.0}, Spot(size, spot), ApplyTarget::kImage, &geometry);
  // The box centre (140, 60) stays put; the spot 10 px above it moves 10 px left.
  const cv::Point2d found = Centroid(result);
  EXPECT_NEAR(found.x, 130.0, 1.0);
  EXPECT_NEAR(found.y, 60.0, 1.0);
  const FaceBox moved = geometry.BoundingBox();
  EXPECT_EQ(moved.left, 100);
  EXPECT_EQ(moved.right, 180);
  EXPECT_EQ(moved.top, 20);
  EXPECT_EQ(moved.bottom, 100);
}

TEST(Geometry, HorizontalFlipMirrorsExactly) {
  const cv::Mat pattern = Pattern();
  FaceGeometry geometry;
  geometry.landmarks.assign(kLandmarkCount, cv::Point2f(10, 20));
  const cv::Mat result = Apply("hflip", {}, pattern, ApplyTarget::kImage, &geometry);
  for (int y = 0; y < pattern.rows; y += 7) {
    for (int x = 0; x < pattern.cols; x += 5) {
      ASSERT_EQ(result.at<cv::Vec3b>(y, x), pattern.at<cv::Vec3b>(y, pattern.cols - 1 - x));
    }
  }
  EXPECT_FLOAT_EQ(geometry.landmarks[0].x, static_cast<float>(pattern.cols - 1 - 10));
  EXPECT_FLOAT_EQ(geometry.landmarks[0].y, 20.0f);
}

TEST(Geometry, ScaleMovesPointsFromTheCentre) {
  const cv::Size size(150, 150);
  const cv::Point2d spot(104.5, 54.5);  // (30, -20) from the centre
  const cv::Mat result = Apply("scale", {1.5}, Spot(size, spot));
  const cv::Point2d found = Centroid(result);
  EXPECT_NEAR(found.x, 74.5 + 45, 1.0);
  EXPECT_NEAR(found.y, 74.5 - 30, 1.0);
}

TEST(Geometry, TranslateShiftsByFractions) {
  const cv::Size size(200, 100);
  FaceGeometry geometry;
  geometry.landmarks.assign(kLandmarkCount, cv::Point2f(60, 50));
  const cv::Mat result =
      Apply("translate", {0.1, -0.2}, Spot(size, {60, 50}), ApplyTarget::kImage, &geometry);
  const cv::Point2d found = Centroid(result);
  EXPECT_NEAR(found.x, 80.0, 0.5);
  EXPECT_NEAR(found.y, 30.0, 0.5);
  EXPECT_FLOAT_EQ(geometry.landmarks[0].x, 80.0f);
  EXPECT_FLOAT_EQ(geometry.landmarks[0].y, 30.0f);
}

TEST(Geometry, PerspectiveMovesCarriedPointsWithThePixels) {
  const cv::Size size(150, 150);
  const cv::Point2d spot(115, 40);
  for (const auto& [yaw, pitch] : std::vector<std::pair<double, double>>{{15, 0}, {-20, 15}}) {
    SCOPED_TRACE(yaw);
    FaceGeometry geometry;
    geometry.landmarks.assign(kLandmarkCount, cv::Point2f(spot));
    const cv::Mat result = Apply("perspective", {yaw, pitch}, Spot(size, spot),
                                 ApplyTarget::kChip, &geometry);
    const cv::Point2d found = Centroid(result);
    EXPECT_NEAR(found.x, geometry.landmarks[0].x, 1.0);
    EXPECT_NEAR(found.y, geometry.landmarks[0].y, 1.0);
    EXPECT_GT(std::hypot(found.x - spot.x, found.y - spot.y), 1.0);
  }
}

TEST(Geometry, PerspectiveYawNarrowsOneSide) {
  // A yaw turns one half of the picture away from the camera, so a vertical
  // line on that side gets shorter than its mirror image on the other side.
  cv::Mat lines(150, 150, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::line(lines, {30, 20}, {30, 130}, cv::Scalar(255, 255, 255), 1);
  cv::line(lines, {119, 20}, {119, 130}, cv::Scalar(255, 255, 255), 1);
  const cv::Mat result = Apply("perspective", {20.0, 0.0}, lines);
  auto height_near = [&](int column) {
    int rows = 0;
    for (int y = 0; y < result.rows; ++y) {
      bool lit = false;
      for (int x = column - 15; x <= column + 15; ++x) lit |= result.at<cv::Vec3b>(y, x)[0] > 60;
      rows += lit ? 1 : 0;
    }
    return rows;
  };
  EXPECT_NE(height_near(30), height_near(119));
}

TEST(Light, BrightnessMovesTheMean) {
  const cv::Mat pattern = Pattern();
  EXPECT_GT(Mean(Apply("brightness", {0.2}, pattern)), Mean(pattern) + 40);
  EXPECT_LT(Mean(Apply("brightness", {-0.2}, pattern)), Mean(pattern) - 40);
}

TEST(Light, ContrastScalesTheSpread) {
  const cv::Mat pattern = Pattern();
  EXPECT_GT(StdDev(Apply("contrast", {1.5}, pattern)), StdDev(pattern) * 1.3);
  EXPECT_LT(StdDev(Apply("contrast", {0.5}, pattern)), StdDev(pattern) * 0.6);
  EXPECT_NEAR(Mean(Apply("contrast", {0.5}, pattern)), Mean(pattern), 1.0);
}

TEST(Light, GammaBelowOneBrightens) {
  const cv::Mat pattern = Pattern();
  EXPECT_GT(Mean(Apply("gamma", {0.6}, pattern)), Mean(pattern) + 10);
  EXPECT_LT(Mean(Apply("gamma", {1.6}, pattern)), Mean(pattern) - 10);
}

TEST(Light, WarmTemperatureRaisesRedLowersBlue) {
  const cv::Mat pattern = Pattern();
  const cv::Mat warm = Apply("temperature", {0.5}, pattern);
  EXPECT_GT(ChannelMean(warm, 0), ChannelMean(pattern, 0) + 5);
  EXPECT_EQ(ChannelMean(warm, 1), ChannelMean(pattern, 1));
  EXPECT_LT(ChannelMean(warm, 2), ChannelMean(pattern, 2) - 5);
}

// Mean absolute difference between a pixel's channels and their mean.
double ColourSpread(const cv::Mat& rgb) {
  double sum = 0;
  for (int y = 0; y < rgb.rows; ++y) {
    for (int x = 0; x < rgb.cols; ++x) {
      const cv::Vec3b pixel = rgb.at<cv::Vec3b>(y, x);
      const double mean = (pixel[0] + pixel[1] + pixel[2]) / 3.0;
      sum += std::abs(pixel[0] - mean) + std::abs(pixel[1] - mean) + std::abs(pixel[2] - mean);
    }
  }
  return sum / static_cast<double>(rgb.total());
}

TEST(Light, SaturationScalesColourSpread) {
  const cv::Mat pattern = Pattern();
  EXPECT_LT(ColourSpread(Apply("saturation", {0.5}, pattern)), ColourSpread(pattern) * 0.6);
  EXPECT_GT(ColourSpread(Apply("saturation", {1.5}, pattern)), ColourSpread(pattern) * 1.2);
  EXPECT_LT(ColourSpread(Apply("saturation", {0.0}, pattern)), 1.0);
}

TEST(Light, GrayscaleMakesChannelsEqual) {
  const cv::Mat result = Apply("grayscale", {}, Pattern());
  for (int y = 0; y < result.rows; ++y) {
    for (int x = 0; x < result.cols; ++x) {
      const cv::Vec3b pixel = result.at<cv::Vec3b>(y, x);
      ASSERT_EQ(pixel[0], pixel[1]);
      ASSERT_EQ(pixel[1], pixel[2]);
    }
  }
}

TEST(Light, ShadeDarkensTheFarSide) {
  const cv::Mat flat(150, 150, CV_8UC3, cv::Scalar(200, 200, 200));
  const cv::Mat result = Apply("shade", {0.6, 0.0}, flat);  // towards +x: the right side
  // The gain ramps over 1.2 eye distances (63.5 px) either side of x = 74.
  const double left = cv::mean(result(cv::Rect(0, 0, 10, 150)))[0];
  const double right = cv::mean(result(cv::Rect(140, 0, 10, 150)))[0];
  EXPECT_NEAR(left, 200.0, 0.5);
  EXPECT_NEAR(right, 80.0, 1.0);
}

TEST(Quality, BlurRemovesFineDetail) {
  const cv::Mat pattern = Pattern();
  const double before = HighFrequencyEnergy(pattern);
  const double light = HighFrequencyEnergy(Apply("blur", {1.0}, pattern));
  const double heavy = HighFrequencyEnergy(Apply("blur", {3.0}, pattern));
  EXPECT_LT(light, before * 0.5);
  EXPECT_LT(heavy, light);
}

TEST(Quality, MotionBlurActsAlongItsAngle) {
  const cv::Mat pattern = Pattern();
  const cv::Mat horizontal = Apply("motion_blur", {9.0, 0.0}, pattern);
  const double across_before = GradientEnergy(pattern, true);
  const double down_before = GradientEnergy(pattern, false);
  // Horizontal streaks smooth changes along x much more than along y.
  EXPECT_LT(GradientEnergy(horizontal, true) / across_before,
            0.5 * GradientEnergy(horizontal, false) / down_before);
}

TEST(Quality, NoiseAddsTheRequestedVariance) {
  const cv::Mat flat(200, 200, CV_8UC3, cv::Scalar(128, 128, 128));
  const cv::Mat noisy = Apply("noise", {10.0}, flat);
  cv::Mat difference;
  noisy.convertTo(difference, CV_64F);
  difference -= cv::Scalar(128, 128, 128);
  const double variance = cv::mean(difference.mul(difference))[0];
  EXPECT_NEAR(variance, 100.0, 8.0);
  EXPECT_NEAR(Mean(noisy), 128.0, 0.3);
}

TEST(Quality, NoiseDependsOnlyOnItsSeed) {
  const cv::Mat pattern = Pattern();
  const cv::Mat first = ApplyStep(Step("noise", {8.0}, 42), pattern, ApplyTarget::kChip);
  const cv::Mat again = ApplyStep(Step("noise", {8.0}, 42), pattern, ApplyTarget::kChip);
  const cv::Mat other = ApplyStep(Step("noise", {8.0}, 43), pattern, ApplyTarget::kChip);
  EXPECT_TRUE(Identical(first, again));
  EXPECT_FALSE(Identical(first, other));
}

TEST(Quality, LowerJpegQualityLosesMore) {
  const cv::Mat pattern = Pattern();
  const double good = cv::PSNR(Apply("jpeg", {90.0}, pattern), pattern);
  const double poor = cv::PSNR(Apply("jpeg", {10.0}, pattern), pattern);
  EXPECT_LT(poor, good);
  EXPECT_GT(good, 25.0);
}

TEST(Quality, DownscaleRemovesFineDetail) {
  const cv::Mat pattern = Pattern();
  const cv::Mat result = Apply("downscale", {0.25}, pattern);
  EXPECT_EQ(result.size(), pattern.size());
  EXPECT_LT(HighFrequencyEnergy(result), HighFrequencyEnergy(pattern) * 0.5);
}

TEST(Quality, ImageModeScalesSpatialParametersByFaceSize) {
  // A face whose eyes are twice the chip's distance apart gets twice the sigma.
  const cv::Mat pattern = Pattern(300, 240);
  FaceGeometry geometry;
  geometry.landmarks.assign(kLandmarkCount, cv::Point2f(150, 120));
  for (int i = 36; i <= 41; ++i) geometry.landmarks[i] = cv::Point2f(97, 100);
  for (int i = 42; i <= 47; ++i) geometry.landmarks[i] = cv::Point2f(97 + 2 * 52.93f, 100);
  const cv::Mat on_image = Apply("blur", {1.0}, pattern, ApplyTarget::kImage, &geometry);
  const cv::Mat on_chip = Apply("blur", {2.0}, pattern, ApplyTarget::kChip);
  EXPECT_LT(cv::norm(on_image, on_chip, cv::NORM_INF), 2.0);
}

cv::Vec3b At(const cv::Mat& rgb, cv::Point2d point) {
  return rgb.at<cv::Vec3b>(static_cast<int>(std::lround(point.y)),
                           static_cast<int>(std::lround(point.x)));
}

TEST(Occlusion, EyeBandCoversTheChipEyes) {
  const cv::Mat pattern = Pattern(150, 150);
  const cv::Mat result = Apply("occlude_eyes", {0.4}, pattern);
  EXPECT_EQ(At(result, {47.5, 46.6}), cv::Vec3b(20, 20, 20));
  EXPECT_EQ(At(result, {100.5, 46.6}), cv::Vec3b(20, 20, 20));
  EXPECT_EQ(At(result, {74, 105}), At(pattern, {74, 105}));  // mouth
  EXPECT_EQ(At(result, {74, 10}), At(pattern, {74, 10}));    // forehead
}

TEST(Occlusion, LowerMaskCoversTheMouthOnly) {
  const cv::Mat pattern = Pattern(150, 150);
  const cv::Mat result = Apply("occlude_lower", {0.6}, pattern);
  EXPECT_EQ(At(result, {74, 105}), cv::Vec3b(205, 222, 236));
  EXPECT_EQ(At(result, {47.5, 46.6}), At(pattern, {47.5, 46.6}));
}

TEST(Occlusion, RectangleSitsWhereAsked) {
  const cv::Mat pattern = Pattern(150, 150);
  // size 0.2 face widths, centred on the face frame's middle, white.
  const cv::Mat result = Apply("occlude", {0.2, 0.5, 0.5, 1.0}, pattern);
  cv::Mat changed;
  cv::compare(result, pattern, changed, cv::CMP_NE);
  cv::Mat any;
  cv::cvtColor(changed, any, cv::COLOR_RGB2GRAY);
  const cv::Rect area = cv::boundingRect(any);
  // The side is 0.2 * 2 eye distances = 21 px, centred at x 74, y 46.6 + 0.2 * 101.
  EXPECT_NEAR(area.width, 21.2, 2.0);
  EXPECT_NEAR(area.x + area.width / 2.0, 74.0, 1.5);
  EXPECT_NEAR(area.y + area.height / 2.0, 46.6 + 0.2 * 101.0, 1.5);
}

TEST(Occlusion, EyeBandFollowsARotatedFace) {
  // Landmarks of a face tilted by 30 degrees: the band is drawn along its eye
  // line, so both moved eyes are covered.
  const cv::Mat pattern = Pattern(300, 300);
  FaceGeometry geometry;
  geometry.landmarks.assign(kLandmarkCount, cv::Point2f(150, 220));
  for (int i = 36; i <= 41; ++i) geometry.landmarks[i] = cv::Point2f(120, 130);
  for (int i = 42; i <= 47; ++i) geometry.landmarks[i] = cv::Point2f(180, 130);
  const SampledRecipe sampled{1, {Step("rotate", {30.0}), Step("occlude_eyes", {0.3})}};
  const cv::Mat result = ApplyRecipe(sampled, pattern, ApplyTarget::kImage, &geometry);
  const cv::Point2f left_eye = geometry.landmarks[36];
  const cv::Point2f right_eye = geometry.landmarks[42];
  EXPECT_GT(std::abs(left_eye.y - right_eye.y), 20.0f);
  EXPECT_EQ(At(result, left_eye), cv::Vec3b(20, 20, 20));
  EXPECT_EQ(At(result, right_eye), cv::Vec3b(20, 20, 20));
}

TEST(Transform, RejectsBadPictures) {
  const SampledRecipe sampled = SampleParameters(ParseRecipe("rotate"), 1);
  EXPECT_THROW(ApplyRecipe(sampled, cv::Mat(), ApplyTarget::kImage), Error);
  EXPECT_THROW(ApplyRecipe(sampled, cv::Mat(10, 10, CV_8UC1), ApplyTarget::kImage), Error);
  EXPECT_THROW(ApplyStep(Step("twirl", {1.0}), Pattern(), ApplyTarget::kImage), Error);
  EXPECT_THROW(ApplyStep(Step("rotate", {1.0, 2.0}), Pattern(), ApplyTarget::kImage), Error);
}

}  // namespace
}  // namespace facespace
