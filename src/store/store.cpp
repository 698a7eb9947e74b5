// Store: SQLite database as the source of truth, FAISS index as derived data.
#include "facespace/store.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>

#include <nlohmann/json.hpp>

#include "facespace/error.h"
#include "facespace/log.h"
#include "store/index_file.h"
#include "store/schema.h"
#include "store/sqlite.h"
#include "store/store_lock.h"
#include "store/vector_checks.h"

namespace facespace {
namespace {

constexpr const char* kDatabaseName = "store.db";
constexpr const char* kIndexName = "index.faiss";
// Vectors added to a rebuilt index per FAISS call.
constexpr std::size_t kRebuildChunk = 8192;

std::string UtcNow() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

std::span<const std::uint8_t> AsBytes(std::span<const float> values) {
  return {reinterpret_cast<const std::uint8_t*>(values.data()), values.size_bytes()};
}

std::vector<float> VectorFromBlob(std::span<const std::uint8_t> blob, int dimension, SampleId id,
                                  const std::filesystem::path& database) {
  if (blob.size() != static_cast<std::size_t>(dimension) * sizeof(float)) {
    throw Error(ErrorCategory::kCorrupt,
                database.string() + ": embedding of sample " + std::to_string(id) + " has " +
                    std::to_string(blob.size()) + " bytes, expected " +
                    std::to_string(dimension * sizeof(float)));
  }
  std::vector<float> vector(static_cast<std::size_t>(dimension));
  std::memcpy(vector.data(), blob.data(), blob.size());
  return vector;
}

// Checks the fixed header of an SQLite file before SQLite opens it, so a file
// that is not a database or was cut short gets a precise message.
void CheckDatabaseFileHeader(const std::filesystem::path& file) {
  std::ifstream stream(file, std::ios::binary);
  if (!stream) throw Error(ErrorCategory::kIo, file.string() + ": cannot open for reading");
  unsigned char header[100] = {};
  stream.read(reinterpret_cast<char*>(header), sizeof header);
  if (stream.gcount() < static_cast<std::streamsize>(sizeof header) ||
      std::memcmp(header, "SQLite format 3", 16) != 0) {
    throw Error(ErrorCategory::kCorrupt, file.string() + ": not an SQLite database (bad or truncated header)");
  }
  const auto big_endian = [&header](int offset, int bytes) {
    std::uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value = (value << 8) | header[offset + i];
    return value;
  };
  std::uint64_t page_size = big_endian(16, 2);
  if (page_size == 1) page_size = 65536;
  const std::uint64_t page_count = big_endian(28, 4);
  const bool count_valid = big_endian(24, 4) == big_endian(92, 4) && page_count > 0;
  const std::uint64_t size = std::filesystem::file_size(file);
  if (count_valid && size < page_size * page_count) {
    throw Error(ErrorCategory::kCorrupt,
                file.string() + ": truncated: the header says " + std::to_string(page_size * page_count) +
                    " bytes, the file has " + std::to_string(size));
  }
}

std::string MetaValue(sqlite::Database& database, const std::string& key) {
  sqlite::Statement statement(database, "SELECT value FROM meta WHERE key = ?");
  statement.BindText(1, key);
  if (!statement.Step()) {
    throw Error(ErrorCategory::kCorrupt, database.file().string() + ": metadata key '" + key + "' is missing");
  }
  return statement.Text(0);
}

std::int64_t MetaInteger(sqlite::Database& database, const std::string& key) {
  const std::string text = MetaValue(database, key);
  try {
    std::size_t used = 0;
    const long long value = std::stoll(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw Error(ErrorCategory::kCorrupt,
              database.file().string() + ": metadata key '" + key + "' is not an integer: '" + text + "'");
}

std::vector<SampleId> DatabaseSampleIds(sqlite::Database& database) {
  sqlite::Statement statement(database, "SELECT id FROM samples ORDER BY id");
  std::vector<SampleId> ids;
  while (statement.Step()) ids.push_back(statement.Int(0));
  return ids;
}

// Counts ids present in `a` but not in `b`; both sorted.
std::size_t CountMissing(const std::vector<SampleId>& a, const std::vector<SampleId>& b) {
  std::vector<SampleId> difference;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(difference));
  return difference.size();
}

void ValidateConfig(const StoreConfig& config) {
  if (config.model_id.empty()) {
    throw Error(ErrorCategory::kInvalidArgument, "store config: the model id is empty");
  }
  if (config.dimension < 1) {
    throw Error(ErrorCategory::kInvalidArgument,
                "store config: dimension " + std::to_string(config.dimension) + " must be at least 1");
  }
  ValidateIndexFactory(config.index.factory, config.dimension);
}

}  // namespace

std::string_view SampleKindName(SampleKind kind) {
  return kind == SampleKind::kReal ? "real" : "synthetic";
}

SampleKind ParseSampleKind(std::string_view text) {
  if (text == "real") return SampleKind::kReal;
  if (text == "synthetic") return SampleKind::kSynthetic;
  throw Error(ErrorCategory::kInvalidArgument,
              "sample kind '" + std::string(text) + "': expected real or synthetic");
}

std::string_view ImageStatusName(ImageStatus status) {
  switch (status) {
    case ImageStatus::kOk: return "ok";
    case ImageStatus::kDecodeFailed: return "decode-failed";
    case ImageStatus::kNoFace: return "no-face";
  }
  return "ok";
}

namespace {

ImageStatus ParseImageStatus(const std::string& text) {
  if (text == "decode-failed") return ImageStatus::kDecodeFailed;
  if (text == "no-face") return ImageStatus::kNoFace;
  return ImageStatus::kOk;
}

}  // namespace

struct Store::Impl {
  std::filesystem::path directory;
  StoreConfig config;
  std::unique_ptr<StoreLock> lock;  // set for a writable store
  std::unique_ptr<sqlite::Database> database;
  std::unique_ptr<VectorIndex> index;
  std::uint64_t generation = 0;
  bool in_transaction = false;
  bool samples_changed = false;  // the open transaction added or removed samples

