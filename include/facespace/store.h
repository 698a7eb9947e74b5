// The vector store: a FAISS index plus a SQLite database in one directory.
//
// Layout of a store directory:
//   store.db     SQLite database, the source of truth: identities, images,
//                faces, samples with provenance, embeddings, failures, runs.
//   index.faiss  facespace index file: a versioned, checksummed header
//                followed by a FAISS IndexIDMap2 whose ids are sample ids.
//                It is derived data and can always be rebuilt from store.db.
//   lock         flock(2) write lock; contains the writer's process id.
//
// Both files record the format or schema version, the model id, the embedding
// dimension and the metric. Opening with other values raises Error(kMismatch),
// whose message names both sides.
//
// Crash safety: writes go into one SQLite transaction. Commit() first commits
// that transaction, which increments the store's generation, then writes the
// index to a temporary file, fsyncs it and renames it over index.faiss. A
// process killed at any moment therefore leaves store.db in the old or the new
// state. The index file may lag one generation behind, and Open() detects
// that and rebuilds the index from the stored embeddings (see OpenOptions).
//
// Concurrency: one writer per store, enforced by the lock file; a second
// writer gets Error(kLocked) "store is locked by process N". Readers take no
// lock and are never blocked (SQLite WAL mode); a reader sees the state of the
// last commit at the time it opened. A Store object is not thread-safe: use
// one object per thread.
#ifndef FACESPACE_STORE_H_
#define FACESPACE_STORE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "facespace/distance.h"
#include "facespace/face.h"

namespace facespace {

// Version of the index file written by this build; files of another version are rejected.
constexpr std::uint32_t kIndexFormatVersion = 1;
// Version of the SQLite schema written by this build; databases of another version are rejected.
constexpr std::uint32_t kStoreSchemaVersion = 1;

using SampleId = std::int64_t;
using IdentityId = std::int64_t;
using ImageId = std::int64_t;
using FaceId = std::int64_t;
using RunId = std::int64_t;

// FAISS pads missing search results with this id; it never names a sample.
constexpr SampleId kNoSample = -1;

enum class SampleKind { kReal, kSynthetic };
std::string_view SampleKindName(SampleKind kind);  // "real" or "synthetic"
SampleKind ParseSampleKind(std::string_view text);  // throws Error(kInvalidArgument)

// ---------------------------------------------------------------------------
// Vector index

// Index parameters: a FAISS factory string and the metric users see.
struct IndexSpec {
  // FAISS index_factory description without the IDMap prefix: "Flat" (exact),
  // "HNSW32", "HNSW32,Flat", "IVF256,Flat", ...
  std::string factory = "Flat";
  // Metric of the distances returned to callers. kL2 and kSquaredL2 use a FAISS
  // L2 index (which computes squared L2; kL2 results are square-rooted). kCosine
  // normalises vectors and uses inner product; distance = 1 - cosine similarity.
  Metric metric = Metric::kL2;
  // HNSW search depth (efSearch); 0 keeps FAISS's default of 16.
  int hnsw_ef_search = 0;
  // IVF cells probed per query (nprobe); 0 keeps FAISS's default of 1.
  int ivf_nprobe = 0;
};

// Checks `factory` by building an empty index from it.
// Throws Error(kInvalidArgument) naming the string and FAISS's reason.
void ValidateIndexFactory(const std::string& factory, int dimension);

// One search result. `distance` is in the index's metric (IndexSpec::metric).
struct IndexHit {
  SampleId id = kNoSample;
  float distance = 0;
};

// An in-memory vector index with caller-chosen 64-bit ids (FAISS IndexIDMap2
// around the factory's index). Used by Store, and usable on its own for
// temporary indexes over subsets, e.g. in analysis and benchmarks.
//
// IVF indexes need training: until the index contains at least 39 vectors per
// IVF cell (FAISS's minimum recommendation), vectors go into an exact flat
// index; once enough are present the IVF index is trained on all of them and
// replaces it. Indexes that cannot remove vectors (HNSW) are rebuilt from the
// vectors they reconstruct on Remove(), which is exact for "HNSWn" and
// "HNSWn,Flat" and approximate for compressed storage (e.g. "HNSWn,PQ...").
// Not thread-safe for writes; concurrent Search calls on a const index are safe.
class VectorIndex {
 public:
  // Throws Error(kInvalidArgument) for a bad factory string or dimension < 1.
  VectorIndex(int dimension, const IndexSpec& spec);
  ~VectorIndex();
  VectorIndex(VectorIndex&&) noexcept;
  VectorIndex& operator=(VectorIndex&&) noexcept;

