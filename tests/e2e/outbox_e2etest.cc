// The transactional outbox (skald/saga_outbox.h) against a real `skald serve` and a real
// PostgreSQL: a saga starts exactly when the service's transaction commits, whatever dies
// in between; and against an in-process fake coordinator that hangs, for the deadline.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "skald/saga_outbox.h"
#include "skald/v1/saga_service.grpc.pb.h"
#include "tests/e2e/coordinator_process.h"
#include "tests/support/built_files.h"
#include "tests/support/child_process.h"
#include "tests/support/ready_file.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_postgres.h"

namespace skald::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// A definition whose one step has nowhere to go: the tests only need the saga to exist.
const json kDefinition = {{"name", "outboxed"},
                          {"version", 1},
                          {"steps",
                           {{{"name", "a"},
                             {"participant", "127.0.0.1:1"},
                             {"action", "a"},
                             {"retry", {{"max_attempts", 1}}}}}}};

// Polls `condition` every 20 ms for at most `timeout`.
bool Eventually(const std::function<bool()>& condition, milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return condition();
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("skald-outbox-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    auto service_db = FreshDatabase("outbox_service");
    ASSERT_TRUE(service_db.ok()) << service_db.status();
    service_db_ = *service_db;
    connection_ = std::make_unique<pqxx::connection>(service_db_);
    ASSERT_OK(ApplyOutboxSchema(*connection_));
    ASSERT_OK(ApplyOutboxSchema(*connection_));  // Idempotent.
  }

  void StartCoordinator() {
    auto coordinator_db = FreshDatabase("outbox_coordinator");
    ASSERT_TRUE(coordinator_db.ok()) << coordinator_db.status();
    coordinator_ = std::make_unique<CoordinatorProcess>(dir_->path(), *coordinator_db);
    ASSERT_OK(coordinator_->Start());
    ASSERT_TRUE(coordinator_->Apply(kDefinition).ok());
  }

  OutboxRelayOptions RelayOptions(const std::string& address) {
    return {.db_url = service_db_,
            .coordinator = {.address = address},
            .call_deadline = milliseconds(2000),
            .poll_interval = milliseconds(500),
            .initial_backoff = milliseconds(50),
            .max_backoff = milliseconds(400),
            .log = [this](const std::string& message) {
              std::lock_guard<std::mutex> lock(log_mu_);
              log_.push_back(message);
            }};
  }

  std::unique_ptr<OutboxRelay> StartRelay(OutboxRelayOptions options) {
    auto relay = OutboxRelay::Start(std::move(options));
    EXPECT_TRUE(relay.ok()) << relay.status();
    return relay.ok() ? *std::move(relay) : nullptr;
  }

  // Commits one start per saga id, each in its own transaction.
  void CommitStarts(const std::vector<std::string>& saga_ids,
                    const std::string& definition = "outboxed") {
    for (const std::string& id : saga_ids) {
      pqxx::work tx(*connection_);
      ASSERT_OK(StartSagaInTransaction(tx, definition, {{"n", id}}, id).status());
      tx.commit();
    }
  }

  long long Outbox(const std::string& where, const std::string& param = "") {
    return QueryCount(service_db_, "SELECT count(*) FROM skald.saga_outbox WHERE " + where, param);
  }
  long long Sagas(const std::string& id_like = "%") {
    return coordinator_->Count("SELECT count(*) FROM sagas WHERE id LIKE $1", id_like);
  }
  std::string Logged() {
    std::lock_guard<std::mutex> lock(log_mu_);
    std::string all;
    for (const std::string& line : log_) all += line + "\n";
    return all;
  }

  std::unique_ptr<TempDir> dir_;
  std::string service_db_;
  std::unique_ptr<pqxx::connection> connection_;
  std::unique_ptr<CoordinatorProcess> coordinator_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

TEST_F(OutboxTest, RollbackLeavesNoSagaAndCommitExactlyOne) {
  StartCoordinator();
  auto relay = StartRelay(RelayOptions(coordinator_->address()));
  {
    pqxx::work tx(*connection_);
    ASSERT_OK(StartSagaInTransaction(tx, "outboxed", json::object(), "rolled-back").status());
    tx.abort();
  }
  {
    pqxx::work tx(*connection_);
    ASSERT_OK(StartSagaInTransaction(tx, "outboxed", {{"k", 1}}, "committed").status());
    // The same start twice in one transaction is one row, one saga.
    ASSERT_OK(StartSagaInTransaction(tx, "outboxed", {{"k", 1}}, "committed").status());
    EXPECT_EQ(StartSagaInTransaction(tx, "outboxed", {{"k", 2}}, "committed").status().code(),
              absl::StatusCode::kAlreadyExists);
    tx.commit();
  }
  ASSERT_TRUE(Eventually([&] { return Outbox("state = 'sent'") == 1; }, milliseconds(10'000)))
      << Logged();
  std::this_thread::sleep_for(milliseconds(300));  // Time for a wrong second send.
  EXPECT_EQ(Sagas("committed"), 1);
  EXPECT_EQ(Sagas("rolled-back"), 0);
  EXPECT_EQ(Outbox("true"), 1);
  const OutboxRelayStats stats = relay->stats();
  EXPECT_EQ(stats.sent, 1);
  EXPECT_EQ(stats.created, 1);
  auto saga = coordinator_->GetSaga("committed");
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(json::parse(saga->input_json()), json({{"k", 1}}));
}

TEST_F(OutboxTest, ServiceKilledRightAfterCommitIsStartedByAnotherRelay) {
  StartCoordinator();
  auto writer = ChildProcess::Spawn({::skald::testing::BuiltFile("outbox-test-process"),
                                     "commit-then-die", service_db_, "outboxed", "killed-writer"},
                                    dir_->File("writer.log"));
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_EQ((*writer)->WaitForExit(absl::Seconds(30)), 128 + SIGKILL);
  EXPECT_EQ(Outbox("state = 'pending' AND saga_id = $1", "killed-writer"), 1);
  EXPECT_EQ(Sagas("killed-writer"), 0);

  auto relay = StartRelay(RelayOptions(coordinator_->address()));
  EXPECT_TRUE(Eventually([&] { return Sagas("killed-writer") == 1; }, milliseconds(10'000)))
      << Logged();
  EXPECT_TRUE(Eventually([&] { return Outbox("state = 'sent'") == 1; }, milliseconds(5'000)));
}

// The fake coordinator: StartSaga of definition "hang" never answers before the caller's
// deadline; any other is created at once. Counts the calls.
class FakeSagaService final : public v1::SagaService::Service {
 public:
  grpc::Status StartSaga(grpc::ServerContext* context, const v1::StartSagaRequest* request,
                         v1::StartSagaResponse* response) override {
    ++calls;
    if (request->definition() == "hang") {
      ++hanging;
      for (int i = 0; i < 3000 && !context->IsCancelled(); ++i) {
        std::this_thread::sleep_for(milliseconds(10));
      }
      // The caller's own deadline has passed too, or is about to: either way the relay
      // records DEADLINE_EXCEEDED.
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "hung until the deadline (test)");
    }
    response->set_saga_id(request->saga_id());
    response->set_created(true);
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};
  std::atomic<int> hanging{0};
};

struct FakeCoordinator {
  FakeCoordinator() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
  }
  ~FakeCoordinator() { server->Shutdown(std::chrono::system_clock::now()); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  FakeSagaService service;
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

// LISTEN/NOTIFY: with no poll for 30 s, a commit still reaches the coordinator at once.
TEST_F(OutboxTest, ANotificationWakesTheRelayAtOnce) {
  FakeCoordinator fake;
  OutboxRelayOptions options = RelayOptions(fake.address());
  options.poll_interval = milliseconds(30'000);
  auto relay = StartRelay(options);
  // The relay has looked, found nothing, and sleeps.
  ASSERT_TRUE(Eventually([&] { return relay->stats().database_errors == 0 && Outbox("true") == 0; },
                         milliseconds(1000)));
  std::this_thread::sleep_for(milliseconds(500));
  for (int i = 0; i < 3; ++i) {
    const auto commit = std::chrono::steady_clock::now();
    CommitStarts({"woken-" + std::to_string(i)});
    ASSERT_TRUE(Eventually([&] { return fake.service.calls == i + 1; }, milliseconds(2000)));
    EXPECT_LT(std::chrono::steady_clock::now() - commit, milliseconds(1000));
    std::this_thread::sleep_for(milliseconds(200));
  }
}

TEST_F(OutboxTest, RelayKilledMidSendLeavesNoRowBehind) {
  FakeCoordinator hanging_coordinator;
  CommitStarts({"mid-send"}, "hang");
  auto relay_process =
      SpawnAndWaitReady({::skald::testing::BuiltFile("outbox-test-process"), "relay", service_db_,
                         hanging_coordinator.address(), dir_->File("relay.ready")},
                        dir_->File("relay.log"), dir_->File("relay.ready"));
  ASSERT_TRUE(relay_process.ok()) << relay_process.status();
  ASSERT_TRUE(
      Eventually([&] { return hanging_coordinator.service.hanging >= 1; }, milliseconds(10'000)));
  ASSERT_OK(relay_process->process->Kill());
  relay_process->process->WaitForExit(absl::Seconds(10));

  // The row is still pending, unclaimed: the definition is fixed and another relay sends it.
  EXPECT_EQ(Outbox("state = 'pending' AND attempts = 0"), 1);
  StartCoordinator();
  {
    pqxx::work tx(*connection_);
    tx.exec0("UPDATE skald.saga_outbox SET definition = 'outboxed'");
    tx.commit();
  }
  auto relay = StartRelay(RelayOptions(coordinator_->address()));
  EXPECT_TRUE(Eventually([&] { return Sagas("mid-send") == 1; }, milliseconds(10'000))) << Logged();
}

TEST_F(OutboxTest, HangingCoordinatorDoesNotStallOtherRows) {
  FakeCoordinator fake;
  OutboxRelayOptions options = RelayOptions(fake.address());
  options.call_deadline = milliseconds(300);
  options.initial_backoff = milliseconds(5000);  // The hanging row stays out of the way.
  options.max_backoff = milliseconds(5000);
  auto relay = StartRelay(options);
  CommitStarts({"hangs"}, "hang");
  const auto start = std::chrono::steady_clock::now();
  CommitStarts({"fine-1", "fine-2", "fine-3"});
  ASSERT_TRUE(Eventually([&] { return Outbox("state = 'sent'") == 3; }, milliseconds(5'000)))
      << Logged();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(3000));
  EXPECT_TRUE(Eventually(
      [&] {
        return Outbox("state = 'pending' AND attempts >= 1 AND error_code = 'DEADLINE_EXCEEDED'") ==
               1;
      },
      milliseconds(5'000)));
  // Later starts are not held up behind the hanging row's backoff either.
  CommitStarts({"fine-4"});
  EXPECT_TRUE(Eventually([&] { return Outbox("state = 'sent'") == 4; }, milliseconds(2'000)));
  EXPECT_GE(relay->stats().transient_failures, 1);
}

TEST_F(OutboxTest, CoordinatorDownThenBackAndTheLagRisesAndFalls) {
  StartCoordinator();
  auto relay = StartRelay(RelayOptions(coordinator_->address()));
  CommitStarts({"before-outage"});
  ASSERT_TRUE(Eventually([&] { return Sagas("before-outage") == 1; }, milliseconds(10'000)));
  EXPECT_TRUE(Eventually([&] { return relay->stats().backlog.pending == 0; }, milliseconds(3000)));

  ASSERT_OK(coordinator_->Stop(SIGKILL));
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) ids.push_back("during-outage-" + std::to_string(i));
  CommitStarts(ids);
  // The lag rises while the coordinator is away: rows pending, the oldest ever older.
  ASSERT_TRUE(Eventually(
      [&] {
        OutboxRelayStats stats = relay->stats();
        return stats.backlog.pending == 10 &&
               stats.backlog.oldest_pending_age >= milliseconds(1500);
      },
      milliseconds(10'000)))
      << Logged();
  EXPECT_GT(relay->stats().transient_failures, 0);
  EXPECT_EQ(Outbox("state = 'pending' AND error_code = 'UNAVAILABLE'"), 10);

  ASSERT_OK(coordinator_->Start());
  ASSERT_TRUE(Eventually([&] { return Sagas("during-outage-%") == 10; }, milliseconds(15'000)))
      << Logged();
  // ...and falls back to nothing once they are sent.
  EXPECT_TRUE(Eventually(
      [&] {
        OutboxRelayStats stats = relay->stats();
        return stats.backlog.pending == 0 && stats.backlog.oldest_pending_age == milliseconds(0);
      },
      milliseconds(5'000)));
  EXPECT_EQ(Outbox("state = 'sent'"), 11);
  EXPECT_NE(Logged().find("cannot start sagas now (UNAVAILABLE"), std::string::npos) << Logged();
}

TEST_F(OutboxTest, TwoRelaysSendEachRowOnce) {
  StartCoordinator();
  OutboxRelayOptions options = RelayOptions(coordinator_->address());
  options.batch_size = 4;  // Small batches: the two relays interleave.
  auto first = StartRelay(options);
  auto second = StartRelay(options);
  constexpr int kWriters = 4, kPerWriter = 50;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      pqxx::connection connection(service_db_);
      for (int i = 0; i < kPerWriter; ++i) {
        pqxx::work tx(connection);
        const std::string id = "two-" + std::to_string(w) + "-" + std::to_string(i);
        EXPECT_OK(StartSagaInTransaction(tx, "outboxed", json::object(), id).status());
        tx.commit();
      }
    });
  }
  for (auto& writer : writers) writer.join();
  ASSERT_TRUE(Eventually([&] { return Outbox("state = 'sent'") == kWriters * kPerWriter; },
                         milliseconds(60'000)))
      << Logged();
  EXPECT_EQ(Sagas("two-%"), kWriters * kPerWriter);
  const OutboxRelayStats a = first->stats(), b = second->stats();
  // Every row was sent by one relay, once: no repeat reached the coordinator.
  EXPECT_EQ(a.sent + b.sent, kWriters * kPerWriter);
  EXPECT_EQ(a.created + b.created, kWriters * kPerWriter);
  EXPECT_GT(a.sent, 0);
  EXPECT_GT(b.sent, 0);
}

TEST_F(OutboxTest, PermanentRefusalIsRecordedAndNotRetried) {
  StartCoordinator();
  auto relay = StartRelay(RelayOptions(coordinator_->address()));
  CommitStarts({"unknown-definition"}, "no-such-definition");
  CommitStarts({"known"});
  ASSERT_TRUE(Eventually([&] { return Outbox("state = 'refused'") == 1; }, milliseconds(10'000)))
      << Logged();
  std::this_thread::sleep_for(milliseconds(1500));  // Several backoffs and polls.
  EXPECT_EQ(Outbox("state = 'refused' AND attempts = 1"), 1);
  EXPECT_EQ(relay->stats().refused, 1);
  EXPECT_TRUE(Eventually([&] { return relay->stats().backlog.refused == 1; }, milliseconds(2000)));
  auto refused = ListRefusedStarts(*connection_);
  ASSERT_TRUE(refused.ok()) << refused.status();
  ASSERT_EQ(refused->size(), 1u);
  EXPECT_EQ((*refused)[0].saga_id, "unknown-definition");
  EXPECT_EQ((*refused)[0].definition, "no-such-definition");
  EXPECT_EQ((*refused)[0].error_code, "NOT_FOUND");
  EXPECT_NE((*refused)[0].error_message.find("no-such-definition"), std::string::npos)
      << (*refused)[0].error_message;
  EXPECT_NE(Logged().find("refused the start of saga unknown-definition for good (NOT_FOUND"),
            std::string::npos)
      << Logged();
  EXPECT_EQ(Sagas("known"), 1);

  // Once the definition exists, the operator sends it again.
  json definition = kDefinition;
  definition["name"] = "no-such-definition";
  ASSERT_TRUE(coordinator_->Apply(definition).ok());
  ASSERT_OK(RequeueRefusedStart(*connection_, "unknown-definition"));
  EXPECT_EQ(RequeueRefusedStart(*connection_, "unknown-definition").code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(Eventually([&] { return Sagas("unknown-definition") == 1; }, milliseconds(10'000)));
}

TEST_F(OutboxTest, SentRowsAreDeletedAfterTheRetention) {
  FakeCoordinator fake;
  OutboxRelayOptions options = RelayOptions(fake.address());
  options.retention = milliseconds(200);
  options.cleanup_interval = milliseconds(100);
  auto relay = StartRelay(options);
  CommitStarts({"kept-1", "kept-2"});
  EXPECT_TRUE(Eventually([&] { return Outbox("true") == 0; }, milliseconds(5000))) << Logged();
  EXPECT_EQ(relay->stats().cleaned, 2);
  EXPECT_EQ(fake.service.calls, 2);
}

// The example: `order-service place-order` commits the order and its saga's start together;
// the serving order-service's relay sends it. A refused order leaves neither.
TEST_F(OutboxTest, TheOrderServicePlacesOrdersThroughTheOutbox) {
  StartCoordinator();
  std::ifstream definition_file(ORDER_SAGA_DEFINITION);
  ASSERT_TRUE(coordinator_->Apply(json::parse(definition_file)).ok());
  auto serving = SpawnAndWaitReady(
      {ORDER_SERVICE_BINARY, "--db", service_db_, "--listen", "127.0.0.1:0", "--ready-file",
       dir_->File("order.ready"), "--relay-to", coordinator_->address()},
      dir_->File("order.log"), dir_->File("order.ready"));
  ASSERT_TRUE(serving.ok()) << serving.status();
  int runs = 0;
  auto order_service = [&](std::vector<std::string> args) {
    const std::string log = dir_->File("command-" + std::to_string(++runs) + ".log");
    args.insert(args.begin(), ORDER_SERVICE_BINARY);
    auto process = ChildProcess::Spawn(args, log);
    EXPECT_TRUE(process.ok()) << process.status();
    const std::optional<int> exit_code = (*process)->WaitForExit(absl::Seconds(60));
    std::stringstream output;
    output << std::ifstream(log).rdbuf();
    return std::make_pair(exit_code.value_or(-1), output.str());
  };
  auto placed = order_service(
      {"place-order", "--db", service_db_, "--input",
       R"({"order_id":"o-1","customer":"ada","sku":"widget","quantity":1,"amount":20})"});
  EXPECT_EQ(placed.first, 0) << placed.second;
  EXPECT_NE(placed.second.find("saga-o-1\n"), std::string::npos) << placed.second;
  EXPECT_EQ(Sagas("saga-o-1"), 1);  // --wait-sent: the relay has sent it.
  EXPECT_EQ(
      QueryCount(service_db_, "SELECT count(*) FROM orders.orders WHERE saga_id = $1", "saga-o-1"),
      1);

  for (const char* bad :
       {R"({"order_id":"o-2","customer":"ada","sku":"widget","quantity":0,"amount":20})",
        R"({"order_id":"o-1","customer":"bo","sku":"widget","quantity":1,"amount":20})",
        R"({"order_id":"o 3","customer":"ada","sku":"widget","quantity":1,"amount":20})",
        R"([1])"}) {
    auto refused = order_service({"place-order", "--db", service_db_, "--input", bad});
    EXPECT_EQ(refused.first, 1) << bad << "\n" << refused.second;
  }
  EXPECT_EQ(QueryCount(service_db_, "SELECT count(*) FROM orders.orders"), 1);
  EXPECT_EQ(Outbox("true"), 1);

  auto shown = order_service({"outbox", "--db", service_db_});
  EXPECT_EQ(shown.first, 0) << shown.second;
  EXPECT_NE(shown.second.find("pending 0, oldest 0 ms; refused 0"), std::string::npos)
      << shown.second;

  // A start the coordinator refuses for good: the order is placed (it committed), the refusal
  // is reported to the caller and listed for an operator.
  auto unknown = order_service(
      {"place-order", "--db", service_db_, "--definition", "missing-definition", "--input",
       R"({"order_id":"o-9","customer":"ada","sku":"widget","quantity":1,"amount":20})"});
  EXPECT_EQ(unknown.first, 1) << unknown.second;
  EXPECT_NE(unknown.second.find("the coordinator refused saga saga-o-9: NOT_FOUND"),
            std::string::npos)
      << unknown.second;
  shown = order_service({"outbox", "--db", service_db_});
  EXPECT_NE(shown.second.find("refused saga-o-9 (missing-definition) at "), std::string::npos)
      << shown.second;
}

TEST_F(OutboxTest, HostileInputIsRefusedBeforeAnythingIsWritten) {
  pqxx::work tx(*connection_);
  auto code = [&](std::string_view definition, const json& input, std::string_view id,
                  SagaStartOptions options = {}) {
    return StartSagaInTransaction(tx, definition, input, id, options).status().code();
  };
  using absl::StatusCode;
  EXPECT_EQ(code("outboxed", json::object(), "bad id"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("outboxed", json::object(), "-leading"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("outboxed", json::object(), std::string(129, 'a')), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("outboxed", json::object(), std::string("nul\0id", 6)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code("outboxed", json::object(), "valid-one"), StatusCode::kOk);
  EXPECT_EQ(code("out boxed", json::object(), "x1"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("", json::object(), "x2"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("outboxed", json::array(), "x3"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("outboxed", json("text"), "x4"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("outboxed", {{"pad", std::string(1 << 20, 'x')}}, "x5"),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(code("outboxed", {{"nul", std::string("a\0b", 3)}}, "x6"),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code("outboxed", {{"utf8", std::string("\xff\xfe")}}, "x7"),
            StatusCode::kInvalidArgument);
  json deep = json::object();
  for (int i = 0; i < 100; ++i) deep = json{{"d", deep}};
  EXPECT_EQ(code("outboxed", deep, "x8"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("outboxed", json::object(), "x9", {.version = -1}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("outboxed", json::object(), "x10", {.callback_url = "file:///etc/passwd"}),
            StatusCode::kInvalidArgument);
  auto message = StartSagaInTransaction(tx, "outboxed", {{"pad", std::string(2 << 20, 'x')}}, "y")
                     .status()
                     .message();
  EXPECT_NE(std::string(message).find("over the limit of 1048576"), std::string::npos) << message;
  // The transaction is still usable, and only the one valid start is in it.
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM skald.saga_outbox")[0].as<int>(), 1);
  tx.abort();
  EXPECT_EQ(Outbox("true"), 0);

  // Relay options are checked too.
  EXPECT_EQ(OutboxRelay::Start({.db_url = service_db_}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(OutboxRelay::Start(
                {.db_url = service_db_, .coordinator = {.address = "x:1"}, .batch_size = 0})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      OutboxRelay::Start({.db_url = service_db_,
                          .coordinator = {.address = "x:1", .tls = {.ca_file = "/nonexistent"}}})
          .status()
          .code(),
      StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace skald::testing
