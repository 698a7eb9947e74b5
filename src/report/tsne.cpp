// Barnes-Hut t-SNE of embeddings into two dimensions.
//
//   1. Input similarities: for every row, a Gaussian over its 3 * perplexity
//      nearest neighbours (squared L2), its precision found by binary search
//      so that the entropy of p(j|i) is log(perplexity); then
//      P(i,j) = (p(j|i) + p(i|j)) / (2n), a sparse symmetric matrix.
//   2. Output similarities: a Student-t kernel w = 1 / (1 + |y_i - y_j|^2)
//      normalised by Z, the sum of w over all pairs.
//   3. Gradient descent on KL(P || Q) with momentum and per-coordinate gains.
//      The attraction is summed over the sparse P; the repulsion is summed over
//      a quadtree, a cell standing for all its points when its side divided by
//      its distance to the point is below theta.
//
// Every point's force is computed by one thread alone and the sums over points
// run in index order, so the result does not depend on the thread count.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "facespace/error.h"
#include "facespace/report.h"
#include "synth/random.h"

namespace facespace {
namespace {

// Inputs with fewer points run each gradient step on one thread: measured on
// 2 busy cores, a step over 200 points took 5.7 ms with two threads and
// 0.4 ms with one, the difference being the threads' start and barrier.
constexpr int kParallelPoints = 1000;

// Row-major sparse matrix: row i has the entries in columns[offsets[i] .. offsets[i + 1]).
struct SparseMatrix {
  std::vector<std::size_t> offsets;
  std::vector<int> columns;
  std::vector<double> values;
};

// Returns the `k` nearest other rows of every row by squared L2 distance,
// nearest first, ties broken by the lower index: (neighbour, distance) pairs,
// k per row.
std::vector<std::pair<int, double>> NearestNeighbours(std::span<const float> vectors, int dimension, int rows,
                                                      int k) {
  std::vector<std::pair<int, double>> neighbours(static_cast<std::size_t>(rows) * k);
#pragma omp parallel
  {
    std::vector<std::pair<double, int>> candidates(rows - 1);
#pragma omp for schedule(dynamic, 16)
    for (int i = 0; i < rows; ++i) {
      const float* row = vectors.data() + static_cast<std::size_t>(i) * dimension;
      int filled = 0;
      for (int j = 0; j < rows; ++j) {
        if (j == i) continue;
        const float* other = vectors.data() + static_cast<std::size_t>(j) * dimension;
        double squared = 0;
        for (int c = 0; c < dimension; ++c) {
          const double difference = double(row[c]) - double(other[c]);
          squared += difference * difference;
        }
        candidates[filled++] = {squared, j};
      }
      std::partial_sort(candidates.begin(), candidates.begin() + k, candidates.end());
      for (int n = 0; n < k; ++n) {
        neighbours[static_cast<std::size_t>(i) * k + n] = {candidates[n].second, candidates[n].first};
      }
    }
  }
  return neighbours;
}

// Fills `probabilities` with p(j|i) = exp(-beta d_j) / sum over the row's
// neighbour distances `distances` (ascending), with beta chosen by binary
// search so that the entropy of the row (natural log) is log(perplexity).
void CalibrateRow(std::span<const std::pair<int, double>> distances, double perplexity,
                  std::span<double> probabilities) {
  constexpr int kMaxSteps = 200;
  constexpr double kTolerance = 1e-5;
  const double target = std::log(perplexity);
  const double nearest = distances.front().second;  // subtracted so exp() cannot underflow to all zeros

  double beta = 1;
  double low = 0;
  double high = std::numeric_limits<double>::infinity();
  for (int step = 0; step < kMaxSteps; ++step) {
    double sum = 0;
    double weighted = 0;
    for (std::size_t n = 0; n < distances.size(); ++n) {
      const double shifted = distances[n].second - nearest;
      probabilities[n] = std::exp(-beta * shifted);
      sum += probabilities[n];
      weighted += shifted * probabilities[n];
    }
    // H = log(sum) + beta * E[shifted distance], with p = exp(-beta * shifted) / sum.
    const double entropy = std::log(sum) + beta * weighted / sum;
    for (double& p : probabilities) p /= sum;
    if (std::abs(entropy - target) < kTolerance) return;

    if (entropy > target) {  // too flat: sharpen
      low = beta;
      beta = std::isinf(high) ? beta * 2 : (beta + high) / 2;
    } else {
      high = beta;
      beta = (beta + low) / 2;
    }
  }
}

// Returns the symmetric joint probabilities P of the rows (sums to 1).
SparseMatrix InputSimilarities(std::span<const float> vectors, int dimension, int rows, double perplexity) {
  const int k = std::min(rows - 1, static_cast<int>(3 * perplexity));
  const std::vector<std::pair<int, double>> neighbours = NearestNeighbours(vectors, dimension, rows, k);

  std::vector<double> conditional(neighbours.size());
#pragma omp parallel for schedule(dynamic, 16)
  for (int i = 0; i < rows; ++i) {
    const std::size_t first = static_cast<std::size_t>(i) * k;
    CalibrateRow(std::span(neighbours).subspan(first, k), perplexity,
                 std::span(conditional).subspan(first, k));
  }

  // Each p(j|i) goes to (i, j) and (j, i); entries for the same pair are added.
  // At most two entries meet in one pair, and a + b == b + a exactly, so the
  // order the sort leaves them in does not matter.
  struct Entry {
    int row;
    int column;
    double value;
  };
  std::vector<Entry> entries;
  entries.reserve(2 * neighbours.size());
  for (int i = 0; i < rows; ++i) {
    for (int n = 0; n < k; ++n) {
      const std::size_t at = static_cast<std::size_t>(i) * k + n;
      entries.push_back({i, neighbours[at].first, conditional[at]});
      entries.push_back({neighbours[at].first, i, conditional[at]});
    }
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.row, a.column) < std::tie(b.row, b.column);
  });

