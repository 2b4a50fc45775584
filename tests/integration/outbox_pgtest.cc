// The notification outbox against a real PostgreSQL: rows are written with the terminal
// transition they report and only then, alerts once, claims exclusive; and the traceparent
// and callback URL stored with a saga.
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "coordinator/core/definition_parser.h"
#include "coordinator/store/migrator.h"
#include "coordinator/store/outbox.h"
#include "coordinator/store/postgres_saga_store.h"
#include "tests/support/test_postgres.h"

namespace skald::store {
namespace {

using core::Phase;
using core::SagaStatus;
using core::StepStatus;
using nlohmann::json;
using std::chrono::milliseconds;

constexpr const char* kLeaseOwner = "coordinator-a";
const LeaseHolder kLeaseHolder{kLeaseOwner, std::chrono::seconds(5)};
constexpr const char* kNotifyUrl = "http://hooks.example.com/definition";
constexpr const char* kCallbackUrl = "https://client.example.com/callback?order=17";
constexpr const char* kAlertUrl = "http://ops.example.com/alerts";
constexpr const char* kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

json DefinitionDocument() {
  return json::parse(R"({"name": "order", "version": 1, "steps": [
    {"name": "reserve", "participant": "127.0.0.1:1", "action": "reserve",
     "compensation": "release"},
    {"name": "charge", "participant": "127.0.0.1:2", "action": "charge", "compensation": "refund"}
  ]})");
}

// One row of notification_outbox.
struct Row {
  int64_t id = 0;
  std::string saga_id;
  std::string event;
  std::string url;
  json payload;
  int attempts = 0;
  std::string last_error;
  bool delivered = false;
};

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto uri = testing::FreshDatabase("outbox");
    ASSERT_TRUE(uri.ok()) << uri.status();
    pool_ = std::make_unique<ConnectionPool>(*uri, 2);
    ASSERT_TRUE(ApplyMigrations(*pool_, EmbeddedMigrations()).ok());
    store_ = std::make_unique<PostgresSagaStore>(*pool_, OutboxPolicy{kAlertUrl, 2});
    outbox_ = std::make_unique<OutboxStore>(*pool_);
    json with_notify = DefinitionDocument();
    with_notify["notify"] = kNotifyUrl;
    definition_ = *core::ParseDefinition(with_notify.dump());
    ASSERT_TRUE(store_->PutDefinition(definition_).ok());
    json plain = DefinitionDocument();
    plain["name"] = "plain";
    plain_ = *core::ParseDefinition(plain.dump());
    ASSERT_TRUE(store_->PutDefinition(plain_).ok());
  }

  std::vector<Row> Rows(const std::string& where = "true") {
    std::vector<Row> rows;
    EXPECT_TRUE(pool_
                    ->Run("read outbox",
                          [&](pqxx::connection& c) {
                            pqxx::read_transaction tx(c);
                            for (const auto& r :
                                 tx.exec("SELECT id, saga_id, event, url, payload::text, attempts, "
                                         "last_error, delivered_at IS NOT NULL "
                                         "FROM notification_outbox WHERE " +
                                         where + " ORDER BY id")) {
                              rows.push_back(Row{r[0].as<int64_t>(), r[1].as<std::string>(),
                                                 r[2].as<std::string>(), r[3].as<std::string>(),
                                                 json::parse(r[4].as<std::string>()),
                                                 r[5].as<int>(), r[6].as<std::string>(),
                                                 r[7].as<bool>()});
                            }
                          })
                    .ok());
    return rows;
  }

  void Exec(const std::string& sql) {
    ASSERT_TRUE(pool_
                    ->Run("exec",
                          [&](pqxx::connection& c) {
                            pqxx::work tx(c);
                            tx.exec(sql);
                            tx.commit();
                          })
                    .ok());
  }

  // Commits `transition` of the saga as the lease holder; returns the fenced ids.
  std::vector<std::string> Commit(const core::SagaState& before, const core::Transition& transition,
                                  const core::SagaDefinition& definition, int64_t token = 1) {
    auto fenced =
        store_->CommitTransitions({{&before, &transition, &definition, token}}, kLeaseOwner);
    EXPECT_TRUE(fenced.ok()) << fenced.status();
    return fenced.ok() ? *fenced : std::vector<std::string>{};
  }

  core::SagaState Start(const core::SagaDefinition& definition, const std::string& id,
                        SagaStartOptions options = {}) {
    auto created = store_->CreateSaga(definition, id, json::object(), kLeaseHolder, options);
    EXPECT_TRUE(created.ok() && created->created) << created.status();
    return store_->GetSaga(id)->state;
  }

  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<SagaStore> store_;
  std::unique_ptr<OutboxStore> outbox_;
  core::SagaDefinition definition_;
  core::SagaDefinition plain_;
};

