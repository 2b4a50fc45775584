// StepCompleter (skald/step_completer.h) against a fake skald.v1.SagaService served on
// loopback by the test itself: the SDK's client is under test, so the fake records what
// reaches it and answers as the test scripts it (refusals, transient failures, silence).

#include "skald/step_completer.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "skald/v1/saga_service.grpc.pb.h"

namespace skald {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using Steady = std::chrono::steady_clock;

// Records CompleteStep and Heartbeat requests (with their authorization metadata) and
// answers each with the next scripted status, OK once the script is used up.
class FakeSagaService final : public v1::SagaService::Service {
 public:
  void Script(std::vector<grpc::Status> answers) {
    std::lock_guard<std::mutex> lock(mu_);
    answers_.assign(answers.begin(), answers.end());
  }
  // Each request sleeps this long before answering: a coordinator that does not answer.
  void Stall(milliseconds stall) {
    std::lock_guard<std::mutex> lock(mu_);
    stall_ = stall;
  }

  grpc::Status CompleteStep(grpc::ServerContext* context, const v1::CompleteStepRequest* request,
                            v1::CompleteStepResponse* response) override {
    grpc::Status answer = Record(context);
    std::lock_guard<std::mutex> lock(mu_);
    completions_.push_back(*request);
    response->set_saga_id("saga-1");
    response->set_step("approve");
    response->set_already_completed(completions_.size() > 1);
    return answer;
  }

  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override {
    grpc::Status answer = Record(context);
    std::lock_guard<std::mutex> lock(mu_);
    heartbeats_.push_back(*request);
    response->set_heartbeat_deadline("2030-01-02T03:04:05Z");
    return answer;
  }

  std::vector<v1::CompleteStepRequest> completions() {
    std::lock_guard<std::mutex> lock(mu_);
    return completions_;
  }
  std::vector<v1::HeartbeatRequest> heartbeats() {
    std::lock_guard<std::mutex> lock(mu_);
    return heartbeats_;
  }
  int requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::string last_authorization() {
    std::lock_guard<std::mutex> lock(mu_);
    return authorization_;
  }

 private:
  grpc::Status Record(grpc::ServerContext* context) {
    milliseconds stall;
    grpc::Status answer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++requests_;
      const auto found = context->client_metadata().find("authorization");
      authorization_ = found == context->client_metadata().end()
                           ? ""
                           : std::string(found->second.data(), found->second.size());
      stall = stall_;
      if (!answers_.empty()) {
        answer = answers_.front();
        answers_.pop_front();
      }
    }
    // Bounded by the client's deadline: it cancels and the server moves on.
    const Steady::time_point until = Steady::now() + stall;
    while (Steady::now() < until) {
      // Whichever side notices the deadline first, the try fails.
      if (context->IsCancelled()) {
        return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "the fake coordinator stalled");
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
    return answer;
  }

  std::mutex mu_;
  std::deque<grpc::Status> answers_;
  milliseconds stall_{0};
  int requests_ = 0;
  std::string authorization_;
  std::vector<v1::CompleteStepRequest> completions_;
  std::vector<v1::HeartbeatRequest> heartbeats_;
};

class StepCompleterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now() + seconds(5)); }

  std::unique_ptr<StepCompleter> Completer(StepCompleterOptions options = Fast(),
                                           std::string token = "") {
    absl::StatusOr<std::unique_ptr<StepCompleter>> completer =
        StepCompleter::Create({.address = address_, .tls = {}, .token = std::move(token)}, options);
    EXPECT_TRUE(completer.ok()) << completer.status();
    return completer.ok() ? *std::move(completer) : nullptr;
  }

  // Small backoffs, so that retries take milliseconds.
  static StepCompleterOptions Fast() {
    return {.try_deadline = seconds(2),
            .total_deadline = seconds(5),
            .initial_backoff = milliseconds(10),
            .max_backoff = milliseconds(40)};
  }

  FakeSagaService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(StepCompleterTest, CompleteSendsSuccessWithTheOutputAndReturnsTheReceipt) {
  auto completer = Completer(Fast(), "secret");
  absl::StatusOr<CompletionReceipt> receipt = completer->Complete("tok-1", {{"charge_id", "c-7"}});
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_EQ(receipt->saga_id, "saga-1");
  EXPECT_EQ(receipt->step, "approve");
  EXPECT_FALSE(receipt->already_completed);
  const std::vector<v1::CompleteStepRequest> completions = service_.completions();
  ASSERT_EQ(completions.size(), 1u);
  const v1::CompleteStepRequest& sent = completions[0];
  EXPECT_EQ(sent.completion_token(), "tok-1");
  EXPECT_EQ(sent.result().outcome(), v1::OUTCOME_SUCCESS);
  EXPECT_EQ(nlohmann::json::parse(sent.result().output_json()),
            (nlohmann::json{{"charge_id", "c-7"}}));
  EXPECT_EQ(service_.last_authorization(), "Bearer secret");
}

