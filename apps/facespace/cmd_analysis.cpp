#include "commands.h"

namespace facespace::cli {

void AddAnalysisCommands(CLI::App& app, CommandContext& context) {}

}  // namespace facespace::cli
