// The contract of store::SagaStore, run against both stores: PostgresSagaStore on a
// throwaway cluster, and the simulator's MemorySagaStore. A semantic the simulator relies on
// (leases, fencing, all-or-nothing batches, idempotent creation, paging, retention, history
// order) is written here once, so that the fake cannot drift from the real store.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <regex>
#include <set>
#include <thread>

#include "coordinator/core/definition_parser.h"
#include "coordinator/core/timestamp_text.h"
#include "coordinator/store/migrator.h"
#include "coordinator/store/postgres_saga_store.h"
#include "tests/sim/memory_saga_store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_postgres.h"

namespace skald::store {
namespace {

using core::SagaStatus;
using core::StepStatus;
using nlohmann::json;
using std::chrono::milliseconds;

constexpr const char* kOwner = "coordinator-a";
const LeaseHolder kHolder{kOwner, std::chrono::seconds(30)};

constexpr const char* kDefinition = R"({"name": "order", "version": 1, "steps": [
  {"name": "reserve", "participant": "127.0.0.1:1", "action": "reserve", "compensation": "release"},
  {"name": "charge", "participant": "127.0.0.1:2", "action": "charge", "compensation": "refund"}
]})";

// A store under contract, with its clock.
class ContractStore {
 public:
  virtual ~ContractStore() = default;
  virtual SagaStore& store() = 0;
  // Lets `duration` pass on the store's clock (PostgreSQL's own clock: by sleeping).
  virtual void Pass(milliseconds duration) = 0;
};

class PostgresContractStore final : public ContractStore {
 public:
  absl::Status Open() {
    auto uri = testing::FreshDatabase("contract");
    if (!uri.ok()) return uri.status();
    pool_ = std::make_unique<ConnectionPool>(*uri, 4);
    if (auto applied = ApplyMigrations(*pool_, EmbeddedMigrations()); !applied.ok()) {
      return applied.status();
    }
    store_ = std::make_unique<PostgresSagaStore>(*pool_);
    return absl::OkStatus();
  }
  SagaStore& store() override { return *store_; }
  void Pass(milliseconds duration) override { std::this_thread::sleep_for(duration); }

 private:
  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<PostgresSagaStore> store_;
};

class MemoryContractStore final : public ContractStore {
 public:
  MemoryContractStore()
      : store_({.now = [this] {
          // Real time never stands still: each reading is a microsecond after the last.
          return core::TimePoint(std::chrono::microseconds(micros_.fetch_add(1) + 1));
        }}) {}
  SagaStore& store() override { return store_; }
  void Pass(milliseconds duration) override {
    micros_ += std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
  }

 private:
  // 2026-12-07T08:00:00Z
  std::atomic<int64_t> micros_{1'796'630'400'000'000};
  sim::MemorySagaStore store_;
};

struct StoreKind {
  std::string name;
  std::function<absl::StatusOr<std::unique_ptr<ContractStore>>()> open;
};

void PrintTo(const StoreKind& kind, std::ostream* os) { *os << kind.name; }

const StoreKind kPostgres{"Postgres", []() -> absl::StatusOr<std::unique_ptr<ContractStore>> {
                            auto store = std::make_unique<PostgresContractStore>();
                            if (absl::Status opened = store->Open(); !opened.ok()) return opened;
                            return std::unique_ptr<ContractStore>(std::move(store));
                          }};
const StoreKind kMemory{
    "Memory", []() -> absl::StatusOr<std::unique_ptr<ContractStore>> {
      return std::unique_ptr<ContractStore>(std::make_unique<MemoryContractStore>());
    }};

class SagaStoreContract : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    auto opened = GetParam().open();
    ASSERT_OK(opened);
    contract_ = *std::move(opened);
    definition_ = *core::ParseDefinition(kDefinition);
    ASSERT_OK(store().PutDefinition(definition_));
  }

  SagaStore& store() { return contract_->store(); }
  void Pass(milliseconds duration) { contract_->Pass(duration); }

  core::SagaState StateOf(const std::string& id) {
    auto saga = store().GetSaga(id);
    EXPECT_OK(saga);
    return saga.ok() ? saga->state : core::SagaState{};
  }

  // Commits `change` applied to the saga's stored state, with `history`, as `owner` with
  // `token`.
  absl::StatusOr<std::vector<std::string>> Commit(
      const std::string& id, const std::function<void(core::SagaState&)>& change,
      std::vector<core::HistoryEntry> history = {}, const std::string& owner = kOwner,
      int64_t token = 1) {
    const core::SagaState before = StateOf(id);
    core::Transition transition{before, {}, std::move(history)};
    change(transition.state);
    return store().CommitTransitions({{&before, &transition, &definition_, token}}, owner);
  }

  absl::Status Finish(const std::string& id, SagaStatus status) {
    auto fenced = Commit(id, [&](core::SagaState& s) { s.status = status; });
    if (!fenced.ok()) return fenced.status();
    if (!fenced->empty()) return absl::InternalError("fenced: " + id);
    return absl::OkStatus();
  }

  std::vector<std::string> HistoryTypes(const std::string& id) {
    std::vector<std::string> types;
    auto events = store().GetHistory(id, 0, 1000);
    EXPECT_OK(events);
    if (events.ok()) {
      for (const HistoryRecord& event : *events) types.push_back(event.type);
    }
    return types;
  }

  std::unique_ptr<ContractStore> contract_;
  core::SagaDefinition definition_;
};

