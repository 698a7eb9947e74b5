// VectorIndex: a FAISS IndexIDMap2 around an index built from a factory string.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

#include "facespace/error.h"
#include "facespace/store.h"
#include "store/vector_checks.h"

namespace facespace {
namespace {

using FaissId = faiss::Index::idx_t;

// FAISS recommends at least this many training vectors per IVF cell.
constexpr std::size_t kTrainingVectorsPerCell = 39;
// Training minimum for other index types that need training (PQ codebooks have
// 256 centroids per sub-quantizer).
constexpr std::size_t kDefaultTrainingMinimum = 39 * 256;

faiss::MetricType FaissMetric(Metric metric) {
  return metric == Metric::kCosine ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
}

std::unique_ptr<faiss::Index> BuildFromFactory(int dimension, const IndexSpec& spec) {
  if (spec.factory.rfind("IDMap", 0) == 0) {
    throw Error(ErrorCategory::kInvalidArgument,
                "index factory '" + spec.factory +
                    "': leave out the IDMap prefix, the store adds its own id map");
  }
  try {
    return std::unique_ptr<faiss::Index>(
        faiss::index_factory(dimension, spec.factory.c_str(), FaissMetric(spec.metric)));
  } catch (const faiss::FaissException& error) {
    throw Error(ErrorCategory::kInvalidArgument,
                "index factory '" + spec.factory + "': " + error.msg);
  }
}

std::size_t TrainingMinimum(const faiss::Index& index) {
  if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(&index)) {
    return kTrainingVectorsPerCell * ivf->nlist;
  }
  return kDefaultTrainingMinimum;
}

std::unique_ptr<faiss::IndexIDMap2> WrapWithIds(std::unique_ptr<faiss::Index> inner) {
  auto map = std::make_unique<faiss::IndexIDMap2>(inner.release());
  map->own_fields = true;
  return map;
}

void ApplySearchParameters(faiss::Index* inner, const IndexSpec& spec) {
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(inner); hnsw && spec.hnsw_ef_search > 0) {
    hnsw->hnsw.efSearch = spec.hnsw_ef_search;
  }
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(inner); ivf && spec.ivf_nprobe > 0) {
    ivf->nprobe = spec.ivf_nprobe;
  }
}

}  // namespace

void ValidateIndexFactory(const std::string& factory, int dimension) {
  IndexSpec spec;
  spec.factory = factory;
  BuildFromFactory(dimension, spec);
}

struct VectorIndex::Impl {
  int dimension = 0;
  IndexSpec spec;
  // The searchable index. While an index that needs training waits for
  // enough vectors, this is an exact flat stand-in.
  std::unique_ptr<faiss::IndexIDMap2> index;
  bool trained = true;
  std::size_t training_minimum = 0;

  // Returns `count` vectors prepared for FAISS: normalised for cosine.
  std::vector<float> Prepare(std::span<const float> vectors, std::size_t count) const {
    std::vector<float> prepared(vectors.begin(), vectors.end());
    if (spec.metric == Metric::kCosine) {
      for (std::size_t i = 0; i < count; ++i) {
        NormaliseInPlace(std::span<float>(prepared.data() + i * dimension, dimension));
      }
    }
    return prepared;
  }

  float ToUserDistance(float raw) const {
    switch (spec.metric) {
      case Metric::kL2: return std::sqrt(std::max(raw, 0.0f));
      case Metric::kSquaredL2: return std::max(raw, 0.0f);
      case Metric::kCosine: return 1.0f - raw;
    }
    return raw;
  }

  // Converts a user radius to FAISS's: squared L2 for L2 indexes, minimum
  // inner product for cosine.
  float ToFaissRadius(double radius) const {
    switch (spec.metric) {
      case Metric::kL2: return static_cast<float>(radius * radius);
      case Metric::kSquaredL2: return static_cast<float>(radius);
      case Metric::kCosine: return static_cast<float>(1.0 - radius);
    }
    return static_cast<float>(radius);
  }

