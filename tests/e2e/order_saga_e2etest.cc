// The order saga end to end: real coordinator, real participants, real PostgreSQL. Every
// test checks the saga's final state *and* the participants' own tables.
#include <gtest/gtest.h>
#include <signal.h>

#include "tests/e2e/order_system.h"

namespace skald::testing {
namespace {

using nlohmann::json;

json Order(const std::string& id, int quantity = 2, int amount = 150) {
  return {{"order_id", id},
          {"customer", "ada"},
          {"sku", "widget"},
          {"quantity", quantity},
          {"amount", amount}};
}

json WithReview(json order) {
  order["review"] = true;
  return order;
}

std::vector<std::string> StepStatesInOrder(const v1::Saga& saga) {
  std::vector<std::string> states;
  for (const v1::Step& step : saga.steps()) {
    states.push_back(v1::StepState_Name(step.state()).substr(sizeof("STEP_STATE_") - 1));
  }
  return states;
}

class OrderSagaTest : public ::testing::Test {
 protected:
  void StartSystem(OrderSystem::Options options = {}) {
    auto system = OrderSystem::Start(std::move(options));
    ASSERT_TRUE(system.ok()) << system.status();
    system_ = std::move(*system);
  }

  v1::Saga RunToEnd(const json& input) {
    auto id = system_->StartOrder(input);
    EXPECT_TRUE(id.ok()) << id.status();
    if (!id.ok()) return {};
    auto saga = system_->WaitForEnd(*id);
    EXPECT_TRUE(saga.ok()) << saga.status();
    return saga.ok() ? *saga : v1::Saga();
  }

  long long Shop(const std::string& sql, const std::string& param = "") {
    return system_->ShopCount(sql, param);
  }
  // Applies `version` of the example with the payment step retried for about 10 s, so that
  // a test can keep the payment service away for a while.
  void ApplyPatientPayment(int version) {
    json definition = system_->FastDefinition();
    definition["version"] = version;
    definition["steps"][2]["retry"] = {
        {"max_attempts", 60}, {"initial_interval", "100ms"}, {"max_interval", "200ms"}};
    grpc::Status applied = system_->Apply(definition);
    ASSERT_TRUE(applied.ok()) << applied.error_message();
  }

  long long Widgets() { return Shop("SELECT quantity FROM inventory.stock WHERE sku = 'widget'"); }

  std::unique_ptr<OrderSystem> system_;
};

TEST_F(OrderSagaTest, AnOrderCompletesWithEveryEffectApplied) {
  StartSystem();
  v1::Saga saga = RunToEnd(Order("o-1", 2, 150));
  EXPECT_EQ(saga.state(), v1::SAGA_STATE_COMPLETED) << saga.DebugString();
  EXPECT_EQ(StepStatesInOrder(saga),
            (std::vector<std::string>{"SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"}));
  for (const v1::Step& step : saga.steps()) EXPECT_EQ(step.attempts(), 1) << step.name();
  EXPECT_EQ(json::parse(saga.steps(0).output_json())["order_id"], "o-1");

  EXPECT_EQ(Shop("SELECT count(*) FROM orders.orders WHERE order_id = 'o-1' AND "
                 "status = 'CONFIRMED'"),
            1);
  EXPECT_EQ(Widgets(), kInitialWidgets - 2);
  EXPECT_EQ(Shop("SELECT count(*) FROM inventory.reservations WHERE saga_id = $1 AND "
                 "status = 'RESERVED'",
                 saga.id()),
            1);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges WHERE saga_id = $1 AND "
                 "status = 'CHARGED' AND amount = 150",
                 saga.id()),
            1);
  // The saga output collects what the steps produced.
  auto output = system_->SagaOutput(saga.id());
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_EQ((*output)["order_id"], "o-1") << *output;
  EXPECT_EQ((*output)["status"], "CONFIRMED") << *output;
  EXPECT_EQ((*output)["reservation_id"], json::parse(saga.steps(1).output_json())["reservation_id"])
      << *output;
  EXPECT_EQ((*output)["charge_id"], json::parse(saga.steps(2).output_json())["charge_id"])
      << *output;
  EXPECT_TRUE((*output)["charge_id"].is_string()) << *output;

