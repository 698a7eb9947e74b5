// The write lock of a store: flock(2) on DIR/lock, which holds the writer's
// process id. The kernel drops the lock when the process dies, so a killed
// writer never leaves a stale lock behind.
#ifndef FACESPACE_SRC_STORE_STORE_LOCK_H_
#define FACESPACE_SRC_STORE_STORE_LOCK_H_

#include <filesystem>

namespace facespace {

class StoreLock {
 public:
  // Takes the lock or throws Error(kLocked) "DIR: store is locked by process N".
  explicit StoreLock(const std::filesystem::path& directory);
  ~StoreLock();
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;

  // Returns true when some process holds the write lock of `directory`.
  static bool IsHeld(const std::filesystem::path& directory);

 private:
  int descriptor_ = -1;
};

}  // namespace facespace

#endif  // FACESPACE_SRC_STORE_STORE_LOCK_H_