  // Returns every stored vector with its id, in id_map order.
  void ReconstructAll(std::vector<FaissId>& ids, std::vector<float>& vectors) const {
    ids = index->id_map;
    vectors.resize(ids.size() * dimension);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      index->index->reconstruct(static_cast<FaissId>(i), vectors.data() + i * dimension);
    }
  }

  // Replaces the index with a fresh one from the factory holding `vectors`.
  void Rebuild(const std::vector<FaissId>& ids, const std::vector<float>& vectors) {
    auto inner = BuildFromFactory(dimension, spec);
    const auto count = static_cast<FaissId>(ids.size());
    try {
      if (!inner->is_trained) inner->train(count, vectors.data());
    } catch (const faiss::FaissException& error) {
      throw Error(ErrorCategory::kInternal, "index '" + spec.factory + "': training failed: " + error.msg);
    }
    ApplySearchParameters(inner.get(), spec);
    auto rebuilt = WrapWithIds(std::move(inner));
    if (count > 0) rebuilt->add_with_ids(count, vectors.data(), ids.data());
    index = std::move(rebuilt);
    trained = true;
  }

  void TrainIfReady() {
    if (trained || static_cast<std::size_t>(index->ntotal) < training_minimum) return;
    std::vector<FaissId> ids;
    std::vector<float> vectors;
    ReconstructAll(ids, vectors);
    Rebuild(ids, vectors);
  }
};

VectorIndex::VectorIndex(int dimension, const IndexSpec& spec) : impl_(std::make_unique<Impl>()) {
  if (dimension < 1) {
    throw Error(ErrorCategory::kInvalidArgument,
                "dimension " + std::to_string(dimension) + ": must be at least 1");
  }
  impl_->dimension = dimension;
  impl_->spec = spec;
  auto inner = BuildFromFactory(dimension, spec);
  if (inner->is_trained) {
    ApplySearchParameters(inner.get(), spec);
    impl_->index = WrapWithIds(std::move(inner));
    return;
  }
  impl_->trained = false;
  impl_->training_minimum = TrainingMinimum(*inner);
  impl_->index = WrapWithIds(std::make_unique<faiss::IndexFlat>(dimension, FaissMetric(spec.metric)));
}

VectorIndex::~VectorIndex() = default;
VectorIndex::VectorIndex(VectorIndex&&) noexcept = default;
VectorIndex& VectorIndex::operator=(VectorIndex&&) noexcept = default;

int VectorIndex::dimension() const { return impl_->dimension; }
const IndexSpec& VectorIndex::spec() const { return impl_->spec; }
std::size_t VectorIndex::size() const { return static_cast<std::size_t>(impl_->index->ntotal); }
bool VectorIndex::trained() const { return impl_->trained; }

void VectorIndex::Add(std::span<const SampleId> ids, std::span<const float> vectors) {
  const std::size_t dimension = impl_->dimension;
  if (vectors.size() != ids.size() * dimension) {
    throw Error(ErrorCategory::kInvalidArgument,
                "vectors: expected " + std::to_string(ids.size() * dimension) + " floats for " +
                    std::to_string(ids.size()) + " ids, got " + std::to_string(vectors.size()));
  }
  std::unordered_set<SampleId> batch_ids;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string subject = "vector with id " + std::to_string(ids[i]);
    if (ids[i] < 0) throw Error(ErrorCategory::kInvalidArgument, subject + ": ids must be >= 0");
    if (impl_->index->rev_map.count(ids[i]) > 0 || !batch_ids.insert(ids[i]).second) {
      throw Error(ErrorCategory::kInvalidArgument, subject + ": id already in the index");
    }
    CheckEmbedding(vectors.subspan(i * dimension, dimension), subject);
  }
  if (ids.empty()) return;

  const std::vector<float> prepared = impl_->Prepare(vectors, ids.size());
  try {
    impl_->index->add_with_ids(static_cast<FaissId>(ids.size()), prepared.data(), ids.data());
  } catch (const faiss::FaissException& error) {
    throw Error(ErrorCategory::kInternal, "index '" + impl_->spec.factory + "': add failed: " + error.msg);
  }
  impl_->TrainIfReady();
}