  int dimension() const;
  const IndexSpec& spec() const;
  std::size_t size() const;
  bool trained() const;  // false only for an IVF index still waiting for vectors

  // Adds ids.size() vectors; `vectors` contains ids.size() * dimension() floats,
  // row-major. Throws Error(kInvalidArgument) on a size mismatch, a NaN or
  // infinite component, an all-zero vector, or an id already present or < 0.
  void Add(std::span<const SampleId> ids, std::span<const float> vectors);

  // Removes the given ids (unknown ids are ignored); returns how many were removed.
  std::size_t Remove(std::span<const SampleId> ids);

  // Returns up to k nearest neighbours of `query` (dimension() floats), nearest
  // first. Fewer than k when the index contains fewer vectors; never contains
  // kNoSample. Throws Error(kInvalidArgument) for k < 1 or a bad query.
  std::vector<IndexHit> Search(std::span<const float> query, int k) const;

  // Searches many queries at once (queries.size() / dimension() of them),
  // using FAISS's batched search; returns one hit list per query.
  std::vector<std::vector<IndexHit>> SearchBatch(std::span<const float> queries, int k) const;

  // Returns every vector within `radius` (in the index's metric), nearest first.
  // For approximate indexes FAISS may miss some (HNSW has no native range
  // search, so it is emulated by growing k-NN searches).
  std::vector<IndexHit> RangeSearch(std::span<const float> query, double radius) const;

  // Returns the ids held, in ascending order.
  std::vector<SampleId> Ids() const;

  // Approximate memory used by the FAISS index and its id map, in bytes,
  // measured as the serialised size.
  std::size_t IndexBytes() const;

