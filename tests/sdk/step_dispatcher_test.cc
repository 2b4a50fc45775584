// StepDispatcher (participant-sdk/src) without a server: what reaches a handler and what is
// refused before it, with deadlines chosen exactly (a real gRPC client cannot send a call
// whose deadline has already passed: it fails the call itself).

#include "step_dispatcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

namespace skald {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Clock = std::chrono::system_clock;

constexpr char kCallTraceparent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr char kOtherTraceparent[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

class StepDispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (Phase phase : {Phase::kAction, Phase::kCompensation}) {
      dispatcher_.Register(phase, "record",
                           [this](const StepContext& context, const nlohmann::json&) {
                             ++calls_;
                             seen_ = context;
                             return StepResult::Success();
                           });
    }
  }

  static v1::StepCall MakeCall() {
    v1::StepCall call;
    call.set_saga_id("saga-1");
    call.set_step("reserve");
    call.set_handler("record");
    call.set_attempt(1);
    return call;
  }

  StepDispatcher dispatcher_;
  int calls_ = 0;
  std::optional<StepContext> seen_;
};

TEST_F(StepDispatcherTest, CallWhoseDeadlinePassedIsRefusedWithoutCallingTheHandler) {
  for (Phase phase : {Phase::kAction, Phase::kCompensation}) {
    v1::StepReply reply;
    const grpc::Status status = dispatcher_.Dispatch(
        phase, MakeCall(), CallInfo{.deadline = Clock::now() - milliseconds(1)}, &reply);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_THAT(status.error_message(), HasSubstr("\"record\""));
    EXPECT_THAT(status.error_message(), HasSubstr(std::string(PhaseName(phase))));
    EXPECT_EQ(reply.outcome(), v1::OUTCOME_UNSPECIFIED);
  }
  EXPECT_EQ(calls_, 0);
}

TEST_F(StepDispatcherTest, CallWithTimeLeftReachesTheHandlerWithItsDeadline) {
  const Clock::time_point deadline = Clock::now() + seconds(30);
  v1::StepReply reply;
  ASSERT_TRUE(
      dispatcher_.Dispatch(Phase::kAction, MakeCall(), CallInfo{.deadline = deadline}, &reply)
          .ok());
  EXPECT_EQ(reply.outcome(), v1::OUTCOME_SUCCESS);
  EXPECT_EQ(calls_, 1);
  ASSERT_TRUE(seen_.has_value());
  EXPECT_EQ(seen_->deadline, deadline);
  EXPECT_FALSE(seen_->expired());
}

TEST_F(StepDispatcherTest, CallWithoutDeadlineReachesTheHandler) {
  v1::StepReply reply;
  ASSERT_TRUE(dispatcher_.Dispatch(Phase::kAction, MakeCall(), CallInfo{}, &reply).ok());
  EXPECT_EQ(calls_, 1);
  ASSERT_TRUE(seen_.has_value());
  EXPECT_EQ(seen_->remaining(), kNoDeadlineRemaining);
}

TEST_F(StepDispatcherTest, TraceparentFieldWinsOverMetadata) {
  v1::StepCall call = MakeCall();
  call.set_traceparent(kCallTraceparent);
  v1::StepReply reply;
  ASSERT_TRUE(dispatcher_
                  .Dispatch(Phase::kAction, call,
                            CallInfo{.traceparent_metadata = kOtherTraceparent}, &reply)
                  .ok());
  ASSERT_TRUE(seen_.has_value());
  EXPECT_EQ(seen_->traceparent, kCallTraceparent);
}

TEST_F(StepDispatcherTest, TraceparentFallsBackToMetadata) {
  v1::StepReply reply;
  ASSERT_TRUE(dispatcher_
                  .Dispatch(Phase::kCompensation, MakeCall(),
                            CallInfo{.traceparent_metadata = kOtherTraceparent}, &reply)
                  .ok());
  ASSERT_TRUE(seen_.has_value());
  EXPECT_EQ(seen_->traceparent, kOtherTraceparent);

  ASSERT_TRUE(dispatcher_.Dispatch(Phase::kCompensation, MakeCall(), CallInfo{}, &reply).ok());
  EXPECT_EQ(seen_->traceparent, "");
}

TEST_F(StepDispatcherTest, CompletionTokenReachesTheHandler) {
  v1::StepCall call = MakeCall();
  call.set_completion_token("tok-attempt-1");
  v1::StepReply reply;
  ASSERT_TRUE(dispatcher_.Dispatch(Phase::kCompensation, call, CallInfo{}, &reply).ok());
  ASSERT_TRUE(seen_.has_value());
  EXPECT_EQ(seen_->completion_token, "tok-attempt-1");
}

TEST(StepDispatcherAcceptedTest, AcceptedIsRepliedAsOutcomeAccepted) {
  StepDispatcher dispatcher;
  dispatcher.Register(Phase::kAction, "approve", [](const StepContext&, const nlohmann::json&) {
    return StepResult::Accepted();
  });
  v1::StepCall call;
  call.set_saga_id("saga-1");
  call.set_step("approve");
  call.set_handler("approve");
  call.set_attempt(1);
  call.set_completion_token("tok");
  v1::StepReply reply;
  ASSERT_TRUE(dispatcher.Dispatch(Phase::kAction, call, CallInfo{}, &reply).ok());
  EXPECT_EQ(reply.outcome(), v1::OUTCOME_ACCEPTED);
  EXPECT_EQ(reply.error_code(), "");
  EXPECT_EQ(reply.output_json(), "");
}

TEST(StepDispatcherAcceptedTest, AcceptedWithoutATokenIsRetryable) {
  StepDispatcher dispatcher;
  dispatcher.Register(Phase::kAction, "approve", [](const StepContext&, const nlohmann::json&) {
    return StepResult::Accepted();
  });
  v1::StepCall call;
  call.set_saga_id("saga-1");
  call.set_step("approve");
  call.set_handler("approve");
  v1::StepReply reply;
  ASSERT_TRUE(dispatcher.Dispatch(Phase::kAction, call, CallInfo{}, &reply).ok());
  EXPECT_EQ(reply.outcome(), v1::OUTCOME_RETRYABLE_ERROR);
  EXPECT_EQ(reply.error_code(), "no_completion_token");
  EXPECT_THAT(reply.error_message(), HasSubstr("\"approve\""));
}

TEST(StepDispatcherNamesTest, NamesAreSortedPerPhase) {
  StepDispatcher dispatcher;
  const StepHandler handler = [](const StepContext&, const nlohmann::json&) {
    return StepResult::Success();
  };
  dispatcher.Register(Phase::kAction, "reserve", handler);
  dispatcher.Register(Phase::kAction, "check", handler);
  dispatcher.Register(Phase::kAction, "reserve", handler);  // Replaces, not a second name.
  dispatcher.Register(Phase::kCompensation, "release", handler);
  EXPECT_THAT(dispatcher.Names(Phase::kAction), ElementsAre("check", "reserve"));
  EXPECT_THAT(dispatcher.Names(Phase::kCompensation), ElementsAre("release"));
  EXPECT_THAT(StepDispatcher().Names(Phase::kAction), ElementsAre());
}

}  // namespace
}  // namespace skald
