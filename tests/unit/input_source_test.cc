#include "coordinator/cli/input_source.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace skald::cli {
namespace {

TEST(ReadInputArgument, TakesTheArgumentItselfAFileOrStdin) {
  std::istringstream none;
  EXPECT_EQ(*ReadInputArgument(R"({"a": 1})", none), R"({"a": 1})");

  std::istringstream stdin_text(R"({"from": "stdin"})");
  EXPECT_EQ(*ReadInputArgument("-", stdin_text), R"({"from": "stdin"})");

  const std::string path = ::testing::TempDir() + "/input_source_test.json";
  const std::string big = R"({"blob": ")" + std::string(300'000, 'x') + R"("})";
  std::ofstream(path) << big;
  EXPECT_EQ(*ReadInputArgument("@" + path, none), big);
  std::remove(path.c_str());
  EXPECT_EQ(ReadInputArgument("@" + path, none).status().code(), absl::StatusCode::kNotFound);
}

// Refused once one byte over the limit is read: the rest is never read.
TEST(ReadInputArgument, RefusesInputOverTheLimitBeforeReadingItWhole) {
  std::istringstream endless(std::string(10'000, ' '));
  auto read = ReadInputArgument("-", endless, 1000);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(read.status().message().find("over 1000 bytes"), std::string::npos) << read.status();
  EXPECT_GT(endless.rdbuf()->in_avail(), 8000);
  std::istringstream exact(std::string(1000, ' '));
  EXPECT_TRUE(ReadInputArgument("-", exact, 1000).ok());
}

}  // namespace
}  // namespace skald::cli