  // Serialises to / restores from FAISS's own format (no facespace header).
  // Deserialize throws Error(kCorrupt) when FAISS cannot read `bytes` or the
  // index it reads has another dimension or metric than given.
  std::vector<std::uint8_t> Serialize() const;
  static VectorIndex Deserialize(int dimension, const IndexSpec& spec,
                                 std::span<const std::uint8_t> bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------
// Records

struct StoreConfig {
  std::string model_id;    // e.g. "dlib-resnet-v1"; every embedding comes from this model
  int dimension = 128;
  IndexSpec index;         // metric here is the store's metric
};

struct Identity {
  IdentityId id = 0;
  std::string name;           // bytes as given (folder name), any UTF-8 or not
  std::int64_t image_count = 0;
  std::int64_t sample_count = 0;
  bool single_image = false;  // flagged: only one image, so no genuine pair within it
};

// Decode status of a source image.
enum class ImageStatus { kOk, kDecodeFailed, kNoFace };
std::string_view ImageStatusName(ImageStatus status);  // "ok", "decode-failed", "no-face"

struct ImageRecord {
  ImageId id = 0;              // set by the store
  IdentityId identity_id = 0;
  std::string relative_path;   // relative to the dataset root, '/' separated, bytes as on disk
  std::string sha256;          // lower-case hex of the file content
  std::int64_t size_bytes = 0;
  ImageStatus status = ImageStatus::kOk;
  int width = 0;
  int height = 0;
};

struct FaceRecord {
  FaceId id = 0;               // set by the store
  ImageId image_id = 0;
  FaceBox box;
  std::vector<float> landmarks;  // x0, y0, x1, y1, ... in image pixels (68 points, or empty)
  double detector_score = 0;
  bool fallback = false;
};

// Provenance of a synthetic sample.
struct SyntheticProvenance {
  SampleId source_sample = 0;  // the real (or synthetic) sample it was made from
  std::string recipe;          // recipe string as the user wrote it
  std::string params_json;     // parameters actually sampled, as a JSON object
  std::uint64_t seed = 0;
};

struct Sample {
  SampleId id = 0;
  IdentityId identity_id = 0;
  std::string identity;                 // identity name
  SampleKind kind = SampleKind::kReal;
  std::optional<FaceId> face_id;        // real samples: the face it was embedded from
  std::optional<ImageId> image_id;      // the source image (synthetic: the source sample's image)
  std::string image_path;               // relative path of that image, or empty
  std::optional<SyntheticProvenance> synthetic;  // set for synthetic samples
  RunId run_id = 0;
  std::vector<float> embedding;         // dimension floats, plain L2 units as stored
};

struct SampleFilter {
  std::optional<SampleKind> kind;
  std::optional<IdentityId> identity_id;
  std::optional<RunId> run_id;
  bool with_embeddings = true;  // false leaves Sample::embedding empty (faster)
};

struct Failure {
  std::int64_t id = 0;
  RunId run_id = 0;
  std::string file;    // relative path, sample id or other subject the failure is about
  std::string stage;   // "scan", "read", "decode", "detect", "embed", "synth", ...
  std::string reason;
};

struct Run {
  RunId id = 0;
  std::string command;      // e.g. "ingest", "augment"
  std::string params_json;  // options of the run as a JSON object
  std::string started_at;   // UTC, ISO 8601
  std::string finished_at;  // empty while running or when the process died
  std::string status;       // "running", "ok", "failed", ...
};

// One search result, resolved to its sample.
struct Neighbor {
  SampleId sample_id = 0;
  IdentityId identity_id = 0;
  std::string identity;
  SampleKind kind = SampleKind::kReal;
  float distance = 0;  // in the store's metric (Store::metric())
};

struct StoreInfo {
  std::filesystem::path directory;
  StoreConfig config;
  std::uint32_t schema_version = 0;
  std::uint32_t index_format_version = 0;
  std::uint64_t generation = 0;  // commits made so far
  std::int64_t identities = 0;
  std::int64_t single_image_identities = 0;
  std::int64_t images = 0;
  std::int64_t faces = 0;
  std::int64_t fallback_faces = 0;
  std::int64_t real_samples = 0;
  std::int64_t synthetic_samples = 0;
  std::int64_t failures = 0;
  std::int64_t runs = 0;
  std::size_t indexed_vectors = 0;
};

// Result of Store::Check().
struct CheckReport {
  bool ok = true;
  std::vector<std::string> problems;  // one sentence each, empty when ok
  std::size_t index_only_ids = 0;     // ids in the index but not in the database
  std::size_t database_only_ids = 0;  // samples in the database missing from the index
};

struct OpenOptions {
  bool writable = false;  // take the write lock
  // When the index file is older than the database, which is the normal
  // outcome of a crash between the two writes of Commit(), rebuild it from the
  // stored embeddings. A writable store also saves the rebuilt index. When
  // false, Open() throws Error(kCorrupt) instead.
  bool rebuild_stale_index = true;
  // Rebuild the index from the stored embeddings whenever its file is
  // missing, damaged or disagrees with the database, instead of throwing
  // (`facespace store check --repair`). A writable store saves the result.
  bool repair_index = false;
  // Run SQLite's PRAGMA quick_check at open (reads the whole database once).
  bool verify_database = true;
  // Expected configuration; a field left empty / zero is not checked.
  std::string expect_model_id;
  int expect_dimension = 0;
  std::optional<Metric> expect_metric;
};

// ---------------------------------------------------------------------------
// Store

class Store {
 public:
  // Creates a new store in `directory` (created if missing; must not already
  // hold a store) and opens it for writing. Throws Error(kInvalidArgument) for
  // a bad config, Error(kIo) when the directory cannot be written.
  static Store Create(const std::filesystem::path& directory, const StoreConfig& config);

  // Opens an existing store. Throws Error(kNotFound) when there is no store,
  // Error(kCorrupt) for a truncated or altered file or an index that disagrees
  // with the database, Error(kMismatch) when options expect another model,
  // dimension or metric, Error(kLocked) when writable and another process
  // holds the lock.
  static Store Open(const std::filesystem::path& directory, const OpenOptions& options = {});

  // Opens `directory` for writing if it holds a store (checking `config`'s
  // model id, dimension and metric), otherwise creates it with `config`.
  static Store OpenOrCreate(const std::filesystem::path& directory, const StoreConfig& config);

  ~Store();  // rolls back uncommitted writes and releases the lock
  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;

  const std::filesystem::path& directory() const;
  const StoreConfig& config() const;
  Metric metric() const;  // metric of Neighbor::distance and thresholds
  bool writable() const;

  // -- Writes. Each needs a writable store, joins the open transaction (one
  // is started on the first write) and becomes durable only at Commit().
  // Throw Error(kInvalidArgument) for a read-only store or bad values.

  RunId BeginRun(std::string_view command, std::string_view params_json);
  void FinishRun(RunId run, std::string_view status);

  // Returns the id of identity `name`, adding it when new.
  IdentityId AddIdentity(std::string_view name);
  ImageId AddImage(const ImageRecord& image);
  FaceId AddFace(const FaceRecord& face);

  // Adds an embedding of a detected face. `embedding` has dimension() floats;
  // NaN, infinite or all-zero embeddings throw Error(kInvalidArgument) and
  // nothing is written.
  SampleId AddRealSample(IdentityId identity, FaceId face, std::span<const float> embedding,
                         RunId run);

  // Adds a synthetic embedding; provenance.source_sample must exist.
  SampleId AddSyntheticSample(IdentityId identity, const SyntheticProvenance& provenance,
                              std::span<const float> embedding, RunId run);

  void AddFailure(RunId run, std::string_view file, std::string_view stage,
                  std::string_view reason);

  // Commits the open transaction and saves the index atomically. A no-op when
  // nothing was written.
  void Commit();
  // Discards the open transaction (the index is restored from the database).
  void Rollback();

  // Remove samples (and, for RemoveIdentity, the identity with its images,
  // faces and failures-free records) and commit. Synthetic samples made from a
  // removed sample are removed with it. Sample ids are never reused.
  // Returns the number of samples removed.
  std::size_t RemoveSample(SampleId sample);
  std::size_t RemoveIdentity(std::string_view name);

  // -- Reads (see uncommitted writes of this object).

  StoreInfo Info() const;
  std::optional<Sample> GetSample(SampleId id, bool with_embedding = true) const;
  std::vector<Sample> ListSamples(const SampleFilter& filter = {}) const;
  std::vector<Identity> ListIdentities() const;
  std::optional<Identity> FindIdentity(std::string_view name) const;
  std::optional<ImageRecord> FindImageByHash(std::string_view sha256) const;
  std::vector<FaceRecord> FacesOfImage(ImageId image) const;
  std::vector<Failure> ListFailures(std::optional<RunId> run = std::nullopt) const;
  std::vector<Run> ListRuns() const;

  // The index over all committed samples (and those added in the open
  // transaction). Analysis may search it directly.
  const VectorIndex& index() const;

  // Returns up to k neighbours of `query`, nearest first, resolved to samples.
  // An empty store returns an empty vector; k larger than the store returns
  // every sample. Throws Error(kInvalidArgument) for k < 1 or a bad query.
  std::vector<Neighbor> Search(std::span<const float> query, int k) const;
  // Returns all samples within `radius` (store metric), nearest first.
  std::vector<Neighbor> RangeSearch(std::span<const float> query, double radius) const;

  // Compares the index with the database and checks the database's integrity.
  CheckReport Check() const;
  // Rebuilds the index from the stored embeddings and saves it (needs a writable store).
  void RebuildIndex();

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Files written by ExportStore, all with one row per sample in the same order
// (ascending sample id):
//   embeddings.npy  float32 array of shape (rows, dimension), NumPy format 1.0
//   metadata.csv    row,sample_id,identity,identity_id,kind,image_path,
//                   source_sample,recipe,seed (RFC 4180 quoting)
//   vectors.tsv     TensorBoard embedding projector: one vector per line
//   metadata.tsv    TensorBoard projector labels: header line, then
//                   identity, kind, sample id (tabs and line breaks inside
//                   names become spaces because TSV cannot quote them)
struct ExportSummary {
  std::size_t rows = 0;
  std::vector<std::filesystem::path> files;
};

// Writes the samples matching `filter` to `out_dir` (created if missing).
// Throws Error(kIo) when a file cannot be written.
ExportSummary ExportStore(const Store& store, const std::filesystem::path& out_dir,
                          const SampleFilter& filter = {});

// Returns the lower-case hex SHA-256 of a file's content (OpenSSL EVP).
// Throws Error(kIo) when the file cannot be read.
std::string Sha256File(const std::filesystem::path& file);
std::string Sha256Bytes(std::span<const std::uint8_t> bytes);

}  // namespace facespace

#endif  // FACESPACE_STORE_H_
