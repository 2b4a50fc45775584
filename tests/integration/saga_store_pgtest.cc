#include "coordinator/store/saga_store.h"

#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "coordinator/core/definition_parser.h"
#include "coordinator/store/migrator.h"
#include "tests/support/test_postgres.h"

namespace skald::store {
namespace {

using core::SagaStatus;
using core::StepStatus;
using nlohmann::json;

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
    store_ = std::make_unique<SagaStore>(*pool_);
    definition_ = *core::ParseDefinition(kDefinition);
    ASSERT_TRUE(store_->PutDefinition(definition_).ok());
  }

  int CountRows(const std::string& table_query) {
    int count = -1;
    EXPECT_TRUE(pool_->Run("count", [&](pqxx::connection& c) {
                       pqxx::read_transaction tx(c);
                       count = tx.exec1(table_query)[0].as<int>();
                     }).ok());
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
  auto created = store_->CreateSaga(definition_, "", json{{"amount", 10}});
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
  auto first = store_->CreateSaga(definition_, "order-17", json{{"n", 1}});
  auto second = store_->CreateSaga(definition_, "order-17", json{{"n", 2}});
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
  auto clash = store_->CreateSaga(other_definition, "order-17", json::object());
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(SagaStoreTest, UnknownSagaIsNotFound) {
  EXPECT_EQ(store_->GetSaga("missing").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SagaStoreTest, CommittedTransitionsReadBackExactly) {
  auto created = store_->CreateSaga(definition_, "s-1", json::object());
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

  ASSERT_TRUE(store_->CommitTransitions({{&before, &transition, &definition_}}).ok());
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
  ASSERT_TRUE(store_->CreateSaga(definition_, "skips", json::object()).ok());
  core::SagaState before = store_->GetSaga("skips")->state;
  core::Transition transition{before, {}, {}};
  transition.state.steps[1].status = StepStatus::kSkipped;
  ASSERT_TRUE(store_->CommitTransitions({{&before, &transition, &definition_}}).ok());
  EXPECT_EQ(store_->GetSaga("skips")->state.steps[1].status, StepStatus::kSkipped);
}

TEST_F(SagaStoreTest, ABatchCommitsAllOrNothing) {
  ASSERT_TRUE(store_->CreateSaga(definition_, "a", json::object()).ok());
  core::SagaState a = store_->GetSaga("a")->state;
  core::Transition done{a, {}, {}};
  done.state.status = SagaStatus::kCompleted;
  // A saga that was never stored: its event insert violates the foreign key.
  core::SagaState ghost = a;
  ghost.id = "ghost";
  core::Transition ghost_moves{ghost, {}, {{"saga_completed", {}, {}, 0, json::object()}}};
  ghost_moves.state.status = SagaStatus::kCompleted;

  absl::Status status = store_->CommitTransitions(
      {{&a, &done, &definition_}, {&ghost, &ghost_moves, &definition_}});
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(store_->GetSaga("a")->state.status, SagaStatus::kRunning);
}

TEST_F(SagaStoreTest, ListsNewestFirstWithFiltersAndPages) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->CreateSaga(definition_, "saga-" + std::to_string(i), json::object()).ok());
  }
  core::SagaState s3 = store_->GetSaga("saga-3")->state;
  core::Transition finish{s3, {}, {}};
  finish.state.status = SagaStatus::kCompleted;
  ASSERT_TRUE(store_->CommitTransitions({{&s3, &finish, &definition_}}).ok());

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

}  // namespace
}  // namespace skald::store
