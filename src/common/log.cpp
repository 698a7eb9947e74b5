#include "facespace/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace facespace {

spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto created = spdlog::stderr_color_mt("facespace");
    created->set_pattern("facespace: %l: %v");
    created->set_level(spdlog::level::warn);
    return created;
  }();
  return *logger;
}

void SetLogLevel(spdlog::level::level_enum level) { Logger().set_level(level); }

}  // namespace facespace