TEST_F(OutboxTest, ASagaKeepsItsTraceparentAndCallbackUrl) {
  Start(definition_, "traced", {kTraceparent, kCallbackUrl});
  auto saga = store_->GetSaga("traced");
  ASSERT_TRUE(saga.ok());
  EXPECT_EQ(saga->traceparent, kTraceparent);
  EXPECT_EQ(saga->callback_url, kCallbackUrl);

  Start(definition_, "bare");
  EXPECT_EQ(store_->GetSaga("bare")->traceparent, "");
  EXPECT_EQ(store_->GetSaga("bare")->callback_url, "");

  // A repeated start keeps what the first one stored.
  auto again = store_->CreateSaga(definition_, "traced", json::object(), kLeaseHolder,
                                  {"00-11111111111111111111111111111111-2222222222222222-01", ""});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(store_->GetSaga("traced")->traceparent, kTraceparent);
}

TEST_F(OutboxTest, ATerminalTransitionQueuesItsNotificationInTheSameCommit) {
  core::SagaState before = Start(definition_, "s-1", {kTraceparent, kCallbackUrl});
  core::Transition done{before, {}, {{"saga_completed", {}, {}, 0, json::object()}}};
  done.state.status = SagaStatus::kCompleted;
  done.state.output = json{{"order_id", "o-17"}};
  ASSERT_TRUE(Commit(before, done, definition_).empty());

  std::vector<Row> rows = Rows();
  ASSERT_EQ(rows.size(), 2u) << "the definition's notify URL and the saga's callback URL";
  std::set<std::string> urls;
  for (const Row& row : rows) {
    urls.insert(row.url);
    EXPECT_EQ(row.saga_id, "s-1");
    EXPECT_EQ(row.event, "saga.finished");
    EXPECT_EQ(row.attempts, 0);
    EXPECT_FALSE(row.delivered);
    EXPECT_EQ(row.payload["saga_id"], "s-1");
    EXPECT_EQ(row.payload["definition"], "order");
    EXPECT_EQ(row.payload["version"], 1);
    EXPECT_EQ(row.payload["state"], "COMPLETED");
    EXPECT_EQ(row.payload["error"], "");
    EXPECT_EQ(row.payload["output"], (json{{"order_id", "o-17"}}));
    EXPECT_EQ(row.payload["created_at"], store_->GetSaga("s-1")->created_at);
    EXPECT_EQ(row.payload["finished_at"], store_->GetSaga("s-1")->updated_at);
    EXPECT_EQ(row.payload.size(), 8u) << row.payload.dump();
  }
  EXPECT_EQ(urls, (std::set<std::string>{kNotifyUrl, kCallbackUrl}));
}