  std::filesystem::path DatabasePath() const { return directory / kDatabaseName; }
  std::filesystem::path IndexPath() const { return directory / kIndexName; }
  bool writable() const { return lock != nullptr; }

  void RequireWritable(std::string_view operation) const {
    if (!writable()) {
      throw Error(ErrorCategory::kInvalidArgument,
                  directory.string() + ": " + std::string(operation) + ": the store was opened read-only");
    }
  }

  void BeginWrite(std::string_view operation) {
    RequireWritable(operation);
    if (in_transaction) return;
    database->Execute("BEGIN IMMEDIATE");
    in_transaction = true;
    samples_changed = false;
  }

  void ReadConfig() {
    const std::int64_t schema = MetaInteger(*database, "schema_version");
    if (schema != kStoreSchemaVersion) {
      throw Error(ErrorCategory::kMismatch,
                  DatabasePath().string() + ": schema version " + std::to_string(schema) +
                      ", this build reads version " + std::to_string(kStoreSchemaVersion));
    }
    config.model_id = MetaValue(*database, "model_id");
    config.dimension = static_cast<int>(MetaInteger(*database, "dimension"));
    config.index.metric = ParseMetric(MetaValue(*database, "metric"));
    config.index.factory = MetaValue(*database, "index_factory");
    config.index.hnsw_ef_search = static_cast<int>(MetaInteger(*database, "hnsw_ef_search"));
    config.index.ivf_nprobe = static_cast<int>(MetaInteger(*database, "ivf_nprobe"));
    generation = static_cast<std::uint64_t>(MetaInteger(*database, "generation"));
  }

  // Builds an index from the embeddings table.
  std::unique_ptr<VectorIndex> BuildIndexFromDatabase() {
    auto rebuilt = std::make_unique<VectorIndex>(config.dimension, config.index);
    sqlite::Statement statement(*database, "SELECT sample_id, vector FROM embeddings ORDER BY sample_id");
    std::vector<SampleId> ids;
    std::vector<float> vectors;
    const auto flush = [&] {
      rebuilt->Add(ids, vectors);
      ids.clear();
      vectors.clear();
    };
    while (statement.Step()) {
      const SampleId id = statement.Int(0);
      const std::vector<float> vector = VectorFromBlob(statement.BlobView(1), config.dimension, id, DatabasePath());
      ids.push_back(id);
      vectors.insert(vectors.end(), vector.begin(), vector.end());
      if (ids.size() == kRebuildChunk) flush();
    }
    flush();
    return rebuilt;
  }

  void SaveIndex() {
    IndexFileHeader header;
    header.generation = generation;
    header.dimension = static_cast<std::uint32_t>(config.dimension);
    header.metric = config.index.metric;
    header.model_id = config.model_id;
    header.factory = config.index.factory;
    header.vector_count = index->size();
    WriteIndexFile(IndexPath(), header, index->Serialize());
  }

  // Loads index.faiss and checks it against the database; returns a
  // description of the problem instead when the file cannot be used.
  std::string TryLoadIndex(const std::vector<SampleId>& database_ids, bool& stale) {
    stale = false;
    IndexFile file;
    try {
      file = ReadIndexFile(IndexPath());
    } catch (const Error& error) {
      if (error.category() == ErrorCategory::kNotFound) {
        stale = true;
        return IndexPath().string() + ": missing";
      }
      return error.what();
    }
    const IndexFileHeader& header = file.header;
    if (header.model_id != config.model_id || header.dimension != static_cast<std::uint32_t>(config.dimension) ||
        header.metric != config.index.metric || header.factory != config.index.factory) {
      return IndexPath().string() + ": built for model '" + header.model_id + "', dimension " +
             std::to_string(header.dimension) + ", metric " + std::string(MetricName(header.metric)) +
             ", index '" + header.factory + "' but the database has model '" + config.model_id +
             "', dimension " + std::to_string(config.dimension) + ", metric " +
             std::string(MetricName(config.index.metric)) + ", index '" + config.index.factory + "'";
    }
    if (header.generation < generation) {
      stale = true;
      return IndexPath().string() + ": generation " + std::to_string(header.generation) +
             " is older than the database's generation " + std::to_string(generation);
    }
    if (header.generation > generation) {
      return IndexPath().string() + ": generation " + std::to_string(header.generation) +
             " is newer than the database's generation " + std::to_string(generation) +
             " (was the database replaced by an older copy?)";
    }
    try {
      index = std::make_unique<VectorIndex>(
          VectorIndex::Deserialize(config.dimension, config.index, file.payload));
    } catch (const Error& error) {
      return IndexPath().string() + ": " + error.what();
    }
    const std::vector<SampleId> index_ids = index->Ids();
    if (index_ids != database_ids) {
      index.reset();
      return IndexPath().string() + ": holds " + std::to_string(index_ids.size()) + " vectors but " +
             DatabasePath().string() + " has " + std::to_string(database_ids.size()) + " samples (" +
             std::to_string(CountMissing(index_ids, database_ids)) + " only in the index, " +
             std::to_string(CountMissing(database_ids, index_ids)) + " only in the database)";
    }
    return {};
  }

