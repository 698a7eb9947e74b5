// Writing synthetic images and per-identity contact sheets for people to look at.
#ifndef FACESPACE_SRC_SYNTH_CONTACT_SHEET_H_
#define FACESPACE_SRC_SYNTH_CONTACT_SHEET_H_

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "facespace/synth.h"

namespace facespace::synth {

// Returns <folder>/<identity>/<image stem>_s<source sample>_v<variant>[_lost].png.
std::filesystem::path SampleImagePath(const std::filesystem::path& folder,
                                      const SynthesisSource& source,
                                      const SyntheticSample& sample);

// Writes an RGB picture as PNG, creating the folder. Throws Error(kIo).
void WritePng(const std::filesystem::path& file, const cv::Mat& rgb);

// Collects rows (the original face, then its variants) per identity and
// writes them as <folder>/<identity>/contact_sheet_NNN.png, kRowsPerSheet
// sources to a sheet. A sheet is written as soon as it is full or the next
// source belongs to another identity, so memory stays bounded.
class ContactSheets {
 public:
  static constexpr int kRowsPerSheet = 20;
  static constexpr int kCell = 150;  // pixels per square cell

  explicit ContactSheets(std::filesystem::path folder);

  // Adds one variant; the first variant of a source also adds its original,
  // read again from source.image_path.
  void AddVariant(const SynthesisSource& source, ApplyTarget target, const SyntheticSample& sample);

  // Writes the sheet being filled, if any.
  void Flush();

 private:
  struct Row {
    std::int64_t sample_id = 0;
    std::vector<cv::Mat> cells;
  };

  std::filesystem::path folder_;
  std::string identity_;
  std::vector<Row> rows_;
  std::map<std::string, int> sheets_written_;  // per identity, for numbering
};

}  // namespace facespace::synth

#endif  // FACESPACE_SRC_SYNTH_CONTACT_SHEET_H_