TEST_F(OutboxTest, OneRowPerDistinctUrlAndNoneWithoutAny) {
  core::SagaState same = Start(definition_, "same", {"", kNotifyUrl});
  core::Transition compensated{same, {}, {}};
  compensated.state.status = SagaStatus::kCompensated;
  compensated.state.error = "step charge failed: declined";
  Commit(same, compensated, definition_);
  std::vector<Row> rows = Rows("saga_id = 'same'");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].payload["state"], "COMPENSATED");
  EXPECT_EQ(rows[0].payload["error"], "step charge failed: declined");
  EXPECT_TRUE(rows[0].payload["output"].is_null());

  core::SagaState silent = Start(plain_, "silent");
  core::Transition completed{silent, {}, {}};
  completed.state.status = SagaStatus::kCompleted;
  Commit(silent, completed, plain_);
  EXPECT_TRUE(Rows("saga_id = 'silent'").empty()) << "no notify URL, no callback URL";

  core::SagaState called_back = Start(plain_, "called-back", {"", kCallbackUrl});
  completed = core::Transition{called_back, {}, {}};
  completed.state.status = SagaStatus::kCompleted;
  Commit(called_back, completed, plain_);
  rows = Rows("saga_id = 'called-back'");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].url, kCallbackUrl);
}

TEST_F(OutboxTest, NothingIsQueuedWhileTheSagaIsUnfinished) {
  core::SagaState before = Start(definition_, "moving", {"", kCallbackUrl});
  core::Transition step{before, {}, {{"attempt_started", 0, Phase::kAction, 1, json::object()}}};
  step.state.steps[0].status = StepStatus::kRunning;
  step.state.steps[0].attempts = 1;
  Commit(before, step, definition_);
  core::Transition compensating{step.state, {}, {}};
  compensating.state.status = SagaStatus::kCompensating;
  compensating.state.error = "step reserve failed";
  compensating.history.push_back({"attempt_failed", 0, Phase::kAction, 1, {{"error", "no"}}});
  Commit(step.state, compensating, definition_);
  EXPECT_TRUE(Rows().empty());

  // Another event of a saga already terminal queues nothing more.
  core::Transition done{compensating.state, {}, {}};
  done.state.status = SagaStatus::kCompensated;
  Commit(compensating.state, done, definition_);
  ASSERT_EQ(Rows().size(), 2u);
  core::Transition again{done.state, {}, {}};
  Commit(done.state, again, definition_);
  EXPECT_EQ(Rows().size(), 2u);
}

TEST_F(OutboxTest, AFencedOrFailedCommitQueuesNothing) {
  core::SagaState before = Start(definition_, "fenced", {"", kCallbackUrl});
  core::Transition done{before, {}, {}};
  done.state.status = SagaStatus::kCompleted;
  EXPECT_EQ(Commit(before, done, definition_, /*token=*/7), std::vector<std::string>{"fenced"});
  EXPECT_TRUE(Rows().empty()) << "a stale writer's outcome is not announced";

  // A batch that fails as a whole (a NUL, which jsonb refuses, in another saga's output)
  // leaves no row.
  core::SagaState other = Start(definition_, "broken");
  core::Transition broken{other, {}, {}};
  broken.state.steps[0].output = json{{"text", std::string("a\0b", 3)}};
  auto status = store_->CommitTransitions(
      {{&before, &done, &definition_, 1}, {&other, &broken, &definition_, 1}}, kLeaseOwner);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(Rows().empty());
  EXPECT_EQ(store_->GetSaga("fenced")->state.status, SagaStatus::kRunning);
}

