#include <sstream>

#include <gtest/gtest.h>

#include "facespace/error.h"
#include "facespace/lfw.h"
#include "test_support.h"

namespace facespace {
namespace {

LfwPairSet Parse(const std::string& text) {
  std::istringstream input(text);
  return ParseLfwPairs(input, "pairs.txt");
}

// Returns the message of the Error that parsing `text` throws, or "" if none.
std::string ParseError(const std::string& text) {
  try {
    Parse(text);
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kDecode);
    return error.what();
  }
  return "";
}

TEST(LfwPairs, ParsesView1) {
  const LfwPairSet set = Parse("2\nAl_A\t1\t2\nBo_B 3 4\nAl_A 1 Cy_C 2\nBo_B 5 Di_D 7\n");
  EXPECT_EQ(set.layout, LfwLayout::kView1);
  EXPECT_EQ(set.folds, 1);
  EXPECT_EQ(set.pairs_per_fold, 2);
  ASSERT_EQ(set.pairs.size(), 4u);

  EXPECT_TRUE(set.pairs[0].matched);
  EXPECT_EQ(set.pairs[0].first, (LfwImage{"Al_A", 1}));
  EXPECT_EQ(set.pairs[0].second, (LfwImage{"Al_A", 2}));
  EXPECT_EQ(set.pairs[0].line, 2);

  EXPECT_FALSE(set.pairs[3].matched);
  EXPECT_EQ(set.pairs[3].first, (LfwImage{"Bo_B", 5}));
  EXPECT_EQ(set.pairs[3].second, (LfwImage{"Di_D", 7}));
  EXPECT_EQ(set.pairs[3].line, 5);
  for (const LfwPair& pair : set.pairs) EXPECT_EQ(pair.fold, 0);
}

TEST(LfwPairs, ParsesView2Folds) {
  const LfwPairSet set = Parse(
      "2 1\r\n"
      "Al_A 1 2\r\n"
      "Al_A 1 Bo_B 1\r\n"
      "Cy_C 3 4\r\n"
      "Cy_C 1 Di_D 2\r\n"
      "\r\n");
  EXPECT_EQ(set.layout, LfwLayout::kView2);
  EXPECT_EQ(set.folds, 2);
  EXPECT_EQ(set.pairs_per_fold, 1);
  ASSERT_EQ(set.pairs.size(), 4u);

  const bool expected_matched[] = {true, false, true, false};
  const int expected_fold[] = {0, 0, 1, 1};
  for (std::size_t i = 0; i < set.pairs.size(); ++i) {
    EXPECT_EQ(set.pairs[i].matched, expected_matched[i]) << "pair " << i;
    EXPECT_EQ(set.pairs[i].fold, expected_fold[i]) << "pair " << i;
  }
  EXPECT_EQ(set.pairs[3].second, (LfwImage{"Di_D", 2}));
}

TEST(LfwPairs, ReportsMalformedMatchedLine) {
  EXPECT_EQ(ParseError("1\nAl_A 1\nAl_A 1 Bo_B 2\n"),
            "pairs.txt:2: expected a matched pair 'NAME N1 N2' with image numbers >= 1, "
            "found 'Al_A 1'");
}

TEST(LfwPairs, ReportsMalformedMismatchedLine) {
  EXPECT_EQ(ParseError("1\nAl_A 1 2\nAl_A 1 Bo_B x\n"),
            "pairs.txt:3: expected a mismatched pair 'NAME1 N1 NAME2 N2' with image numbers >= 1, "
            "found 'Al_A 1 Bo_B x'");
}

TEST(LfwPairs, RejectsZeroImageNumber) {
  EXPECT_EQ(ParseError("1\nAl_A 0 2\nAl_A 1 Bo_B 2\n"),
            "pairs.txt:2: expected a matched pair 'NAME N1 N2' with image numbers >= 1, "
            "found 'Al_A 0 2'");
}

TEST(LfwPairs, ReportsMissingLines) {
  EXPECT_EQ(ParseError("2\nAl_A 1 2\nBo_B 1 2\nAl_A 1 Bo_B 2\n"),
            "pairs.txt:4: expected a mismatched pair 'NAME1 N1 NAME2 N2', found the end of the file");
}

TEST(LfwPairs, ReportsEmptyLineInsidePairs) {
  EXPECT_EQ(ParseError("1\n\nAl_A 1 Bo_B 2\n"),
            "pairs.txt:2: expected a matched pair 'NAME N1 N2' with image numbers >= 1, "
            "found an empty line");
}

TEST(LfwPairs, ReportsTrailingPairs) {
  EXPECT_EQ(ParseError("1\nAl_A 1 2\nAl_A 1 Bo_B 2\nCy_C 1 2\n"),
            "pairs.txt:4: expected the end of the file after the pairs the header announced, "
            "found 'Cy_C 1 2'");
}

TEST(LfwPairs, ReportsBadHeader) {
  const std::string expected =
      "expected a header line 'N' (View 1) or 'FOLDS PAIRS' (View 2) with positive integers";
  EXPECT_EQ(ParseError("ten\n"), "pairs.txt:1: " + expected + ", found 'ten'");
  EXPECT_EQ(ParseError("10 300 2\n"), "pairs.txt:1: " + expected + ", found '10 300 2'");
  EXPECT_EQ(ParseError("0\n"), "pairs.txt:1: " + expected + ", found '0'");
  EXPECT_EQ(ParseError(""), "pairs.txt:0: " + expected + ", found the end of the file");
}

TEST(LfwPairs, MissingFileIsNotFound) {
  try {
    ReadLfwPairs("/nonexistent/pairs.txt");
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kNotFound);
    EXPECT_STREQ(error.what(), "/nonexistent/pairs.txt: cannot open the pair file");
  }
}

TEST(LfwPairs, ImagePathFollowsLfwNaming) {
  EXPECT_EQ(LfwImagePath("/data/images", LfwImage{"Aaron_Peirsol", 3}),
            std::filesystem::path("/data/images/Aaron_Peirsol/Aaron_Peirsol_0003.jpg"));
}

TEST(LfwPairs, DistinctImagesRemovesRepeats) {
  const LfwPairSet set = Parse("1\nAl_A 1 2\nAl_A 1 Bo_B 2\n");
  const std::vector<LfwImage> images = DistinctImages(set.pairs);
  const std::vector<LfwImage> expected = {{"Al_A", 1}, {"Al_A", 2}, {"Bo_B", 2}};
  EXPECT_EQ(images, expected);
}

TEST(LfwPairs, ParsesPublishedDevTestFile) {
  FACESPACE_REQUIRE_TEST_DATA("lfw/pairsDevTest.txt");
  const LfwPairSet set = ReadLfwPairs(testing::TestDataDir() / "lfw/pairsDevTest.txt");
  EXPECT_EQ(set.layout, LfwLayout::kView1);
  EXPECT_EQ(set.pairs_per_fold, 500);
  EXPECT_EQ(set.pairs.size(), 1000u);
  for (const LfwImage& image : DistinctImages(set.pairs)) {
    EXPECT_TRUE(std::filesystem::exists(LfwImagePath(testing::TestDataDir() / "lfw/images", image)))
        << image.name << " " << image.number;
  }
}

}  // namespace
}  // namespace facespace
