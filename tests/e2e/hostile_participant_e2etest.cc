// A hostile participant (tests/e2e/hostile_participant.cc) against the real coordinator and
// PostgreSQL (issue 13, scenario 14): whatever a participant replies — NUL in its output,
// error code or message, invalid UTF-8, 3 MB texts, an unknown outcome, a NUL in a gRPC
// status, a reply after the deadline — its saga ends in the right state (completed after
// retries, or compensated), can be shown by `skald saga get`, and the coordinator's memory
// stays bounded. Also: a transition PostgreSQL refuses after the reply checks (a test fault)
// becomes a failed attempt, and an operator action that cannot be recorded is told why;
// neither wedges the saga.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/e2e/saga_harness.h"
#include "tests/e2e/skald_command.h"
#include "tests/support/ready_file.h"
#include "tests/support/test_postgres.h"

namespace skald::testing {
namespace {

using nlohmann::json;
using namespace std::string_literals;

// The coordinator's resident memory, from /proc.
long ResidentMegabytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6)) / 1024;
  }
  return -1;
}

class HostileParticipantTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto dir = TempDir::Create("skald-hostile-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = new TempDir(std::move(*dir));
    auto db = FreshDatabase("hostile");
    ASSERT_TRUE(db.ok()) << db.status();
    const std::string name = dir_->File("hostile");
    auto participant = SpawnAndWaitReady(
        {HOSTILE_PARTICIPANT_BINARY, "--listen", "127.0.0.1:0", "--ready-file", name + ".ready"},
        name + ".log", name + ".ready");
    ASSERT_TRUE(participant.ok()) << participant.status();
    participant_ = new ReadyProcess(std::move(*participant));
    coordinator_ = new CoordinatorProcess(
        dir_->path(), *db, {"--test-unstorable-output", "poisoned", "--test-lost-reply", "lost"});
    ASSERT_TRUE(coordinator_->Start().ok()) << coordinator_->LogTail();
    for (const std::string step : {"hostile", "poisoned", "lost"}) {
      json definition = {{"name", step},
                         {"version", 1},
                         {"steps",
                          {{{"name", "first"},
                            {"participant", participant_->address},
                            {"action", "good"},
                            {"compensation", "undo"}},
                           {{"name", step},
                            {"participant", participant_->address},
                            {"after", {"first"}},
                            {"action", step == "hostile" ? "hostile" : "good"},
                            {"compensation", "undo"},
                            {"attempt_timeout", "1s"},
                            {"retry", {{"max_attempts", 3}, {"initial_interval", "50ms"}}}}}}};
      grpc::Status applied = coordinator_->Apply(definition);
      ASSERT_TRUE(applied.ok()) << applied.error_message();
    }
  }

  static void TearDownTestSuite() {
    delete coordinator_;
    delete participant_;
    delete dir_;
  }

  // Starts a saga of `definition`, waits for its end and checks it ended `state`, that
  // `skald saga get` and `history` show it, and that the hostile step's error holds
  // `error_part` (unless empty). Returns the saga.
  static v1::Saga RunSaga(const std::string& definition, const json& input,
                          const std::string& state, const std::string& error_part = "") {
    auto id = coordinator_->StartSaga(definition, input);
    EXPECT_TRUE(id.ok()) << id.status();
    if (!id.ok()) return {};
    auto saga = coordinator_->WaitForEnd(*id, absl::Seconds(30));
    EXPECT_TRUE(saga.ok()) << input.dump() << ": " << saga.status();
    if (!saga.ok()) return {};
    EXPECT_EQ(StateName(saga->state()), state) << input.dump() << ": " << saga->error();
    const v1::Step step = StepNamed(*saga, definition);
    if (!error_part.empty()) {
      EXPECT_NE(step.error().find(error_part), std::string::npos)
          << input.dump() << ": " << step.error();
    }
    // Bounded: a 3 MB message is not stored as it came.
    EXPECT_LT(step.error().size(), 10'000u) << input.dump();
    EXPECT_LT(saga->error().size(), 10'000u) << input.dump();
    for (const std::string command : {"get", "history"}) {
      CommandOutput shown =
          RunSkald(dir_->path(), {"saga", command, *id, "--address", coordinator_->address()});
      EXPECT_EQ(shown.exit_code, 0) << command << " " << input.dump() << ": " << shown.err;
    }
    return *saga;
  }

  static TempDir* dir_;
  static ReadyProcess* participant_;
  static CoordinatorProcess* coordinator_;
};

TempDir* HostileParticipantTest::dir_ = nullptr;
ReadyProcess* HostileParticipantTest::participant_ = nullptr;
CoordinatorProcess* HostileParticipantTest::coordinator_ = nullptr;

TEST_F(HostileParticipantTest, EveryBadReplyEndsItsSagaCompensatedWithAClearError) {
  const std::string participant = "participant " + participant_->address;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"nul_in_value", participant + " reported success with an output that cannot be stored: "
                                     "output at /a: a NUL character"},
      {"nul_in_key", "(the key)"},
      {"nul_in_code", participant + " replied with an error code: a NUL character"},
      {"bad_utf8_code", participant + " replied with an error code: invalid UTF-8"},
      {"huge_message", "bytes cut)"},
      {"huge_output", "over the limit of 1048576 (--max-output-bytes)"},
      {"unknown_outcome", participant + " replied with an outcome this coordinator does not know"},
      {"status_nul", "unavailable\xEF\xBF\xBDwith a NUL"},
      {"late", ""},
  };
  for (const auto& [reply, error] : cases) {
    v1::Saga saga = RunSaga("hostile", {{"reply", reply}}, "COMPENSATED", error);
    const v1::Step hostile = StepNamed(saga, "hostile");
    EXPECT_EQ(hostile.attempts(), 3) << reply;
    EXPECT_EQ(StepStates(saga)["first"], "COMPENSATED") << reply;
  }
}

