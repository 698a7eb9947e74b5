// Augmenting a real store: provenance, re-runs, loss accounting, images.
// Needs the imported model, the landmark model and a few LFW images; each
// test skips with a message when they are missing.
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "facespace/embedding.h"
#include "facespace/face.h"
#include "facespace/ingest.h"
#include "facespace/pipeline.h"
#include "facespace/store.h"
#include "facespace/synth.h"
#include "test_support.h"

namespace facespace {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kImages = {
    "Aaron_Peirsol/Aaron_Peirsol_0001.jpg", "Aaron_Peirsol/Aaron_Peirsol_0002.jpg",
    "Abel_Pacheco/Abel_Pacheco_0001.jpg", "Abel_Pacheco/Abel_Pacheco_0002.jpg"};

class AugmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FACESPACE_REQUIRE_TEST_DATA("lfw/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg");
    if (!fs::exists(DefaultModelPath())) {
      GTEST_SKIP() << "model not found: " << DefaultModelPath() << " (run scripts/setup.sh)";
    }
    if (!fs::exists(DefaultLandmarkModelPath())) {
      GTEST_SKIP() << "landmark model not found: " << DefaultLandmarkModelPath();
    }
    dataset_ = temp_.path() / "dataset";
    for (const std::string& image : kImages) {
      fs::create_directories((dataset_ / image).parent_path());
      fs::copy_file(testing::TestDataDir() / "lfw/images" / image, dataset_ / image);
    }
    PipelineOptions options;
    options.threads = 2;
    options.detect.fallback_box = true;
    pipeline_ = std::make_unique<Pipeline>(DefaultModelPath(), DefaultLandmarkModelPath(), options);

    StoreConfig config;
    config.model_id = pipeline_->model_info().model_id;
    store_ = std::make_unique<Store>(Store::Create(temp_.path() / "store", config));
    const IngestSummary ingest = Ingest(ScanDataset(dataset_), *pipeline_, *store_);
    ASSERT_EQ(ingest.faces, 4);
  }

  AugmentOptions Options(const std::string& recipe, std::uint64_t seed, int per_image) const {
    AugmentOptions options;
    options.synthesis.recipe = ParseRecipe(recipe);
    options.synthesis.seed = seed;
    options.synthesis.per_image = per_image;
    options.synthesis.jobs = 2;
    options.dataset_root = dataset_;
    return options;
  }

  std::vector<Sample> Synthetic() const {
    SampleFilter filter;
    filter.kind = SampleKind::kSynthetic;
    return store_->ListSamples(filter);
  }

  testing::TempDir temp_;
  fs::path dataset_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<Store> store_;
};

TEST_F(AugmentTest, EverySyntheticSampleHasProvenance) {
  // Strong rotations lose some faces, so both outcomes are exercised.
  const AugmentSummary summary =
      Augment(*store_, *pipeline_, Options("rotate(-60,60) p=0.5:blur(0,1.5)", 5, 3));
  EXPECT_EQ(summary.sources, 4);
  EXPECT_EQ(summary.generated + summary.lost, 12);
  EXPECT_EQ(summary.already_stored, 0);
  EXPECT_EQ(summary.recipe, "rotate(-60,60) p=0.5:blur(0,1.5)");

  const std::vector<Sample> synthetic = Synthetic();
  ASSERT_EQ(static_cast<std::int64_t>(synthetic.size()), summary.generated);
  std::set<std::pair<SampleId, int>> keys;
  for (const Sample& sample : synthetic) {
    ASSERT_TRUE(sample.synthetic.has_value());
    const SyntheticProvenance& provenance = *sample.synthetic;
    const std::optional<Sample> source = store_->GetSample(provenance.source_sample, false);
    ASSERT_TRUE(source.has_value());
    EXPECT_EQ(source->kind, SampleKind::kReal);
    EXPECT_EQ(source->identity_id, sample.identity_id);
    EXPECT_EQ(provenance.recipe, summary.recipe);
    EXPECT_EQ(provenance.seed, 5u);
    EXPECT_EQ(sample.run_id, summary.run);
    EXPECT_EQ(sample.embedding.size(), static_cast<std::size_t>(kEmbeddingDim));

    const nlohmann::json params = nlohmann::json::parse(provenance.params_json);
    EXPECT_EQ(params.at("run_seed").get<std::uint64_t>(), 5u);
    EXPECT_EQ(params.at("target").get<std::string>(), "image");
    const SampledRecipe sampled = ParseSampledRecipeJson(provenance.params_json);
    ASSERT_EQ(sampled.steps.size(), 2u);
    EXPECT_TRUE(sampled.steps[0].applied);
    EXPECT_GE(sampled.steps[0].values[0], -60);
    EXPECT_LT(sampled.steps[0].values[0], 60);
    keys.insert({provenance.source_sample, params.at("variant").get<int>()});
  }
  EXPECT_EQ(keys.size(), synthetic.size());

  std::int64_t lost_rows = 0;
  for (const Failure& failure : store_->ListFailures(summary.run)) {
    EXPECT_EQ(failure.stage, "synth");
    EXPECT_NE(failure.reason.find("face lost"), std::string::npos) << failure.reason;
    ++lost_rows;
  }
  EXPECT_EQ(lost_rows, summary.lost);
}

