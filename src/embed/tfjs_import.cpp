// Conversion of face-api's tfjs face recognition weights into dlib's network.
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "embed/model_file.h"
#include "embed/resnet.h"
#include "facespace/embedding.h"
#include "facespace/error.h"
#include "facespace/log.h"

namespace facespace::embed {
namespace {

// One convolution + per-channel affine pair of the network, in the order the
// data flows from the input. Each row fills one dlib con_ layer from
// "<prefix>/conv/filters" [kernel, kernel, in, out] and "<prefix>/conv/bias"
// [out], and the affine_ layer after it from "<prefix>/scale/weights" [out]
// (multiplier) and "<prefix>/scale/biases" [out] (offset). A residual unit
// has two rows (conv1, conv2); "_down" units start with a stride-2 convolution.
struct ConvUnit {
  const char* prefix;
  int in;
  int out;
  int kernel;
  int stride;
};

constexpr ConvUnit kConvUnits[] = {
    // prefix                      in   out  kernel stride
    {"conv32_down",                 3,  32,  7,     2},  // then max pool 3x3, stride 2
    {"conv32_1/conv1",             32,  32,  3,     1},
    {"conv32_1/conv2",             32,  32,  3,     1},
    {"conv32_2/conv1",             32,  32,  3,     1},
    {"conv32_2/conv2",             32,  32,  3,     1},
    {"conv32_3/conv1",             32,  32,  3,     1},
    {"conv32_3/conv2",             32,  32,  3,     1},
    {"conv64_down/conv1",          32,  64,  3,     2},
    {"conv64_down/conv2",          64,  64,  3,     1},
    {"conv64_1/conv1",             64,  64,  3,     1},
    {"conv64_1/conv2",             64,  64,  3,     1},
    {"conv64_2/conv1",             64,  64,  3,     1},
    {"conv64_2/conv2",             64,  64,  3,     1},
    {"conv64_3/conv1",             64,  64,  3,     1},
    {"conv64_3/conv2",             64,  64,  3,     1},
    {"conv128_down/conv1",         64, 128,  3,     2},
    {"conv128_down/conv2",        128, 128,  3,     1},
    {"conv128_1/conv1",           128, 128,  3,     1},
    {"conv128_1/conv2",           128, 128,  3,     1},
    {"conv128_2/conv1",           128, 128,  3,     1},
    {"conv128_2/conv2",           128, 128,  3,     1},
    {"conv256_down/conv1",        128, 256,  3,     2},
    {"conv256_down/conv2",        256, 256,  3,     1},
    {"conv256_1/conv1",           256, 256,  3,     1},
    {"conv256_1/conv2",           256, 256,  3,     1},
    {"conv256_2/conv1",           256, 256,  3,     1},
    {"conv256_2/conv2",           256, 256,  3,     1},
    {"conv256_down_out/conv1",    256, 256,  3,     2},
    {"conv256_down_out/conv2",    256, 256,  3,     1},
};

// The last tensor: "fc" [256, 128] (in x out). tfjs computes x * fc, and dlib's
// fc_no_bias stores its weights as an in x out matrix and computes x * W too,
// so the values are copied unchanged.
constexpr const char* kFcName = "fc";
constexpr int kFcIn = 256;
constexpr int kFcOut = kEmbeddingDim;

// Pointers to the layers FillResNet writes, from the input to the output.
struct ResNetLayers {
  std::vector<dlib::tensor*> conv_params;  // filters (Out x In x H x W) then biases
  std::vector<long> conv_filters;
  std::vector<long> conv_rows;
  std::vector<long> conv_stride;
  std::vector<dlib::affine_*> affines;
  dlib::tensor* fc_params = nullptr;
};

struct LayerCollector {
  ResNetLayers* layers;

