// FaceFinder on real photographs (dlib's demo photo of 24 faces and an LFW
// image, skipped when absent) and on generated images without faces.
#include "facespace/face.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include <dlib/matrix.h>
#include <dlib/serialize.h>
#include <gtest/gtest.h>

#include "facespace/error.h"
#include "facespace/image.h"
#include "test_support.h"

namespace facespace {
namespace {

const std::filesystem::path kManyFacesPhoto = "/usr/share/doc/libdlib19.1/examples/faces/bald_guys.jpg";

#define REQUIRE_LANDMARK_MODEL()                                                              \
  do {                                                                                        \
    if (!std::filesystem::exists(DefaultLandmarkModelPath()))                                 \
      GTEST_SKIP() << "landmark model not found: " << DefaultLandmarkModelPath().string()     \
                   << " (install libdlib-data)";                                              \
  } while (0)

#define REQUIRE_MANY_FACES_PHOTO()                                                            \
  do {                                                                                        \
    if (!std::filesystem::exists(kManyFacesPhoto))                                            \
      GTEST_SKIP() << "demo photo not found: " << kManyFacesPhoto.string()                    \
                   << " (installed by libdlib19.1 unless /usr/share/doc is excluded)";        \
  } while (0)

const FaceFinder& SharedFinder() {
  static const FaceFinder finder(DefaultLandmarkModelPath());
  return finder;
}

cv::Mat Noise(int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  cv::RNG rng(2024);
  rng.fill(image, cv::RNG::UNIFORM, 0, 256);
  return image;
}

bool HasPixelsOutside(const FaceBox& box, const cv::Mat& image) {
  return box.left < 0 || box.top < 0 || box.right >= image.cols || box.bottom >= image.rows;
}

void ExpectChip(const Face& face) {
  EXPECT_EQ(face.chip.rows, kChipSize);
  EXPECT_EQ(face.chip.cols, kChipSize);
  EXPECT_EQ(face.chip.type(), CV_8UC3);
}

// ----------------------------------------------------------- many faces

class ManyFaces : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_LANDMARK_MODEL();
    REQUIRE_MANY_FACES_PHOTO();
    if (photo_.empty()) photo_ = ReadImageFile(kManyFacesPhoto).rgb;
  }

  static std::vector<Face> FindAll() {
    DetectOptions options;
    options.upsample = 0;
    options.policy = MultiFacePolicy::kAll;
    return SharedFinder().Find(photo_, options);
  }

  static cv::Mat photo_;
};

cv::Mat ManyFaces::photo_;

TEST_F(ManyFaces, AllPolicyFindsEveryFace) {
  const std::vector<Face> faces = FindAll();
  ASSERT_EQ(faces.size(), 24u);
  for (std::size_t i = 0; i < faces.size(); ++i) {
    SCOPED_TRACE("face " + std::to_string(i));
    ExpectChip(faces[i]);
    EXPECT_FALSE(faces[i].fallback);
    EXPECT_GT(faces[i].detector_score, 0);
    if (i > 0) EXPECT_GE(faces[i - 1].detector_score, faces[i].detector_score);
  }
}

TEST_F(ManyFaces, LandmarksLieInTheirBox) {
  for (const Face& face : FindAll()) {
    const double margin = 0.25 * (face.box.right - face.box.left);
    int inside = 0;
    for (const cv::Point2f& point : face.landmarks) {
      inside += point.x >= face.box.left - margin && point.x <= face.box.right + margin &&
                point.y >= face.box.top - margin && point.y <= face.box.bottom + margin;
    }
    EXPECT_EQ(inside, kLandmarkCount) << "box at " << face.box.left << "," << face.box.top;
  }
}

TEST_F(ManyFaces, LargestPolicyKeepsLargestBox) {
  const std::vector<Face> all = FindAll();
  ASSERT_FALSE(all.empty());
  long largest_area = 0;
  for (const Face& face : all) largest_area = std::max(largest_area, face.box.area());

  DetectOptions options;
  options.upsample = 0;
  const std::vector<Face> largest = SharedFinder().Find(photo_, options);
  ASSERT_EQ(largest.size(), 1u);
  EXPECT_EQ(largest[0].box.area(), largest_area);
  ExpectChip(largest[0]);
}

TEST_F(ManyFaces, CentralPolicyKeepsMiddleFace) {
  const std::vector<Face> all = FindAll();
  ASSERT_FALSE(all.empty());
  const auto distance_to_centre = [](const FaceBox& box) {
    const double dx = (box.left + box.right) / 2.0 - photo_.cols / 2.0;
    const double dy = (box.top + box.bottom) / 2.0 - photo_.rows / 2.0;
    return dx * dx + dy * dy;
  };
  double nearest = distance_to_centre(all[0].box);
  for (const Face& face : all) nearest = std::min(nearest, distance_to_centre(face.box));

  DetectOptions options;
  options.upsample = 0;
  options.policy = MultiFacePolicy::kCentral;
  const std::vector<Face> central = SharedFinder().Find(photo_, options);
  ASSERT_EQ(central.size(), 1u);
  EXPECT_DOUBLE_EQ(distance_to_centre(central[0].box), nearest);
  ExpectChip(central[0]);
}

