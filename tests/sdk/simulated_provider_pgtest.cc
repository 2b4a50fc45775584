// The order example's simulated card provider (examples/order-saga/simulated_provider.h)
// against a real PostgreSQL and a fake skald.v1.SagaService on loopback: a pending request is
// heartbeated, then confirmed (charge recorded) and completed with the charge; a request
// whose heartbeat the coordinator refuses for good is dropped without charging.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/database.h"
#include "simulated_provider.h"
#include "skald/v1/saga_service.grpc.pb.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_postgres.h"

namespace skald::examples {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// What payment-service creates besides the provider's table.
constexpr const char* kChargesDdl = R"sql(
CREATE SCHEMA IF NOT EXISTS payments;
CREATE TABLE IF NOT EXISTS payments.charges (
  charge_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  saga_id text NOT NULL, step text NOT NULL, amount numeric NOT NULL CHECK (amount > 0),
  status text NOT NULL CHECK (status IN ('CHARGED', 'REFUNDED')),
  created_at timestamptz NOT NULL DEFAULT now(), refunded_at timestamptz,
  UNIQUE (saga_id, step));
)sql";

// Records requests; refuses heartbeats with `heartbeat_refusal` when set.
class FakeSagaService final : public v1::SagaService::Service {
 public:
  grpc::Status CompleteStep(grpc::ServerContext*, const v1::CompleteStepRequest* request,
                            v1::CompleteStepResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    completions_.push_back(*request);
    response->set_saga_id("saga-1");
    return grpc::Status::OK;
  }
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse*) override {
    std::lock_guard<std::mutex> lock(mu_);
    heartbeats_.push_back(*request);
    return heartbeat_refusal_;
  }
  void RefuseHeartbeats(grpc::Status refusal) {
    std::lock_guard<std::mutex> lock(mu_);
    heartbeat_refusal_ = std::move(refusal);
  }
  std::vector<v1::CompleteStepRequest> completions() {
    std::lock_guard<std::mutex> lock(mu_);
    return completions_;
  }
  std::vector<v1::HeartbeatRequest> heartbeats() {
    std::lock_guard<std::mutex> lock(mu_);
    return heartbeats_;
  }

 private:
  std::mutex mu_;
  grpc::Status heartbeat_refusal_;
  std::vector<v1::CompleteStepRequest> completions_;
  std::vector<v1::HeartbeatRequest> heartbeats_;
};

class SimulatedProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> url = skald::testing::FreshDatabase("provider");
    ASSERT_OK(url);
    url_ = *url;
    pool_ = NewConnectionPool(url_, 4);
    ASSERT_OK(ApplySchema(*pool_, kChargesDdl));
    ASSERT_OK(ApplySchema(*pool_, kProviderRequestsDdl));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  void TearDown() override {
    if (provider_) provider_->Stop();
    server_->Shutdown(std::chrono::system_clock::now() + seconds(2));
  }

  void StartProvider() {
    absl::StatusOr<std::unique_ptr<StepCompleter>> completer = StepCompleter::Create(
        {.address = address_}, {.try_deadline = seconds(1), .total_deadline = seconds(2)});
    ASSERT_OK(completer);
    provider_ = std::make_unique<SimulatedProvider>(
        pool_, *std::move(completer),
        SimulatedProvider::Options{.confirm_after = milliseconds(600),
                                   .heartbeat_every = milliseconds(100),
                                   .poll_every = milliseconds(50)});
    provider_->Start();
  }

  std::string Query(const std::string& sql) {
    pqxx::connection connection(url_);
    pqxx::work tx(connection);
    const pqxx::result r = tx.exec(sql);
    tx.commit();
    return r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
  }

  void Request(const std::string& token) {
    Query(
        "INSERT INTO payments.provider_requests (completion_token, saga_id, step, amount, state)"
        " VALUES ('" +
        token + "', 'saga-1', 'charge-payment', 800, 'PENDING') RETURNING 1");
  }

  // Waits at most 10 s for `done`.
  static bool WaitFor(const std::function<bool()>& done) {
    for (int i = 0; i < 200; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return done();
  }

  std::string url_;
  std::shared_ptr<ConnectionSource> pool_;
  FakeSagaService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::unique_ptr<SimulatedProvider> provider_;
};

TEST_F(SimulatedProviderTest, HeartbeatsThenRecordsTheChargeAndCompletesTheStepWithIt) {
  Request("tok-1");
  StartProvider();
  ASSERT_TRUE(WaitFor([&] { return !service_.completions().empty(); }));

  // While the provider "worked" (600 ms), the step was heartbeated under its token.
  const std::vector<v1::HeartbeatRequest> heartbeats = service_.heartbeats();
  ASSERT_GE(heartbeats.size(), 2u);
  for (const v1::HeartbeatRequest& heartbeat : heartbeats) {
    EXPECT_EQ(heartbeat.completion_token(), "tok-1");
  }
  const std::vector<v1::CompleteStepRequest> completions = service_.completions();
  ASSERT_EQ(completions.size(), 1u);
  EXPECT_EQ(completions[0].completion_token(), "tok-1");
  EXPECT_EQ(completions[0].result().outcome(), v1::OUTCOME_SUCCESS);
  const nlohmann::json output = nlohmann::json::parse(completions[0].result().output_json());
  EXPECT_EQ(output.at("charge_id"),
            Query("SELECT charge_id::text FROM payments.charges WHERE saga_id = 'saga-1'"));
  EXPECT_EQ(output.at("amount"), 800);
  EXPECT_EQ(Query("SELECT status FROM payments.charges WHERE saga_id = 'saga-1'"), "CHARGED");
  ASSERT_TRUE(WaitFor([&] {
    return Query("SELECT state || ' ' || completion_sent FROM payments.provider_requests") ==
           "CONFIRMED true";
  }));
  // Nothing is sent again once the completion got through.
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(service_.completions().size(), 1u);
}

TEST_F(SimulatedProviderTest, RequestWhoseHeartbeatIsRefusedForGoodIsDroppedWithoutCharging) {
  service_.RefuseHeartbeats(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                         "the token is for attempt 1; the step is at attempt 2"));
  Request("tok-old");
  StartProvider();
  ASSERT_TRUE(WaitFor(
      [&] { return Query("SELECT state FROM payments.provider_requests") == "SUPERSEDED"; }));
  std::this_thread::sleep_for(milliseconds(800));  // Past confirm_after: still no charge.
  EXPECT_EQ(Query("SELECT count(*) FROM payments.charges"), "0");
  EXPECT_TRUE(service_.completions().empty());
}

TEST_F(SimulatedProviderTest, CancelledRequestIsNeverConfirmed) {
  Request("tok-1");
  Query("UPDATE payments.provider_requests SET state = 'CANCELLED' RETURNING 1");
  StartProvider();
  std::this_thread::sleep_for(milliseconds(1000));
  EXPECT_EQ(Query("SELECT count(*) FROM payments.charges"), "0");
  EXPECT_TRUE(service_.completions().empty());
  EXPECT_TRUE(service_.heartbeats().empty());
}

}  // namespace
}  // namespace skald::examples
