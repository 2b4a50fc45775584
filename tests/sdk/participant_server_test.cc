// Starts a real ParticipantServer on a loopback port and calls it through a real gRPC stub.

#include "skald/participant_server.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "skald/v1/participant.grpc.pb.h"

namespace skald {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using Clock = std::chrono::system_clock;

constexpr auto kCallTimeout = seconds(10);

// Counts events and lets a test wait, bounded, for a number of them.
class Latch {
 public:
  void Arrive() {
    std::lock_guard<std::mutex> lock(mu_);
    ++count_;
    cv_.notify_all();
  }
  // Returns true once `n` arrivals happened, false if `timeout` passed first.
  bool WaitFor(int n, milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return count_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

class ParticipantServerTest : public ::testing::Test {
 protected:
  void TearDown() override { server_.Shutdown(seconds(5)); }

  // Starts server_ with the handlers registered so far and connects stub_ to it.
  void StartServer() {
    absl::Status status = server_.Start("127.0.0.1:0");
    ASSERT_TRUE(status.ok()) << status;
    stub_ = v1::Participant::NewStub(
        grpc::CreateChannel(server_.address(), grpc::InsecureChannelCredentials()));
  }

  static v1::StepCall MakeCall(const std::string& handler, const std::string& input_json) {
    v1::StepCall call;
    call.set_saga_id("saga-1");
    call.set_step("charge-payment");
    call.set_handler(handler);
    call.set_attempt(1);
    call.set_idempotency_key("saga-1/charge-payment/action");
    call.set_input_json(input_json);
    return call;
  }

  grpc::Status Call(Phase phase, const v1::StepCall& call, v1::StepReply* reply,
                    Clock::time_point deadline = Clock::now() + kCallTimeout) {
    grpc::ClientContext context;
    context.set_deadline(deadline);
    return phase == Phase::kAction ? stub_->ExecuteAction(&context, call, reply)
                                   : stub_->ExecuteCompensation(&context, call, reply);
  }

  // Registers an action "record" that keeps its context and input, and succeeds.
  void RegisterRecorder(Phase phase) {
    StepHandler recorder = [this](const StepContext& context, const nlohmann::json& input) {
      std::lock_guard<std::mutex> lock(seen_mu_);
      seen_context_ = context;
      seen_input_ = input;
      return StepResult::Success();
    };
    if (phase == Phase::kAction) {
      server_.on_action("record", recorder);
    } else {
      server_.on_compensation("record", recorder);
    }
  }

  ParticipantServer server_;
  std::unique_ptr<v1::Participant::Stub> stub_;

  std::mutex seen_mu_;
  std::optional<StepContext> seen_context_;
  nlohmann::json seen_input_;
};

TEST_F(ParticipantServerTest, SuccessRepliesWithTheOutput) {
  server_.on_action("charge", [](const StepContext&, const nlohmann::json& input) {
    return StepResult::Success({{"charge_id", "c-1"}, {"amount", input.at("amount")}});
  });
  StartServer();

  v1::StepReply reply;
  grpc::Status status = Call(Phase::kAction, MakeCall("charge", R"({"amount": 12.5})"), &reply);

  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.outcome(), v1::OUTCOME_SUCCESS);
  EXPECT_EQ(nlohmann::json::parse(reply.output_json()),
            (nlohmann::json{{"charge_id", "c-1"}, {"amount", 12.5}}));
  EXPECT_EQ(reply.error_code(), "");
}

TEST_F(ParticipantServerTest, RetryableRepliesWithTheMessage) {
  server_.on_action("charge", [](const StepContext&, const nlohmann::json&) {
    return StepResult::Retryable("gateway timeout");
  });
  StartServer();

  v1::StepReply reply;
  ASSERT_TRUE(Call(Phase::kAction, MakeCall("charge", "{}"), &reply).ok());
  EXPECT_EQ(reply.outcome(), v1::OUTCOME_RETRYABLE_ERROR);
  EXPECT_EQ(reply.error_message(), "gateway timeout");
}

TEST_F(ParticipantServerTest, BusinessFailureRepliesWithCodeAndMessage) {
  server_.on_action("charge", [](const StepContext&, const nlohmann::json&) {
    return StepResult::BusinessFailure("card_declined", "amount over the limit");
  });
  StartServer();

  v1::StepReply reply;
  ASSERT_TRUE(Call(Phase::kAction, MakeCall("charge", "{}"), &reply).ok());
  EXPECT_EQ(reply.outcome(), v1::OUTCOME_BUSINESS_FAILURE);
  EXPECT_EQ(reply.error_code(), "card_declined");
  EXPECT_EQ(reply.error_message(), "amount over the limit");
}

TEST_F(ParticipantServerTest, ThrowingHandlerIsRetryableWithItsMessage) {
  server_.on_action("charge", [](const StepContext&, const nlohmann::json&) -> StepResult {
    throw std::runtime_error("connection reset by peer");
  });
  server_.on_compensation(
      "refund", [](const StepContext&, const nlohmann::json&) -> StepResult { throw 42; });
  StartServer();

  v1::StepReply reply;
  ASSERT_TRUE(Call(Phase::kAction, MakeCall("charge", "{}"), &reply).ok());
  EXPECT_EQ(reply.outcome(), v1::OUTCOME_RETRYABLE_ERROR);
  EXPECT_EQ(reply.error_code(), "handler_exception");
  EXPECT_THAT(reply.error_message(), HasSubstr("connection reset by peer"));
  EXPECT_THAT(reply.error_message(), HasSubstr("\"charge\""));

  v1::StepReply refund_reply;
  ASSERT_TRUE(Call(Phase::kCompensation, MakeCall("refund", "{}"), &refund_reply).ok());
  EXPECT_EQ(refund_reply.outcome(), v1::OUTCOME_RETRYABLE_ERROR);
  EXPECT_THAT(refund_reply.error_message(), HasSubstr("non-standard exception"));
}

TEST_F(ParticipantServerTest, AcceptedRepliesOutcomeAcceptedAndTheHandlerSawTheToken) {
  std::string token_seen;
  server_.on_compensation("refund", [&](const StepContext& context, const nlohmann::json&) {
    token_seen = context.completion_token;
    return StepResult::Accepted();
  });
  StartServer();

  v1::StepCall call = MakeCall("refund", "{}");
  call.set_phase(v1::PHASE_COMPENSATION);
  call.set_completion_token("opaque-token-1");
  v1::StepReply reply;
  grpc::Status status = Call(Phase::kCompensation, call, &reply);

  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.outcome(), v1::OUTCOME_ACCEPTED);
  EXPECT_EQ(token_seen, "opaque-token-1");
}

TEST_F(ParticipantServerTest, UnknownHandlerIsUnimplementedNamingHandlerAndPhase) {
  server_.on_action(
      "charge", [](const StepContext&, const nlohmann::json&) { return StepResult::Success(); });
  StartServer();

  v1::StepReply reply;
  grpc::Status status = Call(Phase::kAction, MakeCall("chrage", "{}"), &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(status.error_message(), HasSubstr("\"chrage\""));
  EXPECT_THAT(status.error_message(), HasSubstr("action"));

  // An action's name does not answer compensation calls.
  status = Call(Phase::kCompensation, MakeCall("charge", "{}"), &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(status.error_message(), HasSubstr("compensation handler named \"charge\""));
}

TEST_F(ParticipantServerTest, MalformedInputIsInvalidInputAndSkipsTheHandler) {
  std::atomic<int> calls{0};
  server_.on_action("charge", [&](const StepContext&, const nlohmann::json&) {
    ++calls;
    return StepResult::Success();
  });
  StartServer();

  v1::StepReply reply;
  ASSERT_TRUE(Call(Phase::kAction, MakeCall("charge", R"({"amount": )"), &reply).ok());
  EXPECT_EQ(reply.outcome(), v1::OUTCOME_BUSINESS_FAILURE);
  EXPECT_EQ(reply.error_code(), "invalid_input");
  EXPECT_THAT(reply.error_message(), HasSubstr("input_json is not valid JSON"));

  ASSERT_TRUE(Call(Phase::kAction, MakeCall("charge", "[1, 2]"), &reply).ok());
  EXPECT_EQ(reply.error_code(), "invalid_input");
  EXPECT_THAT(reply.error_message(), HasSubstr("must be a JSON object, got array"));

  EXPECT_EQ(calls.load(), 0);
}

TEST_F(ParticipantServerTest, MalformedActionOutputIsInvalidInput) {
  RegisterRecorder(Phase::kCompensation);
  StartServer();

  v1::StepCall call = MakeCall("record", "{}");
  call.set_action_output_json("{not json");
  v1::StepReply reply;
  ASSERT_TRUE(Call(Phase::kCompensation, call, &reply).ok());
  EXPECT_EQ(reply.outcome(), v1::OUTCOME_BUSINESS_FAILURE);
  EXPECT_EQ(reply.error_code(), "invalid_input");
  EXPECT_THAT(reply.error_message(), HasSubstr("action_output_json"));
}

TEST_F(ParticipantServerTest, EmptyInputIsAnEmptyObject) {
  RegisterRecorder(Phase::kAction);
  StartServer();

  v1::StepReply reply;
  ASSERT_TRUE(Call(Phase::kAction, MakeCall("record", ""), &reply).ok());
  EXPECT_EQ(reply.outcome(), v1::OUTCOME_SUCCESS);
  std::lock_guard<std::mutex> lock(seen_mu_);
  EXPECT_EQ(seen_input_, nlohmann::json::object());
}

TEST_F(ParticipantServerTest, NonObjectSuccessOutputIsRetryable) {
  server_.on_action("charge", [](const StepContext&, const nlohmann::json&) {
    return StepResult::Success(nlohmann::json::array({1, 2}));
  });
  StartServer();

  v1::StepReply reply;
  ASSERT_TRUE(Call(Phase::kAction, MakeCall("charge", "{}"), &reply).ok());
  EXPECT_EQ(reply.outcome(), v1::OUTCOME_RETRYABLE_ERROR);
  EXPECT_EQ(reply.error_code(), "invalid_output");
  EXPECT_THAT(reply.error_message(), HasSubstr("array"));
}

TEST_F(ParticipantServerTest, ActionSeesTheCallsContextAndInput) {
  RegisterRecorder(Phase::kAction);
  StartServer();

  v1::StepCall call = MakeCall("record", R"({"order_id": "o-7", "quantity": 3})");
  call.set_phase(v1::PHASE_ACTION);
  call.set_attempt(4);
  // Sent on an action, it must not reach the handler.
  call.set_action_output_json(R"({"ignored": true})");
  const Clock::time_point deadline = Clock::now() + seconds(7);
  v1::StepReply reply;
  ASSERT_TRUE(Call(Phase::kAction, call, &reply, deadline).ok());
  ASSERT_EQ(reply.outcome(), v1::OUTCOME_SUCCESS);

  std::lock_guard<std::mutex> lock(seen_mu_);
  ASSERT_TRUE(seen_context_.has_value());
  const StepContext& seen = *seen_context_;
  EXPECT_EQ(seen.saga_id, "saga-1");
  EXPECT_EQ(seen.step, "charge-payment");
  EXPECT_EQ(seen.phase, Phase::kAction);
  EXPECT_EQ(seen.handler, "record");
  EXPECT_EQ(seen.attempt, 4);
  EXPECT_EQ(seen.idempotency_key, "saga-1/charge-payment/action");
  EXPECT_TRUE(seen.action_output.is_null());
  EXPECT_LT(std::chrono::abs(seen.deadline - deadline), seconds(1));
  EXPECT_EQ(seen_input_, (nlohmann::json{{"order_id", "o-7"}, {"quantity", 3}}));
}

TEST_F(ParticipantServerTest, CompensationSeesTheActionOutput) {
  RegisterRecorder(Phase::kCompensation);
  StartServer();

  v1::StepCall call = MakeCall("record", "{}");
  call.set_phase(v1::PHASE_COMPENSATION);
  call.set_idempotency_key("saga-1/charge-payment/compensation");
  call.set_action_output_json(R"({"charge_id": "c-9"})");
  v1::StepReply reply;
  ASSERT_TRUE(Call(Phase::kCompensation, call, &reply).ok());
  ASSERT_EQ(reply.outcome(), v1::OUTCOME_SUCCESS);
  {
    std::lock_guard<std::mutex> lock(seen_mu_);
    ASSERT_TRUE(seen_context_.has_value());
    EXPECT_EQ(seen_context_->phase, Phase::kCompensation);
    EXPECT_EQ(seen_context_->idempotency_key, "saga-1/charge-payment/compensation");
    EXPECT_EQ(seen_context_->action_output, (nlohmann::json{{"charge_id", "c-9"}}));
  }

  // The action never reported success: no action output.
  call.clear_action_output_json();
  ASSERT_TRUE(Call(Phase::kCompensation, call, &reply).ok());
  std::lock_guard<std::mutex> lock(seen_mu_);
  EXPECT_TRUE(seen_context_->action_output.is_null());
}

TEST_F(ParticipantServerTest, CallWithoutDeadlineHasAnInfiniteOne) {
  RegisterRecorder(Phase::kAction);
  StartServer();

  grpc::ClientContext context;  // No deadline, on purpose; the handler returns at once.
  v1::StepReply reply;
  ASSERT_TRUE(stub_->ExecuteAction(&context, MakeCall("record", "{}"), &reply).ok());
  std::lock_guard<std::mutex> lock(seen_mu_);
  ASSERT_TRUE(seen_context_.has_value());
  EXPECT_EQ(seen_context_->deadline, Clock::time_point::max());
}

constexpr char kWireTraceparent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr char kMetadataTraceparent[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

TEST_F(ParticipantServerTest, TraceparentFieldReachesTheHandler) {
  RegisterRecorder(Phase::kAction);
  StartServer();

  v1::StepCall call = MakeCall("record", "{}");
  call.set_traceparent(kWireTraceparent);
  v1::StepReply reply;
  ASSERT_TRUE(Call(Phase::kAction, call, &reply).ok());
  std::lock_guard<std::mutex> lock(seen_mu_);
  ASSERT_TRUE(seen_context_.has_value());
  EXPECT_EQ(seen_context_->traceparent, kWireTraceparent);
}

TEST_F(ParticipantServerTest, TraceparentMetadataReachesTheHandlerWhenTheFieldIsEmpty) {
  RegisterRecorder(Phase::kCompensation);
  StartServer();

  grpc::ClientContext context;
  context.set_deadline(Clock::now() + kCallTimeout);
  context.AddMetadata("traceparent", kMetadataTraceparent);
  v1::StepReply reply;
  ASSERT_TRUE(stub_->ExecuteCompensation(&context, MakeCall("record", "{}"), &reply).ok());
  {
    std::lock_guard<std::mutex> lock(seen_mu_);
    ASSERT_TRUE(seen_context_.has_value());
    EXPECT_EQ(seen_context_->traceparent, kMetadataTraceparent);
  }

  // Both sent: the field wins.
  grpc::ClientContext both;
  both.set_deadline(Clock::now() + kCallTimeout);
  both.AddMetadata("traceparent", kMetadataTraceparent);
  v1::StepCall call = MakeCall("record", "{}");
  call.set_traceparent(kWireTraceparent);
  ASSERT_TRUE(stub_->ExecuteCompensation(&both, call, &reply).ok());
  std::lock_guard<std::mutex> lock(seen_mu_);
  EXPECT_EQ(seen_context_->traceparent, kWireTraceparent);
}

TEST_F(ParticipantServerTest, CallWithoutTraceparentHasAnEmptyOne) {
  RegisterRecorder(Phase::kAction);
  StartServer();

  v1::StepReply reply;
  ASSERT_TRUE(Call(Phase::kAction, MakeCall("record", "{}"), &reply).ok());
  std::lock_guard<std::mutex> lock(seen_mu_);
  ASSERT_TRUE(seen_context_.has_value());
  EXPECT_EQ(seen_context_->traceparent, "");
}

TEST_F(ParticipantServerTest, HandlerSeesTheTimeRemainingUntilTheDeadline) {
  std::mutex mu;
  std::optional<milliseconds> remaining;
  std::optional<bool> expired;
  server_.on_action("measure", [&](const StepContext& context, const nlohmann::json&) {
    std::lock_guard<std::mutex> lock(mu);
    remaining = context.remaining();
    expired = context.expired();
    return StepResult::Success();
  });
  StartServer();

  v1::StepReply reply;
  ASSERT_TRUE(
      Call(Phase::kAction, MakeCall("measure", "{}"), &reply, Clock::now() + seconds(7)).ok());
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_TRUE(remaining.has_value());
  // The server's deadline is the client's give or take a few milliseconds: gRPC sends a
  // timeout, rounded up, and the server adds it to its own clock.
  EXPECT_LE(*remaining, milliseconds(7'500));
  EXPECT_GT(*remaining, seconds(5));
  EXPECT_EQ(expired, false);
}

TEST_F(ParticipantServerTest, HandlerOutlivingTheDeadlineSeesItExpire) {
  Latch expired;
  server_.on_action("slow", [&](const StepContext& context, const nlohmann::json&) {
    // Polls, bounded, until the caller's deadline has passed.
    const auto give_up = std::chrono::steady_clock::now() + seconds(5);
    while (!context.expired() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    if (context.expired() && context.remaining() == milliseconds(0)) expired.Arrive();
    return StepResult::Success();
  });
  StartServer();

  // The caller's status is not checked: the server's deadline can be a few milliseconds
  // later than the caller's, and either the reply or the caller's timer may come first.
  v1::StepReply reply;
  Call(Phase::kAction, MakeCall("slow", "{}"), &reply, Clock::now() + milliseconds(200));
  EXPECT_TRUE(expired.WaitFor(1, milliseconds(5000)));
}

TEST_F(ParticipantServerTest, PhaseFieldContradictingTheMethodIsInvalidArgument) {
  RegisterRecorder(Phase::kAction);
  StartServer();

  v1::StepCall call = MakeCall("record", "{}");
  call.set_phase(v1::PHASE_COMPENSATION);
  v1::StepReply reply;
  grpc::Status status = Call(Phase::kAction, call, &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("PHASE_COMPENSATION"));
}

TEST_F(ParticipantServerTest, BlockingHandlersRunConcurrently) {
  Latch entered;
  server_.on_action("block", [&](const StepContext&, const nlohmann::json&) {
    entered.Arrive();
    // Succeeds only if the other call got in while this one was blocked.
    return entered.WaitFor(2, milliseconds(5000))
               ? StepResult::Success()
               : StepResult::Retryable("the other call never arrived");
  });
  StartServer();

  v1::StepReply first_reply;
  v1::StepReply second_reply;
  grpc::Status first_status;
  std::thread first(
      [&] { first_status = Call(Phase::kAction, MakeCall("block", "{}"), &first_reply); });
  grpc::Status second_status = Call(Phase::kAction, MakeCall("block", "{}"), &second_reply);
  first.join();

  ASSERT_TRUE(first_status.ok()) << first_status.error_message();
  ASSERT_TRUE(second_status.ok()) << second_status.error_message();
  EXPECT_EQ(first_reply.outcome(), v1::OUTCOME_SUCCESS) << first_reply.error_message();
  EXPECT_EQ(second_reply.outcome(), v1::OUTCOME_SUCCESS) << second_reply.error_message();
}

TEST_F(ParticipantServerTest, ShutdownDrainsACallInProgress) {
  Latch entered;
  std::atomic<bool> handler_returned{false};
  server_.on_action("slow", [&](const StepContext&, const nlohmann::json&) {
    entered.Arrive();
    std::this_thread::sleep_for(milliseconds(300));
    handler_returned = true;
    return StepResult::Success({{"done", true}});
  });
  StartServer();

  v1::StepReply reply;
  grpc::Status status;
  std::thread caller([&] { status = Call(Phase::kAction, MakeCall("slow", "{}"), &reply); });
  ASSERT_TRUE(entered.WaitFor(1, milliseconds(5000)));
  server_.Shutdown(seconds(5));
  EXPECT_TRUE(handler_returned.load());
  caller.join();

  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.outcome(), v1::OUTCOME_SUCCESS);

  // No new calls once shut down.
  v1::StepReply late_reply;
  EXPECT_FALSE(
      Call(Phase::kAction, MakeCall("slow", "{}"), &late_reply, Clock::now() + seconds(2)).ok());
}

TEST_F(ParticipantServerTest, ShutdownPastGraceCancelsTheCallButWaitsForTheHandler) {
  Latch entered;
  std::atomic<bool> handler_returned{false};
  server_.on_action("stuck", [&](const StepContext&, const nlohmann::json&) {
    entered.Arrive();
    std::this_thread::sleep_for(milliseconds(1000));
    handler_returned = true;
    return StepResult::Success();
  });
  StartServer();

  v1::StepReply reply;
  grpc::Status status;
  std::thread caller([&] { status = Call(Phase::kAction, MakeCall("stuck", "{}"), &reply); });
  ASSERT_TRUE(entered.WaitFor(1, milliseconds(5000)));
  server_.Shutdown(milliseconds(100));
  EXPECT_TRUE(handler_returned.load());
  caller.join();
  EXPECT_FALSE(status.ok());
}

TEST(ParticipantServerStartTest, ReportsTheBoundPortAndAddress) {
  ParticipantServer server;
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  EXPECT_GT(server.port(), 0);
  EXPECT_EQ(server.address(), "127.0.0.1:" + std::to_string(server.port()));
  server.Shutdown(seconds(1));
}

TEST(ParticipantServerStartTest, RefusesAPortAlreadyInUse) {
  ParticipantServer first;
  ASSERT_TRUE(first.Start("127.0.0.1:0").ok());
  ParticipantServer second;
  absl::Status status = second.Start(first.address());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(first.address()));
}

TEST(ParticipantServerStartTest, RefusesAnAddressWithoutPort) {
  ParticipantServer server;
  EXPECT_EQ(server.Start("127.0.0.1").code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParticipantServerStartTest, RefusesASecondStart) {
  ParticipantServer server;
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  EXPECT_EQ(server.Start("127.0.0.1:0").code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace skald
