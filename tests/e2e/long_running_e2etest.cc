// Long-running steps against the real coordinator and PostgreSQL (issue 17): a participant
// answers OUTCOME_ACCEPTED and the step is completed later with its completion token —
// with success, with a failure (compensation follows), never (the deadline fires,
// compensation follows), twice, with a stale token, after the deadline; heartbeats keep a
// step alive past its heartbeat_timeout and their absence fails it; a coordinator SIGKILLed
// while a step waits, the completion sent to another coordinator. The participant is raw
// gRPC in this process, so that the test sees every call and its token.
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <thread>

#include "tests/e2e/coordinator_process.h"
#include "tests/e2e/recording_participant.h"
#include "tests/e2e/skald_command.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_postgres.h"

namespace skald::testing {
namespace {

using nlohmann::json;

v1::StepReply Success(const json& output) {
  v1::StepReply reply;
  reply.set_outcome(v1::OUTCOME_SUCCESS);
  reply.set_output_json(output.dump());
  return reply;
}

v1::StepReply Failure(const std::string& code, const std::string& message) {
  v1::StepReply reply;
  reply.set_outcome(v1::OUTCOME_BUSINESS_FAILURE);
  reply.set_error_code(code);
  reply.set_error_message(message);
  return reply;
}

// Prints a refusal's text, so that the run's log lists every one (the notes quote them).
void Show(const std::string& what, const grpc::Status& status) {
  std::cout << "[refusal] " << what << ": code " << status.error_code() << ": "
            << status.error_message() << "\n";
}

class LongRunningTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto dir = TempDir::Create("skald-longrun-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = new TempDir(std::move(*dir));
    participant_ = new RecordingParticipant();
    auto db = FreshDatabase("longrun");
    ASSERT_TRUE(db.ok()) << db.status();
    coordinator_ = new CoordinatorProcess(dir_->path(), *db, {"--lease-ttl", "2s"});
    ASSERT_TRUE(coordinator_->Start().ok()) << coordinator_->LogTail();
  }

  static void TearDownTestSuite() {
    delete coordinator_;
    delete participant_;
    delete dir_;
  }

  // Applies a two-step definition `name`: "first" then "second", with `first` and `second`
  // merged into the steps (handlers, timeouts, retry).
  static void Apply(const std::string& name, const json& first, const json& second) {
    json steps = json::array();
    for (const auto& [step_name, extra] :
         {std::pair{"first", first}, std::pair{"second", second}}) {
      json step = {{"name", step_name},
                   {"participant", participant_->address()},
                   {"action", "ok"},
                   {"compensation", "undo"},
                   {"retry", {{"max_attempts", 1}}}};
      if (std::string(step_name) == "second") step["after"] = {"first"};
      step.update(extra);
      steps.push_back(step);
    }
    grpc::Status applied = coordinator_->Apply({{"name", name}, {"version", 1}, {"steps", steps}});
    ASSERT_TRUE(applied.ok()) << applied.error_message();
  }

  static grpc::Status Complete(CoordinatorProcess& coordinator, const std::string& token,
                               const v1::StepReply& result, v1::CompleteStepResponse* response) {
    v1::CompleteStepRequest request;
    request.set_completion_token(token);
    *request.mutable_result() = result;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
    return coordinator.client().CompleteStep(&context, request, response);
  }
  static grpc::Status Complete(const std::string& token, const v1::StepReply& result,
                               v1::CompleteStepResponse* response) {
    return Complete(*coordinator_, token, result, response);
  }

  static grpc::Status Heartbeat(const std::string& token, const json& details) {
    v1::HeartbeatRequest request;
    request.set_completion_token(token);
    request.set_details_json(details.dump());
    v1::HeartbeatResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
    return coordinator_->client().Heartbeat(&context, request, &response);
  }

  // Starts a saga of `definition` and returns its id and the token of the call of `step`'s
  // action at `attempt` once that step shows as WAITING.
  static std::pair<std::string, std::string> StartAndAwaitWaiting(const std::string& definition,
                                                                  const std::string& step,
                                                                  int attempt = 1) {
    auto id = coordinator_->StartSaga(definition, {{"order", 1}});
    EXPECT_TRUE(id.ok()) << id.status();
    if (!id.ok()) return {};
    auto call = participant_->WaitForCall(*id, step, v1::PHASE_ACTION, attempt);
    EXPECT_TRUE(call.has_value()) << coordinator_->LogTail();
    if (!call) return {*id, ""};
    EXPECT_FALSE(call->completion_token().empty());
    auto waiting = coordinator_->WaitFor(
        *id,
        [&](const v1::Saga& saga) {
          for (const v1::Step& s : saga.steps()) {
            if (s.name() == step && s.state() == v1::STEP_STATE_WAITING &&
                s.attempts() == attempt) {
              return true;
            }
          }
          return false;
        },
        absl::Seconds(20));
    EXPECT_TRUE(waiting.ok()) << waiting.status();
    return {*id, call->completion_token()};
  }

