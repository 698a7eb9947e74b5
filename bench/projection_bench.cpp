// Benchmark of the report's 2-D projections at the default point budget: PCA
// (OpenCV) and Barnes-Hut t-SNE (ProjectTsne) of seeded clustered vectors with
// 128 floats per row, like the face embeddings. It also prints the kNN label
// purity of the t-SNE picture, which checks that the timed run did its job.
//
// usage: projection_bench [--rows N] [--per-identity K] [--iterations I] [--theta T]
//
// The thread count is OpenMP's (OMP_NUM_THREADS).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "facespace/error.h"
#include "facespace/report.h"
#include "synth/random.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kDimension = 128;

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Unit-length centres with unit-length rows scattered around them, roughly the
// geometry of face embeddings of one identity.
std::vector<float> ClusteredRows(int rows, int per_identity, std::vector<int>& labels) {
  facespace::synth::SplitMix64 random(42);
  std::vector<double> centre(kDimension);
  std::vector<float> vectors;
  for (int i = 0; i < rows; ++i) {
    if (i % per_identity == 0) {
      for (double& c : centre) c = random.Normal() / std::sqrt(double(kDimension));
    }
    for (int d = 0; d < kDimension; ++d) {
      vectors.push_back(static_cast<float>(centre[d] + 0.04 * random.Normal()));
    }
    labels.push_back(i / per_identity);
  }
  return vectors;
}

double NeighbourPurity(const facespace::Projection2d& projection, const std::vector<int>& labels, int k) {
  const std::size_t n = projection.points.size();
  std::size_t same = 0;
  std::vector<std::pair<double, std::size_t>> by_distance;
  for (std::size_t i = 0; i < n; ++i) {
    by_distance.clear();
    for (std::size_t j = 0; j < n; ++j) {
      if (j == i) continue;
      const double dx = projection.points[i][0] - projection.points[j][0];
      const double dy = projection.points[i][1] - projection.points[j][1];
      by_distance.emplace_back(dx * dx + dy * dy, j);
    }
    std::partial_sort(by_distance.begin(), by_distance.begin() + k, by_distance.end());
    for (int m = 0; m < k; ++m) same += labels[by_distance[m].second] == labels[i] ? 1 : 0;
  }
  return double(same) / double(n * k);
}

}  // namespace

int main(int argc, char** argv) {
  int rows = 3000;
  int per_identity = 10;
  facespace::TsneOptions options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--rows") rows = std::atoi(argv[i + 1]);
    else if (flag == "--per-identity") per_identity = std::atoi(argv[i + 1]);
    else if (flag == "--iterations") options.iterations = std::atoi(argv[i + 1]);
    else if (flag == "--theta") options.theta = std::atof(argv[i + 1]);
    else {
      std::cerr << "projection_bench: unknown option " << flag << "\n";
      return 2;
    }
  }

  std::vector<int> labels;
  const std::vector<float> vectors = ClusteredRows(rows, per_identity, labels);
  try {
    auto start = Clock::now();
    const facespace::Projection2d pca =
        facespace::ProjectPca(vectors, kDimension, std::vector<std::uint8_t>(rows, 1));
    const double pca_seconds = SecondsSince(start);

    start = Clock::now();
    const facespace::Projection2d tsne = facespace::ProjectTsne(vectors, kDimension, options);
    const double tsne_seconds = SecondsSince(start);

    std::cout << fmt::format("rows {} (identities of {}), dimension {}, threads {}\n", rows, per_identity,
                             kDimension, omp_get_max_threads());
    std::cout << fmt::format("pca   {:8.3f} s   5-NN label purity {:.3f}\n", pca_seconds,
                             NeighbourPurity(pca, labels, 5));
    std::cout << fmt::format("t-SNE {:8.3f} s   5-NN label purity {:.3f}   ({} iterations, theta {})\n",
                             tsne_seconds, NeighbourPurity(tsne, labels, 5), options.iterations, options.theta);
  } catch (const facespace::Error& error) {
    std::cerr << "projection_bench: error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
