// JSON, CSV and table output of an AnalysisResult. The JSON schema is
// documented in docs/metrics.md; NaN values are written as null.
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "facespace/analysis.h"
#include "facespace/error.h"
#include "analysis/analysis_internal.h"

namespace facespace {

namespace analysis {

nlohmann::json NumberJson(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

nlohmann::json FigureJson(const Figure& figure) {
  nlohmann::json out = {{"value", NumberJson(figure.value)},
                        {"ci_low", NumberJson(figure.ci_low)},
                        {"ci_high", NumberJson(figure.ci_high)},
                        {"supported", figure.supported}};
  if (!figure.note.empty()) out["note"] = figure.note;
  return out;
}

}  // namespace analysis

namespace {

using analysis::FigureJson;
using analysis::NumberJson;

using nlohmann::json;

constexpr const char* kFormatName = "facespace-analysis";

double ReadNumber(const json& value) { return value.is_null() ? kNotAvailable : value.get<double>(); }

Figure FigureFromJson(const json& in) {
  Figure figure;
  figure.value = ReadNumber(in.at("value"));
  figure.ci_low = ReadNumber(in.at("ci_low"));
  figure.ci_high = ReadNumber(in.at("ci_high"));
  figure.supported = in.at("supported").get<bool>();
  figure.note = in.value("note", "");
  return figure;
}

// TAR = 1 - FNMR, so its interval is the mirrored FNMR interval.
Figure Complement(const Figure& fnmr) {
  Figure tar = fnmr;
  tar.value = 1.0 - fnmr.value;
  tar.ci_low = 1.0 - fnmr.ci_high;
  tar.ci_high = 1.0 - fnmr.ci_low;
  tar.replicates.clear();
  return tar;
}

json PointJson(const OperatingPoint& point) {
  return {{"target_fmr", point.target_fmr}, {"supported", point.supported},
          {"threshold", NumberJson(point.threshold)}, {"fmr", NumberJson(point.fmr)},
          {"fnmr", FigureJson(point.fnmr)}, {"tar", FigureJson(Complement(point.fnmr))}};
}

OperatingPoint PointFromJson(const json& in) {
  OperatingPoint point;
  point.target_fmr = in.at("target_fmr").get<double>();
  point.supported = in.at("supported").get<bool>();
  point.threshold = ReadNumber(in.at("threshold"));
  point.fmr = ReadNumber(in.at("fmr"));
  point.fnmr = FigureFromJson(in.at("fnmr"));
  return point;
}

json DistributionJson(const DistanceDistribution& distribution) {
  json quantiles = json::array();
  for (const auto& q : distribution.quantiles) {
    quantiles.push_back({{"p", q.probability}, {"value", NumberJson(q.value)}});
  }
  return {{"count", distribution.count}, {"used", distribution.used}, {"exact", distribution.exact},
          {"mean", NumberJson(distribution.mean)}, {"std", NumberJson(distribution.std)},
          {"min", NumberJson(distribution.min)}, {"max", NumberJson(distribution.max)},
          {"quantiles", quantiles}, {"histogram", distribution.histogram}};
}

DistanceDistribution DistributionFromJson(const json& in) {
  DistanceDistribution distribution;
  distribution.count = in.at("count").get<std::uint64_t>();
  distribution.used = in.at("used").get<std::uint64_t>();
  distribution.exact = in.at("exact").get<bool>();
  distribution.mean = ReadNumber(in.at("mean"));
  distribution.std = ReadNumber(in.at("std"));
  distribution.min = ReadNumber(in.at("min"));
  distribution.max = ReadNumber(in.at("max"));
  for (const auto& q : in.at("quantiles")) {
    distribution.quantiles.push_back({q.at("p").get<double>(), ReadNumber(q.at("value"))});
  }
  distribution.histogram = in.at("histogram").get<std::vector<std::uint64_t>>();
  return distribution;
}

json IdentityJson(const IdentityRow& row) {
  return {{"label", row.label},
          {"name", row.name},
          {"samples", row.samples},
          {"synthetic_samples", row.synthetic_samples},
          {"centroid_norm", NumberJson(row.centroid_norm)},
          {"radius_mean", NumberJson(row.radius_mean)},
          {"radius_max", NumberJson(row.radius_max)},
          {"nearest_centroid_distance", NumberJson(row.nearest_centroid_distance)},
          {"nearest_centroid_identity", row.nearest_centroid_identity},
          {"nearest_impostor", NumberJson(row.nearest_impostor)},
          {"farthest_genuine", NumberJson(row.farthest_genuine)},
          {"margin", NumberJson(row.margin)},
          {"silhouette", NumberJson(row.silhouette)}};
}

IdentityRow IdentityFromJson(const json& in) {
  IdentityRow row;
  row.label = in.at("label").get<std::int32_t>();
  row.name = in.at("name").get<std::string>();
  row.samples = in.at("samples").get<std::uint64_t>();
  row.synthetic_samples = in.at("synthetic_samples").get<std::uint64_t>();
  row.centroid_norm = ReadNumber(in.at("centroid_norm"));
  row.radius_mean = ReadNumber(in.at("radius_mean"));
  row.radius_max = ReadNumber(in.at("radius_max"));
  row.nearest_centroid_distance = ReadNumber(in.at("nearest_centroid_distance"));
  row.nearest_centroid_identity = in.at("nearest_centroid_identity").get<std::string>();
  row.nearest_impostor = ReadNumber(in.at("nearest_impostor"));
  row.farthest_genuine = ReadNumber(in.at("farthest_genuine"));
  row.margin = ReadNumber(in.at("margin"));
  row.silhouette = ReadNumber(in.at("silhouette"));
  return row;
}

std::ofstream OpenCsv(const std::filesystem::path& path) {
  std::ofstream out(path);
  if (!out) throw Error(ErrorCategory::kIo, path.string() + ": cannot open for writing");
  out.precision(17);
  return out;
}

// Quotes a CSV field when it contains a separator, quote or line break (RFC 4180).
std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string CsvNumber(double value) { return std::isfinite(value) ? fmt::format("{:.17g}", value) : ""; }

std::string FormatFigure(const Figure& figure, int digits) {
  if (!figure.supported) return "not supported by the data";
  if (!std::isfinite(figure.value)) return "n/a";
  std::string text = fmt::format("{:.{}f}", figure.value, digits);
  if (std::isfinite(figure.ci_low)) {
    text += fmt::format("  [{:.{}f}, {:.{}f}]", figure.ci_low, digits, figure.ci_high, digits);
  }
  return text;
}

}  // namespace

json ToJson(const AnalysisResult& result) {
  const VerificationResult& v = result.verification;
  json curve = {{"threshold", json::array()}, {"fmr", json::array()}, {"fnmr", json::array()}};
  for (const auto& point : v.curve) {
    curve["threshold"].push_back(point.threshold);
    curve["fmr"].push_back(point.fmr);
    curve["fnmr"].push_back(point.fnmr);
  }
  json tar_at_far = json::array();
  for (const auto& point : v.tar_at_far) tar_at_far.push_back(PointJson(point));

  const IdentificationResult& id = result.identification;
  const ClusterResult& cluster = result.cluster;
  json identities = json::array();
  for (const auto& row : result.identities) identities.push_back(IdentityJson(row));

  return {
      {"format", kFormatName},
      {"format_version", result.format_version},
      {"metric", MetricName(result.metric)},
      {"seed", result.seed},
      {"bootstrap_replicates", result.bootstrap_replicates},
      {"confidence", result.confidence},
      {"seconds", result.seconds},
      {"counts",
       {{"samples", result.counts.samples},
        {"real_samples", result.counts.real_samples},
        {"synthetic_samples", result.counts.synthetic_samples},
        {"identities", result.counts.identities},
        {"singleton_identities", result.counts.singleton_identities},
        {"genuine_pairs", result.counts.genuine_pairs},
        {"impostor_pairs", result.counts.impostor_pairs}}},
      {"histogram_edges", result.histogram_edges},
      {"genuine", DistributionJson(result.genuine)},
      {"impostor", DistributionJson(result.impostor)},
      {"verification",
       {{"d_prime", FigureJson(v.d_prime)},
        {"eer", FigureJson(v.eer)},
        {"eer_threshold", NumberJson(v.eer_threshold)},
        {"auc", FigureJson(v.auc)},
        {"fmr100", PointJson(v.fmr100)},
        {"fmr1000", PointJson(v.fmr1000)},
        {"zero_fmr", PointJson(v.zero_fmr)},
        {"tar_at_far", tar_at_far},
        {"curve", curve}}},
      {"identification",
       {{"probes", id.probes},
        {"probes_without_mate", id.probes_without_mate},
        {"rank1", FigureJson(id.rank1)},
        {"rank5", FigureJson(id.rank5)},
        {"cmc", id.cmc},
        {"knn_k", id.knn_k},
        {"knn_purity", FigureJson(id.knn_purity)},
        {"hubness_skewness", FigureJson(id.hubness_skewness)},
        {"max_k_occurrence", id.max_k_occurrence},
        {"anti_hubs", id.anti_hubs}}},
      {"cluster",
       {{"silhouette", FigureJson(cluster.silhouette)},
        {"davies_bouldin", FigureJson(cluster.davies_bouldin)},
        {"calinski_harabasz", FigureJson(cluster.calinski_harabasz)},
        {"fisher_ratio", FigureJson(cluster.fisher_ratio)},
        {"trace_between", NumberJson(cluster.trace_between)},
        {"trace_within", NumberJson(cluster.trace_within)}}},
      {"identities", identities},
  };
}

AnalysisResult AnalysisResultFromJson(const json& in) {
  if (!in.is_object() || in.value("format", "") != kFormatName) {
    throw Error(ErrorCategory::kCorrupt, "analysis JSON: not a facespace analysis document");
  }
  const int version = in.value("format_version", 0);
  if (version != kAnalysisFormatVersion) {
    throw Error(ErrorCategory::kCorrupt, "analysis JSON: format version " + std::to_string(version) +
                                             ", this build reads version " +
                                             std::to_string(kAnalysisFormatVersion));
  }
  try {
    AnalysisResult result;
    result.format_version = version;
    result.metric = ParseMetric(in.at("metric").get<std::string>());
    result.seed = in.at("seed").get<std::uint64_t>();
    result.bootstrap_replicates = in.at("bootstrap_replicates").get<int>();
    result.confidence = in.at("confidence").get<double>();
    result.seconds = in.at("seconds").get<double>();
    const json& counts = in.at("counts");
    result.counts.samples = counts.at("samples").get<std::uint64_t>();
    result.counts.real_samples = counts.at("real_samples").get<std::uint64_t>();
    result.counts.synthetic_samples = counts.at("synthetic_samples").get<std::uint64_t>();
    result.counts.identities = counts.at("identities").get<std::uint64_t>();
    result.counts.singleton_identities = counts.at("singleton_identities").get<std::uint64_t>();
    result.counts.genuine_pairs = counts.at("genuine_pairs").get<std::uint64_t>();
    result.counts.impostor_pairs = counts.at("impostor_pairs").get<std::uint64_t>();
    result.histogram_edges = in.at("histogram_edges").get<std::vector<double>>();
    result.genuine = DistributionFromJson(in.at("genuine"));
    result.impostor = DistributionFromJson(in.at("impostor"));

    const json& v = in.at("verification");
    VerificationResult& verification = result.verification;
    verification.d_prime = FigureFromJson(v.at("d_prime"));
    verification.eer = FigureFromJson(v.at("eer"));
    verification.eer_threshold = ReadNumber(v.at("eer_threshold"));
    verification.auc = FigureFromJson(v.at("auc"));
    verification.fmr100 = PointFromJson(v.at("fmr100"));
    verification.fmr1000 = PointFromJson(v.at("fmr1000"));
    verification.zero_fmr = PointFromJson(v.at("zero_fmr"));
    for (const auto& point : v.at("tar_at_far")) verification.tar_at_far.push_back(PointFromJson(point));
    const json& curve = v.at("curve");
    const auto thresholds = curve.at("threshold").get<std::vector<double>>();
    const auto fmr = curve.at("fmr").get<std::vector<double>>();
    const auto fnmr = curve.at("fnmr").get<std::vector<double>>();
    if (fmr.size() != thresholds.size() || fnmr.size() != thresholds.size()) {
      throw Error(ErrorCategory::kCorrupt, "analysis JSON: curve arrays differ in length");
    }
    for (std::size_t k = 0; k < thresholds.size(); ++k) verification.curve.push_back({thresholds[k], fmr[k], fnmr[k]});

    const json& id = in.at("identification");
    IdentificationResult& identification = result.identification;
    identification.probes = id.at("probes").get<std::uint64_t>();
    identification.probes_without_mate = id.at("probes_without_mate").get<std::uint64_t>();
    identification.rank1 = FigureFromJson(id.at("rank1"));
    identification.rank5 = FigureFromJson(id.at("rank5"));
    identification.cmc = id.at("cmc").get<std::vector<double>>();
    identification.knn_k = id.at("knn_k").get<int>();
    identification.knn_purity = FigureFromJson(id.at("knn_purity"));
    identification.hubness_skewness = FigureFromJson(id.at("hubness_skewness"));
    identification.max_k_occurrence = id.at("max_k_occurrence").get<std::uint64_t>();
    identification.anti_hubs = id.at("anti_hubs").get<std::uint64_t>();

    const json& cluster = in.at("cluster");
    result.cluster.silhouette = FigureFromJson(cluster.at("silhouette"));
    result.cluster.davies_bouldin = FigureFromJson(cluster.at("davies_bouldin"));
    result.cluster.calinski_harabasz = FigureFromJson(cluster.at("calinski_harabasz"));
    result.cluster.fisher_ratio = FigureFromJson(cluster.at("fisher_ratio"));
    result.cluster.trace_between = ReadNumber(cluster.at("trace_between"));
    result.cluster.trace_within = ReadNumber(cluster.at("trace_within"));
    for (const auto& row : in.at("identities")) result.identities.push_back(IdentityFromJson(row));
    return result;
  } catch (const json::exception& error) {
    throw Error(ErrorCategory::kCorrupt, std::string("analysis JSON: ") + error.what());
  }
}

void WriteAnalysisCsv(const AnalysisResult& result, const std::filesystem::path& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) throw Error(ErrorCategory::kIo, directory.string() + ": " + error.message());

