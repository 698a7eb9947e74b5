// `facespace model import` and `facespace model info`.
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "facespace/embedding.h"

namespace facespace::cli {
namespace {

void PrintModelInfo(const ModelInfo& info, const std::string& file, bool json) {
  if (json) {
    nlohmann::json out = {{"file", file},
                          {"kind", info.file_kind},
                          {"format_version", info.format_version},
                          {"model_id", info.model_id},
                          {"source", info.source},
                          {"source_sha256", info.source_sha256},
                          {"parameters", info.parameter_count}};
    std::cout << out.dump() << "\n";
    return;
  }
  std::cout << fmt::format("file:           {}\n", file)
            << fmt::format("kind:           {}\n", info.file_kind)
            << fmt::format("format version: {}\n", info.format_version)
            << fmt::format("model id:       {}\n", info.model_id)
            << fmt::format("source:         {}\n", info.source)
            << fmt::format("source sha256:  {}\n", info.source_sha256)
            << fmt::format("parameters:     {}\n", info.parameter_count);
}

struct ImportOptions {
  std::string manifest;
  std::string weights;
  std::string source;
  std::string out;
  bool json = false;
};

struct InfoOptions {
  std::string file;
  bool json = false;
};

}  // namespace

void AddModelCommands(CLI::App& app, CommandContext& context) {
  CLI::App* model = app.add_subcommand("model", "Import or describe face embedding model files");
  model->require_subcommand(1);

  auto import_options = std::make_shared<ImportOptions>();
  CLI::App* import = model->add_subcommand(
      "import", "Convert face-api's tfjs face recognition weights into a facespace model file");
  import->add_option("--manifest", import_options->manifest, "tfjs weights manifest (JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  import->add_option("--weights", import_options->weights, "tfjs weights binary the manifest describes")
      ->required()
      ->check(CLI::ExistingFile);
  import->add_option("--source", import_options->source,
                     "Text stored in the model file naming where the weights came from (default: the binary's name)");
  import->add_option("--out", import_options->out, "Model file to write (replaced atomically)")->required();
  import->add_flag("--json", import_options->json, "Print the description of the written file as one JSON object");
  import->callback([import_options, &context] {
    const ModelInfo info = ImportTfjsModel(import_options->manifest, import_options->weights,
                                           import_options->out, import_options->source);
    PrintModelInfo(info, import_options->out, import_options->json);
    context.exit_code = 0;
  });

  auto info_options = std::make_shared<InfoOptions>();
  CLI::App* info = model->add_subcommand(
      "info", "Describe a model file: kind, format version, model id, source, source hash, parameter count");
  info->add_option("file", info_options->file,
                   "facespace model file or dlib's official network file (default: --model, else the default model)");
  info->add_flag("--json", info_options->json, "Print one JSON object");
  info->callback([info_options, &context] {
    std::string file = info_options->file;
    if (file.empty()) file = context.model_path.empty() ? DefaultModelPath().string() : context.model_path;
    PrintModelInfo(ReadModelInfo(file), file, info_options->json);
    context.exit_code = 0;
  });
}

}  // namespace facespace::cli
