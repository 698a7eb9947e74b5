#include "store/index_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "facespace/error.h"
#include "facespace/store.h"

namespace facespace {
namespace {

constexpr char kMagic[4] = {'F', 'S', 'I', 'X'};
constexpr std::size_t kChecksumSize = 32;

std::uint32_t MetricCode(Metric metric) {
  switch (metric) {
    case Metric::kL2: return 0;
    case Metric::kSquaredL2: return 1;
    case Metric::kCosine: return 2;
  }
  return 0;
}

class Writer {
 public:
  void U32(std::uint32_t value) { Raw(&value, sizeof value); }
  void U64(std::uint64_t value) { Raw(&value, sizeof value); }
  void String(const std::string& text) {
    U32(static_cast<std::uint32_t>(text.size()));
    Raw(text.data(), text.size());
  }
  void Raw(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    buffer.insert(buffer.end(), bytes, bytes + size);
  }
  std::vector<std::uint8_t> buffer;
};

// Reads fields from a byte buffer; running past its end means the file is truncated.
class Reader {
 public:
  Reader(const std::filesystem::path& file, std::span<const std::uint8_t> bytes)
      : file_(file), bytes_(bytes) {}

  std::uint32_t U32() {
    std::uint32_t value;
    Raw(&value, sizeof value);
    return value;
  }
  std::uint64_t U64() {
    std::uint64_t value;
    Raw(&value, sizeof value);
    return value;
  }
  std::string String() {
    const std::uint32_t size = U32();
    Need(size);
    std::string text(reinterpret_cast<const char*>(bytes_.data() + position_), size);
    position_ += size;
    return text;
  }
  void Raw(void* data, std::size_t size) {
    Need(size);
    std::memcpy(data, bytes_.data() + position_, size);
    position_ += size;
  }
  std::size_t position() const { return position_; }

 private:
  void Need(std::size_t size) const {
    if (position_ + size > bytes_.size()) {
      throw Error(ErrorCategory::kCorrupt,
                  file_.string() + ": truncated: header ends after " + std::to_string(bytes_.size()) +
                      " bytes");
    }
  }

  const std::filesystem::path& file_;
  std::span<const std::uint8_t> bytes_;
  std::size_t position_ = 0;
};

std::vector<std::uint8_t> ReadWholeFile(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) throw Error(ErrorCategory::kNotFound, file.string() + ": no such file");
  std::ifstream stream(file, std::ios::binary);
  if (!stream) throw Error(ErrorCategory::kIo, file.string() + ": cannot open for reading");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
  if (stream.bad()) throw Error(ErrorCategory::kIo, file.string() + ": read failed");
  return bytes;
}

// Parses the header; leaves `reader` at the checksum.
IndexFileHeader ParseHeader(const std::filesystem::path& file, Reader& reader) {
  char magic[4];
  reader.Raw(magic, sizeof magic);
  if (std::memcmp(magic, kMagic, sizeof magic) != 0) {
    throw Error(ErrorCategory::kCorrupt, file.string() + ": not a facespace index file (bad magic)");
  }
  IndexFileHeader header;
  header.format_version = reader.U32();
  if (header.format_version != kIndexFormatVersion) {
    throw Error(ErrorCategory::kMismatch,
                file.string() + ": index format version " + std::to_string(header.format_version) +
                    ", this build reads version " + std::to_string(kIndexFormatVersion));
  }
  header.generation = reader.U64();
  header.dimension = reader.U32();
  const std::uint32_t metric = reader.U32();
  if (metric > 2) {
    throw Error(ErrorCategory::kCorrupt, file.string() + ": unknown metric code " + std::to_string(metric));
  }
  header.metric = metric == 0 ? Metric::kL2 : metric == 1 ? Metric::kSquaredL2 : Metric::kCosine;
  header.model_id = reader.String();
  header.factory = reader.String();
  header.vector_count = reader.U64();
  return header;
}

void WriteAll(int descriptor, const std::uint8_t* data, std::size_t size, const std::filesystem::path& file) {
  while (size > 0) {
    const ssize_t written = ::write(descriptor, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorCategory::kIo, file.string() + ": write failed: " + std::strerror(errno));
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
}

void SyncDirectory(const std::filesystem::path& directory) {
  const int descriptor = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY);
  if (descriptor < 0) return;
  ::fsync(descriptor);
  ::close(descriptor);
}

}  // namespace

