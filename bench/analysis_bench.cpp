// Benchmark of `facespace analyze` at LFW scale, against two baselines
// measured in the same run:
//   (a) the single n x n x d single-precision matrix product (cblas_sgemm)
//       the exact all-pairs analysis cannot avoid;
//   (b) scikit-learn's silhouette_score plus roc_auc_score over all pairs on
//       the same vectors (optional, needs python3 with scikit-learn).
// Also reports the process's peak resident memory after the analysis.
//
// Input, in order of preference:
//   --store DIR  the real samples of a store (e.g. all of LFW ingested);
//   --lfw DIR    LFW's identity sizes read from DIR/NAME/*.jpg, with seeded
//                synthetic vectors (128 floats, clustered per identity);
//   otherwise    the same synthetic vectors in LFW's identity and
//                singleton counts with even sizes.
//
// usage: analysis_bench [--store DIR | --lfw DIR] [--bootstrap B] [--metric l2|cosine]
//                       [--no-sklearn] [--python PATH] [--json FILE] [--results DIR] [--verbose]
//
// --results DIR writes the analysis documents themselves (analysis.json, and
// analysis-bootstrap.json when B > 0), so the figures of two builds can be
// compared key by key.
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <cblas.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "facespace/analysis.h"
#include "facespace/compare.h"
#include "facespace/error.h"
#include "facespace/log.h"

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double PeakResidentMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// Identity sizes of an LFW-layout folder: the number of .jpg files per subfolder.
std::vector<int> LfwIdentitySizes(const std::filesystem::path& root) {
  std::vector<std::filesystem::path> folders;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (entry.is_directory()) folders.push_back(entry.path());
  }
  std::sort(folders.begin(), folders.end());
  std::vector<int> sizes;
  for (const auto& folder : folders) {
    int count = 0;
    for (const auto& file : std::filesystem::directory_iterator(folder)) {
      if (file.path().extension() == ".jpg") ++count;
    }
    if (count > 0) sizes.push_back(count);
  }
  return sizes;
}

// LFW's counts without the data: 13,233 samples in 5,749 identities, 4,069
// of them singletons; the other 9,164 samples spread evenly over 1,680
// identities (LFW's real sizes are far more skewed; use --lfw for those).
std::vector<int> LfwLikeSizes() {
  std::vector<int> sizes;
  for (int c = 0; c < 1680; ++c) sizes.push_back(5 + (c < 764 ? 1 : 0));
  for (int c = 0; c < 4069; ++c) sizes.push_back(1);
  return sizes;
}

// Seeded clustered vectors whose distances resemble dlib's: identity centres
// spread so impostor distances are around 0.9 and genuine ones around 0.45.
facespace::LabeledEmbeddings SyntheticSpace(const std::vector<int>& sizes, int dimension) {
  std::mt19937_64 rng(12345);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  facespace::LabeledEmbeddings data;
  data.dimension = dimension;
  const float centre_scale = 0.6f / std::sqrt(float(dimension));
  const float noise_scale = 0.45f / std::sqrt(float(dimension));
  for (std::size_t c = 0; c < sizes.size(); ++c) {
    data.identity_names.push_back(fmt::format("identity_{:04d}", c));
    std::vector<float> centre(dimension);
    for (float& value : centre) value = centre_scale * normal(rng);
    for (int s = 0; s < sizes[c]; ++s) {
      for (int k = 0; k < dimension; ++k) data.vectors.push_back(centre[k] + noise_scale * normal(rng));
      data.labels.push_back(std::int32_t(c));
    }
  }
  return data;
}

// The one full-size product: n x n dot products of n x d rows.
double TimeFullProduct(const facespace::LabeledEmbeddings& data) {
  const std::size_t n = data.rows();
  std::vector<float> product(n * n);
  const auto start = Clock::now();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), int(n), data.dimension, 1.0f,
              data.vectors.data(), data.dimension, data.vectors.data(), data.dimension, 0.0f,
              product.data(), int(n));
  const double seconds = SecondsSince(start);
  // Touch the result so the product cannot be optimised away.
  volatile float sink = product[n * n / 2];
  (void)sink;
  return seconds;
}

std::string FindSklearnPython(const std::string& requested) {
  std::vector<std::string> candidates;
  if (!requested.empty()) candidates.push_back(requested);
  candidates.push_back("/usr/bin/python3");
  candidates.push_back("python3");
  for (const auto& python : candidates) {
    const std::string probe = "'" + python + "' -c 'import sklearn' >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) return python;
  }
  return "";
}

