// facespace's model file: a versioned header, then dlib's serialisation of
// the network.
//
// Layout (integers little-endian):
//   8 bytes   magic "FSMODEL\x1a"
//   uint32    format version (kModelFormatVersion)
//   string    model id, e.g. "dlib-resnet-v1"
//   string    source, free text naming where the weights came from
//   string    SHA-256 (hex) of the weights binary the model was converted from
//   uint64    parameter count
//   uint64    payload size in bytes
//   string    SHA-256 (hex) of the payload
//   payload   dlib::serialize(ResNet)
// A string is a uint32 byte count followed by the bytes.
#ifndef FACESPACE_SRC_EMBED_MODEL_FILE_H_
#define FACESPACE_SRC_EMBED_MODEL_FILE_H_

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "embed/resnet.h"
#include "facespace/embedding.h"

namespace facespace::embed {

inline constexpr char kModelMagic[8] = {'F', 'S', 'M', 'O', 'D', 'E', 'L', '\x1a'};
inline constexpr std::uint32_t kModelFormatVersion = 1;
inline constexpr const char* kModelId = "dlib-resnet-v1";

// Reads a whole file. Throws Error(kNotFound) or Error(kIo).
std::vector<std::uint8_t> ReadWholeFile(const std::filesystem::path& path);

// Returns the lower-case hex SHA-256 of `bytes`.
std::string Sha256Hex(std::span<const std::uint8_t> bytes);

// Writes `net` with the header from `info` to `path` through a temporary file
// in the same folder and a rename, so readers never see a partial file.
// Throws Error(kIo) when writing fails.
void WriteModelFile(const std::filesystem::path& path, const ModelInfo& info, ResNet& net);

// Loads a facespace model file or dlib's official network file into `net` and
// returns its description. Throws Error(kNotFound), Error(kCorrupt) for a
// damaged or truncated file and Error(kMismatch) for another format version or
// model id.
ModelInfo LoadModelFile(const std::filesystem::path& path, ResNet& net);

}  // namespace facespace::embed

#endif  // FACESPACE_SRC_EMBED_MODEL_FILE_H_
