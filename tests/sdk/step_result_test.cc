#include <gtest/gtest.h>

#include "skald/step.h"

namespace skald {
namespace {

TEST(StepResultTest, SuccessDefaultsToAnEmptyObject) {
  StepResult result = StepResult::Success();
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.outcome(), StepResult::Outcome::kSuccess);
  EXPECT_EQ(result.output(), nlohmann::json::object());
  EXPECT_EQ(result.ToString(), "success");
}

TEST(StepResultTest, RetryableKeepsMessageAndOptionalCode) {
  StepResult result = StepResult::Retryable("db down");
  EXPECT_TRUE(result.retryable());
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.error_message(), "db down");
  EXPECT_EQ(result.error_code(), "");
  EXPECT_EQ(StepResult::Retryable("slow", "timeout").error_code(), "timeout");
  EXPECT_EQ(result.ToString(), "retryable_error: db down");
}

TEST(StepResultTest, BusinessFailureKeepsCodeAndMessage) {
  StepResult result = StepResult::BusinessFailure("card_declined", "over the limit");
  EXPECT_EQ(result.outcome(), StepResult::Outcome::kBusinessFailure);
  EXPECT_EQ(result.error_code(), "card_declined");
  EXPECT_EQ(result.error_message(), "over the limit");
  EXPECT_EQ(result.ToString(), "business_failure card_declined: over the limit");
}

TEST(StepResultTest, BusinessFailureWithoutCodeGetsAGenericOne) {
  EXPECT_EQ(StepResult::BusinessFailure("", "no").error_code(), "business_failure");
}

TEST(StepResultTest, AcceptedIsNeitherSuccessNorAnError) {
  StepResult result = StepResult::Accepted();
  EXPECT_TRUE(result.accepted());
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.retryable());
  EXPECT_EQ(result.outcome(), StepResult::Outcome::kAccepted);
  EXPECT_EQ(result.output(), nlohmann::json::object());
  EXPECT_EQ(result.error_code(), "");
  EXPECT_EQ(result.ToString(), "accepted");
  EXPECT_FALSE(StepResult::Success().accepted());
}

TEST(PhaseNameTest, NamesBothPhases) {
  EXPECT_EQ(PhaseName(Phase::kAction), "action");
  EXPECT_EQ(PhaseName(Phase::kCompensation), "compensation");
}

}  // namespace
}  // namespace skald