  void LoadIndex(const OpenOptions& options) {
    const std::vector<SampleId> database_ids = DatabaseSampleIds(*database);
    bool stale = false;
    const std::string problem = TryLoadIndex(database_ids, stale);
    if (problem.empty()) return;

    // A reader may race a writer that has committed the database but not yet
    // renamed the new index file into place. That index is one generation behind.
    const bool racing_writer = !writable() && StoreLock::IsHeld(directory);
    const bool rebuild = options.repair_index || (stale && options.rebuild_stale_index) || racing_writer;
    if (!rebuild) {
      throw Error(ErrorCategory::kCorrupt,
                  problem + "; run `facespace store check --repair --store " + directory.string() +
                      "` to rebuild the index from the stored embeddings");
    }
    Logger().warn("{}; rebuilding the index from {} stored embeddings", problem, database_ids.size());
    index = BuildIndexFromDatabase();
    if (writable()) SaveIndex();
  }

  void CheckExpectations(const OpenOptions& options) const {
    const std::string subject = directory.string() + ": ";
    if (!options.expect_model_id.empty() && options.expect_model_id != config.model_id) {
      throw Error(ErrorCategory::kMismatch, subject + "the store holds embeddings of model '" + config.model_id +
                                                "', but model '" + options.expect_model_id + "' is in use");
    }
    if (options.expect_dimension != 0 && options.expect_dimension != config.dimension) {
      throw Error(ErrorCategory::kMismatch,
                  subject + "the store holds " + std::to_string(config.dimension) +
                      "-dimensional embeddings, but the model makes " + std::to_string(options.expect_dimension) +
                      "-dimensional ones");
    }
    if (options.expect_metric && *options.expect_metric != config.index.metric) {
      throw Error(ErrorCategory::kMismatch, subject + "the store's metric is " +
                                                std::string(MetricName(config.index.metric)) + ", but " +
                                                std::string(MetricName(*options.expect_metric)) + " was requested");
    }
  }

  void ApplyPragmas() {
    database->Execute("PRAGMA foreign_keys = ON");
    database->Execute("PRAGMA synchronous = FULL");
    if (!writable()) database->Execute("PRAGMA query_only = ON");
  }

  Neighbor Resolve(const IndexHit& hit) {
    sqlite::Statement statement(*database,
                                "SELECT s.identity_id, i.name, s.kind FROM samples s "
                                "JOIN identities i ON i.id = s.identity_id WHERE s.id = ?");
    statement.Bind(1, hit.id);
    if (!statement.Step()) {
      throw Error(ErrorCategory::kCorrupt, DatabasePath().string() + ": the index returned sample " +
                                               std::to_string(hit.id) + ", which the database does not hold");
    }
    Neighbor neighbor;
    neighbor.sample_id = hit.id;
    neighbor.identity_id = statement.Int(0);
    neighbor.identity = statement.Text(1);
    neighbor.kind = ParseSampleKind(statement.Text(2));
    neighbor.distance = hit.distance;
    return neighbor;
  }

  std::vector<Sample> QuerySamples(const SampleFilter& filter, std::optional<SampleId> only);
  std::size_t RemoveWhere(const std::string& root_condition, std::int64_t value,
                          const std::string& delete_sql);
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() {
  if (impl_ && impl_->in_transaction) {
    try {
      impl_->database->Execute("ROLLBACK");
    } catch (const Error& error) {
      Logger().error("{}", error.what());
    }
  }
}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;

Store Store::Create(const std::filesystem::path& directory, const StoreConfig& config) {
  ValidateConfig(config);
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) throw Error(ErrorCategory::kIo, directory.string() + ": cannot create directory: " + error.message());
  if (std::filesystem::exists(directory / kDatabaseName)) {
    throw Error(ErrorCategory::kInvalidArgument, directory.string() + ": already contains a store");
  }

  auto impl = std::make_unique<Impl>();
  impl->directory = directory;
  impl->config = config;
  impl->lock = std::make_unique<StoreLock>(directory);

