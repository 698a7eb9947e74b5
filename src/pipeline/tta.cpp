// Parsing of TTA specs and the jitter transforms.
#include <charconv>
#include <cmath>
#include <numbers>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "facespace/error.h"
#include "facespace/pipeline.h"

namespace facespace {
namespace {

constexpr int kMaxJitter = 1000;

// Jitter ranges, the same as dlib's jitter_image (dlib 19.24). The face is
// taken as the chip shrunk by 3 pixels on each side. The crop around it is 1
// to 1/0.97 times its size, shifted by up to 2% of it and rotated by up to 3
// degrees. The result is mirrored with probability 1/2.
constexpr double kMaxRotationDegrees = 3.0;
constexpr double kMinObjectHeight = 0.97;
constexpr double kMaxObjectHeight = 1.0;
constexpr double kMaxShift = 0.02;
constexpr int kBorderShrink = 3;

[[noreturn]] void ThrowBadPart(const std::string& text, const std::string& part,
                               const std::string& cause) {
  throw Error(ErrorCategory::kInvalidArgument,
              fmt::format("TTA spec '{}': part '{}' {}; expected parts flip, jitter:N, seed:S "
                          "separated by commas, or none",
                          text, part, cause));
}

template <typename Int>
bool ParseWhole(std::string_view digits, Int& value) {
  const char* end = digits.data() + digits.size();
  const auto [stop, error] = std::from_chars(digits.data(), end, value);
  return !digits.empty() && error == std::errc() && stop == end;
}

// Returns a double uniform in [low, high), computed from the engine's raw bits
// so the sequence is the same with every standard library.
double Uniform(std::mt19937_64& engine, double low, double high) {
  const double unit = static_cast<double>(engine() >> 11) * 0x1.0p-53;
  return low + (high - low) * unit;
}

struct JitterTransform {
  cv::Matx23d affine;  // maps chip coordinates of the copy to the original chip
  bool mirror = false;
};

JitterTransform DrawTransform(std::mt19937_64& engine, int size) {
  const double face = size - 2.0 * kBorderShrink;
  const double center = (size - 1) / 2.0;
  const double shift_x = Uniform(engine, -kMaxShift, kMaxShift) * face;
  const double shift_y = Uniform(engine, -kMaxShift, kMaxShift) * face;
  const double crop = face / Uniform(engine, kMinObjectHeight, kMaxObjectHeight);
  const double angle =
      Uniform(engine, -kMaxRotationDegrees, kMaxRotationDegrees) * std::numbers::pi / 180.0;
  const bool mirror = Uniform(engine, 0.0, 1.0) > 0.5;

  // A copy pixel p maps to the original at crop_center + R(angle) * (p - center) * scale.
  const double scale = crop / size;
  const double cos_a = std::cos(angle) * scale;
  const double sin_a = std::sin(angle) * scale;
  const double crop_x = center + shift_x;
  const double crop_y = center + shift_y;
  JitterTransform transform;
  transform.affine = cv::Matx23d(cos_a, -sin_a, crop_x - cos_a * center + sin_a * center,
                                 sin_a, cos_a, crop_y - sin_a * center - cos_a * center);
  transform.mirror = mirror;
  return transform;
}

}  // namespace

TtaSpec ParseTtaSpec(const std::string& text) {
  TtaSpec spec;
  if (text.empty() || text == "none") return spec;

  bool seen_flip = false;
  bool seen_jitter = false;
  bool seen_seed = false;
  std::istringstream parts(text);
  std::string part;
  while (std::getline(parts, part, ',')) {
    const std::size_t colon = part.find(':');
    const std::string key = part.substr(0, colon);
    const std::string value = colon == std::string::npos ? "" : part.substr(colon + 1);

    if (key == "flip" && colon == std::string::npos) {
      if (seen_flip) ThrowBadPart(text, part, "is repeated");
      seen_flip = spec.flip = true;
    } else if (key == "jitter" && colon != std::string::npos) {
      if (seen_jitter) ThrowBadPart(text, part, "is repeated");
      if (!ParseWhole(value, spec.jitter) || spec.jitter < 1 || spec.jitter > kMaxJitter) {
        ThrowBadPart(text, part, fmt::format("needs a whole number of copies from 1 to {}", kMaxJitter));
      }
      seen_jitter = true;
    } else if (key == "seed" && colon != std::string::npos) {
      if (seen_seed) ThrowBadPart(text, part, "is repeated");
      if (!ParseWhole(value, spec.seed)) ThrowBadPart(text, part, "needs a non-negative whole number");
      seen_seed = true;
    } else {
      ThrowBadPart(text, part, "is not recognised");
    }
  }
  if (!text.empty() && text.back() == ',') ThrowBadPart(text, "", "is empty");
  if (seen_seed && !seen_jitter) {
    ThrowBadPart(text, "seed:" + std::to_string(spec.seed), "has no effect without jitter:N");
  }
  return spec;
}

std::string FormatTtaSpec(const TtaSpec& spec) {
  std::vector<std::string> parts;
  if (spec.flip) parts.push_back("flip");
  if (spec.jitter > 0) parts.push_back(fmt::format("jitter:{}", spec.jitter));
  if (spec.jitter > 0 && spec.seed != 0) parts.push_back(fmt::format("seed:{}", spec.seed));
  return parts.empty() ? std::string("none") : fmt::format("{}", fmt::join(parts, ","));
}

std::vector<cv::Mat> JitterChip(const cv::Mat& chip, int count, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::vector<cv::Mat> copies;
  copies.reserve(count);
  for (int i = 0; i < count; ++i) {
    const JitterTransform transform = DrawTransform(engine, chip.cols);
    cv::Mat copy;
    cv::warpAffine(chip, copy, cv::Mat(transform.affine), chip.size(),
                   cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    if (transform.mirror) cv::flip(copy, copy, 1);
    copies.push_back(copy);
  }
  return copies;
}

}  // namespace facespace
