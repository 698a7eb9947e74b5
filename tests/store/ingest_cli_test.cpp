// End-to-end tests of `facespace ingest`, `search`, `holdout` and `store`
// through the built program, on a small LFW subset.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <random>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "facespace/embedding.h"
#include "facespace/store.h"
#include "test_support.h"

extern char** environ;

namespace facespace {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

struct Output {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const fs::path& file) {
  std::ifstream stream(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
}

// Returns the program under test: $FACESPACE_TEST_BINARY if set (to test an
// installed build), else the one built with the tests.
fs::path ProgramPath() {
  if (const char* path = std::getenv("FACESPACE_TEST_BINARY"); path && *path) return path;
  return testing::FacespaceBinary();
}

// Starts the facespace program with `args`, stdout and stderr going to files in `dir`.
pid_t Start(const std::vector<std::string>& args, const fs::path& dir) {
  std::vector<std::string> full = {ProgramPath().string()};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : full) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, (dir / "stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, (dir / "stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int result = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return result == 0 ? pid : -1;
}

Output RunProgram(const std::vector<std::string>& args, const fs::path& dir) {
  Output output;
  const pid_t pid = Start(args, dir);
  if (pid < 0) return output;
  int status = 0;
  waitpid(pid, &status, 0);
  output.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  output.out = ReadFile(dir / "stdout");
  output.err = ReadFile(dir / "stderr");
  return output;
}

bool HaveProgramAndModel() {
  return fs::exists(ProgramPath()) && fs::exists(DefaultModelPath());
}

// Copies `per_identity` images of the first `identities` LFW people with at
// least that many images into `target`.
std::size_t CopyLfwSubset(const fs::path& target, int identities, int per_identity) {
  const fs::path images = testing::TestDataDir() / "lfw/images";
  std::vector<fs::path> folders;
  for (const auto& entry : fs::directory_iterator(images)) {
    if (entry.is_directory()) folders.push_back(entry.path());
  }
  std::sort(folders.begin(), folders.end());
  std::size_t copied = 0;
  int taken = 0;
  for (const fs::path& folder : folders) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(folder)) files.push_back(entry.path());
    if (files.size() < static_cast<std::size_t>(per_identity)) continue;
    std::sort(files.begin(), files.end());
    fs::create_directories(target / folder.filename());
    for (int i = 0; i < per_identity; ++i) {
      fs::copy_file(files[i], target / folder.filename() / files[i].filename());
      ++copied;
    }
    if (++taken == identities) break;
  }
  return copied;
}

#define REQUIRE_PROGRAM_AND_DATA()                                                         \
  do {                                                                                     \
    FACESPACE_REQUIRE_TEST_DATA("lfw/images");                                             \
    if (!HaveProgramAndModel()) GTEST_SKIP() << "facespace program or model file missing"; \
  } while (0)

