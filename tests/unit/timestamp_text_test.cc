#include "coordinator/core/timestamp_text.h"

#include <gtest/gtest.h>

namespace skald::core {
namespace {

TEST(CheckTimestampText, AcceptsDatesAndRfc3339Times) {
  for (const char* text : {"2026-11-26", "2026-11-26T10:00:00Z", "2026-11-26T10:00:00.123+01:00",
                           "2026-11-26 10:00", "2024-02-29", "2000-02-29T23:59:59-05",
                           "2026-12-31T00:00:00.123456z", "2026-12-07 06:01:02.123456+00"}) {
    EXPECT_TRUE(CheckTimestampText(text).ok()) << text << ": " << CheckTimestampText(text);
  }
}

// Issue 13: created_after=2026-02-30 passed the API's pattern and reached PostgreSQL, which
// refused it: INTERNAL with its text.
TEST(CheckTimestampText, RefusesDaysThatDoNotExistSayingWhy) {
  EXPECT_EQ(CheckTimestampText("2026-02-30").message(), "2026-02-30: February 2026 has 28 days");
  EXPECT_EQ(CheckTimestampText("2026-02-29").message(), "2026-02-29: February 2026 has 28 days");
  EXPECT_EQ(CheckTimestampText("1900-02-29").message(), "1900-02-29: February 1900 has 28 days");
  EXPECT_EQ(CheckTimestampText("2026-04-31T00:00:00Z").message(),
            "2026-04-31T00:00:00Z: April 2026 has 30 days");
  EXPECT_FALSE(CheckTimestampText("2026-13-01").ok());
  EXPECT_FALSE(CheckTimestampText("2026-00-01").ok());
  EXPECT_FALSE(CheckTimestampText("0000-01-01").ok());
  EXPECT_FALSE(CheckTimestampText("2026-01-01T24:00:00Z").ok());
  EXPECT_FALSE(CheckTimestampText("2026-01-01T10:60Z").ok());
  EXPECT_FALSE(CheckTimestampText("2026-01-01T10:00:00+16:00").ok());
}

TEST(CheckTimestampText, RefusesWhatIsNoTimestamp) {
  for (const char* text :
       {"", "yesterday", "2026-1-01", "2026-01-01T", "2026-01-01T10", "2026-01-01T10:00:00.Z",
        "2026-01-01T10:00:00.1234567Z", "2026-01-01T10:00:00ZZ", "2026-01-01x"}) {
    absl::Status status = CheckTimestampText(text);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << text;
  }
  EXPECT_EQ(CheckTimestampText("soon").message(),
            "expected an RFC 3339 time like 2026-11-26T10:00:00Z (or a date), got \"soon\"");
  EXPECT_FALSE(CheckTimestampText(std::string(100, '1')).ok());
  EXPECT_FALSE(CheckTimestampText(std::string("2026-01-01\0", 11)).ok());
}

TEST(Rfc3339Millis, WritesUtcWithMillisecondsAndReadsBackAsValid) {
  const TimePoint time = TimePoint(std::chrono::milliseconds(1'796'601'437'123));
  EXPECT_EQ(Rfc3339Millis(time), "2026-12-06T23:57:17.123Z");
  EXPECT_EQ(Rfc3339Millis(TimePoint(std::chrono::milliseconds(5))), "1970-01-01T00:00:00.005Z");
  EXPECT_TRUE(CheckTimestampText(Rfc3339Millis(time)).ok());
}

}  // namespace
}  // namespace skald::core