TEST_F(ManyFaces, BorderFacesArePadded) {
  // Cutting 100 pixels off the left and top leaves several faces hanging over
  // the image border.
  const cv::Mat cropped = photo_(cv::Rect(100, 100, photo_.cols - 100, photo_.rows - 100)).clone();
  DetectOptions options;
  options.upsample = 0;
  options.policy = MultiFacePolicy::kAll;
  const std::vector<Face> faces = SharedFinder().Find(cropped, options);

  int crossing = 0;
  for (const Face& face : faces) {
    ExpectChip(face);
    if (!HasPixelsOutside(face.box, cropped)) continue;
    ++crossing;
    // The part of the chip outside the image is filled with black.
    EXPECT_EQ(face.chip.at<cv::Vec3b>(kChipSize / 2, 0), cv::Vec3b(0, 0, 0));
  }
  EXPECT_GE(crossing, 1);
}

// -------------------------------------------------------------- no face

TEST(FaceFinder, NoiseHasNoFace) {
  REQUIRE_LANDMARK_MODEL();
  DetectOptions options;
  EXPECT_TRUE(SharedFinder().Find(Noise(200, 160), options).empty());
}

TEST(FaceFinder, NoiseWithFallbackBox) {
  REQUIRE_LANDMARK_MODEL();
  const cv::Mat noise = Noise(200, 160);
  DetectOptions options;
  options.fallback_box = true;
  const std::vector<Face> faces = SharedFinder().Find(noise, options);
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_TRUE(faces[0].fallback);
  EXPECT_EQ(faces[0].detector_score, 0);
  const FaceBox expected = FallbackBox(200, 160);
  EXPECT_EQ(faces[0].box.left, expected.left);
  EXPECT_EQ(faces[0].box.top, expected.top);
  EXPECT_EQ(faces[0].box.right, expected.right);
  EXPECT_EQ(faces[0].box.bottom, expected.bottom);
  ExpectChip(faces[0]);
}

TEST(FallbackBox, LfwSize) {
  const FaceBox box = FallbackBox(250, 250);
  EXPECT_EQ(box.left, 73);
  EXPECT_EQ(box.top, 81);
  EXPECT_EQ(box.right, 177);
  EXPECT_EQ(box.bottom, 185);
}

TEST(FallbackBox, NonSquareImage) {
  const FaceBox box = FallbackBox(400, 200);
  EXPECT_EQ(box.right - box.left, box.bottom - box.top);  // square
  EXPECT_EQ(box.right - box.left + 1, 84);                // 0.42 of the shorter side
  EXPECT_EQ(box.left + box.right + 1, 400);               // centred horizontally
}

TEST(FaceFinder, BoxOutsideImageGivesBlackChip) {
  REQUIRE_LANDMARK_MODEL();
  const cv::Mat image(100, 100, CV_8UC3, cv::Scalar(200, 200, 200));
  const Face face = SharedFinder().AlignInBox(image, FaceBox{-300, -300, -201, -201});
  ExpectChip(face);
  EXPECT_EQ(cv::countNonZero(face.chip.reshape(1)), 0);
}

TEST(FaceFinder, FallbackRetriesOtherUpsampling) {
  REQUIRE_LANDMARK_MODEL();
  // The HOG detector misses this face at upsampling 1 but finds it at 0.
  const std::filesystem::path relative = "lfw/images/Arlen_Specter/Arlen_Specter_0003.jpg";
  FACESPACE_REQUIRE_TEST_DATA(relative);
  const cv::Mat image = ReadImageFile(testing::TestDataDir() / relative).rgb;
  DetectOptions options;
  options.upsample = 1;
  ASSERT_TRUE(SharedFinder().Find(image, options).empty());

  options.fallback_box = true;
  const std::vector<Face> faces = SharedFinder().Find(image, options);
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_FALSE(faces[0].fallback);
  EXPECT_GT(faces[0].detector_score, 0);
}

// ------------------------------------------------------- chip geometry

