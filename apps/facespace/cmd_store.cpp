#include "commands.h"

namespace facespace::cli {

void AddStoreCommands(CLI::App& app, CommandContext& context) {}

}  // namespace facespace::cli
