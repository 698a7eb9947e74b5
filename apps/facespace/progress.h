// Progress output of the long-running subcommands, all on stderr so stdout
// keeps only results. A bar is redrawn in place while stderr is a terminal, and
// each stage ends with one summary line in either case.
#ifndef FACESPACE_APPS_PROGRESS_H_
#define FACESPACE_APPS_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace facespace::cli {

// Formats `seconds` as m:ss, or as h:mm:ss from one hour on.
std::string FormatDuration(double seconds);

// Returns a bar such as "[#####.....]" of `width` cells, filled in proportion
// to done / total.
std::string FormatBar(std::int64_t done, std::int64_t total, int width);

// Returns whether stderr is a terminal and `quiet` is false, which is when a
// bar is redrawn in place.
bool ProgressOnTerminal(bool quiet);

// The progress of one stage that counts items, such as images:
//
//   ingest [#########.....................] 812/2500 images  21.3 images/s  1:19 left
//
// Update redraws that line on a terminal and prints nothing otherwise, so logs
// and pipes get no partial lines. Finish ends the line and prints
// "LABEL: SUMMARY" unless quiet.
class ProgressBar {
 public:
  ProgressBar(std::string label, std::string unit, bool quiet);

  void Update(std::int64_t done, std::int64_t total);

  // An empty summary only ends the bar.
  void Finish(const std::string& summary);

  // Returns the seconds since construction.
  double Seconds() const;

 private:
  std::string label_;
  std::string unit_;
  bool quiet_;
  bool terminal_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace facespace::cli

#endif  // FACESPACE_APPS_PROGRESS_H_
