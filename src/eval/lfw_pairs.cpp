#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "facespace/error.h"
#include "facespace/lfw.h"

namespace facespace {
namespace {

std::vector<std::string> SplitFields(const std::string& line) {
  std::istringstream stream(line);
  std::vector<std::string> fields;
  std::string field;
  while (stream >> field) fields.push_back(field);
  return fields;
}

// Parses a decimal integer >= `minimum` that makes up all of `text`.
bool ParseInt(const std::string& text, int minimum, int& value) {
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  return error == std::errc() && stop == end && value >= minimum;
}

// Reads pair lines one at a time and reports errors with the line number.
class PairFileReader {
 public:
  PairFileReader(std::istream& input, std::string source)
      : input_(input), source_(std::move(source)) {}

  // Returns the next line with a trailing '\r' removed; false at end of file.
  bool NextLine(std::string& line) {
    if (!std::getline(input_, line)) return false;
    ++line_number_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
  }

  [[noreturn]] void Fail(const std::string& expected, const std::string& found) const {
    throw Error(ErrorCategory::kDecode,
                fmt::format("{}:{}: expected {}, found {}", source_, line_number_, expected, found));
  }

  int line_number() const { return line_number_; }
  const std::string& source() const { return source_; }

 private:
  std::istream& input_;
  std::string source_;
  int line_number_ = 0;
};

std::string Quote(const std::string& line) {
  return line.empty() ? std::string("an empty line") : "'" + line + "'";
}

void ReadHeader(PairFileReader& reader, LfwPairSet& set) {
  static const std::string kExpected =
      "a header line 'N' (View 1) or 'FOLDS PAIRS' (View 2) with positive integers";
  std::string line;
  if (!reader.NextLine(line)) reader.Fail(kExpected, "the end of the file");

  const std::vector<std::string> fields = SplitFields(line);
  if (fields.size() == 1 && ParseInt(fields[0], 1, set.pairs_per_fold)) {
    set.layout = LfwLayout::kView1;
    set.folds = 1;
    return;
  }
  if (fields.size() == 2 && ParseInt(fields[0], 1, set.folds) &&
      ParseInt(fields[1], 1, set.pairs_per_fold)) {
    set.layout = LfwLayout::kView2;
    return;
  }
  reader.Fail(kExpected, Quote(line));
}

LfwPair ReadPair(PairFileReader& reader, bool matched, int fold) {
  const std::string expected = matched ? "a matched pair 'NAME N1 N2'"
                                       : "a mismatched pair 'NAME1 N1 NAME2 N2'";
  std::string line;
  if (!reader.NextLine(line)) reader.Fail(expected, "the end of the file");

  const std::vector<std::string> fields = SplitFields(line);
  LfwPair pair;
  pair.matched = matched;
  pair.fold = fold;
  pair.line = reader.line_number();
  bool valid = false;
  if (matched && fields.size() == 3) {
    pair.first.name = pair.second.name = fields[0];
    valid = ParseInt(fields[1], 1, pair.first.number) && ParseInt(fields[2], 1, pair.second.number);
  } else if (!matched && fields.size() == 4) {
    pair.first.name = fields[0];
    pair.second.name = fields[2];
    valid = ParseInt(fields[1], 1, pair.first.number) && ParseInt(fields[3], 1, pair.second.number);
  }
  if (!valid) {
    reader.Fail(expected + " with image numbers >= 1", Quote(line));
  }
  return pair;
}

void ReadTrailer(PairFileReader& reader) {
  std::string line;
  while (reader.NextLine(line)) {
    if (!SplitFields(line).empty()) {
      reader.Fail("the end of the file after the pairs the header announced", Quote(line));
    }
  }
}

}  // namespace

LfwPairSet ParseLfwPairs(std::istream& input, const std::string& source_name) {
  PairFileReader reader(input, source_name);
  LfwPairSet set;
  set.source = source_name;
  ReadHeader(reader, set);

  set.pairs.reserve(static_cast<std::size_t>(set.folds) * set.pairs_per_fold * 2);
  for (int fold = 0; fold < set.folds; ++fold) {
    for (int i = 0; i < set.pairs_per_fold; ++i) set.pairs.push_back(ReadPair(reader, true, fold));
    for (int i = 0; i < set.pairs_per_fold; ++i) set.pairs.push_back(ReadPair(reader, false, fold));
  }
  ReadTrailer(reader);
  return set;
}

LfwPairSet ReadLfwPairs(const std::filesystem::path& path) {
  std::ifstream input(path);
  if (!input) {
    throw Error(ErrorCategory::kNotFound, path.string() + ": cannot open the pair file");
  }
  return ParseLfwPairs(input, path.string());
}

std::filesystem::path LfwImagePath(const std::filesystem::path& images_dir, const LfwImage& image) {
  return images_dir / image.name / fmt::format("{}_{:04d}.jpg", image.name, image.number);
}

std::vector<LfwImage> DistinctImages(std::span<const LfwPair> pairs) {
  std::vector<LfwImage> images;
  images.reserve(pairs.size() * 2);
  for (const LfwPair& pair : pairs) {
    images.push_back(pair.first);
    images.push_back(pair.second);
  }
  std::sort(images.begin(), images.end());
  images.erase(std::unique(images.begin(), images.end()), images.end());
  return images;
}

}  // namespace facespace
