// JSON and table output of a CompareResult (schema in docs/metrics.md).
#include <cmath>
#include <sstream>

#include <fmt/format.h>

#include "facespace/compare.h"
#include "analysis/analysis_internal.h"

namespace facespace {
namespace {

using nlohmann::json;

using analysis::FigureJson;
using analysis::NumberJson;

json ProbeJson(const ProbeFigures& figures) {
  return {{"probes", figures.probes},
          {"sample_rank1", FigureJson(figures.sample_rank1)},
          {"sample_rank5", FigureJson(figures.sample_rank5)},
          {"centroid_rank1", FigureJson(figures.centroid_rank1)},
          {"centroid_rank5", FigureJson(figures.centroid_rank5)},
          {"centroid_eer", FigureJson(figures.centroid_eer)},
          {"centroid_auc", FigureJson(figures.centroid_auc)},
          {"centroid_tar_far_1e-2", FigureJson(figures.centroid_tar_far_1e2)},
          {"centroid_tar_far_1e-3", FigureJson(figures.centroid_tar_far_1e3)},
          {"contamination", FigureJson(figures.contamination)}};
}

std::string Cell(double value) { return std::isfinite(value) ? fmt::format("{:.4f}", value) : "n/a"; }

}  // namespace

json ToJson(const CompareResult& result) {
  json comparisons = json::array();
  for (const auto& row : result.comparisons) {
    comparisons.push_back({{"key", row.key},
                           {"higher_is_better", row.higher_is_better},
                           {"before", NumberJson(row.before)},
                           {"after", NumberJson(row.after)},
                           {"difference", NumberJson(row.difference)},
                           {"ci_low", NumberJson(row.ci_low)},
                           {"ci_high", NumberJson(row.ci_high)},
                           {"verdict", row.verdict}});
  }
  json robustness = json::array();
  for (const auto& entry : result.robustness) {
    robustness.push_back({{"preset", entry.preset},
                          {"lost", entry.lost},
                          {"before", ProbeJson(entry.before)},
                          {"after", ProbeJson(entry.after)}});
  }
  json response = json::array();
  for (const auto& curve : result.response) {
    json points = json::array();
    for (const auto& point : curve.points) {
      points.push_back({{"strength", point.strength},
                        {"samples", point.samples},
                        {"lost", point.lost},
                        {"mean_distance", NumberJson(point.mean_distance)},
                        {"p95_distance", NumberJson(point.p95_distance)}});
    }
    response.push_back({{"family", curve.family},
                        {"transforms", curve.transforms},
                        {"points", points},
                        {"crossing_strength", NumberJson(curve.crossing_strength)}});
  }
  const CompareOptions& o = result.options;
  return {{"format", "facespace-compare"},
          {"format_version", result.format_version},
          {"options",
           {{"recipe", o.recipe},
            {"recipe_canonical", result.recipe_canonical},
            {"per_image", o.per_image},
            {"seed", o.seed},
            {"probe_fraction", o.probe_fraction},
            {"metric", MetricName(o.metric)},
            {"bootstrap_replicates", o.bootstrap_replicates},
            {"confidence", o.confidence},
            {"robustness_presets", o.robustness_presets},
            {"response_sources", o.response_sources},
            {"response_strengths", o.response_strengths}}},
          {"counts",
           {{"identities", result.identities},
            {"gallery_samples", result.gallery_samples},
            {"probe_samples", result.probe_samples},
            {"synthetic_samples", result.synthetic_samples},
            {"synthetic_lost", result.synthetic_lost}}},
          {"before", ToJson(result.before)},
          {"after", ToJson(result.after)},
          {"probes_before", ProbeJson(result.probes_before)},
          {"probes_after", ProbeJson(result.probes_after)},
          {"robustness", robustness},
          {"comparisons", comparisons},
          {"match_threshold", NumberJson(result.match_threshold)},
          {"response", response},
          {"seconds", result.seconds}};
}

std::string FormatCompareTable(const CompareResult& result) {
  std::ostringstream out;
  out << fmt::format("recipe {} x {} per gallery image, seed {}, probe fraction {}\n", result.recipe_canonical,
                     result.options.per_image, result.options.seed, result.options.probe_fraction);
  out << fmt::format("{} identities; gallery {} real + {} synthetic ({} lost); {} real probes\n",
                     result.identities, result.gallery_samples, result.synthetic_samples, result.synthetic_lost,
                     result.probe_samples);
  out << fmt::format("differences are after - before with a paired {:.0f}% bootstrap interval over identities\n\n",
                     result.options.confidence * 100);
  out << fmt::format("{:<44}{:>10}{:>10}{:>10}{:>22}  {}\n", "figure", "before", "after", "diff", "interval",
                     "verdict");
  for (const auto& row : result.comparisons) {
    const std::string interval =
        std::isfinite(row.ci_low) ? fmt::format("[{}, {}]", Cell(row.ci_low), Cell(row.ci_high)) : "n/a";
    out << fmt::format("{:<44}{:>10}{:>10}{:>10}{:>22}  {}\n", row.key, Cell(row.before), Cell(row.after),
                       Cell(row.difference), interval, row.verdict);
  }
  for (const auto& entry : result.robustness) {
    if (entry.lost > 0) out << fmt::format("robustness {}: {} degraded probes lost their face\n", entry.preset, entry.lost);
  }
  if (!result.response.empty()) {
    out << fmt::format("\ntransform response (distance to the source; threshold {:.4f})\n", result.match_threshold);
    for (const auto& curve : result.response) {
      out << fmt::format("  {:<10}", curve.family);
      for (const auto& point : curve.points) {
        out << fmt::format("  s={:.2f}: {} / p95 {}", point.strength, Cell(point.mean_distance), Cell(point.p95_distance));
      }
      out << fmt::format("  crossing {}\n", Cell(curve.crossing_strength));
    }
  }
  out << fmt::format("\n{:.1f} s\n", result.seconds);
  return out.str();
}

}  // namespace facespace