  auto identities = OpenCsv(directory / "identities.csv");
  identities << "label,name,samples,synthetic_samples,centroid_norm,radius_mean,radius_max,"
                "nearest_centroid_distance,nearest_centroid_identity,nearest_impostor,"
                "farthest_genuine,margin,silhouette\n";
  for (const auto& row : result.identities) {
    identities << row.label << ',' << CsvField(row.name) << ',' << row.samples << ','
               << row.synthetic_samples << ',' << CsvNumber(row.centroid_norm) << ','
               << CsvNumber(row.radius_mean) << ',' << CsvNumber(row.radius_max) << ','
               << CsvNumber(row.nearest_centroid_distance) << ','
               << CsvField(row.nearest_centroid_identity) << ',' << CsvNumber(row.nearest_impostor)
               << ',' << CsvNumber(row.farthest_genuine) << ',' << CsvNumber(row.margin) << ','
               << CsvNumber(row.silhouette) << '\n';
  }

  auto curve = OpenCsv(directory / "curve.csv");
  curve << "threshold,fmr,fnmr,tar\n";
  for (const auto& point : result.verification.curve) {
    curve << CsvNumber(point.threshold) << ',' << CsvNumber(point.fmr) << ','
          << CsvNumber(point.fnmr) << ',' << CsvNumber(1.0 - point.fnmr) << '\n';
  }

