#include "commands.h"

namespace facespace::cli {

void AddAugmentCommands(CLI::App& app, CommandContext& context) {}

}  // namespace facespace::cli
