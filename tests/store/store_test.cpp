#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "facespace/error.h"
#include "facespace/store.h"
#include "test_support.h"

namespace facespace {
namespace {

using testing::TempDir;

constexpr int kDimension = 16;

StoreConfig TestConfig(const std::string& factory = "Flat") {
  StoreConfig config;
  config.model_id = "test-model";
  config.dimension = kDimension;
  config.index.factory = factory;
  return config;
}

std::vector<float> RandomVector(std::mt19937& generator) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> vector(kDimension);
  for (float& value : vector) value = normal(generator);
  return vector;
}

// Adds one real sample of `identity` with a fresh image and face.
SampleId AddReal(Store& store, RunId run, const std::string& identity, std::span<const float> embedding,
                 int image_number) {
  const IdentityId identity_id = store.AddIdentity(identity);
  ImageRecord image;
  image.identity_id = identity_id;
  image.relative_path = identity + "/" + std::to_string(image_number) + ".jpg";
  image.sha256 = "hash-" + identity + "-" + std::to_string(image_number);
  image.size_bytes = 1000;
  image.width = 250;
  image.height = 250;
  FaceRecord face;
  face.image_id = store.AddImage(image);
  face.box = {10, 20, 110, 120};
  face.landmarks.assign(136, 1.5f);
  face.detector_score = 0.9;
  const FaceId face_id = store.AddFace(face);
  return store.AddRealSample(identity_id, face_id, embedding, run);
}

std::string ErrorText(const std::function<void()>& action, ErrorCategory expected) {
  try {
    action();
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), expected) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "expected a facespace::Error";
  return {};
}

void Contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in: " << text;
}

void FlipByte(const std::filesystem::path& file, std::uintmax_t offset) {
  std::fstream stream(file, std::ios::binary | std::ios::in | std::ios::out);
  stream.seekg(static_cast<std::streamoff>(offset));
  char byte = 0;
  stream.read(&byte, 1);
  byte = static_cast<char>(byte ^ 0x5a);
  stream.seekp(static_cast<std::streamoff>(offset));
  stream.write(&byte, 1);
}

OpenOptions Writable() {
  OpenOptions options;
  options.writable = true;
  return options;
}

TEST(Store, CreateThenOpenKeepsConfig) {
  TempDir dir;
  StoreConfig config = TestConfig("HNSW32");
  config.index.metric = Metric::kCosine;
  { Store::Create(dir.path() / "s", config); }
  const Store store = Store::Open(dir.path() / "s");
  EXPECT_EQ(store.config().model_id, "test-model");
  EXPECT_EQ(store.config().dimension, kDimension);
  EXPECT_EQ(store.config().index.factory, "HNSW32");
  EXPECT_EQ(store.metric(), Metric::kCosine);
  EXPECT_FALSE(store.writable());
}

TEST(Store, CreateOverExistingStoreRejected) {
  TempDir dir;
  { Store::Create(dir.path(), TestConfig()); }
  ErrorText([&] { Store::Create(dir.path(), TestConfig()); }, ErrorCategory::kInvalidArgument);
}

TEST(Store, OpenMissingStoreNotFound) {
  TempDir dir;
  const std::string text = ErrorText([&] { Store::Open(dir.path()); }, ErrorCategory::kNotFound);
  Contains(text, "not a facespace store");
}

TEST(Store, MismatchedModelNamesBothSides) {
  TempDir dir;
  { Store::Create(dir.path(), TestConfig()); }
  OpenOptions options;
  options.expect_model_id = "other-model";
  const std::string model = ErrorText([&] { Store::Open(dir.path(), options); }, ErrorCategory::kMismatch);
  Contains(model, "'test-model'");
  Contains(model, "'other-model'");

  options = {};
  options.expect_dimension = 128;
  const std::string dimension = ErrorText([&] { Store::Open(dir.path(), options); }, ErrorCategory::kMismatch);
  Contains(dimension, "16-dimensional");
  Contains(dimension, "128-dimensional");

  options = {};
  options.expect_metric = Metric::kCosine;
  const std::string metric = ErrorText([&] { Store::Open(dir.path(), options); }, ErrorCategory::kMismatch);
  Contains(metric, "l2");
  Contains(metric, "cosine");
}

