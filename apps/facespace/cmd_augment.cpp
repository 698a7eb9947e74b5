// facespace augment and facespace recipe: synthetic samples from recipes.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "progress.h"
#include "facespace/embedding.h"
#include "facespace/error.h"
#include "facespace/pipeline.h"
#include "facespace/store.h"
#include "facespace/synth.h"

namespace facespace::cli {
namespace {

namespace fs = std::filesystem;

// Whether the store's last ingest embedded fallback boxes, so transformed
// images of such faces may fall back the same way.
bool IngestUsedFallbackBox(const Store& store) {
  const std::vector<Run> runs = store.ListRuns();
  for (auto run = runs.rbegin(); run != runs.rend(); ++run) {
    if (run->command != "ingest") continue;
    const nlohmann::json params = nlohmann::json::parse(run->params_json, nullptr, false);
    if (params.is_object() && params.contains("fallback_box") && params["fallback_box"].is_boolean()) {
      return params["fallback_box"].get<bool>();
    }
  }
  return false;
}

struct AugmentArgs {
  std::string store;
  std::string recipe;
  int per_image = 5;
  std::uint64_t seed = 1;
  std::string on = "image";
  std::vector<std::string> identities;
  std::string save_images;
  std::string dataset;
  int jobs = 0;
};

void RunAugment(const AugmentArgs& args, CommandContext& context) {
  AugmentOptions options;
  options.synthesis.recipe = ParseRecipe(args.recipe);
  options.synthesis.per_image = args.per_image;
  options.synthesis.seed = args.seed;
  options.synthesis.target = ParseApplyTarget(args.on);
  options.synthesis.jobs = args.jobs;
  options.synthesis.landmark_model =
      context.landmark_path.empty() ? DefaultLandmarkModelPath() : fs::path(context.landmark_path);
  options.identities = args.identities;
  options.save_images = args.save_images;
  options.dataset_root = args.dataset;

  const fs::path model = context.model_path.empty() ? DefaultModelPath() : fs::path(context.model_path);
  OpenOptions open;
  open.writable = true;
  open.expect_model_id = ReadModelInfo(model).model_id;
  open.expect_dimension = kEmbeddingDim;
  Store store = Store::Open(args.store, open);

  PipelineOptions pipeline_options;
  pipeline_options.threads = args.jobs;
  pipeline_options.detect.fallback_box = IngestUsedFallbackBox(store);
  const Pipeline pipeline(model, options.synthesis.landmark_model, pipeline_options);

  ProgressBar progress("augment", "source faces", context.quiet);
  options.on_progress = [&progress](std::int64_t done, std::int64_t total) {
    progress.Update(done, total);
  };
  const AugmentSummary summary = Augment(store, pipeline, options);
  progress.Finish("");

  const SynthesisTimings& time = summary.timings;
  std::cout << fmt::format(
      "augment run {}: {} source faces, {} synthetic samples added, {} lost, {} already stored\n"
      "recipe: {}\nseed {}, {} per image, on {}\n",
      summary.run, summary.sources, summary.generated, summary.lost, summary.already_stored,
      summary.recipe, args.seed, args.per_image, args.on);
  std::cout << fmt::format(
      "time {:.1f} s: reading {:.1f} s, transforming {:.1f} s, detecting {:.1f} s (thread "
      "seconds), embedding {:.1f} s\n",
      time.wall_seconds, time.read_seconds, time.transform_seconds, time.detect_seconds,
      time.embed_seconds);
  if (summary.failures.samples > 0) std::cout << "lost faces by transformation and strength:\n"
                                              << summary.failures.ToText();
  if (!args.save_images.empty()) std::cout << "images and contact sheets: " << args.save_images << "\n";
}

// facespace recipe: lists transformations and presets, or checks a recipe.
struct RecipeArgs {
  std::string recipe;
  std::uint64_t seed = 1;
  int samples = 0;
};

void RunRecipe(const RecipeArgs& args) {
  if (args.recipe.empty()) {
    std::cout << "transformations (parameter: limits, default range, unit):\n";
    for (const TransformSpec& spec : Transforms()) {
      std::cout << fmt::format("  {:<13} [{}] {}\n", spec.name, TransformFamilyName(spec.family),
                               spec.description);
      for (const ParameterSpec& parameter : spec.parameters) {
        std::cout << fmt::format("      {}: {:g}..{:g}, default {:g}..{:g}, {}\n", parameter.name,
                                 parameter.min, parameter.max, parameter.default_low,
                                 parameter.default_high, parameter.unit);
      }
    }
    std::cout << "presets:\n";
    for (const Preset& preset : Presets()) {
      std::cout << fmt::format("  {:<10} {}\n      {}\n", preset.name, preset.description,
                               preset.recipe);
    }
    return;
  }
  const Recipe recipe = ParseRecipe(args.recipe);
  std::cout << FormatRecipe(recipe) << "\n";
  for (int i = 0; i < args.samples; ++i) {
    std::cout << SampledRecipeJson(SampleParameters(recipe, DeriveSampleSeed(args.seed, "", i)))
              << "\n";
  }
}

}  // namespace

void AddAugmentCommands(CLI::App& app, CommandContext& context) {
  auto augment_args = std::make_shared<AugmentArgs>();
  CLI::App* augment = app.add_subcommand(
      "augment", "Generate synthetic samples from a store's real faces and store them with provenance");
  augment->add_option("--store", augment_args->store, "Store folder (made by ingest)")->required();
  augment->add_option("--recipe", augment_args->recipe,
                      "Recipe or preset, e.g. \"rotate(-15,15) p=0.5:blur(0,1.5)\" or \"pose\" "
                      "(see `facespace recipe`)")
      ->required();
  augment->add_option("--per-image", augment_args->per_image, "Synthetic samples per real face")
      ->default_val(5)
      ->check(CLI::Range(1, 10000));
  augment->add_option("--seed", augment_args->seed, "Run seed; each sample's seed derives from it")
      ->default_val(1);
  augment->add_option("--on", augment_args->on,
                      "image: transform the photograph and detect the face again; chip: transform "
                      "the aligned 150x150 chip")
      ->default_val("image")
      ->check(CLI::IsMember({"image", "chip"}));
  augment->add_option("--identities", augment_args->identities,
                      "Only these identities (comma-separated names)")
      ->delimiter(',');
  augment->add_option("--save-images", augment_args->save_images,
                      "Folder for the synthetic PNGs and a contact sheet per identity");
  augment->add_option("--dataset", augment_args->dataset,
                      "Folder the store's image paths are relative to (default: as ingest recorded)");
  augment->add_option("--jobs", augment_args->jobs, "Worker threads (0: all cores)")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
  augment->callback([augment_args, &context] { RunAugment(*augment_args, context); });

  auto recipe_args = std::make_shared<RecipeArgs>();
  CLI::App* recipe = app.add_subcommand(
      "recipe", "List transformations and presets, or print a recipe's canonical form");
  recipe->add_option("recipe", recipe_args->recipe, "Recipe to check (omit to list everything)");
  recipe->add_option("--samples", recipe_args->samples,
                     "Also print this many sampled parameter sets as JSON")
      ->default_val(0)
      ->check(CLI::Range(0, 1000));
  recipe->add_option("--seed", recipe_args->seed, "Seed for --samples")->default_val(1);
  recipe->callback([recipe_args] { RunRecipe(*recipe_args); });
}

}  // namespace facespace::cli
