// What the simulator needs of MemorySagaStore beyond the SagaStore contract (which
// saga_store_contract_pgtest holds it to): faults at the caller's word, the injected clock,
// the fencing-off mutation switch, and inspection.
#include "tests/sim/memory_saga_store.h"

#include <gtest/gtest.h>

#include "coordinator/core/definition_parser.h"
#include "tests/sim/jsonb_text.h"
#include "tests/sim/postgres_time_text.h"
#include "tests/support/status_matchers.h"

namespace skald::sim {
namespace {

using core::SagaStatus;
using nlohmann::json;
using std::chrono::milliseconds;
using store::LeaseHolder;

constexpr const char* kOwner = "coordinator-a";
const LeaseHolder kHolder{kOwner, std::chrono::seconds(5)};
const core::TimePoint kStart = core::TimePoint(milliseconds(1'796'630'400'000));

constexpr const char* kDefinition = R"({"name": "order", "version": 1, "steps": [
  {"name": "reserve", "participant": "127.0.0.1:1", "action": "reserve", "compensation": "release"}
]})";

class MemorySagaStoreTest : public ::testing::Test {
 protected:
  MemorySagaStoreTest() : store_({.now = [this] { return now_; }}) {}

  void SetUp() override {
    definition_ = *core::ParseDefinition(kDefinition);
    ASSERT_OK(store_.PutDefinition(definition_));
    ASSERT_OK(store_.CreateSaga(definition_, "s", json::object(), kHolder));
  }

  // Commits the saga COMPLETED (with one history event) as `owner` holding `token`.
  absl::StatusOr<std::vector<std::string>> Complete(const std::string& id,
                                                    const std::string& owner = kOwner,
                                                    int64_t token = 1) {
    auto saga = store_.GetSaga(id);
    if (!saga.ok()) return saga.status();
    const core::SagaState before = saga->state;
    core::Transition done{before, {}, {{"saga_completed", {}, {}, 0, json::object()}}};
    done.state.status = SagaStatus::kCompleted;
    return store_.CommitTransitions({{&before, &done, &definition_, token}}, owner);
  }

  SagaStatus StatusOf(const std::string& id) { return store_.Saga(id)->record.state.status; }
  size_t EventsOf(const std::string& id) { return store_.Saga(id)->history.size(); }

  core::TimePoint now_ = kStart;
  MemorySagaStore store_;
  core::SagaDefinition definition_;
};

TEST(StoreFaultTest, FaultsCarryTheCodesAndMessagesOfThePostgresStore) {
  const auto commit = StoreOperation::kCommitTransitions;
  const std::vector<std::tuple<StoreFault, absl::StatusCode, std::string, bool>> expected = {
      {StoreFault::ConnectionLost(commit), absl::StatusCode::kUnavailable,
       "commit saga transitions: lost the database connection", false},
      {StoreFault::OutcomeUnknown(commit), absl::StatusCode::kUnavailable,
       "commit saga transitions: the connection was lost during commit, its outcome is unknown",
       true},
      {StoreFault::ReadOnly(commit), absl::StatusCode::kUnavailable,
       "commit saga transitions: the database is read-only", false},
      {StoreFault::DiskFull(commit), absl::StatusCode::kUnavailable,
       "commit saga transitions: the database refused: disk full", false},
      {StoreFault::Deadlock(commit), absl::StatusCode::kAborted,
       "commit saga transitions: conflicted with a concurrent transaction (deadlock or "
       "serialization failure)",
       false},
      {StoreFault::RefusedValue(commit), absl::StatusCode::kInvalidArgument,
       "commit saga transitions: text the database cannot store (invalid encoding or a NUL "
       "character)",
       false},
      // One statement outside a transaction: libpqxx cannot tell a lost COMMIT from any
      // other lost connection there.
      {StoreFault::OutcomeUnknown(StoreOperation::kCreateSaga), absl::StatusCode::kUnavailable,
       "create saga: lost the database connection", true},
  };
  for (const auto& [fault, code, message, takes_effect] : expected) {
    EXPECT_EQ(fault.status.code(), code) << message;
    EXPECT_EQ(fault.status.message(), message);
    EXPECT_EQ(fault.takes_effect, takes_effect) << message;
  }
}