  template <long N, long R, long C, int Sy, int Sx, int Py, int Px>
  void operator()(size_t, dlib::con_<N, R, C, Sy, Sx, Py, Px>& conv) const {
    layers->conv_params.push_back(&conv.get_layer_params());
    layers->conv_filters.push_back(conv.num_filters());
    layers->conv_rows.push_back(R);
    layers->conv_stride.push_back(Sy);
  }
  void operator()(size_t, dlib::affine_& affine) const { layers->affines.push_back(&affine); }
  template <unsigned long N, dlib::fc_bias_mode Mode>
  void operator()(size_t, dlib::fc_<N, Mode>& fc) const {
    layers->fc_params = &fc.get_layer_params();
  }
  template <typename Other>
  void operator()(size_t, Other&) const {}
};

std::string ShapeText(const std::vector<int>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

const TfjsTensor& TakeTensor(const std::vector<TfjsTensor>& tensors, std::size_t& next,
                             const std::string& name, const std::vector<int>& expected_shape) {
  if (next >= tensors.size()) {
    throw Error(ErrorCategory::kCorrupt,
                fmt::format("{}: tensor missing from the manifest (it ends after {} tensors)", name, tensors.size()));
  }
  const TfjsTensor& tensor = tensors[next];
  if (tensor.name != name) {
    throw Error(ErrorCategory::kCorrupt,
                fmt::format("{}: unexpected tensor at manifest position {}, expected {}", tensor.name, next, name));
  }
  if (tensor.shape != expected_shape) {
    throw Error(ErrorCategory::kCorrupt,
                fmt::format("{}: shape {} does not match the network layer's {}", name, ShapeText(tensor.shape),
                            ShapeText(expected_shape)));
  }
  ++next;
  return tensor;
}

// Runs one forward pass so dlib allocates every layer's parameters; affine
// layers are switched to per-channel mode first, because a default-constructed
// dlib affine_ is in FC_MODE (one scale per input element).
void SetUpLayers(ResNet& net) {
  dlib::visit_computational_layers(net, [](size_t, auto& layer) {
    if constexpr (std::is_same_v<std::decay_t<decltype(layer)>, dlib::affine_>) {
      layer = dlib::affine_(dlib::CONV_MODE);
    }
  });
  dlib::matrix<dlib::rgb_pixel> blank(150, 150);
  blank = dlib::rgb_pixel(0, 0, 0);
  net(blank);
}

}  // namespace

std::vector<TfjsTensor> ParseTfjsWeights(const std::string& manifest_json, std::span<const std::uint8_t> weights,
                                         const std::string& manifest_name, const std::string& weights_name) {
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(manifest_json);
  } catch (const nlohmann::json::exception& error) {
    throw Error(ErrorCategory::kCorrupt, fmt::format("{}: invalid JSON: {}", manifest_name, error.what()));
  }
  if (!manifest.is_array()) {
    throw Error(ErrorCategory::kCorrupt, manifest_name + ": expected a JSON array of weight groups");
  }

