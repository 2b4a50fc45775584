#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "coordinator/core/definition_parser.h"
#include "coordinator/store/migrator.h"
#include "coordinator/store/postgres_saga_store.h"
#include "tests/support/test_postgres.h"

namespace skald::store {
namespace {

using core::SagaStatus;
using core::StepStatus;
using nlohmann::json;

constexpr const char* kOwner = "coordinator-a";
const LeaseHolder kHolder{kOwner, std::chrono::seconds(5)};

constexpr const char* kDefinition = R"({"name": "order", "version": 1, "steps": [
  {"name": "reserve", "participant": "127.0.0.1:1", "action": "reserve", "compensation": "release"},
  {"name": "charge", "participant": "127.0.0.1:2", "action": "charge", "compensation": "refund"}
]})";

class SagaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto uri = testing::FreshDatabase("store");
    ASSERT_TRUE(uri.ok()) << uri.status();
    pool_ = std::make_unique<ConnectionPool>(*uri, 2);
    ASSERT_TRUE(ApplyMigrations(*pool_, EmbeddedMigrations()).ok());
    store_ = std::make_unique<PostgresSagaStore>(*pool_);
    definition_ = *core::ParseDefinition(kDefinition);
    ASSERT_TRUE(store_->PutDefinition(definition_).ok());
  }

  int CountRows(const std::string& table_query) {
    int count = -1;
    EXPECT_TRUE(pool_
                    ->Run("count",
                          [&](pqxx::connection& c) {
                            pqxx::read_transaction tx(c);
                            count = tx.exec1(table_query)[0].as<int>();
                          })
                    .ok());
    return count;
  }

  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<SagaStore> store_;
  core::SagaDefinition definition_;
};

TEST_F(SagaStoreTest, DefinitionsAreImmutablePerVersion) {
  auto again = store_->PutDefinition(definition_);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again) << "identical document: unchanged";

  json one_step = json::parse(kDefinition);
  one_step["steps"].erase(1);
  core::SagaDefinition changed = *core::ParseDefinition(one_step.dump());
  auto clash = store_->PutDefinition(changed);
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(clash.status().message().find("new version"), absl::string_view::npos);

  json v2 = json::parse(kDefinition);
  v2["version"] = 2;
  v2["steps"].erase(1);
  ASSERT_TRUE(*store_->PutDefinition(*core::ParseDefinition(v2.dump())));
  auto latest = store_->GetDefinition("order", 0);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->version, 2);
  EXPECT_EQ(latest->steps.size(), 1u);
  EXPECT_EQ(store_->GetDefinition("order", 1)->steps.size(), 2u);
  EXPECT_EQ(store_->GetDefinition("order", 3).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetDefinition("nope", 0).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SagaStoreTest, CreatesASagaWithPendingStepsAndAHistoryEntry) {
  auto created = store_->CreateSaga(definition_, "", json{{"amount", 10}}, kHolder);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->saga_id.size(), 36u) << "a generated UUID: " << created->saga_id;

  auto saga = store_->GetSaga(created->saga_id);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(saga->state.status, SagaStatus::kRunning);
  EXPECT_EQ(saga->state.input, (json{{"amount", 10}}));
  EXPECT_EQ(saga->definition_name, "order");
  EXPECT_EQ(saga->definition_version, 1);
  EXPECT_EQ(saga->step_names, (std::vector<std::string>{"reserve", "charge"}));
  ASSERT_EQ(saga->state.steps.size(), 2u);
  EXPECT_EQ(saga->state.steps[0], core::StepState{});
  EXPECT_FALSE(saga->created_at.empty());
  EXPECT_EQ(CountRows("SELECT count(*) FROM saga_events WHERE type = 'saga_created'"), 1);
}

