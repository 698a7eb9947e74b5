// ResizeGrey against dlib::resize_image: the bytes must be identical for every
// size the detector uses (5/6 pyramid levels, doubling) and for odd ones.
#include "face/grey_pyramid.h"

#include <utility>
#include <vector>

#include <dlib/array2d.h>
#include <dlib/image_transforms.h>
#include <dlib/opencv/cv_image.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include "face/face_test_images.h"

namespace facespace::face {
namespace {

// Counts the pixels where the two images differ and reports the first one.
long CountDifferences(const dlib::array2d<unsigned char>& expected, const dlib::array2d<unsigned char>& actual) {
  long differences = 0;
  for (long r = 0; r < expected.nr(); ++r) {
    for (long c = 0; c < expected.nc(); ++c) {
      if (expected[r][c] == actual[r][c]) continue;
      if (differences == 0) {
        ADD_FAILURE() << "first difference at row " << r << ", column " << c << ": dlib "
                      << int{expected[r][c]} << ", ResizeGrey " << int{actual[r][c]};
      }
      ++differences;
    }
  }
  return differences;
}

void ExpectSameAsDlib(long in_rows, long in_columns, long out_rows, long out_columns, unsigned seed) {
  SCOPED_TRACE(::testing::Message() << in_rows << "x" << in_columns << " -> " << out_rows << "x" << out_columns);
  const dlib::array2d<unsigned char> in = RandomGreyImage(in_rows, in_columns, seed);
  dlib::array2d<unsigned char> expected(out_rows, out_columns);
  dlib::array2d<unsigned char> actual(out_rows, out_columns);
  dlib::resize_image(in, expected, dlib::interpolate_bilinear());
  ResizeGreyImage(in, actual);
  EXPECT_EQ(CountDifferences(expected, actual), 0);
}

TEST(ResizeGrey, PyramidLevelsOfLfwImagesMatchDlib) {
  // A 250x250 LFW image doubled, then every 5/6 level the detector builds.
  ExpectSameAsDlib(250, 250, 499, 499, 1);
  long side = 499;
  unsigned seed = 2;
  while (side >= 40) {
    const long smaller = (5 * side) / 6;
    ExpectSameAsDlib(side, side, smaller, smaller, seed++);
    side = smaller;
  }
}

TEST(ResizeGrey, OddSizesMatchDlib) {
  const std::pair<long, long> sizes[] = {{1, 1},   {1, 9},    {9, 1},    {2, 2},     {3, 17},    {17, 3},
                                         {31, 45}, {45, 31},  {64, 64},  {100, 333}, {333, 100}, {480, 640},
                                         {7, 8},   {8, 7},    {15, 16},  {16, 15}};
  unsigned seed = 100;
  for (const auto& [rows, columns] : sizes) {
    ExpectSameAsDlib(rows, columns, (5 * rows) / 6, (5 * columns) / 6, seed++);
    ExpectSameAsDlib(rows, columns, 2 * rows - 1, 2 * columns - 1, seed++);
    ExpectSameAsDlib(rows, columns, rows + 3, columns + 5, seed++);
    ExpectSameAsDlib(rows, columns, rows / 3 + 1, columns / 3 + 1, seed++);
    ExpectSameAsDlib(rows, columns, 1, 1, seed++);
  }
}

TEST(ResizeGrey, RowsWiderThanTheImageMatchDlib) {
  cv::Mat page(90, 160, CV_8UC1);
  cv::RNG(5).fill(page, cv::RNG::UNIFORM, 0, 256);
  const dlib::cv_image<unsigned char> window(page(cv::Rect(11, 3, 101, 77)));
  for (const auto& [rows, columns] : {std::pair<long, long>{64, 84}, {153, 201}}) {
    dlib::array2d<unsigned char> expected(rows, columns);
    dlib::array2d<unsigned char> actual(rows, columns);
    dlib::resize_image(window, expected, dlib::interpolate_bilinear());
    ResizeGreyImage(window, actual);
    EXPECT_EQ(CountDifferences(expected, actual), 0) << rows << "x" << columns;
  }
}

TEST(ResizeGrey, FlatImagesStayFlat) {
  for (const int level : {0, 1, 127, 254, 255}) {
    dlib::array2d<unsigned char> in(37, 53);
    dlib::assign_all_pixels(in, static_cast<unsigned char>(level));
    dlib::array2d<unsigned char> out(30, 44);
    ResizeGreyImage(in, out);
    for (long r = 0; r < out.nr(); ++r) {
      for (long c = 0; c < out.nc(); ++c) ASSERT_EQ(out[r][c], level) << "row " << r << ", column " << c;
    }
  }
}

TEST(ResizeGrey, PyramidTypesGiveDlibSizesAndPixels) {
  const dlib::array2d<unsigned char> in = RandomGreyImage(123, 250, 7);

  dlib::array2d<unsigned char> expected;
  dlib::array2d<unsigned char> actual;
  dlib::pyramid_down<6>()(in, expected);
  GreyPyramidDown6()(in, actual);
  ASSERT_EQ(actual.nr(), expected.nr());
  ASSERT_EQ(actual.nc(), expected.nc());
  EXPECT_EQ(CountDifferences(expected, actual), 0);

  dlib::array2d<unsigned char> up_expected;
  dlib::array2d<unsigned char> up_actual;
  dlib::assign_image(up_expected, in);
  dlib::assign_image(up_actual, in);
  dlib::pyramid_up(up_expected);
  PyramidUpGrey(up_actual);
  ASSERT_EQ(up_actual.nr(), up_expected.nr());
  ASSERT_EQ(up_actual.nc(), up_expected.nc());
  EXPECT_EQ(CountDifferences(up_expected, up_actual), 0);
}

TEST(ResizeGrey, EmptyImagesAreLeftAlone) {
  dlib::array2d<unsigned char> empty;
  PyramidUpGrey(empty);
  EXPECT_EQ(empty.size(), 0u);
  dlib::array2d<unsigned char> out;
  GreyPyramidDown6()(empty, out);
  EXPECT_EQ(out.size(), 0u);
}

}  // namespace
}  // namespace facespace::face