std::size_t VectorIndex::Remove(std::span<const SampleId> ids) {
  std::vector<FaissId> present;
  for (SampleId id : ids) {
    if (impl_->index->rev_map.count(id) > 0) present.push_back(id);
  }
  std::sort(present.begin(), present.end());
  present.erase(std::unique(present.begin(), present.end()), present.end());
  if (present.empty()) return 0;

  faiss::IDSelectorBatch selector(present.size(), present.data());
  try {
    impl_->index->remove_ids(selector);
    return present.size();
  } catch (const faiss::FaissException&) {
    // The index type cannot remove (HNSW): rebuild it without those ids.
  }
  std::vector<FaissId> all_ids;
  std::vector<float> all_vectors;
  impl_->ReconstructAll(all_ids, all_vectors);
  std::vector<FaissId> kept_ids;
  std::vector<float> kept_vectors;
  const std::size_t dimension = impl_->dimension;
  for (std::size_t i = 0; i < all_ids.size(); ++i) {
    if (std::binary_search(present.begin(), present.end(), all_ids[i])) continue;
    kept_ids.push_back(all_ids[i]);
    kept_vectors.insert(kept_vectors.end(), all_vectors.begin() + i * dimension,
                        all_vectors.begin() + (i + 1) * dimension);
  }
  const bool was_trained = impl_->trained;
  if (was_trained) {
    impl_->Rebuild(kept_ids, kept_vectors);
  } else {
    auto flat = WrapWithIds(std::make_unique<faiss::IndexFlat>(impl_->dimension, FaissMetric(impl_->spec.metric)));
    if (!kept_ids.empty()) flat->add_with_ids(kept_ids.size(), kept_vectors.data(), kept_ids.data());
    impl_->index = std::move(flat);
  }
  return present.size();
}

std::vector<std::vector<IndexHit>> VectorIndex::SearchBatch(std::span<const float> queries, int k) const {
  const std::size_t dimension = impl_->dimension;
  if (k < 1) throw Error(ErrorCategory::kInvalidArgument, "k " + std::to_string(k) + ": must be at least 1");
  if (queries.size() % dimension != 0) {
    throw Error(ErrorCategory::kInvalidArgument,
                "query: expected a multiple of " + std::to_string(dimension) + " floats, got " +
                    std::to_string(queries.size()));
  }
  const std::size_t count = queries.size() / dimension;
  for (std::size_t i = 0; i < count; ++i) {
    CheckQuery(queries.subspan(i * dimension, dimension), impl_->spec.metric);
  }
  std::vector<std::vector<IndexHit>> results(count);
  const auto available = static_cast<std::size_t>(impl_->index->ntotal);
  if (available == 0 || count == 0) return results;

  const std::size_t effective_k = std::min<std::size_t>(k, available);
  const std::vector<float> prepared = impl_->Prepare(queries, count);
  std::vector<float> distances(count * effective_k);
  std::vector<FaissId> labels(count * effective_k);
  try {
    impl_->index->search(count, prepared.data(), effective_k, distances.data(), labels.data());
  } catch (const faiss::FaissException& error) {
    throw Error(ErrorCategory::kInternal, "index '" + impl_->spec.factory + "': search failed: " + error.msg);
  }
  for (std::size_t q = 0; q < count; ++q) {
    for (std::size_t j = 0; j < effective_k; ++j) {
      const FaissId label = labels[q * effective_k + j];
      if (label < 0) continue;  // FAISS pads missing results with -1
      results[q].push_back({label, impl_->ToUserDistance(distances[q * effective_k + j])});
    }
  }
  return results;
}

std::vector<IndexHit> VectorIndex::Search(std::span<const float> query, int k) const {
  if (query.size() != static_cast<std::size_t>(impl_->dimension)) {
    throw Error(ErrorCategory::kInvalidArgument,
                "query: expected " + std::to_string(impl_->dimension) + " floats, got " +
                    std::to_string(query.size()));
  }
  return SearchBatch(query, k).front();
}