TEST_F(StepCompleterTest, FailAndRetrySendTheirOutcomes) {
  auto completer = Completer();
  ASSERT_TRUE(completer->Fail("tok-1", "declined", "over the limit").ok());
  ASSERT_TRUE(completer->Fail("tok-2", "", "no code").ok());
  ASSERT_TRUE(completer->Retry("tok-3", "provider_down", "try later").ok());
  const std::vector<v1::CompleteStepRequest> sent = service_.completions();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].result().outcome(), v1::OUTCOME_BUSINESS_FAILURE);
  EXPECT_EQ(sent[0].result().error_code(), "declined");
  EXPECT_EQ(sent[0].result().error_message(), "over the limit");
  EXPECT_EQ(sent[1].result().error_code(), "business_failure");
  EXPECT_EQ(sent[2].result().outcome(), v1::OUTCOME_RETRYABLE_ERROR);
  EXPECT_EQ(sent[2].result().error_code(), "provider_down");
  EXPECT_EQ(service_.last_authorization(), "");
}

TEST_F(StepCompleterTest, HeartbeatSendsTheDetailsAndReturnsTheNextDeadline) {
  auto completer = Completer();
  absl::StatusOr<std::chrono::system_clock::time_point> next =
      completer->Heartbeat("tok-1", {{"progress", 0.5}});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(std::chrono::duration_cast<seconds>(next->time_since_epoch()).count(), 1893553445);
  const std::vector<v1::HeartbeatRequest> heartbeats = service_.heartbeats();
  ASSERT_EQ(heartbeats.size(), 1u);
  EXPECT_EQ(heartbeats[0].completion_token(), "tok-1");
  EXPECT_EQ(nlohmann::json::parse(heartbeats[0].details_json()),
            (nlohmann::json{{"progress", 0.5}}));
}

TEST_F(StepCompleterTest, RefusalIsReturnedAtOnceWithTheCoordinatorsCodeAndMessage) {
  auto completer = Completer();
  service_.Script({grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                "the token is for attempt 1; step \"approve\" is at attempt 2")});
  absl::StatusOr<CompletionReceipt> receipt = completer->Complete("tok-1", {});
  EXPECT_EQ(receipt.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(receipt.status().message(), HasSubstr("is at attempt 2"));
  EXPECT_THAT(receipt.status().message(), HasSubstr("CompleteStep"));
  EXPECT_EQ(service_.requests(), 1);

  service_.Script({grpc::Status(grpc::StatusCode::NOT_FOUND, "no waiting step has this token")});
  absl::StatusOr<std::chrono::system_clock::time_point> beat = completer->Heartbeat("tok-x");
  EXPECT_EQ(beat.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(beat.status().message(), HasSubstr("no waiting step has this token"));
  EXPECT_EQ(service_.requests(), 2);
}

TEST_F(StepCompleterTest, TransientFailuresAreRetriedUntilOneSucceeds) {
  auto completer = Completer();
  service_.Script({grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting"),
                   grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "busy"),
                   grpc::Status(grpc::StatusCode::ABORTED, "lost a race")});
  absl::StatusOr<CompletionReceipt> receipt = completer->Complete("tok-1", {});
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_EQ(service_.requests(), 4);
  // Every try carried the same completion: a repeat is a no-op at the coordinator.
  for (const v1::CompleteStepRequest& sent : service_.completions()) {
    EXPECT_EQ(sent.completion_token(), "tok-1");
  }
}