  static TempDir* dir_;
  static RecordingParticipant* participant_;
  static CoordinatorProcess* coordinator_;
};

TempDir* LongRunningTest::dir_ = nullptr;
RecordingParticipant* LongRunningTest::participant_ = nullptr;
CoordinatorProcess* LongRunningTest::coordinator_ = nullptr;

TEST_F(LongRunningTest, CompletedWithSuccessTheSagaGoesOnAndARepeatIsANoOp) {
  Apply("approve", {{"action", "accept"}, {"completion_timeout", "1m"}}, json::object());
  auto [id, token] = StartAndAwaitWaiting("approve", "first");
  ASSERT_FALSE(token.empty());
  // Shown while it waits: since and deadline, by the API and by `skald saga get`.
  auto waiting = coordinator_->GetSaga(id);
  ASSERT_TRUE(waiting.ok());
  EXPECT_FALSE(waiting->steps(0).waiting().since().empty());
  EXPECT_FALSE(waiting->steps(0).waiting().deadline().empty());
  CommandOutput shown =
      RunSkald(dir_->path(), {"saga", "get", id, "--address", coordinator_->address()});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("WAITING"), std::string::npos) << shown.out;
  // A waiting step holds no call: the participant saw exactly one.
  EXPECT_EQ(participant_->CallsOf(id, "first", v1::PHASE_ACTION), 1);

  v1::CompleteStepResponse response;
  grpc::Status completed = Complete(token, Success({{"approved", true}}), &response);
  ASSERT_TRUE(completed.ok()) << completed.error_message();
  EXPECT_FALSE(response.already_completed());
  EXPECT_EQ(response.saga_id(), id);
  EXPECT_EQ(response.step(), "first");
  auto saga = coordinator_->WaitForEnd(id);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(StateName(saga->state()), "COMPLETED");
  EXPECT_EQ(json::parse(saga->steps(0).output_json()), (json{{"approved", true}}));