// Runs scikit-learn's silhouette_score and roc_auc_score (all pairs, score =
// -distance) on the same vectors; returns their wall time as the script
// measures it (excluding Python start-up and file reading), or NaN.
nlohmann::json TimeSklearn(const facespace::LabeledEmbeddings& data, const std::string& python) {
  const std::filesystem::path folder =
      std::filesystem::temp_directory_path() / fmt::format("facespace-bench-{}", ::getpid());
  std::filesystem::create_directories(folder);
  {
    std::ofstream vectors(folder / "vectors.f32", std::ios::binary);
    vectors.write(reinterpret_cast<const char*>(data.vectors.data()), std::streamsize(data.vectors.size() * 4));
    std::ofstream labels(folder / "labels.i32", std::ios::binary);
    labels.write(reinterpret_cast<const char*>(data.labels.data()), std::streamsize(data.labels.size() * 4));
  }
  const std::string script = R"PY(
import json, sys, time
import numpy as np
from scipy.spatial.distance import pdist
from sklearn.metrics import roc_auc_score, silhouette_score
folder, dimension = sys.argv[1], int(sys.argv[2])
x = np.fromfile(folder + "/vectors.f32", dtype=np.float32).reshape(-1, dimension)
labels = np.fromfile(folder + "/labels.i32", dtype=np.int32)
start = time.perf_counter()
silhouette = silhouette_score(x, labels, metric="euclidean")
middle = time.perf_counter()
distances = pdist(x.astype(np.float64))
genuine = np.concatenate([labels[i + 1:] == labels[i] for i in range(len(labels) - 1)])
auc = roc_auc_score(genuine, -distances)
end = time.perf_counter()
print(json.dumps({"silhouette": float(silhouette), "auc": float(auc),
                  "silhouette_seconds": middle - start, "auc_seconds": end - middle,
                  "seconds": end - start}))
)PY";
  {
    std::ofstream out(folder / "baseline.py");
    out << script;
  }
  const std::string command = "'" + python + "' '" + (folder / "baseline.py").string() + "' '" + folder.string() +
                              "' " + std::to_string(data.dimension) + " > '" + (folder / "out.json").string() + "'";
  nlohmann::json result;
  if (std::system(command.c_str()) == 0) {
    std::ifstream in(folder / "out.json");
    result = nlohmann::json::parse(in);
  }
  std::filesystem::remove_all(folder);
  return result;
}

