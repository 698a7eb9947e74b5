#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "embed/model_file.h"
#include "embed/resnet.h"
#include "embed_test_support.h"
#include "facespace/distance.h"
#include "facespace/embedding.h"
#include "facespace/error.h"
#include "test_support.h"

namespace facespace {
namespace {

using testing::TestDataDir;

double L2(const Embedding& a, const std::vector<float>& b) {
  double sum = 0;
  for (int i = 0; i < kEmbeddingDim; ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(sum);
}

cv::Mat ReadRgb(const std::filesystem::path& path) {
  const cv::Mat bgr = cv::imread(path.string(), cv::IMREAD_COLOR);  // gray becomes three equal channels
  if (bgr.empty()) throw std::runtime_error("cannot read " + path.string());
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

std::vector<float> ReadDescriptor(const std::filesystem::path& path) {
  std::ifstream file(path);
  return nlohmann::json::parse(file).get<std::vector<float>>();
}

// A seeded synthetic chip with smooth structure, so the network sees more
// than noise.
cv::Mat SyntheticChip(unsigned seed) {
  cv::Mat chip(150, 150, CV_8UC3);
  cv::setRNGSeed(static_cast<int>(seed));
  cv::randu(chip, cv::Scalar::all(0), cv::Scalar::all(255));
  cv::GaussianBlur(chip, chip, cv::Size(9, 9), 3.0);
  return chip;
}

TEST(Golden, ReproducesReferenceDescriptors) {
  FACESPACE_REQUIRE_TEST_DATA("golden/face1.png");
  FACESPACE_REQUIRE_MODEL(model);
  const FaceEmbedder embedder(model);
  const auto golden = TestDataDir() / "golden";

  const struct {
    const char* image;
    const char* descriptor;
  } cases[] = {
      {"face1.png", "faceDescriptor1.json"},
      {"face2.png", "faceDescriptor2.json"},
      {"face_rectangular.png", "faceDescriptorRect.json"},
  };
  for (const auto& c : cases) {
    const Embedding embedding = embedder.EmbedOne(ChipFromCroppedFace(ReadRgb(golden / c.image)));
    const double distance = L2(embedding, ReadDescriptor(golden / c.descriptor));
    RecordProperty(c.image, std::to_string(distance));
    EXPECT_LT(distance, 0.05) << c.image;
  }
}

TEST(Golden, DifferentFacesStayApart) {
  FACESPACE_REQUIRE_TEST_DATA("golden/face1.png");
  const auto golden = TestDataDir() / "golden";
  // The reference descriptors themselves must differ, or the test above could
  // pass with a constant output.
  const auto a = ReadDescriptor(golden / "faceDescriptor1.json");
  const auto b = ReadDescriptor(golden / "faceDescriptor2.json");
  Embedding first;
  std::copy(a.begin(), a.end(), first.begin());
  EXPECT_GT(L2(first, b), 0.2);
}

TEST(FaceEmbedder, BatchMatchesPlainDlibForward) {
  FACESPACE_REQUIRE_MODEL(model);
  const FaceEmbedder embedder(model);
  embed::ResNet reference;
  embed::LoadModelFile(model, reference);

  std::vector<cv::Mat> chips;
  for (unsigned seed = 0; seed < 19; ++seed) chips.push_back(SyntheticChip(seed));
  if (std::filesystem::exists(TestDataDir() / "golden/face1.png")) {
    chips.push_back(ChipFromCroppedFace(ReadRgb(TestDataDir() / "golden/face1.png")));
    chips.push_back(ChipFromCroppedFace(ReadRgb(TestDataDir() / "golden/face_rectangular.png")));
  }

  for (int threads : {1, 2}) {
    const std::vector<Embedding> batch = embedder.Embed(chips, threads);
    ASSERT_EQ(batch.size(), chips.size());
    for (std::size_t i = 0; i < chips.size(); ++i) {
      const dlib::matrix<float, 0, 1> single = reference(embed::ToDlibChip(chips[i]));
      const std::vector<float> expected(single.begin(), single.end());
      EXPECT_LT(L2(batch[i], expected), 1e-3) << "chip " << i << ", " << threads << " threads";
    }
  }
}

TEST(FaceEmbedder, ConcurrentCallsAgree) {
  FACESPACE_REQUIRE_MODEL(model);
  const FaceEmbedder embedder(model);
  const std::vector<cv::Mat> chips = {SyntheticChip(1), SyntheticChip(2), SyntheticChip(3)};
  const std::vector<Embedding> expected = embedder.Embed(chips, 1);

  std::vector<std::vector<Embedding>> results(3);
  std::vector<std::thread> threads;
  for (auto& result : results) threads.emplace_back([&] { result = embedder.Embed(chips, 1); });
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) {
    ASSERT_EQ(result.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      EXPECT_LT(L2(result[i], {expected[i].begin(), expected[i].end()}), 1e-5);
    }
  }
}

TEST(FaceEmbedder, EmptyInputGivesEmptyOutput) {
  FACESPACE_REQUIRE_MODEL(model);
  const FaceEmbedder embedder(model);
  EXPECT_TRUE(embedder.Embed({}).empty());
}

TEST(FaceEmbedder, WrongChipSizeRejected) {
  FACESPACE_REQUIRE_MODEL(model);
  const FaceEmbedder embedder(model);
  try {
    embedder.EmbedOne(cv::Mat(100, 150, CV_8UC3, cv::Scalar::all(0)));
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kInvalidArgument);
    EXPECT_STREQ(error.what(), "chip: expected 150x150 8-bit RGB, got 150x100 of OpenCV type 16");
  }
}

TEST(ChipFromCroppedFace, PadsTallImageSideways) {
  // 150 tall, 50 wide: 50 black columns each side, then no resize needed.
  cv::Mat tall(150, 50, CV_8UC3, cv::Scalar(200, 100, 50));
  const cv::Mat chip = ChipFromCroppedFace(tall);
  ASSERT_EQ(chip.rows, 150);
  ASSERT_EQ(chip.cols, 150);
  EXPECT_EQ(chip.at<cv::Vec3b>(75, 10), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(chip.at<cv::Vec3b>(75, 140), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(chip.at<cv::Vec3b>(75, 75), cv::Vec3b(200, 100, 50));
  EXPECT_EQ(chip.at<cv::Vec3b>(0, 60), cv::Vec3b(200, 100, 50));
}

TEST(ChipFromCroppedFace, ResizesWideImage) {
  cv::Mat wide(100, 300, CV_8UC3, cv::Scalar(10, 20, 30));
  const cv::Mat chip = ChipFromCroppedFace(wide);
  ASSERT_EQ(chip.size(), cv::Size(150, 150));
  EXPECT_EQ(chip.at<cv::Vec3b>(5, 75), cv::Vec3b(0, 0, 0));     // top padding
  EXPECT_EQ(chip.at<cv::Vec3b>(144, 75), cv::Vec3b(0, 0, 0));   // bottom padding
  EXPECT_EQ(chip.at<cv::Vec3b>(75, 75), cv::Vec3b(10, 20, 30));
}

TEST(ChipFromCroppedFace, RejectsGray) {
  EXPECT_THROW(ChipFromCroppedFace(cv::Mat(10, 10, CV_8UC1)), Error);
}

}  // namespace
}  // namespace facespace
