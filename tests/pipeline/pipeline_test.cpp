#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include "facespace/distance.h"
#include "facespace/embedding.h"
#include "facespace/error.h"
#include "facespace/face.h"
#include "facespace/pipeline.h"
#include "test_support.h"

namespace facespace {
namespace {

const std::filesystem::path kBaldGuys = "/usr/share/doc/libdlib19.1/examples/faces/bald_guys.jpg";

// Skips the test unless the model file, the landmark model and the demo photo exist.
#define REQUIRE_MODELS()                                                                   \
  do {                                                                                     \
    if (!std::filesystem::exists(DefaultModelPath()))                                      \
      GTEST_SKIP() << "model not found: " << DefaultModelPath() << " (run scripts/setup.sh)"; \
    if (!std::filesystem::exists(DefaultLandmarkModelPath()))                              \
      GTEST_SKIP() << "landmark model not found: " << DefaultLandmarkModelPath();          \
    if (!std::filesystem::exists(kBaldGuys)) GTEST_SKIP() << "demo photo not found: " << kBaldGuys; \
  } while (0)

Pipeline MakePipeline(PipelineOptions options = {}) {
  return Pipeline(DefaultModelPath(), DefaultLandmarkModelPath(), options);
}

double Length(const Embedding& embedding) {
  double sum = 0;
  for (float value : embedding) sum += double(value) * value;
  return std::sqrt(sum);
}

TEST(Pipeline, FindsAllFacesOfBaldGuys) {
  REQUIRE_MODELS();
  PipelineOptions options;
  options.detect.policy = MultiFacePolicy::kAll;
  const Pipeline pipeline = MakePipeline(options);

  const std::vector<std::filesystem::path> files = {kBaldGuys};
  const std::vector<ImageResult> results = pipeline.ProcessFiles(files);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].error.has_value());
  EXPECT_EQ(results[0].source, kBaldGuys.string());
  EXPECT_GT(results[0].width, 0);
  ASSERT_EQ(results[0].faces.size(), 24u);
  for (const EmbeddedFace& face : results[0].faces) {
    EXPECT_FALSE(face.face.fallback);
    EXPECT_EQ(face.face.chip.rows, kChipSize);
    EXPECT_GT(Length(face.embedding), 0.1);
    EXPECT_TRUE(std::isfinite(Length(face.embedding)));
  }
}

TEST(Pipeline, CapturesFileErrorsInOrder) {
  REQUIRE_MODELS();
  testing::TempDir dir;
  const std::filesystem::path corrupt = dir.path() / "corrupt.jpg";
  std::ofstream(corrupt, std::ios::binary) << std::string("\xFF\xD8\xFF\xE0 not really a JPEG", 24);
  const std::filesystem::path missing = dir.path() / "missing.jpg";

  const Pipeline pipeline = MakePipeline();
  const std::vector<std::filesystem::path> files = {kBaldGuys, corrupt, missing, kBaldGuys};
  std::vector<std::string> finished;
  const std::vector<ImageResult> results =
      pipeline.ProcessFiles(files, [&](const ImageResult& result) { finished.push_back(result.source); });

  ASSERT_EQ(results.size(), 4u);
  ASSERT_EQ(finished.size(), 4u);
  for (std::size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(results[i].source, files[i].string());
    EXPECT_EQ(finished[i], files[i].string());
  }

  ASSERT_EQ(results[0].faces.size(), 1u);
  ASSERT_TRUE(results[1].error.has_value());
  EXPECT_EQ(results[1].error->category(), ErrorCategory::kDecode);
  EXPECT_NE(std::string(results[1].error->what()).find("corrupt.jpg"), std::string::npos)
      << results[1].error->what();
  EXPECT_TRUE(results[1].faces.empty());
  ASSERT_TRUE(results[2].error.has_value());
  EXPECT_EQ(results[2].error->category(), ErrorCategory::kNotFound);
  ASSERT_EQ(results[3].faces.size(), 1u);
  // The two copies sit at different places in the batch, so floating-point
  // order may differ in the last bits.
  EXPECT_LT(L2Distance(results[0].faces[0].embedding, results[3].faces[0].embedding), 1e-4);
}