TEST_F(MemorySagaStoreTest, AFaultThatTakesNoEffectHitsTheNextCallOnlyAndChangesNothing) {
  store_.FailNext(StoreOperation::kCommitTransitions,
                  StoreFault::ConnectionLost(StoreOperation::kCommitTransitions));
  EXPECT_EQ(Complete("s").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusOf("s"), SagaStatus::kRunning);
  EXPECT_EQ(EventsOf("s"), 1u);
  ASSERT_OK(Complete("s"));
  EXPECT_EQ(StatusOf("s"), SagaStatus::kCompleted);
}

TEST_F(MemorySagaStoreTest, AnOutcomeUnknownCommitTookEffectAndARetryRecordsItsHistoryTwice) {
  store_.FailNext(StoreOperation::kCommitTransitions,
                  StoreFault::OutcomeUnknown(StoreOperation::kCommitTransitions));
  auto saga = store_.GetSaga("s");
  const core::SagaState before = saga->state;
  core::Transition step{before, {}, {{"attempt_started", 0, core::Phase::kAction, 1, {}}}};
  step.state.steps[0].attempts = 1;
  const std::vector<store::TransitionWrite> batch = {{&before, &step, &definition_, 1}};
  EXPECT_EQ(store_.CommitTransitions(batch, kOwner).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store_.Saga("s")->record.state.steps[0].attempts, 1) << "it was committed";
  // The engine retries the batch it believes lost: PostgreSQL would insert its events again.
  ASSERT_OK(store_.CommitTransitions(batch, kOwner));
  EXPECT_EQ(EventsOf("s"), 3u);
}

TEST_F(MemorySagaStoreTest, QueuedFaultsHitTheirOperationInOrder) {
  const auto claim = StoreOperation::kClaimSagas;
  store_.FailNext(claim, StoreFault::Deadlock(claim));
  store_.FailNext(claim, StoreFault::ReadOnly(claim));
  EXPECT_OK(store_.GetSaga("s"));  // other operations are not hit
  EXPECT_EQ(store_.ClaimSagas(kHolder, 1).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_.ClaimSagas(kHolder, 1).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_OK(store_.ClaimSagas(kHolder, 1));
}

TEST_F(MemorySagaStoreTest, RefusedWritesFailOnlyTheBatchesHoldingThatSaga) {
  ASSERT_OK(store_.CreateSaga(definition_, "bad", json::object(), kHolder));
  store_.RefuseWritesOf("bad");
  const core::SagaState s = store_.GetSaga("s")->state, bad = store_.GetSaga("bad")->state;
  core::Transition s_done{s, {}, {}}, bad_done{bad, {}, {}};
  s_done.state.status = bad_done.state.status = SagaStatus::kCompleted;
  auto batch = store_.CommitTransitions(
      {{&s, &s_done, &definition_, 1}, {&bad, &bad_done, &definition_, 1}}, kOwner);
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusOf("s"), SagaStatus::kRunning) << "nothing of the batch committed";
  // The engine's way out: one saga at a time.
  ASSERT_OK(store_.CommitTransitions({{&s, &s_done, &definition_, 1}}, kOwner));
  EXPECT_EQ(store_.CommitTransitions({{&bad, &bad_done, &definition_, 1}}, kOwner).status().code(),
            absl::StatusCode::kInvalidArgument);
  store_.AcceptWritesOf("bad");
  ASSERT_OK(store_.CommitTransitions({{&bad, &bad_done, &definition_, 1}}, kOwner));
  EXPECT_EQ(StatusOf("bad"), SagaStatus::kCompleted);
}

