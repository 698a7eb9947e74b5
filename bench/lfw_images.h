// LFW images for the benchmark programs.
#ifndef FACESPACE_BENCH_LFW_IMAGES_H_
#define FACESPACE_BENCH_LFW_IMAGES_H_

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <vector>

namespace facespace::bench {

// Returns the LFW image folder: lfw/images under $FACESPACE_TEST_DATA, or
// under the shared data folder beside the source tree.
inline std::filesystem::path DefaultLfwImages() {
  const char* data = std::getenv("FACESPACE_TEST_DATA");
  return std::filesystem::path(data && *data ? data : FACESPACE_TEST_DATA_DEFAULT) / "lfw/images";
}

// Returns NAME_0001.jpg of each of the first `count` people in `folder`, in
// name order, skipping people without that file.
inline std::vector<std::filesystem::path> FirstImageOfEachPerson(const std::filesystem::path& folder, int count) {
  std::vector<std::filesystem::path> people;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.is_directory()) people.push_back(entry.path());
  }
  std::sort(people.begin(), people.end());
  std::vector<std::filesystem::path> files;
  for (const auto& person : people) {
    if (static_cast<int>(files.size()) == count) break;
    const auto file = person / (person.filename().string() + "_0001.jpg");
    if (std::filesystem::exists(file)) files.push_back(file);
  }
  return files;
}

}  // namespace facespace::bench

#endif  // FACESPACE_BENCH_LFW_IMAGES_H_
