#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "embed/model_file.h"
#include "embed/resnet.h"
#include "embed_test_support.h"
#include "facespace/embedding.h"
#include "facespace/error.h"
#include "test_support.h"

namespace facespace {
namespace {

using testing::TempDir;

class ModelFile : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto [manifest, binary] = testing::WriteSyntheticTfjs(dir_.path(), 7);
    model_ = dir_.path() / "synthetic.fsmodel";
    imported_ = ImportTfjsModel(manifest, binary, model_, "synthetic test weights");
  }

  std::vector<char> Bytes() const {
    std::ifstream file(model_, std::ios::binary);
    return {std::istreambuf_iterator<char>(file), {}};
  }

  void Write(const std::filesystem::path& path, const std::vector<char>& bytes) const {
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  // Returns the error that loading `path` throws.
  Error LoadError(const std::filesystem::path& path) const {
    try {
      FaceEmbedder embedder(path);
    } catch (const Error& error) {
      return error;
    }
    ADD_FAILURE() << path << " loaded without error";
    return Error(ErrorCategory::kInternal, "no error");
  }

  TempDir dir_;
  std::filesystem::path model_;
  ModelInfo imported_;
};

TEST_F(ModelFile, HeaderRoundTrip) {
  const ModelInfo info = ReadModelInfo(model_);
  EXPECT_EQ(info.file_kind, "facespace");
  EXPECT_EQ(info.format_version, embed::kModelFormatVersion);
  EXPECT_EQ(info.model_id, "dlib-resnet-v1");
  EXPECT_EQ(info.source, "synthetic test weights");
  EXPECT_EQ(info.source_sha256.size(), 64u);
  EXPECT_EQ(info.source_sha256, imported_.source_sha256);
  EXPECT_EQ(info.parameter_count, imported_.parameter_count);
}

TEST_F(ModelFile, ParameterCountMatchesTensors) {
  std::size_t expected = 0;
  for (const auto& spec : embed::ExpectedTfjsTensors()) {
    std::size_t count = 1;
    for (int dim : spec.shape) count *= dim;
    expected += count;
  }
  EXPECT_EQ(imported_.parameter_count, expected);
}

TEST_F(ModelFile, SourceHashIsWeightsSha256) {
  // SHA-256 of the empty input, a published test vector.
  EXPECT_EQ(embed::Sha256Hex({}), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const auto binary = embed::ReadWholeFile(dir_.path() / "model.bin");
  EXPECT_EQ(imported_.source_sha256, embed::Sha256Hex(binary));
}

TEST_F(ModelFile, NetworkRoundTrip) {
  embed::ResNet loaded;
  embed::LoadModelFile(model_, loaded);

  const auto [manifest, binary] = testing::WriteSyntheticTfjs(dir_.path(), 7);
  const auto bytes = embed::ReadWholeFile(manifest);
  embed::ResNet filled;
  embed::FillResNet(embed::ParseTfjsWeights(std::string(bytes.begin(), bytes.end()), embed::ReadWholeFile(binary),
                                            "m", "b"),
                    filled);

  dlib::matrix<dlib::rgb_pixel> chip(150, 150);
  for (long y = 0; y < 150; ++y)
    for (long x = 0; x < 150; ++x) chip(y, x) = dlib::rgb_pixel(x, y, (x * y) % 256);
  const dlib::matrix<float, 0, 1> a = loaded(chip);
  const dlib::matrix<float, 0, 1> b = filled(chip);
  ASSERT_EQ(a.size(), 128);
  EXPECT_EQ(dlib::max(dlib::abs(a - b)), 0.0f);
}

TEST_F(ModelFile, NoTemporaryFileLeft) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    ++files;
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
  EXPECT_EQ(files, 3);  // manifest, binary, model
}

TEST_F(ModelFile, TruncatedRejected) {
  std::vector<char> bytes = Bytes();
  bytes.resize(bytes.size() - 100);
  const auto path = dir_.path() / "truncated.fsmodel";
  Write(path, bytes);

  const Error error = LoadError(path);
  EXPECT_EQ(error.category(), ErrorCategory::kCorrupt);
  EXPECT_NE(std::string(error.what()).find("truncated"), std::string::npos) << error.what();
  EXPECT_THROW(ReadModelInfo(path), Error);
}

TEST_F(ModelFile, TruncatedHeaderRejected) {
  std::vector<char> bytes = Bytes();
  bytes.resize(20);
  const auto path = dir_.path() / "short.fsmodel";
  Write(path, bytes);

  const Error error = LoadError(path);
  EXPECT_EQ(error.category(), ErrorCategory::kCorrupt);
  EXPECT_EQ(std::string(error.what()), path.string() + ": truncated file (ends inside the model id)");
}

TEST_F(ModelFile, DamagedPayloadRejected) {
  std::vector<char> bytes = Bytes();
  bytes[bytes.size() - 1000] ^= 0x55;
  const auto path = dir_.path() / "damaged.fsmodel";
  Write(path, bytes);

  const Error error = LoadError(path);
  EXPECT_EQ(error.category(), ErrorCategory::kCorrupt);
  EXPECT_EQ(std::string(error.what()), path.string() + ": network data does not match its checksum (damaged file)");
}

TEST_F(ModelFile, OtherVersionRejected) {
  std::vector<char> bytes = Bytes();
  bytes[8] = 2;  // the format version follows the 8-byte magic
  const auto path = dir_.path() / "v2.fsmodel";
  Write(path, bytes);

  const Error error = LoadError(path);
  EXPECT_EQ(error.category(), ErrorCategory::kMismatch);
  EXPECT_EQ(std::string(error.what()),
            path.string() +
                ": model file format version 2, but this build reads version 1; re-import the model with this "
                "build's `facespace model import`");
  EXPECT_THROW(ReadModelInfo(path), Error);
}

TEST_F(ModelFile, GarbageRejected) {
  const auto path = dir_.path() / "garbage.dat";
  Write(path, std::vector<char>(4096, 'x'));

  const Error error = LoadError(path);
  EXPECT_EQ(error.category(), ErrorCategory::kCorrupt);
  EXPECT_TRUE(std::string(error.what()).starts_with(path.string() + ": neither a facespace model file nor a dlib"))
      << error.what();
}

TEST_F(ModelFile, MissingFileNotFound) {
  const Error error = LoadError(dir_.path() / "absent.fsmodel");
  EXPECT_EQ(error.category(), ErrorCategory::kNotFound);
}

TEST_F(ModelFile, PlainDlibFileAccepted) {
  // dlib's official network file is a bare dlib::serialize of the same type.
  embed::ResNet net;
  embed::LoadModelFile(model_, net);
  const auto path = dir_.path() / "dlib_face_recognition_resnet_model_v1.dat";
  dlib::serialize(path.string()) << net;

  FaceEmbedder embedder(path);
  EXPECT_EQ(embedder.info().file_kind, "dlib");
  EXPECT_EQ(embedder.info().model_id, "dlib-resnet-v1");
  EXPECT_EQ(embedder.info().format_version, 0u);
  EXPECT_EQ(embedder.info().parameter_count, imported_.parameter_count);
  EXPECT_EQ(ReadModelInfo(path).file_kind, "dlib");

  FaceEmbedder ours(model_);
  const cv::Mat chip(150, 150, CV_8UC3, cv::Scalar(90, 120, 150));
  const Embedding a = embedder.EmbedOne(chip);
  const Embedding b = ours.EmbedOne(chip);
  EXPECT_EQ(a, b);
}

TEST(DefaultModelPath, EnvironmentOverrides) {
  const char* saved = std::getenv("FACESPACE_MODEL");
  const std::string saved_model = saved ? saved : "";
  ::setenv("FACESPACE_MODEL", "/models/x.fsmodel", 1);
  EXPECT_EQ(DefaultModelPath(), std::filesystem::path("/models/x.fsmodel"));
  ::unsetenv("FACESPACE_MODEL");
  ::setenv("FACESPACE_MODEL_DIR", "/somewhere", 1);
  EXPECT_EQ(DefaultModelPath(), std::filesystem::path("/somewhere/dlib_resnet_v1.fsmodel"));
  ::unsetenv("FACESPACE_MODEL_DIR");
  EXPECT_EQ(DefaultModelPath().filename(), "dlib_resnet_v1.fsmodel");
  if (saved) ::setenv("FACESPACE_MODEL", saved_model.c_str(), 1);
}

}  // namespace
}  // namespace facespace