TEST_F(HostileParticipantTest, AMessageThatCannotBeStoredIsShownMadeStorable) {
  // A business failure stays one: only its message is mended.
  v1::Saga saga = RunSaga("hostile", {{"reply", "nul_in_message"}}, "COMPENSATED",
                          "declined: amount\xEF\xBF\xBDover limit");
  EXPECT_EQ(StepNamed(saga, "hostile").attempts(), 1);
  EXPECT_EQ(StepStates(saga)["hostile"], "FAILED");
  saga = RunSaga("hostile", {{"reply", "bad_utf8_message"}}, "COMPENSATED",
                 "declined: amount\xEF\xBF\xBDover \xEF\xBF\xBD( limit");
  EXPECT_EQ(StepNamed(saga, "hostile").attempts(), 1);
}

TEST_F(HostileParticipantTest, BadRepliesAreRetriedAndTheSagaCompletesWhenTheyStop) {
  for (const std::string reply :
       {"nul_in_value", "nul_in_key", "nul_in_code", "bad_utf8_code", "huge_message", "huge_output",
        "unknown_outcome", "status_nul", "late"}) {
    v1::Saga saga = RunSaga("hostile", {{"reply", reply}, {"bad_attempts", 2}}, "COMPLETED");
    EXPECT_EQ(StepNamed(saga, "hostile").attempts(), 3) << reply;
  }
}

TEST_F(HostileParticipantTest, ATransitionTheDatabaseRefusesBecomesAFailedAttempt) {
  // Past the reply checks (test fault): every success of "poisoned" has a \u0000 in its
  // output, which PostgreSQL refuses. Each is tried again, then recorded as a failed attempt:
  // the retry policy runs out and the saga is compensated, with the cause in its history.
  v1::Saga saga = RunSaga("poisoned", json::object(), "COMPENSATED",
                          "the coordinator could not record this reply");
  EXPECT_EQ(StepNamed(saga, "poisoned").attempts(), 3);
  EXPECT_EQ(StepStates(saga)["first"], "COMPENSATED");
}

