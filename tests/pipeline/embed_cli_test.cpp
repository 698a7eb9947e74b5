// Runs the facespace executable and checks what `embed` and `verify` print.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "facespace/embedding.h"
#include "facespace/face.h"
#include "test_support.h"

namespace facespace {
namespace {

const std::filesystem::path kBaldGuys = "/usr/share/doc/libdlib19.1/examples/faces/bald_guys.jpg";

struct RunResult {
  int exit_code = -1;
  std::vector<std::string> stdout_lines;
  std::string stderr_text;
};

// Runs the facespace binary with `arguments` (already shell-quoted) and
// collects its output.
RunResult RunFacespace(const std::string& arguments, const std::filesystem::path& scratch) {
  const std::filesystem::path stderr_file = scratch / "stderr.txt";
  const std::string command =
      "'" + testing::FacespaceBinary().string() + "' " + arguments + " 2>'" + stderr_file.string() + "'";
  RunResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::string output;
  char buffer[65536];
  std::size_t count;
  while ((count = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, count);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) result.stdout_lines.push_back(line);
  std::ifstream errors(stderr_file);
  result.stderr_text.assign(std::istreambuf_iterator<char>(errors), {});
  return result;
}

class EmbedCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(testing::FacespaceBinary()))
      GTEST_SKIP() << "facespace binary not built: " << testing::FacespaceBinary();
    if (!std::filesystem::exists(DefaultModelPath()))
      GTEST_SKIP() << "model not found: " << DefaultModelPath() << " (run scripts/setup.sh)";
    if (!std::filesystem::exists(kBaldGuys)) GTEST_SKIP() << "demo photo not found: " << kBaldGuys;

    blank_ = dir_.path() / "blank.png";
    cv::imwrite(blank_.string(), cv::Mat(80, 80, CV_8UC3, cv::Scalar(90, 90, 90)));
    corrupt_ = dir_.path() / "corrupt.jpg";
    std::ofstream(corrupt_, std::ios::binary) << std::string("\xFF\xD8\xFF\xE0 truncated", 15);
  }

  std::string Quoted(const std::filesystem::path& path) const { return "'" + path.string() + "'"; }

  testing::TempDir dir_;
  std::filesystem::path blank_;
  std::filesystem::path corrupt_;
};

TEST_F(EmbedCli, JsonLinesForEveryFace) {
  const RunResult run = RunFacespace(
      "embed --json --all-faces " + Quoted(kBaldGuys) + " " + Quoted(blank_) + " " + Quoted(corrupt_),
      dir_.path());
  EXPECT_EQ(run.exit_code, 3) << run.stderr_text;
  ASSERT_EQ(run.stdout_lines.size(), 26u) << run.stderr_text;

  for (int i = 0; i < 24; ++i) {
    const nlohmann::json face = nlohmann::json::parse(run.stdout_lines[i]);
    EXPECT_EQ(face.at("file"), kBaldGuys.string());
    EXPECT_EQ(face.at("face"), i);
    EXPECT_EQ(face.at("faces"), 24);
    EXPECT_EQ(face.at("embedding").size(), static_cast<std::size_t>(kEmbeddingDim));
    EXPECT_EQ(face.at("landmarks").size(), static_cast<std::size_t>(kLandmarkCount));
    EXPECT_EQ(face.at("fallback"), false);
    EXPECT_TRUE(face.at("detector_score").is_number());
    EXPECT_LT(face.at("box").at("left").get<int>(), face.at("box").at("right").get<int>());
    EXPECT_EQ(face.at("tta"), "none");
  }

  const nlohmann::json no_face = nlohmann::json::parse(run.stdout_lines[24]);
  EXPECT_EQ(no_face, (nlohmann::json{{"file", blank_.string()}, {"faces", 0}}));

  const nlohmann::json failed = nlohmann::json::parse(run.stdout_lines[25]);
  EXPECT_EQ(failed.at("file"), corrupt_.string());
  EXPECT_EQ(failed.at("faces"), 0);
  EXPECT_EQ(failed.at("error_category"), "decode error");
  EXPECT_NE(run.stderr_text.find("facespace: error: " + corrupt_.string()), std::string::npos)
      << run.stderr_text;
}

