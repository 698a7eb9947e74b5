#include "commands.h"

namespace facespace::cli {

void AddExperimentCommands(CLI::App& app, CommandContext& context) {}

}  // namespace facespace::cli
