// Runs the Node.js renderer on a report document.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "facespace/error.h"
#include "facespace/log.h"
#include "facespace/report.h"

extern char** environ;

namespace facespace {
namespace {

namespace fs = std::filesystem;

void WriteText(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw Error(ErrorCategory::kIo, fmt::format("{}: cannot write: {}", file.string(), std::strerror(errno)));
}

std::string ReadText(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Runs `arguments` (arguments[0] looked up in PATH) with stdout and stderr sent
// to `log`; returns the exit status, or -1 when the program could not start.
int Run(const std::vector<std::string>& arguments, const fs::path& log, int* spawn_error) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

  std::vector<char*> argv;
  for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);

  pid_t child = 0;
  *spawn_error = posix_spawnp(&child, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (*spawn_error != 0) return -1;

  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

fs::path ReportRendererDir(const RenderOptions& options) {
  if (!options.renderer_dir.empty()) return options.renderer_dir;
  if (const char* env = std::getenv("FACESPACE_REPORT_DIR"); env && *env) return env;
  return FACESPACE_REPORT_RENDERER_DIR;
}

fs::path RenderReport(const nlohmann::json& document, const fs::path& out_dir,
                      const RenderOptions& options) {
  ValidateReportDocument(document);

  const fs::path renderer = ReportRendererDir(options);
  const fs::path script = renderer / "render.mjs";
  if (!fs::exists(script)) {
    throw Error(ErrorCategory::kNotFound,
                fmt::format("{}: report renderer not found (set FACESPACE_REPORT_DIR to the source tree's report/ folder)",
                            script.string()));
  }
  if (!fs::exists(renderer / "node_modules" / "vega-lite")) {
    throw Error(ErrorCategory::kNotFound,
                fmt::format("{}: the renderer's npm packages are not installed; run `npm ci --prefix {}` "
                            "(scripts/setup.sh does this)",
                            (renderer / "node_modules").string(), renderer.string()));
  }

  std::error_code error;
  fs::create_directories(out_dir, error);
  if (error) throw Error(ErrorCategory::kIo, fmt::format("{}: cannot create: {}", out_dir.string(), error.message()));
  const fs::path results = out_dir / "results.json";
  WriteText(results, document.dump(1) + "\n");

  const fs::path log = out_dir / "render.log";
  int spawn_error = 0;
  Logger().info("rendering the report with {} {}", options.node, script.string());
  const int status = Run({options.node, script.string(), results.string(), out_dir.string()}, log, &spawn_error);
  if (status < 0) {
    throw Error(spawn_error == ENOENT ? ErrorCategory::kNotFound : ErrorCategory::kInternal,
                fmt::format("{}: cannot run the report renderer: {} (install Node.js, Debian package nodejs)",
                            options.node, std::strerror(spawn_error)));
  }
  const std::string output = ReadText(log);
  if (status != 0) {
    throw Error(ErrorCategory::kInternal,
                fmt::format("{}: report renderer failed with status {}: {}", script.string(), status, output));
  }
  if (!output.empty()) Logger().debug("report renderer: {}", output);
  fs::remove(log, error);
  return out_dir / "report.html";
}

void WriteThumbnail(const cv::Mat& rgb, const fs::path& file, int size) {
  if (rgb.empty() || rgb.type() != CV_8UC3) {
    throw Error(ErrorCategory::kInvalidArgument, fmt::format("{}: thumbnail needs an RGB image", file.string()));
  }
  const double scale = static_cast<double>(size) / std::max(rgb.cols, rgb.rows);
  cv::Mat small;
  cv::Mat bgr;
  try {
    cv::resize(rgb, small, cv::Size(), scale, scale, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    cv::cvtColor(small, bgr, cv::COLOR_RGB2BGR);
    if (!cv::imwrite(file.string(), bgr, {cv::IMWRITE_JPEG_QUALITY, 88})) {
      throw Error(ErrorCategory::kIo, fmt::format("{}: cannot write thumbnail", file.string()));
    }
  } catch (const cv::Exception& cv_error) {
    throw Error(ErrorCategory::kIo, fmt::format("{}: cannot write thumbnail: {}", file.string(), cv_error.what()));
  }
}

}  // namespace facespace