TEST_F(HostileParticipantTest, ASagaWhoseReplyIsLostIsFoundByTheSelfCheckAndTakenUpAgain) {
  // Test fault: the outcome of the first call of "lost" is never reported, not even as a
  // timeout, so the saga has no way forward until the engine's self-check (every 5 s)
  // finds its call long past its attempt timeout and takes it up again.
  v1::Saga saga = RunSaga("lost", json::object(), "COMPLETED");
  EXPECT_EQ(StepNamed(saga, "lost").attempts(), 1);
  EXPECT_NE(coordinator_->Log().find("taking it up again from its stored state"),
            std::string::npos);
}

TEST_F(HostileParticipantTest, AnOperatorActionThatCannotBeRecordedIsToldWhyAndTheSagaGoesOn) {
  // The hostile step's first attempt answers late (after its 1 s timeout): time to act.
  auto id = coordinator_->StartSaga("hostile", {{"reply", "late"}, {"bad_attempts", 1}});
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(coordinator_
                  ->WaitFor(
                      *id,
                      [](const v1::Saga& saga) { return StepStates(saga)["hostile"] == "RUNNING"; },
                      absl::Seconds(10))
                  .ok());
  v1::OperatorActionRequest request;
  request.set_saga_id(*id);
  request.set_operator_("ada");
  request.set_reason("why\0not"s);
  v1::OperatorActionResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::Status aborted = coordinator_->client().AbortSaga(&context, request, &response);
  // Refused, with the real cause: not "another coordinator took the saga over" (ABORTED).
  EXPECT_FALSE(aborted.ok());
  EXPECT_NE(aborted.error_code(), grpc::StatusCode::ABORTED) << aborted.error_message();
  EXPECT_EQ(aborted.error_message().find("another coordinator"), std::string::npos)
      << aborted.error_message();
  // The saga is not wedged: its second attempt succeeds.
  auto saga = coordinator_->WaitForEnd(*id, absl::Seconds(30));
  ASSERT_TRUE(saga.ok()) << saga.status() << "\n" << coordinator_->LogTail();
  EXPECT_EQ(StateName(saga->state()), "COMPLETED") << saga->error();
}

TEST_F(HostileParticipantTest, MemoryStaysBoundedUnderManyLargeReplies) {
  // 20 sagas at once, each getting three 3 MB replies (an error message or an output).
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    auto id = coordinator_->StartSaga("hostile",
                                      {{"reply", i % 2 == 0 ? "huge_message" : "huge_output"}});
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  long peak = 0;
  for (const std::string& id : ids) {
    auto saga = coordinator_->WaitForEnd(id, absl::Seconds(60));
    peak = std::max(peak, ResidentMegabytes(coordinator_->pid()));
    ASSERT_TRUE(saga.ok()) << saga.status();
    EXPECT_EQ(StateName(saga->state()), "COMPENSATED") << saga->error();
  }
  const long after = ResidentMegabytes(coordinator_->pid());
  std::cout << "coordinator RSS after 60 replies of 3 MB: " << after << " MB (peak seen " << peak
            << " MB)\n";
  EXPECT_GT(after, 0);
  EXPECT_LT(after, 300) << "MB";
  // Stored once each, and cut: the history of all 20 sagas is small.
  const long long stored = coordinator_->Count(
      "SELECT sum(pg_column_size(detail))::bigint FROM saga_events WHERE saga_id = ANY($1::text[])",
      "{" +
          [&] {
            std::string list;
            for (const std::string& id : ids) list += (list.empty() ? "" : ",") + id;
            return list;
          }() +
          "}");
  EXPECT_LT(stored, 2'000'000) << "bytes of history";
}

}  // namespace
}  // namespace skald::testing
