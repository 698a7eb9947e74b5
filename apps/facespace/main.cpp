// facespace: study how synthetic data changes the geometry of face embeddings.
#include <cstdio>
#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "facespace/error.h"
#include "facespace/log.h"

int main(int argc, char** argv) {
  using facespace::ExitCode;

  CLI::App app{"facespace: measure how synthetic face data changes the embedding space"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("facespace ") + FACESPACE_VERSION);

  facespace::cli::CommandContext context;
  app.add_option("--model", context.model_path,
                 "Face embedding model file (default: $FACESPACE_MODEL, else the model set-up imported)");
  app.add_option("--landmarks", context.landmark_path,
                 "68-point landmark model (default: libdlib-data's shape_predictor_68_face_landmarks.dat)");
  app.add_flag("-v,--verbose", context.verbosity, "Log more (repeat for debug output)");
  app.add_flag("-q,--quiet", context.quiet, "Print no progress, only results and errors");
  app.parse_complete_callback([&context] {
    if (context.verbosity >= 2) {
      facespace::SetLogLevel(spdlog::level::debug);
    } else if (context.verbosity == 1) {
      facespace::SetLogLevel(spdlog::level::info);
    }
  });

  facespace::cli::AddModelCommands(app, context);
  facespace::cli::AddEmbedCommands(app, context);
  facespace::cli::AddBenchmarkCommands(app, context);
  facespace::cli::AddStoreCommands(app, context);
  facespace::cli::AddAugmentCommands(app, context);
  facespace::cli::AddAnalysisCommands(app, context);
  facespace::cli::AddExperimentCommands(app, context);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : static_cast<int>(ExitCode::kUsage);
  } catch (const facespace::Error& error) {
    std::fflush(stdout);
    std::cerr << "facespace: error: " << error.what() << "\n";
    return static_cast<int>(facespace::ExitCodeFor(error.category()));
  } catch (const std::exception& error) {
    std::fflush(stdout);
    std::cerr << "facespace: internal error: " << error.what() << "\n";
    return static_cast<int>(ExitCode::kInternalError);
  }
  return context.exit_code;
}