TEST_F(SagaStoreTest, StartingTwiceWithTheSameIdReturnsTheFirstSaga) {
  auto first = store_->CreateSaga(definition_, "order-17", json{{"n", 1}}, kHolder);
  auto second = store_->CreateSaga(definition_, "order-17", json{{"n", 2}}, kHolder);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(first->created);
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->saga_id, "order-17");
  EXPECT_EQ(store_->GetSaga("order-17")->state.input, (json{{"n", 1}}));
  EXPECT_EQ(CountRows("SELECT count(*) FROM sagas"), 1);
  EXPECT_EQ(CountRows("SELECT count(*) FROM saga_steps"), 2);

  json other = json::parse(kDefinition);
  other["name"] = "refund";
  auto other_definition = *core::ParseDefinition(other.dump());
  ASSERT_TRUE(store_->PutDefinition(other_definition).ok());
  auto clash = store_->CreateSaga(other_definition, "order-17", json::object(), kHolder);
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(SagaStoreTest, UnknownSagaIsNotFound) {
  EXPECT_EQ(store_->GetSaga("missing").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SagaStoreTest, CommittedTransitionsReadBackExactly) {
  auto created = store_->CreateSaga(definition_, "s-1", json::object(), kHolder);
  ASSERT_TRUE(created.ok());
  core::SagaState before = store_->GetSaga("s-1")->state;

  core::Transition transition;
  transition.state = before;
  transition.state.status = SagaStatus::kCompensating;
  transition.state.error = "step charge failed: declined";
  transition.state.output = json{{"total", 12.5}};
  transition.state.deadline = core::TimePoint(std::chrono::milliseconds(1'800'000'060'000));
  core::StepState& reserve = transition.state.steps[0];
  reserve.status = StepStatus::kSucceeded;
  reserve.attempts = 2;
  reserve.output = json{{"reservation", "r-1"}, {"n", 3}};
  reserve.input = json{{"sku", "w"}, {"quantity", 2}};
  core::StepState& charge = transition.state.steps[1];
  charge.status = StepStatus::kRunning;
  charge.attempts = 3;
  charge.compensation_attempts = 1;
  charge.retry_at = core::TimePoint(std::chrono::milliseconds(1'800'000'000'123));
  charge.error = "timeout";
  charge.outcome_unknown = true;
  charge.deadline = core::TimePoint(std::chrono::milliseconds(1'800'000'030'456));
  transition.history.push_back({"attempt_failed", 1, core::Phase::kAction, 3, {{"error", "x"}}});
  transition.history.push_back({"saga_compensating", {}, {}, 0, json::object()});

  ASSERT_TRUE(store_->CommitTransitions({{&before, &transition, &definition_, 1}}, kOwner).ok());
  auto after = store_->GetSaga("s-1");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->state, transition.state);
  EXPECT_EQ(CountRows("SELECT count(*) FROM saga_events WHERE saga_id = 's-1' AND "
                      "type = 'attempt_failed' AND step = 'charge' AND phase = 'action' AND "
                      "attempt = 3 AND detail->>'error' = 'x'"),
            1);
  EXPECT_EQ(CountRows("SELECT count(*) FROM saga_events WHERE saga_id = 's-1'"), 3);

  auto active = store_->ActiveSagaIds();
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(*active, std::vector<std::string>{"s-1"});
}

TEST_F(SagaStoreTest, SkippedStepsAreStored) {
  ASSERT_TRUE(store_->CreateSaga(definition_, "skips", json::object(), kHolder).ok());
  core::SagaState before = store_->GetSaga("skips")->state;
  core::Transition transition{before, {}, {}};
  transition.state.steps[1].status = StepStatus::kSkipped;
  ASSERT_TRUE(store_->CommitTransitions({{&before, &transition, &definition_, 1}}, kOwner).ok());
  EXPECT_EQ(store_->GetSaga("skips")->state.steps[1].status, StepStatus::kSkipped);
}

TEST_F(SagaStoreTest, ABatchCommitsAllOrNothing) {
  ASSERT_TRUE(store_->CreateSaga(definition_, "a", json::object(), kHolder).ok());
  ASSERT_TRUE(store_->CreateSaga(definition_, "b", json::object(), kHolder).ok());
  core::SagaState a = store_->GetSaga("a")->state;
  core::Transition done{a, {}, {}};
  done.state.status = SagaStatus::kCompleted;
  // A step output jsonb cannot hold (a NUL character): the step rows' write fails inside
  // the transaction, after the saga rows were sent.
  core::SagaState b = store_->GetSaga("b")->state;
  core::Transition broken{b, {}, {}};
  broken.state.steps[0].output = json{{"text", std::string("a\0b", 3)}};

  auto status = store_->CommitTransitions(
      {{&a, &done, &definition_, 1}, {&b, &broken, &definition_, 1}}, kOwner);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(store_->GetSaga("a")->state.status, SagaStatus::kRunning);
}