  SparseMatrix joint;
  joint.offsets.assign(rows + 1, 0);
  for (std::size_t e = 0; e < entries.size(); ++e) {
    if (e > 0 && entries[e].row == entries[e - 1].row && entries[e].column == entries[e - 1].column) {
      joint.values.back() += entries[e].value / (2.0 * rows);
      continue;
    }
    joint.columns.push_back(entries[e].column);
    joint.values.push_back(entries[e].value / (2.0 * rows));
    ++joint.offsets[entries[e].row + 1];
  }
  std::partial_sum(joint.offsets.begin(), joint.offsets.end(), joint.offsets.begin());
  return joint;
}

// A quadtree over the output positions that sums the repulsive forces.
class QuadTree {
 public:
  // `positions` contains x, y per point and must outlive the tree.
  explicit QuadTree(const std::vector<double>& positions) : positions_(positions) {
    const int points = static_cast<int>(positions.size() / 2);
    order_.resize(points);
    std::iota(order_.begin(), order_.end(), 0);
    scratch_.resize(points);

    double min_x = std::numeric_limits<double>::infinity(), max_x = -min_x;
    double min_y = min_x, max_y = -min_x;
    for (int i = 0; i < points; ++i) {
      min_x = std::min(min_x, positions[2 * i]);
      max_x = std::max(max_x, positions[2 * i]);
      min_y = std::min(min_y, positions[2 * i + 1]);
      max_y = std::max(max_y, positions[2 * i + 1]);
    }
    // Slightly larger than the points' extent, so no point lies on the outer edge.
    const double half = std::max(max_x - min_x, max_y - min_y) / 2 * (1 + 1e-9) + 1e-12;
    cells_.push_back({(min_x + max_x) / 2, (min_y + max_y) / 2, half, 0, 0, 0, points, -1});
    Split(0, 0);
  }

  // Returns the point at position `at` of a depth-first walk of the cells.
  int PointAt(int at) const { return order_[at]; }

  // Adds sum over j != i of w^2 (y_i - y_j) to `force` and returns the sum of
  // w, where w = 1 / (1 + |y_i - y_j|^2). A cell whose side / distance is
  // below theta counts as all its points placed at their mean.
  double Repel(int i, double theta, double force[2]) const {
    const double x = positions_[2 * i];
    const double y = positions_[2 * i + 1];
    double z = 0;
    // Depth-first: at most three siblings wait per level, plus the root.
    std::array<int, 3 * kMaxDepth + 4> pending;
    int waiting = 0;
    pending[waiting++] = 0;
    while (waiting > 0) {
      const Cell& cell = cells_[pending[--waiting]];
      const int count = cell.end - cell.begin;
      const double dx = x - cell.mass_x;
      const double dy = y - cell.mass_y;
      const double squared = dx * dx + dy * dy;
      const bool inside = std::abs(x - cell.centre_x) <= cell.half && std::abs(y - cell.centre_y) <= cell.half;
      const double side = 2 * cell.half;
      if (cell.first_child >= 0 && (inside || side * side >= theta * theta * squared)) {
        for (int child = 3; child >= 0; --child) {
          const Cell& candidate = cells_[cell.first_child + child];
          if (candidate.end > candidate.begin) pending[waiting++] = cell.first_child + child;
        }
        continue;
      }
      if (cell.first_child < 0) {  // a leaf: its points one by one
        for (int at = cell.begin; at < cell.end; ++at) {
          const int j = order_[at];
          if (j == i) continue;
          const double ex = x - positions_[2 * j];
          const double ey = y - positions_[2 * j + 1];
          const double w = 1 / (1 + ex * ex + ey * ey);
          z += w;
          force[0] += w * w * ex;
          force[1] += w * w * ey;
        }
        continue;
      }
      const double w = 1 / (1 + squared);
      z += count * w;
      force[0] += count * w * w * dx;
      force[1] += count * w * w * dy;
    }
    return z;
  }

