#include "synth/contact_sheet.h"

#include <algorithm>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "facespace/error.h"
#include "facespace/image.h"

namespace facespace::synth {
namespace {

const cv::Scalar kLostColour(220, 30, 30);
const cv::Scalar kLabelColour(255, 255, 0);
const cv::Scalar kBackground(40, 40, 40);

// A folder name for an identity: the name as stored, except that path
// separators and the names "." and ".." cannot escape the output folder.
std::string FolderName(const std::string& identity) {
  std::string name = identity;
  std::replace(name.begin(), name.end(), '/', '_');
  std::replace(name.begin(), name.end(), '\\', '_');
  if (name.empty() || name == "." || name == "..") name = "_" + name;
  return name;
}

// Crops the face box enlarged by 40% on each side (clamped to the picture)
// and fits it into a kCell square.
cv::Mat FaceCell(const cv::Mat& picture, const FaceBox& box, int cell) {
  cv::Rect area(0, 0, picture.cols, picture.rows);
  if (box.right > box.left && box.bottom > box.top) {
    const int margin_x = (box.right - box.left + 1) * 2 / 5;
    const int margin_y = (box.bottom - box.top + 1) * 2 / 5;
    area = cv::Rect(cv::Point(box.left - margin_x, box.top - margin_y),
                    cv::Point(box.right + margin_x + 1, box.bottom + margin_y + 1)) &
           cv::Rect(0, 0, picture.cols, picture.rows);
    if (area.empty()) area = cv::Rect(0, 0, picture.cols, picture.rows);
  }
  const cv::Mat crop = picture(area);
  const double scale = static_cast<double>(cell) / std::max(crop.cols, crop.rows);
  cv::Mat resized;
  cv::resize(crop, resized,
             cv::Size(std::max(1, static_cast<int>(crop.cols * scale)),
                      std::max(1, static_cast<int>(crop.rows * scale))),
             0, 0, cv::INTER_AREA);
  cv::Mat result(cell, cell, CV_8UC3, kBackground);
  resized.copyTo(result(cv::Rect((cell - resized.cols) / 2, (cell - resized.rows) / 2,
                                 resized.cols, resized.rows)));
  return result;
}

void Label(cv::Mat& cell, const std::string& text) {
  cv::putText(cell, text, cv::Point(4, cell.rows - 6), cv::FONT_HERSHEY_SIMPLEX, 0.4,
              cv::Scalar(0, 0, 0), 3);
  cv::putText(cell, text, cv::Point(4, cell.rows - 6), cv::FONT_HERSHEY_SIMPLEX, 0.4,
              kLabelColour, 1);
}

}  // namespace

std::filesystem::path SampleImagePath(const std::filesystem::path& folder,
                                      const SynthesisSource& source,
                                      const SyntheticSample& sample) {
  return folder / FolderName(source.identity) /
         fmt::format("{}_s{}_v{:02}{}.png", source.image_path.stem().string(), source.sample_id,
                     sample.variant, sample.face_found ? "" : "_lost");
}

void WritePng(const std::filesystem::path& file, const cv::Mat& rgb) {
  std::error_code error;
  std::filesystem::create_directories(file.parent_path(), error);
  if (error) {
    throw Error(ErrorCategory::kIo,
                fmt::format("{}: cannot create folder: {}", file.parent_path().string(), error.message()));
  }
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  bool written = false;
  try {
    written = cv::imwrite(file.string(), bgr);
  } catch (const cv::Exception& exception) {
    throw Error(ErrorCategory::kIo, fmt::format("{}: cannot write PNG: {}", file.string(), exception.what()));
  }
  if (!written) throw Error(ErrorCategory::kIo, fmt::format("{}: cannot write PNG", file.string()));
}

ContactSheets::ContactSheets(std::filesystem::path folder) : folder_(std::move(folder)) {}

void ContactSheets::AddVariant(const SynthesisSource& source, ApplyTarget target,
                               const SyntheticSample& sample) {
  if (folder_.empty()) return;
  const bool new_source = rows_.empty() || rows_.back().sample_id != source.sample_id;
  const bool sheet_full = static_cast<int>(rows_.size()) >= kRowsPerSheet;
  if (source.identity != identity_ || (sheet_full && new_source)) {
    Flush();
    identity_ = source.identity;
  }
  if (rows_.empty() || rows_.back().sample_id != source.sample_id) {
    Row row;
    row.sample_id = source.sample_id;
    const cv::Mat original = ReadImageFile(source.image_path).rgb;
    cv::Mat cell = FaceCell(original, source.box, kCell);
    Label(cell, "original");
    row.cells.push_back(cell);
    rows_.push_back(std::move(row));
  }

  cv::Mat cell = target == ApplyTarget::kChip ? FaceCell(sample.image, FaceBox{}, kCell)
                                              : FaceCell(sample.image, sample.moved_box, kCell);
  if (!sample.face_found) {
    cv::rectangle(cell, cv::Rect(0, 0, kCell, kCell), kLostColour, 4);
    Label(cell, fmt::format("v{} lost", sample.variant));
  } else {
    Label(cell, fmt::format("v{}", sample.variant));
  }
  rows_.back().cells.push_back(cell);
}

void ContactSheets::Flush() {
  if (rows_.empty()) return;
  std::size_t columns = 0;
  for (const Row& row : rows_) columns = std::max(columns, row.cells.size());
  cv::Mat sheet(static_cast<int>(rows_.size()) * kCell, static_cast<int>(columns) * kCell, CV_8UC3,
                kBackground);
  for (std::size_t r = 0; r < rows_.size(); ++r) {
    for (std::size_t c = 0; c < rows_[r].cells.size(); ++c) {
      rows_[r].cells[c].copyTo(sheet(cv::Rect(static_cast<int>(c) * kCell,
                                              static_cast<int>(r) * kCell, kCell, kCell)));
    }
  }
  const int number = ++sheets_written_[identity_];
  WritePng(folder_ / FolderName(identity_) / fmt::format("contact_sheet_{:03}.png", number), sheet);
  rows_.clear();
}

}  // namespace facespace::synth
