// Recipe text: parsing with column-accurate errors, the canonical form and presets.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "facespace/error.h"
#include "facespace/synth.h"
#include "synth/transforms.h"

namespace facespace {
namespace {

// Returns the Levenshtein distance between two short names.
std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Returns " (did you mean "x"?)" for the closest candidate within two edits, or "".
std::string Suggestion(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = 3;
  for (const std::string& candidate : candidates) {
    const std::size_t distance = EditDistance(name, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", best);
}

std::string FormatNumber(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

const Preset* FindPreset(std::string_view name) {
  for (const Preset& preset : Presets()) {
    if (preset.name == name) return &preset;
  }
  return nullptr;
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

class RecipeParser {
 public:
  explicit RecipeParser(std::string_view text) : text_(text) {}

  Recipe Parse() {
    Recipe recipe;
    SkipSpaces();
    if (AtEnd()) Fail(pos_, "the recipe is empty; give at least one step or preset");
    while (!AtEnd()) {
      ParseItem(recipe);
      if (!AtEnd() && !IsSpace(Peek())) {
        Fail(pos_, fmt::format("unexpected '{}' after a step; separate steps with spaces", Peek()));
      }
      SkipSpaces();
    }
    return recipe;
  }

 private:
  [[noreturn]] void Fail(std::size_t position, const std::string& cause) const {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("recipe: column {}: {}\n  {}\n  {}^", position + 1, cause, text_,
                            std::string(position, ' ')));
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  void SkipSpaces() {
    while (!AtEnd() && IsSpace(Peek())) ++pos_;
  }

  void Expect(char c, std::string_view what) {
    if (Peek() != c) {
      const std::string found = AtEnd() ? "the end of the recipe" : fmt::format("'{}'", Peek());
      Fail(pos_, fmt::format("expected {} but found {}", what, found));
    }
    ++pos_;
  }

  std::string_view ParseName() {
    const std::size_t start = pos_;
    while (!AtEnd() && IsNameChar(Peek())) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  // Reads [-]digits[.digits][e[+-]digits]; a '.' not followed by a digit ends
  // the number, so "0..1" reads as 0 then "..".
  double ParseNumber() {
    const std::size_t start = pos_;
    auto digit_at = [&](std::size_t i) { return i < text_.size() && text_[i] >= '0' && text_[i] <= '9'; };
    if (Peek() == '-') ++pos_;

    bool digits = false;
    while (digit_at(pos_)) {
      ++pos_;
      digits = true;
    }
    if (Peek() == '.' && digit_at(pos_ + 1)) {
      ++pos_;
      while (digit_at(pos_)) ++pos_;
      digits = true;
    }

    if (digits && (Peek() == 'e' || Peek() == 'E')) {
      std::size_t exponent = pos_ + 1;
      if (exponent < text_.size() && (text_[exponent] == '+' || text_[exponent] == '-')) ++exponent;
      if (digit_at(exponent)) {
        pos_ = exponent;
        while (digit_at(pos_)) ++pos_;
      }
    }

    if (!digits) {
      std::size_t end = start;
      while (end < text_.size() && !IsSpace(text_[end]) && text_[end] != ',' &&
             text_[end] != ')') {
        ++end;
      }
      const std::string_view found = text_.substr(start, end - start);
      Fail(start, found.empty() ? "expected a number"
                                : fmt::format("\"{}\" is not a number", found));
    }

    double value = 0;
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    const auto result = std::from_chars(first, last, value);
    if (result.ec != std::errc() || result.ptr != last || !std::isfinite(value)) {
      Fail(start, fmt::format("\"{}\" is not a finite number", text_.substr(start, pos_ - start)));
    }
    return value;
  }

  // Reads number [".." number] and checks it against the parameter's limits.
  ParameterRange ParseRange(const TransformSpec& spec, const ParameterSpec& parameter) {
    const std::size_t start = pos_;
    ParameterRange range;
    range.low = ParseNumber();
    range.high = range.low;
    std::size_t high_start = start;
    if (text_.substr(pos_, 2) == "..") {
      pos_ += 2;
      high_start = pos_;
      range.high = ParseNumber();
    }
    CheckRange(spec, parameter, range, start, high_start);
    return range;
  }

  void CheckRange(const TransformSpec& spec, const ParameterSpec& parameter,
                  const ParameterRange& range, std::size_t low_start, std::size_t high_start) {
    if (range.low > range.high) {
      Fail(low_start, fmt::format("invalid range for {} {}: low {} is greater than high {}",
                                  spec.name, parameter.name, FormatNumber(range.low),
                                  FormatNumber(range.high)));
    }
    auto check = [&](double value, std::size_t at) {
      if (value < parameter.min || value > parameter.max) {
        Fail(at, fmt::format("{} {} = {} is outside its limits [{}, {}]", spec.name,
                             parameter.name, FormatNumber(value), FormatNumber(parameter.min),
                             FormatNumber(parameter.max)));
      }
    };
    check(range.low, low_start);
    check(range.high, high_start);
  }

  void ParseItem(Recipe& recipe) {
    const std::size_t item_start = pos_;
    std::optional<double> probability;
    std::size_t probability_start = 0;
    if (text_.substr(pos_, 2) == "p=") {
      pos_ += 2;
      probability_start = pos_;
      probability = ParseNumber();
      if (*probability < 0 || *probability > 1) {
        Fail(probability_start, fmt::format("probability {} is outside [0, 1]",
                                            FormatNumber(*probability)));
      }
      Expect(':', "':' after the probability");
    }

    const std::size_t name_start = pos_;
    const std::string_view name = ParseName();
    if (name.empty()) {
      Fail(pos_, AtEnd() ? "expected a transformation name"
                         : fmt::format("expected a transformation name but found '{}'", Peek()));
    }

    if (const Preset* preset = FindPreset(name)) {
      if (probability) Fail(item_start, fmt::format("preset \"{}\" cannot take a probability", name));
      if (Peek() == '(') Fail(pos_, fmt::format("preset \"{}\" takes no arguments", name));
      const Recipe expanded = ParseRecipe(preset->recipe);
      recipe.steps.insert(recipe.steps.end(), expanded.steps.begin(), expanded.steps.end());
      return;
    }

    const TransformSpec* spec = FindTransform(name);
    if (!spec) {
      std::vector<std::string> candidates;
      for (const TransformSpec& transform : Transforms()) candidates.push_back(transform.name);
      for (const Preset& preset : Presets()) candidates.push_back(preset.name);
      Fail(name_start, fmt::format("unknown transformation \"{}\"{}", name,
                                   Suggestion(name, candidates)));
    }

    RecipeStep step;
    step.transform = spec->name;
    step.probability = probability.value_or(1.0);
    for (const ParameterSpec& parameter : spec->parameters) {
      step.ranges.push_back({parameter.default_low, parameter.default_high});
    }
    if (Peek() == '(') {
      ++pos_;
      ParseArguments(*spec, step);
      Expect(')', "')'");
    }
    recipe.steps.push_back(std::move(step));
  }

  void ParseArguments(const TransformSpec& spec, RecipeStep& step) {
    if (Peek() == ')') return;
    if (spec.parameters.empty()) {
      Fail(pos_, fmt::format("{} takes no parameters", spec.name));
    }
    const bool named = IsNameChar(Peek()) && !(Peek() >= '0' && Peek() <= '9');
    if (named) {
      ParseNamedArguments(spec, step);
    } else {
      ParsePositionalArguments(spec, step);
    }
  }

  // One parameter: "v" fixes it, "low,high" gives its range.
  void ParsePositionalArguments(const TransformSpec& spec, RecipeStep& step) {
    if (spec.parameters.size() != 1) {
      std::string example;
      for (const ParameterSpec& parameter : spec.parameters) {
        example += fmt::format("{}{}={}..{}", example.empty() ? "" : ",", parameter.name,
                               FormatNumber(parameter.default_low),
                               FormatNumber(parameter.default_high));
      }
      Fail(pos_, fmt::format("{} has {} parameters, so name them, e.g. {}({})", spec.name,
                             spec.parameters.size(), spec.name, example));
    }
    const ParameterSpec& parameter = spec.parameters[0];
    const std::size_t low_start = pos_;
    ParameterRange range;
    range.low = ParseNumber();
    range.high = range.low;
    std::size_t high_start = low_start;
    if (Peek() == ',') {
      ++pos_;
      high_start = pos_;
      range.high = ParseNumber();
    }
    if (Peek() == ',') {
      Fail(pos_, fmt::format("{} takes one value or a low,high range", spec.name));
    }
    CheckRange(spec, parameter, range, low_start, high_start);
    step.ranges[0] = range;
  }

  void ParseNamedArguments(const TransformSpec& spec, RecipeStep& step) {
    std::vector<bool> seen(spec.parameters.size(), false);
    while (true) {
      const std::size_t name_start = pos_;
      const std::string_view name = ParseName();
      std::size_t index = spec.parameters.size();
      for (std::size_t i = 0; i < spec.parameters.size(); ++i) {
        if (spec.parameters[i].name == name) index = i;
      }
      if (index == spec.parameters.size()) {
        std::vector<std::string> names;
        for (const ParameterSpec& parameter : spec.parameters) names.push_back(parameter.name);
        Fail(name_start, fmt::format("unknown parameter \"{}\" of {} (expected {}){}", name,
                                     spec.name, fmt::join(names, ", "), Suggestion(name, names)));
      }
      if (seen[index]) Fail(name_start, fmt::format("parameter \"{}\" is given twice", name));
      seen[index] = true;
      Expect('=', fmt::format("'=' after \"{}\"", name));
      step.ranges[index] = ParseRange(spec, spec.parameters[index]);
      if (Peek() != ',') break;
      ++pos_;
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

std::string FormatRange(const ParameterRange& range, std::string_view separator) {
  if (range.low == range.high) return FormatNumber(range.low);
  return FormatNumber(range.low) + std::string(separator) + FormatNumber(range.high);
}

}  // namespace

std::string_view TransformFamilyName(TransformFamily family) {
  switch (family) {
    case TransformFamily::kGeometry: return "geometry";
    case TransformFamily::kLight: return "light";
    case TransformFamily::kQuality: return "quality";
    case TransformFamily::kOcclusion: return "occlusion";
  }
  return "unknown";
}

TransformFamily ParseTransformFamily(std::string_view name) {
  for (const TransformFamily family : {TransformFamily::kGeometry, TransformFamily::kLight,
                                       TransformFamily::kQuality, TransformFamily::kOcclusion}) {
    if (TransformFamilyName(family) == name) return family;
  }
  throw Error(ErrorCategory::kInvalidArgument,
              fmt::format("\"{}\": unknown transformation family (expected geometry, light, "
                          "quality or occlusion)",
                          name));
}

const std::vector<TransformSpec>& Transforms() {
  static const std::vector<TransformSpec> specs = [] {
    std::vector<TransformSpec> result;
    for (const synth::TransformImpl& transform : synth::Registry()) {
      result.push_back(transform.spec);
    }
    return result;
  }();
  return specs;
}

const TransformSpec* FindTransform(std::string_view name) {
  for (const TransformSpec& spec : Transforms()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

Recipe ParseRecipe(std::string_view text) { return RecipeParser(text).Parse(); }

std::string FormatRecipe(const Recipe& recipe) {
  std::string text;
  for (const RecipeStep& step : recipe.steps) {
    const TransformSpec* spec = FindTransform(step.transform);
    if (!spec || spec->parameters.size() != step.ranges.size()) {
      throw Error(ErrorCategory::kInvalidArgument,
                  fmt::format("recipe step \"{}\": unknown transformation or wrong number of "
                              "parameters",
                              step.transform));
    }
    if (!text.empty()) text += ' ';
    if (step.probability < 1) text += "p=" + FormatNumber(step.probability) + ":";
    text += step.transform;
    if (spec->parameters.size() == 1) {
      text += "(" + FormatRange(step.ranges[0], ",") + ")";
    } else if (!spec->parameters.empty()) {
      text += '(';
      for (std::size_t i = 0; i < spec->parameters.size(); ++i) {
        if (i > 0) text += ',';
        text += spec->parameters[i].name + "=" + FormatRange(step.ranges[i], "..");
      }
      text += ')';
    }
  }
  return text;
}

const std::vector<Preset>& Presets() {
  static const std::vector<Preset> presets = {
      {"pose",
       "rotate(-15,15) p=0.5:hflip perspective(yaw=-12..12,pitch=-8..8) scale(0.9,1.1) "
       "translate(dx=-0.05..0.05,dy=-0.05..0.05)",
       "head pose and framing: in-plane tilt, mirror, a few degrees of yaw and pitch, zoom, shift"},
      {"light",
       "brightness(-0.25,0.25) contrast(0.7,1.3) gamma(0.6,1.6) temperature(-0.5,0.5) "
       "saturation(0.6,1.4) p=0.5:shade(amount=0..0.6,angle=-180..180) p=0.1:grayscale",
       "exposure, contrast, white balance, colourfulness and side lighting"},
      {"quality",
       "p=0.5:blur(0,2) p=0.3:motion_blur(length=0..9,angle=0..180) p=0.5:noise(0,12) "
       "p=0.5:jpeg(15,80) p=0.5:downscale(0.3,1)",
       "camera and transmission defects: focus, shake, sensor noise, compression, low resolution"},
      {"occlusion",
       "p=0.4:occlude(size=0.2..0.45,x=0..1,y=0..1,gray=0..1) p=0.3:occlude_eyes(0.35,0.6) "
       "p=0.3:occlude_lower(0.3,0.7)",
       "things in front of the face: a random patch, dark glasses, a mask"},
      {"mixed",
       "rotate(-10,10) p=0.5:hflip brightness(-0.15,0.15) gamma(0.7,1.4) p=0.3:blur(0,1.5) "
       "p=0.3:jpeg(30,90) p=0.2:occlude(size=0.15..0.35,x=0..1,y=0..1,gray=0..1)",
       "a milder mix of all four families, for general augmentation"},
  };
  return presets;
}

Recipe RecipeAtStrength(std::string_view transform, double strength) {
  const synth::TransformImpl* impl = synth::FindImpl(transform);
  if (!impl) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("\"{}\": unknown transformation", transform));
  }
  if (!(strength >= 0 && strength <= 1)) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("strength {}: outside [0, 1]", FormatNumber(strength)));
  }
  RecipeStep step;
  step.transform = impl->spec.name;
  const std::vector<double> values = impl->at_strength(strength);
  for (std::size_t i = 0; i < impl->spec.parameters.size(); ++i) {
    const ParameterSpec& parameter = impl->spec.parameters[i];
    if (std::isnan(values[i])) {
      step.ranges.push_back({parameter.default_low, parameter.default_high});
    } else {
      const double value = std::clamp(values[i], parameter.min, parameter.max);
      step.ranges.push_back({value, value});
    }
  }
  // A step without parameters (hflip, grayscale) is all or nothing.
  if (impl->spec.parameters.empty()) step.probability = strength > 0 ? 1.0 : 0.0;
  return Recipe{{step}};
}

}  // namespace facespace
