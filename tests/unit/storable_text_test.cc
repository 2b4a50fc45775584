#include "coordinator/core/storable_text.h"

#include <gtest/gtest.h>

#include <string>

namespace skald::core {
namespace {

using namespace std::string_literals;

TEST(StorableTextTest, AcceptsPlainAndMultibyteText) {
  EXPECT_TRUE(CheckStorableText("", "reason").ok());
  EXPECT_TRUE(CheckStorableText("plain ascii", "reason").ok());
  EXPECT_TRUE(CheckStorableText("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "reason").ok());
}

TEST(StorableTextTest, RefusesANulByteNamingWhereItIs) {
  absl::Status status = CheckStorableText("ab\0c"s, "reason");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("reason"), std::string_view::npos) << status;
  EXPECT_NE(status.message().find("NUL"), std::string_view::npos) << status;
  EXPECT_NE(status.message().find("byte 2"), std::string_view::npos) << status;
}

TEST(StorableTextTest, RefusesEveryKindOfInvalidUtf8) {
  for (const std::string& bad :
       {"\x80"s, "\xC0\xAF"s, "\xC3"s, "\xE0\x80\xAF"s, "\xED\xA0\x80"s, "\xF4\x90\x80\x80"s,
        "\xF8\x88\x80\x80\x80"s, "\xFF"s, "\xE2\x82"s, "\xC3\x28"s}) {
    absl::Status status = CheckStorableText("ok " + bad, "message");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << testing::PrintToString(bad);
    EXPECT_NE(status.message().find("invalid UTF-8 at byte 3"), std::string_view::npos) << status;
  }
}

TEST(StorableTextTest, JsonNamesThePointerOfTheFirstOffender) {
  nlohmann::json value = nlohmann::json::parse(R"({"items":[{"name":"ok"},{"name":"a\u0000b"}]})");
  absl::Status status = CheckStorableJson(value, "output");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("output at /items/1/name"), std::string_view::npos) << status;
}

TEST(StorableTextTest, JsonChecksKeysToo) {
  nlohmann::json value = nlohmann::json::parse(R"({"a/b":{"x\u0000":1}})");
  absl::Status status = CheckStorableJson(value, "input");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("input at /a~1b/x"), std::string_view::npos) << status;
  EXPECT_NE(status.message().find("(the key)"), std::string_view::npos) << status;
}

TEST(StorableTextTest, JsonWithoutStringsOrWithCleanOnesPasses) {
  EXPECT_TRUE(CheckStorableJson(nullptr, "input").ok());
  EXPECT_TRUE(
      CheckStorableJson(nlohmann::json::parse(R"({"a":[1,2.5,true,null,"\u00e9"]})"), "input")
          .ok());
}

TEST(StorableTextTest, StorableTextReplacesWhatCannotBeStored) {
  EXPECT_EQ(StorableText("a\0b\xFF"
                         "c"s,
                         100),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD"
            "c");
  EXPECT_TRUE(CheckStorableText(StorableText("\xC3\x28\0"s, 100), "x").ok());
}

TEST(StorableTextTest, StorableTextCutsAtACharacterBoundary) {
  const std::string euros = "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC";  // 9 bytes, 3 characters.
  const std::string cut = StorableText(euros, 7);
  EXPECT_EQ(cut, "\xE2\x82\xAC\xE2\x82\xAC... (3 bytes cut)");
  EXPECT_TRUE(CheckStorableText(cut, "x").ok());
  const std::string huge(3 << 20, 'x');
  EXPECT_LE(StorableText(huge, 4096).size(), 4096u + 32u);
  EXPECT_EQ(StorableText("short", 4096), "short");
}

}  // namespace
}  // namespace skald::core
