#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "embed/resnet.h"
#include "facespace/error.h"

namespace facespace::embed {
namespace {

std::vector<std::uint8_t> FloatBytes(const std::vector<float>& values) {
  std::vector<std::uint8_t> bytes(values.size() * sizeof(float));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// A quantised tensor "q" [2, 2] followed by a float32 tensor "f" [3].
std::string TinyManifest() {
  const nlohmann::json manifest = nlohmann::json::array({{
      {"paths", {"tiny.bin"}},
      {"weights",
       {{{"name", "q"},
         {"shape", {2, 2}},
         {"dtype", "float32"},
         {"quantization", {{"dtype", "uint8"}, {"scale", 0.5}, {"min", -1.0}}}},
        {{"name", "f"}, {"shape", {3}}, {"dtype", "float32"}}}},
  }});
  return manifest.dump();
}

std::vector<std::uint8_t> TinyBinary() {
  std::vector<std::uint8_t> bytes = {0, 1, 4, 255};
  const std::vector<std::uint8_t> floats = FloatBytes({1.5f, -2.25f, 1e-7f});
  bytes.insert(bytes.end(), floats.begin(), floats.end());
  return bytes;
}

TEST(TfjsWeights, DequantisesUint8) {
  const auto tensors = ParseTfjsWeights(TinyManifest(), TinyBinary(), "tiny.json", "tiny.bin");
  ASSERT_EQ(tensors.size(), 2u);
  EXPECT_EQ(tensors[0].name, "q");
  EXPECT_EQ(tensors[0].shape, (std::vector<int>{2, 2}));
  EXPECT_FLOAT_EQ(tensors[0].values[0], -1.0f);
  EXPECT_FLOAT_EQ(tensors[0].values[1], -0.5f);
  EXPECT_FLOAT_EQ(tensors[0].values[2], 1.0f);
  EXPECT_FLOAT_EQ(tensors[0].values[3], 126.5f);
}

TEST(TfjsWeights, ReadsFloat32AfterQuantised) {
  const auto tensors = ParseTfjsWeights(TinyManifest(), TinyBinary(), "tiny.json", "tiny.bin");
  ASSERT_EQ(tensors.size(), 2u);
  EXPECT_EQ(tensors[1].name, "f");
  EXPECT_EQ(tensors[1].values, (std::vector<float>{1.5f, -2.25f, 1e-7f}));
}

TEST(TfjsWeights, ShortBinaryRejected) {
  std::vector<std::uint8_t> binary = TinyBinary();
  binary.pop_back();
  try {
    ParseTfjsWeights(TinyManifest(), binary, "tiny.json", "tiny.bin");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kCorrupt);
    EXPECT_STREQ(error.what(), "tiny.bin: 15 bytes, but tiny.json lists tensors of 16 bytes");
  }
}

TEST(TfjsWeights, LongBinaryRejected) {
  std::vector<std::uint8_t> binary = TinyBinary();
  binary.push_back(0);
  EXPECT_THROW(ParseTfjsWeights(TinyManifest(), binary, "tiny.json", "tiny.bin"), Error);
}

TEST(TfjsWeights, InvalidJsonRejected) {
  try {
    ParseTfjsWeights("[{", TinyBinary(), "tiny.json", "tiny.bin");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kCorrupt);
    EXPECT_TRUE(std::string(error.what()).starts_with("tiny.json: invalid JSON")) << error.what();
  }
}

TEST(TfjsWeights, UnsupportedQuantisationRejected) {
  std::string manifest = TinyManifest();
  manifest.replace(manifest.find("uint8"), 5, "uint16");
  try {
    ParseTfjsWeights(manifest, TinyBinary(), "tiny.json", "tiny.bin");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "tiny.json: tensor q is quantised as uint16, only uint8 is supported");
  }
}

