// Dataset scanning, LFW people files and holdout lists.
#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "facespace/error.h"
#include "facespace/ingest.h"
#include "facespace/log.h"

namespace facespace {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHoldoutHeader = "# facespace holdout v1";

bool IsImageName(const std::string& name) {
  static const std::set<std::string> kExtensions = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm",
                                                     ".pbm", ".tif", ".tiff", ".webp"};
  std::string extension = fs::path(name).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return kExtensions.count(extension) > 0;
}

std::vector<fs::directory_entry> SortedEntries(const fs::path& directory) {
  std::vector<fs::directory_entry> entries;
  std::error_code error;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    entries.push_back(*it);
  }
  if (error) Logger().warn("{}: cannot list: {}", directory.string(), error.message());
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.path().filename() < b.path().filename(); });
  return entries;
}

class Scanner {
 public:
  Scanner(DatasetScan& scan, std::set<fs::path>& visited) : scan_(scan), visited_(visited) {}

  // Collects the images under `directory` (an identity folder or a folder
  // inside one), following symbolic links but entering each real directory once.
  void Walk(const fs::path& directory, const std::string& identity, const std::string& relative,
            std::vector<DatasetFile>& found) {
    std::error_code error;
    const fs::path canonical = fs::canonical(directory, error);
    if (error || !visited_.insert(canonical).second) {
      ++scan_.symlink_loops;
      Logger().debug("{}: skipped, directory already visited", directory.string());
      return;
    }
    for (const fs::directory_entry& entry : SortedEntries(directory)) {
      const std::string name = entry.path().filename().string();
      const std::string child_relative = relative + "/" + name;
      if (!name.empty() && name.front() == '.') {
        ++scan_.hidden_skipped;
        continue;
      }
      if (entry.is_directory(error)) {
        Walk(entry.path(), identity, child_relative, found);
      } else if (entry.is_regular_file(error) && IsImageName(name)) {
        found.push_back({identity, child_relative, entry.path()});
      } else {
        ++scan_.non_images;
      }
    }
  }

 private:
  DatasetScan& scan_;
  std::set<fs::path>& visited_;
};

}  // namespace

DatasetScan ScanDataset(const fs::path& root, const ScanOptions& options) {
  if (!fs::is_directory(root)) throw Error(ErrorCategory::kNotFound, root.string() + ": not a directory");
  DatasetScan scan;
  std::set<fs::path> visited = {fs::canonical(root)};
  Scanner scanner(scan, visited);

  for (const fs::directory_entry& entry : SortedEntries(root)) {
    const std::string name = entry.path().filename().string();
    std::error_code error;
    if (!name.empty() && name.front() == '.') {
      ++scan.hidden_skipped;
      continue;
    }
    if (!entry.is_directory(error)) {
      ++scan.loose_files;
      continue;
    }
    std::vector<DatasetFile> found;
    scanner.Walk(entry.path(), name, name, found);
    if (found.empty()) {
      ++scan.empty_folders;
      continue;
    }
    if (!options.people.empty() && options.people.count(name) == 0) {
      scan.not_in_people += static_cast<std::int64_t>(found.size());
      continue;
    }
    const auto excluded = std::partition(found.begin(), found.end(), [&](const DatasetFile& file) {
      return options.exclude.count(file.relative_path) == 0;
    });
    scan.excluded += std::distance(excluded, found.end());
    found.erase(excluded, found.end());
    if (found.empty()) continue;
    ++scan.identities;
    scan.files.insert(scan.files.end(), found.begin(), found.end());
  }
  std::sort(scan.files.begin(), scan.files.end(),
            [](const DatasetFile& a, const DatasetFile& b) { return a.relative_path < b.relative_path; });
  return scan;
}

std::set<std::string> ReadPeopleFile(const fs::path& file) {
  std::ifstream stream(file);
  if (!stream) throw Error(ErrorCategory::kNotFound, file.string() + ": cannot open people file");
  std::string line;
  std::getline(stream, line);
  long expected = -1;
  try {
    expected = std::stol(line);
  } catch (const std::exception&) {
  }
  if (expected < 0) {
    throw Error(ErrorCategory::kDecode, file.string() + ":1: expected the number of people, got '" + line + "'");
  }
  std::set<std::string> people;
  int line_number = 1;
  while (std::getline(stream, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::size_t split = line.find_last_of(" \t");
    const std::string count = split == std::string::npos ? "" : line.substr(split + 1);
    std::string name = split == std::string::npos ? line : line.substr(0, split);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    if (name.empty() || count.empty() || !std::all_of(count.begin(), count.end(), ::isdigit)) {
      throw Error(ErrorCategory::kDecode, file.string() + ":" + std::to_string(line_number) +
                                              ": expected 'NAME COUNT', got '" + line + "'");
    }
    people.insert(name);
  }
  if (static_cast<long>(people.size()) != expected) {
    throw Error(ErrorCategory::kDecode, file.string() + ": the first line announces " + std::to_string(expected) +
                                            " people, the file lists " + std::to_string(people.size()));
  }
  return people;
}

std::set<std::string> ReadHoldoutFile(const fs::path& file) {
  std::ifstream stream(file, std::ios::binary);
  if (!stream) throw Error(ErrorCategory::kNotFound, file.string() + ": cannot open holdout list");
  std::string line;
  std::getline(stream, line);
  if (line != kHoldoutHeader) {
    throw Error(ErrorCategory::kCorrupt,
                file.string() + ": not a holdout list (first line must be '" + std::string(kHoldoutHeader) + "')");
  }
  std::set<std::string> paths;
  while (std::getline(stream, line)) {
    if (line.empty() || line.front() == '#') continue;
    paths.insert(line);
  }
  return paths;
}

void WriteHoldoutFile(const fs::path& file, const std::vector<std::string>& paths) {
  const fs::path temporary = file.string() + ".tmp";
  {
    std::ofstream stream(temporary, std::ios::binary | std::ios::trunc);
    if (!stream) throw Error(ErrorCategory::kIo, temporary.string() + ": cannot create");
    stream << kHoldoutHeader << "\n";
    for (const std::string& path : paths) {
      if (path.find('\n') != std::string::npos) {
        throw Error(ErrorCategory::kInvalidArgument, "holdout path '" + path + "': contains a line break");
      }
      stream << path << "\n";
    }
    if (!stream.flush()) throw Error(ErrorCategory::kIo, temporary.string() + ": write failed");
  }
  std::error_code error;
  fs::rename(temporary, file, error);
  if (error) throw Error(ErrorCategory::kIo, file.string() + ": cannot write: " + error.message());
}

std::vector<std::string> ChooseHoldout(const DatasetScan& scan, std::uint64_t seed) {
  std::map<std::string, std::vector<const DatasetFile*>> by_identity;
  for (const DatasetFile& file : scan.files) by_identity[file.identity].push_back(&file);
  std::mt19937_64 generator(seed);
  std::vector<std::string> chosen;
  for (const auto& [identity, files] : by_identity) {
    if (files.size() < 2) continue;
    chosen.push_back(files[generator() % files.size()]->relative_path);
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace facespace
