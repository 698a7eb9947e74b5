#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "facespace/distance.h"
#include "facespace/error.h"
#include "facespace/store.h"

namespace facespace {
namespace {

constexpr int kDimension = 8;

std::vector<float> RandomVectors(std::size_t count, std::uint32_t seed, int dimension = kDimension) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> vectors(count * dimension);
  for (float& value : vectors) value = normal(generator);
  return vectors;
}

std::vector<SampleId> Sequence(SampleId first, std::size_t count) {
  std::vector<SampleId> ids(count);
  for (std::size_t i = 0; i < count; ++i) ids[i] = first + static_cast<SampleId>(i);
  return ids;
}

std::span<const float> Row(const std::vector<float>& vectors, std::size_t row, int dimension = kDimension) {
  return std::span<const float>(vectors).subspan(row * dimension, dimension);
}

ErrorCategory CategoryOf(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.category();
  }
  ADD_FAILURE() << "expected a facespace::Error";
  return ErrorCategory::kInternal;
}

TEST(VectorIndex, FactoryStringsBuild) {
  for (const std::string factory : {"Flat", "HNSW32", "HNSW16,Flat", "IVF4,Flat"}) {
    IndexSpec spec;
    spec.factory = factory;
    VectorIndex index(kDimension, spec);
    EXPECT_EQ(index.spec().factory, factory);
    EXPECT_EQ(index.size(), 0u);
  }
}

TEST(VectorIndex, BadFactoryRejectedWithName) {
  IndexSpec spec;
  spec.factory = "NoSuchIndex";
  try {
    VectorIndex index(kDimension, spec);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kInvalidArgument);
    EXPECT_NE(std::string(error.what()).find("'NoSuchIndex'"), std::string::npos) << error.what();
  }
  spec.factory = "IDMap,Flat";
  EXPECT_EQ(CategoryOf([&] { VectorIndex index(kDimension, spec); }), ErrorCategory::kInvalidArgument);
}

TEST(VectorIndex, NanAndZeroVectorsRejected) {
  VectorIndex index(kDimension, IndexSpec{});
  std::vector<float> vector(kDimension, 0.5f);
  const SampleId id = 1;

  vector[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(CategoryOf([&] { index.Add({&id, 1}, vector); }), ErrorCategory::kInvalidArgument);
  vector[3] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(CategoryOf([&] { index.Add({&id, 1}, vector); }), ErrorCategory::kInvalidArgument);
  std::fill(vector.begin(), vector.end(), 0.0f);
  EXPECT_EQ(CategoryOf([&] { index.Add({&id, 1}, vector); }), ErrorCategory::kInvalidArgument);
  EXPECT_EQ(index.size(), 0u);
}

TEST(VectorIndex, DuplicateAndNegativeIdsRejected) {
  VectorIndex index(kDimension, IndexSpec{});
  const auto vectors = RandomVectors(2, 1);
  const SampleId ids[] = {5, 5};
  EXPECT_EQ(CategoryOf([&] { index.Add(ids, vectors); }), ErrorCategory::kInvalidArgument);
  const SampleId negative = -1;
  EXPECT_EQ(CategoryOf([&] { index.Add({&negative, 1}, Row(vectors, 0)); }), ErrorCategory::kInvalidArgument);
  const SampleId five = 5;
  index.Add({&five, 1}, Row(vectors, 0));
  EXPECT_EQ(CategoryOf([&] { index.Add({&five, 1}, Row(vectors, 1)); }), ErrorCategory::kInvalidArgument);
}

TEST(VectorIndex, EmptyIndexReturnsNoHits) {
  VectorIndex index(kDimension, IndexSpec{});
  const auto query = RandomVectors(1, 2);
  EXPECT_TRUE(index.Search(query, 5).empty());
  EXPECT_TRUE(index.RangeSearch(query, 10.0).empty());
}

TEST(VectorIndex, KLargerThanSizeHasNoPadding) {
  VectorIndex index(kDimension, IndexSpec{});
  const auto vectors = RandomVectors(3, 3);
  index.Add(Sequence(10, 3), vectors);
  const auto hits = index.Search(Row(vectors, 0), 50);
  ASSERT_EQ(hits.size(), 3u);
  for (const IndexHit& hit : hits) EXPECT_NE(hit.id, kNoSample);
  EXPECT_EQ(hits.front().id, 10);
}

TEST(VectorIndex, L2DistancesArePlainNotSquared) {
  VectorIndex index(kDimension, IndexSpec{});
  const auto vectors = RandomVectors(20, 4);
  index.Add(Sequence(0, 20), vectors);
  const auto query = RandomVectors(1, 5);
  const auto hits = index.Search(query, 20);
  ASSERT_EQ(hits.size(), 20u);
  for (const IndexHit& hit : hits) {
    EXPECT_NEAR(hit.distance, L2Distance(query, Row(vectors, hit.id)), 1e-4);
  }
}

TEST(VectorIndex, SquaredL2AndCosineUnits) {
  const auto vectors = RandomVectors(10, 6);
  const auto query = RandomVectors(1, 7);
  for (const Metric metric : {Metric::kSquaredL2, Metric::kCosine}) {
    IndexSpec spec;
    spec.metric = metric;
    VectorIndex index(kDimension, spec);
    index.Add(Sequence(0, 10), vectors);
    for (const IndexHit& hit : index.Search(query, 10)) {
      EXPECT_NEAR(hit.distance, Distance(metric, query, Row(vectors, hit.id)), 1e-4) << MetricName(metric);
    }
  }
}

TEST(VectorIndex, RangeSearchMatchesBruteForce) {
  const auto vectors = RandomVectors(300, 8);
  const auto query = RandomVectors(1, 9);
  const double radius = 3.5;
  std::size_t expected = 0;
  for (std::size_t i = 0; i < 300; ++i) expected += L2Distance(query, Row(vectors, i)) < radius;
  ASSERT_GT(expected, 0u);
  for (const std::string factory : {"Flat", "HNSW32"}) {
    IndexSpec spec;
    spec.factory = factory;
    spec.hnsw_ef_search = 256;
    VectorIndex index(kDimension, spec);
    index.Add(Sequence(0, 300), vectors);
    const auto hits = index.RangeSearch(query, radius);
    EXPECT_EQ(hits.size(), expected) << factory;
    for (const IndexHit& hit : hits) EXPECT_LE(hit.distance, radius) << factory;
  }
}

TEST(VectorIndex, HnswRemoveRebuilds) {
  IndexSpec spec;
  spec.factory = "HNSW32";
  VectorIndex index(kDimension, spec);
  const auto vectors = RandomVectors(50, 10);
  index.Add(Sequence(100, 50), vectors);
  const SampleId removed[] = {100, 120, 149, 999};
  EXPECT_EQ(index.Remove(removed), 3u);
  EXPECT_EQ(index.size(), 47u);
  const auto hits = index.Search(Row(vectors, 0), 1);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_NE(hits.front().id, 100);
  const auto ids = index.Ids();
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 120), 0);
  // The remaining vectors keep their ids and distances.
  const auto self = index.Search(Row(vectors, 1), 1);
  ASSERT_EQ(self.size(), 1u);
  EXPECT_EQ(self.front().id, 101);
  EXPECT_NEAR(self.front().distance, 0.0f, 1e-4);
}