  auto cmc = OpenCsv(directory / "cmc.csv");
  cmc << "rank,identification_rate\n";
  for (std::size_t r = 0; r < result.identification.cmc.size(); ++r) {
    cmc << r + 1 << ',' << CsvNumber(result.identification.cmc[r]) << '\n';
  }

  auto histogram = OpenCsv(directory / "histogram.csv");
  histogram << "bin_low,bin_high,genuine,impostor\n";
  for (std::size_t b = 0; b + 1 < result.histogram_edges.size(); ++b) {
    histogram << CsvNumber(result.histogram_edges[b]) << ',' << CsvNumber(result.histogram_edges[b + 1])
              << ',' << result.genuine.histogram[b] << ',' << result.impostor.histogram[b] << '\n';
  }
  for (auto* stream : {&identities, &curve, &cmc, &histogram}) {
    stream->flush();
    if (!*stream) throw Error(ErrorCategory::kIo, directory.string() + ": writing a CSV file failed");
  }
}

std::string FormatAnalysisTable(const AnalysisResult& result) {
  std::ostringstream out;
  const auto& c = result.counts;
  const auto& v = result.verification;
  const auto& id = result.identification;
  const auto& cl = result.cluster;
  const std::string unit = result.metric == Metric::kCosine ? "cosine distance" : "L2";
  const std::string interval =
      result.bootstrap_replicates > 0
          ? fmt::format("[{:.0f}% bootstrap interval over identities, {} replicates]",
                        result.confidence * 100, result.bootstrap_replicates)
          : std::string("(bootstrap off)");

  out << fmt::format("samples {} ({} real, {} synthetic), identities {} ({} with one sample: impostor pairs only)\n",
                     c.samples, c.real_samples, c.synthetic_samples, c.identities, c.singleton_identities);
  out << fmt::format("pairs: genuine {}, impostor {}{}\n", c.genuine_pairs, c.impostor_pairs,
                     result.impostor.exact ? " (all pairs, exact)"
                                           : fmt::format(" (uniform sample of {})", result.impostor.used));
  out << fmt::format("metric {}; figures {}\n\n", unit, interval);

  out << fmt::format("{:<34}{:>12}{:>12}{:>12}{:>12}\n", "distance (" + unit + ")", "mean", "std", "median", "p99");
  for (const auto* d : {&result.genuine, &result.impostor}) {
    out << fmt::format("{:<34}{:>12.4f}{:>12.4f}{:>12.4f}{:>12.4f}\n", d == &result.genuine ? "  genuine" : "  impostor",
                       d->mean, d->std, d->quantiles.size() > 4 ? d->quantiles[4].value : kNotAvailable,
                       d->quantiles.size() > 7 ? d->quantiles[7].value : kNotAvailable);
  }
  out << "\nverification\n";
  out << fmt::format("  {:<32}{}\n", "d' (decidability)", FormatFigure(v.d_prime, 4));
  out << fmt::format("  {:<32}{}  at threshold {:.4f}\n", "EER", FormatFigure(v.eer, 5), v.eer_threshold);
  out << fmt::format("  {:<32}{}\n", "ROC AUC", FormatFigure(v.auc, 6));
  for (const auto* point : {&v.fmr100, &v.fmr1000, &v.zero_fmr}) {
    const std::string name = point == &v.fmr100 ? "FNMR at FMR 1e-2 (FMR100)"
                             : point == &v.fmr1000 ? "FNMR at FMR 1e-3 (FMR1000)"
                                                   : "FNMR at FMR 0 (ZeroFMR)";
    out << fmt::format("  {:<32}{}", name, FormatFigure(point->fnmr, 5));
    if (point->supported) out << fmt::format("  at threshold {:.4f}", point->threshold);
    out << "\n";
  }
  for (const auto& point : v.tar_at_far) {
    out << fmt::format("  {:<32}{}\n", fmt::format("TAR at FAR {:.0e}", point.target_fmr),
                       FormatFigure(Complement(point.fnmr), 5));
  }
  out << fmt::format("\nidentification (leave-one-out, {} probes; {} samples without a mate excluded)\n",
                     id.probes, id.probes_without_mate);
  out << fmt::format("  {:<32}{}\n", "rank-1", FormatFigure(id.rank1, 5));
  out << fmt::format("  {:<32}{}\n", "rank-5", FormatFigure(id.rank5, 5));
  out << fmt::format("  {:<32}{}\n", fmt::format("{}-NN label purity", id.knn_k), FormatFigure(id.knn_purity, 5));
  out << fmt::format("  {:<32}{}\n", fmt::format("hubness (skewness of N{})", id.knn_k),
                     FormatFigure(id.hubness_skewness, 4));
  out << "\ncluster structure\n";
  out << fmt::format("  {:<32}{}\n", "silhouette (mean)", FormatFigure(cl.silhouette, 5));
  out << fmt::format("  {:<32}{}\n", "Davies-Bouldin", FormatFigure(cl.davies_bouldin, 4));
  out << fmt::format("  {:<32}{}\n", "Calinski-Harabasz", FormatFigure(cl.calinski_harabasz, 3));
  out << fmt::format("  {:<32}{}\n", "Fisher ratio tr(Sb)/tr(Sw)", FormatFigure(cl.fisher_ratio, 5));
  out << fmt::format("\n{:.2f} s\n", result.seconds);
  return out.str();
}

}  // namespace facespace