using LeasePairs = std::vector<std::pair<std::string, int64_t>>;

LeasePairs Pairs(const std::vector<Lease>& leases) {
  LeasePairs pairs;
  for (const Lease& lease : leases) pairs.emplace_back(lease.saga_id, lease.token);
  return pairs;
}

bool IsRfc3339Millis(const std::string& text) {
  static const std::regex kShape(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  return std::regex_match(text, kShape);
}

// --- Definitions ---

TEST_P(SagaStoreContract, DefinitionsAreImmutablePerVersion) {
  auto again = store().PutDefinition(definition_);
  ASSERT_OK(again);
  EXPECT_FALSE(*again) << "identical document: unchanged";

  json one_step = json::parse(kDefinition);
  one_step["steps"].erase(1);
  auto clash = store().PutDefinition(*core::ParseDefinition(one_step.dump()));
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(clash.status().message().find("new version"), absl::string_view::npos);

  json v2 = json::parse(kDefinition);
  v2["version"] = 2;
  v2["steps"].erase(1);
  auto stored = store().PutDefinition(*core::ParseDefinition(v2.dump()));
  ASSERT_OK(stored);
  EXPECT_TRUE(*stored);
  auto latest = store().GetDefinition("order", 0);
  ASSERT_OK(latest);
  EXPECT_EQ(latest->version, 2);
  EXPECT_EQ(latest->steps.size(), 1u);
  EXPECT_EQ(store().GetDefinition("order", 1)->steps.size(), 2u);
  EXPECT_EQ(store().GetDefinition("order", 3).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().GetDefinition("nope", 0).status().code(), absl::StatusCode::kNotFound);
}

// --- Creating sagas ---

TEST_P(SagaStoreContract, CreatesASagaWithPendingStepsItsLeaseAndItsCreationInTheHistory) {
  auto created =
      store().CreateSaga(definition_, "", json{{"amount", 10}}, kHolder,
                         {.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                          .callback_url = "http://127.0.0.1:9/done"});
  ASSERT_OK(created);
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->lease_token, 1);
  EXPECT_EQ(created->saga_id.size(), 36u) << "a UUID's shape: " << created->saga_id;

  auto saga = store().GetSaga(created->saga_id);
  ASSERT_OK(saga);
  EXPECT_EQ(saga->state.id, created->saga_id);
  EXPECT_EQ(saga->state.status, SagaStatus::kRunning);
  EXPECT_EQ(saga->state.input, (json{{"amount", 10}}));
  EXPECT_TRUE(saga->state.output.is_null());
  EXPECT_EQ(saga->state.deadline, std::nullopt);
  EXPECT_EQ(saga->definition_name, "order");
  EXPECT_EQ(saga->definition_version, 1);
  EXPECT_EQ(saga->step_names, (std::vector<std::string>{"reserve", "charge"}));
  EXPECT_EQ(saga->state.steps, (std::vector<core::StepState>(2)));
  EXPECT_EQ(saga->traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  EXPECT_EQ(saga->callback_url, "http://127.0.0.1:9/done");
  EXPECT_TRUE(IsRfc3339Millis(saga->created_at)) << saga->created_at;
  EXPECT_EQ(saga->updated_at, saga->created_at);

  auto history = store().GetHistory(created->saga_id, 0, 100);
  ASSERT_OK(history);
  ASSERT_EQ(history->size(), 1u);
  const HistoryRecord& event = (*history)[0];
  EXPECT_EQ(event.type, "saga_created");
  EXPECT_EQ(event.step, "");
  EXPECT_EQ(event.phase, "");
  EXPECT_EQ(event.attempt, 0);
  EXPECT_EQ(event.detail_json, R"({"version": 1, "definition": "order"})") << "jsonb's text";
  EXPECT_TRUE(IsRfc3339Millis(event.at)) << event.at;

  // The creator holds the lease: a renewal finds it, another coordinator cannot claim it.
  auto renewed = store().RenewLeases(kHolder);
  ASSERT_OK(renewed);
  EXPECT_EQ(Pairs(*renewed), (LeasePairs{{created->saga_id, 1}}));
  EXPECT_TRUE(store().ClaimSagas({"coordinator-b", std::chrono::seconds(5)}, 10)->empty());
}

TEST_P(SagaStoreContract, StartingTwiceWithTheSameIdReturnsTheFirstSaga) {
  auto first = store().CreateSaga(definition_, "order-17", json{{"n", 1}}, kHolder);
  auto second = store().CreateSaga(definition_, "order-17", json{{"n", 2}}, kHolder);
  ASSERT_OK(first);
  ASSERT_OK(second);
  EXPECT_TRUE(first->created);
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->saga_id, "order-17");
  EXPECT_EQ(StateOf("order-17").input, (json{{"n", 1}}));
  EXPECT_EQ(store().CountSagas(std::nullopt)->at(SagaStatus::kRunning), 1);
  EXPECT_EQ(HistoryTypes("order-17"), std::vector<std::string>{"saga_created"});

  json other = json::parse(kDefinition);
  other["name"] = "refund";
  auto other_definition = *core::ParseDefinition(other.dump());
  ASSERT_OK(store().PutDefinition(other_definition));
  auto clash = store().CreateSaga(other_definition, "order-17", json::object(), kHolder);
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_P(SagaStoreContract, ASagaNeedsItsDefinitionStored) {
  json unknown = json::parse(kDefinition);
  unknown["name"] = "never-applied";
  auto created =
      store().CreateSaga(*core::ParseDefinition(unknown.dump()), "x", json::object(), kHolder);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInternal) << created.status();
  EXPECT_EQ(store().GetSaga("x").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(SagaStoreContract, AnInputTheDatabaseCannotStoreIsRefused) {
  auto created =
      store().CreateSaga(definition_, "nul", json{{"text", std::string("a\0b", 3)}}, kHolder);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << created.status();
  EXPECT_EQ(store().GetSaga("nul").status().code(), absl::StatusCode::kNotFound);
}

// --- Creating sagas together (group commit) ---

TEST_P(SagaStoreContract, ABatchOfStartsAnswersEachAsIfOneAfterTheOther) {
  json other = json::parse(kDefinition);
  other["name"] = "refund";
  auto refund = std::make_shared<const core::SagaDefinition>(*core::ParseDefinition(other.dump()));
  ASSERT_OK(store().PutDefinition(*refund));
  ASSERT_OK(store().CreateSaga(definition_, "earlier", json{{"n", 0}}, kHolder));
  auto order = std::make_shared<const core::SagaDefinition>(definition_);

  auto results = store().CreateSagas(
      {
          {order, "b-1", json{{"n", 1}}, {}},
          {order, "b-1", json{{"n", 2}}, {}},   // a repeat inside the batch
          {refund, "b-1", json::object(), {}},  // the id, for another definition
          {order, "", json{{"n", 3}}, {.callback_url = "http://127.0.0.1:9/done"}},
          {order, "earlier", json{{"n", 4}}, {}},  // a repeat of an earlier start
          {refund, "a-0", json::object(), {}},
      },
      kHolder);
  ASSERT_EQ(results.size(), 6u);
  ASSERT_OK(results[0]);
  EXPECT_TRUE(results[0]->created);
  EXPECT_EQ(results[0]->saga_id, "b-1");
  EXPECT_EQ(results[0]->lease_token, 1);
  ASSERT_OK(results[1]);
  EXPECT_FALSE(results[1]->created);
  EXPECT_EQ(results[1]->saga_id, "b-1");
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kAlreadyExists) << results[2].status();
  ASSERT_OK(results[3]);
  EXPECT_TRUE(results[3]->created);
  EXPECT_EQ(results[3]->saga_id.size(), 36u) << "a UUID's shape: " << results[3]->saga_id;
  ASSERT_OK(results[4]);
  EXPECT_FALSE(results[4]->created);
  ASSERT_OK(results[5]);
  EXPECT_TRUE(results[5]->created);

  EXPECT_EQ(StateOf("b-1").input, (json{{"n", 1}}));
  EXPECT_EQ(StateOf("earlier").input, (json{{"n", 0}}));
  EXPECT_EQ(HistoryTypes("b-1"), std::vector<std::string>{"saga_created"});
  auto generated = store().GetSaga(results[3]->saga_id);
  ASSERT_OK(generated);
  EXPECT_EQ(generated->callback_url, "http://127.0.0.1:9/done");
  EXPECT_EQ(generated->state.steps.size(), 2u);
  EXPECT_EQ(store().GetSaga("a-0")->definition_name, "refund");
  EXPECT_EQ(store().CountSagas(std::nullopt)->at(SagaStatus::kRunning), 4);
  // Created leased to the holder, like CreateSaga's sagas.
  auto renewed = store().RenewLeases(kHolder);
  ASSERT_OK(renewed);
  LeasePairs held = Pairs(*renewed);
  std::sort(held.begin(), held.end());
  LeasePairs expected{{"a-0", 1}, {"b-1", 1}, {"earlier", 1}, {results[3]->saga_id, 1}};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(held, expected);
}

TEST_P(SagaStoreContract, AStartTheDatabaseRefusesNeverFailsTheOthersInItsBatch) {
  auto order = std::make_shared<const core::SagaDefinition>(definition_);
  json unknown = json::parse(kDefinition);
  unknown["name"] = "never-applied";
  auto never_applied =
      std::make_shared<const core::SagaDefinition>(*core::ParseDefinition(unknown.dump()));
  auto results = store().CreateSagas(
      {
          {order, "good-1", json::object(), {}},
          {order, "nul", json{{"text", std::string("a\0b", 3)}}, {}},
          {never_applied, "x", json::object(), {}},
          {order, "good-1", json::object(), {}},
          {order, "good-2", json::object(), {}},
      },
      kHolder);
  ASSERT_EQ(results.size(), 5u);
  ASSERT_OK(results[0]);
  EXPECT_TRUE(results[0]->created);
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kInvalidArgument) << results[1].status();
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kInternal) << results[2].status();
  ASSERT_OK(results[3]);
  EXPECT_FALSE(results[3]->created) << "a repeat after the refusals still sees the first";
  ASSERT_OK(results[4]);
  EXPECT_TRUE(results[4]->created);
  EXPECT_OK(store().GetSaga("good-1"));
  EXPECT_OK(store().GetSaga("good-2"));
  EXPECT_EQ(store().GetSaga("nul").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().GetSaga("x").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().CountSagas(std::nullopt)->at(SagaStatus::kRunning), 2);
}