TEST_F(SagaStoreTest, ClaimsFreeAndExpiredLeasesOnlyAndFencesStaleWriters) {
  ASSERT_TRUE(store_->CreateSaga(definition_, "held", json::object(), kHolder).ok());
  const LeaseHolder b{"coordinator-b", std::chrono::milliseconds(300)};
  auto nothing = store_->ClaimSagas(b, 10);
  ASSERT_TRUE(nothing.ok()) << nothing.status();
  EXPECT_TRUE(nothing->empty()) << "a's lease is still valid";

  // a's lease runs out (a paused, say); b claims the saga with a new token.
  ASSERT_TRUE(pool_
                  ->Run("expire",
                        [](pqxx::connection& c) {
                          pqxx::work tx(c);
                          tx.exec(
                              "UPDATE sagas SET lease_expires_at = now() - interval '1 second'");
                          tx.commit();
                        })
                  .ok());
  auto claimed = store_->ClaimSagas(b, 10);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].saga_id, "held");
  EXPECT_EQ((*claimed)[0].token, 2);
  EXPECT_TRUE(store_->ClaimSagas(b, 10)->empty()) << "b holds it now";

  // a wakes up and writes with its old token: refused, nothing changes.
  core::SagaState before = store_->GetSaga("held")->state;
  core::Transition late{before, {}, {{"saga_completed", {}, {}, 0, json::object()}}};
  late.state.status = SagaStatus::kCompleted;
  auto fenced = store_->CommitTransitions({{&before, &late, &definition_, 1}}, kOwner);
  ASSERT_TRUE(fenced.ok()) << fenced.status();
  EXPECT_EQ(*fenced, std::vector<std::string>{"held"});
  EXPECT_EQ(store_->GetSaga("held")->state.status, SagaStatus::kRunning);
  EXPECT_EQ(CountRows("SELECT count(*) FROM saga_events WHERE type = 'saga_completed'"), 0);

  // b's write with the current token goes through.
  auto accepted = store_->CommitTransitions({{&before, &late, &definition_, 2}}, b.owner);
  ASSERT_TRUE(accepted.ok());
  EXPECT_TRUE(accepted->empty());
  EXPECT_EQ(store_->GetSaga("held")->state.status, SagaStatus::kCompleted);
  EXPECT_TRUE(store_->RenewLeases(b)->empty()) << "finished sagas hold no lease";
}