TEST_F(MemorySagaStoreTest, TheHookSeesEachCallWithItsSagasAndOwnerAndDecides) {
  std::vector<StoreCall> seen;
  store_.SetFaultHook([&](const StoreCall& call) -> std::optional<StoreFault> {
    seen.push_back(call);
    // Only coordinator-b's commits fail: one coordinator cut off from the database.
    if (call.operation == StoreOperation::kCommitTransitions && call.owner == "coordinator-b") {
      return StoreFault::ConnectionLost(call.operation);
    }
    return std::nullopt;
  });
  ASSERT_OK(store_.TakeLease("s", {"coordinator-b", std::chrono::seconds(5)}));
  EXPECT_EQ(Complete("s", "coordinator-b", 2).status().code(), absl::StatusCode::kUnavailable);
  ASSERT_OK(store_.CreateSaga(definition_, "t", json::object(), kHolder));
  ASSERT_OK(Complete("t"));
  ASSERT_EQ(seen.size(), 6u);  // TakeLease, GetSaga, Commit, CreateSaga, GetSaga, Commit
  EXPECT_EQ(seen[0].operation, StoreOperation::kTakeLease);
  EXPECT_EQ(seen[0].saga_ids, std::vector<std::string>{"s"});
  EXPECT_EQ(seen[2].operation, StoreOperation::kCommitTransitions);
  EXPECT_EQ(seen[2].owner, "coordinator-b");
  EXPECT_EQ(seen[3].operation, StoreOperation::kCreateSaga);
  EXPECT_EQ(seen[3].saga_ids, std::vector<std::string>{"t"});
  EXPECT_EQ(seen[3].owner, kOwner);
  EXPECT_EQ(StatusOf("t"), SagaStatus::kCompleted);
  EXPECT_EQ(store_.Calls(StoreOperation::kCommitTransitions), 2);
  EXPECT_EQ(store_.Calls(StoreOperation::kGetSaga), 2) << "inspection is not counted";
}

TEST_F(MemorySagaStoreTest, WithFencingDisabledForTheMutationTestStaleWritesLand) {
  ASSERT_OK(store_.TakeLease("s", {"coordinator-b", std::chrono::seconds(5)}));
  auto fenced = Complete("s", kOwner, 1);
  ASSERT_OK(fenced);
  EXPECT_EQ(*fenced, std::vector<std::string>{"s"});

  store_.set_disable_fencing_for_mutation_test(true);
  fenced = Complete("s", kOwner, 1);
  ASSERT_OK(fenced);
  EXPECT_TRUE(fenced->empty());
  EXPECT_EQ(StatusOf("s"), SagaStatus::kCompleted) << "the stale writer's commit landed";
}

TEST_F(MemorySagaStoreTest, TheReleaseListenerHearsEveryRelease) {
  std::vector<std::string> heard;
  store_.SetReleaseListener([&](const std::string& owner) { heard.push_back(owner); });
  ASSERT_OK(store_.ReleaseLeases(kOwner));
  ASSERT_OK(store_.ReleaseLeases("nobody"));
  EXPECT_EQ(heard, (std::vector<std::string>{kOwner, "nobody"}));
  EXPECT_EQ(store_.Saga("s")->owner, std::nullopt);
  EXPECT_EQ(store_.Saga("s")->lease_expires_at, std::nullopt);
}

TEST_F(MemorySagaStoreTest, LeasesExpireByTheInjectedClockAlone) {
  const LeaseHolder b{"coordinator-b", std::chrono::seconds(5)};
  EXPECT_EQ(store_.Saga("s")->lease_expires_at, kStart + std::chrono::seconds(5));
  now_ = kStart + std::chrono::seconds(5);
  EXPECT_TRUE(store_.ClaimSagas(b, 10)->empty()) << "expires at now: still held";
  now_ += std::chrono::microseconds(1);
  auto claimed = store_.ClaimSagas(b, 10);
  ASSERT_OK(claimed);
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].token, 2);
  EXPECT_EQ(store_.Saga("s")->owner, "coordinator-b");
  EXPECT_EQ(store_.Saga("s")->lease_expires_at, now_ + std::chrono::seconds(5));
}

