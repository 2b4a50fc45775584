#include "coordinator/core/trace_context.h"

#include <gtest/gtest.h>

namespace skald::core {
namespace {

constexpr const char* kGiven = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

std::string TraceId(const std::string& traceparent) { return traceparent.substr(3, 32); }
std::string SpanId(const std::string& traceparent) { return traceparent.substr(36, 16); }

TEST(ParseTraceParent, ReadsTheW3CFormat) {
  auto fields = ParseTraceParent(kGiven);
  ASSERT_TRUE(fields.ok()) << fields.status();
  EXPECT_EQ(fields->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(fields->span_id, "00f067aa0ba902b7");
  EXPECT_EQ(fields->flags, "01");
  EXPECT_TRUE(ParseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").ok());
}

struct BadTraceParent {
  std::string text;
  std::string problem;
};

class RejectsTraceParent : public ::testing::TestWithParam<BadTraceParent> {};

TEST_P(RejectsTraceParent, SayingWhatIsWrong) {
  auto fields = ParseTraceParent(GetParam().text);
  ASSERT_FALSE(fields.ok()) << GetParam().text;
  EXPECT_EQ(fields.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(fields.status().message()),
            GetParam().problem +
                " (expected \"00-<32 hex trace id>-<16 hex span id>-<2 hex flags>\", lowercase)");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RejectsTraceParent,
    ::testing::Values(BadTraceParent{"", "must be 55 characters, got 0"},
                      BadTraceParent{
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                          "must be 55 characters, got 61"},
                      BadTraceParent{"00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
                                     "fields must be separated by '-'"},
                      BadTraceParent{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                     "unsupported version \"01\""},
                      BadTraceParent{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                                     "ids and flags must be lowercase hex digits"},
                      BadTraceParent{"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
                                     "ids and flags must be lowercase hex digits"},
                      BadTraceParent{"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                                     "trace id must not be all zero"},
                      BadTraceParent{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                                     "span id must not be all zero"}));

TEST(NewTraceParent, IsValidAndMadeOfTheRandomBits) {
  const std::string made = NewTraceParent({0x0123456789abcdefull, 0xfedcba9876543210ull, 42});
  EXPECT_EQ(made, "00-0123456789abcdeffedcba9876543210-000000000000002a-01");
  EXPECT_TRUE(ParseTraceParent(made).ok());
  // All-zero draws still give valid ids.
  const std::string zeros = NewTraceParent({0, 0, 0});
  EXPECT_TRUE(ParseTraceParent(zeros).ok()) << zeros;
}

TEST(TraceParent, AttemptsContinueTheSagasTraceWithTheirOwnSpans) {
  const std::string first = TraceParent(kGiven, "saga-1", "charge", Phase::kAction, 1);
  ASSERT_TRUE(ParseTraceParent(first).ok()) << first;
  EXPECT_EQ(TraceId(first), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(first.substr(53), "01") << "the caller's flags are kept";
  EXPECT_NE(SpanId(first), "00f067aa0ba902b7") << "each attempt is a span of its own";
  const std::string retry = TraceParent(kGiven, "saga-1", "charge", Phase::kAction, 2);
  const std::string compensation = TraceParent(kGiven, "saga-1", "charge", Phase::kCompensation, 1);
  EXPECT_EQ(TraceId(retry), TraceId(first));
  EXPECT_EQ(TraceId(compensation), TraceId(first));
  EXPECT_NE(SpanId(retry), SpanId(first));
  EXPECT_NE(SpanId(compensation), SpanId(first));
  // A resend (after a restart, on another coordinator) is the same span.
  EXPECT_EQ(TraceParent(kGiven, "saga-1", "charge", Phase::kAction, 1), first);
  // Unsampled stays unsampled.
  const std::string unsampled =
      TraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "saga-1", "charge",
                  Phase::kAction, 1);
  EXPECT_EQ(unsampled.substr(53), "00");
}

TEST(TraceParent, SagasStoredWithoutOneKeepTheirDerivedTrace) {
  // What coordinators sent before traceparents were stored: a trace id derived from the id.
  const std::string derived = TraceParent("saga-1", "charge", Phase::kAction, 1);
  EXPECT_EQ(TraceParent("", "saga-1", "charge", Phase::kAction, 1), derived);
  EXPECT_EQ(TraceParent("garbage", "saga-1", "charge", Phase::kAction, 1), derived);
  EXPECT_NE(TraceId(derived), TraceId(TraceParent("", "saga-2", "charge", Phase::kAction, 1)));
  // The span id does not depend on where the trace id came from.
  EXPECT_EQ(SpanId(TraceParent(kGiven, "saga-1", "charge", Phase::kAction, 1)), SpanId(derived));
}

TEST(SagaTraceParent, IsTheStoredOneOrTheDerivedTrace) {
  EXPECT_EQ(SagaTraceParent(kGiven, "saga-1"), kGiven);
  const std::string legacy = SagaTraceParent("", "saga-1");
  ASSERT_TRUE(ParseTraceParent(legacy).ok()) << legacy;
  EXPECT_EQ(TraceId(legacy), TraceId(TraceParent("", "saga-1", "charge", Phase::kAction, 1)));
}

}  // namespace
}  // namespace skald::core
