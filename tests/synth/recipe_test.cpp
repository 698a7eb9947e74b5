#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "facespace/error.h"
#include "facespace/synth.h"

namespace facespace {
namespace {

// Returns the message ParseRecipe throws for `text`, or "" when it parses.
std::string ParseError(const std::string& text) {
  try {
    ParseRecipe(text);
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kInvalidArgument);
    return error.what();
  }
  return "";
}

TEST(Recipe, CanonicalForms) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"rotate(-15,15)", "rotate(-15,15)"},
      {"rotate(5)", "rotate(5)"},
      {"rotate(5,5)", "rotate(5)"},
      {"rotate", "rotate(-15,15)"},
      {"  gamma(0.6,1.6)   blur(0,1.5) ", "gamma(0.6,1.6) blur(0,1.5)"},
      {"p=0.5:occlude_lower(0.3,0.5)", "p=0.5:occlude_lower(0.3,0.5)"},
      {"p=1:hflip()", "hflip"},
      {"p=0.25:grayscale", "p=0.25:grayscale"},
      {"motion_blur(angle=10..20,length=3)", "motion_blur(length=3,angle=10..20)"},
      {"translate(dy=0.1)", "translate(dx=-0.05..0.05,dy=0.1)"},
      {"blur(1e-1,2.50)", "blur(0.1,2.5)"},
      {"rotate(deg=-3..3)", "rotate(-3,3)"},
      {"jpeg(.5e1,90)", "jpeg(5,90)"},
  };
  for (const auto& [text, canonical] : cases) {
    SCOPED_TRACE(text);
    const Recipe recipe = ParseRecipe(text);
    EXPECT_EQ(FormatRecipe(recipe), canonical);
    EXPECT_EQ(ParseRecipe(FormatRecipe(recipe)), recipe);
  }
}

TEST(Recipe, IssueExampleParses) {
  const Recipe recipe =
      ParseRecipe("rotate(-15,15) gamma(0.6,1.6) blur(0,1.5) p=0.5:occlude_lower(0.3,0.5)");
  ASSERT_EQ(recipe.steps.size(), 4u);
  EXPECT_EQ(recipe.steps[0].transform, "rotate");
  EXPECT_EQ(recipe.steps[0].ranges[0], (ParameterRange{-15, 15}));
  EXPECT_EQ(recipe.steps[3].probability, 0.5);
  EXPECT_EQ(recipe.steps[3].ranges[0], (ParameterRange{0.3, 0.5}));
}

TEST(Recipe, UnusualNumbersRoundTrip) {
  Recipe recipe;
  recipe.steps.push_back({"rotate", {{-0.1 - 0.2, 1.0 / 3.0}}, 0.1 + 0.2});
  recipe.steps.push_back({"noise", {{1e-7, 99.99999999999}}, 1.0});
  const std::string text = FormatRecipe(recipe);
  EXPECT_EQ(ParseRecipe(text), recipe) << text;
  EXPECT_EQ(FormatRecipe(ParseRecipe(text)), text);
}

TEST(Recipe, PresetsExpandAndRoundTrip) {
  ASSERT_EQ(Presets().size(), 5u);
  for (const Preset& preset : Presets()) {
    SCOPED_TRACE(preset.name);
    const Recipe expanded = ParseRecipe(preset.name);
    EXPECT_EQ(expanded, ParseRecipe(preset.recipe));
    EXPECT_FALSE(expanded.steps.empty());
    EXPECT_EQ(ParseRecipe(FormatRecipe(expanded)), expanded);
    EXPECT_FALSE(preset.description.empty());
  }
  const Recipe combined = ParseRecipe("pose p=0.5:jpeg(20,60)");
  EXPECT_EQ(combined.steps.size(), ParseRecipe("pose").steps.size() + 1);
  EXPECT_EQ(combined.steps.back().transform, "jpeg");
}

TEST(Recipe, EveryTransformHasADefaultStep) {
  for (const TransformSpec& spec : Transforms()) {
    SCOPED_TRACE(spec.name);
    const Recipe recipe = ParseRecipe(spec.name);
    ASSERT_EQ(recipe.steps.size(), 1u);
    EXPECT_EQ(recipe.steps[0].ranges.size(), spec.parameters.size());
    EXPECT_EQ(ParseRecipe(FormatRecipe(recipe)), recipe);
  }
}

