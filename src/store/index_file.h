// The index file of a store: a facespace header, then FAISS's serialised index.
//
// Layout (little-endian):
//   "FSIX"  magic, 4 bytes
//   u32     format version (kIndexFormatVersion)
//   u64     store generation the index matches
//   u32     dimension
//   u32     metric (0 plain L2, 1 squared L2, 2 cosine)
//   u32 n, n bytes   model id
//   u32 n, n bytes   FAISS factory string
//   u64     vector count
//   u64     payload size in bytes
//   32 bytes SHA-256 of everything before it followed by the payload
//   payload FAISS write_index output
#ifndef FACESPACE_SRC_STORE_INDEX_FILE_H_
#define FACESPACE_SRC_STORE_INDEX_FILE_H_

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "facespace/distance.h"

namespace facespace {

struct IndexFileHeader {
  std::uint32_t format_version = 0;
  std::uint64_t generation = 0;
  std::uint32_t dimension = 0;
  Metric metric = Metric::kL2;
  std::string model_id;
  std::string factory;
  std::uint64_t vector_count = 0;
};

struct IndexFile {
  IndexFileHeader header;
  std::vector<std::uint8_t> payload;
};

// Writes the file atomically: a temporary file beside it is written, fsynced
// and renamed over `file`, then the directory is fsynced. The header's format
// version is set to kIndexFormatVersion. Throws Error(kIo).
void WriteIndexFile(const std::filesystem::path& file, IndexFileHeader header,
                    std::span<const std::uint8_t> payload);

// Reads and verifies the file. Throws Error(kNotFound) when it is missing,
// Error(kCorrupt) when it is truncated, altered (checksum) or not an index
// file, and Error(kMismatch) for another format version.
IndexFile ReadIndexFile(const std::filesystem::path& file);

// Reads only the header (no checksum check); throws like ReadIndexFile.
IndexFileHeader ReadIndexFileHeader(const std::filesystem::path& file);

}  // namespace facespace

#endif  // FACESPACE_SRC_STORE_INDEX_FILE_H_