TEST(Pipeline, ProcessImageMatchesProcessFiles) {
  REQUIRE_MODELS();
  const Pipeline pipeline = MakePipeline();
  const std::vector<std::filesystem::path> files = {kBaldGuys};
  const ImageResult from_file = pipeline.ProcessFiles(files).front();
  const ImageResult from_memory = pipeline.ProcessImage(ReadImageFile(kBaldGuys).rgb, "memory");
  ASSERT_EQ(from_file.faces.size(), 1u);
  ASSERT_EQ(from_memory.faces.size(), 1u);
  EXPECT_EQ(from_memory.source, "memory");
  EXPECT_LT(L2Distance(from_file.faces[0].embedding, from_memory.faces[0].embedding), 1e-5);
}

TEST(Pipeline, AlignedInputSkipsDetection) {
  REQUIRE_MODELS();
  PipelineOptions options;
  options.aligned_input = true;
  const Pipeline pipeline = MakePipeline(options);
  const cv::Mat gray(120, 90, CV_8UC3, cv::Scalar(128, 128, 128));
  const ImageResult result = pipeline.ProcessImage(gray, "gray");
  ASSERT_EQ(result.faces.size(), 1u);
  EXPECT_EQ(result.faces[0].face.box.right, 89);
  EXPECT_EQ(result.faces[0].face.box.bottom, 119);
  EXPECT_EQ(result.faces[0].face.chip.cols, kChipSize);
}

// Returns the chips of the first `count` faces of bald_guys.jpg.
std::vector<cv::Mat> BaldGuysChips(std::size_t count) {
  PipelineOptions options;
  options.detect.policy = MultiFacePolicy::kAll;
  const Pipeline pipeline = MakePipeline(options);
  const ImageResult result = pipeline.ProcessImage(ReadImageFile(kBaldGuys).rgb, "bald_guys");
  std::vector<cv::Mat> chips;
  for (std::size_t i = 0; i < count && i < result.faces.size(); ++i) chips.push_back(result.faces[i].face.chip);
  return chips;
}

TEST(Pipeline, JitterIsDeterministicAndBatchIndependent) {
  REQUIRE_MODELS();
  const std::vector<cv::Mat> chips = BaldGuysChips(2);
  ASSERT_EQ(chips.size(), 2u);
  PipelineOptions options;
  options.tta = ParseTtaSpec("jitter:3,seed:11");
  const Pipeline pipeline = MakePipeline(options);

  const std::vector<Embedding> first = pipeline.EmbedChips(chips);
  const std::vector<Embedding> second = pipeline.EmbedChips(chips);
  const std::vector<Embedding> alone = pipeline.EmbedChips({chips[1]});
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first, second);
  EXPECT_LT(L2Distance(first[1], alone[0]), 1e-5);
}

TEST(Pipeline, FlipAveragesChipAndMirror) {
  REQUIRE_MODELS();
  const std::vector<cv::Mat> chips = BaldGuysChips(1);
  ASSERT_EQ(chips.size(), 1u);
  cv::Mat mirrored;
  cv::flip(chips[0], mirrored, 1);

  const Pipeline plain = MakePipeline();
  const std::vector<Embedding> parts = plain.EmbedChips({chips[0], mirrored});
  PipelineOptions options;
  options.tta = ParseTtaSpec("flip");
  const Embedding flipped = MakePipeline(options).EmbedChips({chips[0]}).front();

  for (int i = 0; i < kEmbeddingDim; ++i) {
    EXPECT_NEAR(flipped[i], (parts[0][i] + parts[1][i]) / 2, 1e-5) << "dimension " << i;
  }
  EXPECT_GT(L2Distance(parts[0], parts[1]), 0);
  EXPECT_LT(L2Distance(parts[0], parts[1]), 0.4);
}

}  // namespace
}  // namespace facespace