TEST(Store, NanAndZeroEmbeddingsRejectedBeforeIndex) {
  TempDir dir;
  Store store = Store::Create(dir.path(), TestConfig());
  const RunId run = store.BeginRun("test", "{}");
  std::vector<float> embedding(kDimension, 0.25f);
  embedding[5] = std::numeric_limits<float>::quiet_NaN();
  Contains(ErrorText([&] { AddReal(store, run, "a", embedding, 1); }, ErrorCategory::kInvalidArgument), "NaN");
  store.Rollback();

  std::fill(embedding.begin(), embedding.end(), 0.0f);
  Contains(ErrorText([&] { AddReal(store, run, "a", embedding, 1); }, ErrorCategory::kInvalidArgument), "zero");
  store.Rollback();

  embedding.resize(kDimension - 1, 1.0f);
  ErrorText([&] { AddReal(store, run, "a", embedding, 1); }, ErrorCategory::kInvalidArgument);
  store.Rollback();
  EXPECT_EQ(store.index().size(), 0u);
  EXPECT_EQ(store.Info().real_samples, 0);
}

TEST(Store, SearchEmptyStoreAndLargeK) {
  TempDir dir;
  Store store = Store::Create(dir.path(), TestConfig());
  std::mt19937 generator(1);
  const auto query = RandomVector(generator);
  EXPECT_TRUE(store.Search(query, 5).empty());

  const RunId run = store.BeginRun("test", "{}");
  const auto a = RandomVector(generator);
  const auto b = RandomVector(generator);
  const SampleId first = AddReal(store, run, "alice", a, 1);
  AddReal(store, run, "bob", b, 1);
  store.Commit();
  const auto neighbors = store.Search(a, 100);
  ASSERT_EQ(neighbors.size(), 2u);
  EXPECT_EQ(neighbors[0].sample_id, first);
  EXPECT_EQ(neighbors[0].identity, "alice");
  EXPECT_NEAR(neighbors[0].distance, 0.0f, 1e-5);
  EXPECT_EQ(neighbors[1].identity, "bob");
}

TEST(Store, IdsAfterRemovalNeverCollide) {
  TempDir dir;
  std::mt19937 generator(2);
  std::vector<SampleId> first_ids;
  {
    Store store = Store::Create(dir.path(), TestConfig());
    const RunId run = store.BeginRun("test", "{}");
    for (int i = 0; i < 4; ++i) first_ids.push_back(AddReal(store, run, "p", RandomVector(generator), i));
    store.Commit();
    EXPECT_EQ(store.RemoveSample(first_ids.back()), 1u);
    EXPECT_EQ(store.RemoveSample(first_ids[1]), 1u);
  }
  Store store = Store::Open(dir.path(), Writable());
  const RunId run = store.BeginRun("test", "{}");
  const SampleId next = AddReal(store, run, "q", RandomVector(generator), 9);
  store.Commit();
  EXPECT_GT(next, first_ids.back());
  const auto ids = store.index().Ids();
  EXPECT_EQ(ids, (std::vector<SampleId>{first_ids[0], first_ids[2], next}));
  EXPECT_TRUE(store.Check().ok);
}

TEST(Store, RemoveIdentityTakesSyntheticDescendants) {
  TempDir dir;
  std::mt19937 generator(3);
  Store store = Store::Create(dir.path(), TestConfig("HNSW32"));
  const RunId run = store.BeginRun("test", "{}");
  const SampleId real = AddReal(store, run, "carol", RandomVector(generator), 1);
  const SampleId other = AddReal(store, run, "dave", RandomVector(generator), 1);
  SyntheticProvenance provenance{real, "blur:sigma=2", R"({"sigma":2.0})", 42};
  const IdentityId carol = store.FindIdentity("carol")->id;
  const SampleId synthetic = store.AddSyntheticSample(carol, provenance, RandomVector(generator), run);
  provenance.source_sample = synthetic;
  store.AddSyntheticSample(carol, provenance, RandomVector(generator), run);
  store.Commit();
  ASSERT_EQ(store.index().size(), 4u);

  EXPECT_EQ(store.RemoveIdentity("carol"), 3u);
  EXPECT_EQ(store.index().Ids(), std::vector<SampleId>{other});
  EXPECT_FALSE(store.FindIdentity("carol"));
  EXPECT_EQ(store.Info().images, 1);
  EXPECT_TRUE(store.Check().ok);
  ErrorText([&] { store.RemoveIdentity("carol"); }, ErrorCategory::kNotFound);
  ErrorText([&] { store.RemoveSample(real); }, ErrorCategory::kNotFound);
}

