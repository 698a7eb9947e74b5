#include <cmath>
#include <numeric>

#include <gtest/gtest.h>

#include "facespace/error.h"
#include "facespace/report.h"

namespace facespace {
namespace {

Figure MakeFigure(double value, std::vector<double> replicates) {
  Figure figure;
  figure.value = value;
  figure.replicates = std::move(replicates);
  return figure;
}

// An analysis with every headline figure set to `shift` plus a fixed base, and
// replicates spread evenly around it.
AnalysisResult MakeAnalysis(double shift) {
  AnalysisResult result;
  std::vector<double> replicates(101);
  for (int i = 0; i <= 100; ++i) replicates[i] = shift + 0.001 * (i - 50);
  result.verification.d_prime = MakeFigure(3 + shift, replicates);
  for (double& r : result.verification.d_prime.replicates) r += 3;
  result.verification.eer = MakeFigure(0.05, std::vector<double>(101, 0.05));
  OperatingPoint point;
  point.target_fmr = 1e-2;
  point.fnmr = MakeFigure(0.1 - shift, std::vector<double>(101, 0.1 - shift));
  result.verification.tar_at_far = {point};
  result.identification.rank1 = MakeFigure(0.9, std::vector<double>(101, 0.9));
  result.cluster.silhouette = MakeFigure(0.4 - shift, std::vector<double>(101, 0.4 - shift));
  result.cluster.fisher_ratio = MakeFigure(2, {});
  result.histogram_edges = {0.0, 0.5, 1.0};
  result.genuine.histogram = {3, 1};
  result.impostor.histogram = {0, 4};
  result.verification.curve = {{0.2, 0.0, 0.5}, {0.6, 0.01, 0.1}};
  result.identification.cmc = {0.9, 0.95, 1.0};
  IdentityRow row;
  row.name = "ann";
  row.samples = 4;
  row.margin = 0.1 + shift;
  result.identities = {row};
  return result;
}

HeadlineRow Row(double before, double after, double ci_low = kNotAvailable,
                double ci_high = kNotAvailable) {
  HeadlineRow row;
  row.key = "metric";
  row.label = "metric";
  row.before = before;
  row.after = after;
  row.ci_low = ci_low;
  row.ci_high = ci_high;
  return row;
}

TEST(HeadlineVerdict, IntervalAboveZeroImproves) {
  HeadlineRow row = Row(1, 2, 0.1, 0.3);
  EXPECT_EQ(HeadlineVerdict(row), "improved");
  row.higher_is_better = false;
  EXPECT_EQ(HeadlineVerdict(row), "worse");
}

TEST(HeadlineVerdict, IntervalAcrossZeroIsNoChange) {
  const HeadlineRow row = Row(1, 1.1, -0.1, 0.3);
  EXPECT_EQ(HeadlineVerdict(row), "no significant change");
}

TEST(HeadlineVerdict, MissingIntervalIsNotAvailable) {
  const HeadlineRow row = Row(1, 1.1);
  EXPECT_EQ(HeadlineVerdict(row), "n/a");
}

TEST(HeadlineFromAnalyses, PairsReplicatesForInterval) {
  const auto rows = HeadlineFromAnalyses(MakeAnalysis(0), MakeAnalysis(0.2));
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0].key, "d_prime");
  EXPECT_DOUBLE_EQ(rows[0].before, 3.0);
  EXPECT_DOUBLE_EQ(rows[0].after, 3.2);
  // Each paired difference is exactly 0.2, so the interval collapses onto it.
  EXPECT_NEAR(rows[0].ci_low, 0.2, 1e-12);
  EXPECT_NEAR(rows[0].ci_high, 0.2, 1e-12);
  EXPECT_EQ(HeadlineVerdict(rows[0]), "improved");
  EXPECT_EQ(rows[2].label, "TAR@FAR=0.01");
  EXPECT_NEAR(rows[2].before, 0.9, 1e-12);
  EXPECT_NEAR(rows[2].after, 1.1, 1e-12);
  EXPECT_EQ(HeadlineVerdict(rows[4]), "worse");
}

TEST(HeadlineFromAnalyses, MissingReplicatesLeaveNoInterval) {
  const auto rows = HeadlineFromAnalyses(MakeAnalysis(0), MakeAnalysis(0.2));
  EXPECT_EQ(rows[5].key, "fisher_ratio");
  EXPECT_TRUE(std::isnan(rows[5].ci_low));
  EXPECT_FALSE(rows[5].note.empty());
}

TEST(HeadlineFromAnalyses, UnsupportedFarCarriesNote) {
  AnalysisResult before = MakeAnalysis(0);
  before.verification.tar_at_far[0].supported = false;
  const auto rows = HeadlineFromAnalyses(before, MakeAnalysis(0.1));
  EXPECT_TRUE(std::isnan(rows[2].ci_low));
  EXPECT_NE(rows[2].note.find("not supported by the data"), std::string::npos) << rows[2].note;
}

TEST(HeadlineJson, WritesNanAsNull) {
  HeadlineRow row = Row(0.1, 0.2);
  row.higher_is_better = false;
  const auto json = HeadlineJson({row});
  EXPECT_TRUE(json[0]["ci_low"].is_null());
  EXPECT_EQ(json[0]["verdict"], "n/a");
  EXPECT_NEAR(json[0]["difference"].get<double>(), 0.1, 1e-12);
}

