#include "commands.h"

namespace facespace::cli {

void AddEmbedCommands(CLI::App& app, CommandContext& context) {}

}  // namespace facespace::cli