TEST_F(AugmentTest, RerunAddsNothingAndNewSeedAddsASet) {
  const AugmentSummary first = Augment(*store_, *pipeline_, Options("rotate(-10,10)", 1, 2));
  EXPECT_EQ(first.generated + first.lost, 8);

  const AugmentSummary again = Augment(*store_, *pipeline_, Options("rotate(-10,10)", 1, 2));
  EXPECT_EQ(again.generated, 0);
  EXPECT_EQ(again.lost, 0);
  EXPECT_EQ(again.already_stored, 8);
  EXPECT_EQ(Synthetic().size(), static_cast<std::size_t>(first.generated));

  const AugmentSummary more = Augment(*store_, *pipeline_, Options("rotate(-10,10)", 1, 3));
  EXPECT_EQ(more.generated + more.lost, 4);

  const AugmentSummary other_seed = Augment(*store_, *pipeline_, Options("rotate(-10,10)", 2, 2));
  EXPECT_EQ(other_seed.generated + other_seed.lost, 8);
  std::set<std::uint64_t> seeds;
  for (const Sample& sample : Synthetic()) seeds.insert(sample.synthetic->seed);
  EXPECT_EQ(seeds, (std::set<std::uint64_t>{1, 2}));
}

TEST_F(AugmentTest, StoredFailureTableMatchesTheRun) {
  const AugmentSummary summary =
      Augment(*store_, *pipeline_, Options("rotate(-70,70) p=0.5:occlude_eyes(0.3,1)", 9, 3));
  const FailureTable stored = StoredFailureTable(*store_, summary.run);
  EXPECT_EQ(stored.samples, summary.failures.samples);
  EXPECT_EQ(stored.lost, summary.failures.lost);
  EXPECT_EQ(stored.ToJson(), summary.failures.ToJson());
  EXPECT_EQ(summary.failures.samples, 12);
  EXPECT_EQ(summary.failures.lost, summary.lost);
}

TEST_F(AugmentTest, ChipModeNeverLosesAFace) {
  AugmentOptions options = Options("occlusion blur(0.5,1)", 3, 2);
  options.synthesis.target = ApplyTarget::kChip;
  options.identities = {"Abel_Pacheco"};
  const AugmentSummary summary = Augment(*store_, *pipeline_, options);
  EXPECT_EQ(summary.sources, 2);
  EXPECT_EQ(summary.generated, 4);
  EXPECT_EQ(summary.lost, 0);
  for (const Sample& sample : Synthetic()) {
    EXPECT_EQ(sample.identity, "Abel_Pacheco");
    EXPECT_EQ(nlohmann::json::parse(sample.synthetic->params_json).at("target"), "chip");
  }
}

TEST_F(AugmentTest, UnknownIdentityIsReported) {
  AugmentOptions options = Options("rotate", 1, 1);
  options.identities = {"Nobody_Here"};
  try {
    Augment(*store_, *pipeline_, options);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kNotFound);
    EXPECT_NE(std::string(error.what()).find("Nobody_Here"), std::string::npos);
  }
}

TEST_F(AugmentTest, SavesImagesAndContactSheets) {
  AugmentOptions options = Options("pose", 4, 2);
  options.save_images = temp_.path() / "images";
  options.identities = {"Aaron_Peirsol"};
  Augment(*store_, *pipeline_, options);
  const fs::path folder = options.save_images / "Aaron_Peirsol";
  EXPECT_TRUE(fs::exists(folder / "contact_sheet_001.png"));
  int pictures = 0;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("Aaron_Peirsol_000", 0) == 0) ++pictures;
  }
  EXPECT_EQ(pictures, 4);
}

TEST_F(AugmentTest, PixelsDoNotDependOnJobs) {
  std::vector<SynthesisSource> sources;
  SampleFilter filter;
  filter.kind = SampleKind::kReal;
  for (const Sample& sample : store_->ListSamples(filter)) {
    SynthesisSource source;
    source.sample_id = sample.id;
    source.identity = sample.identity;
    source.image_path = dataset_ / sample.image_path;
    source.box = store_->FacesOfImage(*sample.image_id).front().box;
    sources.push_back(source);
  }
  SynthesisOptions options;
  options.recipe = ParseRecipe("mixed quality");
  options.per_image = 3;
  options.seed = 11;
  options.keep_images = true;
  options.jobs = 1;
  const std::vector<SyntheticSample> serial = Synthesize(*pipeline_, sources, options);
  options.jobs = 3;
  const std::vector<SyntheticSample> parallel = Synthesize(*pipeline_, sources, options);
  ASSERT_EQ(serial.size(), parallel.size());
  for (std::size_t i = 0; i < serial.size(); ++i) {
    EXPECT_EQ(serial[i].sampled, parallel[i].sampled);
    EXPECT_EQ(cv::norm(serial[i].image, parallel[i].image, cv::NORM_INF), 0.0);
    EXPECT_EQ(serial[i].face_found, parallel[i].face_found);
  }
}

}  // namespace
}  // namespace facespace
