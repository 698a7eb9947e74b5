// Ingest: a dataset folder in, a store filled with embeddings out.
//
// The dataset has one folder per identity (the LFW layout): DATASET/NAME/*.jpg.
// Files are hashed (SHA-256) and a file whose content is already in the store
// is skipped, so an interrupted ingest resumes where it stopped. Each batch of
// images is committed as one store transaction, so a killed process loses at
// most the batch it was working on.
#ifndef FACESPACE_INGEST_H_
#define FACESPACE_INGEST_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "facespace/store.h"

namespace facespace {

class Pipeline;

// One image found by ScanDataset.
struct DatasetFile {
  std::string identity;              // name of the top-level folder, bytes as on disk
  std::string relative_path;         // "NAME/NAME_0001.jpg", '/' separated
  std::filesystem::path path;        // full path
};

struct DatasetScan {
  std::vector<DatasetFile> files;    // sorted by relative path
  std::int64_t identities = 0;       // identity folders holding at least one image
  std::int64_t empty_folders = 0;
  std::int64_t hidden_skipped = 0;   // names starting with '.', including .DS_Store
  std::int64_t non_images = 0;       // files without an image extension
  std::int64_t loose_files = 0;      // files directly in the dataset root
  std::int64_t symlink_loops = 0;    // directories skipped because already visited
  std::int64_t excluded = 0;         // files named by the exclude list
  std::int64_t not_in_people = 0;    // images of identities outside the people list
};

struct ScanOptions {
  // When non-empty, only these identities are ingested.
  std::set<std::string> people;
  // Relative paths ('/' separated) to leave out, e.g. a held-back test set.
  std::set<std::string> exclude;
};

// Walks `root`. Follows symbolic links but visits each canonical directory
// once, so symlink loops terminate. Image extensions (case-insensitive): jpg,
// jpeg, png, bmp, ppm, pgm, pbm, tif, tiff, webp. Throws Error(kNotFound) when
// root is not a directory.
DatasetScan ScanDataset(const std::filesystem::path& root, const ScanOptions& options = {});

// Reads an LFW people file: a first line with the number of entries, then one
// "NAME COUNT" line per identity (NAME has no spaces in LFW; the last field is
// the count, everything before it is the name). Throws Error(kDecode) naming
// the file and line on a malformed line.
std::set<std::string> ReadPeopleFile(const std::filesystem::path& file);

// Holdout list format: a first line "# facespace holdout v1", then one relative
// path per line ('/' separated, bytes as on disk). Blank lines and lines
// starting with '#' are ignored. Throws Error(kCorrupt) without the header.
std::set<std::string> ReadHoldoutFile(const std::filesystem::path& file);
void WriteHoldoutFile(const std::filesystem::path& file, const std::vector<std::string>& paths);

// Picks one image of every identity that has at least two in `scan`, chosen
// with `seed`. Returns their relative paths, sorted.
std::vector<std::string> ChooseHoldout(const DatasetScan& scan, std::uint64_t seed);

struct IngestOptions {
  int batch_size = 64;  // images per commit
  // Called after each batch with (images embedded so far, images to embed in
  // this run) for progress display. Images already stored are not counted.
  std::function<void(std::int64_t, std::int64_t)> on_progress;
};

struct IngestSummary {
  DatasetScan scan;
  std::int64_t already_stored = 0;   // skipped because the content hash is in the store
  std::int64_t images = 0;           // images processed in this run
  std::int64_t faces = 0;            // samples added
  std::int64_t fallbacks = 0;        // faces that used the fallback box
  std::int64_t single_image_identities = 0;
  std::map<std::string, std::int64_t> failures_by_reason;  // "stage: reason" -> count
  double seconds = 0;
  double store_seconds = 0;          // time spent in store lookups, writes and commits
  double hash_seconds = 0;           // time spent hashing files (SHA-256) for resume
  RunId run = 0;
};

// Ingests `scan` into `store` with `pipeline`. Per-file failures are recorded
// in the store and never stop the run. Throws only on store errors.
IngestSummary Ingest(const DatasetScan& scan, const Pipeline& pipeline, Store& store,
                     const IngestOptions& options = {});

}  // namespace facespace

#endif  // FACESPACE_INGEST_H_
