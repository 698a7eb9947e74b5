#include "store/store_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "facespace/error.h"

namespace facespace {

StoreLock::StoreLock(const std::filesystem::path& directory) {
  const std::filesystem::path file = directory / "lock";
  descriptor_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (descriptor_ < 0) {
    throw Error(ErrorCategory::kIo, file.string() + ": cannot open lock file: " + std::strerror(errno));
  }
  if (::flock(descriptor_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char buffer[32] = {};
    const ssize_t size = ::pread(descriptor_, buffer, sizeof buffer - 1, 0);
    ::close(descriptor_);
    descriptor_ = -1;
    if (error != EWOULDBLOCK) {
      throw Error(ErrorCategory::kIo, file.string() + ": cannot lock: " + std::strerror(error));
    }
    std::string pid = size > 0 ? std::string(buffer, static_cast<std::size_t>(size)) : "";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    throw Error(ErrorCategory::kLocked,
                directory.string() + ": store is locked by process " + (pid.empty() ? "unknown" : pid) +
                    "; wait for it to finish (readers are not blocked)");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(descriptor_, 0) != 0 || ::pwrite(descriptor_, pid.data(), pid.size(), 0) < 0) {
    // The lock itself is held; only the process id shown to other writers is missing.
  }
}

StoreLock::~StoreLock() {
  if (descriptor_ < 0) return;
  if (::ftruncate(descriptor_, 0) != 0) {
    // Closing releases the lock whether or not the id was cleared.
  }
  ::close(descriptor_);
}

bool StoreLock::IsHeld(const std::filesystem::path& directory) {
  const std::filesystem::path file = directory / "lock";
  const int descriptor = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) return false;
  const bool held = ::flock(descriptor, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(descriptor);
  return held;
}

}  // namespace facespace