TEST(Store, SyntheticProvenanceRoundTrips) {
  TempDir dir;
  std::mt19937 generator(4);
  Store store = Store::Create(dir.path(), TestConfig());
  const RunId run = store.BeginRun("augment", R"({"recipe":"flip"})");
  const SampleId real = AddReal(store, run, "erin", RandomVector(generator), 1);
  const SyntheticProvenance provenance{real, "flip", R"({"flip":true})", 18446744073709551615ull};
  const auto vector = RandomVector(generator);
  const SampleId synthetic = store.AddSyntheticSample(store.FindIdentity("erin")->id, provenance, vector, run);
  store.Commit();

  const auto sample = store.GetSample(synthetic);
  ASSERT_TRUE(sample);
  EXPECT_EQ(sample->kind, SampleKind::kSynthetic);
  ASSERT_TRUE(sample->synthetic);
  EXPECT_EQ(sample->synthetic->source_sample, real);
  EXPECT_EQ(sample->synthetic->recipe, "flip");
  EXPECT_EQ(sample->synthetic->params_json, R"({"flip":true})");
  EXPECT_EQ(sample->synthetic->seed, 18446744073709551615ull);
  EXPECT_EQ(sample->image_path, "erin/1.jpg");
  EXPECT_EQ(sample->run_id, run);
  EXPECT_EQ(sample->embedding, vector);

  SampleFilter filter;
  filter.kind = SampleKind::kSynthetic;
  EXPECT_EQ(store.ListSamples(filter).size(), 1u);
}

TEST(Store, SyntheticWithBadSourceOrParamsRejected) {
  TempDir dir;
  std::mt19937 generator(5);
  Store store = Store::Create(dir.path(), TestConfig());
  const RunId run = store.BeginRun("augment", "{}");
  const IdentityId identity = store.AddIdentity("frank");
  ErrorText([&] { store.AddSyntheticSample(identity, {12345, "flip", "{}", 1}, RandomVector(generator), run); },
            ErrorCategory::kNotFound);
  const SampleId real = AddReal(store, run, "frank", RandomVector(generator), 1);
  ErrorText([&] { store.AddSyntheticSample(identity, {real, "flip", "not json", 1}, RandomVector(generator), run); },
            ErrorCategory::kInvalidArgument);
}

TEST(Store, UnicodeNamesRoundTrip) {
  TempDir dir;
  std::mt19937 generator(6);
  const std::vector<std::string> names = {
      "Jos\xc3\xa9 Mart\xc3\xadnez",                            // accents and a space
      "\xd9\x85\xd8\xad\xd9\x85\xd8\xaf \xd8\xb9\xd9\x84\xd9\x8a",  // Arabic, right to left
      "\xd7\xa9\xd7\xa8\xd7\x94",                                // Hebrew
      "\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e",        // Japanese with a space
      "name  with\ttabs",
  };
  {
    Store store = Store::Create(dir.path() / "st\xc3\xb6re dir", TestConfig());
    const RunId run = store.BeginRun("test", "{}");
    for (const std::string& name : names) AddReal(store, run, name, RandomVector(generator), 1);
    store.Commit();
  }
  const Store store = Store::Open(dir.path() / "st\xc3\xb6re dir");
  for (const std::string& name : names) {
    const auto identity = store.FindIdentity(name);
    ASSERT_TRUE(identity) << name;
    EXPECT_EQ(identity->name, name);
    SampleFilter filter;
    filter.identity_id = identity->id;
    const auto samples = store.ListSamples(filter);
    ASSERT_EQ(samples.size(), 1u);
    EXPECT_EQ(samples[0].identity, name);
    EXPECT_EQ(samples[0].image_path, name + "/1.jpg");
  }
  EXPECT_EQ(store.ListIdentities().size(), names.size());
}

