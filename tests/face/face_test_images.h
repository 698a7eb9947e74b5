// Images shared by the face stage tests: grey noise and the first LFW photos.
#ifndef FACESPACE_TESTS_FACE_FACE_TEST_IMAGES_H_
#define FACESPACE_TESTS_FACE_FACE_TEST_IMAGES_H_

#include <algorithm>
#include <filesystem>
#include <random>
#include <vector>

#include <dlib/array2d.h>

#include "test_support.h"

namespace facespace::face {

// Returns a grey image of uniform random bytes; the same seed gives the same image.
inline dlib::array2d<unsigned char> RandomGreyImage(long rows, long columns, unsigned seed) {
  dlib::array2d<unsigned char> image(rows, columns);
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  for (long r = 0; r < rows; ++r) {
    for (long c = 0; c < columns; ++c) image[r][c] = static_cast<unsigned char>(byte(random));
  }
  return image;
}

// Returns the first photo (NAME_0001.jpg) of each of the first `count` people
// of the shared LFW folder, in name order. The caller checks that the folder
// exists.
inline std::vector<std::filesystem::path> FirstLfwPhotos(std::size_t count) {
  std::vector<std::filesystem::path> people;
  for (const auto& entry : std::filesystem::directory_iterator(testing::TestDataDir() / "lfw/images")) {
    if (entry.is_directory()) people.push_back(entry.path());
  }
  std::sort(people.begin(), people.end());
  people.resize(std::min(people.size(), count));
  std::vector<std::filesystem::path> photos;
  for (const auto& person : people) photos.push_back(person / (person.filename().string() + "_0001.jpg"));
  return photos;
}

}  // namespace facespace::face

#endif  // FACESPACE_TESTS_FACE_FACE_TEST_IMAGES_H_
