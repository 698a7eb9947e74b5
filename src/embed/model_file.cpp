// Reading and writing facespace model files; see model_file.h for the layout.
#include "embed/model_file.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "facespace/error.h"
#include "facespace/log.h"

namespace facespace::embed {
namespace {

// Strings in a header are short; a larger count means a damaged file.
constexpr std::uint32_t kMaxHeaderString = 1 << 16;

void AppendU32(std::string& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void AppendU64(std::string& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void AppendString(std::string& out, const std::string& value) {
  AppendU32(out, static_cast<std::uint32_t>(value.size()));
  out += value;
}

// Reads header fields from a byte range, throwing Error(kCorrupt) on truncation.
class HeaderReader {
 public:
  HeaderReader(std::span<const std::uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  std::uint64_t ReadUnsigned(int size) {
    Require(size, "header");
    std::uint64_t value = 0;
    for (int i = 0; i < size; ++i) value |= static_cast<std::uint64_t>(bytes_[offset_ + i]) << (8 * i);
    offset_ += size;
    return value;
  }

  std::string ReadString(const char* field) {
    const auto length = static_cast<std::uint32_t>(ReadUnsigned(4));
    if (length > kMaxHeaderString) {
      throw Error(ErrorCategory::kCorrupt, fmt::format("{}: damaged header ({} is {} bytes long)", name_, field, length));
    }
    Require(length, field);
    std::string value(reinterpret_cast<const char*>(bytes_.data() + offset_), length);
    offset_ += length;
    return value;
  }

  std::size_t offset() const { return offset_; }

 private:
  void Require(std::size_t size, const char* field) const {
    if (offset_ + size > bytes_.size()) {
      throw Error(ErrorCategory::kCorrupt, fmt::format("{}: truncated file (ends inside the {})", name_, field));
    }
  }

  std::span<const std::uint8_t> bytes_;
  std::string name_;
  std::size_t offset_ = 0;
};

bool HasFacespaceMagic(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= sizeof(kModelMagic) && std::memcmp(bytes.data(), kModelMagic, sizeof(kModelMagic)) == 0;
}

struct Header {
  ModelInfo info;
  std::uint64_t payload_size = 0;
  std::string payload_sha256;
  std::size_t payload_offset = 0;
};

// Parses and checks the header; `bytes` may be the header alone.
Header ParseHeader(std::span<const std::uint8_t> bytes, const std::string& name) {
  HeaderReader reader(bytes, name);
  reader.ReadUnsigned(4);  // the first half of the magic, checked by the caller
  reader.ReadUnsigned(4);

  Header header;
  header.info.file_kind = "facespace";
  header.info.format_version = static_cast<std::uint32_t>(reader.ReadUnsigned(4));
  if (header.info.format_version != kModelFormatVersion) {
    throw Error(ErrorCategory::kMismatch,
                fmt::format("{}: model file format version {}, but this build reads version {}; "
                            "re-import the model with this build's `facespace model import`",
                            name, header.info.format_version, kModelFormatVersion));
  }
  header.info.model_id = reader.ReadString("model id");
  header.info.source = reader.ReadString("source");
  header.info.source_sha256 = reader.ReadString("source hash");
  header.info.parameter_count = reader.ReadUnsigned(8);
  header.payload_size = reader.ReadUnsigned(8);
  header.payload_sha256 = reader.ReadString("payload hash");
  header.payload_offset = reader.offset();
  if (header.info.model_id != kModelId) {
    throw Error(ErrorCategory::kMismatch,
                fmt::format("{}: model id {}, but this build runs {}", name, header.info.model_id, kModelId));
  }
  return header;
}

void CheckComplete(const Header& header, std::uint64_t file_size, const std::string& name) {
  const std::uint64_t expected = header.payload_offset + header.payload_size;
  if (file_size != expected) {
    throw Error(ErrorCategory::kCorrupt,
                fmt::format("{}: {} bytes, but its header describes {} bytes ({})", name, file_size, expected,
                            file_size < expected ? "truncated" : "trailing data"));
  }
}

ModelInfo DeserializeDlibFile(std::span<const std::uint8_t> bytes, const std::string& name, ResNet& net) {
  std::istringstream stream(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  try {
    dlib::deserialize(net, stream);
  } catch (const dlib::serialization_error& error) {
    throw Error(ErrorCategory::kCorrupt,
                fmt::format("{}: neither a facespace model file nor a dlib face recognition network ({})", name,
                            error.what()));
  }
  ModelInfo info;
  info.model_id = kModelId;
  info.file_kind = "dlib";
  info.format_version = 0;
  info.source = "dlib network file " + std::filesystem::path(name).filename().string();
  info.source_sha256 = Sha256Hex(bytes);
  info.parameter_count = CountParameters(net);
  return info;
}

}  // namespace

std::vector<std::uint8_t> ReadWholeFile(const std::filesystem::path& path) {
  std::error_code status;
  if (!std::filesystem::is_regular_file(path, status)) {
    throw Error(ErrorCategory::kNotFound, path.string() + ": file not found");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw Error(ErrorCategory::kIo, fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno)));
  }
  std::vector<std::uint8_t> bytes(std::filesystem::file_size(path));
  file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (file.gcount() != static_cast<std::streamsize>(bytes.size())) {
    throw Error(ErrorCategory::kIo, path.string() + ": read failed");
  }
  return bytes;
}

std::string Sha256Hex(std::span<const std::uint8_t> bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw Error(ErrorCategory::kInternal, "SHA-256: OpenSSL EVP_Digest failed");
  }
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

void WriteModelFile(const std::filesystem::path& path, const ModelInfo& info, ResNet& net) {
  std::ostringstream payload_stream;
  dlib::serialize(net, payload_stream);
  const std::string payload = payload_stream.str();
  const auto* payload_bytes = reinterpret_cast<const std::uint8_t*>(payload.data());

  std::string header(kModelMagic, sizeof(kModelMagic));
  AppendU32(header, kModelFormatVersion);
  AppendString(header, info.model_id);
  AppendString(header, info.source);
  AppendString(header, info.source_sha256);
  AppendU64(header, info.parameter_count);
  AppendU64(header, payload.size());
  AppendString(header, Sha256Hex({payload_bytes, payload.size()}));

  const std::filesystem::path temporary =
      path.parent_path() / fmt::format(".{}.tmp-{}", path.filename().string(), ::getpid());
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    file.write(header.data(), static_cast<std::streamsize>(header.size()));
    file.write(payload.data(), static_cast<std::streamsize>(payload.size()));
    file.flush();
    if (!file) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw Error(ErrorCategory::kIo, fmt::format("{}: write failed: {}", temporary.string(), std::strerror(errno)));
    }
  }
  std::error_code status;
  std::filesystem::rename(temporary, path, status);
  if (status) {
    std::filesystem::remove(temporary, status);
    throw Error(ErrorCategory::kIo, fmt::format("{}: cannot replace: {}", path.string(), status.message()));
  }
}

ModelInfo LoadModelFile(const std::filesystem::path& path, ResNet& net) {
  const std::vector<std::uint8_t> bytes = ReadWholeFile(path);
  const std::string name = path.string();
  if (!HasFacespaceMagic(bytes)) return DeserializeDlibFile(bytes, name, net);

  const Header header = ParseHeader(bytes, name);
  CheckComplete(header, bytes.size(), name);
  const std::span<const std::uint8_t> payload(bytes.data() + header.payload_offset, header.payload_size);
  if (Sha256Hex(payload) != header.payload_sha256) {
    throw Error(ErrorCategory::kCorrupt, name + ": network data does not match its checksum (damaged file)");
  }

  std::istringstream stream(std::string(reinterpret_cast<const char*>(payload.data()), payload.size()));
  try {
    dlib::deserialize(net, stream);
  } catch (const dlib::serialization_error& error) {
    throw Error(ErrorCategory::kCorrupt, fmt::format("{}: network data cannot be read: {}", name, error.what()));
  }
  return header.info;
}

}  // namespace facespace::embed