  // Every state change is in the coordinator's history.
  EXPECT_EQ(system_->CoordinatorCount(
                "SELECT count(*) FROM saga_events WHERE saga_id = $1 AND type = 'saga_completed'",
                saga.id()),
            1);
  EXPECT_EQ(
      system_->CoordinatorCount("SELECT count(*) FROM saga_events WHERE saga_id = $1 AND type = "
                                "'attempt_started'",
                                saga.id()),
      4);
}

struct FailureCase {
  std::string label;
  json input;
  int failing_step;
  std::string error_code;
  // Step states in definition order. create-order and reserve-stock run in parallel, so
  // when one fails the other has succeeded and is compensated too.
  std::vector<std::string> states;
  int refunded_charges;
};

void PrintTo(const FailureCase& c, std::ostream* out) { *out << c.label; }

class BusinessFailureTest : public OrderSagaTest,
                            public ::testing::WithParamInterface<FailureCase> {};

TEST_P(BusinessFailureTest, CompensatesEveryCompletedStep) {
  StartSystem();
  const FailureCase& c = GetParam();
  v1::Saga saga = RunToEnd(c.input);
  ASSERT_EQ(saga.state(), v1::SAGA_STATE_COMPENSATED) << saga.DebugString();
  EXPECT_NE(saga.error().find(c.error_code), std::string::npos) << saga.error();
  EXPECT_EQ(StepStatesInOrder(saga), c.states) << saga.DebugString();
  // Payment is called only once the order and the stock are secured.
  EXPECT_EQ(saga.steps(2).attempts(), c.failing_step >= 2 ? 1 : 0);
  EXPECT_EQ(saga.steps(c.failing_step).attempts(), 1) << "business failures are not retried";

  // Whatever happened is undone: no live order, stock back, no money taken.
  EXPECT_EQ(Shop("SELECT count(*) FROM orders.orders WHERE status <> 'CANCELLED'"), 0);
  EXPECT_EQ(Shop("SELECT count(*) FROM orders.orders WHERE status = 'CANCELLED'"),
            c.failing_step >= 1 ? 1 : 0);
  EXPECT_EQ(Widgets(), kInitialWidgets);
  EXPECT_EQ(Shop("SELECT count(*) FROM inventory.reservations WHERE status = 'RESERVED'"), 0);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges WHERE status = 'CHARGED'"), 0);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges WHERE status = 'REFUNDED'"),
            c.refunded_charges);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges"), c.refunded_charges);
}

INSTANTIATE_TEST_SUITE_P(
    EachStep, BusinessFailureTest,
    ::testing::Values(
        // create-order and reserve-stock run side by side: the reservation is released.
        FailureCase{"create_order_invalid",
                    Order("o-bad", 2, 0),
                    0,
                    "invalid_order",
                    {"FAILED", "COMPENSATED", "PENDING", "PENDING"},
                    0},
        // The order is cancelled and payment is never called (SCENARIOS.md, row 3).
        FailureCase{"stock_insufficient",
                    Order("o-big", 500),
                    1,
                    "insufficient_stock",
                    {"COMPENSATED", "FAILED", "PENDING", "PENDING"},
                    0},
        FailureCase{"payment_declined",
                    Order("o-rich", 1, 5000),
                    2,
                    "card_declined",
                    {"COMPENSATED", "COMPENSATED", "FAILED", "PENDING"},
                    0},
        // confirm-order is the pivot: its business failure compensates every step before it.
        FailureCase{"confirm_needs_review",
                    WithReview(Order("o-review")),
                    3,
                    "manual_review_required",
                    {"COMPENSATED", "COMPENSATED", "COMPENSATED", "FAILED"},
                    1}),
    [](const auto& info) { return info.param.label; });

