// Verification figures from sorted genuine and impostor distances.
//
// One ascending sweep over the distinct score values gives, at each
// threshold t (accept when d <= t), FMR(t) = impostors <= t / impostors and
// FNMR(t) = genuines > t / genuines; AUC, EER, the FMR operating points and
// the curve all come from that sweep.
#include <algorithm>
#include <cmath>
#include <limits>

#include <omp.h>

#include "analysis/analysis_internal.h"
#include "facespace/error.h"

namespace facespace::analysis {
namespace {

// Neumaier's variant of Kahan summation: `compensation` gathers the low-order
// bits each addition to `sum` loses.
struct CompensatedSum {
  double sum = 0;
  double compensation = 0;

  void Add(double x) {
    const double t = sum + x;
    compensation += std::abs(sum) >= std::abs(x) ? (sum - t) + x : (x - t) + sum;
    sum = t;
  }
  double value() const { return sum + compensation; }
};

double WeightAt(const double* weights, std::size_t index) {
  return weights ? weights[index] : 1.0;
}

double SumWeights(std::size_t count, const double* weights) {
  if (!weights) return double(count);
  double sum = 0;
  for (std::size_t k = 0; k < count; ++k) sum += weights[k];
  return sum;
}

// Decides which sweep points the saved curve keeps: a point is kept when
// either rate moved by 1/points since the last kept one, or FMR grew by a
// factor that spreads about points/4 samples per decade over log axes.
class CurveDecimator {
 public:
  explicit CurveDecimator(int points)
      : step_(1.0 / std::max(points, 1)), factor_(std::pow(10.0, 4.0 / std::max(points, 1))) {}

  bool Keep(double fmr, double fnmr) {
    const bool keep = !any_ || std::abs(fmr - fmr_) >= step_ || std::abs(fnmr - fnmr_) >= step_ ||
                      (fmr > 0 && (fmr_ == 0 || fmr >= fmr_ * factor_));
    if (keep) {
      any_ = true;
      fmr_ = fmr;
      fnmr_ = fnmr;
    }
    return keep;
  }

 private:
  double step_;
  double factor_;
  bool any_ = false;
  double fmr_ = 0;
  double fnmr_ = 0;
};

// Impostor scores of a sweep as a sorted array, each with a weight (1 when
// `weights` is nullptr).
class SortedScores {
 public:
  SortedScores(std::span<const float> scores, const double* weights) : scores_(scores), weights_(weights) {}

  bool done() const { return next_ == scores_.size(); }
  float value() const { return scores_[next_]; }

  // Consumes the scores equal to `value` and returns their total weight.
  double Take(float value) {
    double weight = 0;
    while (next_ < scores_.size() && scores_[next_] == value) weight += WeightAt(weights_, next_++);
    return weight;
  }

 private:
  std::span<const float> scores_;
  const double* weights_;
  std::size_t next_ = 0;
};

// Impostor scores of a sweep as runs, each score weighing 1.
class RunScores {
 public:
  explicit RunScores(const ScoreRuns& runs) : runs_(runs) {}

  bool done() const { return next_ == runs_.values.size(); }
  float value() const { return runs_.values[next_]; }

  // Consumes the run equal to `value` and returns its count. Adding 1.0 once
  // per score, as SortedScores does, gives the same double exactly.
  double Take(float value) {
    if (done() || runs_.values[next_] != value) return 0.0;
    return double(runs_.counts[next_++]);
  }

