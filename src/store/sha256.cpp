// SHA-256 through OpenSSL's EVP interface: the content hash of ingested images
// and the checksum of index files.
#include <cstdio>
#include <fstream>
#include <memory>

#include <openssl/evp.h>

#include "facespace/error.h"
#include "facespace/store.h"

namespace facespace {
namespace {

struct DigestContextDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
using DigestContext = std::unique_ptr<EVP_MD_CTX, DigestContextDeleter>;

DigestContext NewSha256Context() {
  DigestContext context(EVP_MD_CTX_new());
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
    throw Error(ErrorCategory::kInternal, "SHA-256: OpenSSL could not initialise a digest");
  }
  return context;
}

std::string FinishHex(EVP_MD_CTX* context) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context, digest, &length) != 1) {
    throw Error(ErrorCategory::kInternal, "SHA-256: OpenSSL could not finish the digest");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

}  // namespace

std::string Sha256Bytes(std::span<const std::uint8_t> bytes) {
  DigestContext context = NewSha256Context();
  EVP_DigestUpdate(context.get(), bytes.data(), bytes.size());
  return FinishHex(context.get());
}

std::string Sha256File(const std::filesystem::path& file) {
  std::ifstream stream(file, std::ios::binary);
  if (!stream) throw Error(ErrorCategory::kIo, file.string() + ": cannot open for reading");
  DigestContext context = NewSha256Context();
  std::vector<char> buffer(1 << 16);
  while (stream) {
    stream.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    EVP_DigestUpdate(context.get(), buffer.data(), static_cast<std::size_t>(stream.gcount()));
  }
  if (stream.bad()) throw Error(ErrorCategory::kIo, file.string() + ": read failed");
  return FinishHex(context.get());
}

}  // namespace facespace