  std::vector<TfjsTensor> tensors;
  std::size_t offset = 0;
  try {
    for (const auto& group : manifest) {
      for (const auto& entry : group.at("weights")) {
        TfjsTensor tensor;
        tensor.name = entry.at("name").get<std::string>();
        tensor.shape = entry.at("shape").get<std::vector<int>>();
        std::size_t count = 1;
        for (int dim : tensor.shape) {
          if (dim < 0) {
            throw Error(ErrorCategory::kCorrupt,
                        fmt::format("{}: tensor {} has a negative dimension", manifest_name, tensor.name));
          }
          count *= static_cast<std::size_t>(dim);
        }
        const std::string dtype = entry.at("dtype").get<std::string>();
        if (dtype != "float32") {
          throw Error(ErrorCategory::kCorrupt,
                      fmt::format("{}: tensor {} has dtype {}, only float32 is supported", manifest_name,
                                  tensor.name, dtype));
        }

        bool quantised = false;
        float scale = 0;
        float minimum = 0;
        if (entry.contains("quantization")) {
          const auto& quantization = entry.at("quantization");
          const std::string stored = quantization.at("dtype").get<std::string>();
          if (stored != "uint8") {
            throw Error(ErrorCategory::kCorrupt,
                        fmt::format("{}: tensor {} is quantised as {}, only uint8 is supported", manifest_name,
                                    tensor.name, stored));
          }
          quantised = true;
          scale = quantization.at("scale").get<float>();
          minimum = quantization.at("min").get<float>();
        }

        const std::size_t bytes = count * (quantised ? 1 : sizeof(float));
        tensor.values.resize(count);
        if (offset + bytes <= weights.size()) {
          const std::uint8_t* data = weights.data() + offset;
          if (quantised) {
            for (std::size_t i = 0; i < count; ++i) tensor.values[i] = minimum + scale * data[i];
          } else {
            std::memcpy(tensor.values.data(), data, bytes);  // tfjs writes little-endian, as x86 reads
          }
        }
        offset += bytes;
        tensors.push_back(std::move(tensor));
      }
    }
  } catch (const nlohmann::json::exception& error) {
    throw Error(ErrorCategory::kCorrupt, fmt::format("{}: malformed weights entry: {}", manifest_name, error.what()));
  }

  if (offset != weights.size()) {
    throw Error(ErrorCategory::kCorrupt,
                fmt::format("{}: {} bytes, but {} lists tensors of {} bytes", weights_name, weights.size(),
                            manifest_name, offset));
  }
  return tensors;
}

std::vector<float> HwioToOihw(std::span<const float> hwio, int height, int width, int in, int out) {
  std::vector<float> oihw(hwio.size());
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int i = 0; i < in; ++i) {
        for (int o = 0; o < out; ++o) {
          const std::size_t from = ((static_cast<std::size_t>(y) * width + x) * in + i) * out + o;
          const std::size_t to = ((static_cast<std::size_t>(o) * in + i) * height + y) * width + x;
          oihw[to] = hwio[from];
        }
      }
    }
  }
  return oihw;
}

void FillResNet(const std::vector<TfjsTensor>& tensors, ResNet& net) {
  SetUpLayers(net);
  ResNetLayers layers;
  dlib::visit_computational_layers(net, LayerCollector{&layers});
  // visit_computational_layers walks from the output to the input.
  std::reverse(layers.conv_params.begin(), layers.conv_params.end());
  std::reverse(layers.conv_filters.begin(), layers.conv_filters.end());
  std::reverse(layers.conv_rows.begin(), layers.conv_rows.end());
  std::reverse(layers.conv_stride.begin(), layers.conv_stride.end());
  std::reverse(layers.affines.begin(), layers.affines.end());

  constexpr std::size_t kUnits = std::size(kConvUnits);
  if (layers.conv_params.size() != kUnits || layers.affines.size() != kUnits || layers.fc_params == nullptr) {
    throw std::logic_error("FillResNet: the network type does not match the conversion table");
  }

  std::size_t next = 0;
  for (std::size_t u = 0; u < kUnits; ++u) {
    const ConvUnit& unit = kConvUnits[u];
    const std::string prefix = unit.prefix;
    dlib::tensor& params = *layers.conv_params[u];
    const long filter_values = static_cast<long>(unit.out) * unit.in * unit.kernel * unit.kernel;
    if (layers.conv_filters[u] != unit.out || layers.conv_rows[u] != unit.kernel ||
        layers.conv_stride[u] != unit.stride || static_cast<long>(params.size()) != filter_values + unit.out) {
      throw std::logic_error("FillResNet: conversion table row " + prefix + " does not match the network");
    }

    const TfjsTensor& filters =
        TakeTensor(tensors, next, prefix + "/conv/filters", {unit.kernel, unit.kernel, unit.in, unit.out});
    const TfjsTensor& bias = TakeTensor(tensors, next, prefix + "/conv/bias", {unit.out});
    const TfjsTensor& scale = TakeTensor(tensors, next, prefix + "/scale/weights", {unit.out});
    const TfjsTensor& shift = TakeTensor(tensors, next, prefix + "/scale/biases", {unit.out});

    const std::vector<float> oihw = HwioToOihw(filters.values, unit.kernel, unit.kernel, unit.in, unit.out);
    float* destination = params.host();
    std::copy(oihw.begin(), oihw.end(), destination);
    std::copy(bias.values.begin(), bias.values.end(), destination + filter_values);

    auto gamma = layers.affines[u]->get_gamma();
    auto beta = layers.affines[u]->get_beta();
    if (layers.affines[u]->get_mode() != dlib::CONV_MODE || gamma.size() != static_cast<size_t>(unit.out)) {
      throw std::logic_error("FillResNet: affine layer after " + prefix + " is not per channel");
    }
    std::copy(scale.values.begin(), scale.values.end(), gamma.host());
    std::copy(shift.values.begin(), shift.values.end(), beta.host());
  }

  const TfjsTensor& fc = TakeTensor(tensors, next, kFcName, {kFcIn, kFcOut});
  if (layers.fc_params->size() != fc.values.size()) {
    throw std::logic_error("FillResNet: fc layer size does not match the conversion table");
  }
  std::copy(fc.values.begin(), fc.values.end(), layers.fc_params->host());

  if (next != tensors.size()) {
    throw Error(ErrorCategory::kCorrupt,
                fmt::format("{}: unexpected tensor after the last layer ({} tensors, {} used)", tensors[next].name,
                            tensors.size(), next));
  }
  net.clean();
}