TEST_F(MemorySagaStoreTest, InspectionShowsEverySagaWithItsLeaseHistoryAndNotices) {
  now_ += milliseconds(7);
  ASSERT_OK(store_.CreateSaga(definition_, "", json{{"n", 1}}, kHolder));
  ASSERT_OK(Complete("s"));
  const std::vector<StoredSaga> sagas = store_.Sagas();
  ASSERT_EQ(sagas.size(), 2u);
  EXPECT_EQ(sagas[0].record.state.id, "s") << "creation order";
  EXPECT_EQ(sagas[1].record.state.id, "00000000-0000-4000-8000-000000000001")
      << "generated ids are deterministic";
  EXPECT_EQ(sagas[1].record.state.input, (json{{"n", 1}}));
  EXPECT_EQ(sagas[1].created_at, kStart + milliseconds(7));
  EXPECT_EQ(sagas[0].owner, kOwner);
  EXPECT_EQ(sagas[0].lease_token, 1);
  ASSERT_EQ(sagas[0].history.size(), 2u);
  EXPECT_EQ(sagas[0].history[1].type, "saga_completed");
  ASSERT_EQ(sagas[0].notices.size(), 1u);
  EXPECT_EQ(sagas[0].notices[0].kind, core::Notice::Kind::kSagaFinished);
  EXPECT_TRUE(sagas[1].notices.empty());
  EXPECT_EQ(store_.Definitions().size(), 1u);
  EXPECT_EQ(store_.Saga("missing"), std::nullopt);
}

TEST(PostgresTimeTextTest, PrintsAndReadsTimesAsPostgresDoes) {
  const core::TimePoint time = core::TimePoint(std::chrono::microseconds(1'796'635'760'123'456));
  EXPECT_EQ(Rfc3339Millis(time), "2026-12-07T09:29:20.123Z");
  EXPECT_EQ(PostgresText(time), "2026-12-07 09:29:20.123456+00");
  EXPECT_EQ(ParseTimestampText(PostgresText(time)), time);
  EXPECT_EQ(ParseTimestampText("2026-12-07T10:29:20.123456+01:00"), time);
  EXPECT_EQ(ParseTimestampText("2026-12-07t09:29:20.123456z"), time);
  EXPECT_EQ(ParseTimestampText("2026-12-07"), core::TimePoint(milliseconds(1'796'601'600'000)));
  EXPECT_EQ(ParseTimestampText("2026-12-07T09:29"),
            core::TimePoint(milliseconds(1'796'635'740'000)));
  EXPECT_EQ(ParseTimestampText("2026-12-07 09:29:20.5-0130"),
            core::TimePoint(milliseconds(1'796'641'160'500)));
  EXPECT_EQ(ParseTimestampText("2026-02-30"), std::nullopt);
  EXPECT_EQ(ParseTimestampText("garbage"), std::nullopt);
}

TEST(JsonbTextTest, OrdersKeysByLengthThenBytesAsJsonbPrints) {
  EXPECT_EQ(JsonbText(json{{"definition", "order"}, {"version", 1}}),
            R"({"version": 1, "definition": "order"})");
  EXPECT_EQ(JsonbText(json{{"b", json::array({1, "x", nullptr})}, {"a", json::object()}}),
            R"({"a": {}, "b": [1, "x", null]})");
  EXPECT_EQ(JsonbText(json("line\nbreak")), R"("line\nbreak")");
  EXPECT_EQ(JsonbText(json(nullptr)), "null");
}

}  // namespace
}  // namespace skald::sim