TEST(VectorIndex, IvfTrainsOnceEnoughVectors) {
  IndexSpec spec;
  spec.factory = "IVF4,Flat";
  spec.ivf_nprobe = 4;
  VectorIndex index(kDimension, spec);
  EXPECT_FALSE(index.trained());
  const auto vectors = RandomVectors(200, 11);
  index.Add(Sequence(0, 100), std::span<const float>(vectors).first(100 * kDimension));
  EXPECT_FALSE(index.trained());
  EXPECT_EQ(index.Search(Row(vectors, 7), 1).front().id, 7);

  index.Add(Sequence(100, 100), std::span<const float>(vectors).subspan(100 * kDimension));
  EXPECT_TRUE(index.trained());
  EXPECT_EQ(index.size(), 200u);
  EXPECT_EQ(index.Search(Row(vectors, 150), 1).front().id, 150);
}

TEST(VectorIndex, SerializeRoundTrip) {
  for (const std::string factory : {"Flat", "HNSW32", "IVF4,Flat"}) {
    IndexSpec spec;
    spec.factory = factory;
    VectorIndex index(kDimension, spec);
    const auto vectors = RandomVectors(200, 12);
    index.Add(Sequence(1, 200), vectors);
    const auto bytes = index.Serialize();
    const VectorIndex restored = VectorIndex::Deserialize(kDimension, spec, bytes);
    EXPECT_EQ(restored.Ids(), index.Ids()) << factory;
    EXPECT_EQ(restored.Search(Row(vectors, 3), 1).front().id, 4) << factory;
  }
}

TEST(VectorIndex, DeserializeRejectsGarbage) {
  const std::vector<std::uint8_t> garbage(64, 0xab);
  EXPECT_EQ(CategoryOf([&] { VectorIndex::Deserialize(kDimension, IndexSpec{}, garbage); }),
            ErrorCategory::kCorrupt);
}

TEST(VectorIndex, QueryWithWrongDimensionRejected) {
  VectorIndex index(kDimension, IndexSpec{});
  const std::vector<float> query(kDimension + 1, 1.0f);
  EXPECT_EQ(CategoryOf([&] { index.Search(query, 1); }), ErrorCategory::kInvalidArgument);
  const std::vector<float> good(kDimension, 1.0f);
  EXPECT_EQ(CategoryOf([&] { index.Search(good, 0); }), ErrorCategory::kInvalidArgument);
}

}  // namespace
}  // namespace facespace