TEST(FaceFinder, ChipEyesLevelAndPlaced) {
  REQUIRE_LANDMARK_MODEL();
  const std::filesystem::path relative = "lfw/images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg";
  FACESPACE_REQUIRE_TEST_DATA(relative);
  const cv::Mat image = ReadImageFile(testing::TestDataDir() / relative).rgb;
  DetectOptions options;
  const std::vector<Face> faces = SharedFinder().Find(image, options);
  ASSERT_EQ(faces.size(), 1u);

  // Landmarking the chip itself shows where the alignment put the eyes. dlib's
  // chip template with padding 0.25 places the eye centres near (47, 45) and
  // (103, 45) in a 150x150 chip.
  const std::vector<Face> in_chip = SharedFinder().Find(faces[0].chip, options);
  ASSERT_EQ(in_chip.size(), 1u);
  cv::Point2f left_eye(0, 0);
  cv::Point2f right_eye(0, 0);
  for (int i = 36; i < 42; ++i) left_eye += in_chip[0].landmarks[i] / 6.0f;   // points 36-41: one eye
  for (int i = 42; i < 48; ++i) right_eye += in_chip[0].landmarks[i] / 6.0f;  // points 42-47: the other
  EXPECT_NEAR(left_eye.y, right_eye.y, 4.0);
  EXPECT_NEAR(left_eye.x, 47, 8);
  EXPECT_NEAR(right_eye.x, 103, 8);
  EXPECT_NEAR(left_eye.y, 45, 8);
  EXPECT_NEAR(right_eye.y, 45, 8);
}

// --------------------------------------------------------------- errors

TEST(FaceFinder, RejectsNonRgbImage) {
  REQUIRE_LANDMARK_MODEL();
  const cv::Mat gray(50, 50, CV_8UC1, cv::Scalar(0));
  try {
    SharedFinder().Find(gray, DetectOptions{});
    FAIL() << "a gray image was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kInvalidArgument);
  }
}

TEST(FaceFinder, RejectsUpsampleOutOfRange) {
  REQUIRE_LANDMARK_MODEL();
  DetectOptions options;
  options.upsample = 4;
  try {
    SharedFinder().Find(Noise(20, 20), options);
    FAIL() << "upsample 4 was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kInvalidArgument);
    EXPECT_STREQ(error.what(), "upsample 4: must be between 0 and 3");
  }
}

TEST(FaceFinder, MissingModel) {
  try {
    FaceFinder finder("/nonexistent/landmarks.dat");
    FAIL() << "a missing model was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kNotFound);
    EXPECT_STREQ(error.what(),
                 "/nonexistent/landmarks.dat: landmark model not found (install libdlib-data or set "
                 "FACESPACE_LANDMARK_MODEL)");
  }
}

TEST(FaceFinder, CorruptModel) {
  testing::TempDir dir;
  const auto path = dir.path() / "landmarks.dat";
  std::ofstream(path) << "not a model";
  try {
    FaceFinder finder(path);
    FAIL() << "a corrupt model was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kCorrupt);
    EXPECT_EQ(std::string(error.what()).rfind(path.string() + ": not a dlib shape predictor file (", 0), 0u)
        << error.what();
  }
}

TEST(FaceFinder, ModelWithHugeCountIsCorrupt) {
  // A valid header and mean shape, then a count of 2^50 cascade levels.
  testing::TempDir dir;
  const auto path = dir.path() / "landmarks.dat";
  {
    std::ofstream out(path, std::ios::binary);
    dlib::matrix<float, 0, 1> shape(2 * kLandmarkCount);
    shape = 0.5f;
    dlib::serialize(1, out);
    dlib::serialize(shape, out);
    dlib::serialize(static_cast<unsigned long>(1ul << 50), out);
  }
  try {
    FaceFinder finder(path);
    FAIL() << "a model with an impossible count was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kCorrupt);
    EXPECT_EQ(std::string(error.what()).rfind(path.string() + ": not a dlib shape predictor file (", 0), 0u)
        << error.what();
  }
}

TEST(FaceFinder, CopyFindsTheSame) {
  REQUIRE_LANDMARK_MODEL();
  const FaceFinder copy(SharedFinder());
  DetectOptions options;
  options.fallback_box = true;
  const cv::Mat noise = Noise(120, 120);
  const Face a = SharedFinder().Find(noise, options).at(0);
  const Face b = copy.Find(noise, options).at(0);
  EXPECT_EQ(cv::norm(a.chip, b.chip, cv::NORM_INF), 0);
}

TEST(DefaultLandmarkModelPath, EnvironmentOverrides) {
  const char* previous = std::getenv("FACESPACE_LANDMARK_MODEL");
  const std::string saved = previous ? previous : "";
  setenv("FACESPACE_LANDMARK_MODEL", "/tmp/custom.dat", 1);
  EXPECT_EQ(DefaultLandmarkModelPath(), "/tmp/custom.dat");
  unsetenv("FACESPACE_LANDMARK_MODEL");
  EXPECT_EQ(DefaultLandmarkModelPath(), FACESPACE_LANDMARK_MODEL_FOR_TESTS);
  if (previous) setenv("FACESPACE_LANDMARK_MODEL", saved.c_str(), 1);
}

}  // namespace
}  // namespace facespace
