// The experiment report: a versioned JSON document with every number of a run,
// rendered into one self-contained HTML page plus every figure as SVG and PNG and
// every table as CSV.
//
// The document (format "facespace-report", version kReportFormatVersion) is
// described field by field in docs/report.md. The C++ side builds it from the
// analysis results; the renderer is a Node.js program in the source tree's report/
// folder (Vega-Lite for the figures, inlined into the page; resvg for PNG), which
// RenderReport runs as a child process.
#ifndef FACESPACE_REPORT_H_
#define FACESPACE_REPORT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "facespace/analysis.h"

namespace facespace {

// Version of the report document this build writes and its renderer reads.
constexpr int kReportFormatVersion = 1;
constexpr std::string_view kReportFormat = "facespace-report";

// ---------------------------------------------------------------------------
// Building the document

// One row of the headline table: a figure before and after adding synthetic
// samples, their difference (after - before) and its 95% interval.
struct HeadlineRow {
  std::string key;    // machine name, e.g. "d_prime"
  std::string label;  // shown name, e.g. "d′"
  bool higher_is_better = true;
  double before = kNotAvailable;
  double after = kNotAvailable;
  double ci_low = kNotAvailable;   // interval of the difference; NaN when unknown
  double ci_high = kNotAvailable;
  std::string note;                // e.g. why a figure is not available
};

// Returns "improved" or "worse" when the interval of the difference excludes
// zero (direction from higher_is_better), "no significant change" when it
// contains zero, and "n/a" when the interval or either value is missing.
std::string HeadlineVerdict(const HeadlineRow& row);

// Returns the headline rows (d′, EER, TAR at the given FAR, rank-1, silhouette,
// Fisher ratio) of two analyses of the same identities. The difference interval
// is the percentile interval of the paired bootstrap replicates (after minus
// before, replicate by replicate) when both figures carry the same number of
// replicates, else NaN.
std::vector<HeadlineRow> HeadlineFromAnalyses(const AnalysisResult& before,
                                              const AnalysisResult& after, double far = 1e-2);

// Sections of the document built from analysis results. "phase" is "before" or
// "after"; rows are in the shape docs/report.md gives.
nlohmann::json HeadlineJson(const std::vector<HeadlineRow>& rows);
nlohmann::json DistanceHistogramsJson(const AnalysisResult& before, const AnalysisResult& after);
nlohmann::json RocJson(const AnalysisResult& before, const AnalysisResult& after);
nlohmann::json DetJson(const AnalysisResult& before, const AnalysisResult& after);
nlohmann::json CmcJson(const AnalysisResult& before, const AnalysisResult& after);
// Per identity, matched by name: samples, radius, margin and silhouette before and after.
nlohmann::json IdentityRowsJson(const AnalysisResult& before, const AnalysisResult& after);
// One row of the real / synthetic / all comparison table.
nlohmann::json SpaceRowJson(std::string_view space, const AnalysisResult& result, double far = 1e-2);

// Returns the two sentences at the top of the report: the question asked and
// what the headline rows answer, e.g. "d′ rose from 3.10 to 3.42 (improved)".
std::pair<std::string, std::string> QuestionAndAnswer(const std::vector<HeadlineRow>& rows,
                                                      std::string_view recipe, int per_image);

// Checks the fields every report document needs (format, version, question,
// answer, config, headline). Throws Error(kCorrupt) naming the first problem.
void ValidateReportDocument(const nlohmann::json& document);

// ---------------------------------------------------------------------------
// 2-D projection

struct Projection2d {
  std::vector<std::array<float, 2>> points;  // one per input row
  std::array<double, 2> explained_variance{};  // share of the fitted rows' variance per axis
};

// Fits a PCA on the rows whose `fit` flag is set and projects every row onto its
// first two axes, so projections of different row sets fitted on the same rows
// share axes. `vectors` holds rows * dimension floats. Throws
// Error(kInvalidArgument) when fewer than 3 rows are flagged or sizes disagree.
Projection2d ProjectPca(std::span<const float> vectors, int dimension,
                        const std::vector<std::uint8_t>& fit);

// Options of ProjectTsne. The defaults follow scikit-learn's TSNE (1.2 and later,
// method "barnes_hut"), except that the start is random rather than PCA.
struct TsneOptions {
  double perplexity = 30;          // effective number of neighbours; see EffectiveTsnePerplexity
  int iterations = 1000;           // gradient steps in all, the exaggerated ones included
  int exaggeration_iterations = 250;  // first steps with exaggerated attraction and momentum 0.5
  double early_exaggeration = 12;  // factor on the input similarities during those steps
  double theta = 0.5;              // Barnes-Hut accuracy; 0 sums every repulsion exactly
  double learning_rate = 0;        // 0: max(rows / early_exaggeration / 4, 50), as scikit-learn's "auto"
  std::uint64_t seed = 1;          // of the random initial positions
};

// Returns the perplexity ProjectTsne uses for `rows` rows: `requested`, lowered
// to (rows - 1) / 3 so that the 3 * perplexity neighbours exist, and at least 1.
double EffectiveTsnePerplexity(double requested, std::size_t rows);

// Embeds every row in 2-D with Barnes-Hut t-SNE (squared L2 input distances,
// random Gaussian start from the seed, early exaggeration, momentum and
// per-coordinate gains). All rows are fitted together. `vectors` contains
// rows * dimension floats. The same input and options give bit-identical points on the
// same build, whatever the thread count. explained_variance is NaN, because
// t-SNE axes carry no variance. Cost: O(rows^2 * dimension) for the neighbours
// plus O(iterations * rows * log rows). Throws Error(kInvalidArgument) for fewer
// than 4 rows, sizes that disagree or an option out of range.
Projection2d ProjectTsne(std::span<const float> vectors, int dimension, const TsneOptions& options = {});

// ---------------------------------------------------------------------------
// Rendering

struct RenderOptions {
  // Folder of the renderer (render.mjs, node_modules). Empty: $FACESPACE_REPORT_DIR,
  // else the report/ folder of the source tree this build came from.
  std::filesystem::path renderer_dir;
  std::string node = "node";  // Node.js executable, looked up in PATH
};

// Returns the renderer folder RenderReport uses for `options`.
std::filesystem::path ReportRendererDir(const RenderOptions& options = {});

// Writes `document` to out_dir/results.json and runs the renderer, which writes
// out_dir/report.html, out_dir/figures/*.{svg,png,vl.json} and out_dir/data/*.csv.
// Image paths inside the document are relative to out_dir. Returns the path of
// report.html. Throws Error(kCorrupt) for an invalid document, Error(kNotFound)
// when Node.js or the renderer's node_modules are missing (with the command
// that installs them), Error(kInternal) with the renderer's message when it fails.
std::filesystem::path RenderReport(const nlohmann::json& document,
                                   const std::filesystem::path& out_dir,
                                   const RenderOptions& options = {});

// Writes `rgb` (CV_8UC3, R,G,B) as a JPEG thumbnail with the longer side scaled
// to `size` pixels. Throws Error(kIo) when the file cannot be written.
void WriteThumbnail(const cv::Mat& rgb, const std::filesystem::path& file, int size = 64);

}  // namespace facespace

#endif  // FACESPACE_REPORT_H_
