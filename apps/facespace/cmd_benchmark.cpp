#include "commands.h"

namespace facespace::cli {

void AddBenchmarkCommands(CLI::App& app, CommandContext& context) {}

}  // namespace facespace::cli
