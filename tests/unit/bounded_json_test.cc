#include "coordinator/core/bounded_json.h"

#include <gtest/gtest.h>

#include <string>

namespace skald::core {
namespace {

std::string Nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(BoundedJsonTest, ParsesValuesUpToTheDepth) {
  auto value = ParseBoundedJson(R"({"a": [1, {"b": null}]})", 3);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ((*value)["a"][1]["b"], nullptr);
  EXPECT_TRUE(ParseBoundedJson(Nested(64), 64).ok());
}

TEST(BoundedJsonTest, RefusesDeeperValuesWithoutRecursing) {
  auto value = ParseBoundedJson(Nested(65), 64);
  EXPECT_EQ(value.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(value.status().message(), "objects and arrays nested deeper than 64 levels");
  // Deep enough to overflow the stack if anything recursed into it.
  EXPECT_FALSE(ParseBoundedJson(Nested(200'000), 64).ok());
}

TEST(BoundedJsonTest, NamesTheByteOfASyntaxError) {
  auto value = ParseBoundedJson(R"({"a": })", 64);
  EXPECT_EQ(value.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(value.status().message(), "not valid JSON at byte 7");
}

TEST(BoundedJsonTest, ANumberTooLargeForAnyTypeIsRefusedNotThrown) {
  auto value = ParseBoundedJson(R"({"n": 127e001111111111111111111111})", 64);
  EXPECT_EQ(value.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(value.status().message().find("number overflow"), absl::string_view::npos)
      << value.status();
}

}  // namespace
}  // namespace skald::core