TEST_F(OrderSagaTest, ATransientFailureIsRetriedAndChargesOnce) {
  StartSystem({.participant_flags = {{Service::kPayment, {"--fail-first-attempts", "2"}}}});
  v1::Saga saga = RunToEnd(Order("o-flaky"));
  ASSERT_EQ(saga.state(), v1::SAGA_STATE_COMPLETED) << saga.DebugString();
  EXPECT_EQ(saga.steps(2).name(), "charge-payment");
  EXPECT_EQ(saga.steps(2).attempts(), 3);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges WHERE status = 'CHARGED'"), 1);
  EXPECT_EQ(
      system_->CoordinatorCount("SELECT count(*) FROM saga_events WHERE saga_id = $1 AND type = "
                                "'retry_scheduled' AND step = 'charge-payment'",
                                saga.id()),
      2);
}

TEST_F(OrderSagaTest, StartingTwiceWithOneIdRunsOneSaga) {
  StartSystem();
  auto first = system_->StartOrder(Order("o-twice"), "client-id-1");
  auto second = system_->StartOrder(Order("o-twice"), "client-id-1");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, "client-id-1");
  EXPECT_EQ(*second, "client-id-1");
  auto saga = system_->WaitForEnd("client-id-1");
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(saga->state(), v1::SAGA_STATE_COMPLETED);
  EXPECT_EQ(Shop("SELECT count(*) FROM orders.orders"), 1);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges"), 1);
  EXPECT_EQ(system_->CoordinatorCount("SELECT count(*) FROM sagas"), 1);
}

