// The one logger of facespace.
//
// The library never prints on its own: it logs through Logger(), whose level
// and sink the application sets. Log lines go to stderr so stdout stays data.
#ifndef FACESPACE_LOG_H_
#define FACESPACE_LOG_H_

#include <memory>

#include <spdlog/spdlog.h>

namespace facespace {

// Returns the shared logger named "facespace". Thread-safe.
spdlog::logger& Logger();

// Sets the level of Logger(), e.g. spdlog::level::debug for --verbose.
void SetLogLevel(spdlog::level::level_enum level);

}  // namespace facespace

#endif  // FACESPACE_LOG_H_