std::vector<IndexHit> VectorIndex::RangeSearch(std::span<const float> query, double radius) const {
  if (query.size() != static_cast<std::size_t>(impl_->dimension)) {
    throw Error(ErrorCategory::kInvalidArgument,
                "query: expected " + std::to_string(impl_->dimension) + " floats, got " +
                    std::to_string(query.size()));
  }
  if (!std::isfinite(radius) || radius < 0) {
    throw Error(ErrorCategory::kInvalidArgument,
                "radius " + std::to_string(radius) + ": must be a finite number >= 0");
  }
  CheckQuery(query, impl_->spec.metric);
  std::vector<IndexHit> hits;
  if (impl_->index->ntotal == 0) return hits;

  const std::vector<float> prepared = impl_->Prepare(query, 1);
  faiss::RangeSearchResult result(1);
  try {
    impl_->index->range_search(1, prepared.data(), impl_->ToFaissRadius(radius), &result);
    for (std::size_t j = result.lims[0]; j < result.lims[1]; ++j) {
      hits.push_back({result.labels[j], impl_->ToUserDistance(result.distances[j])});
    }
  } catch (const faiss::FaissException&) {
    // No native range search (HNSW in FAISS 1.7.3): grow a k-NN search until
    // its farthest hit lies outside the radius or the index is exhausted.
    const std::size_t total = impl_->index->ntotal;
    for (std::size_t k = 32;; k *= 2) {
      const std::size_t effective_k = std::min(k, total);
      hits = Search(query, static_cast<int>(effective_k));
      if (effective_k == total || (!hits.empty() && hits.back().distance > radius)) break;
    }
    std::erase_if(hits, [radius](const IndexHit& hit) { return hit.distance > radius; });
  }
  std::sort(hits.begin(), hits.end(),
            [](const IndexHit& a, const IndexHit& b) { return a.distance < b.distance; });
  return hits;
}

std::vector<SampleId> VectorIndex::Ids() const {
  std::vector<SampleId> ids(impl_->index->id_map.begin(), impl_->index->id_map.end());
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::size_t VectorIndex::IndexBytes() const { return Serialize().size(); }

std::vector<std::uint8_t> VectorIndex::Serialize() const {
  faiss::VectorIOWriter writer;
  try {
    faiss::write_index(impl_->index.get(), &writer);
  } catch (const faiss::FaissException& error) {
    throw Error(ErrorCategory::kInternal, "index '" + impl_->spec.factory + "': cannot serialise: " + error.msg);
  }
  return std::move(writer.data);
}

VectorIndex VectorIndex::Deserialize(int dimension, const IndexSpec& spec,
                                     std::span<const std::uint8_t> bytes) {
  VectorIndex result(dimension, spec);
  faiss::VectorIOReader reader;
  reader.data.assign(bytes.begin(), bytes.end());
  std::unique_ptr<faiss::Index> loaded;
  try {
    loaded.reset(faiss::read_index(&reader));
  } catch (const faiss::FaissException& error) {
    throw Error(ErrorCategory::kCorrupt, "FAISS index data: unreadable: " + error.msg);
  }
  auto* map = dynamic_cast<faiss::IndexIDMap2*>(loaded.get());
  if (map == nullptr || map->index == nullptr) {
    throw Error(ErrorCategory::kCorrupt, "FAISS index data: not an IndexIDMap2");
  }
  if (map->d != dimension || map->metric_type != FaissMetric(spec.metric)) {
    throw Error(ErrorCategory::kCorrupt,
                "FAISS index data: dimension " + std::to_string(map->d) + " and metric type " +
                    std::to_string(map->metric_type) + " differ from the expected dimension " +
                    std::to_string(dimension) + " and metric " + std::string(MetricName(spec.metric)));
  }
  loaded.release();
  result.impl_->index.reset(map);
  // The flat stand-in of an untrained index stays untrained; anything else is the real index.
  const bool stand_in = !result.impl_->trained && dynamic_cast<faiss::IndexFlat*>(map->index) != nullptr;
  result.impl_->trained = !stand_in;
  ApplySearchParameters(map->index, spec);
  result.impl_->TrainIfReady();
  return result;
}

}  // namespace facespace
