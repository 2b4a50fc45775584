#include "tests/support/temp_dir.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <utility>

#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace skald::testing {
namespace {

TEST(TempDirTest, IsRemovedWithItsContents) {
  if (KeepTestDirs()) GTEST_SKIP() << "SKALD_KEEP_TEST_DIRS is set";
  std::string path;
  {
    ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create("skald-tempdir-test-"));
    path = dir.path();
    EXPECT_TRUE(path.starts_with("/tmp/skald-tempdir-test-"));
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0755u);
    std::filesystem::create_directories(dir.File("a/b"));
    std::ofstream(dir.File("a/b/file")) << "x";
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(TempDirTest, MovingTransfersOwnership) {
  if (KeepTestDirs()) GTEST_SKIP() << "SKALD_KEEP_TEST_DIRS is set";
  ASSERT_OK_AND_ASSIGN(TempDir first, TempDir::Create());
  const std::string path = first.path();
  {
    TempDir second = std::move(first);
    EXPECT_EQ(second.path(), path);
    EXPECT_TRUE(std::filesystem::exists(path));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(TempDirTest, RejectsASlashInThePrefix) {
  EXPECT_EQ(TempDir::Create("a/b").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace skald::testing
