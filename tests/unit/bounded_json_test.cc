#include "coordinator/core/bounded_json.h"

#include <gtest/gtest.h>

#include <chrono>
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

// Returns `head` + copies of `item` separated by commas + `tail`, about `size` bytes.
std::string Repeated(std::string_view head, std::string_view item, std::string_view tail,
                     size_t size) {
  std::string text(head);
  while (text.size() + item.size() + tail.size() + 1 < size) {
    text += item;
    text += ',';
  }
  text += item;
  text += tail;
  return text;
}

double SecondsToParse(const std::string& text, bool* ok) {
  const auto started = std::chrono::steady_clock::now();
  *ok = ParseBoundedJson(text, 64).ok();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

// Issue 13: a 1 MiB {"a":[{},{},...]} took about a minute (nlohmann's callback parser scans
// the parent array each time an object ends). Linear now: well under a second; the bound
// is generous for a loaded machine and sanitizers, and far below the quadratic minute.
TEST(BoundedJsonTest, PathologicalShapesOfOneMebibyteParseInLinearTime) {
  const size_t size = 1 << 20;
  for (const std::string& text :
       {Repeated(R"({"a":[)", "{}", "]}", size), Repeated(R"({"a":[)", "[]", "]}", size),
        Repeated(R"({"a":{)", R"("k":{})", "}}", size),
        Repeated(R"({"a":[)", std::string(62, '[') + std::string(62, ']'), "]}", size),
        R"({"a":")" + std::string(size, 'x') + R"("})"}) {
    bool ok = false;
    const double seconds = SecondsToParse(text, &ok);
    EXPECT_TRUE(ok) << text.substr(0, 40);
    EXPECT_LT(seconds, 10.0) << text.substr(0, 40);
  }
}

TEST(BoundedJsonTest, ParseJsonWithinDepthStopsAtTheFirstContainerTooDeep) {
  nlohmann::json value = 1;
  EXPECT_FALSE(ParseJsonWithinDepth("[[[", 2, value));
  EXPECT_TRUE(value.is_null());
  EXPECT_TRUE(ParseJsonWithinDepth(R"([[1], {"a": [2]}])", 3, value));
  EXPECT_EQ(value.dump(), R"([[1],{"a":[2]}])");
  EXPECT_THROW(ParseJsonWithinDepth("[1,", 3, value), nlohmann::json::parse_error);
}

TEST(BoundedJsonTest, FindsATopLevelStringWithoutParsingTheValue) {
  EXPECT_EQ(
      FindTopLevelString(R"({"steps": [{"name": "inner"}], "name": "shop.order"})", "name", 64),
      "shop.order");
  // Parsing keeps the last of repeated keys: so does the scan.
  EXPECT_EQ(FindTopLevelString(R"({"name": "shop.a", "name": "billing.b"})", "name", 64),
            "billing.b");
  EXPECT_EQ(FindTopLevelString(R"({"name": "shop.a", "name": 5})", "name", 64), std::nullopt);
  EXPECT_EQ(FindTopLevelString(R"({"name": "shop.a", "name": {"x": 1}})", "name", 64),
            std::nullopt);
  EXPECT_EQ(FindTopLevelString(R"({"other": "x"})", "name", 64), std::nullopt);
  EXPECT_EQ(FindTopLevelString(R"(["name", "x"])", "name", 64), std::nullopt);
  EXPECT_EQ(FindTopLevelString(R"({"name": "x", )", "name", 64), std::nullopt);
  EXPECT_EQ(FindTopLevelString(R"({"a": [[[]]], "name": "x"})", "name", 3), std::nullopt);
  EXPECT_EQ(FindTopLevelString(R"({"a": [[]], "name": "x"})", "name", 3), "x");
  // 4 MiB of "[" is refused at once, without building anything.
  EXPECT_EQ(FindTopLevelString(std::string(4 << 20, '['), "name", 64), std::nullopt);
  EXPECT_EQ(FindTopLevelString(R"({"a":{"name":"inner"}})", "name", 64), std::nullopt);
}

}  // namespace
}  // namespace skald::core