TEST(Store, TruncatedIndexRejectedAtOpen) {
  TempDir dir;
  std::mt19937 generator(7);
  {
    Store store = Store::Create(dir.path(), TestConfig());
    const RunId run = store.BeginRun("test", "{}");
    for (int i = 0; i < 10; ++i) AddReal(store, run, "g", RandomVector(generator), i);
    store.Commit();
  }
  const auto file = dir.path() / "index.faiss";
  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 100);
  OpenOptions options;
  options.rebuild_stale_index = false;
  const std::string text = ErrorText([&] { Store::Open(dir.path(), options); }, ErrorCategory::kCorrupt);
  Contains(text, "index.faiss");
  Contains(text, "truncated");
  Contains(text, "store check --repair");
}

TEST(Store, AlteredIndexRejectedAtOpen) {
  TempDir dir;
  std::mt19937 generator(8);
  {
    Store store = Store::Create(dir.path(), TestConfig());
    const RunId run = store.BeginRun("test", "{}");
    for (int i = 0; i < 10; ++i) AddReal(store, run, "h", RandomVector(generator), i);
    store.Commit();
  }
  const auto file = dir.path() / "index.faiss";
  FlipByte(file, std::filesystem::file_size(file) - 40);
  const std::string text = ErrorText([&] { Store::Open(dir.path()); }, ErrorCategory::kCorrupt);
  Contains(text, "checksum mismatch");

  // --repair rebuilds the index from the stored embeddings.
  OpenOptions repair = Writable();
  repair.repair_index = true;
  {
    Store store = Store::Open(dir.path(), repair);
    EXPECT_EQ(store.index().size(), 10u);
  }
  EXPECT_TRUE(Store::Open(dir.path()).Check().ok);
}

TEST(Store, TruncatedDatabaseRejectedAtOpen) {
  TempDir dir;
  std::mt19937 generator(9);
  {
    Store store = Store::Create(dir.path(), TestConfig());
    const RunId run = store.BeginRun("test", "{}");
    for (int i = 0; i < 200; ++i) AddReal(store, run, "i" + std::to_string(i), RandomVector(generator), i);
    store.Commit();
  }
  const auto file = dir.path() / "store.db";
  ASSERT_FALSE(std::filesystem::exists(dir.path() / "store.db-wal") &&
               std::filesystem::file_size(dir.path() / "store.db-wal") > 0);
  std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2);
  const std::string text = ErrorText([&] { Store::Open(dir.path()); }, ErrorCategory::kCorrupt);
  Contains(text, "store.db");
  Contains(text, "truncated");
}

TEST(Store, AlteredDatabaseRejectedAtOpen) {
  TempDir dir;
  std::mt19937 generator(10);
  {
    Store store = Store::Create(dir.path(), TestConfig());
    const RunId run = store.BeginRun("test", "{}");
    for (int i = 0; i < 200; ++i) AddReal(store, run, "j" + std::to_string(i), RandomVector(generator), i);
    store.Commit();
  }
  const auto file = dir.path() / "store.db";
  // Damage the b-tree page headers of several pages past the first.
  const std::uintmax_t size = std::filesystem::file_size(file);
  for (std::uintmax_t offset = 4096; offset < size; offset += 4096) {
    for (int i = 0; i < 8; ++i) FlipByte(file, offset + i);
  }
  const std::string text = ErrorText([&] { Store::Open(dir.path()); }, ErrorCategory::kCorrupt);
  Contains(text, "store.db");
}

TEST(Store, NotADatabaseRejected) {
  TempDir dir;
  { Store::Create(dir.path(), TestConfig()); }
  std::ofstream(dir.path() / "store.db", std::ios::trunc) << "hello";
  Contains(ErrorText([&] { Store::Open(dir.path()); }, ErrorCategory::kCorrupt), "not an SQLite database");
}

