// Error type shared by every stage of facespace.
//
// Expected failures (a missing file, an undecodable image, a corrupt store, a
// model of the wrong kind) are thrown as facespace::Error. Each carries a
// category, which maps to the process exit code, and a message that names the
// file or value and the cause. Exceptions from dlib, OpenCV, FAISS and SQLite
// are converted into Error where our code calls those libraries, so callers
// only ever catch this one type. Internal bugs are not Errors: they abort or
// throw std::logic_error.
#ifndef FACESPACE_ERROR_H_
#define FACESPACE_ERROR_H_

#include <stdexcept>
#include <string>
#include <string_view>

namespace facespace {

enum class ErrorCategory {
  kInvalidArgument,  // a flag, option or recipe the user gave is invalid
  kNotFound,         // a file, identity or sample does not exist
  kIo,               // reading or writing failed at the operating system level
  kDecode,           // an image or file exists but cannot be decoded
  kNoFace,           // no face was found where one was required
  kCorrupt,          // a saved artefact fails its format, version or checksum check
  kMismatch,         // two artefacts disagree (model id, dimension, metric)
  kLocked,           // another process holds the store's write lock
  kInternal,         // a library call failed in a way we did not expect
};

// Process exit codes. Every command returns one of these.
enum class ExitCode : int {
  kOk = 0,
  kInternalError = 1,
  kUsage = 2,
  kInputError = 3,     // kInvalidArgument, kNotFound, kDecode, kNoFace
  kDataError = 4,      // kCorrupt, kMismatch
  kLocked = 5,
  kIoError = 6,
};

// Returns the lower-case name of `category`, e.g. "decode error".
std::string_view CategoryName(ErrorCategory category);

// Returns the exit code a command uses when it stops on an error of `category`.
ExitCode ExitCodeFor(ErrorCategory category);

class Error : public std::runtime_error {
 public:
  // `message` should read "<subject>: <cause>", e.g. "photo.jpg: truncated JPEG data".
  Error(ErrorCategory category, const std::string& message)
      : std::runtime_error(message), category_(category) {}

  ErrorCategory category() const { return category_; }

 private:
  ErrorCategory category_;
};

}  // namespace facespace

#endif  // FACESPACE_ERROR_H_
