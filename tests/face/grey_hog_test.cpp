// ExtractGreyHog against dlib::extract_fhog_features: every float of every
// plane must be identical, for noise, smooth images and LFW photographs at
// the sizes the detector uses. And GreyFaceDetector against dlib's frontal
// face detector on real photographs: the same boxes with the same scores.
#include "face/grey_hog.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#include <dlib/array2d.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>
#include <dlib/opencv/cv_image.h>
#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "face/face_test_images.h"
#include "facespace/image.h"
#include "test_support.h"

namespace facespace::face {
namespace {

// Without AVX2, ExtractGreyHog runs dlib's own code, so comparing it with dlib
// would prove nothing.
#if defined(__AVX2__)
#define REQUIRE_OWN_HOG() (void)0
#else
#define REQUIRE_OWN_HOG() GTEST_SKIP() << "built without AVX2: ExtractGreyHog runs dlib's own code"
#endif

// Smooth shading with every gradient direction, where orientations fall
// close to the boundaries between bins more often than in noise.
dlib::array2d<unsigned char> RingsImage(long rows, long columns) {
  dlib::array2d<unsigned char> image(rows, columns);
  for (long r = 0; r < rows; ++r) {
    for (long c = 0; c < columns; ++c) {
      const double radius = std::hypot(r - rows / 2.0, c - columns / 3.0);
      image[r][c] = static_cast<unsigned char>(127.5 + 127.0 * std::sin(radius / 3.0));
    }
  }
  return image;
}

// Returns the number of features that differ in bits, reporting the first.
long CountDifferences(const dlib::array<dlib::array2d<float>>& expected,
                      const dlib::array<dlib::array2d<float>>& actual) {
  if (expected.size() != actual.size()) {
    ADD_FAILURE() << "dlib made " << expected.size() << " planes, ExtractGreyHog " << actual.size();
    return -1;
  }
  long differences = 0;
  for (std::size_t plane = 0; plane < expected.size(); ++plane) {
    if (expected[plane].nr() != actual[plane].nr() || expected[plane].nc() != actual[plane].nc()) {
      ADD_FAILURE() << "plane " << plane << " has another size";
      return -1;
    }
    for (long r = 0; r < expected[plane].nr(); ++r) {
      for (long c = 0; c < expected[plane].nc(); ++c) {
        if (std::memcmp(&expected[plane][r][c], &actual[plane][r][c], sizeof(float)) == 0) continue;
        if (differences == 0) {
          ADD_FAILURE() << "first difference in plane " << plane << " at row " << r << ", column " << c
                        << ": dlib " << expected[plane][r][c] << ", ExtractGreyHog " << actual[plane][r][c];
        }
        ++differences;
      }
    }
  }
  return differences;
}

void ExpectSameHog(const dlib::array2d<unsigned char>& image, int cell_size, int rows_padding, int columns_padding) {
  SCOPED_TRACE(::testing::Message() << image.nr() << "x" << image.nc() << ", cell " << cell_size << ", padding "
                                    << rows_padding << "x" << columns_padding);
  dlib::array<dlib::array2d<float>> expected;
  dlib::array<dlib::array2d<float>> actual;
  dlib::extract_fhog_features(image, expected, cell_size, rows_padding, columns_padding);
  GreyHogExtractor()(image, actual, cell_size, rows_padding, columns_padding);
  EXPECT_EQ(CountDifferences(expected, actual), 0);
}

TEST(ExtractGreyHog, NoiseMatchesDlib) {
  REQUIRE_OWN_HOG();
  unsigned seed = 1;
  for (const long rows : {24L, 37L, 80L, 121L}) {
    for (const long columns : {24L, 33L, 40L, 41L, 47L, 99L, 250L}) {
      ExpectSameHog(RandomGreyImage(rows, columns, seed++), 8, 10, 10);
    }
  }
}

TEST(ExtractGreyHog, SmoothImagesMatchDlib) {
  REQUIRE_OWN_HOG();
  ExpectSameHog(RingsImage(200, 260), 8, 10, 10);
  ExpectSameHog(RingsImage(96, 97), 8, 1, 1);
  ExpectSameHog(RingsImage(500, 499), 8, 10, 10);
}

TEST(ExtractGreyHog, OtherCellSizesMatchDlib) {
  REQUIRE_OWN_HOG();
  const dlib::array2d<unsigned char> image = RingsImage(90, 117);
  // Cell size 1 is left out: ExtractGreyHog hands it to dlib.
  for (const int cell_size : {2, 3, 4, 6, 16}) ExpectSameHog(image, cell_size, 3, 5);
}

TEST(ExtractGreyHog, RowsWiderThanTheImageMatchDlib) {
  REQUIRE_OWN_HOG();
  cv::Mat page(120, 200, CV_8UC1);
  cv::RNG(3).fill(page, cv::RNG::UNIFORM, 0, 256);
  const dlib::cv_image<unsigned char> window(page(cv::Rect(13, 7, 97, 90)));
  dlib::array<dlib::array2d<float>> expected;
  dlib::array<dlib::array2d<float>> actual;
  dlib::extract_fhog_features(window, expected, 8, 10, 10);
  GreyHogExtractor()(window, actual, 8, 10, 10);
  EXPECT_EQ(CountDifferences(expected, actual), 0);
}

TEST(ExtractGreyHog, TinyImagesGiveNoPlanes) {
  REQUIRE_OWN_HOG();
  for (const long side : {1L, 5L, 12L, 19L}) ExpectSameHog(RandomGreyImage(side, side, 50), 8, 10, 10);
}

dlib::array2d<unsigned char> GreyOf(const std::filesystem::path& file) {
  const cv::Mat rgb = ReadImageFile(file).rgb;
  cv::Mat grey;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  dlib::array2d<unsigned char> image;
  dlib::assign_image(image, dlib::cv_image<unsigned char>(grey));
  return image;
}

TEST(ExtractGreyHog, LfwPyramidLevelsMatchDlib) {
  REQUIRE_OWN_HOG();
  FACESPACE_REQUIRE_TEST_DATA("lfw/images");
  const std::filesystem::path file = testing::TestDataDir() / "lfw/images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg";
  dlib::array2d<unsigned char> level = GreyOf(file);
  dlib::pyramid_up(level);
  while (level.nr() >= 24) {
    ExpectSameHog(level, 8, 10, 10);
    dlib::array2d<unsigned char> smaller;
    dlib::pyramid_down<6>()(level, smaller);
    dlib::swap(level, smaller);
  }
}

// Runs both detectors on `image` doubled `upsample` times, dlib's with
// dlib::pyramid_up and ours with PyramidUpGrey, and returns the number of
// faces found after checking that both found the same ones.
std::size_t ExpectSameDetections(const dlib::array2d<unsigned char>& image, int upsample) {
  static dlib::frontal_face_detector reference = dlib::get_frontal_face_detector();
  static GreyFaceDetector candidate = MakeGreyFaceDetector();
  dlib::array2d<unsigned char> reference_image;
  dlib::array2d<unsigned char> candidate_image;
  dlib::assign_image(reference_image, image);
  dlib::assign_image(candidate_image, image);
  for (int i = 0; i < upsample; ++i) {
    dlib::pyramid_up(reference_image);
    PyramidUpGrey(candidate_image);
  }
  std::vector<dlib::rect_detection> expected;
  std::vector<dlib::rect_detection> actual;
  reference(reference_image, expected);
  candidate(candidate_image, actual);
  EXPECT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < std::min(actual.size(), expected.size()); ++i) {
    EXPECT_EQ(actual[i].rect, expected[i].rect) << "detection " << i;
    EXPECT_EQ(actual[i].detection_confidence, expected[i].detection_confidence) << "detection " << i;
    EXPECT_EQ(actual[i].weight_index, expected[i].weight_index) << "detection " << i;
  }
  return expected.size();
}

TEST(GreyFaceDetector, FindsDlibsFacesInTheManyFacesPhoto) {
  const std::filesystem::path photo = "/usr/share/doc/libdlib19.1/examples/faces/bald_guys.jpg";
  if (!std::filesystem::exists(photo)) {
    GTEST_SKIP() << "demo photo not found: " << photo.string()
                 << " (installed by libdlib19.1 unless /usr/share/doc is excluded)";
  }
  const dlib::array2d<unsigned char> image = GreyOf(photo);
  EXPECT_GT(ExpectSameDetections(image, 0), 0u);
  EXPECT_GE(ExpectSameDetections(image, 1), 20u);
}

TEST(GreyFaceDetector, FindsDlibsFacesInLfwImages) {
  FACESPACE_REQUIRE_TEST_DATA("lfw/images");
  const std::vector<std::filesystem::path> photos = FirstLfwPhotos(40);
  std::size_t faces = 0;
  for (const auto& file : photos) {
    SCOPED_TRACE(file.string());
    const dlib::array2d<unsigned char> image = GreyOf(file);
    faces += ExpectSameDetections(image, 0);
    faces += ExpectSameDetections(image, 1);
  }
  EXPECT_GT(faces, photos.size());
}

}  // namespace
}  // namespace facespace::face