  // Build the database under a temporary name so a crash never leaves a
  // half-initialised store.db behind.
  const std::filesystem::path temporary = directory / "store.db.creating";
  std::filesystem::remove(temporary, error);
  {
    sqlite::Database database(temporary, true, true);
    database.Execute("PRAGMA journal_mode = DELETE");
    database.Execute("BEGIN");
    database.Execute(kStoreSchemaSql);
    sqlite::Statement insert(database, "INSERT INTO meta (key, value) VALUES (?, ?)");
    const std::pair<std::string, std::string> entries[] = {
        {"schema_version", std::to_string(kStoreSchemaVersion)},
        {"model_id", config.model_id},
        {"dimension", std::to_string(config.dimension)},
        {"metric", std::string(MetricName(config.index.metric))},
        {"index_factory", config.index.factory},
        {"hnsw_ef_search", std::to_string(config.index.hnsw_ef_search)},
        {"ivf_nprobe", std::to_string(config.index.ivf_nprobe)},
        {"generation", "0"},
        {"created_at", UtcNow()},
        {"created_by", std::string("facespace ") + FACESPACE_VERSION},
    };
    for (const auto& [key, value] : entries) {
      insert.BindText(1, key).BindText(2, value);
      insert.Run();
    }
    database.Execute("COMMIT");
    database.Execute("PRAGMA journal_mode = WAL");
  }
  std::filesystem::rename(temporary, directory / kDatabaseName, error);
  if (error) throw Error(ErrorCategory::kIo, directory.string() + ": cannot finish creating store.db: " + error.message());

