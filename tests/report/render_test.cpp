// Renders the fixture document through RenderReport and checks the written files.
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "facespace/error.h"
#include "facespace/report.h"
#include "test_support.h"

namespace facespace {
namespace {

namespace fs = std::filesystem;

const fs::path kFixture = fs::path(FACESPACE_SOURCE_DIR) / "tests" / "report" / "fixture";
const std::vector<std::string> kFigures = {"distances", "roc", "det", "cmc", "projection",
                                           "identity_margins", "transform_response", "failures"};
const std::vector<std::string> kSections = {"question-answer", "headline", "distances",
                                            "verification", "space", "identities", "transforms",
                                            "contact-sheets", "failures", "configuration"};

std::string ReadFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool RendererInstalled() {
  return fs::exists(ReportRendererDir() / "node_modules" / "vega-lite");
}

// The page with the inlined library bundles cut out: what the report itself wrote.
// (std::regex recurses per character and overflows the stack on a page this size.)
std::string WithoutLibraries(const std::string& html) {
  const std::string open = "<script data-library=";
  const std::string close = "</script>";
  std::string own;
  std::size_t position = 0;
  while (true) {
    const std::size_t start = html.find(open, position);
    if (start == std::string::npos) break;
    own.append(html, position, start - position);
    const std::size_t end = html.find(close, start);
    if (end == std::string::npos) return own;
    position = end + close.size();
  }
  own.append(html, position, std::string::npos);
  return own;
}

// Returns the first place where an http(s) address is used to load something
// (src=, href=, url(, @import), or an empty string.
std::string FindExternalLoad(const std::string& html) {
  static const std::regex loader(R"((src|href)\s*=\s*["']?\s*$|url\(\s*["']?$|@import\s*["']?$)",
                                 std::regex::icase);
  for (const char* scheme : {"http://", "https://", "//"}) {
    for (std::size_t at = html.find(scheme); at != std::string::npos; at = html.find(scheme, at + 1)) {
      const std::size_t from = at >= 16 ? at - 16 : 0;
      std::string before = html.substr(from, at - from);
      if (std::string(scheme) == "//" && !before.empty() && before.back() == ':') continue;
      if (std::regex_search(before, loader)) return html.substr(from, 64);
    }
  }
  return "";
}

// Renders the fixture once; the tests read what it wrote.
class RenderFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!RendererInstalled()) return;
    out_ = new facespace::testing::TempDir();
    fs::copy(kFixture, out_->path(), fs::copy_options::recursive);
    document_ = new nlohmann::json(nlohmann::json::parse(ReadFile(kFixture / "results.json")));
    html_ = new fs::path(RenderReport(*document_, out_->path()));
  }
  static void TearDownTestSuite() {
    delete html_;
    delete document_;
    delete out_;
  }
  void SetUp() override {
    if (!RendererInstalled()) {
      GTEST_SKIP() << ReportRendererDir() / "node_modules" << " missing (run scripts/setup.sh)";
    }
  }

  static const fs::path& out() { return out_->path(); }

  static inline facespace::testing::TempDir* out_ = nullptr;
  static inline nlohmann::json* document_ = nullptr;
  static inline fs::path* html_ = nullptr;
};

TEST_F(RenderFixture, WritesEverySection) {
  ASSERT_EQ(*html_, out() / "report.html");
  const std::string page = ReadFile(*html_);
  for (const std::string& id : kSections) {
    EXPECT_NE(page.find("id=\"" + id + "\""), std::string::npos) << "section " << id;
  }
  for (const std::string& name : kFigures) {
    EXPECT_NE(page.find("data-figure=\"" + name + "\""), std::string::npos) << "figure " << name;
  }
  EXPECT_NE(page.find("Identities are clusters, not ground truth"), std::string::npos);
}

TEST_F(RenderFixture, PageHasNoExternalAddress) {
  const std::string page = ReadFile(*html_);
  const std::string own = WithoutLibraries(page);
  ASSERT_LT(own.size(), page.size() / 4) << "library bundles not found in the page";
  for (const char* scheme : {"http://", "https://"}) {
    const std::size_t at = own.find(scheme);
    EXPECT_EQ(at, std::string::npos) << "external address in the page: " << own.substr(at, 80);
  }
  // Nothing in the whole page, library bundles included, loads from an address.
  EXPECT_EQ(FindExternalLoad(page), "");
}

TEST(FindExternalLoad, SpotsRemoteScriptAndStyle) {
  EXPECT_NE(FindExternalLoad("<script src=\"https://cdn.example/vega.js\">"), "");
  EXPECT_NE(FindExternalLoad("<link href='//fonts.example/a.css'>"), "");
  EXPECT_NE(FindExternalLoad("body { background: url(http://a.example/x.png) }"), "");
  EXPECT_EQ(FindExternalLoad("createElementNS(\"http://www.w3.org/2000/svg\", \"g\")"), "");
}

TEST_F(RenderFixture, WritesFiguresAsSvgAndPng) {
  for (const std::string& name : kFigures) {
    const fs::path svg = out() / "figures" / (name + ".svg");
    const fs::path png = out() / "figures" / (name + ".png");
    ASSERT_TRUE(fs::exists(svg)) << svg;
    ASSERT_TRUE(fs::exists(png)) << png;
    EXPECT_EQ(ReadFile(svg).rfind("<svg", 0), 0u) << svg;
    EXPECT_EQ(ReadFile(png).substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << png;
    EXPECT_GT(fs::file_size(png), 2000u) << png;
  }
}

TEST_F(RenderFixture, WritesNumbersAsCsv) {
  EXPECT_TRUE(fs::exists(out() / "results.json"));
  const std::string headline = ReadFile(out() / "data" / "headline.csv");
  EXPECT_EQ(headline.substr(0, headline.find('\n')),
            "key,label,higher_is_better,before,after,difference,ci_low,ci_high,verdict,note");
  for (const char* table : {"identities", "roc", "det", "cmc", "projection", "transform_response"}) {
    EXPECT_TRUE(fs::exists(out() / "data" / (std::string(table) + ".csv"))) << table;
  }
}

TEST_F(RenderFixture, MissingImageNamesFile) {
  nlohmann::json document = *document_;
  document["contact_sheets"][0]["image"] = "images/absent.png";
  facespace::testing::TempDir other;
  fs::copy(kFixture, other.path(), fs::copy_options::recursive);
  try {
    RenderReport(document, other.path());
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kInternal);
    EXPECT_NE(std::string(error.what()).find("absent.png: cannot read image"), std::string::npos)
        << error.what();
  }
}

TEST(RenderReport, MissingRendererNamesSetupCommand) {
  facespace::testing::TempDir empty;
  std::ofstream(empty.path() / "render.mjs") << "";
  RenderOptions options;
  options.renderer_dir = empty.path();
  nlohmann::json document = {{"format", "facespace-report"}, {"format_version", 1},
                             {"question", "q"}, {"answer", "a"}, {"config", nlohmann::json::object()},
                             {"headline", nlohmann::json::array()}};
  try {
    RenderReport(document, empty.path() / "out", options);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kNotFound);
    EXPECT_NE(std::string(error.what()).find("npm ci --prefix"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace facespace