TEST(Store, StaleIndexRebuiltAfterCrashBetweenWrites) {
  TempDir dir;
  std::mt19937 generator(11);
  const auto index_file = dir.path() / "index.faiss";
  const auto saved = dir.path() / "index.saved";
  {
    Store store = Store::Create(dir.path(), TestConfig());
    const RunId run = store.BeginRun("test", "{}");
    AddReal(store, run, "k", RandomVector(generator), 1);
    store.Commit();
    std::filesystem::copy_file(index_file, saved);
    AddReal(store, run, "k", RandomVector(generator), 2);
    store.Commit();
  }
  // As if the process died after the database commit, before the index rename.
  std::filesystem::copy_file(saved, index_file, std::filesystem::copy_options::overwrite_existing);

  OpenOptions strict;
  strict.rebuild_stale_index = false;
  Contains(ErrorText([&] { Store::Open(dir.path(), strict); }, ErrorCategory::kCorrupt), "older");
  {
    Store store = Store::Open(dir.path(), Writable());
    EXPECT_EQ(store.index().size(), 2u);
  }
  EXPECT_TRUE(Store::Open(dir.path(), strict).Check().ok);
}

TEST(Store, IndexIdsDisagreeingWithDatabaseReported) {
  TempDir dir;
  std::mt19937 generator(12);
  const auto other = dir.path() / "other";
  {
    Store store = Store::Create(dir.path() / "main", TestConfig());
    Store copy = Store::Create(other, TestConfig());
    const RunId run = store.BeginRun("test", "{}");
    const RunId copy_run = copy.BeginRun("test", "{}");
    AddReal(store, run, "m", RandomVector(generator), 1);
    AddReal(copy, copy_run, "m", RandomVector(generator), 1);
    AddReal(copy, copy_run, "m", RandomVector(generator), 2);
    store.Commit();
    copy.Commit();
  }
  // Same generation, different ids: an index file from another store.
  std::filesystem::copy_file(other / "index.faiss", dir.path() / "main" / "index.faiss",
                             std::filesystem::copy_options::overwrite_existing);
  const std::string text = ErrorText([&] { Store::Open(dir.path() / "main"); }, ErrorCategory::kCorrupt);
  Contains(text, "1 only in the index");
}

TEST(Store, SecondWriterGetsLockedError) {
  TempDir dir;
  Store writer = Store::Create(dir.path(), TestConfig());
  const std::string text = ErrorText([&] { Store::Open(dir.path(), Writable()); }, ErrorCategory::kLocked);
  Contains(text, "store is locked by process " + std::to_string(::getpid()));
}

TEST(Store, ReaderNotBlockedByOpenWrite) {
  TempDir dir;
  std::mt19937 generator(13);
  Store writer = Store::Create(dir.path(), TestConfig());
  const RunId run = writer.BeginRun("test", "{}");
  const auto committed = RandomVector(generator);
  AddReal(writer, run, "n", committed, 1);
  writer.Commit();
  AddReal(writer, run, "n", RandomVector(generator), 2);  // left uncommitted

  const Store reader = Store::Open(dir.path());
  EXPECT_EQ(reader.index().size(), 1u);
  EXPECT_EQ(reader.Search(committed, 5).size(), 1u);
  writer.Commit();
  EXPECT_EQ(Store::Open(dir.path()).index().size(), 2u);
}

TEST(Store, ReadOnlyStoreRejectsWrites) {
  TempDir dir;
  { Store::Create(dir.path(), TestConfig()); }
  Store reader = Store::Open(dir.path());
  Contains(ErrorText([&] { reader.AddIdentity("x"); }, ErrorCategory::kInvalidArgument), "read-only");
}

TEST(Store, UncommittedWritesLostOnClose) {
  TempDir dir;
  std::mt19937 generator(14);
  {
    Store store = Store::Create(dir.path(), TestConfig());
    const RunId run = store.BeginRun("test", "{}");
    AddReal(store, run, "o", RandomVector(generator), 1);
    store.Commit();
    AddReal(store, run, "o", RandomVector(generator), 2);
  }
  const Store store = Store::Open(dir.path());
  EXPECT_EQ(store.Info().real_samples, 1);
  EXPECT_EQ(store.index().size(), 1u);
}

