#include <fstream>
#include <vector>

#include <gtest/gtest.h>

#include "facespace/error.h"
#include "facespace/ingest.h"
#include "test_support.h"

namespace facespace {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

void Touch(const fs::path& file, const std::string& content = "x") {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << content;
}

std::vector<std::string> RelativePaths(const DatasetScan& scan) {
  std::vector<std::string> paths;
  for (const DatasetFile& file : scan.files) paths.push_back(file.relative_path);
  return paths;
}

TEST(ScanDataset, SkipsAndCountsNonImages) {
  TempDir dir;
  Touch(dir.path() / "Alice" / "Alice_0001.jpg");
  Touch(dir.path() / "Alice" / "Alice_0002.JPEG");
  Touch(dir.path() / "Alice" / ".DS_Store");
  Touch(dir.path() / "Alice" / "notes.txt");
  Touch(dir.path() / "Bob" / "Bob_0001.png");
  Touch(dir.path() / ".DS_Store");
  Touch(dir.path() / "README.md");
  fs::create_directories(dir.path() / "Empty");
  Touch(dir.path() / ".hidden_person" / "a.jpg");

  const DatasetScan scan = ScanDataset(dir.path());
  EXPECT_EQ(RelativePaths(scan),
            (std::vector<std::string>{"Alice/Alice_0001.jpg", "Alice/Alice_0002.JPEG", "Bob/Bob_0001.png"}));
  EXPECT_EQ(scan.identities, 2);
  EXPECT_EQ(scan.hidden_skipped, 3);
  EXPECT_EQ(scan.non_images, 1);
  EXPECT_EQ(scan.loose_files, 1);
  EXPECT_EQ(scan.empty_folders, 1);
  EXPECT_EQ(scan.files[0].identity, "Alice");
}

TEST(ScanDataset, SymlinkLoopTerminates) {
  TempDir dir;
  Touch(dir.path() / "Carol" / "Carol_0001.jpg");
  fs::create_directory_symlink(dir.path() / "Carol", dir.path() / "Carol" / "loop");
  fs::create_directory_symlink(dir.path(), dir.path() / "Carol" / "root");
  fs::create_directory_symlink("..", dir.path() / "Carol" / "parent");

  const DatasetScan scan = ScanDataset(dir.path());
  EXPECT_EQ(RelativePaths(scan), std::vector<std::string>{"Carol/Carol_0001.jpg"});
  EXPECT_EQ(scan.symlink_loops, 3);
}

TEST(ScanDataset, FollowsSymlinkToOtherFolderOnce) {
  TempDir dir;
  Touch(dir.path() / "outside" / "x.jpg");
  fs::create_directories(dir.path() / "data");
  fs::create_directory_symlink(dir.path() / "outside", dir.path() / "data" / "Dan");
  const DatasetScan scan = ScanDataset(dir.path() / "data");
  EXPECT_EQ(RelativePaths(scan), std::vector<std::string>{"Dan/x.jpg"});
}

TEST(ScanDataset, UnicodeNamesKeptByteForByte) {
  TempDir dir;
  const std::string names[] = {"Jos\xc3\xa9 Mart\xc3\xadnez", "\xd9\x85\xd8\xad\xd9\x85\xd8\xaf",
                               "\xd7\xa9\xd7\xa8\xd7\x94 \xd7\x9b\xd7\x94\xd7\x9f"};
  for (const std::string& name : names) Touch(dir.path() / name / (name + " 1.jpg"));
  const DatasetScan scan = ScanDataset(dir.path());
  ASSERT_EQ(scan.files.size(), 3u);
  for (const DatasetFile& file : scan.files) {
    EXPECT_EQ(file.relative_path, file.identity + "/" + file.identity + " 1.jpg");
    EXPECT_TRUE(fs::exists(file.path));
  }
}

TEST(ScanDataset, PeopleAndExcludeFilter) {
  TempDir dir;
  Touch(dir.path() / "Eve" / "Eve_0001.jpg");
  Touch(dir.path() / "Eve" / "Eve_0002.jpg");
  Touch(dir.path() / "Fay" / "Fay_0001.jpg");
  ScanOptions options;
  options.people = {"Eve"};
  options.exclude = {"Eve/Eve_0002.jpg"};
  const DatasetScan scan = ScanDataset(dir.path(), options);
  EXPECT_EQ(RelativePaths(scan), std::vector<std::string>{"Eve/Eve_0001.jpg"});
  EXPECT_EQ(scan.excluded, 1);
  EXPECT_EQ(scan.not_in_people, 1);
}

TEST(ScanDataset, MissingRootNotFound) {
  TempDir dir;
  try {
    ScanDataset(dir.path() / "missing");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kNotFound);
  }
}