TEST(RecipeError, UnknownNameWithColumnAndCaret) {
  EXPECT_EQ(ParseError("rotate(-15,15) gamam(1,2)"),
            "recipe: column 16: unknown transformation \"gamam\" (did you mean \"gamma\"?)\n"
            "  rotate(-15,15) gamam(1,2)\n"
            "                 ^");
}

TEST(RecipeError, ReversedRange) {
  EXPECT_EQ(ParseError("blur(2,1)"),
            "recipe: column 6: invalid range for blur sigma: low 2 is greater than high 1\n"
            "  blur(2,1)\n"
            "       ^");
}

TEST(RecipeError, Positions) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"blur(1,y)", "column 8: \"y\" is not a number"},
      {"blur(-x)", "column 6: \"-x\" is not a number"},
      {"blur(x,1)", "column 6: unknown parameter \"x\" of blur (expected sigma)"},
      {"blur(0,1", "column 9: expected ')' but found the end of the recipe"},
      {"rotate(-500,0)", "column 8: rotate deg = -500 is outside its limits [-180, 180]"},
      {"rotate(0,500)", "column 10: rotate deg = 500 is outside its limits [-180, 180]"},
      {"p=1.5:hflip", "column 3: probability 1.5 is outside [0, 1]"},
      {"p=0.5 hflip", "column 6: expected ':' after the probability but found ' '"},
      {"motion_blur(3,9)", "column 13: motion_blur has 2 parameters, so name them"},
      {"motion_blur(lenght=3)", "column 13: unknown parameter \"lenght\" of motion_blur"},
      {"motion_blur(length=3,length=4)", "column 22: parameter \"length\" is given twice"},
      {"motion_blur(length=9..3)", "column 20: invalid range for motion_blur length"},
      {"hflip(1)", "column 7: hflip takes no parameters"},
      {"rotate(1,2,3)", "column 11: rotate takes one value or a low,high range"},
      {"rotate(1)x", "column 10: unexpected 'x' after a step"},
      {"", "column 1: the recipe is empty"},
      {"   ", "column 4: the recipe is empty"},
      {"p=0.5:pose", "column 1: preset \"pose\" cannot take a probability"},
      {"blur(1e999)", "column 6: \"1e999\" is not a finite number"},
      {"(1,2)", "column 1: expected a transformation name but found '('"},
  };
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    const std::string message = ParseError(text);
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  }
}

TEST(RecipeError, CaretUnderColumn) {
  const std::string message = ParseError("gamma(0.6,1.6) blur(0,1.5) p=0.5:occlude_lowr(0.3)");
  const std::size_t column_at = message.find("column ");
  ASSERT_NE(column_at, std::string::npos);
  const int column = std::stoi(message.substr(column_at + 7));
  EXPECT_EQ(column, 34);
  const std::string caret_line = message.substr(message.rfind('\n') + 1);
  EXPECT_EQ(caret_line.size(), static_cast<std::size_t>(2 + column));
  EXPECT_EQ(caret_line.back(), '^');
}

TEST(RecipeAtStrength, ZeroIsIdentity) {
  for (const TransformSpec& spec : Transforms()) {
    if (spec.identity.empty()) continue;
    SCOPED_TRACE(spec.name);
    const Recipe recipe = RecipeAtStrength(spec.name, 0.0);
    ASSERT_EQ(recipe.steps.size(), 1u);
    const SampledRecipe sampled = SampleParameters(recipe, 1);
    for (std::size_t i = 0; i < spec.parameters.size(); ++i) {
      const ParameterRange& range = recipe.steps[0].ranges[i];
      if (range.low == range.high) {
        EXPECT_EQ(range.low, spec.identity[i]);
      }
    }
    EXPECT_EQ(sampled.steps[0].strength, 0.0);
  }
}

TEST(RecipeAtStrength, StrengthRoundTrips) {
  for (const TransformSpec& spec : Transforms()) {
    if (spec.parameters.empty()) continue;
    SCOPED_TRACE(spec.name);
    for (const double strength : {0.25, 0.6, 1.0}) {
      const SampledRecipe sampled = SampleParameters(RecipeAtStrength(spec.name, strength), 3);
      EXPECT_NEAR(sampled.steps[0].strength, strength, 1e-9);
    }
  }
}

TEST(RecipeAtStrength, RejectsBadInput) {
  EXPECT_THROW(RecipeAtStrength("twirl", 0.5), Error);
  EXPECT_THROW(RecipeAtStrength("rotate", 1.5), Error);
  EXPECT_THROW(RecipeAtStrength("rotate", -0.1), Error);
}

}  // namespace
}  // namespace facespace