 private:
  const ScoreRuns& runs_;
  std::size_t next_ = 0;
};

// The sweep over the distinct values of the genuine and impostor scores.
template <typename Impostors>
SweepFigures Sweep(std::span<const float> genuine, const double* genuine_weights, Impostors impostors,
                   double impostor_total, std::span<const double> target_fmrs, int curve_points) {
  SweepFigures figures;
  const double genuine_total = SumWeights(genuine.size(), genuine_weights);
  const std::size_t targets = target_fmrs.size();
  figures.fnmr.assign(targets, kNotAvailable);
  figures.thresholds.assign(targets, kNotAvailable);
  figures.fmr.assign(targets, kNotAvailable);
  if (!(genuine_total > 0) || !(impostor_total > 0)) return figures;

  std::vector<bool> target_done(targets, false);
  CurveDecimator decimator(curve_points);
  CurvePoint last_point{};
  bool last_point_kept = true;

  double genuine_below = 0;   // weight of genuine scores <= current threshold
  double impostor_below = 0;  // weight of impostor scores <= current threshold
  double auc_sum = 0;
  // The operating point before the first score: everything rejected.
  double previous_fmr = 0;
  double previous_fnmr = 1;
  double previous_threshold = -std::numeric_limits<double>::infinity();
  bool eer_found = false;

  std::size_t g = 0;
  while (g < genuine.size() || !impostors.done()) {
    float value;
    if (g == genuine.size()) {
      value = impostors.value();
    } else if (impostors.done()) {
      value = genuine[g];
    } else {
      value = std::min(genuine[g], impostors.value());
    }
    double genuine_here = 0;
    while (g < genuine.size() && genuine[g] == value) genuine_here += WeightAt(genuine_weights, g++);
    const double impostor_here = impostors.Take(value);

    // Operating points: the first value whose impostors push FMR above the
    // target ends the feasible range; the best threshold lies just below it.
    for (std::size_t t = 0; t < targets; ++t) {
      if (target_done[t] || impostor_here == 0) continue;
      if (impostor_below + impostor_here > target_fmrs[t] * impostor_total * (1 + 1e-12)) {
        target_done[t] = true;
        figures.thresholds[t] = std::nextafter(double(value), -std::numeric_limits<double>::infinity());
        figures.fmr[t] = impostor_below / impostor_total;
        figures.fnmr[t] = 1.0 - genuine_below / genuine_total;
      }
    }

    // AUC = P(genuine < impostor) + 1/2 P(genuine == impostor).
    auc_sum += impostor_here * (genuine_below + 0.5 * genuine_here);
    genuine_below += genuine_here;
    impostor_below += impostor_here;
    const double fmr = impostor_below / impostor_total;
    const double fnmr = std::max(0.0, 1.0 - genuine_below / genuine_total);

    // EER: FMR rises and FNMR falls with t; between the last point with
    // FMR < FNMR and the first with FMR >= FNMR, interpolate linearly to the
    // crossing. The threshold is whichever of the two is closer to equal rates.
    if (!eer_found && fmr >= fnmr) {
      eer_found = true;
      const double gap_before = previous_fnmr - previous_fmr;  // > 0
      const double gap_after = fnmr - fmr;                     // <= 0
      const double alpha = gap_before / (gap_before - gap_after);
      figures.eer = previous_fmr + alpha * (fmr - previous_fmr);
      const bool use_previous =
          std::isfinite(previous_threshold) && gap_before < -gap_after;
      figures.eer_threshold = use_previous ? previous_threshold : double(value);
    }
    previous_fmr = fmr;
    previous_fnmr = fnmr;
    previous_threshold = value;

    if (curve_points > 0) {
      last_point = {double(value), fmr, fnmr};
      last_point_kept = decimator.Keep(fmr, fnmr);
      if (last_point_kept) figures.curve.push_back(last_point);
    }
  }
  if (curve_points > 0 && !last_point_kept) figures.curve.push_back(last_point);

  // Targets never exceeded: every threshold is feasible, so accept everything.
  for (std::size_t t = 0; t < targets; ++t) {
    if (target_done[t]) continue;
    figures.thresholds[t] = previous_threshold;
    figures.fmr[t] = 1.0;
    figures.fnmr[t] = 0.0;
  }
  figures.auc = auc_sum / (genuine_total * impostor_total);
  return figures;
}

}  // namespace

SweepFigures SweepScores(std::span<const float> genuine, const double* genuine_weights,
                         std::span<const float> impostor, const double* impostor_weights,
                         std::span<const double> target_fmrs, int curve_points) {
  return Sweep(genuine, genuine_weights, SortedScores(impostor, impostor_weights),
               SumWeights(impostor.size(), impostor_weights), target_fmrs, curve_points);
}

SweepFigures SweepScoreRuns(std::span<const float> genuine, const ScoreRuns& impostor,
                            std::span<const double> target_fmrs, int curve_points) {
  return Sweep(genuine, nullptr, RunScores(impostor), double(impostor.total), target_fmrs, curve_points);
}

Moments ComputeMoments(std::span<const float> values) {
  Moments moments;
  const std::size_t n = values.size();
  if (n == 0) return moments;
  constexpr std::size_t kChunk = 1 << 16;
  const std::size_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> sums(chunks), squares(chunks);

  // First pass: the mean. Second pass: squared deviations from it, which
  // avoids the cancellation of E[x^2] - E[x]^2.
#pragma omp parallel for schedule(static) if (chunks > 4)
  for (std::size_t c = 0; c < chunks; ++c) {
    double sum = 0;
    const std::size_t end = std::min(n, (c + 1) * kChunk);
    for (std::size_t k = c * kChunk; k < end; ++k) sum += values[k];
    sums[c] = sum;
  }
  double total = 0;
  for (double s : sums) total += s;
  const double mean = total / double(n);
#pragma omp parallel for schedule(static) if (chunks > 4)
  for (std::size_t c = 0; c < chunks; ++c) {
    double sum = 0;
    const std::size_t end = std::min(n, (c + 1) * kChunk);
    for (std::size_t k = c * kChunk; k < end; ++k) {
      const double diff = values[k] - mean;
      sum += diff * diff;
    }
    squares[c] = sum;
  }
  double square_total = 0;
  for (double s : squares) square_total += s;
  moments.mean = mean;
  moments.variance = square_total / double(n);
  return moments;
}

Moments ComputeMoments(const ScoreRuns& runs) {
  Moments moments;
  const std::uint64_t n = runs.total;
  if (n == 0) return moments;

  // count * value and count * (value - mean)^2 per run, summed with Neumaier's
  // compensation in chunks of runs whose bounds do not depend on the thread
  // count, so the result is the same on any machine.
  constexpr std::size_t kChunk = 1 << 16;
  const std::size_t size = runs.values.size();
  const std::size_t chunks = (size + kChunk - 1) / kChunk;
  auto sum_runs = [&](auto term) {
    std::vector<CompensatedSum> parts(chunks);
#pragma omp parallel for schedule(static) if (chunks > 4)
    for (std::size_t c = 0; c < chunks; ++c) {
      const std::size_t end = std::min(size, (c + 1) * kChunk);
      for (std::size_t r = c * kChunk; r < end; ++r) parts[c].Add(double(runs.counts[r]) * term(runs.values[r]));
    }
    CompensatedSum total;
    for (const CompensatedSum& part : parts) {
      total.Add(part.sum);
      total.Add(part.compensation);
    }
    return total.value();
  };
  moments.mean = sum_runs([](float v) { return double(v); }) / double(n);
  const double mean = moments.mean;
  moments.variance = sum_runs([mean](float v) {
                       const double diff = v - mean;
                       return diff * diff;
                     }) /
                     double(n);
  return moments;
}

double SortedQuantile(std::span<const float> sorted, double probability) {
  if (sorted.empty()) return kNotAvailable;
  const double position = probability * double(sorted.size() - 1);
  const std::size_t low = static_cast<std::size_t>(std::floor(position));
  const std::size_t high = std::min(sorted.size() - 1, low + 1);
  const double fraction = position - double(low);
  return double(sorted[low]) + fraction * (double(sorted[high]) - double(sorted[low]));
}

}  // namespace facespace::analysis