TEST(PeopleFile, ReadsLfwFormat) {
  TempDir dir;
  Touch(dir.path() / "people.txt", "3\nAJ_Cook\t1\nAaron_Eckhart 1\nJos\xc3\xa9 Mart\xc3\xadnez\t4\n");
  const auto people = ReadPeopleFile(dir.path() / "people.txt");
  EXPECT_EQ(people, (std::set<std::string>{"AJ_Cook", "Aaron_Eckhart", "Jos\xc3\xa9 Mart\xc3\xadnez"}));
}

TEST(PeopleFile, BadLinesRejectedWithLineNumber) {
  TempDir dir;
  Touch(dir.path() / "bad.txt", "2\nAJ_Cook\t1\nno_count_here\n");
  try {
    ReadPeopleFile(dir.path() / "bad.txt");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kDecode);
    EXPECT_NE(std::string(error.what()).find("bad.txt:3"), std::string::npos) << error.what();
  }
  Touch(dir.path() / "short.txt", "5\nAJ_Cook\t1\n");
  EXPECT_THROW(ReadPeopleFile(dir.path() / "short.txt"), Error);
}

TEST(PeopleFile, SharedLfwFileParses) {
  FACESPACE_REQUIRE_TEST_DATA("lfw/peopleDevTest.txt");
  const auto people = ReadPeopleFile(testing::TestDataDir() / "lfw/peopleDevTest.txt");
  EXPECT_GT(people.size(), 1000u);
}

TEST(Holdout, OneImageOfEveryMultiImageIdentity) {
  TempDir dir;
  Touch(dir.path() / "Gus" / "Gus_0001.jpg");
  Touch(dir.path() / "Hal" / "Hal_0001.jpg");
  Touch(dir.path() / "Hal" / "Hal_0002.jpg");
  Touch(dir.path() / "Hal" / "Hal_0003.jpg");
  Touch(dir.path() / "Ida" / "Ida_0001.jpg");
  Touch(dir.path() / "Ida" / "Ida_0002.jpg");
  const DatasetScan scan = ScanDataset(dir.path());
  const auto chosen = ChooseHoldout(scan, 7);
  ASSERT_EQ(chosen.size(), 2u);
  EXPECT_EQ(chosen[0].rfind("Hal/", 0), 0u);
  EXPECT_EQ(chosen[1].rfind("Ida/", 0), 0u);
  EXPECT_EQ(ChooseHoldout(scan, 7), chosen);

  WriteHoldoutFile(dir.path() / "holdout.txt", chosen);
  const auto read = ReadHoldoutFile(dir.path() / "holdout.txt");
  EXPECT_EQ(std::vector<std::string>(read.begin(), read.end()), chosen);

  ScanOptions options;
  options.exclude = read;
  EXPECT_EQ(ScanDataset(dir.path(), options).files.size(), 4u);
}

TEST(Holdout, FileWithoutHeaderRejected) {
  TempDir dir;
  Touch(dir.path() / "list.txt", "Hal/Hal_0001.jpg\n");
  try {
    ReadHoldoutFile(dir.path() / "list.txt");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::kCorrupt);
  }
}

}  // namespace
}  // namespace facespace
