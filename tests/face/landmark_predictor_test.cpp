// LandmarkPredictor against dlib::shape_predictor loaded from the same file:
// every landmark must be the same point, for detected faces, boxes that cross
// the image border, and boxes on noise. Also checks that damaged files are
// rejected.
#include "face/landmark_predictor.h"

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/serialize.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "face/face_test_images.h"
#include "facespace/face.h"
#include "facespace/image.h"
#include "test_support.h"

namespace facespace::face {
namespace {

class LandmarkPredictorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::filesystem::path path = DefaultLandmarkModelPath();
    if (!std::filesystem::exists(path)) return;
    reference_ = new dlib::shape_predictor;
    dlib::deserialize(path.string()) >> *reference_;
    std::ifstream in(path, std::ios::binary);
    candidate_ = new LandmarkPredictor(LandmarkPredictor::Read(in));
  }

  static void TearDownTestSuite() {
    delete reference_;
    delete candidate_;
    reference_ = nullptr;
    candidate_ = nullptr;
  }

  void SetUp() override {
    if (reference_ == nullptr) {
      GTEST_SKIP() << "landmark model not found: " << DefaultLandmarkModelPath().string() << " (install libdlib-data)";
    }
  }

  // Expects both predictors to place every landmark of `box` at the same point.
  static void ExpectSameLandmarks(const cv::Mat& rgb, const dlib::rectangle& box) {
    const dlib::cv_image<dlib::rgb_pixel> image(rgb);
    const dlib::full_object_detection expected = (*reference_)(image, box);
    const dlib::full_object_detection actual = (*candidate_)(image, box);
    ASSERT_EQ(actual.num_parts(), expected.num_parts());
    EXPECT_EQ(actual.get_rect(), expected.get_rect());
    for (unsigned long i = 0; i < expected.num_parts(); ++i) {
      EXPECT_EQ(actual.part(i), expected.part(i)) << "landmark " << i << " of box " << box;
    }
  }

  static dlib::shape_predictor* reference_;
  static LandmarkPredictor* candidate_;
};

dlib::shape_predictor* LandmarkPredictorTest::reference_ = nullptr;
LandmarkPredictor* LandmarkPredictorTest::candidate_ = nullptr;

std::vector<dlib::rectangle> DetectFaces(const cv::Mat& rgb, int upsample) {
  static dlib::frontal_face_detector detector = dlib::get_frontal_face_detector();
  dlib::array2d<dlib::rgb_pixel> image;
  dlib::assign_image(image, dlib::cv_image<dlib::rgb_pixel>(rgb));
  for (int i = 0; i < upsample; ++i) dlib::pyramid_up(image);
  std::vector<dlib::rectangle> boxes = detector(image);
  for (auto& box : boxes) box = dlib::pyramid_down<2>().rect_down(box, static_cast<unsigned int>(upsample));
  return boxes;
}

TEST_F(LandmarkPredictorTest, MatchesDlibOnManyFacesPhoto) {
  const std::filesystem::path photo = "/usr/share/doc/libdlib19.1/examples/faces/bald_guys.jpg";
  if (!std::filesystem::exists(photo)) {
    GTEST_SKIP() << "demo photo not found: " << photo.string()
                 << " (installed by libdlib19.1 unless /usr/share/doc is excluded)";
  }
  const cv::Mat rgb = ReadImageFile(photo).rgb;
  const std::vector<dlib::rectangle> boxes = DetectFaces(rgb, 1);
  ASSERT_GE(boxes.size(), 20u);
  for (const auto& box : boxes) ExpectSameLandmarks(rgb, box);
}

TEST_F(LandmarkPredictorTest, MatchesDlibOnLfwImages) {
  FACESPACE_REQUIRE_TEST_DATA("lfw/images");
  for (const auto& file : FirstLfwPhotos(30)) {
    SCOPED_TRACE(file.string());
    const cv::Mat rgb = ReadImageFile(file).rgb;
    for (const auto& box : DetectFaces(rgb, 1)) ExpectSameLandmarks(rgb, box);
    const FaceBox fallback = FallbackBox(rgb.cols, rgb.rows);
    ExpectSameLandmarks(rgb, dlib::rectangle(fallback.left, fallback.top, fallback.right, fallback.bottom));
  }
}

TEST_F(LandmarkPredictorTest, MatchesDlibOnRandomBoxesOverNoise) {
  cv::Mat rgb(240, 320, CV_8UC3);
  cv::RNG(7).fill(rgb, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(rgb, rgb, cv::Size(5, 5), 2.0);
  std::mt19937 random(11);
  std::uniform_int_distribution<long> corner(-80, 300);
  std::uniform_int_distribution<long> side(20, 200);
  for (int i = 0; i < 40; ++i) {
    const long left = corner(random);
    const long top = corner(random);
    ExpectSameLandmarks(rgb, dlib::rectangle(left, top, left + side(random), top + side(random)));
  }
}

TEST(LandmarkPredictorRead, RejectsWrongVersion) {
  std::stringstream stream;
  dlib::serialize(7, stream);
  try {
    LandmarkPredictor::Read(stream);
    FAIL() << "version 7 was accepted";
  } catch (const dlib::serialization_error& error) {
    EXPECT_NE(std::string(error.what()).find("unsupported format version 7"), std::string::npos) << error.what();
  }
}

TEST(LandmarkPredictorRead, RejectsTruncatedModel) {
  const std::filesystem::path path = DefaultLandmarkModelPath();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "landmark model not found: " << path.string();
  std::ifstream file(path, std::ios::binary);
  std::string bytes(1 << 20, '\0');
  file.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<std::size_t>(file.gcount()));
  std::istringstream truncated(bytes);
  EXPECT_THROW(LandmarkPredictor::Read(truncated), dlib::serialization_error);
}

TEST(LandmarkPredictorRead, RejectsUnevenTrees) {
  // One level with two trees, the second one level deeper than the first.
  dlib::matrix<float, 0, 1> shape(4);
  shape = 0.1f, 0.2f, 0.3f, 0.4f;
  std::vector<std::vector<dlib::impl::regression_tree>> forests(1, std::vector<dlib::impl::regression_tree>(2));
  dlib::matrix<float, 0, 1> leaf(4);
  leaf = 0;
  forests[0][0].splits.assign(1, {0, 1, 0.5f});
  forests[0][0].leaf_values.assign(2, leaf);
  forests[0][1].splits.assign(3, {0, 1, 0.5f});
  forests[0][1].leaf_values.assign(4, leaf);
  std::vector<std::vector<unsigned long>> anchors(1, std::vector<unsigned long>{0, 1});
  std::vector<std::vector<dlib::vector<float, 2>>> deltas(1, std::vector<dlib::vector<float, 2>>(2));

  std::stringstream stream;
  dlib::serialize(1, stream);
  dlib::serialize(shape, stream);
  dlib::serialize(forests, stream);
  dlib::serialize(anchors, stream);
  dlib::serialize(deltas, stream);
  EXPECT_THROW(LandmarkPredictor::Read(stream), dlib::serialization_error);
}

}  // namespace
}  // namespace facespace::face