TEST_F(EmbedCli, TextSummaryAndNoFaceLine) {
  const RunResult run = RunFacespace("embed " + Quoted(kBaldGuys) + " " + Quoted(blank_), dir_.path());
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  ASSERT_EQ(run.stdout_lines.size(), 2u);
  EXPECT_EQ(run.stdout_lines[0].rfind(kBaldGuys.string() + " face 1/1: box (", 0), 0u) << run.stdout_lines[0];
  EXPECT_NE(run.stdout_lines[0].find("(128 floats, length "), std::string::npos);
  EXPECT_EQ(run.stdout_lines[1], blank_.string() + ": no face found");
}

TEST_F(EmbedCli, CentralFaceIsNearestTheCentre) {
  const RunResult all = RunFacespace("embed --json --all-faces " + Quoted(kBaldGuys), dir_.path());
  const RunResult central = RunFacespace("embed --json --face central " + Quoted(kBaldGuys), dir_.path());
  ASSERT_EQ(all.exit_code, 0) << all.stderr_text;
  ASSERT_EQ(central.exit_code, 0) << central.stderr_text;
  ASSERT_EQ(central.stdout_lines.size(), 1u);

  const cv::Mat photo = cv::imread(kBaldGuys.string());
  const auto distance_to_centre = [&](const nlohmann::json& face) {
    const nlohmann::json& box = face.at("box");
    const double dx = (box.at("left").get<int>() + box.at("right").get<int>()) / 2.0 - photo.cols / 2.0;
    const double dy = (box.at("top").get<int>() + box.at("bottom").get<int>()) / 2.0 - photo.rows / 2.0;
    return dx * dx + dy * dy;
  };
  double nearest = std::numeric_limits<double>::infinity();
  for (const std::string& line : all.stdout_lines) {
    nearest = std::min(nearest, distance_to_centre(nlohmann::json::parse(line)));
  }
  const nlohmann::json chosen = nlohmann::json::parse(central.stdout_lines[0]);
  EXPECT_EQ(chosen.at("faces"), 1);
  EXPECT_DOUBLE_EQ(distance_to_centre(chosen), nearest);
}

TEST_F(EmbedCli, FaceAndAllFacesExcludeEachOther) {
  const RunResult run = RunFacespace("embed --all-faces --face central " + Quoted(kBaldGuys), dir_.path());
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.stderr_text.find("excludes"), std::string::npos) << run.stderr_text;
}

TEST_F(EmbedCli, FallbackBoxMarksFace) {
  const RunResult run = RunFacespace("embed --json --fallback-box " + Quoted(blank_), dir_.path());
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  ASSERT_EQ(run.stdout_lines.size(), 1u);
  const nlohmann::json face = nlohmann::json::parse(run.stdout_lines[0]);
  EXPECT_EQ(face.at("fallback"), true);
  EXPECT_EQ(face.at("detector_score"), 0.0);
}

TEST_F(EmbedCli, VerifySameImageIsSamePerson) {
  const RunResult run =
      RunFacespace("verify --json " + Quoted(kBaldGuys) + " " + Quoted(kBaldGuys), dir_.path());
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  ASSERT_EQ(run.stdout_lines.size(), 1u);
  const nlohmann::json result = nlohmann::json::parse(run.stdout_lines[0]);
  EXPECT_NEAR(result.at("l2_distance").get<double>(), 0.0, 1e-6);
  EXPECT_NEAR(result.at("cosine_similarity").get<double>(), 1.0, 1e-6);
  EXPECT_EQ(result.at("threshold"), 0.6);
  EXPECT_EQ(result.at("metric"), "l2");
  EXPECT_EQ(result.at("same_person"), true);
}

TEST_F(EmbedCli, VerifyNoFaceIsAnError) {
  const RunResult run = RunFacespace("verify " + Quoted(kBaldGuys) + " " + Quoted(blank_), dir_.path());
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_NE(run.stderr_text.find("facespace: error: " + blank_.string() + ": no face found"),
            std::string::npos)
      << run.stderr_text;
}

TEST_F(EmbedCli, BadTtaSpecIsUsageError) {
  const RunResult run = RunFacespace("embed --tta flop " + Quoted(kBaldGuys), dir_.path());
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_NE(run.stderr_text.find("part 'flop' is not recognised"), std::string::npos) << run.stderr_text;
}

}  // namespace
}  // namespace facespace
