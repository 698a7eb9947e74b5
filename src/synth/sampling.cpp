// Drawing parameter values, their JSON form, and applying sampled recipes.
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "facespace/error.h"
#include "facespace/synth.h"
#include "synth/random.h"
#include "synth/transforms.h"

namespace facespace {
namespace {

const synth::TransformImpl& ImplOrThrow(const std::string& name) {
  const synth::TransformImpl* impl = synth::FindImpl(name);
  if (!impl) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("\"{}\": unknown transformation", name));
  }
  return *impl;
}

void CheckPicture(const cv::Mat& rgb) {
  if (rgb.empty() || rgb.type() != CV_8UC3) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("picture of {}x{} and type {}: expected a non-empty CV_8UC3 image",
                            rgb.cols, rgb.rows, rgb.type()));
  }
}

cv::Mat ApplyWithContext(const SampledStep& step, const cv::Mat& rgb,
                         synth::ApplyContext& context) {
  const synth::TransformImpl& impl = ImplOrThrow(step.transform);
  if (step.values.size() != impl.spec.parameters.size()) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("{}: {} values given for {} parameters", step.transform,
                            step.values.size(), impl.spec.parameters.size()));
  }
  try {
    return impl.apply(step.values, step.noise_seed, rgb, context);
  } catch (const cv::Exception& error) {
    throw Error(ErrorCategory::kInternal,
                fmt::format("{}: OpenCV failed: {}", step.transform, error.what()));
  }
}

}  // namespace

SampledRecipe SampleParameters(const Recipe& recipe, std::uint64_t seed) {
  SampledRecipe sampled;
  sampled.seed = seed;
  synth::SplitMix64 random(seed);
  for (const RecipeStep& step : recipe.steps) {
    const synth::TransformImpl& impl = ImplOrThrow(step.transform);
    SampledStep drawn;
    drawn.transform = step.transform;

    // Always the same draws in the same order: one for the probability, one
    // per parameter, one for the noise seed.
    const double chance = random.Uniform();
    drawn.applied = chance < step.probability;
    for (const ParameterRange& range : step.ranges) {
      const double u = random.Uniform();
      drawn.values.push_back(range.low == range.high ? range.low
                                                     : range.low + u * (range.high - range.low));
    }
    drawn.noise_seed = random.Next();
    drawn.strength = drawn.applied ? impl.strength(drawn.values) : 0.0;
    sampled.steps.push_back(std::move(drawn));
  }
  return sampled;
}

std::uint64_t DeriveSampleSeed(std::uint64_t run_seed, std::string_view source_key, int variant) {
  std::uint64_t seed = synth::Mix64(run_seed ^ 0x5ca1ab1e0ddba11ULL);
  seed = synth::Mix64(seed ^ synth::HashText(source_key));
  return synth::Mix64(seed ^ static_cast<std::uint64_t>(variant));
}

std::string SampledRecipeJson(const SampledRecipe& sampled) {
  nlohmann::ordered_json steps = nlohmann::ordered_json::array();
  for (const SampledStep& step : sampled.steps) {
    const synth::TransformImpl& impl = ImplOrThrow(step.transform);
    nlohmann::ordered_json params = nlohmann::ordered_json::object();
    for (std::size_t i = 0; i < step.values.size() && i < impl.spec.parameters.size(); ++i) {
      params[impl.spec.parameters[i].name] = step.values[i];
    }
    steps.push_back({{"transform", step.transform},
                     {"applied", step.applied},
                     {"strength", step.strength},
                     {"noise_seed", step.noise_seed},
                     {"params", params}});
  }
  const nlohmann::ordered_json json = {{"format_version", kSynthParamsFormatVersion},
                                       {"seed", sampled.seed},
                                       {"steps", steps}};
  return json.dump();
}

SampledRecipe ParseSampledRecipeJson(std::string_view text) {
  auto corrupt = [](const std::string& cause) {
    return Error(ErrorCategory::kCorrupt, "sampled parameters JSON: " + cause);
  };
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    throw corrupt(error.what());
  }
  try {
    const int version = json.at("format_version").get<int>();
    if (version != kSynthParamsFormatVersion) {
      throw corrupt(fmt::format("format version {} is not the supported version {}", version,
                                kSynthParamsFormatVersion));
    }
    SampledRecipe sampled;
    sampled.seed = json.at("seed").get<std::uint64_t>();
    for (const nlohmann::json& entry : json.at("steps")) {
      SampledStep step;
      step.transform = entry.at("transform").get<std::string>();
      const synth::TransformImpl* impl = synth::FindImpl(step.transform);
      if (!impl) throw corrupt(fmt::format("unknown transformation \"{}\"", step.transform));
      step.applied = entry.at("applied").get<bool>();
      step.strength = entry.at("strength").get<double>();
      step.noise_seed = entry.at("noise_seed").get<std::uint64_t>();
      const nlohmann::json& params = entry.at("params");
      for (const ParameterSpec& parameter : impl->spec.parameters) {
        step.values.push_back(params.at(parameter.name).get<double>());
      }
      sampled.steps.push_back(std::move(step));
    }
    return sampled;
  } catch (const nlohmann::json::exception& error) {
    throw corrupt(error.what());
  }
}

int StrengthBucket(double strength) {
  if (!(strength >= 0)) return 0;
  const int bucket = static_cast<int>(strength * kStrengthBuckets);
  return std::min(bucket, kStrengthBuckets - 1);
}

std::string_view ApplyTargetName(ApplyTarget target) {
  return target == ApplyTarget::kChip ? "chip" : "image";
}

ApplyTarget ParseApplyTarget(std::string_view name) {
  if (name == "image") return ApplyTarget::kImage;
  if (name == "chip") return ApplyTarget::kChip;
  throw Error(ErrorCategory::kInvalidArgument,
              fmt::format("\"{}\": unknown target (expected image or chip)", name));
}

cv::Mat ApplyRecipe(const SampledRecipe& sampled, const cv::Mat& rgb, ApplyTarget target,
                    FaceGeometry* geometry) {
  CheckPicture(rgb);
  synth::ApplyContext context = synth::MakeContext(target, rgb.size(), geometry);
  cv::Mat picture = rgb.clone();
  for (const SampledStep& step : sampled.steps) {
    if (step.applied) picture = ApplyWithContext(step, picture, context);
  }
  return picture;
}

cv::Mat ApplyStep(const SampledStep& step, const cv::Mat& rgb, ApplyTarget target,
                  FaceGeometry* geometry) {
  CheckPicture(rgb);
  synth::ApplyContext context = synth::MakeContext(target, rgb.size(), geometry);
  return ApplyWithContext(step, rgb, context);
}

}  // namespace facespace