// Writes an analysis document. nlohmann::json prints each double in the
// shortest form that reads back as the same value, so files compare exactly.
void WriteDocument(const nlohmann::json& document, const std::filesystem::path& path) {
  std::ofstream out(path);
  if (!out) throw facespace::Error(facespace::ErrorCategory::kIo, path.string() + ": cannot open for writing");
  out << document.dump(1) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string store_dir, lfw_dir, python, json_out, results_dir, metric_name = "l2";
  int bootstrap = 1000;
  bool sklearn = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "analysis_bench: " << arg << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--store") store_dir = value();
    else if (arg == "--lfw") lfw_dir = value();
    else if (arg == "--bootstrap") bootstrap = std::stoi(value());
    else if (arg == "--python") python = value();
    else if (arg == "--json") json_out = value();
    else if (arg == "--results") results_dir = value();
    else if (arg == "--metric") metric_name = value();
    else if (arg == "--no-sklearn") sklearn = false;
    else if (arg == "--verbose") facespace::SetLogLevel(spdlog::level::debug);
    else {
      std::cerr << "analysis_bench: unknown option '" << arg << "'\n";
      return 2;
    }
  }

  try {
    const facespace::Metric metric = facespace::ParseMetric(metric_name);
    facespace::LabeledEmbeddings data;
    std::string input;
    if (!store_dir.empty()) {
      const facespace::Store store = facespace::Store::Open(store_dir);
      data = facespace::LoadStoreEmbeddings(store, facespace::SampleSubset::kReal);
      input = "store " + store_dir + " (real samples)";
    } else if (!lfw_dir.empty()) {
      data = SyntheticSpace(LfwIdentitySizes(lfw_dir), 128);
      input = "synthetic vectors with LFW's identity sizes from " + lfw_dir;
    } else {
      data = SyntheticSpace(LfwLikeSizes(), 128);
      input = "synthetic vectors with LFW-like identity sizes";
    }
    std::cout << fmt::format("input: {}: {} samples, {} identities, dimension {}\n", input, data.rows(),
                             data.identities(), data.dimension);

    facespace::AnalysisOptions options;
    options.metric = metric;
    options.bootstrap_replicates = 0;
    auto start = Clock::now();
    const facespace::AnalysisResult result = facespace::AnalyzeEmbeddings(data, options);
    const double analysis_seconds = SecondsSince(start);
    const double peak_after_analysis = PeakResidentMiB();

    if (!results_dir.empty()) {
      std::filesystem::create_directories(results_dir);
      WriteDocument(facespace::ToJson(result), std::filesystem::path(results_dir) / "analysis.json");
    }

    double bootstrap_seconds = 0;
    if (bootstrap > 0) {
      options.bootstrap_replicates = bootstrap;
      start = Clock::now();
      const facespace::AnalysisResult with_bootstrap = facespace::AnalyzeEmbeddings(data, options);
      bootstrap_seconds = SecondsSince(start);
      if (!results_dir.empty()) {
        WriteDocument(facespace::ToJson(with_bootstrap),
                      std::filesystem::path(results_dir) / "analysis-bootstrap.json");
      }
    }
    const double peak_after_bootstrap = PeakResidentMiB();

    const double product_seconds = TimeFullProduct(data);

    std::cout << fmt::format("pairs: {} genuine, {} impostor ({})\n", result.counts.genuine_pairs,
                             result.counts.impostor_pairs, result.impostor.exact ? "exact" : "sampled");
    std::cout << fmt::format("full sgemm {}x{}x{}:              {:8.3f} s\n", data.rows(), data.rows(),
                             data.dimension, product_seconds);
    std::cout << fmt::format("analysis, no bootstrap:            {:8.3f} s  = {:.2f} x sgemm (target <= 3)\n",
                             analysis_seconds, analysis_seconds / product_seconds);
    if (bootstrap > 0) {
      std::cout << fmt::format("analysis, {} bootstrap replicates: {:8.3f} s  = {:.2f} x sgemm\n", bootstrap,
                               bootstrap_seconds, bootstrap_seconds / product_seconds);
    }
    std::cout << fmt::format("peak resident memory: {:.0f} MiB after the analysis, {:.0f} MiB after the bootstrap run (limit 4096)\n",
                             peak_after_analysis, peak_after_bootstrap);

    nlohmann::json record = {{"input", input},
                             {"samples", data.rows()},
                             {"identities", data.identities()},
                             {"sgemm_seconds", product_seconds},
                             {"analysis_seconds", analysis_seconds},
                             {"analysis_bootstrap_seconds", bootstrap_seconds},
                             {"bootstrap_replicates", bootstrap},
                             {"peak_mib_analysis", peak_after_analysis},
                             {"peak_mib_bootstrap", peak_after_bootstrap},
                             {"silhouette", result.cluster.silhouette.value},
                             {"auc", result.verification.auc.value}};

    if (sklearn) {
      const std::string interpreter = FindSklearnPython(python);
      if (interpreter.empty()) {
        std::cout << "scikit-learn baseline skipped: no python3 with scikit-learn found\n";
      } else {
        const nlohmann::json baseline = TimeSklearn(data, interpreter);
        if (baseline.is_null()) {
          std::cout << "scikit-learn baseline failed\n";
        } else {
          const double seconds = baseline["seconds"].get<double>();
          std::cout << fmt::format("scikit-learn silhouette + ROC AUC: {:8.3f} s  = {:.1f} x the analysis (target >= 10)\n",
                                   seconds, seconds / analysis_seconds);
          std::cout << fmt::format("  silhouette {:.9f} (facespace {:.9f}), AUC {:.9f} (facespace {:.9f})\n",
                                   baseline["silhouette"].get<double>(), result.cluster.silhouette.value,
                                   baseline["auc"].get<double>(), result.verification.auc.value);
          record["sklearn"] = baseline;
        }
      }
    }
    if (!json_out.empty()) {
      std::ofstream out(json_out);
      out << record.dump(2) << "\n";
    }
  } catch (const facespace::Error& error) {
    std::cerr << "analysis_bench: error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