TEST_F(OrderSagaTest, BadRequestsAreRejectedNamingThePlaceAndStoreNothing) {
  StartSystem();
  json broken = system_->FastDefinition();
  broken["steps"][2].erase("action");
  grpc::Status applied = system_->Apply(broken);
  EXPECT_EQ(applied.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(applied.error_message(),
            "definition: steps[2].action: required string field is missing");

  v1::StartSagaRequest request;
  request.set_definition("order");
  request.set_input_json("{\"order_id\": ");
  v1::StartSagaResponse response;
  grpc::ClientContext context;
  grpc::Status started = system_->client().StartSaga(&context, request, &response);
  EXPECT_EQ(started.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(started.error_message().find("input_json"), std::string::npos);

  auto valid = system_->StartOrder(Order("o-x"), "");
  ASSERT_TRUE(valid.ok());
  v1::StartSagaRequest missing;
  missing.set_definition("no-such-saga");
  grpc::ClientContext context2;
  grpc::Status not_found = system_->client().StartSaga(&context2, missing, &response);
  EXPECT_EQ(not_found.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(not_found.error_message().find("no-such-saga"), std::string::npos);

  v1::StartSagaRequest oversized;
  oversized.set_definition("order");
  oversized.set_input_json("{\"pad\": \"" + std::string(2 << 20, 'x') + "\"}");
  grpc::ClientContext context3;
  grpc::Status too_big = system_->client().StartSaga(&context3, oversized, &response);
  EXPECT_EQ(too_big.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(too_big.error_message().find("input_json"), std::string::npos);

  // Only the one valid start was stored, and it is unaffected.
  EXPECT_EQ(system_->CoordinatorCount("SELECT count(*) FROM sagas"), 1);
  auto saga = system_->WaitForEnd(*valid);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(saga->state(), v1::SAGA_STATE_COMPLETED);
}

TEST_F(OrderSagaTest, AParticipantDownForAWhileIsRetriedUntilItReturns) {
  StartSystem();
  ApplyPatientPayment(2);
  ASSERT_TRUE(system_->StopParticipant(Service::kPayment, SIGTERM).ok());

  auto id = system_->StartOrder(Order("o-down"));
  ASSERT_TRUE(id.ok());
  auto retrying = system_->WaitFor(
      *id, [](const v1::Saga& s) { return s.steps(2).attempts() >= 3; }, absl::Seconds(20));
  ASSERT_TRUE(retrying.ok()) << retrying.status();
  EXPECT_EQ(retrying->state(), v1::SAGA_STATE_RUNNING);

  ASSERT_TRUE(system_->StartParticipant(Service::kPayment).ok());
  auto saga = system_->WaitForEnd(*id);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(saga->state(), v1::SAGA_STATE_COMPLETED) << saga->DebugString();
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges WHERE status = 'CHARGED'"), 1);
}

TEST_F(OrderSagaTest, ACoordinatorKilledMidSagaFinishesItAfterRestart) {
  StartSystem();
  ApplyPatientPayment(2);
  ASSERT_TRUE(system_->StopParticipant(Service::kPayment, SIGTERM).ok());
  auto id = system_->StartOrder(Order("o-crash"));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(
      system_
          ->WaitFor(
              *id, [](const v1::Saga& s) { return s.steps(2).attempts() >= 2; }, absl::Seconds(20))
          .ok());

  ASSERT_TRUE(system_->StopCoordinator(SIGKILL).ok());
  ASSERT_TRUE(system_->StartParticipant(Service::kPayment).ok());
  ASSERT_TRUE(system_->StartCoordinator().ok());

  auto saga = system_->WaitForEnd(*id);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(saga->state(), v1::SAGA_STATE_COMPLETED) << saga->DebugString();
  EXPECT_EQ(Shop("SELECT count(*) FROM orders.orders WHERE status = 'CONFIRMED'"), 1);
  EXPECT_EQ(Widgets(), kInitialWidgets - 2);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges WHERE status = 'CHARGED'"), 1);
}

TEST_F(OrderSagaTest, SagasKeepTheVersionTheyStartedWith) {
  StartSystem();
  ApplyPatientPayment(2);
  ASSERT_TRUE(system_->StopParticipant(Service::kPayment, SIGTERM).ok());
  auto on_v2 = system_->StartOrder(Order("o-v2"));
  ASSERT_TRUE(on_v2.ok());
  ASSERT_TRUE(system_
                  ->WaitFor(
                      *on_v2, [](const v1::Saga& s) { return s.steps(2).attempts() >= 1; },
                      absl::Seconds(20))
                  .ok());

  // Version 3 drops confirm-order while the v2 saga waits on payment.
  json v3 = system_->FastDefinition();
  v3["version"] = 3;
  v3["steps"].erase(3);
  v3.erase("output");
  ASSERT_TRUE(system_->Apply(v3).ok());
  ASSERT_TRUE(system_->StartParticipant(Service::kPayment).ok());
  // The v3 saga starts once the v2 one has reached the restarted payment service: v3 keeps
  // the fast definition's few quick retries, which could all fall inside the coordinator's
  // reconnect backoff (up to 1 s) to the service that was down.
  auto old_saga = system_->WaitForEnd(*on_v2);
  auto on_v3 = system_->StartOrder(Order("o-v3"));
  ASSERT_TRUE(on_v3.ok());
  auto new_saga = system_->WaitForEnd(*on_v3);
  ASSERT_TRUE(old_saga.ok() && new_saga.ok());
  EXPECT_EQ(old_saga->state(), v1::SAGA_STATE_COMPLETED);
  EXPECT_EQ(old_saga->definition_version(), 2);
  EXPECT_EQ(old_saga->steps_size(), 4) << "finished on the steps it started with";
  EXPECT_EQ(new_saga->state(), v1::SAGA_STATE_COMPLETED) << new_saga->DebugString();
  EXPECT_EQ(new_saga->definition_version(), 3);
  EXPECT_EQ(new_saga->steps_size(), 3);
  EXPECT_EQ(Shop("SELECT count(*) FROM orders.orders WHERE status = 'CONFIRMED'"), 1);
  EXPECT_EQ(Shop("SELECT count(*) FROM orders.orders WHERE status = 'PENDING'"), 1);

  // Re-applying v3 unchanged is a no-op; changing it under the same version is refused.
  EXPECT_TRUE(system_->Apply(v3).ok());
  v3["steps"][0]["action"] = "make";
  EXPECT_EQ(system_->Apply(v3).error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

}  // namespace
}  // namespace skald::testing