TEST(DistanceHistograms, DensityIntegratesToOne) {
  const auto rows = DistanceHistogramsJson(MakeAnalysis(0), MakeAnalysis(0));
  ASSERT_EQ(rows.size(), 8u);
  double genuine_area = 0;
  for (const auto& row : rows) {
    if (row["phase"] == "before" && row["class"] == "genuine") {
      genuine_area += row["density"].get<double>() * (row["bin_end"].get<double>() - row["bin_start"].get<double>());
    }
  }
  EXPECT_NEAR(genuine_area, 1.0, 1e-12);
}

TEST(Curves, RocIsOneMinusFnmr) {
  const auto roc = RocJson(MakeAnalysis(0), MakeAnalysis(0));
  ASSERT_EQ(roc.size(), 4u);
  EXPECT_DOUBLE_EQ(roc[1]["far"].get<double>(), 0.01);
  EXPECT_DOUBLE_EQ(roc[1]["tar"].get<double>(), 0.9);
  const auto det = DetJson(MakeAnalysis(0), MakeAnalysis(0));
  EXPECT_DOUBLE_EQ(det[1]["frr"].get<double>(), 0.1);
}

TEST(Curves, CmcRanksStartAtOne) {
  const auto cmc = CmcJson(MakeAnalysis(0), MakeAnalysis(0));
  ASSERT_EQ(cmc.size(), 6u);
  EXPECT_EQ(cmc[0]["rank"], 1);
  EXPECT_EQ(cmc[2]["rank"], 3);
  EXPECT_EQ(cmc[3]["phase"], "after");
}

TEST(IdentityRows, MatchesIdentitiesByName) {
  AnalysisResult after = MakeAnalysis(0.3);
  after.identities[0].synthetic_samples = 8;
  const auto rows = IdentityRowsJson(MakeAnalysis(0), after);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["identity"], "ann");
  EXPECT_EQ(rows[0]["synthetic_samples"], 8);
  EXPECT_NEAR(rows[0]["margin_after"].get<double>(), 0.4, 1e-12);
}

TEST(QuestionAndAnswer, NamesRecipeAndThreeFigures) {
  const auto rows = HeadlineFromAnalyses(MakeAnalysis(0), MakeAnalysis(0.2));
  const auto [question, answer] = QuestionAndAnswer(rows, "rotate(-15,15)", 2);
  EXPECT_NE(question.find("\"rotate(-15,15)\""), std::string::npos) << question;
  EXPECT_NE(question.find("2 synthetic samples"), std::string::npos) << question;
  EXPECT_EQ(answer,
            "With them, d′ went from 3.000 to 3.200 (improved), EER from 0.050 to 0.050 "
            "(no significant change), and rank-1 from 0.900 to 0.900 (no significant change).");
}

TEST(ValidateReportDocument, RejectsOtherVersion) {
  nlohmann::json document = {{"format", "facespace-report"}, {"format_version", 99},
                             {"question", ""}, {"answer", ""}, {"config", {}}, {"headline", {}}};
  try {
    ValidateReportDocument(document);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kCorrupt);
    EXPECT_STREQ(error.what(), "report document: format_version is 99, this build writes 1");
  }
}

TEST(ValidateReportDocument, RejectsMissingHeadline) {
  nlohmann::json document = {{"format", "facespace-report"}, {"format_version", 1},
                             {"question", ""}, {"answer", ""}, {"config", {}}};
  EXPECT_THROW(ValidateReportDocument(document), Error);
}

TEST(ProjectPca, LineProjectsOntoFirstAxis) {
  // Points on the line t * (1, 2, 0) plus tiny noise in the third coordinate.
  std::vector<float> vectors;
  for (int i = 0; i < 10; ++i) {
    vectors.insert(vectors.end(), {float(i), float(2 * i), (i % 2) * 0.01f});
  }
  const auto result = ProjectPca(vectors, 3, std::vector<std::uint8_t>(10, 1));
  ASSERT_EQ(result.points.size(), 10u);
  EXPECT_GT(result.explained_variance[0], 0.999);
  EXPECT_LT(result.explained_variance[1], 0.001);
  // Neighbouring points are sqrt(5) apart along the first axis.
  EXPECT_NEAR(std::abs(result.points[1][0] - result.points[0][0]), std::sqrt(5.0), 1e-4);
}

TEST(ProjectPca, UnfittedRowsShareAxes) {
  std::vector<float> vectors;
  for (int i = 0; i < 6; ++i) vectors.insert(vectors.end(), {float(i), 0.f, float(i % 3)});
  vectors.insert(vectors.end(), {2.5f, 0.f, 1.f});  // the mean of the fitted rows, not fitted
  std::vector<std::uint8_t> fit(7, 1);
  fit[6] = 0;
  const auto result = ProjectPca(vectors, 3, fit);
  EXPECT_NEAR(result.points[6][0], 0.0, 1e-5);
  EXPECT_NEAR(result.points[6][1], 0.0, 1e-5);
}

TEST(ProjectPca, RejectsTooFewRows) {
  const std::vector<float> vectors(6, 1.f);
  EXPECT_THROW(ProjectPca(vectors, 3, {1, 1}), Error);
}

}  // namespace
}  // namespace facespace