namespace facespace {

double DecidabilityIndex(double mean_genuine, double var_genuine, double mean_impostor,
                         double var_impostor) {
  const double pooled = (var_genuine + var_impostor) / 2.0;
  if (!(pooled > 0)) return kNotAvailable;
  return std::abs(mean_genuine - mean_impostor) / std::sqrt(pooled);
}

namespace {

// Operating targets in the order SweepScores reports them: FMR100, FMR1000,
// ZeroFMR, then TAR at FAR 1e-1 .. 1e-4.
constexpr double kVerificationTargets[] = {1e-2, 1e-3, 0.0, 1e-1, 1e-2, 1e-3, 1e-4};

void CheckScoreCounts(std::uint64_t genuine, std::uint64_t impostor) {
  if (genuine == 0 || impostor == 0) {
    throw Error(ErrorCategory::kInvalidArgument,
                "verification scores: need at least one genuine and one impostor score (got " +
                    std::to_string(genuine) + " and " + std::to_string(impostor) + ")");
  }
}

VerificationResult AssembleVerification(const analysis::SweepFigures& sweep, const analysis::Moments& g,
                                        const analysis::Moments& i, std::uint64_t impostor_count) {
  VerificationResult result;
  result.d_prime.value = DecidabilityIndex(g.mean, g.variance, i.mean, i.variance);
  result.eer.value = sweep.eer;
  result.eer_threshold = sweep.eer_threshold;
  result.auc.value = sweep.auc;
  result.curve = sweep.curve;

  const double impostors = double(impostor_count);
  auto point = [&](std::size_t t) {
    OperatingPoint op;
    op.target_fmr = kVerificationTargets[t];
    // A target FMR of x needs at least 1/x impostor pairs to be resolved.
    op.supported = kVerificationTargets[t] == 0 ? true : impostors * kVerificationTargets[t] >= 1.0 - 1e-9;
    if (!op.supported) {
      op.fnmr.supported = false;
      op.fnmr.note = "not supported by the data: fewer than 1/FMR impostor pairs";
      return op;
    }
    op.threshold = sweep.thresholds[t];
    op.fmr = sweep.fmr[t];
    op.fnmr.value = sweep.fnmr[t];
    return op;
  };
  result.fmr100 = point(0);
  result.fmr1000 = point(1);
  result.zero_fmr = point(2);
  for (std::size_t t = 3; t < 7; ++t) result.tar_at_far.push_back(point(t));
  return result;
}

}  // namespace

VerificationResult VerifyScores(std::span<const float> genuine_sorted,
                                std::span<const float> impostor_sorted, int curve_points) {
  CheckScoreCounts(genuine_sorted.size(), impostor_sorted.size());
  const analysis::SweepFigures sweep = analysis::SweepScores(
      genuine_sorted, nullptr, impostor_sorted, nullptr, kVerificationTargets, curve_points);
  return AssembleVerification(sweep, analysis::ComputeMoments(genuine_sorted),
                              analysis::ComputeMoments(impostor_sorted), impostor_sorted.size());
}

namespace analysis {

VerificationResult VerifyScoreRuns(std::span<const float> genuine_sorted, const ScoreRuns& impostors,
                                   const Moments& impostor_moments, int curve_points) {
  CheckScoreCounts(genuine_sorted.size(), impostors.total);
  const SweepFigures sweep = SweepScoreRuns(genuine_sorted, impostors, kVerificationTargets, curve_points);
  return AssembleVerification(sweep, ComputeMoments(genuine_sorted), impostor_moments, impostors.total);
}

}  // namespace analysis

}  // namespace facespace
