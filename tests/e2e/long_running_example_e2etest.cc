// The order example's long-running steps end to end (examples/order-saga/order-approval.json):
// the real coordinator and the example participants as processes. order-service's "approve"
// answers accepted and logs its token; the test approves with CompleteStep; payment-service
// (--async-charges-over) hands the charge to its simulated provider, which heartbeats it
// through the SDK's StepCompleter past the step's heartbeat_timeout (5 s) and then completes
// it from its "webhook".

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "tests/e2e/order_system.h"

namespace skald::testing {
namespace {

nlohmann::json ApprovalDefinition() {
  std::string path = ORDER_SAGA_DEFINITION;
  path = path.substr(0, path.rfind('/')) + "/order-approval.json";
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return nlohmann::json::parse(text.str());
}

TEST(LongRunningExampleTest, ApprovedOrderIsChargedByTheProviderKeptAliveByHeartbeats) {
  absl::StatusOr<std::unique_ptr<OrderSystem>> system = OrderSystem::Start(
      {.participant_flags = {{Service::kPayment,
                              {"--async-charges-over", "500", "--provider-delay-ms", "6500",
                               "--heartbeat-every-ms", "500"}}},
       .discovery = true});
  ASSERT_TRUE(system.ok()) << system.status();
  OrderSystem& shop = **system;
  const grpc::Status applied = shop.Apply(ApprovalDefinition());
  ASSERT_TRUE(applied.ok()) << applied.error_message();

  v1::StartSagaRequest start;
  start.set_definition("order-approval");
  start.set_input_json(
      R"({"order_id":"big-1","customer":"ada","sku":"widget","quantity":2,"amount":800})");
  v1::StartSagaResponse started;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const grpc::Status status = shop.client().StartSaga(&context, start, &started);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  const std::string id = started.saga_id();

  absl::StatusOr<v1::Saga> waiting = shop.WaitFor(
      id, [](const v1::Saga& s) { return s.steps(2).state() == v1::STEP_STATE_WAITING; },
      absl::Seconds(20));
  ASSERT_TRUE(waiting.ok()) << waiting.status() << shop.LogTail("order");

  // The operator's way to the token: order-service's log line.
  std::smatch match;
  const std::string log = shop.LogTail("order");
  ASSERT_TRUE(std::regex_search(log, match, std::regex("skald step complete (\\S+)"))) << log;
  v1::CompleteStepRequest approve;
  approve.set_completion_token(match[1].str());
  approve.mutable_result()->set_outcome(v1::OUTCOME_SUCCESS);
  approve.mutable_result()->set_output_json(R"({"approved_by":"e2e"})");
  v1::CompleteStepResponse approved;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const grpc::Status status = shop.client().CompleteStep(&context, approve, &approved);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  absl::StatusOr<v1::Saga> done = shop.WaitForEnd(id, absl::Seconds(40));
  ASSERT_TRUE(done.ok()) << done.status() << shop.LogTail("payment");
  EXPECT_EQ(done->state(), v1::SAGA_STATE_COMPLETED) << done->DebugString();
  // One attempt, although the provider took longer than the heartbeat timeout.
  EXPECT_EQ(done->steps(3).name(), "charge-payment");
  EXPECT_EQ(done->steps(3).attempts(), 1) << done->DebugString();
  absl::StatusOr<nlohmann::json> output = shop.SagaOutput(id);
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_EQ((*output)["charge"]["confirmed_by"], "provider webhook") << *output;
  EXPECT_EQ((*output)["approval"]["approved_by"], "e2e") << *output;
  EXPECT_EQ(shop.ShopCount("SELECT count(*) FROM payments.charges WHERE status = 'CHARGED'"), 1);
  EXPECT_EQ(shop.ShopCount("SELECT count(*) FROM payments.provider_requests"
                           " WHERE state = 'CONFIRMED' AND completion_sent"),
            1);
  EXPECT_GE(shop.CountLogLines(Service::kPayment, "provider: completed saga"), 1);
}

}  // namespace
}  // namespace skald::testing