TEST(HwioToOihw, TransposesKnownTensor) {
  // H=1, W=2, In=2, Out=3; element (y, x, i, o) holds 1000o + 100i + 10y + x.
  const int h = 1, w = 2, in = 2, out = 3;
  std::vector<float> hwio;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int i = 0; i < in; ++i)
        for (int o = 0; o < out; ++o) hwio.push_back(1000.0f * o + 100.0f * i + 10.0f * y + x);

  const std::vector<float> oihw = HwioToOihw(hwio, h, w, in, out);
  // In Out x In x H x W order the value of element (o, i, y, x) is 1000o + 100i + 10y + x.
  const std::vector<float> expected = {0, 1, 100, 101, 1000, 1001, 1100, 1101, 2000, 2001, 2100, 2101};
  EXPECT_EQ(oihw, expected);
}

TEST(FillResNet, WrongShapeNamesTensor) {
  std::vector<TfjsTensor> tensors(1);
  tensors[0].name = "conv32_down/conv/filters";
  tensors[0].shape = {3, 3, 3, 32};
  tensors[0].values.assign(3 * 3 * 3 * 32, 0.0f);
  ResNet net;
  try {
    FillResNet(tensors, net);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kCorrupt);
    EXPECT_STREQ(error.what(),
                 "conv32_down/conv/filters: shape [3, 3, 3, 32] does not match the network layer's [7, 7, 3, 32]");
  }
}

TEST(FillResNet, MissingTensorNamed) {
  ResNet net;
  try {
    FillResNet({}, net);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kCorrupt);
    EXPECT_STREQ(error.what(), "conv32_down/conv/filters: tensor missing from the manifest (it ends after 0 tensors)");
  }
}

TEST(FillResNet, ExtraTensorRejected) {
  std::vector<TfjsTensor> tensors;
  for (const auto& spec : ExpectedTfjsTensors()) {
    std::size_t count = 1;
    for (int dim : spec.shape) count *= dim;
    tensors.push_back({spec.name, spec.shape, std::vector<float>(count, 0.0f)});
  }
  tensors.push_back({"extra", {1}, {0.0f}});
  ResNet net;
  try {
    FillResNet(tensors, net);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kCorrupt);
    EXPECT_TRUE(std::string(error.what()).starts_with("extra: unexpected tensor")) << error.what();
  }
}

TEST(FillResNet, FiltersLandInOihwOrder) {
  std::vector<TfjsTensor> tensors;
  for (const auto& spec : ExpectedTfjsTensors()) {
    std::size_t count = 1;
    for (int dim : spec.shape) count *= dim;
    std::vector<float> values(count);
    for (std::size_t i = 0; i < count; ++i) values[i] = static_cast<float>(i);
    tensors.push_back({spec.name, spec.shape, values});
  }
  ResNet net;
  FillResNet(tensors, net);

  // The first convolution is the input-most layer; its filter (o, i, y, x)
  // came from tfjs index ((y * 7 + x) * 3 + i) * 32 + o.
  const dlib::tensor& params = dlib::layer<ResNet::num_layers - 2>(net).layer_details().get_layer_params();
  ASSERT_EQ(params.size(), 7u * 7 * 3 * 32 + 32);
  const float* data = params.host();
  const int o = 5, i = 2, y = 4, x = 6;
  EXPECT_EQ(data[((o * 3 + i) * 7 + y) * 7 + x], static_cast<float>(((y * 7 + x) * 3 + i) * 32 + o));
  EXPECT_EQ(data[7 * 7 * 3 * 32 + 31], 31.0f);  // bias of filter 31
}

TEST(ExpectedTfjsTensors, CountsAndOrder) {
  const auto specs = ExpectedTfjsTensors();
  ASSERT_EQ(specs.size(), 29u * 4 + 1);
  EXPECT_EQ(specs.front().name, "conv32_down/conv/filters");
  EXPECT_EQ(specs[4].name, "conv32_1/conv1/conv/filters");
  EXPECT_EQ(specs.back().name, "fc");
  EXPECT_EQ(specs.back().shape, (std::vector<int>{256, 128}));
}

}  // namespace
}  // namespace facespace::embed
