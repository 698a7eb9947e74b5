#include "commands.h"

namespace facespace::cli {

void AddModelCommands(CLI::App& app, CommandContext& context) {}

}  // namespace facespace::cli