 private:
  struct Cell {
    double centre_x, centre_y, half;  // the square [centre - half, centre + half]
    double mass_x, mass_y;            // mean of the cell's points
    int begin, end;                   // the cell's points: order_[begin .. end)
    int first_child;                  // four children from here on; -1 for a leaf
  };

  // Cells this deep stay leaves, so coincident points end the recursion.
  static constexpr int kMaxDepth = 40;

  void Split(int index, int depth) {
    Cell cell = cells_[index];
    double sum_x = 0, sum_y = 0;
    for (int at = cell.begin; at < cell.end; ++at) {
      sum_x += positions_[2 * order_[at]];
      sum_y += positions_[2 * order_[at] + 1];
    }
    const int count = cell.end - cell.begin;
    if (count > 0) {
      cells_[index].mass_x = sum_x / count;
      cells_[index].mass_y = sum_y / count;
    }
    if (count <= 1 || depth >= kMaxDepth) return;

    // Stable counting sort of the cell's points by quadrant: bit 0 east, bit 1 north.
    auto quadrant = [&](int point) {
      return (positions_[2 * point] >= cell.centre_x ? 1 : 0) + (positions_[2 * point + 1] >= cell.centre_y ? 2 : 0);
    };
    int starts[5] = {cell.begin, 0, 0, 0, 0};
    int sizes[4] = {0, 0, 0, 0};
    for (int at = cell.begin; at < cell.end; ++at) ++sizes[quadrant(order_[at])];
    for (int q = 0; q < 4; ++q) starts[q + 1] = starts[q] + sizes[q];
    int next[4] = {starts[0], starts[1], starts[2], starts[3]};
    for (int at = cell.begin; at < cell.end; ++at) scratch_[next[quadrant(order_[at])]++] = order_[at];
    std::copy(scratch_.begin() + cell.begin, scratch_.begin() + cell.end, order_.begin() + cell.begin);

    const int first_child = static_cast<int>(cells_.size());
    cells_[index].first_child = first_child;
    const double quarter = cell.half / 2;
    for (int q = 0; q < 4; ++q) {
      const double centre_x = cell.centre_x + ((q & 1) ? quarter : -quarter);
      const double centre_y = cell.centre_y + ((q & 2) ? quarter : -quarter);
      cells_.push_back({centre_x, centre_y, quarter, 0, 0, starts[q], starts[q + 1], -1});
    }
    for (int q = 0; q < 4; ++q) Split(first_child + q, depth + 1);
  }

  const std::vector<double>& positions_;
  std::vector<int> order_;
  std::vector<int> scratch_;
  std::vector<Cell> cells_;
};

// Writes the gradient of KL(P || Q) for the current positions into `gradient`
// (x, y per point), with the attraction multiplied by `exaggeration`.
void Gradient(const SparseMatrix& joint, const std::vector<double>& positions, double exaggeration, double theta,
              std::vector<double>& gradient) {
  const int points = static_cast<int>(positions.size() / 2);
  const QuadTree tree(positions);
  std::vector<double> repulsion(positions.size());
  std::vector<double> z_parts(points);

  // Points are visited in the tree's order, so consecutive queries walk the same
  // cells. Below kParallelPoints an iteration is too short to pay for waking threads.
#pragma omp parallel for schedule(dynamic, 32) if (points >= kParallelPoints)
  for (int at = 0; at < points; ++at) {
    const int i = tree.PointAt(at);
    double force[2] = {0, 0};
    z_parts[i] = tree.Repel(i, theta, force);
    repulsion[2 * i] = force[0];
    repulsion[2 * i + 1] = force[1];

    double attraction[2] = {0, 0};
    for (std::size_t e = joint.offsets[i]; e < joint.offsets[i + 1]; ++e) {
      const int j = joint.columns[e];
      const double dx = positions[2 * i] - positions[2 * j];
      const double dy = positions[2 * i + 1] - positions[2 * j + 1];
      const double pull = joint.values[e] / (1 + dx * dx + dy * dy);
      attraction[0] += pull * dx;
      attraction[1] += pull * dy;
    }
    gradient[2 * i] = exaggeration * attraction[0];
    gradient[2 * i + 1] = exaggeration * attraction[1];
  }

  double z = 0;
  for (const double part : z_parts) z += part;
  for (std::size_t c = 0; c < gradient.size(); ++c) gradient[c] = 4 * (gradient[c] - repulsion[c] / z);
}

