// Helpers shared by the embedding tests: synthetic weights and the real model.
#ifndef FACESPACE_TESTS_EMBED_EMBED_TEST_SUPPORT_H_
#define FACESPACE_TESTS_EMBED_EMBED_TEST_SUPPORT_H_

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "embed/model_file.h"
#include "embed/resnet.h"
#include "facespace/embedding.h"
#include "test_support.h"

namespace facespace::testing {

// Writes a tfjs manifest and float32 binary with every tensor the network
// needs, filled with seeded small random values; returns {manifest, binary}.
inline std::pair<std::filesystem::path, std::filesystem::path> WriteSyntheticTfjs(const std::filesystem::path& dir,
                                                                                  unsigned seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  nlohmann::json weights = nlohmann::json::array();
  std::vector<float> values;
  for (const auto& spec : embed::ExpectedTfjsTensors()) {
    weights.push_back({{"name", spec.name}, {"shape", spec.shape}, {"dtype", "float32"}});
    std::size_t count = 1;
    for (int dim : spec.shape) count *= dim;
    const bool is_scale = spec.name.ends_with("/scale/weights");
    for (std::size_t i = 0; i < count; ++i) values.push_back(is_scale ? 1.0f + normal(random) : normal(random));
  }
  const nlohmann::json manifest = nlohmann::json::array({{{"weights", weights}, {"paths", {"model.bin"}}}});

  const auto manifest_path = dir / "model-weights_manifest.json";
  const auto binary_path = dir / "model.bin";
  std::ofstream(manifest_path) << manifest.dump();
  std::ofstream(binary_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * 4));
  return {manifest_path, binary_path};
}

// Returns the real model file for tests that need trained weights, or an empty
// path when none is available. Order: $FACESPACE_MODEL; a model imported once
// per test process from the tfjs files in the source tree's .cache/face-api;
// DefaultModelPath().
inline std::filesystem::path RealModelPath() {
  if (const char* env = std::getenv("FACESPACE_MODEL"); env && *env) return env;

  static TempDir dir;  // removed at process exit
  static const std::filesystem::path imported = [] {
    const std::filesystem::path cache = std::filesystem::path(FACESPACE_SOURCE_DIR) / ".cache" / "face-api";
    const auto manifest = cache / "face_recognition_model-weights_manifest.json";
    const auto binary = cache / "face_recognition_model.bin";
    if (!std::filesystem::exists(manifest) || !std::filesystem::exists(binary)) return std::filesystem::path();
    const auto out = dir.path() / "dlib_resnet_v1.fsmodel";
    ImportTfjsModel(manifest, binary, out, "test import");
    return out;
  }();
  if (!imported.empty()) return imported;
  if (std::filesystem::exists(DefaultModelPath())) return DefaultModelPath();
  return {};
}

}  // namespace facespace::testing

// Skips the current test when no trained model file is available.
#define FACESPACE_REQUIRE_MODEL(variable)                                                      \
  const std::filesystem::path variable = ::facespace::testing::RealModelPath();               \
  if (variable.empty())                                                                       \
  GTEST_SKIP() << "no face model: set FACESPACE_MODEL, or run scripts/setup.sh to fetch the " \
                  "face-api weights into .cache/face-api"

#endif  // FACESPACE_TESTS_EMBED_EMBED_TEST_SUPPORT_H_