namespace facespace {

ModelInfo ReadModelInfo(const std::filesystem::path& model_file) {
  const std::string name = model_file.string();
  std::error_code status;
  if (!std::filesystem::is_regular_file(model_file, status)) {
    throw Error(ErrorCategory::kNotFound, name + ": file not found");
  }
  std::ifstream file(model_file, std::ios::binary);
  std::vector<std::uint8_t> head(sizeof(embed::kModelMagic));
  file.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(file.gcount()));
  if (!embed::HasFacespaceMagic(head)) {
    // dlib's own files have no header: the network has to be read to describe it.
    embed::ResNet net;
    return embed::LoadModelFile(model_file, net);
  }

  // The header is a few hundred bytes; strings are capped at kMaxHeaderString.
  constexpr std::size_t kMaxHeader = 8 + 4 + 4 * (4 + embed::kMaxHeaderString) + 16;
  file.seekg(0);
  head.resize(kMaxHeader);
  file.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(file.gcount()));
  const embed::Header header = embed::ParseHeader(head, name);
  embed::CheckComplete(header, std::filesystem::file_size(model_file), name);
  return header.info;
}

std::filesystem::path DefaultModelPath() {
  if (const char* model = std::getenv("FACESPACE_MODEL"); model != nullptr && *model != '\0') return model;
  std::filesystem::path folder = FACESPACE_DEFAULT_MODEL_DIR;
  if (const char* dir = std::getenv("FACESPACE_MODEL_DIR"); dir != nullptr && *dir != '\0') folder = dir;
  return folder / "dlib_resnet_v1.fsmodel";
}

}  // namespace facespace