  // Twice with the same result: a no-op.
  v1::CompleteStepResponse again;
  grpc::Status repeated = Complete(token, Success({{"approved", true}}), &again);
  ASSERT_TRUE(repeated.ok()) << repeated.error_message();
  EXPECT_TRUE(again.already_completed());
  // Another result after the first: refused.
  v1::CompleteStepResponse other;
  grpc::Status changed = Complete(token, Failure("declined", "changed my mind"), &other);
  Show("a different result after the first", changed);
  EXPECT_EQ(changed.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(changed.error_message().find("already completed with another result"),
            std::string::npos)
      << changed.error_message();
}

TEST_F(LongRunningTest, ForgedTruncatedAndOversizedTokensAreUnknown) {
  Apply("forge", {{"action", "accept"}}, json::object());
  auto [id, token] = StartAndAwaitWaiting("forge", "first");
  ASSERT_FALSE(token.empty());
  std::string forged = token;
  forged[forged.size() - 3] = forged[forged.size() - 3] == 'A' ? 'B' : 'A';
  for (const auto& [what, bad] :
       {std::pair{"a forged token (MAC changed)", forged},
        std::pair{"a truncated token", token.substr(0, token.size() / 2)},
        std::pair{"an oversized token (5000 bytes)", std::string(5000, 'x')},
        std::pair{"garbage", std::string("hello")}}) {
    v1::CompleteStepResponse response;
    grpc::Status refused = Complete(bad, Success({{"x", 1}}), &response);
    Show(what, refused);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::NOT_FOUND) << what;
    EXPECT_EQ(refused.error_message(), "unknown or forged completion token") << what;
  }
  // A result that is not one: refused without touching the saga.
  v1::StepReply accepted;
  accepted.set_outcome(v1::OUTCOME_ACCEPTED);
  v1::CompleteStepResponse response;
  grpc::Status invalid = Complete(token, accepted, &response);
  Show("a completion whose outcome is OUTCOME_ACCEPTED", invalid);
  EXPECT_EQ(invalid.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::StepReply not_json;
  not_json.set_outcome(v1::OUTCOME_SUCCESS);
  not_json.set_output_json("{nope");
  grpc::Status malformed = Complete(token, not_json, &response);
  Show("a success whose output is not JSON", malformed);
  EXPECT_EQ(malformed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // The step still waits and still completes.
  ASSERT_TRUE(Complete(token, Success({{"x", 1}}), &response).ok());
  auto saga = coordinator_->WaitForEnd(id);
  ASSERT_TRUE(saga.ok());
  EXPECT_EQ(StateName(saga->state()), "COMPLETED");
}

TEST_F(LongRunningTest, CompletedWithAFailureTheEarlierStepsAreCompensated) {
  Apply("refuse", json::object(), {{"action", "accept"}});
  auto [id, token] = StartAndAwaitWaiting("refuse", "second");
  ASSERT_FALSE(token.empty());
  // Through the CLI, as a person would.
  CommandOutput out =
      RunSkald(dir_->path(), {"step", "complete", token, "--fail", "declined", "--message",
                              "over the limit", "--address", coordinator_->address()});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  auto saga = coordinator_->WaitForEnd(id);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(StateName(saga->state()), "COMPENSATED");
  EXPECT_EQ(StateName(saga->steps(0).state()), "COMPENSATED");
  EXPECT_EQ(StateName(saga->steps(1).state()), "FAILED");
  EXPECT_NE(saga->steps(1).error().find("declined: over the limit"), std::string::npos)
      << saga->steps(1).error();
}

TEST_F(LongRunningTest, NeverCompletedTheDeadlineFailsTheStepAndALateCompletionIsRefused) {
  Apply("forgotten", json::object(), {{"action", "accept"}, {"completion_timeout", "1s"}});
  auto [id, token] = StartAndAwaitWaiting("forgotten", "second");
  ASSERT_FALSE(token.empty());
  auto saga = coordinator_->WaitForEnd(id);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(StateName(saga->state()), "COMPENSATED");
  EXPECT_NE(saga->steps(1).error().find("no completion within completion_timeout of 1s"),
            std::string::npos)
      << saga->steps(1).error();
  // Its outcome is unknown (it may have been done): it is compensated too.
  EXPECT_EQ(StateName(saga->steps(1).state()), "COMPENSATED");
  v1::CompleteStepResponse response;
  grpc::Status late = Complete(token, Success({{"x", 1}}), &response);
  Show("a completion after the deadline", late);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(late.error_message().find("past its deadline"), std::string::npos)
      << late.error_message();
}

TEST_F(LongRunningTest, ATokenOfAnEarlierAttemptIsStale) {
  Apply(
      "flaky",
      {{"action", "flaky_accept"}, {"retry", {{"max_attempts", 3}, {"initial_interval", "50ms"}}}},
      json::object());
  auto [id, token] = StartAndAwaitWaiting("flaky", "first", /*attempt=*/2);
  ASSERT_FALSE(token.empty());
  auto first = participant_->WaitForCall(id, "first", v1::PHASE_ACTION, 1);
  ASSERT_TRUE(first.has_value());
  EXPECT_NE(first->completion_token(), token);  // Each attempt its own token.
  v1::CompleteStepResponse response;
  grpc::Status stale = Complete(first->completion_token(), Success({{"x", 1}}), &response);
  Show("a token of an earlier attempt", stale);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(stale.error_message().find("stale completion token"), std::string::npos)
      << stale.error_message();
  ASSERT_TRUE(Complete(token, Success({{"x", 2}}), &response).ok());
  auto saga = coordinator_->WaitForEnd(id);
  ASSERT_TRUE(saga.ok());
  EXPECT_EQ(StateName(saga->state()), "COMPLETED");
}

TEST_F(LongRunningTest, HeartbeatsKeepAStepAliveAndTheirAbsenceFailsIt) {
  Apply("beating",
        {{"action", "accept"}, {"heartbeat_timeout", "2s"}, {"completion_timeout", "1m"}},
        json::object());
  auto [id, token] = StartAndAwaitWaiting("beating", "first");
  ASSERT_FALSE(token.empty());
  // 4.8 s of heartbeats every 400 ms: over two heartbeat timeouts, and it still waits.
  for (int i = 0; i < 12; ++i) {
    grpc::Status beat = Heartbeat(token, {{"percent", i * 10}});
    ASSERT_TRUE(beat.ok()) << beat.error_message();
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  auto alive = coordinator_->GetSaga(id);
  ASSERT_TRUE(alive.ok());
  EXPECT_EQ(StateName(alive->steps(0).state()), "WAITING") << alive->DebugString();
  EXPECT_FALSE(alive->steps(0).waiting().last_heartbeat_at().empty());
  EXPECT_EQ(json::parse(alive->steps(0).waiting().heartbeat_details_json()),
            (json{{"percent", 110}}));
  // Then silence: the attempt fails (one attempt allowed), and the step is compensated.
  auto saga = coordinator_->WaitForEnd(id, absl::Seconds(10));
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(StateName(saga->state()), "COMPENSATED");
  EXPECT_NE(saga->steps(0).error().find("no heartbeat within heartbeat_timeout of 2s"),
            std::string::npos)
      << saga->steps(0).error();
  grpc::Status late = Heartbeat(token, json::object());
  Show("a heartbeat after the heartbeat deadline", late);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::CompleteStepResponse response;
  grpc::Status after = Complete(token, Success({{"x", 1}}), &response);
  Show("a completion after the heartbeat deadline", after);
  EXPECT_EQ(after.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(LongRunningTest, AnOperatorResolvesAWaitingStepFromTheCli) {
  Apply("manual", {{"action", "accept"}}, json::object());
  auto [id, token] = StartAndAwaitWaiting("manual", "first");
  ASSERT_FALSE(token.empty());
  CommandOutput out =
      RunSkald(dir_->path(), {"step", "resolve", id, "first", "--operator", "ada", "--reason",
                              "approved by phone", "--output", R"({"approved": true})", "--address",
                              coordinator_->address()});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  auto saga = coordinator_->WaitForEnd(id);
  ASSERT_TRUE(saga.ok());
  EXPECT_EQ(StateName(saga->state()), "COMPLETED");
  CommandOutput history =
      RunSkald(dir_->path(), {"saga", "history", id, "--address", coordinator_->address()});
  EXPECT_NE(history.out.find("operator_resolve"), std::string::npos) << history.out;
  EXPECT_NE(history.out.find("approved by phone"), std::string::npos) << history.out;
  // Resolving a step that does not wait: refused.
  CommandOutput again =
      RunSkald(dir_->path(), {"step", "resolve", id, "first", "--operator", "ada", "--reason",
                              "twice", "--fail", "x", "--address", coordinator_->address()});
  EXPECT_NE(again.exit_code, 0);
  std::cout << "[refusal] resolving a step that does not wait: " << again.err << "\n";
  EXPECT_NE(again.err.find("FAILED_PRECONDITION"), std::string::npos) << again.err;
  // The participant's own completion after the operator's: another result, refused.
  v1::CompleteStepResponse response;
  grpc::Status late = Complete(token, Success({{"approved", false}}), &response);
  Show("a completion after an operator resolved the step", late);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(LongRunningTest, ACoordinatorKilledWhileAStepWaitsAnotherTakesTheCompletion) {
  // Two coordinators on one database; the first drives the saga and is SIGKILLed.
  auto dir_a = TempDir::Create("skald-longrun-a-");
  auto dir_b = TempDir::Create("skald-longrun-b-");
  ASSERT_TRUE(dir_a.ok() && dir_b.ok());
  auto db = FreshDatabase("longrun_kill");
  ASSERT_TRUE(db.ok()) << db.status();
  CoordinatorProcess a(dir_a->path(), *db, {"--lease-ttl", "2s"});
  CoordinatorProcess b(dir_b->path(), *db, {"--lease-ttl", "2s"});
  ASSERT_TRUE(a.Start().ok()) << a.LogTail();
  ASSERT_TRUE(b.Start().ok()) << b.LogTail();
  json definition = {{"name", "killed"},
                     {"version", 1},
                     {"steps",
                      {{{"name", "first"},
                        {"participant", participant_->address()},
                        {"action", "accept"},
                        {"compensation", "undo"}},
                       {{"name", "second"},
                        {"participant", participant_->address()},
                        {"after", {"first"}},
                        {"action", "ok"}}}}};
  ASSERT_TRUE(a.Apply(definition).ok());
  auto id = a.StartSaga("killed", {{"order", 2}});
  ASSERT_TRUE(id.ok()) << id.status();
  auto call = participant_->WaitForCall(*id, "first", v1::PHASE_ACTION, 1);
  ASSERT_TRUE(call.has_value()) << a.LogTail();
  ASSERT_TRUE(a.WaitFor(
                   *id,
                   [](const v1::Saga& s) { return s.steps(0).state() == v1::STEP_STATE_WAITING; },
                   absl::Seconds(20))
                  .ok());
  ASSERT_TRUE(a.Stop(SIGKILL).ok());
  v1::CompleteStepResponse response;
  grpc::Status completed =
      Complete(b, call->completion_token(), Success({{"approved", true}}), &response);
  ASSERT_TRUE(completed.ok()) << completed.error_message() << b.LogTail();
  auto saga = b.WaitForEnd(*id);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(StateName(saga->state()), "COMPLETED");
  // The waiting attempt was not sent again by the coordinator that took the saga over.
  EXPECT_EQ(participant_->CallsOf(*id, "first", v1::PHASE_ACTION), 1);
}

}  // namespace
}  // namespace skald::testing
