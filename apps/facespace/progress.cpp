#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <utility>

#include <fmt/format.h>

namespace facespace::cli {

std::string FormatDuration(double seconds) {
  const long total = static_cast<long>(std::max(0.0, seconds) + 0.5);
  if (total >= 3600) return fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60);
  return fmt::format("{}:{:02}", total / 60, total % 60);
}

std::string FormatBar(std::int64_t done, std::int64_t total, int width) {
  const int filled =
      total > 0 ? static_cast<int>(width * std::clamp<std::int64_t>(done, 0, total) / total) : width;
  std::string bar;
  bar.reserve(static_cast<std::size_t>(width) + 2);
  bar += '[';
  bar.append(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(width - filled), '.');
  bar += ']';
  return bar;
}

bool ProgressOnTerminal(bool quiet) { return !quiet && ::isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::string label, std::string unit, bool quiet)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      quiet_(quiet),
      terminal_(ProgressOnTerminal(quiet)),
      start_(std::chrono::steady_clock::now()) {}

void ProgressBar::Update(std::int64_t done, std::int64_t total) {
  if (!terminal_) return;
  const double seconds = Seconds();
  const double rate = seconds > 0 ? done / seconds : 0;
  const double left = rate > 0 ? (total - done) / rate : 0;
  std::cerr << fmt::format("\r{} {} {}/{} {}  {:.1f} {}/s  {} left ", label_, FormatBar(done, total, 30), done,
                           total, unit_, rate, unit_, FormatDuration(left))
            << std::flush;
  drawn_ = true;
}

void ProgressBar::Finish(const std::string& summary) {
  if (quiet_) return;
  if (drawn_) std::cerr << "\n";
  drawn_ = false;
  if (!summary.empty()) std::cerr << label_ << ": " << summary << "\n";
}

double ProgressBar::Seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

}  // namespace facespace::cli