TEST(Store, RollbackRestoresIndex) {
  TempDir dir;
  std::mt19937 generator(15);
  Store store = Store::Create(dir.path(), TestConfig());
  const RunId run = store.BeginRun("test", "{}");
  AddReal(store, run, "p", RandomVector(generator), 1);
  store.Commit();
  AddReal(store, run, "p", RandomVector(generator), 2);
  EXPECT_EQ(store.index().size(), 2u);
  store.Rollback();
  EXPECT_EQ(store.index().size(), 1u);
}

TEST(Store, RangeSearchUsesPlainL2Threshold) {
  TempDir dir;
  Store store = Store::Create(dir.path(), TestConfig("HNSW32"));
  const RunId run = store.BeginRun("test", "{}");
  std::vector<float> base(kDimension, 0.0f);
  base[0] = 1.0f;
  AddReal(store, run, "q", base, 1);
  std::vector<float> near = base;
  near[1] = 0.5f;  // plain L2 0.5, squared 0.25
  AddReal(store, run, "r", near, 1);
  std::vector<float> far = base;
  far[1] = 0.7f;  // plain L2 0.7, squared 0.49
  AddReal(store, run, "s", far, 1);
  store.Commit();

  const auto hits = store.RangeSearch(base, 0.6);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[1].identity, "r");
  EXPECT_NEAR(hits[1].distance, 0.5f, 1e-5);
}

TEST(Store, InfoCountsSingleImageIdentities) {
  TempDir dir;
  std::mt19937 generator(16);
  Store store = Store::Create(dir.path(), TestConfig());
  const RunId run = store.BeginRun("test", "{}");
  AddReal(store, run, "single", RandomVector(generator), 1);
  AddReal(store, run, "double", RandomVector(generator), 1);
  AddReal(store, run, "double", RandomVector(generator), 2);
  store.AddFailure(run, "double/3.jpg", "decode", "truncated JPEG");
  store.FinishRun(run, "ok");
  store.Commit();
  const StoreInfo info = store.Info();
  EXPECT_EQ(info.identities, 2);
  EXPECT_EQ(info.single_image_identities, 1);
  EXPECT_EQ(info.real_samples, 3);
  EXPECT_EQ(info.failures, 1);
  EXPECT_TRUE(store.FindIdentity("single")->single_image);
  EXPECT_FALSE(store.FindIdentity("double")->single_image);
  EXPECT_EQ(store.ListRuns().at(0).status, "ok");
  EXPECT_EQ(store.ListFailures(run).at(0).reason, "truncated JPEG");
}

// A child process commits batches of 10 samples in a loop until SIGKILL stops
// it at a random moment. Every reopen must see whole batches only.
TEST(Store, KillDuringCommitsLeavesWholeBatches) {
  TempDir dir;
  { Store::Create(dir.path(), TestConfig()); }
  std::mt19937 timing(17);
  std::uniform_int_distribution<int> delay_us(2000, 60000);
  for (int round = 0; round < 6; ++round) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      try {
        Store store = Store::Open(dir.path(), Writable());
        std::mt19937 generator(100 + round);
        const RunId run = store.BeginRun("kill-test", "{}");
        for (int batch = 0;; ++batch) {
          for (int i = 0; i < 10; ++i) {
            AddReal(store, run, "r" + std::to_string(round), RandomVector(generator), batch * 10 + i);
          }
          store.Commit();
        }
      } catch (...) {
        ::_exit(3);
      }
    }
    ::usleep(static_cast<useconds_t>(delay_us(timing)));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);

    Store store = Store::Open(dir.path(), Writable());
    EXPECT_EQ(store.Info().real_samples % 10, 0) << "round " << round;
    EXPECT_EQ(store.index().size(), static_cast<std::size_t>(store.Info().real_samples));
    EXPECT_TRUE(store.Check().ok) << "round " << round;
  }
}

}  // namespace
}  // namespace facespace