TEST_P(SagaStoreContract, AnEmptyBatchCreatesNothing) {
  EXPECT_TRUE(store().CreateSagas({}, kHolder).empty());
}

TEST_P(SagaStoreContract, UnknownSagasAreNotFound) {
  EXPECT_EQ(store().GetSaga("missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().GetSagaOutcome("missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().GetHistory("missing", 0, 10).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().TakeLease("missing", kHolder).status().code(), absl::StatusCode::kNotFound);
}

// --- Committing transitions ---

TEST_P(SagaStoreContract, CommittedTransitionsReadBackExactly) {
  ASSERT_OK(store().CreateSaga(definition_, "s-1", json::object(), kHolder));
  const core::SagaState before = StateOf("s-1");

  core::Transition transition;
  transition.state = before;
  transition.state.status = SagaStatus::kCompensating;
  transition.state.error = "step charge failed: declined";
  transition.state.output = json{{"total", 12.5}, {"items", json::array({1, "two", nullptr})}};
  transition.state.deadline = core::TimePoint(milliseconds(1'800'000'060'000));
  core::StepState& reserve = transition.state.steps[0];
  reserve.status = StepStatus::kSucceeded;
  reserve.attempts = 2;
  reserve.output = json{{"reservation", "r-1"}, {"n", 3}};
  reserve.input = json{{"sku", "w"}, {"quantity", 2}};
  core::StepState& charge = transition.state.steps[1];
  charge.status = StepStatus::kRunning;
  charge.attempts = 3;
  charge.compensation_attempts = 1;
  charge.retry_at = core::TimePoint(milliseconds(1'800'000'000'123));
  charge.error = "timeout";
  charge.outcome_unknown = true;
  charge.deadline = core::TimePoint(milliseconds(1'800'000'030'456));
  transition.history.push_back(
      {"attempt_failed", 1, core::Phase::kAction, 3, {{"error", "x"}, {"retry_at_ms", 5}}});
  transition.history.push_back({"saga_compensating", {}, {}, 0, json::object()});

  auto fenced = store().CommitTransitions({{&before, &transition, &definition_, 1}}, kOwner);
  ASSERT_OK(fenced);
  EXPECT_TRUE(fenced->empty());
  auto after = store().GetSaga("s-1");
  ASSERT_OK(after);
  EXPECT_EQ(after->state, transition.state);
  EXPECT_GE(after->updated_at, after->created_at);

  auto history = store().GetHistory("s-1", 0, 100);
  ASSERT_OK(history);
  ASSERT_EQ(history->size(), 3u);
  const HistoryRecord& failed = (*history)[1];
  EXPECT_EQ(failed.type, "attempt_failed");
  EXPECT_EQ(failed.step, "charge");
  EXPECT_EQ(failed.phase, "action");
  EXPECT_EQ(failed.attempt, 3);
  EXPECT_EQ(failed.detail_json, R"({"error": "x", "retry_at_ms": 5})");
  EXPECT_EQ((*history)[2].type, "saga_compensating");
  EXPECT_EQ((*history)[2].step, "");
  EXPECT_EQ((*history)[2].detail_json, "{}");
  EXPECT_LT((*history)[0].id, (*history)[1].id);
  EXPECT_LT((*history)[1].id, (*history)[2].id) << "ids follow the order recorded";

  EXPECT_EQ(*store().ActiveSagaIds(), std::vector<std::string>{"s-1"});
}

TEST_P(SagaStoreContract, TimesReadBackToTheMillisecond) {
  ASSERT_OK(store().CreateSaga(definition_, "t", json::object(), kHolder));
  const core::TimePoint precise = core::TimePoint(std::chrono::microseconds(1'800'000'000'123'987));
  ASSERT_OK(Commit("t", [&](core::SagaState& s) {
    s.deadline = precise;
    s.steps[0].retry_at = precise;
    s.steps[0].deadline = precise;
  }));
  const core::SagaState stored = StateOf("t");
  const core::TimePoint cut = core::TimePoint(milliseconds(1'800'000'000'123));
  EXPECT_EQ(stored.deadline, cut);
  EXPECT_EQ(stored.steps[0].retry_at, cut);
  EXPECT_EQ(stored.steps[0].deadline, cut);
}

TEST_P(SagaStoreContract, SkippedStepsAreStored) {
  ASSERT_OK(store().CreateSaga(definition_, "skips", json::object(), kHolder));
  ASSERT_OK(Commit("skips", [](core::SagaState& s) { s.steps[1].status = StepStatus::kSkipped; }));
  EXPECT_EQ(StateOf("skips").steps[1].status, StepStatus::kSkipped);
}

TEST_P(SagaStoreContract, ABatchCommitsAllOrNothing) {
  ASSERT_OK(store().CreateSaga(definition_, "a", json::object(), kHolder));
  ASSERT_OK(store().CreateSaga(definition_, "b", json::object(), kHolder));
  const core::SagaState a = StateOf("a");
  core::Transition done{a, {}, {{"saga_completed", {}, {}, 0, json::object()}}};
  done.state.status = SagaStatus::kCompleted;
  // A step output jsonb cannot hold (a NUL character): the step rows' write fails inside
  // the transaction, after the saga rows were sent.
  const core::SagaState b = StateOf("b");
  core::Transition broken{b, {}, {}};
  broken.state.steps[0].output = json{{"text", std::string("a\0b", 3)}};

  auto status = store().CommitTransitions(
      {{&a, &done, &definition_, 1}, {&b, &broken, &definition_, 1}}, kOwner);
  EXPECT_EQ(status.status().code(), absl::StatusCode::kInvalidArgument) << status.status();
  EXPECT_EQ(StateOf("a").status, SagaStatus::kRunning);
  EXPECT_EQ(HistoryTypes("a"), std::vector<std::string>{"saga_created"});

  // Alone, the saga at fault is refused again, and the other goes through.
  auto alone = store().CommitTransitions({{&a, &done, &definition_, 1}}, kOwner);
  ASSERT_OK(alone);
  EXPECT_EQ(StateOf("a").status, SagaStatus::kCompleted);
  EXPECT_EQ(store().CommitTransitions({{&b, &broken, &definition_, 1}}, kOwner).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(SagaStoreContract, InvalidUtf8InAnErrorIsStoredReplacedRatherThanFailingTheBatch) {
  ASSERT_OK(store().CreateSaga(definition_, "a", json::object(), kHolder));
  ASSERT_OK(Commit("a", [](core::SagaState& s) { s.steps[0].error = "refused: \xff\xfe"; }));
  EXPECT_EQ(StateOf("a").steps[0].error, "refused: \xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_P(SagaStoreContract, AFencedSagaIsLeftUntouchedWhileTheRestOfItsBatchCommits) {
  ASSERT_OK(store().CreateSaga(definition_, "mine", json::object(), kHolder));
  ASSERT_OK(store().CreateSaga(definition_, "taken", json::object(), kHolder));
  ASSERT_OK(store().TakeLease("taken", {"coordinator-b", std::chrono::seconds(30)}));
  const core::SagaState mine = StateOf("mine"), taken = StateOf("taken");
  core::Transition mine_done{mine, {}, {{"saga_completed", {}, {}, 0, json::object()}}};
  mine_done.state.status = SagaStatus::kCompleted;
  core::Transition taken_done{taken, {}, {{"saga_completed", {}, {}, 0, json::object()}}};
  taken_done.state.status = SagaStatus::kCompleted;
  auto fenced = store().CommitTransitions(
      {{&mine, &mine_done, &definition_, 1}, {&taken, &taken_done, &definition_, 1}}, kOwner);
  ASSERT_OK(fenced);
  EXPECT_EQ(*fenced, std::vector<std::string>{"taken"});
  EXPECT_EQ(StateOf("mine").status, SagaStatus::kCompleted);
  EXPECT_EQ(StateOf("taken").status, SagaStatus::kRunning);
  EXPECT_EQ(HistoryTypes("taken"), std::vector<std::string>{"saga_created"});
}

TEST_P(SagaStoreContract, AWriteForAnUnknownSagaIsFenced) {
  core::SagaState ghost = core::NewSagaState("ghost", json::object(), 2);
  core::Transition transition{ghost, {}, {}};
  transition.state.status = SagaStatus::kCompleted;
  auto fenced = store().CommitTransitions({{&ghost, &transition, &definition_, 1}}, kOwner);
  ASSERT_OK(fenced);
  EXPECT_EQ(*fenced, std::vector<std::string>{"ghost"});
}

// --- Leases ---

TEST_P(SagaStoreContract, ClaimsFreeAndExpiredLeasesOnlyAndFencesStaleWriters) {
  const LeaseHolder a{kOwner, milliseconds(1'000)};
  ASSERT_OK(store().CreateSaga(definition_, "held", json::object(), a));
  const LeaseHolder b{"coordinator-b", std::chrono::seconds(30)};
  auto nothing = store().ClaimSagas(b, 10);
  ASSERT_OK(nothing);
  EXPECT_TRUE(nothing->empty()) << "a's lease is still valid";

  Pass(milliseconds(1'200));  // a's lease runs out (a paused, say)
  auto claimed = store().ClaimSagas(b, 10);
  ASSERT_OK(claimed);
  EXPECT_EQ(Pairs(*claimed), (LeasePairs{{"held", 2}})) << "claimed with a new token";
  EXPECT_TRUE(store().ClaimSagas(b, 10)->empty()) << "b holds it now";
  EXPECT_TRUE(store().RenewLeases(a)->empty()) << "a lost it";

  // a wakes up and writes with its old token: refused, nothing changes.
  const core::SagaState before = StateOf("held");
  core::Transition late{before, {}, {{"saga_completed", {}, {}, 0, json::object()}}};
  late.state.status = SagaStatus::kCompleted;
  auto fenced = store().CommitTransitions({{&before, &late, &definition_, 1}}, kOwner);
  ASSERT_OK(fenced);
  EXPECT_EQ(*fenced, std::vector<std::string>{"held"});
  EXPECT_EQ(StateOf("held").status, SagaStatus::kRunning);
  EXPECT_EQ(HistoryTypes("held"), std::vector<std::string>{"saga_created"});
  // Nor does b's name with a's token, or a's name with b's token.
  EXPECT_EQ(*store().CommitTransitions({{&before, &late, &definition_, 1}}, b.owner),
            std::vector<std::string>{"held"});
  EXPECT_EQ(*store().CommitTransitions({{&before, &late, &definition_, 2}}, kOwner),
            std::vector<std::string>{"held"});

  // b's write with the current token goes through.
  auto accepted = store().CommitTransitions({{&before, &late, &definition_, 2}}, b.owner);
  ASSERT_OK(accepted);
  EXPECT_TRUE(accepted->empty());
  EXPECT_EQ(StateOf("held").status, SagaStatus::kCompleted);
  EXPECT_TRUE(store().RenewLeases(b)->empty()) << "finished sagas hold no lease";
  Pass(milliseconds(50));
  EXPECT_TRUE(store().ClaimSagas(b, 10)->empty()) << "finished sagas are never claimed";
}

TEST_P(SagaStoreContract, AnExpiredLeaseNobodyClaimedStillCommits) {
  // Fencing is by token, not by time: a holder that overran its lease keeps writing until
  // another coordinator actually claims the saga.
  ASSERT_OK(store().CreateSaga(definition_, "slow", json::object(), {kOwner, milliseconds(20)}));
  Pass(milliseconds(100));
  auto fenced = Commit("slow", [](core::SagaState& s) { s.error = "still mine"; });
  ASSERT_OK(fenced);
  EXPECT_TRUE(fenced->empty());
  EXPECT_EQ(StateOf("slow").error, "still mine");
}

TEST_P(SagaStoreContract, ClaimsReleasedFirstThenOldestUpToTheLimit) {
  const LeaseHolder gone{"gone", milliseconds(0)};
  for (const char* id : {"s-0", "s-1", "s-2", "s-3"}) {
    ASSERT_OK(store().CreateSaga(definition_, id, json::object(), gone));
    Pass(milliseconds(2));
  }
  ASSERT_OK(store().TakeLease("s-3", {"other", std::chrono::seconds(30)}));
  ASSERT_OK(store().ReleaseLeases("other"));  // s-3: released, no expiry at all
  Pass(milliseconds(5));
  const LeaseHolder b{"coordinator-b", std::chrono::seconds(30)};
  auto first = store().ClaimSagas(b, 2);
  ASSERT_OK(first);
  std::vector<std::string> ids;
  for (const Lease& lease : *first) ids.push_back(lease.saga_id);
  // Which sagas are claimed is the contract; the order they are returned in is not.
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"s-0", "s-3"}));
  auto rest = store().ClaimSagas(b, 10);
  ASSERT_OK(rest);
  ids.clear();
  for (const Lease& lease : *rest) ids.push_back(lease.saga_id);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"s-1", "s-2"}));
  EXPECT_TRUE(store().ClaimSagas(b, 0)->empty());
}

TEST_P(SagaStoreContract, ConcurrentClaimersNeverGetTheSameSaga) {
  constexpr int kSagas = 200;
  for (int i = 0; i < kSagas; ++i) {
    ASSERT_OK(store().CreateSaga(definition_, "c-" + std::to_string(i), json::object(),
                                 LeaseHolder{"gone", milliseconds(0)}));
  }
  Pass(milliseconds(5));
  std::vector<std::vector<Lease>> got(8);
  std::vector<std::thread> claimers;
  std::latch start(static_cast<std::ptrdiff_t>(got.size()));  // all claim side by side
  for (size_t i = 0; i < got.size(); ++i) {
    claimers.emplace_back([&, i] {
      start.arrive_and_wait();
      // A fixed number of claims each, so that every claimer is still claiming while the
      // others are (and some claims find nothing left).
      for (int round = 0; round < 40; ++round) {
        auto leases =
            store().ClaimSagas({"claimer-" + std::to_string(i), std::chrono::seconds(30)}, 2);
        if (leases.ok()) got[i].insert(got[i].end(), leases->begin(), leases->end());
      }
    });
  }
  for (auto& t : claimers) t.join();
  std::set<std::string> ids;
  size_t total = 0;
  for (const auto& leases : got) {
    total += leases.size();
    for (const Lease& lease : leases) ids.insert(lease.saga_id);
  }
  EXPECT_EQ(total, size_t{kSagas});
  EXPECT_EQ(ids.size(), size_t{kSagas}) << "no saga claimed twice";
}

TEST_P(SagaStoreContract, ReleasedLeasesAreFreeAtOnceAndRenewalKeepsThemHeld) {
  ASSERT_OK(store().CreateSaga(definition_, "r", json::object(), kHolder));
  auto renewed = store().RenewLeases(kHolder);
  ASSERT_OK(renewed);
  EXPECT_EQ(Pairs(*renewed), (LeasePairs{{"r", 1}})) << "renewal keeps the token";
  ASSERT_OK(store().ReleaseLeases(kOwner));
  EXPECT_TRUE(store().RenewLeases(kHolder)->empty()) << "released";
  auto claimed = store().ClaimSagas({"other", std::chrono::seconds(5)}, 10);
  ASSERT_OK(claimed);
  EXPECT_EQ(Pairs(*claimed), (LeasePairs{{"r", 2}}));
  auto reclaimed = store().ReclaimOwnLeases({"other", std::chrono::seconds(5)});
  ASSERT_OK(reclaimed);
  EXPECT_EQ(Pairs(*reclaimed), (LeasePairs{{"r", 3}}))
      << "a restart under the same name fences its old self";
  EXPECT_EQ(*Commit(
                "r", [](core::SagaState& s) { s.error = "old"; }, {}, "other", 2),
            std::vector<std::string>{"r"});
  EXPECT_TRUE(Commit(
                  "r", [](core::SagaState& s) { s.error = "new"; }, {}, "other", 3)
                  ->empty());
}

TEST_P(SagaStoreContract, RenewalReturnsOnlyTheLeasesStillHeld) {
  const LeaseHolder a{kOwner, milliseconds(100)};
  ASSERT_OK(store().CreateSaga(definition_, "first", json::object(), a));
  Pass(milliseconds(2));
  ASSERT_OK(store().CreateSaga(definition_, "second", json::object(), a));
  Pass(milliseconds(200));
  auto claimed = store().ClaimSagas({"coordinator-b", std::chrono::seconds(30)}, 1);
  ASSERT_OK(claimed);
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].saga_id, "first") << "the oldest expiry first";
  auto renewed = store().RenewLeases(a);
  ASSERT_OK(renewed);
  EXPECT_EQ(Pairs(*renewed), (LeasePairs{{"second", 1}}));
}

TEST_P(SagaStoreContract, TakingALeaseKeepsItsHoldersTokenAndFencesAnyOtherHolder) {
  ASSERT_OK(store().CreateSaga(definition_, "op", json::object(), kHolder));
  EXPECT_EQ(*store().TakeLease("op", kHolder), 1) << "not fenced off by its own hand";
  const LeaseHolder b{"coordinator-b", std::chrono::seconds(30)};
  EXPECT_EQ(*store().TakeLease("op", b), 2);
  EXPECT_EQ(*Commit("op", [](core::SagaState& s) { s.error = "a"; }),
            std::vector<std::string>{"op"});
  EXPECT_TRUE(Commit(
                  "op", [](core::SagaState& s) { s.error = "b"; }, {}, b.owner, 2)
                  ->empty());
  // Whatever the saga's state: operator actions take up finished sagas too.
  ASSERT_OK(Commit(
      "op", [](core::SagaState& s) { s.status = SagaStatus::kFailed; }, {}, b.owner, 2));
  EXPECT_EQ(*store().TakeLease("op", kHolder), 3);
}

// --- Reading ---

TEST_P(SagaStoreContract, ListsNewestFirstWithFiltersAndPages) {
  std::vector<std::string> created_at;
  for (int i = 0; i < 5; ++i) {
    const std::string id = "saga-" + std::to_string(i);
    ASSERT_OK(store().CreateSaga(definition_, id, json::object(), kHolder));
    created_at.push_back(store().GetSaga(id)->created_at);
    Pass(milliseconds(3));
  }
  ASSERT_OK(Finish("saga-3", SagaStatus::kCompleted));

  std::vector<std::string> seen;
  SagaFilter filter;
  filter.page_size = 2;
  for (int page = 0; page < 5; ++page) {
    auto result = store().ListSagas(filter);
    ASSERT_OK(result);
    for (const auto& saga : result->sagas) {
      seen.push_back(saga.state.id);
      EXPECT_TRUE(saga.state.steps.empty()) << "lists leave steps out";
      EXPECT_EQ(saga.definition_name, "order");
    }
    if (result->next_page_token.empty()) break;
    // The API checks a token's time as a timestamp before it reaches the store.
    const std::string& token = result->next_page_token;
    EXPECT_OK(core::CheckTimestampText(token.substr(0, token.find('|'))));
    filter.page_token = token;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"saga-4", "saga-3", "saga-2", "saga-1", "saga-0"}));

  SagaFilter completed;
  completed.status = SagaStatus::kCompleted;
  auto only = store().ListSagas(completed);
  ASSERT_OK(only);
  ASSERT_EQ(only->sagas.size(), 1u);
  EXPECT_EQ(only->sagas[0].state.id, "saga-3");
  EXPECT_EQ(only->sagas[0].state.status, SagaStatus::kCompleted);
  EXPECT_TRUE(only->next_page_token.empty());

  SagaFilter other;
  other.definition_name = "refund";
  EXPECT_TRUE(store().ListSagas(other)->sagas.empty());

  // created_after <= created_at < created_before, with times as the API passes them.
  SagaFilter window;
  window.created_after = created_at[1];
  window.created_before = created_at[3];
  auto windowed = store().ListSagas(window);
  ASSERT_OK(windowed);
  seen.clear();
  for (const auto& saga : windowed->sagas) seen.push_back(saga.state.id);
  EXPECT_EQ(seen, (std::vector<std::string>{"saga-2", "saga-1"}));

  SagaFilter bad;
  bad.page_token = "garbage";
  EXPECT_EQ(store().ListSagas(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(SagaStoreContract, CountsSagasInEveryState) {
  ASSERT_OK(store().CreateSaga(definition_, "a", json::object(), kHolder));
  ASSERT_OK(store().CreateSaga(definition_, "b", json::object(), kHolder));
  ASSERT_OK(Finish("b", SagaStatus::kFailed));
  auto counts = store().CountSagas(std::nullopt);
  ASSERT_OK(counts);
  EXPECT_EQ(*counts, (std::map<SagaStatus, int64_t>{{SagaStatus::kRunning, 1},
                                                    {SagaStatus::kCompensating, 0},
                                                    {SagaStatus::kCompleted, 0},
                                                    {SagaStatus::kCompensated, 0},
                                                    {SagaStatus::kFailed, 1}}));
  auto none = store().CountSagas("refund");
  ASSERT_OK(none);
  EXPECT_EQ(none->size(), 5u);
  for (const auto& [status, count] : *none) EXPECT_EQ(count, 0) << core::ToString(status);
}

TEST_P(SagaStoreContract, HistoryPagesInIdOrder) {
  ASSERT_OK(store().CreateSaga(definition_, "h", json::object(), kHolder));
  ASSERT_OK(store().CreateSaga(definition_, "other", json::object(), kHolder));
  std::vector<core::HistoryEntry> entries;
  for (int i = 1; i <= 5; ++i) {
    entries.push_back({"attempt_started", 0, core::Phase::kAction, i, json::object()});
  }
  ASSERT_OK(Commit(
      "h", [](core::SagaState& s) { s.steps[0].attempts = 5; }, entries));
  ASSERT_OK(Commit("other", [](core::SagaState&) {}, {{"noted", {}, {}, 0, json::object()}}));

  auto first = store().GetHistory("h", 0, 4);
  ASSERT_OK(first);
  ASSERT_EQ(first->size(), 4u);
  EXPECT_EQ((*first)[0].type, "saga_created");
  auto rest = store().GetHistory("h", first->back().id, 100);
  ASSERT_OK(rest);
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ((*rest)[0].attempt, 4);
  EXPECT_EQ((*rest)[1].attempt, 5);
  EXPECT_GT((*rest)[0].id, first->back().id);
  EXPECT_TRUE(store().GetHistory("h", rest->back().id, 100)->empty());
  EXPECT_EQ(HistoryTypes("other"), (std::vector<std::string>{"saga_created", "noted"}));
}

TEST_P(SagaStoreContract, ActiveSagasAreTheUnfinishedOnesOldestFirst) {
  for (const char* id : {"a", "b", "c", "d"}) {
    ASSERT_OK(store().CreateSaga(definition_, id, json::object(), kHolder));
    Pass(milliseconds(2));
  }
  ASSERT_OK(Finish("b", SagaStatus::kCompleted));
  ASSERT_OK(Finish("c", SagaStatus::kCompensating));
  ASSERT_OK(Finish("d", SagaStatus::kFailed));
  EXPECT_EQ(*store().ActiveSagaIds(), (std::vector<std::string>{"a", "c"}));
}

TEST_P(SagaStoreContract, OutcomeIsTheStoredStateAndError) {
  ASSERT_OK(store().CreateSaga(definition_, "s-1", json::object(), kHolder));
  auto outcome = store().GetSagaOutcome("s-1");
  ASSERT_OK(outcome);
  EXPECT_EQ(outcome->status, SagaStatus::kRunning);
  EXPECT_EQ(outcome->error, "");
  ASSERT_OK(Commit("s-1", [](core::SagaState& s) {
    s.status = SagaStatus::kFailed;
    s.error = "compensation of reserve failed";
  }));
  outcome = store().GetSagaOutcome("s-1");
  ASSERT_OK(outcome);
  EXPECT_EQ(outcome->status, SagaStatus::kFailed);
  EXPECT_EQ(outcome->error, "compensation of reserve failed");
}

TEST_P(SagaStoreContract, NegativeLimitsAreRefusedAsValues) {
  ASSERT_OK(store().CreateSaga(definition_, "s", json::object(), kHolder));
  EXPECT_EQ(store().ClaimSagas(kHolder, -1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store().GetHistory("s", 0, -1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store().DeleteFinishedSagas(milliseconds(0), -1).status().code(),
            absl::StatusCode::kInvalidArgument);
  SagaFilter filter;
  filter.page_size = -2;
  EXPECT_EQ(store().ListSagas(filter).status().code(), absl::StatusCode::kInvalidArgument);
}

// --- Retention ---

TEST_P(SagaStoreContract, RetentionDeletesOnlySagasFinishedLongAgoOldestFirst) {
  const std::vector<std::pair<std::string, SagaStatus>> old = {
      {"old-completed", SagaStatus::kCompleted},
      {"old-compensated", SagaStatus::kCompensated},
      {"old-failed", SagaStatus::kFailed},
      {"old-running", SagaStatus::kRunning}};
  for (const auto& [id, status] : old) {
    ASSERT_OK(store().CreateSaga(definition_, id, json::object(), kHolder));
    if (status != SagaStatus::kRunning) ASSERT_OK(Finish(id, status));
    Pass(milliseconds(2));
  }
  Pass(milliseconds(2'000));
  ASSERT_OK(store().CreateSaga(definition_, "new-completed", json::object(), kHolder));
  ASSERT_OK(Finish("new-completed", SagaStatus::kCompleted));

  // Generous margins: the PostgreSQL instance sleeps, on a machine that may be busy.
  const milliseconds age(1'000);
  auto first = store().DeleteFinishedSagas(age, 1);
  ASSERT_OK(first);
  EXPECT_EQ(*first, 1) << "at most the batch size";
  EXPECT_EQ(store().GetSaga("old-completed").status().code(), absl::StatusCode::kNotFound)
      << "the one finished first goes first";
  EXPECT_OK(store().GetSaga("old-compensated"));
  auto rest = store().DeleteFinishedSagas(age, 100);
  ASSERT_OK(rest);
  EXPECT_EQ(*rest, 1);
  EXPECT_EQ(*store().DeleteFinishedSagas(age, 100), 0);

  for (const std::string id :
       {"old-completed", "old-compensated", "old-failed", "old-running", "new-completed"}) {
    const bool gone = id == "old-completed" || id == "old-compensated";
    EXPECT_EQ(store().GetSaga(id).ok(), !gone) << id;
    EXPECT_EQ(store().GetHistory(id, 0, 10).ok(), !gone) << id << ": its history goes with it";
  }
}

INSTANTIATE_TEST_SUITE_P(BothStores, SagaStoreContract, ::testing::Values(kMemory, kPostgres),
                         [](const ::testing::TestParamInfo<StoreKind>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace skald::store