TEST(IngestCli, ResumesAfterKillWithoutLossOrDuplicates) {
  REQUIRE_PROGRAM_AND_DATA();
  TempDir dir;
  const fs::path dataset = dir.path() / "dataset";
  const std::size_t images = CopyLfwSubset(dataset, 12, 4);
  ASSERT_EQ(images, 48u);
  const fs::path store = dir.path() / "store";
  const std::vector<std::string> ingest = {"-q", "ingest", dataset.string(), "--store", store.string(),
                                           "--fallback-box", "--batch", "4", "--jobs", "1"};

  std::mt19937 timing(3);
  std::uniform_int_distribution<int> delay_ms(1500, 4000);
  for (int round = 0; round < 3; ++round) {
    const pid_t pid = Start(ingest, dir.path());
    ASSERT_GT(pid, 0);
    ::usleep(static_cast<useconds_t>(delay_ms(timing)) * 1000);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  const Output last = RunProgram(ingest, dir.path());
  ASSERT_EQ(last.exit_code, 0) << last.err;

  const Output check = RunProgram({"store", "check", "--store", store.string()}, dir.path());
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  const Store opened = Store::Open(store);
  const StoreInfo info = opened.Info();
  EXPECT_EQ(info.images, 48);
  EXPECT_EQ(info.real_samples + static_cast<std::int64_t>(opened.ListFailures().size()), 48);
  EXPECT_EQ(opened.index().size(), static_cast<std::size_t>(info.real_samples));
  std::set<std::string> paths;
  SampleFilter without_vectors;
  without_vectors.with_embeddings = false;
  for (const Sample& sample : opened.ListSamples(without_vectors)) {
    EXPECT_TRUE(paths.insert(sample.image_path).second) << "duplicate " << sample.image_path;
  }
}

TEST(IngestCli, HoldoutSearchFindsIdentities) {
  REQUIRE_PROGRAM_AND_DATA();
  TempDir dir;
  const fs::path dataset = dir.path() / "dataset";
  CopyLfwSubset(dataset, 8, 3);
  const fs::path holdout = dir.path() / "holdout.txt";
  const fs::path store = dir.path() / "store";
  ASSERT_EQ(RunProgram({"holdout", dataset.string(), "--out", holdout.string()}, dir.path()).exit_code, 0);
  const Output ingest = RunProgram({"-q", "ingest", dataset.string(), "--store", store.string(), "--exclude",
                             holdout.string(), "--fallback-box", "--jobs", "1"},
                            dir.path());
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_NE(ingest.out.find("8 identities"), std::string::npos) << ingest.out;

  const Output search = RunProgram({"-q", "search", "--store", store.string(), "--holdout", holdout.string(), "--dataset",
                             dataset.string(), "--fallback-box", "--json", "-k", "3"},
                            dir.path());
  ASSERT_EQ(search.exit_code, 0) << search.err;
  const auto report = nlohmann::json::parse(search.out);
  EXPECT_EQ(report["holdout"]["queries"], 8);
  EXPECT_GE(report["holdout"]["rank1_rate"].get<double>(), 0.75) << search.out;
  EXPECT_EQ(report["metric"], "l2");
  for (const auto& query : report["queries"]) {
    for (const auto& neighbor : query["neighbors"]) EXPECT_GE(neighbor["sample_id"].get<std::int64_t>(), 1);
  }
}

TEST(IngestCli, ProgressToFileIsSummaryLines) {
  REQUIRE_PROGRAM_AND_DATA();
  TempDir dir;
  const fs::path dataset = dir.path() / "dataset";
  CopyLfwSubset(dataset, 2, 1);
  const Output ingest = RunProgram(
      {"ingest", dataset.string(), "--store", (dir.path() / "store").string(), "--fallback-box", "--jobs", "1"},
      dir.path());
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;

  // stderr is a file here, so no bar is drawn: only whole summary lines.
  EXPECT_EQ(ingest.err.find('\r'), std::string::npos) << ingest.err;
  EXPECT_NE(ingest.err.find("scan: 2 images of 2 identities"), std::string::npos) << ingest.err;
  EXPECT_NE(ingest.err.find("ingest: 2 images embedded"), std::string::npos) << ingest.err;
}

TEST(IngestCli, SearchOnEmptyStoreSaysSo) {
  REQUIRE_PROGRAM_AND_DATA();
  TempDir dir;
  fs::create_directories(dir.path() / "empty");
  const fs::path store = dir.path() / "store";
  ASSERT_EQ(RunProgram({"-q", "ingest", (dir.path() / "empty").string(), "--store", store.string()}, dir.path()).exit_code, 0);
  const fs::path image = testing::TestDataDir() / "lfw/images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg";
  const Output search = RunProgram({"search", "--store", store.string(), image.string(), "--fallback-box"}, dir.path());
  EXPECT_EQ(search.exit_code, 0) << search.err;
  EXPECT_NE(search.out.find("the store is empty"), std::string::npos) << search.out;
  EXPECT_NE(search.out.find("decision: unknown"), std::string::npos) << search.out;
}

TEST(IngestCli, SecondWriterReportsLockHolder) {
  REQUIRE_PROGRAM_AND_DATA();
  TempDir dir;
  fs::create_directories(dir.path() / "empty");
  const fs::path store = dir.path() / "store";
  StoreConfig config;
  config.model_id = ReadModelInfo(DefaultModelPath()).model_id;
  config.dimension = kEmbeddingDim;
  const Store writer = Store::Create(store, config);
  const Output ingest = RunProgram({"ingest", (dir.path() / "empty").string(), "--store", store.string()}, dir.path());
  EXPECT_EQ(ingest.exit_code, 5) << ingest.err;
  EXPECT_NE(ingest.err.find("facespace: error: " + store.string() + ": store is locked by process " +
                            std::to_string(::getpid())),
            std::string::npos)
      << ingest.err;
}

TEST(IngestCli, ExportWritesMatchingRows) {
  REQUIRE_PROGRAM_AND_DATA();
  TempDir dir;
  const fs::path dataset = dir.path() / "dataset";
  CopyLfwSubset(dataset, 3, 2);
  const fs::path store = dir.path() / "store";
  ASSERT_EQ(RunProgram({"-q", "ingest", dataset.string(), "--store", store.string(), "--fallback-box", "--jobs", "1"},
                dir.path())
                .exit_code,
            0);
  const fs::path out = dir.path() / "export";
  const Output result = RunProgram({"store", "export", "--store", store.string(), "--out", out.string()}, dir.path());
  ASSERT_EQ(result.exit_code, 0) << result.err;

  const std::string npy = ReadFile(out / "embeddings.npy");
  ASSERT_GT(npy.size(), 128u);
  EXPECT_EQ(npy.substr(0, 6), "\x93NUMPY");
  EXPECT_NE(npy.find("'shape': (6, 128)"), std::string::npos);
  const std::size_t header = 10 + static_cast<unsigned char>(npy[8]) + 256 * static_cast<unsigned char>(npy[9]);
  EXPECT_EQ(header % 64, 0u);
  EXPECT_EQ(npy.size(), header + 6 * 128 * sizeof(float));

  std::istringstream csv(ReadFile(out / "metadata.csv"));
  std::istringstream vectors(ReadFile(out / "vectors.tsv"));
  std::istringstream labels(ReadFile(out / "metadata.tsv"));
  std::string csv_line, vector_line, label_line;
  std::getline(csv, csv_line);
  std::getline(labels, label_line);
  EXPECT_EQ(label_line, "identity\tkind\tsample_id");
  const Store opened = Store::Open(store);
  for (const Sample& sample : opened.ListSamples()) {
    ASSERT_TRUE(std::getline(csv, csv_line));
    ASSERT_TRUE(std::getline(vectors, vector_line));
    ASSERT_TRUE(std::getline(labels, label_line));
    EXPECT_NE(csv_line.find("," + sample.identity + ","), std::string::npos) << csv_line;
    EXPECT_EQ(label_line, sample.identity + "\treal\t" + std::to_string(sample.id));
    EXPECT_EQ(std::count(vector_line.begin(), vector_line.end(), '\t'), 127);
  }
  EXPECT_FALSE(std::getline(csv, csv_line));
}

}  // namespace
}  // namespace facespace