TEST_F(OutboxTest, AlertsForAFailedSagaAndOnceForAFailingCompensation) {
  core::SagaState before = Start(definition_, "stuck");
  before.status = SagaStatus::kCompensating;
  core::Transition first{before, {}, {}};
  first.history.push_back({"attempt_failed", 0, Phase::kCompensation, 1, {{"error", "e1"}}});
  Commit(before, first, definition_);
  EXPECT_TRUE(Rows("event = 'alert'").empty()) << "one failure, threshold 2";

  core::Transition second{first.state, {}, {}};
  second.history.push_back({"attempt_failed", 0, Phase::kCompensation, 2, {{"error", "e2"}}});
  Commit(first.state, second, definition_);
  core::Transition third{second.state, {}, {}};
  third.history.push_back({"attempt_failed", 0, Phase::kCompensation, 3, {{"error", "e3"}}});
  Commit(second.state, third, definition_);
  std::vector<Row> alerts = Rows("event = 'alert'");
  ASSERT_EQ(alerts.size(), 1u) << "once per saga and step";
  EXPECT_EQ(alerts[0].url, kAlertUrl);
  EXPECT_EQ(alerts[0].payload["kind"], "compensation_failing");
  EXPECT_EQ(alerts[0].payload["saga_id"], "stuck");
  EXPECT_EQ(alerts[0].payload["definition"], "order");
  EXPECT_EQ(alerts[0].payload["step"], "reserve");
  EXPECT_EQ(alerts[0].payload["failures"], 2);
  EXPECT_EQ(alerts[0].payload["error"], "e2");
  EXPECT_TRUE(alerts[0].payload.contains("at"));

  core::Transition failed{third.state, {}, {}};
  failed.state.status = SagaStatus::kFailed;
  failed.state.error = "compensation of reserve failed: e3";
  Commit(third.state, failed, definition_);
  alerts = Rows("event = 'alert'");
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].payload["kind"], "saga_failed");
  EXPECT_EQ(alerts[1].payload["state"], "FAILED");
  EXPECT_EQ(alerts[1].payload["error"], "compensation of reserve failed: e3");
  EXPECT_FALSE(alerts[1].payload.contains("step"));
  EXPECT_EQ(Rows("event = 'saga.finished'").size(), 1u) << "and its completion notification";

  // Without an alert URL, no alerts.
  PostgresSagaStore quiet(*pool_);
  core::SagaState other = Start(definition_, "quiet");
  core::Transition quiet_failed{other, {}, {}};
  quiet_failed.state.status = SagaStatus::kFailed;
  ASSERT_TRUE(
      quiet.CommitTransitions({{&other, &quiet_failed, &definition_, 1}}, kLeaseOwner).ok());
  EXPECT_TRUE(Rows("event = 'alert' AND saga_id = 'quiet'").empty());
}

TEST_F(OutboxTest, ClaimsAreExclusiveAndFailuresComeBackAfterTheirBackoff) {
  for (const char* id : {"a", "b", "c"}) {
    core::SagaState before = Start(plain_, id, {"", kCallbackUrl});
    core::Transition done{before, {}, {}};
    done.state.status = SagaStatus::kCompleted;
    Commit(before, done, plain_);
  }
  auto claimed = outbox_->Claim(2, std::chrono::seconds(60));
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ((*claimed)[0].event, "saga.finished");
  EXPECT_EQ((*claimed)[0].url, kCallbackUrl);
  EXPECT_EQ(json::parse((*claimed)[0].payload)["saga_id"], "a");
  EXPECT_EQ((*claimed)[0].attempts, 0);
  auto rest = outbox_->Claim(10, std::chrono::seconds(60));
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 1u) << "claimed rows are skipped until their lease passes";
  EXPECT_EQ(json::parse((*rest)[0].payload)["saga_id"], "c");

  ASSERT_TRUE(outbox_->MarkDelivered((*claimed)[0].id).ok());
  ASSERT_TRUE(outbox_->MarkFailed((*claimed)[1].id, "HTTP 500: oops", milliseconds(0)).ok());
  ASSERT_TRUE(outbox_->MarkFailed((*rest)[0].id, "cannot connect", std::chrono::hours(1)).ok());
  auto again = outbox_->Claim(10, std::chrono::seconds(60));
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 1u) << "delivered: never again; failed: due after its backoff";
  EXPECT_EQ((*again)[0].id, (*claimed)[1].id);
  EXPECT_EQ((*again)[0].attempts, 1);
  std::vector<Row> rows = Rows();
  EXPECT_TRUE(rows[0].delivered);
  EXPECT_EQ(rows[0].attempts, 1);
  EXPECT_EQ(rows[1].last_error, "HTTP 500: oops");
  EXPECT_EQ(rows[2].last_error, "cannot connect");
  EXPECT_FALSE(rows[2].delivered);

  // A row handed back is due at once.
  ASSERT_TRUE(outbox_->Release((*again)[0].id).ok());
  EXPECT_EQ(outbox_->Claim(10, std::chrono::seconds(60))->size(), 1u);
}