  impl->database = std::make_unique<sqlite::Database>(impl->DatabasePath(), true, false);
  impl->ApplyPragmas();
  impl->index = std::make_unique<VectorIndex>(config.dimension, config.index);
  impl->SaveIndex();
  Logger().info("{}: created store (model {}, dimension {}, metric {}, index {})", directory.string(),
                config.model_id, config.dimension, MetricName(config.index.metric), config.index.factory);
  return Store(std::move(impl));
}

Store Store::Open(const std::filesystem::path& directory, const OpenOptions& options) {
  if (!std::filesystem::is_directory(directory)) {
    throw Error(ErrorCategory::kNotFound, directory.string() + ": no such store directory");
  }
  if (!std::filesystem::exists(directory / kDatabaseName)) {
    throw Error(ErrorCategory::kNotFound, directory.string() + ": not a facespace store (no " +
                                              std::string(kDatabaseName) + ")");
  }
  auto impl = std::make_unique<Impl>();
  impl->directory = directory;
  if (options.writable) impl->lock = std::make_unique<StoreLock>(directory);

  CheckDatabaseFileHeader(impl->DatabasePath());
  // Readers open read-write so SQLite can create the WAL index file, and then
  // set query_only; they take no store lock.
  impl->database = std::make_unique<sqlite::Database>(impl->DatabasePath(), true, false);
  impl->ApplyPragmas();
  if (options.verify_database) {
    sqlite::Statement check(*impl->database, "PRAGMA quick_check(1)");
    if (check.Step() && check.Text(0) != "ok") {
      throw Error(ErrorCategory::kCorrupt, impl->DatabasePath().string() + ": damaged: " + check.Text(0));
    }
  }

  // One read transaction gives a consistent snapshot of configuration and ids.
  impl->database->Execute("BEGIN");
  try {
    impl->ReadConfig();
    impl->CheckExpectations(options);
    impl->LoadIndex(options);
  } catch (...) {
    impl->database->Execute("ROLLBACK");
    throw;
  }
  impl->database->Execute("COMMIT");
  return Store(std::move(impl));
}

Store Store::OpenOrCreate(const std::filesystem::path& directory, const StoreConfig& config) {
  if (!std::filesystem::exists(directory / kDatabaseName)) return Create(directory, config);
  OpenOptions options;
  options.writable = true;
  options.expect_model_id = config.model_id;
  options.expect_dimension = config.dimension;
  options.expect_metric = config.index.metric;
  Store store = Open(directory, options);
  if (store.config().index.factory != config.index.factory) {
    Logger().warn("{}: keeping the store's index '{}'; '{}' applies only to new stores", directory.string(),
                  store.config().index.factory, config.index.factory);
  }
  return store;
}

const std::filesystem::path& Store::directory() const { return impl_->directory; }
const StoreConfig& Store::config() const { return impl_->config; }
Metric Store::metric() const { return impl_->config.index.metric; }
bool Store::writable() const { return impl_->writable(); }
const VectorIndex& Store::index() const { return *impl_->index; }

RunId Store::BeginRun(std::string_view command, std::string_view params_json) {
  impl_->BeginWrite("begin run");
  sqlite::Statement statement(*impl_->database,
                              "INSERT INTO runs (command, params_json, started_at, status) "
                              "VALUES (?, ?, ?, 'running')");
  statement.BindText(1, command).BindText(2, params_json.empty() ? "{}" : params_json).BindText(3, UtcNow());
  statement.Run();
  return impl_->database->LastInsertId();
}

void Store::FinishRun(RunId run, std::string_view status) {
  impl_->BeginWrite("finish run");
  sqlite::Statement statement(*impl_->database, "UPDATE runs SET finished_at = ?, status = ? WHERE id = ?");
  statement.BindText(1, UtcNow()).BindText(2, status).Bind(3, run);
  statement.Run();
  if (impl_->database->Changes() == 0) {
    throw Error(ErrorCategory::kNotFound, "run " + std::to_string(run) + ": no such run");
  }
}

IdentityId Store::AddIdentity(std::string_view name) {
  if (name.empty()) throw Error(ErrorCategory::kInvalidArgument, "identity name: empty");
  impl_->BeginWrite("add identity");
  sqlite::Statement find(*impl_->database, "SELECT id FROM identities WHERE name = ?");
  find.BindBlob(1, name);
  if (find.Step()) return find.Int(0);
  sqlite::Statement insert(*impl_->database, "INSERT INTO identities (name) VALUES (?)");
  insert.BindBlob(1, name);
  insert.Run();
  return impl_->database->LastInsertId();
}

ImageId Store::AddImage(const ImageRecord& image) {
  impl_->BeginWrite("add image");
  sqlite::Statement insert(*impl_->database,
                           "INSERT INTO images (identity_id, relative_path, sha256, size_bytes, status, width, height) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)");
  insert.Bind(1, image.identity_id)
      .BindBlob(2, image.relative_path)
      .BindText(3, image.sha256)
      .Bind(4, image.size_bytes)
      .BindText(5, ImageStatusName(image.status))
      .Bind(6, std::int64_t{image.width})
      .Bind(7, std::int64_t{image.height});
  insert.Run();
  return impl_->database->LastInsertId();
}

FaceId Store::AddFace(const FaceRecord& face) {
  impl_->BeginWrite("add face");
  sqlite::Statement insert(*impl_->database,
                           "INSERT INTO faces (image_id, box_left, box_top, box_right, box_bottom, landmarks, "
                           "detector_score, fallback) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  insert.Bind(1, face.image_id)
      .Bind(2, std::int64_t{face.box.left})
      .Bind(3, std::int64_t{face.box.top})
      .Bind(4, std::int64_t{face.box.right})
      .Bind(5, std::int64_t{face.box.bottom})
      .BindBlob(6, AsBytes(face.landmarks))
      .Bind(7, face.detector_score)
      .Bind(8, std::int64_t{face.fallback ? 1 : 0});
  insert.Run();
  return impl_->database->LastInsertId();
}

namespace {

void CheckDimension(std::span<const float> embedding, int dimension, const std::string& subject) {
  if (embedding.size() != static_cast<std::size_t>(dimension)) {
    throw Error(ErrorCategory::kInvalidArgument, subject + ": has " + std::to_string(embedding.size()) +
                                                     " components, the store holds " + std::to_string(dimension));
  }
}

}  // namespace

SampleId Store::AddRealSample(IdentityId identity, FaceId face, std::span<const float> embedding, RunId run) {
  const std::string subject = "embedding of face " + std::to_string(face);
  CheckDimension(embedding, impl_->config.dimension, subject);
  CheckEmbedding(embedding, subject);
  impl_->BeginWrite("add sample");

  sqlite::Statement insert(*impl_->database,
                           "INSERT INTO samples (identity_id, kind, face_id, run_id) VALUES (?, 'real', ?, ?)");
  insert.Bind(1, identity).Bind(2, face).Bind(3, run);
  insert.Run();
  const SampleId id = impl_->database->LastInsertId();
  sqlite::Statement vector(*impl_->database, "INSERT INTO embeddings (sample_id, vector) VALUES (?, ?)");
  vector.Bind(1, id).BindBlob(2, AsBytes(embedding));
  vector.Run();

  impl_->samples_changed = true;
  impl_->index->Add(std::span<const SampleId>(&id, 1), embedding);
  return id;
}

SampleId Store::AddSyntheticSample(IdentityId identity, const SyntheticProvenance& provenance,
                                   std::span<const float> embedding, RunId run) {
  const std::string subject = "synthetic embedding from sample " + std::to_string(provenance.source_sample);
  CheckDimension(embedding, impl_->config.dimension, subject);
  CheckEmbedding(embedding, subject);
  const std::string params = provenance.params_json.empty() ? "{}" : provenance.params_json;
  if (!nlohmann::json::accept(params) || !nlohmann::json::parse(params).is_object()) {
    throw Error(ErrorCategory::kInvalidArgument, subject + ": parameters are not a JSON object: " + params);
  }
  impl_->BeginWrite("add synthetic sample");

  sqlite::Statement source(*impl_->database, "SELECT 1 FROM samples WHERE id = ?");
  source.Bind(1, provenance.source_sample);
  if (!source.Step()) {
    throw Error(ErrorCategory::kNotFound,
                "sample " + std::to_string(provenance.source_sample) + ": no such source sample");
  }
  sqlite::Statement insert(*impl_->database,
                           "INSERT INTO samples (identity_id, kind, source_sample_id, recipe, params_json, seed, "
                           "run_id) VALUES (?, 'synthetic', ?, ?, ?, ?, ?)");
  insert.Bind(1, identity)
      .Bind(2, provenance.source_sample)
      .BindText(3, provenance.recipe)
      .BindText(4, params)
      .Bind(5, static_cast<std::int64_t>(provenance.seed))
      .Bind(6, run);
  insert.Run();
  const SampleId id = impl_->database->LastInsertId();
  sqlite::Statement vector(*impl_->database, "INSERT INTO embeddings (sample_id, vector) VALUES (?, ?)");
  vector.Bind(1, id).BindBlob(2, AsBytes(embedding));
  vector.Run();

  impl_->samples_changed = true;
  impl_->index->Add(std::span<const SampleId>(&id, 1), embedding);
  return id;
}

void Store::AddFailure(RunId run, std::string_view file, std::string_view stage, std::string_view reason) {
  impl_->BeginWrite("add failure");
  sqlite::Statement insert(*impl_->database,
                           "INSERT INTO failures (run_id, file, stage, reason) VALUES (?, ?, ?, ?)");
  insert.Bind(1, run).BindBlob(2, file).BindText(3, stage).BindText(4, reason);
  insert.Run();
}

void Store::Commit() {
  if (!impl_->in_transaction) return;
  const bool samples_changed = impl_->samples_changed;
  try {
    if (samples_changed) {
      sqlite::Statement bump(*impl_->database, "UPDATE meta SET value = ? WHERE key = 'generation'");
      bump.BindText(1, std::to_string(impl_->generation + 1));
      bump.Run();
    }
    impl_->database->Execute("COMMIT");
  } catch (const Error&) {
    Rollback();
    throw;
  }
  impl_->in_transaction = false;
  impl_->samples_changed = false;
  if (!samples_changed) return;
  // The database is now the new state; a crash before the rename below
  // leaves an index one generation behind, which Open() rebuilds.
  ++impl_->generation;
  impl_->SaveIndex();
}

void Store::Rollback() {
  if (!impl_->in_transaction) return;
  impl_->database->Execute("ROLLBACK");
  impl_->in_transaction = false;
  if (impl_->samples_changed) impl_->index = impl_->BuildIndexFromDatabase();
  impl_->samples_changed = false;
}

std::size_t Store::Impl::RemoveWhere(const std::string& root_condition, std::int64_t value,
                                     const std::string& delete_sql) {
  BeginWrite("remove");
  // Synthetic samples made from a removed sample go with it (ON DELETE CASCADE);
  // collect them first so they also leave the index.
  sqlite::Statement doomed(*database,
                           "WITH RECURSIVE doomed(id) AS (SELECT id FROM samples WHERE " + root_condition +
                               " UNION SELECT s.id FROM samples s JOIN doomed d ON s.source_sample_id = d.id) "
                               "SELECT id FROM doomed");
  doomed.Bind(1, value);
  std::vector<SampleId> ids;
  while (doomed.Step()) ids.push_back(doomed.Int(0));

  sqlite::Statement remove(*database, delete_sql);
  remove.Bind(1, value);
  remove.Run();
  if (!ids.empty()) {
    samples_changed = true;
    index->Remove(ids);
  }
  return ids.size();
}

std::size_t Store::RemoveSample(SampleId sample) {
  if (!GetSample(sample, false)) {
    throw Error(ErrorCategory::kNotFound, "sample " + std::to_string(sample) + ": no such sample");
  }
  const std::size_t removed = impl_->RemoveWhere("id = ?", sample, "DELETE FROM samples WHERE id = ?");
  Commit();
  return removed;
}

std::size_t Store::RemoveIdentity(std::string_view name) {
  const std::optional<Identity> identity = FindIdentity(name);
  if (!identity) throw Error(ErrorCategory::kNotFound, "identity '" + std::string(name) + "': no such identity");
  const std::size_t removed =
      impl_->RemoveWhere("identity_id = ?", identity->id, "DELETE FROM identities WHERE id = ?");
  Commit();
  return removed;
}

StoreInfo Store::Info() const {
  StoreInfo info;
  info.directory = impl_->directory;
  info.config = impl_->config;
  info.schema_version = kStoreSchemaVersion;
  info.index_format_version = kIndexFormatVersion;
  info.generation = impl_->generation;
  info.indexed_vectors = impl_->index->size();
  const auto count = [this](const char* sql) {
    sqlite::Statement statement(*impl_->database, sql);
    statement.Step();
    return statement.Int(0);
  };
  info.identities = count("SELECT COUNT(*) FROM identities");
  info.single_image_identities = count(
      "SELECT COUNT(*) FROM (SELECT identity_id FROM images WHERE status = 'ok' "
      "GROUP BY identity_id HAVING COUNT(*) = 1)");
  info.images = count("SELECT COUNT(*) FROM images");
  info.faces = count("SELECT COUNT(*) FROM faces");
  info.fallback_faces = count("SELECT COUNT(*) FROM faces WHERE fallback = 1");
  info.real_samples = count("SELECT COUNT(*) FROM samples WHERE kind = 'real'");
  info.synthetic_samples = count("SELECT COUNT(*) FROM samples WHERE kind = 'synthetic'");
  info.failures = count("SELECT COUNT(*) FROM failures");
  info.runs = count("SELECT COUNT(*) FROM runs");
  return info;
}

std::vector<Sample> Store::Impl::QuerySamples(const SampleFilter& filter, std::optional<SampleId> only) {
  const std::string sql =
      std::string(
          "SELECT s.id, s.identity_id, i.name, s.kind, s.face_id, s.source_sample_id, s.recipe, "
          "s.params_json, s.seed, s.run_id, COALESCE(f.image_id, sf.image_id), img.relative_path, ") +
      (filter.with_embeddings ? "e.vector" : "NULL") +
      " FROM samples s JOIN identities i ON i.id = s.identity_id "
      "LEFT JOIN faces f ON f.id = s.face_id "
      "LEFT JOIN samples src ON src.id = s.source_sample_id "
      "LEFT JOIN faces sf ON sf.id = src.face_id "
      "LEFT JOIN images img ON img.id = COALESCE(f.image_id, sf.image_id) " +
      (filter.with_embeddings ? "LEFT JOIN embeddings e ON e.sample_id = s.id " : "") +
      "WHERE (?1 IS NULL OR s.kind = ?1) AND (?2 IS NULL OR s.identity_id = ?2) "
      "AND (?3 IS NULL OR s.run_id = ?3) AND (?4 IS NULL OR s.id = ?4) ORDER BY s.id";
  sqlite::Statement statement(*database, sql);
  if (filter.kind) statement.BindText(1, SampleKindName(*filter.kind));
  if (filter.identity_id) statement.Bind(2, *filter.identity_id);
  if (filter.run_id) statement.Bind(3, *filter.run_id);
  if (only) statement.Bind(4, *only);

  std::vector<Sample> samples;
  while (statement.Step()) {
    Sample sample;
    sample.id = statement.Int(0);
    sample.identity_id = statement.Int(1);
    sample.identity = statement.Text(2);
    sample.kind = ParseSampleKind(statement.Text(3));
    if (!statement.IsNull(4)) sample.face_id = statement.Int(4);
    if (sample.kind == SampleKind::kSynthetic) {
      SyntheticProvenance provenance;
      provenance.source_sample = statement.Int(5);
      provenance.recipe = statement.Text(6);
      provenance.params_json = statement.Text(7);
      provenance.seed = static_cast<std::uint64_t>(statement.Int(8));
      sample.synthetic = provenance;
    }
    sample.run_id = statement.Int(9);
    if (!statement.IsNull(10)) sample.image_id = statement.Int(10);
    sample.image_path = statement.Text(11);
    if (filter.with_embeddings) {
      sample.embedding = VectorFromBlob(statement.BlobView(12), config.dimension, sample.id, DatabasePath());
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

std::optional<Sample> Store::GetSample(SampleId id, bool with_embedding) const {
  SampleFilter filter;
  filter.with_embeddings = with_embedding;
  std::vector<Sample> samples = impl_->QuerySamples(filter, id);
  if (samples.empty()) return std::nullopt;
  return std::move(samples.front());
}

std::vector<Sample> Store::ListSamples(const SampleFilter& filter) const {
  return impl_->QuerySamples(filter, std::nullopt);
}

std::vector<Identity> Store::ListIdentities() const {
  sqlite::Statement statement(*impl_->database,
                              "SELECT i.id, i.name, "
                              "(SELECT COUNT(*) FROM images m WHERE m.identity_id = i.id AND m.status = 'ok'), "
                              "(SELECT COUNT(*) FROM samples s WHERE s.identity_id = i.id) "
                              "FROM identities i ORDER BY i.name");
  std::vector<Identity> identities;
  while (statement.Step()) {
    Identity identity;
    identity.id = statement.Int(0);
    identity.name = statement.Text(1);
    identity.image_count = statement.Int(2);
    identity.sample_count = statement.Int(3);
    identity.single_image = identity.image_count == 1;
    identities.push_back(std::move(identity));
  }
  return identities;
}

std::optional<Identity> Store::FindIdentity(std::string_view name) const {
  sqlite::Statement statement(*impl_->database,
                              "SELECT i.id, "
                              "(SELECT COUNT(*) FROM images m WHERE m.identity_id = i.id AND m.status = 'ok'), "
                              "(SELECT COUNT(*) FROM samples s WHERE s.identity_id = i.id) "
                              "FROM identities i WHERE i.name = ?");
  statement.BindBlob(1, name);
  if (!statement.Step()) return std::nullopt;
  Identity identity;
  identity.id = statement.Int(0);
  identity.name = std::string(name);
  identity.image_count = statement.Int(1);
  identity.sample_count = statement.Int(2);
  identity.single_image = identity.image_count == 1;
  return identity;
}

std::optional<ImageRecord> Store::FindImageByHash(std::string_view sha256) const {
  sqlite::Statement statement(*impl_->database,
                              "SELECT id, identity_id, relative_path, size_bytes, status, width, height "
                              "FROM images WHERE sha256 = ?");
  statement.BindText(1, sha256);
  if (!statement.Step()) return std::nullopt;
  ImageRecord image;
  image.id = statement.Int(0);
  image.identity_id = statement.Int(1);
  image.relative_path = statement.Text(2);
  image.sha256 = std::string(sha256);
  image.size_bytes = statement.Int(3);
  image.status = ParseImageStatus(statement.Text(4));
  image.width = static_cast<int>(statement.Int(5));
  image.height = static_cast<int>(statement.Int(6));
  return image;
}

std::vector<FaceRecord> Store::FacesOfImage(ImageId image) const {
  sqlite::Statement statement(*impl_->database,
                              "SELECT id, box_left, box_top, box_right, box_bottom, landmarks, detector_score, "
                              "fallback FROM faces WHERE image_id = ? ORDER BY id");
  statement.Bind(1, image);
  std::vector<FaceRecord> faces;
  while (statement.Step()) {
    FaceRecord face;
    face.id = statement.Int(0);
    face.image_id = image;
    face.box = {static_cast<int>(statement.Int(1)), static_cast<int>(statement.Int(2)),
                static_cast<int>(statement.Int(3)), static_cast<int>(statement.Int(4))};
    const auto blob = statement.BlobView(5);
    face.landmarks.resize(blob.size() / sizeof(float));
    std::memcpy(face.landmarks.data(), blob.data(), face.landmarks.size() * sizeof(float));
    face.detector_score = statement.Real(6);
    face.fallback = statement.Int(7) != 0;
    faces.push_back(std::move(face));
  }
  return faces;
}

std::vector<Failure> Store::ListFailures(std::optional<RunId> run) const {
  sqlite::Statement statement(*impl_->database,
                              "SELECT id, run_id, file, stage, reason FROM failures "
                              "WHERE (?1 IS NULL OR run_id = ?1) ORDER BY id");
  if (run) statement.Bind(1, *run);
  std::vector<Failure> failures;
  while (statement.Step()) {
    failures.push_back({statement.Int(0), statement.Int(1), statement.Text(2), statement.Text(3), statement.Text(4)});
  }
  return failures;
}

std::vector<Run> Store::ListRuns() const {
  sqlite::Statement statement(*impl_->database,
                              "SELECT id, command, params_json, started_at, finished_at, status FROM runs ORDER BY id");
  std::vector<Run> runs;
  while (statement.Step()) {
    runs.push_back({statement.Int(0), statement.Text(1), statement.Text(2), statement.Text(3), statement.Text(4),
                    statement.Text(5)});
  }
  return runs;
}

std::vector<Neighbor> Store::Search(std::span<const float> query, int k) const {
  std::vector<Neighbor> neighbors;
  for (const IndexHit& hit : impl_->index->Search(query, k)) neighbors.push_back(impl_->Resolve(hit));
  return neighbors;
}

std::vector<Neighbor> Store::RangeSearch(std::span<const float> query, double radius) const {
  std::vector<Neighbor> neighbors;
  for (const IndexHit& hit : impl_->index->RangeSearch(query, radius)) neighbors.push_back(impl_->Resolve(hit));
  return neighbors;
}

CheckReport Store::Check() const {
  CheckReport report;
  const auto problem = [&report](std::string text) {
    report.ok = false;
    report.problems.push_back(std::move(text));
  };
  const std::string database_name = impl_->DatabasePath().string();

  sqlite::Statement integrity(*impl_->database, "PRAGMA integrity_check(20)");
  while (integrity.Step()) {
    if (integrity.Text(0) != "ok") problem(database_name + ": " + integrity.Text(0));
  }
  sqlite::Statement foreign_keys(*impl_->database, "PRAGMA foreign_key_check");
  while (foreign_keys.Step()) {
    problem(database_name + ": row " + std::to_string(foreign_keys.Int(1)) + " of table " + foreign_keys.Text(0) +
            " refers to a missing row of " + foreign_keys.Text(2));
  }
  sqlite::Statement missing(*impl_->database,
                            "SELECT COUNT(*) FROM samples s LEFT JOIN embeddings e ON e.sample_id = s.id "
                            "WHERE e.sample_id IS NULL OR length(e.vector) != ?");
  missing.Bind(1, static_cast<std::int64_t>(impl_->config.dimension * sizeof(float)));
  if (missing.Step() && missing.Int(0) > 0) {
    problem(database_name + ": " + std::to_string(missing.Int(0)) +
            " samples have no embedding or one of the wrong size");
  }

  const std::vector<SampleId> database_ids = DatabaseSampleIds(*impl_->database);
  try {
    const IndexFile file = ReadIndexFile(impl_->IndexPath());
    if (file.header.generation != impl_->generation) {
      problem(impl_->IndexPath().string() + ": generation " + std::to_string(file.header.generation) +
              " differs from the database's generation " + std::to_string(impl_->generation));
    }
    const VectorIndex on_disk = VectorIndex::Deserialize(impl_->config.dimension, impl_->config.index, file.payload);
    const std::vector<SampleId> index_ids = on_disk.Ids();
    report.index_only_ids = CountMissing(index_ids, database_ids);
    report.database_only_ids = CountMissing(database_ids, index_ids);
    if (report.index_only_ids > 0 || report.database_only_ids > 0) {
      problem(impl_->IndexPath().string() + ": " + std::to_string(report.index_only_ids) +
              " ids only in the index, " + std::to_string(report.database_only_ids) + " samples missing from it");
    }
  } catch (const Error& error) {
    problem(error.what());
  }
  return report;
}

void Store::RebuildIndex() {
  impl_->RequireWritable("rebuild index");
  if (impl_->in_transaction) Commit();
  impl_->index = impl_->BuildIndexFromDatabase();
  impl_->SaveIndex();
}

}  // namespace facespace
