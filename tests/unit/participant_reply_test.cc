// The participant-reply boundary (coordinator/core/participant_reply.h): every field of a
// reply that PostgreSQL could refuse, or that is too large, is either refused as a
// retryable error of the attempt naming the participant and the field, or made storable.
#include "coordinator/core/participant_reply.h"

#include <gtest/gtest.h>

#include "coordinator/core/storable_text.h"

namespace skald::core {
namespace {

using nlohmann::json;
using namespace std::string_literals;

constexpr std::string_view kAddress = "10.0.0.7:7803";

ParticipantReply Reply(int outcome, std::string_view output = "", std::string_view code = "",
                       std::string_view message = "") {
  return {absl::StatusCode::kOk, "", outcome, output, code, message};
}

// What every result must be, whatever the reply: storable and bounded.
void ExpectStorable(const CallResult& r) {
  EXPECT_TRUE(CheckStorableText(r.error, "error").ok()) << r.error;
  EXPECT_TRUE(CheckStorableText(r.error_code, "code").ok()) << r.error_code;
  EXPECT_TRUE(CheckStorableJson(r.output, "output").ok());
  EXPECT_LE(r.error.size(), kMaxReplyErrorBytes);
}

// Expects a malformed reply: a retryable error naming the participant and `field`.
void ExpectMalformed(const CallResult& r, const std::string& field) {
  ExpectStorable(r);
  EXPECT_EQ(r.outcome, AttemptOutcome::kRetryableError);
  EXPECT_TRUE(r.output.is_null());
  EXPECT_TRUE(r.error_code.empty());
  EXPECT_NE(r.error.find("participant 10.0.0.7:7803"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find(field), std::string::npos) << r.error;
}

TEST(ClassifyParticipantReply, ASuccessCarriesItsOutputObject) {
  CallResult r = ClassifyParticipantReply(kAddress, Reply(kWireOutcomeSuccess, R"({"id":"c-1"})"));
  EXPECT_EQ(r.outcome, AttemptOutcome::kSuccess);
  EXPECT_EQ(r.output, (json{{"id", "c-1"}}));
  EXPECT_EQ(ClassifyParticipantReply(kAddress, Reply(kWireOutcomeSuccess)).output, json::object());
}

TEST(ClassifyParticipantReply, AnOutputWithANulCharacterIsRefusedNamingWhere) {
  ExpectMalformed(
      ClassifyParticipantReply(kAddress, Reply(kWireOutcomeSuccess, R"({"a":{"b":"x\u0000y"}})")),
      "output at /a/b");
  ExpectMalformed(
      ClassifyParticipantReply(kAddress, Reply(kWireOutcomeSuccess, R"({"k\u0000":1})")),
      "(the key)");
  ExpectMalformed(
      ClassifyParticipantReply(kAddress, Reply(kWireOutcomeSuccess, R"({"l":["ok","\u0000"]})")),
      "output at /l/1");
}

TEST(ClassifyParticipantReply, AnOutputThatIsNotStorableJsonIsRefused) {
  // Raw NUL and invalid UTF-8 are not JSON at all; a lone surrogate neither.
  for (const std::string& output : {"{\"a\":\"\0\"}"s, "{\"a\":\"\xC3\x28\"}"s,
                                    R"({"a":"\ud800"})"s, "[1]"s, "42"s, "{broken"s, "\"text\""s}) {
    ExpectMalformed(ClassifyParticipantReply(kAddress, Reply(kWireOutcomeSuccess, output)),
                    "not a JSON object");
  }
}

TEST(ClassifyParticipantReply, AnOutputNestedTooDeepIsRefused) {
  const std::string deep = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
  ExpectMalformed(ClassifyParticipantReply(kAddress, Reply(kWireOutcomeSuccess, deep)),
                  "nested deeper");
}

TEST(ClassifyParticipantReply, AnOutputOverTheLimitIsRefusedBeforeItIsParsed) {
  ReplyLimits limits;
  limits.max_output_bytes = 100;
  // Not JSON: refused for its size, which is checked first.
  const std::string big = "{" + std::string(200, '[');
  CallResult r = ClassifyParticipantReply(kAddress, Reply(kWireOutcomeSuccess, big), limits);
  ExpectMalformed(r, "over the limit of 100 (--max-output-bytes)");
  EXPECT_TRUE(r.output_too_large);
  // Three MB, at the default limit.
  r = ClassifyParticipantReply(
      kAddress, Reply(kWireOutcomeSuccess, R"({"a":")" + std::string(3 << 20, 'x') + R"("})"));
  ExpectMalformed(r, "over the limit of 1048576");
  EXPECT_LT(r.error.size(), 500u);
}

TEST(ClassifyParticipantReply, TheLimitHoldsForTheOutputAsStored) {
  ReplyLimits limits;
  limits.max_output_bytes = 60;
  // 37 bytes as sent, 115 as stored: 1e14 prints as 100000000000000.0.
  const std::string output = R"({"n":[1e14,1e14,1e14,1e14,1e14,1e14]})";
  ASSERT_LE(output.size(), 60u);
  CallResult r = ClassifyParticipantReply(kAddress, Reply(kWireOutcomeSuccess, output), limits);
  ExpectMalformed(r, "once stored");
  EXPECT_TRUE(r.output_too_large);
}

TEST(ClassifyParticipantReply, AnErrorCodeThatCannotBeStoredMakesTheReplyMalformed) {
  for (int outcome : {kWireOutcomeBusinessFailure, kWireOutcomeRetryableError}) {
    ExpectMalformed(ClassifyParticipantReply(kAddress, Reply(outcome, "", "card\0declined"s, "m")),
                    "error code: a NUL character");
    ExpectMalformed(ClassifyParticipantReply(kAddress, Reply(outcome, "", "card\xFF", "m")),
                    "error code: invalid UTF-8");
    ExpectMalformed(ClassifyParticipantReply(kAddress, Reply(outcome, "", std::string(129, 'c'))),
                    "error code of 129 bytes, over the limit of 128");
  }
  // At the limit it is kept.
  CallResult r = ClassifyParticipantReply(
      kAddress, Reply(kWireOutcomeBusinessFailure, "", std::string(128, 'c'), "no"));
  EXPECT_EQ(r.outcome, AttemptOutcome::kFailure);
  EXPECT_EQ(r.error_code, std::string(128, 'c'));
}

TEST(ClassifyParticipantReply, AnErrorMessageIsMadeStorableAndCutButKeepsTheOutcome) {
  CallResult r = ClassifyParticipantReply(
      kAddress, Reply(kWireOutcomeBusinessFailure, "", "declined", "over\0limit \xC3\x28"s));
  ExpectStorable(r);
  EXPECT_EQ(r.outcome, AttemptOutcome::kFailure);
  EXPECT_EQ(r.error_code, "declined");
  EXPECT_EQ(r.error, "declined: over\xEF\xBF\xBDlimit \xEF\xBF\xBD(");

  const std::string huge(3 << 20, 'm');
  r = ClassifyParticipantReply(kAddress, Reply(kWireOutcomeRetryableError, "", "busy", huge));
  ExpectStorable(r);
  EXPECT_EQ(r.outcome, AttemptOutcome::kRetryableError);
  EXPECT_LE(r.error.size(), 4096u + 64u);
  EXPECT_NE(r.error.find("bytes cut)"), std::string::npos);
}

TEST(ClassifyParticipantReply, ErrorsKeepTheirCodeAndMessage) {
  CallResult r = ClassifyParticipantReply(
      kAddress, Reply(kWireOutcomeBusinessFailure, "", "card_declined", "amount over limit"));
  EXPECT_EQ(r.outcome, AttemptOutcome::kFailure);
  EXPECT_EQ(r.error, "card_declined: amount over limit");
  r = ClassifyParticipantReply(kAddress, Reply(kWireOutcomeRetryableError, "", "", "db busy"));
  EXPECT_EQ(r.outcome, AttemptOutcome::kRetryableError);
  EXPECT_EQ(r.error, "db busy");
  EXPECT_EQ(ClassifyParticipantReply(kAddress, Reply(kWireOutcomeRetryableError, "", "x")).error,
            "x");
}

TEST(ClassifyParticipantReply, MissingAndUnknownOutcomesAreRetryable) {
  ExpectMalformed(ClassifyParticipantReply(kAddress, Reply(kWireOutcomeUnspecified)),
                  "without an outcome");
  for (int outcome : {5, 42, -1, 1 << 30}) {
    ExpectMalformed(ClassifyParticipantReply(kAddress, Reply(outcome, R"({"a":1})")),
                    "outcome this coordinator does not know (" + std::to_string(outcome) + ")");
  }
}

// OUTCOME_ACCEPTED (4, issue 17): the participant completes the attempt later; whatever
// output it sent is ignored.
TEST(ClassifyParticipantReply, AnAcceptanceIsAcceptedAndItsOutputIgnored) {
  CallResult r = ClassifyParticipantReply(kAddress, Reply(kWireOutcomeAccepted, "{not json"));
  EXPECT_EQ(r.outcome, AttemptOutcome::kAccepted);
  EXPECT_TRUE(r.output.is_null() || r.output.empty());
  EXPECT_TRUE(r.error.empty());
}

TEST(ClassifyParticipantReply, TransportFailuresNameTheParticipantAndAreStorable) {
  for (absl::StatusCode code :
       {absl::StatusCode::kUnavailable, absl::StatusCode::kDeadlineExceeded,
        absl::StatusCode::kResourceExhausted, absl::StatusCode::kInternal,
        absl::StatusCode::kUnknown, absl::StatusCode::kCancelled, absl::StatusCode::kAborted}) {
    CallResult r = ClassifyParticipantReply(kAddress, {code, "boom\0\xFF"s});
    ExpectStorable(r);
    EXPECT_EQ(r.outcome, AttemptOutcome::kRetryableError);
    EXPECT_NE(r.error.find("participant 10.0.0.7:7803"), std::string::npos);
    EXPECT_NE(r.error.find("boom\xEF\xBF\xBD\xEF\xBF\xBD"), std::string::npos) << r.error;
    EXPECT_EQ(r.unreachable, code == absl::StatusCode::kUnavailable);
    EXPECT_EQ(r.timed_out, code == absl::StatusCode::kDeadlineExceeded);
  }
  for (absl::StatusCode code : {absl::StatusCode::kUnimplemented,
                                absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound}) {
    EXPECT_EQ(ClassifyParticipantReply(kAddress, {code, "no"}).outcome, AttemptOutcome::kFailure);
  }
  const std::string huge(3 << 20, 'g');
  CallResult r = ClassifyParticipantReply(kAddress, {absl::StatusCode::kInternal, huge});
  ExpectStorable(r);
  EXPECT_LE(r.error.size(), 4096u + 128u);
}

TEST(ClassifyParticipantReply, AnAddressThatCannotBeStoredIsMadeStorable) {
  CallResult r = ClassifyParticipantReply("host\0:1"s + std::string(1000, 'h'),
                                          Reply(kWireOutcomeUnspecified));
  ExpectStorable(r);
  EXPECT_LT(r.error.size(), 400u);
}

TEST(ClassifyParticipantReply, EveryErrorIsBoundedWhateverTheLimits) {
  ReplyLimits limits;
  limits.max_error_message_bytes = 1 << 20;
  CallResult r = ClassifyParticipantReply(
      kAddress, Reply(kWireOutcomeRetryableError, "", "c", std::string(1 << 20, 'm')), limits);
  ExpectStorable(r);
}

}  // namespace
}  // namespace skald::core
