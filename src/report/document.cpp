// Sections of the report document built from analysis results.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "facespace/error.h"
#include "facespace/report.h"

namespace facespace {
namespace {

using nlohmann::json;

// Percentile interval of `values` with linear interpolation between order
// statistics (numpy's default percentile method).
std::pair<double, double> PercentileOf(std::vector<double> values, double confidence) {
  std::erase_if(values, [](double v) { return std::isnan(v); });
  if (values.empty()) return {kNotAvailable, kNotAvailable};
  std::sort(values.begin(), values.end());
  auto at = [&values](double p) {
    const double position = p * static_cast<double>(values.size() - 1);
    const auto below = static_cast<std::size_t>(std::floor(position));
    const std::size_t above = std::min(below + 1, values.size() - 1);
    const double fraction = position - static_cast<double>(below);
    return values[below] + fraction * (values[above] - values[below]);
  };
  const double tail = (1 - confidence) / 2;
  return {at(tail), at(1 - tail)};
}

// A headline row whose difference interval comes from paired bootstrap replicates.
HeadlineRow PairedRow(std::string key, std::string label, bool higher_is_better,
                      const Figure& before, const Figure& after, double confidence) {
  HeadlineRow row;
  row.key = std::move(key);
  row.label = std::move(label);
  row.higher_is_better = higher_is_better;
  row.before = before.value;
  row.after = after.value;
  if (!before.supported || !after.supported) {
    row.note = !before.supported ? before.note : after.note;
    return row;
  }
  const std::size_t n = before.replicates.size();
  if (n == 0 || after.replicates.size() != n) {
    row.note = "no paired bootstrap replicates, so no interval";
    return row;
  }
  std::vector<double> differences(n);
  for (std::size_t i = 0; i < n; ++i) differences[i] = after.replicates[i] - before.replicates[i];
  std::tie(row.ci_low, row.ci_high) = PercentileOf(std::move(differences), confidence);
  return row;
}

// TAR = 1 - FNMR at the operating point for `far`, as a Figure with replicates.
Figure TarAtFar(const AnalysisResult& result, double far) {
  Figure tar;
  for (const OperatingPoint& point : result.verification.tar_at_far) {
    if (std::abs(point.target_fmr - far) > far * 1e-9) continue;
    tar.supported = point.supported && point.fnmr.supported;
    tar.note = point.supported ? point.fnmr.note
                               : fmt::format("fewer than {:g} impostor pairs: FAR {:g} is not supported by the data",
                                             1 / far, far);
    tar.value = 1 - point.fnmr.value;
    tar.ci_low = 1 - point.fnmr.ci_high;
    tar.ci_high = 1 - point.fnmr.ci_low;
    tar.replicates.reserve(point.fnmr.replicates.size());
    for (double fnmr : point.fnmr.replicates) tar.replicates.push_back(1 - fnmr);
    return tar;
  }
  tar.supported = false;
  tar.note = fmt::format("the analysis has no operating point at FAR {:g}", far);
  return tar;
}

std::string TarLabel(double far) { return fmt::format("TAR@FAR={:g}", far); }

// JSON value of a figure: null for NaN, which marks a value that is not available.
json Number(double value) { return std::isnan(value) ? json(nullptr) : json(value); }

json Histogram(const AnalysisResult& result, const char* phase, const char* kind,
               const DistanceDistribution& distribution) {
  json rows = json::array();
  const auto& edges = result.histogram_edges;
  std::uint64_t total = 0;
  for (std::uint64_t count : distribution.histogram) total += count;
  for (std::size_t bin = 0; bin < distribution.histogram.size() && bin + 1 < edges.size(); ++bin) {
    const double width = edges[bin + 1] - edges[bin];
    const std::uint64_t count = distribution.histogram[bin];
    const double density = total > 0 && width > 0 ? static_cast<double>(count) / (total * width) : 0.0;
    rows.push_back({{"phase", phase}, {"class", kind}, {"bin_start", edges[bin]},
                    {"bin_end", edges[bin + 1]}, {"count", count}, {"density", density}});
  }
  return rows;
}

void AppendAll(json& target, const json& rows) {
  for (const json& row : rows) target.push_back(row);
}

std::string Describe(const HeadlineRow& row) {
  const auto value = [](double v) { return std::isnan(v) ? std::string("n/a") : fmt::format("{:.3f}", v); };
  return fmt::format("{} from {} to {} ({})", row.label, value(row.before), value(row.after),
                     HeadlineVerdict(row));
}

}  // namespace

std::string HeadlineVerdict(const HeadlineRow& row) {
  if (std::isnan(row.before) || std::isnan(row.after) || std::isnan(row.ci_low) ||
      std::isnan(row.ci_high)) {
    return "n/a";
  }
  if (row.ci_low <= 0 && row.ci_high >= 0) return "no significant change";
  const bool rose = row.ci_low > 0;
  return rose == row.higher_is_better ? "improved" : "worse";
}

std::vector<HeadlineRow> HeadlineFromAnalyses(const AnalysisResult& before,
                                              const AnalysisResult& after, double far) {
  const double confidence = before.confidence;
  return {
      PairedRow("d_prime", "d′", true, before.verification.d_prime, after.verification.d_prime,
                confidence),
      PairedRow("eer", "EER", false, before.verification.eer, after.verification.eer, confidence),
      PairedRow("tar_at_far", TarLabel(far), true, TarAtFar(before, far), TarAtFar(after, far),
                confidence),
      PairedRow("rank1", "rank-1", true, before.identification.rank1, after.identification.rank1,
                confidence),
      PairedRow("silhouette", "silhouette", true, before.cluster.silhouette,
                after.cluster.silhouette, confidence),
      PairedRow("fisher_ratio", "Fisher ratio", true, before.cluster.fisher_ratio,
                after.cluster.fisher_ratio, confidence),
  };
}

json HeadlineJson(const std::vector<HeadlineRow>& rows) {
  json out = json::array();
  for (const HeadlineRow& row : rows) {
    json item = {{"key", row.key},
                 {"label", row.label},
                 {"higher_is_better", row.higher_is_better},
                 {"before", Number(row.before)},
                 {"after", Number(row.after)},
                 {"difference", Number(row.after - row.before)},
                 {"ci_low", Number(row.ci_low)},
                 {"ci_high", Number(row.ci_high)},
                 {"verdict", HeadlineVerdict(row)}};
    if (!row.note.empty()) item["note"] = row.note;
    out.push_back(std::move(item));
  }
  return out;
}

json DistanceHistogramsJson(const AnalysisResult& before, const AnalysisResult& after) {
  json rows = json::array();
  AppendAll(rows, Histogram(before, "before", "genuine", before.genuine));
  AppendAll(rows, Histogram(before, "before", "impostor", before.impostor));
  AppendAll(rows, Histogram(after, "after", "genuine", after.genuine));
  AppendAll(rows, Histogram(after, "after", "impostor", after.impostor));
  return rows;
}

json RocJson(const AnalysisResult& before, const AnalysisResult& after) {
  json rows = json::array();
  for (const auto& [phase, result] : {std::pair{"before", &before}, std::pair{"after", &after}}) {
    for (const CurvePoint& point : result->verification.curve) {
      rows.push_back({{"phase", phase}, {"far", point.fmr}, {"tar", 1 - point.fnmr},
                      {"threshold", point.threshold}});
    }
  }
  return rows;
}

json DetJson(const AnalysisResult& before, const AnalysisResult& after) {
  json rows = json::array();
  for (const auto& [phase, result] : {std::pair{"before", &before}, std::pair{"after", &after}}) {
    for (const CurvePoint& point : result->verification.curve) {
      rows.push_back({{"phase", phase}, {"far", point.fmr}, {"frr", point.fnmr},
                      {"threshold", point.threshold}});
    }
  }
  return rows;
}

json CmcJson(const AnalysisResult& before, const AnalysisResult& after) {
  json rows = json::array();
  for (const auto& [phase, result] : {std::pair{"before", &before}, std::pair{"after", &after}}) {
    const auto& cmc = result->identification.cmc;
    for (std::size_t rank = 1; rank <= cmc.size(); ++rank) {
      rows.push_back({{"phase", phase}, {"rank", rank}, {"rate", cmc[rank - 1]}});
    }
  }
  return rows;
}

json IdentityRowsJson(const AnalysisResult& before, const AnalysisResult& after) {
  std::map<std::string, const IdentityRow*> after_by_name;
  for (const IdentityRow& row : after.identities) after_by_name[row.name] = &row;
  json rows = json::array();
  for (const IdentityRow& row : before.identities) {
    const auto found = after_by_name.find(row.name);
    const IdentityRow* other = found == after_by_name.end() ? nullptr : found->second;
    const auto after_value = [other](double IdentityRow::*field) {
      return other ? other->*field : kNotAvailable;
    };
    rows.push_back({{"identity", row.name},
                    {"real_samples", row.samples - row.synthetic_samples},
                    {"synthetic_samples", other ? other->synthetic_samples : 0},
                    {"radius_before", Number(row.radius_mean)},
                    {"radius_after", Number(after_value(&IdentityRow::radius_mean))},
                    {"margin_before", Number(row.margin)},
                    {"margin_after", Number(after_value(&IdentityRow::margin))},
                    {"silhouette_before", Number(row.silhouette)},
                    {"silhouette_after", Number(after_value(&IdentityRow::silhouette))}});
  }
  return rows;
}

json SpaceRowJson(std::string_view space, const AnalysisResult& result, double far) {
  return {{"space", space},
          {"samples", result.counts.samples},
          {"identities", result.counts.identities},
          {"d_prime", Number(result.verification.d_prime.value)},
          {"eer", Number(result.verification.eer.value)},
          {"tar_label", TarLabel(far)},
          {"tar_at_far", Number(TarAtFar(result, far).value)},
          {"rank1", Number(result.identification.rank1.value)},
          {"silhouette", Number(result.cluster.silhouette.value)},
          {"fisher_ratio", Number(result.cluster.fisher_ratio.value)}};
}

std::pair<std::string, std::string> QuestionAndAnswer(const std::vector<HeadlineRow>& rows,
                                                      std::string_view recipe, int per_image) {
  std::string question = fmt::format(
      "Does adding {} synthetic sample{} per real face, made with the recipe \"{}\", change how "
      "well the identities are told apart?",
      per_image, per_image == 1 ? "" : "s", recipe);
  std::vector<std::string> parts;
  for (const HeadlineRow& row : rows) {
    if (row.key == "d_prime" || row.key == "eer" || row.key == "rank1") parts.push_back(Describe(row));
  }
  if (parts.empty()) return {question, "The run produced no headline figure to answer it."};
  std::string answer = "With them, ";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) answer += i + 1 == parts.size() ? ", and " : ", ";
    answer += parts[i];
    if (i == 0) answer.insert(answer.find(" from ", answer.size() - parts[i].size()), " went");
  }
  answer += ".";
  return {question, answer};
}

void ValidateReportDocument(const json& document) {
  if (!document.is_object()) throw Error(ErrorCategory::kCorrupt, "report document: not a JSON object");
  if (document.value("format", "") != kReportFormat) {
    throw Error(ErrorCategory::kCorrupt,
                fmt::format("report document: format is {}, expected \"{}\"",
                            document.contains("format") ? document["format"].dump() : "missing",
                            kReportFormat));
  }
  if (!document.contains("format_version") || document["format_version"] != kReportFormatVersion) {
    throw Error(ErrorCategory::kCorrupt,
                fmt::format("report document: format_version is {}, this build writes {}",
                            document.contains("format_version") ? document["format_version"].dump()
                                                                : "missing",
                            kReportFormatVersion));
  }
  for (const char* key : {"question", "answer", "config", "headline"}) {
    if (!document.contains(key)) {
      throw Error(ErrorCategory::kCorrupt, fmt::format("report document: missing field \"{}\"", key));
    }
  }
}

}  // namespace facespace