TEST_F(StepCompleterTest, TransientFailuresStopAtTheTotalDeadline) {
  StepCompleterOptions options = Fast();
  options.total_deadline = milliseconds(300);
  auto completer = Completer(options);
  service_.Script(std::vector<grpc::Status>(
      1000, grpc::Status(grpc::StatusCode::UNAVAILABLE, "coordinator restarting")));
  const Steady::time_point start = Steady::now();
  absl::StatusOr<CompletionReceipt> receipt = completer->Complete("tok-1", {});
  const milliseconds took = std::chrono::duration_cast<milliseconds>(Steady::now() - start);
  EXPECT_EQ(receipt.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(receipt.status().message(), HasSubstr("coordinator restarting"));
  EXPECT_LT(took, milliseconds(2000));
  // 10 + 20 + 40 + 40 ... ms of backoff fit several tries into 300 ms, not hundreds.
  EXPECT_GE(service_.requests(), 3);
  EXPECT_LE(service_.requests(), 12);
}

TEST_F(StepCompleterTest, SilentCoordinatorIsBoundedByTheTryAndTotalDeadlines) {
  StepCompleterOptions options = Fast();
  options.try_deadline = milliseconds(100);
  options.total_deadline = milliseconds(350);
  auto completer = Completer(options);
  service_.Stall(seconds(10));
  const Steady::time_point start = Steady::now();
  absl::StatusOr<std::chrono::system_clock::time_point> beat = completer->Heartbeat("tok-1");
  const milliseconds took = std::chrono::duration_cast<milliseconds>(Steady::now() - start);
  EXPECT_EQ(beat.status().code(), absl::StatusCode::kDeadlineExceeded) << beat.status();
  EXPECT_LT(took, milliseconds(2000));
  EXPECT_GE(service_.requests(), 2);
}

TEST_F(StepCompleterTest, UnreachableCoordinatorIsUnavailableWithinTheBound) {
  StepCompleterOptions options = Fast();
  options.total_deadline = milliseconds(300);
  server_->Shutdown(std::chrono::system_clock::now());
  auto completer = Completer(options);
  const Steady::time_point start = Steady::now();
  absl::StatusOr<CompletionReceipt> receipt = completer->Fail("tok-1", "x", "y");
  EXPECT_FALSE(receipt.ok());
  EXPECT_TRUE(receipt.status().code() == absl::StatusCode::kUnavailable ||
              receipt.status().code() == absl::StatusCode::kDeadlineExceeded)
      << receipt.status();
  EXPECT_THAT(receipt.status().message(), HasSubstr(address_));
  EXPECT_LT(Steady::now() - start, seconds(3));
}

TEST_F(StepCompleterTest, BadArgumentsAreRefusedBeforeAnythingIsSent) {
  auto completer = Completer();
  EXPECT_EQ(completer->Complete("", {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(completer->Complete("tok", nlohmann::json::array()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(completer->Heartbeat("tok", 42).status().code(), absl::StatusCode::kInvalidArgument);
  const std::string huge(kMaxCompletionTokenLength + 1, 't');
  absl::StatusOr<CompletionReceipt> too_long = completer->Retry(huge, "", "");
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_long.status().message(), HasSubstr("longer than"));
  EXPECT_EQ(service_.requests(), 0);
}

TEST(StepCompleterCreateTest, RefusesAnEmptyAddressAndNonPositiveOptions) {
  EXPECT_EQ(StepCompleter::Create({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StepCompleter::Create({.address = "127.0.0.1:1"}, {.total_deadline = milliseconds(0)})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StepCompleter::Create(
                {.address = "127.0.0.1:1", .tls = {.ca_file = "/nonexistent/ca.pem"}, .token = ""})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace skald
