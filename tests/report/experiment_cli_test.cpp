// Argument handling of `facespace experiment`, checked on the real binary.
// These cases fail before any model is loaded, so they need no model file.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "test_support.h"

namespace facespace {
namespace {

struct Outcome {
  int status = -1;
  std::string output;  // stdout and stderr together
};

Outcome RunFacespace(const std::string& arguments) {
  const std::string command = facespace::testing::FacespaceBinary().string() + " " + arguments + " 2>&1";
  Outcome outcome;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return outcome;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) outcome.output += buffer.data();
  const int status = pclose(pipe);
  outcome.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return outcome;
}

TEST(ExperimentArguments, OutIsRequired) {
  const Outcome outcome = RunFacespace("experiment");
  EXPECT_EQ(outcome.status, 2) << outcome.output;
  EXPECT_NE(outcome.output.find("--out is required"), std::string::npos) << outcome.output;
}

TEST(ExperimentArguments, DatasetAndPhotosExclude) {
  facespace::testing::TempDir folder;
  const std::string photo = FACESPACE_SOURCE_DIR "/tests/report/fixture/images/face_0_0.svg";
  const Outcome outcome = RunFacespace("experiment " + folder.path().string() + " --photos " + photo +
                                       " --out " + (folder.path() / "out").string());
  EXPECT_EQ(outcome.status, 3) << outcome.output;
  EXPECT_NE(outcome.output.find("give either a DATASET folder or --photos, not both"), std::string::npos)
      << outcome.output;
}

TEST(ExperimentArguments, MissingDatasetNamed) {
  facespace::testing::TempDir folder;
  const std::string missing = (folder.path() / "no-such-dataset").string();
  const Outcome outcome = RunFacespace("experiment " + missing + " --out " + (folder.path() / "out").string());
  EXPECT_EQ(outcome.status, 3) << outcome.output;
  EXPECT_NE(outcome.output.find("facespace: error: " + missing + ": dataset folder not found"), std::string::npos)
      << outcome.output;
}

TEST(ExperimentArguments, BadRecipeGivesColumn) {
  facespace::testing::TempDir folder;
  const Outcome outcome = RunFacespace("experiment " + folder.path().string() + " --recipe 'rotate(-15,15) gamam(1,2)'" +
                                       " --out " + (folder.path() / "out").string());
  EXPECT_EQ(outcome.status, 3) << outcome.output;
  EXPECT_NE(outcome.output.find("column 16"), std::string::npos) << outcome.output;
}

TEST(ExperimentArguments, PerImageMustBePositive) {
  facespace::testing::TempDir folder;
  const Outcome outcome = RunFacespace("experiment " + folder.path().string() + " --per-image 0 --out " +
                                       (folder.path() / "out").string());
  EXPECT_EQ(outcome.status, 2) << outcome.output;
  EXPECT_NE(outcome.output.find("--per-image"), std::string::npos) << outcome.output;
}

TEST(ExperimentArguments, ApplyTargetChecked) {
  facespace::testing::TempDir folder;
  const Outcome outcome = RunFacespace("experiment " + folder.path().string() + " --on face --out " +
                                       (folder.path() / "out").string());
  EXPECT_EQ(outcome.status, 2) << outcome.output;
  EXPECT_NE(outcome.output.find("--on"), std::string::npos) << outcome.output;
}

TEST(ExperimentArguments, ProjectionMethodChecked) {
  facespace::testing::TempDir folder;
  const Outcome outcome = RunFacespace("experiment " + folder.path().string() + " --projection umap --out " +
                                       (folder.path() / "out").string());
  EXPECT_EQ(outcome.status, 2) << outcome.output;
  EXPECT_NE(outcome.output.find("--projection"), std::string::npos) << outcome.output;
}

TEST(ExperimentArguments, MinImagesLeavingOneIdentity) {
  // Two images of "Ann", one of "Bob": with --min-images 2 only Ann is left.
  facespace::testing::TempDir folder;
  const std::filesystem::path dataset = folder.path() / "people";
  for (const char* file : {"Ann/Ann_0001.jpg", "Ann/Ann_0002.jpg", "Bob/Bob_0001.jpg"}) {
    std::filesystem::create_directories((dataset / file).parent_path());
    std::ofstream(dataset / file) << "not decoded before the check";
  }
  const Outcome outcome = RunFacespace("experiment " + dataset.string() + " --min-images 2 --out " +
                                       (folder.path() / "out").string());
  EXPECT_EQ(outcome.status, 3) << outcome.output;
  EXPECT_NE(outcome.output.find(dataset.string() + ": 1 of 2 identities have at least 2 images; the comparison "
                                "needs at least 2 (lower --min-images)"),
            std::string::npos)
      << outcome.output;
}

TEST(ExperimentArguments, MinImagesMustBePositive) {
  facespace::testing::TempDir folder;
  const Outcome outcome = RunFacespace("experiment " + folder.path().string() + " --min-images 0 --out " +
                                       (folder.path() / "out").string());
  EXPECT_EQ(outcome.status, 2) << outcome.output;
  EXPECT_NE(outcome.output.find("--min-images"), std::string::npos) << outcome.output;
}

TEST(ExperimentArguments, FacePolicyChecked) {
  facespace::testing::TempDir folder;
  const Outcome outcome = RunFacespace("experiment " + folder.path().string() + " --face middle --out " +
                                       (folder.path() / "out").string());
  EXPECT_EQ(outcome.status, 2) << outcome.output;
  EXPECT_NE(outcome.output.find("--face"), std::string::npos) << outcome.output;
}

}  // namespace
}  // namespace facespace
