#include <random>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include "facespace/error.h"
#include "facespace/face.h"
#include "facespace/pipeline.h"

namespace facespace {
namespace {

std::string ParseError(const std::string& text) {
  try {
    ParseTtaSpec(text);
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kInvalidArgument);
    return error.what();
  }
  return "";
}

cv::Mat NoiseChip(unsigned seed) {
  cv::Mat chip(kChipSize, kChipSize, CV_8UC3);
  cv::RNG rng(seed);
  rng.fill(chip, cv::RNG::UNIFORM, 0, 256);
  return chip;
}

TEST(TtaSpec, ParsesParts) {
  const TtaSpec flip = ParseTtaSpec("flip");
  EXPECT_TRUE(flip.flip);
  EXPECT_EQ(flip.jitter, 0);
  EXPECT_EQ(flip.variants(), 2);

  const TtaSpec both = ParseTtaSpec("jitter:10,flip,seed:7");
  EXPECT_TRUE(both.flip);
  EXPECT_EQ(both.jitter, 10);
  EXPECT_EQ(both.seed, 7u);
  EXPECT_EQ(both.variants(), 12);

  EXPECT_FALSE(ParseTtaSpec("none").enabled());
  EXPECT_FALSE(ParseTtaSpec("").enabled());
  EXPECT_EQ(ParseTtaSpec("none").variants(), 1);
}

TEST(TtaSpec, FormatRoundTrips) {
  for (const std::string text : {"none", "flip", "jitter:5", "flip,jitter:100", "jitter:3,seed:42",
                                 "flip,jitter:1,seed:18446744073709551615"}) {
    EXPECT_EQ(FormatTtaSpec(ParseTtaSpec(text)), text);
  }
  EXPECT_EQ(FormatTtaSpec(ParseTtaSpec("jitter:4,flip")), "flip,jitter:4");
}

TEST(TtaSpec, ErrorsNameBadPart) {
  const std::string expected_parts =
      "; expected parts flip, jitter:N, seed:S separated by commas, or none";
  EXPECT_EQ(ParseError("flip,mirror"),
            "TTA spec 'flip,mirror': part 'mirror' is not recognised" + expected_parts);
  EXPECT_EQ(ParseError("jitter:x"),
            "TTA spec 'jitter:x': part 'jitter:x' needs a whole number of copies from 1 to 1000" +
                expected_parts);
  EXPECT_EQ(ParseError("flip,jitter:0"),
            "TTA spec 'flip,jitter:0': part 'jitter:0' needs a whole number of copies from 1 to 1000" +
                expected_parts);
  EXPECT_EQ(ParseError("jitter"), "TTA spec 'jitter': part 'jitter' is not recognised" + expected_parts);
  EXPECT_EQ(ParseError("flip,flip"), "TTA spec 'flip,flip': part 'flip' is repeated" + expected_parts);
  EXPECT_EQ(ParseError("flip,"), "TTA spec 'flip,': part '' is empty" + expected_parts);
  EXPECT_EQ(ParseError("seed:3"),
            "TTA spec 'seed:3': part 'seed:3' has no effect without jitter:N" + expected_parts);
}

TEST(Jitter, SameSeedSameCopies) {
  const cv::Mat chip = NoiseChip(1);
  const std::vector<cv::Mat> first = JitterChip(chip, 5, 123);
  const std::vector<cv::Mat> second = JitterChip(chip, 5, 123);
  ASSERT_EQ(first.size(), 5u);
  ASSERT_EQ(second.size(), 5u);
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].size(), chip.size());
    EXPECT_EQ(first[i].type(), chip.type());
    EXPECT_EQ(cv::norm(first[i], second[i], cv::NORM_INF), 0) << "copy " << i;
  }
}

TEST(Jitter, OtherSeedOtherCopies) {
  const cv::Mat chip = NoiseChip(2);
  const std::vector<cv::Mat> first = JitterChip(chip, 3, 1);
  const std::vector<cv::Mat> second = JitterChip(chip, 3, 2);
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_GT(cv::norm(first[i], second[i], cv::NORM_L1), 0) << "copy " << i;
  }
}

TEST(Jitter, CopiesStayCloseToChip) {
  // A smooth chip: the jitter moves content by a few pixels at most, so every
  // copy (or its mirror) stays close to the original.
  cv::Mat chip(kChipSize, kChipSize, CV_8UC3);
  for (int y = 0; y < kChipSize; ++y) {
    for (int x = 0; x < kChipSize; ++x) chip.at<cv::Vec3b>(y, x) = cv::Vec3b(x, y, 128);
  }
  for (const cv::Mat& copy : JitterChip(chip, 20, 9)) {
    cv::Mat mirrored;
    cv::flip(copy, mirrored, 1);
    const cv::Rect inner(10, 10, kChipSize - 20, kChipSize - 20);
    const double direct = cv::norm(copy(inner), chip(inner), cv::NORM_L1) / inner.area() / 3;
    const double flipped = cv::norm(mirrored(inner), chip(inner), cv::NORM_L1) / inner.area() / 3;
    EXPECT_LT(std::min(direct, flipped), 8.0);
    EXPECT_GT(std::min(direct, flipped), 0.0);
  }
}

TEST(Jitter, MirrorsAboutHalfOfCopies) {
  // A chip whose left half is black and right half white: a mirrored copy is
  // bright on the left.
  cv::Mat chip(kChipSize, kChipSize, CV_8UC3, cv::Scalar::all(0));
  chip(cv::Rect(kChipSize / 2, 0, kChipSize / 2, kChipSize)).setTo(cv::Scalar::all(255));
  int mirrored = 0;
  const std::vector<cv::Mat> copies = JitterChip(chip, 200, 5);
  for (const cv::Mat& copy : copies) {
    if (cv::mean(copy(cv::Rect(0, 0, 40, kChipSize)))[0] > 128) ++mirrored;
  }
  EXPECT_GT(mirrored, 70);
  EXPECT_LT(mirrored, 130);
}

}  // namespace
}  // namespace facespace
