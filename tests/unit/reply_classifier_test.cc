#include <gtest/gtest.h>

#include "coordinator/engine/participant_client.h"

namespace skald::engine {
namespace {

using core::AttemptOutcome;

v1::StepReply Reply(v1::Outcome outcome, std::string output = "", std::string code = "",
                    std::string message = "") {
  v1::StepReply reply;
  reply.set_outcome(outcome);
  reply.set_output_json(output);
  reply.set_error_code(code);
  reply.set_error_message(message);
  return reply;
}

TEST(ClassifyReply, SuccessCarriesTheOutputObject) {
  CallResult r =
      ClassifyReply("p:1", grpc::Status::OK, Reply(v1::OUTCOME_SUCCESS, R"({"charge_id":"c-1"})"));
  EXPECT_EQ(r.outcome, AttemptOutcome::kSuccess);
  EXPECT_EQ(r.output, (nlohmann::json{{"charge_id", "c-1"}}));
  EXPECT_EQ(ClassifyReply("p:1", grpc::Status::OK, Reply(v1::OUTCOME_SUCCESS)).output,
            nlohmann::json::object());
}

TEST(ClassifyReply, ASuccessWithoutAnObjectIsRetried) {
  for (const char* output : {"[1]", "42", "{broken"}) {
    CallResult r = ClassifyReply("p:1", grpc::Status::OK, Reply(v1::OUTCOME_SUCCESS, output));
    EXPECT_EQ(r.outcome, AttemptOutcome::kRetryableError) << output;
    EXPECT_NE(r.error.find("not a JSON object"), std::string::npos);
  }
}

TEST(ClassifyReply, AnOutputOverTheLimitIsRetriedNamingTheLimit) {
  const std::string output = R"({"blob":")" + std::string(100, 'x') + R"("})";
  CallResult r = ClassifyReply("p:1", grpc::Status::OK, Reply(v1::OUTCOME_SUCCESS, output), 100);
  EXPECT_EQ(r.outcome, AttemptOutcome::kRetryableError);
  EXPECT_TRUE(r.output.is_null());
  EXPECT_NE(r.error.find("over the limit of 100 (--max-output-bytes)"), std::string::npos)
      << r.error;
  // At the limit it is accepted.
  EXPECT_EQ(
      ClassifyReply("p:1", grpc::Status::OK, Reply(v1::OUTCOME_SUCCESS, output), output.size())
          .outcome,
      AttemptOutcome::kSuccess);
}

TEST(ClassifyReply, BusinessFailureIsFinalWithItsCode) {
  CallResult r = ClassifyReply(
      "p:1", grpc::Status::OK,
      Reply(v1::OUTCOME_BUSINESS_FAILURE, "", "card_declined", "amount 5000 over limit"));
  EXPECT_EQ(r.outcome, AttemptOutcome::kFailure);
  EXPECT_EQ(r.error, "card_declined: amount 5000 over limit");
}

TEST(ClassifyReply, RetryableErrorIsRetried) {
  CallResult r =
      ClassifyReply("p:1", grpc::Status::OK, Reply(v1::OUTCOME_RETRYABLE_ERROR, "", "", "db busy"));
  EXPECT_EQ(r.outcome, AttemptOutcome::kRetryableError);
  EXPECT_EQ(r.error, "db busy");
  EXPECT_EQ(ClassifyReply("p:1", grpc::Status::OK, Reply(v1::OUTCOME_UNSPECIFIED)).outcome,
            AttemptOutcome::kRetryableError);
}

TEST(ClassifyReply, TransportErrorsAreRetriedAndNameTheParticipant) {
  for (grpc::StatusCode code : {grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED,
                                grpc::StatusCode::RESOURCE_EXHAUSTED, grpc::StatusCode::INTERNAL,
                                grpc::StatusCode::CANCELLED}) {
    CallResult r = ClassifyReply("10.0.0.1:7803", grpc::Status(code, "boom"), v1::StepReply());
    EXPECT_EQ(r.outcome, AttemptOutcome::kRetryableError) << code;
    EXPECT_NE(r.error.find("participant 10.0.0.1:7803"), std::string::npos);
    EXPECT_NE(r.error.find("boom"), std::string::npos);
  }
}

TEST(ClassifyReply, AnswersThatWillNotChangeAreFinal) {
  for (grpc::StatusCode code : {grpc::StatusCode::UNIMPLEMENTED, grpc::StatusCode::INVALID_ARGUMENT,
                                grpc::StatusCode::NOT_FOUND}) {
    EXPECT_EQ(ClassifyReply("p:1", grpc::Status(code, "no"), v1::StepReply()).outcome,
              AttemptOutcome::kFailure)
        << code;
  }
}

}  // namespace
}  // namespace skald::engine