std::vector<TfjsTensorSpec> ExpectedTfjsTensors() {
  std::vector<TfjsTensorSpec> specs;
  for (const ConvUnit& unit : kConvUnits) {
    const std::string prefix = unit.prefix;
    specs.push_back({prefix + "/conv/filters", {unit.kernel, unit.kernel, unit.in, unit.out}});
    specs.push_back({prefix + "/conv/bias", {unit.out}});
    specs.push_back({prefix + "/scale/weights", {unit.out}});
    specs.push_back({prefix + "/scale/biases", {unit.out}});
  }
  specs.push_back({kFcName, {kFcIn, kFcOut}});
  return specs;
}

std::size_t CountParameters(ResNet& net) {
  std::size_t count = 0;
  dlib::visit_computational_layers(net, [&count](size_t, auto& layer) {
    if constexpr (std::is_same_v<std::decay_t<decltype(layer)>, dlib::affine_>) {
      count += layer.get_gamma().size() + layer.get_beta().size();
    } else {
      count += layer.get_layer_params().size();
    }
  });
  return count;
}

}  // namespace facespace::embed

namespace facespace {

ModelInfo ImportTfjsModel(const std::filesystem::path& manifest_json, const std::filesystem::path& weights_bin,
                          const std::filesystem::path& output, const std::string& source) {
  const std::vector<std::uint8_t> manifest_bytes = embed::ReadWholeFile(manifest_json);
  const std::vector<std::uint8_t> weights = embed::ReadWholeFile(weights_bin);
  const std::vector<embed::TfjsTensor> tensors =
      embed::ParseTfjsWeights(std::string(manifest_bytes.begin(), manifest_bytes.end()), weights,
                              manifest_json.string(), weights_bin.string());

  embed::ResNet net;
  embed::FillResNet(tensors, net);

  ModelInfo info;
  info.model_id = embed::kModelId;
  info.file_kind = "facespace";
  info.format_version = embed::kModelFormatVersion;
  info.source = source.empty() ? "tfjs:" + weights_bin.filename().string() : source;
  info.source_sha256 = embed::Sha256Hex(weights);
  info.parameter_count = embed::CountParameters(net);
  embed::WriteModelFile(output, info, net);
  Logger().info("imported {} tensors ({} parameters) into {}", tensors.size(), info.parameter_count,
                output.string());
  return info;
}

}  // namespace facespace