TEST_F(SagaStoreTest, ConcurrentClaimersNeverGetTheSameSaga) {
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(store_
                    ->CreateSaga(definition_, "c-" + std::to_string(i), json::object(),
                                 LeaseHolder{"gone", std::chrono::milliseconds(0)})
                    .ok());
  }
  std::vector<std::vector<Lease>> got(4);
  std::vector<std::thread> claimers;
  for (size_t i = 0; i < got.size(); ++i) {
    claimers.emplace_back([&, i] {
      ConnectionPool pool(pool_->uri(), 1);
      PostgresSagaStore store(pool);
      for (int round = 0; round < 20; ++round) {
        auto leases =
            store.ClaimSagas({"claimer-" + std::to_string(i), std::chrono::seconds(30)}, 3);
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
  EXPECT_EQ(total, 40u);
  EXPECT_EQ(ids.size(), 40u) << "no saga claimed twice";
}

TEST_F(SagaStoreTest, ReleasedLeasesAreFreeAtOnceAndRenewalKeepsThemHeld) {
  ASSERT_TRUE(store_->CreateSaga(definition_, "r", json::object(), kHolder).ok());
  auto renewed = store_->RenewLeases(kHolder);
  ASSERT_TRUE(renewed.ok());
  ASSERT_EQ(renewed->size(), 1u);
  EXPECT_EQ((*renewed)[0].token, 1) << "renewal keeps the token";
  ASSERT_TRUE(store_->ReleaseLeases(kOwner).ok());
  auto claimed = store_->ClaimSagas({"other", std::chrono::seconds(5)}, 10);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].token, 2);
  auto reclaimed = store_->ReclaimOwnLeases({"other", std::chrono::seconds(5)});
  ASSERT_TRUE(reclaimed.ok());
  ASSERT_EQ(reclaimed->size(), 1u);
  EXPECT_EQ((*reclaimed)[0].token, 3) << "a restart under the same name fences its old self";
}

TEST_F(SagaStoreTest, ListsNewestFirstWithFiltersAndPages) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        store_->CreateSaga(definition_, "saga-" + std::to_string(i), json::object(), kHolder).ok());
  }
  core::SagaState s3 = store_->GetSaga("saga-3")->state;
  core::Transition finish{s3, {}, {}};
  finish.state.status = SagaStatus::kCompleted;
  ASSERT_TRUE(store_->CommitTransitions({{&s3, &finish, &definition_, 1}}, kOwner).ok());

  std::vector<std::string> seen;
  SagaFilter filter;
  filter.page_size = 2;
  for (int page = 0; page < 5; ++page) {
    auto result = store_->ListSagas(filter);
    ASSERT_TRUE(result.ok()) << result.status();
    for (const auto& saga : result->sagas) seen.push_back(saga.state.id);
    if (result->next_page_token.empty()) break;
    filter.page_token = result->next_page_token;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"saga-4", "saga-3", "saga-2", "saga-1", "saga-0"}));

  SagaFilter completed;
  completed.status = SagaStatus::kCompleted;
  auto only = store_->ListSagas(completed);
  ASSERT_TRUE(only.ok());
  ASSERT_EQ(only->sagas.size(), 1u);
  EXPECT_EQ(only->sagas[0].state.id, "saga-3");

  SagaFilter other;
  other.definition_name = "refund";
  EXPECT_TRUE(store_->ListSagas(other)->sagas.empty());

  SagaFilter bad;
  bad.page_token = "garbage";
  EXPECT_EQ(store_->ListSagas(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SagaStoreTest, InvalidUtf8InAnErrorIsStoredReplacedRatherThanFailingTheBatch) {
  ASSERT_TRUE(store_->CreateSaga(definition_, "a", json::object(), kHolder).ok());
  core::SagaState a = store_->GetSaga("a")->state;
  core::Transition failed{a, {}, {}};
  failed.state.steps[0].error = std::string("refused: \xff\xfe");
  auto status = store_->CommitTransitions({{&a, &failed, &definition_, 1}}, kOwner);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(store_->GetSaga("a")->state.steps[0].error, "refused: \xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_F(SagaStoreTest, RetentionDeletesOnlySagasFinishedLongAgoWithEverythingTheyOwn) {
  // id, state, finished how many days ago
  const std::vector<std::tuple<std::string, std::string, int>> sagas = {
      {"old-completed", "COMPLETED", 40},
      {"old-compensated", "COMPENSATED", 31},
      {"old-failed", "FAILED", 40},
      {"old-running", "RUNNING", 40},
      {"new-completed", "COMPLETED", 1}};
  for (const auto& [id, state, days] : sagas) {
    ASSERT_TRUE(store_->CreateSaga(definition_, id, json::object(), kHolder).ok());
    ASSERT_TRUE(pool_
                    ->Run("age",
                          [&, &id = id, &state = state, days = days](pqxx::connection& c) {
                            pqxx::work tx(c);
                            tx.exec_params0(
                                "UPDATE sagas SET state = $2, "
                                "updated_at = now() - $3 * interval '1 day' WHERE id = $1",
                                id, state, days);
                            tx.commit();
                          })
                    .ok());
  }
  const auto thirty_days = std::chrono::hours(24 * 30);
  auto first = store_->DeleteFinishedSagas(thirty_days, 1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 1) << "at most the batch size";
  auto rest = store_->DeleteFinishedSagas(thirty_days, 100);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(*rest, 1);
  EXPECT_EQ(*store_->DeleteFinishedSagas(thirty_days, 100), 0);

  for (const auto& [id, state, days] : sagas) {
    const bool gone = id == "old-completed" || id == "old-compensated";
    EXPECT_EQ(store_->GetSaga(id).ok(), !gone) << id;
    int steps = -1, events = -1;
    ASSERT_TRUE(
        pool_
            ->Run("count",
                  [&, &id = id](pqxx::connection& c) {
                    pqxx::read_transaction tx(c);
                    steps =
                        tx.exec_params1("SELECT count(*) FROM saga_steps WHERE saga_id = $1", id)[0]
                            .as<int>();
                    events = tx.exec_params1("SELECT count(*) FROM saga_events WHERE saga_id = $1",
                                             id)[0]
                                 .as<int>();
                  })
            .ok());
    EXPECT_EQ(steps, gone ? 0 : 2) << id;
    EXPECT_EQ(events, gone ? 0 : 1) << id;
  }
}

TEST_F(SagaStoreTest, OutcomeIsTheStoredStateAndError) {
  ASSERT_TRUE(store_->CreateSaga(definition_, "s-1", json::object(), kHolder).ok());
  auto outcome = store_->GetSagaOutcome("s-1");
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->status, SagaStatus::kRunning);
  EXPECT_EQ(outcome->error, "");
  EXPECT_EQ(store_->GetSagaOutcome("nope").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace skald::store