void WriteIndexFile(const std::filesystem::path& file, IndexFileHeader header,
                    std::span<const std::uint8_t> payload) {
  header.format_version = kIndexFormatVersion;
  Writer writer;
  writer.Raw(kMagic, sizeof kMagic);
  writer.U32(header.format_version);
  writer.U64(header.generation);
  writer.U32(header.dimension);
  writer.U32(MetricCode(header.metric));
  writer.String(header.model_id);
  writer.String(header.factory);
  writer.U64(header.vector_count);
  writer.U64(payload.size());

  std::vector<std::uint8_t> checked(writer.buffer);
  checked.insert(checked.end(), payload.begin(), payload.end());
  const std::string checksum_hex = Sha256Bytes(checked);
  std::uint8_t checksum[kChecksumSize];
  for (std::size_t i = 0; i < kChecksumSize; ++i) {
    checksum[i] = static_cast<std::uint8_t>(std::stoi(checksum_hex.substr(i * 2, 2), nullptr, 16));
  }
  writer.Raw(checksum, kChecksumSize);

  const std::filesystem::path temporary = file.string() + ".tmp";
  const int descriptor = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (descriptor < 0) {
    throw Error(ErrorCategory::kIo, temporary.string() + ": cannot create: " + std::strerror(errno));
  }
  try {
    WriteAll(descriptor, writer.buffer.data(), writer.buffer.size(), temporary);
    WriteAll(descriptor, payload.data(), payload.size(), temporary);
    if (::fsync(descriptor) != 0) {
      throw Error(ErrorCategory::kIo, temporary.string() + ": fsync failed: " + std::strerror(errno));
    }
  } catch (...) {
    ::close(descriptor);
    ::unlink(temporary.c_str());
    throw;
  }
  ::close(descriptor);
  if (::rename(temporary.c_str(), file.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(temporary.c_str());
    throw Error(ErrorCategory::kIo, file.string() + ": cannot replace: " + reason);
  }
  SyncDirectory(file.parent_path());
}

IndexFile ReadIndexFile(const std::filesystem::path& file) {
  const std::vector<std::uint8_t> bytes = ReadWholeFile(file);
  Reader reader(file, bytes);
  IndexFile result;
  result.header = ParseHeader(file, reader);
  const std::uint64_t payload_size = reader.U64();
  const std::size_t checked_size = reader.position();
  std::uint8_t checksum[kChecksumSize];
  reader.Raw(checksum, kChecksumSize);

  const std::size_t expected = reader.position() + payload_size;
  if (bytes.size() != expected) {
    throw Error(ErrorCategory::kCorrupt,
                file.string() + ": " + (bytes.size() < expected ? "truncated" : "has trailing data") +
                    ": header says " + std::to_string(expected) + " bytes, file has " +
                    std::to_string(bytes.size()));
  }
  std::vector<std::uint8_t> checked(bytes.begin(), bytes.begin() + checked_size);
  checked.insert(checked.end(), bytes.begin() + reader.position(), bytes.end());
  std::string stored_hex;
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::uint8_t byte : checksum) {
    stored_hex.push_back(kHex[byte >> 4]);
    stored_hex.push_back(kHex[byte & 0xf]);
  }
  if (Sha256Bytes(checked) != stored_hex) {
    throw Error(ErrorCategory::kCorrupt, file.string() + ": checksum mismatch: the file was altered or damaged");
  }
  result.payload.assign(bytes.begin() + reader.position(), bytes.end());
  return result;
}

IndexFileHeader ReadIndexFileHeader(const std::filesystem::path& file) {
  const std::vector<std::uint8_t> bytes = ReadWholeFile(file);
  Reader reader(file, bytes);
  return ParseHeader(file, reader);
}

}  // namespace facespace
