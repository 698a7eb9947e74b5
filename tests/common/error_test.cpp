#include "facespace/error.h"

#include <gtest/gtest.h>

namespace facespace {
namespace {

TEST(Error, CategoryMapsToExitCode) {
  EXPECT_EQ(ExitCodeFor(ErrorCategory::kDecode), ExitCode::kInputError);
  EXPECT_EQ(ExitCodeFor(ErrorCategory::kCorrupt), ExitCode::kDataError);
  EXPECT_EQ(ExitCodeFor(ErrorCategory::kLocked), ExitCode::kLocked);
  EXPECT_EQ(ExitCodeFor(ErrorCategory::kIo), ExitCode::kIoError);
}

TEST(Error, KeepsCategoryAndMessage) {
  const Error error(ErrorCategory::kNoFace, "a.jpg: no face found");
  EXPECT_EQ(error.category(), ErrorCategory::kNoFace);
  EXPECT_STREQ(error.what(), "a.jpg: no face found");
}

}  // namespace
}  // namespace facespace
