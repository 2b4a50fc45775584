#include "coordinator/core/duration.h"

#include <gtest/gtest.h>

namespace skald::core {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, ReadsEachUnit) {
  EXPECT_EQ(*ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(*ParseDuration("30s"), milliseconds(30'000));
  EXPECT_EQ(*ParseDuration("5m"), milliseconds(300'000));
  EXPECT_EQ(*ParseDuration("2h"), milliseconds(7'200'000));
  EXPECT_EQ(*ParseDuration("0s"), milliseconds(0));
}

TEST(ParseDuration, RejectsMalformedText) {
  for (const char* text : {"", "ms", "10", "1.5s", "-1s", "10 s", "s10", "10sec", "1d", " 1s",
                           "99999999999999999999ms"}) {
    auto parsed = ParseDuration(text);
    EXPECT_FALSE(parsed.ok()) << text;
    if (!parsed.ok()) {
      EXPECT_NE(parsed.status().message().find(text), absl::string_view::npos)
          << "the error names the text: " << parsed.status().message();
    }
  }
}

TEST(ParseDuration, RejectsMoreThanThirtyDays) {
  EXPECT_TRUE(ParseDuration("720h").ok());
  EXPECT_FALSE(ParseDuration("721h").ok());
}

TEST(FormatDuration, RoundTripsThroughParse) {
  for (long long ms : {0LL, 1LL, 999LL, 1000LL, 1500LL, 60'000LL, 90'000LL, 3'600'000LL}) {
    const std::string text = FormatDuration(milliseconds(ms));
    EXPECT_EQ(*ParseDuration(text), milliseconds(ms)) << text;
  }
  EXPECT_EQ(FormatDuration(milliseconds(60'000)), "1m");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1500ms");
}

}  // namespace
}  // namespace skald::core