void CheckTsneArguments(std::span<const float> vectors, int dimension, const TsneOptions& options) {
  if (dimension < 1 || vectors.size() % static_cast<std::size_t>(dimension) != 0) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("t-SNE: {} floats do not form rows of dimension {}", vectors.size(), dimension));
  }
  const std::size_t rows = vectors.size() / dimension;
  if (rows < 4) {
    throw Error(ErrorCategory::kInvalidArgument, fmt::format("t-SNE: {} rows, at least 4 are needed", rows));
  }
  if (!(options.perplexity >= 1) || options.iterations < 1 || options.exaggeration_iterations < 0 ||
      !(options.early_exaggeration >= 1) || !(options.theta >= 0) || !(options.learning_rate >= 0)) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("t-SNE: invalid options: perplexity {} (at least 1), iterations {} (at least 1), "
                            "exaggeration iterations {} (at least 0), early exaggeration {} (at least 1), "
                            "theta {} (at least 0), learning rate {} (at least 0)",
                            options.perplexity, options.iterations, options.exaggeration_iterations,
                            options.early_exaggeration, options.theta, options.learning_rate));
  }
}

}  // namespace

double EffectiveTsnePerplexity(double requested, std::size_t rows) {
  return std::max(1.0, std::min(requested, (static_cast<double>(rows) - 1) / 3));
}

Projection2d ProjectTsne(std::span<const float> vectors, int dimension, const TsneOptions& options) {
  CheckTsneArguments(vectors, dimension, options);
  const int rows = static_cast<int>(vectors.size() / dimension);
  const double perplexity = EffectiveTsnePerplexity(options.perplexity, rows);
  const SparseMatrix joint = InputSimilarities(vectors, dimension, rows, perplexity);

  // Start from a tight Gaussian blob (standard deviation 1e-4) drawn with the seed.
  synth::SplitMix64 random(options.seed);
  std::vector<double> positions(2 * static_cast<std::size_t>(rows));
  for (double& coordinate : positions) coordinate = 1e-4 * random.Normal();

  // Gradient descent with momentum and per-coordinate gains (delta-bar-delta):
  // a gain grows while its coordinate keeps moving the same way.
  const double learning_rate =
      options.learning_rate > 0 ? options.learning_rate : std::max(rows / options.early_exaggeration / 4, 50.0);
  std::vector<double> gradient(positions.size());
  std::vector<double> update(positions.size(), 0.0);
  std::vector<double> gains(positions.size(), 1.0);
  for (int iteration = 0; iteration < options.iterations; ++iteration) {
    const bool early = iteration < options.exaggeration_iterations;
    const double exaggeration = early ? options.early_exaggeration : 1.0;
    const double momentum = early ? 0.5 : 0.8;
    Gradient(joint, positions, exaggeration, options.theta, gradient);

    for (std::size_t c = 0; c < positions.size(); ++c) {
      // A gradient with the sign of the last step means that step overshot.
      const bool overshot = (gradient[c] > 0) == (update[c] > 0);
      gains[c] = std::max(overshot ? gains[c] * 0.8 : gains[c] + 0.2, 0.01);
      update[c] = momentum * update[c] - learning_rate * gains[c] * gradient[c];
      positions[c] += update[c];
    }

    // Keep the picture centred on the origin; t-SNE's objective ignores translation.
    double mean[2] = {0, 0};
    for (int i = 0; i < rows; ++i) {
      mean[0] += positions[2 * i];
      mean[1] += positions[2 * i + 1];
    }
    for (int i = 0; i < rows; ++i) {
      positions[2 * i] -= mean[0] / rows;
      positions[2 * i + 1] -= mean[1] / rows;
    }
  }

  Projection2d result;
  result.explained_variance = {kNotAvailable, kNotAvailable};
  result.points.resize(rows);
  for (int i = 0; i < rows; ++i) {
    result.points[i] = {static_cast<float>(positions[2 * i]), static_cast<float>(positions[2 * i + 1])};
  }
  return result;
}

}  // namespace facespace
