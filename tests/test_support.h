// Helpers shared by the tests: where test data lives, and temporary folders.
#ifndef FACESPACE_TESTS_TEST_SUPPORT_H_
#define FACESPACE_TESTS_TEST_SUPPORT_H_

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace facespace::testing {

// Returns the shared test data folder: $FACESPACE_TEST_DATA, or ../shared/data
// beside the source tree.
inline std::filesystem::path TestDataDir() {
  if (const char* env = std::getenv("FACESPACE_TEST_DATA"); env && *env) return env;
  return FACESPACE_TEST_DATA_DEFAULT;
}

// Returns the path of the facespace executable built with the tests.
inline std::filesystem::path FacespaceBinary() { return FACESPACE_BINARY; }

// A folder under the system temporary directory, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::random_device device;
    path_ = std::filesystem::temp_directory_path() /
            ("facespace-test-" + std::to_string(device()) + std::to_string(device()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace facespace::testing

// Skips the current test when `relative` is missing under TestDataDir().
#define FACESPACE_REQUIRE_TEST_DATA(relative)                                      \
  do {                                                                             \
    if (!std::filesystem::exists(::facespace::testing::TestDataDir() / (relative))) \
      GTEST_SKIP() << "test data not found: "                                      \
                   << (::facespace::testing::TestDataDir() / (relative)).string()   \
                   << " (set FACESPACE_TEST_DATA to the shared data folder)";       \
  } while (0)

#endif  // FACESPACE_TESTS_TEST_SUPPORT_H_
