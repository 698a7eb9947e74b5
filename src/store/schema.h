// The SQLite schema of a store, version kStoreSchemaVersion.
//
// Names and paths are BLOBs so they are stored and compared byte for byte,
// whatever their encoding. Every foreign-key column has an index so cascading
// deletes stay fast. AUTOINCREMENT keeps ids of deleted rows from being reused.
#ifndef FACESPACE_SRC_STORE_SCHEMA_H_
#define FACESPACE_SRC_STORE_SCHEMA_H_

namespace facespace {

inline constexpr const char* kStoreSchemaSql = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE runs (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  command     TEXT NOT NULL,
  params_json TEXT NOT NULL,
  started_at  TEXT NOT NULL,
  finished_at TEXT,
  status      TEXT NOT NULL
);
CREATE TABLE identities (
  id   INTEGER PRIMARY KEY AUTOINCREMENT,
  name BLOB NOT NULL UNIQUE
);
CREATE TABLE images (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  identity_id   INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
  relative_path BLOB NOT NULL,
  sha256        TEXT NOT NULL UNIQUE,
  size_bytes    INTEGER NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('ok', 'decode-failed', 'no-face')),
  width         INTEGER NOT NULL,
  height        INTEGER NOT NULL
);
CREATE INDEX images_identity ON images(identity_id);
CREATE TABLE faces (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  image_id       INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  box_left       INTEGER NOT NULL,
  box_top        INTEGER NOT NULL,
  box_right      INTEGER NOT NULL,
  box_bottom     INTEGER NOT NULL,
  landmarks      BLOB NOT NULL,
  detector_score REAL NOT NULL,
  fallback       INTEGER NOT NULL CHECK (fallback IN (0, 1))
);
CREATE INDEX faces_image ON faces(image_id);
CREATE TABLE samples (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  identity_id      INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
  kind             TEXT NOT NULL CHECK (kind IN ('real', 'synthetic')),
  face_id          INTEGER REFERENCES faces(id) ON DELETE CASCADE,
  source_sample_id INTEGER REFERENCES samples(id) ON DELETE CASCADE,
  recipe           TEXT,
  params_json      TEXT,
  seed             INTEGER,
  run_id           INTEGER NOT NULL REFERENCES runs(id),
  CHECK ((kind = 'real' AND face_id IS NOT NULL AND source_sample_id IS NULL) OR
         (kind = 'synthetic' AND source_sample_id IS NOT NULL))
);
CREATE INDEX samples_identity ON samples(identity_id);
CREATE INDEX samples_face ON samples(face_id);
CREATE INDEX samples_source ON samples(source_sample_id);
CREATE INDEX samples_run ON samples(run_id);
CREATE TABLE embeddings (
  sample_id INTEGER PRIMARY KEY REFERENCES samples(id) ON DELETE CASCADE,
  vector    BLOB NOT NULL
);
CREATE TABLE failures (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER REFERENCES runs(id),
  file   BLOB NOT NULL,
  stage  TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX failures_run ON failures(run_id);
)sql";

}  // namespace facespace

#endif  // FACESPACE_SRC_STORE_SCHEMA_H_
