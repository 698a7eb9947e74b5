#include "facespace/error.h"

namespace facespace {

std::string_view CategoryName(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::kInvalidArgument: return "invalid argument";
    case ErrorCategory::kNotFound: return "not found";
    case ErrorCategory::kIo: return "I/O error";
    case ErrorCategory::kDecode: return "decode error";
    case ErrorCategory::kNoFace: return "no face";
    case ErrorCategory::kCorrupt: return "corrupt file";
    case ErrorCategory::kMismatch: return "mismatch";
    case ErrorCategory::kLocked: return "locked";
    case ErrorCategory::kInternal: return "internal error";
  }
  return "unknown error";
}

ExitCode ExitCodeFor(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::kInvalidArgument:
    case ErrorCategory::kNotFound:
    case ErrorCategory::kDecode:
    case ErrorCategory::kNoFace:
      return ExitCode::kInputError;
    case ErrorCategory::kCorrupt:
    case ErrorCategory::kMismatch:
      return ExitCode::kDataError;
    case ErrorCategory::kLocked:
      return ExitCode::kLocked;
    case ErrorCategory::kIo:
      return ExitCode::kIoError;
    case ErrorCategory::kInternal:
      return ExitCode::kInternalError;
  }
  return ExitCode::kInternalError;
}

}  // namespace facespace