TEST_F(OutboxTest, ConcurrentClaimersNeverGetTheSameRow) {
  for (int i = 0; i < 30; ++i) {
    const std::string id = "c-" + std::to_string(i);
    core::SagaState before = Start(plain_, id, {"", kCallbackUrl});
    core::Transition done{before, {}, {}};
    done.state.status = SagaStatus::kCompleted;
    Commit(before, done, plain_);
  }
  std::vector<std::vector<int64_t>> got(4);
  std::vector<std::thread> claimers;
  for (size_t i = 0; i < got.size(); ++i) {
    claimers.emplace_back([&, i] {
      ConnectionPool pool(pool_->uri(), 1);
      OutboxStore outbox(pool);
      for (int round = 0; round < 15; ++round) {
        auto rows = outbox.Claim(3, std::chrono::seconds(60));
        if (rows.ok()) {
          for (const OutboxDelivery& row : *rows) got[i].push_back(row.id);
        }
      }
    });
  }
  for (auto& t : claimers) t.join();
  std::set<int64_t> ids;
  size_t total = 0;
  for (const auto& rows : got) {
    total += rows.size();
    ids.insert(rows.begin(), rows.end());
  }
  EXPECT_EQ(total, 30u);
  EXPECT_EQ(ids.size(), 30u) << "no row claimed twice";
}

TEST_F(OutboxTest, StuckSagasAreAlertedOnce) {
  Start(definition_, "old-running");
  core::SagaState failing = Start(definition_, "old-failed");
  core::Transition failed{failing, {}, {}};
  failed.state.status = SagaStatus::kFailed;
  failed.state.error = "compensation of reserve failed";
  Commit(failing, failed, definition_);
  core::SagaState finishing = Start(definition_, "old-done");
  core::Transition done{finishing, {}, {}};
  done.state.status = SagaStatus::kCompleted;
  Commit(finishing, done, definition_);
  Start(definition_, "young");
  Exec("UPDATE sagas SET created_at = now() - interval '2 hours' WHERE id LIKE 'old-%'");

  auto queued = outbox_->QueueStuckAlerts(kAlertUrl, std::chrono::hours(1), 100);
  ASSERT_TRUE(queued.ok()) << queued.status();
  EXPECT_EQ(*queued, 2);
  std::vector<Row> alerts = Rows("payload->>'kind' = 'saga_stuck'");
  ASSERT_EQ(alerts.size(), 2u);
  std::set<std::string> ids;
  for (const Row& alert : alerts) {
    ids.insert(alert.saga_id);
    EXPECT_EQ(alert.url, kAlertUrl);
    EXPECT_EQ(alert.event, "alert");
    EXPECT_GE(alert.payload["unfinished_seconds"].get<int>(), 7200);
  }
  EXPECT_EQ(ids, (std::set<std::string>{"old-running", "old-failed"}));
  EXPECT_EQ(
      alerts[0].saga_id == "old-failed" ? alerts[0].payload["error"] : alerts[1].payload["error"],
      "compensation of reserve failed");

  EXPECT_EQ(*outbox_->QueueStuckAlerts(kAlertUrl, std::chrono::hours(1), 100), 0)
      << "once per saga";
  EXPECT_EQ(*outbox_->QueueStuckAlerts(kAlertUrl, milliseconds(1), 100), 1) << "young, now";
}

}  // namespace
}  // namespace skald::store
