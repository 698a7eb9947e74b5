// The subcommands of the facespace program. Each Add*Commands function adds
// its subcommands to `app`; a subcommand's callback stores its exit code in
// `context.exit_code` and throws facespace::Error on expected failures.
#ifndef FACESPACE_APPS_COMMANDS_H_
#define FACESPACE_APPS_COMMANDS_H_

#include <string>

#include <CLI/CLI.hpp>

namespace facespace::cli {

// Options every subcommand shares, filled in before any callback runs.
struct CommandContext {
  std::string model_path;       // --model; empty means DefaultModelPath()
  std::string landmark_path;    // --landmarks; empty means DefaultLandmarkModelPath()
  int verbosity = 0;            // number of -v flags
  bool quiet = false;           // --quiet: no progress output
  int exit_code = 0;
};

void AddModelCommands(CLI::App& app, CommandContext& context);      // model import|info
void AddEmbedCommands(CLI::App& app, CommandContext& context);      // embed, verify
void AddBenchmarkCommands(CLI::App& app, CommandContext& context);  // benchmark lfw
void AddStoreCommands(CLI::App& app, CommandContext& context);      // ingest, search, store ...
void AddAugmentCommands(CLI::App& app, CommandContext& context);    // augment
void AddAnalysisCommands(CLI::App& app, CommandContext& context);   // analyze, compare
void AddExperimentCommands(CLI::App& app, CommandContext& context); // experiment

}  // namespace facespace::cli

#endif  // FACESPACE_APPS_COMMANDS_H_
