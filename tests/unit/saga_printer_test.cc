#include "coordinator/cli/saga_printer.h"

#include <gtest/gtest.h>

#include <sstream>

namespace skald::cli {
namespace {

v1::Saga SampleSaga() {
  v1::Saga saga;
  saga.set_id("order-1");
  saga.set_definition("order");
  saga.set_definition_version(2);
  saga.set_state(v1::SAGA_STATE_COMPENSATED);
  saga.set_input_json(R"({"amount":5000})");
  saga.set_error("step charge failed: card_declined: over limit");
  v1::Step* step = saga.add_steps();
  step->set_name("create-order");
  step->set_state(v1::STEP_STATE_COMPENSATED);
  step->set_attempts(1);
  step->set_compensation_attempts(1);
  step->set_output_json(R"({"order_id":"o-1"})");
  step = saga.add_steps();
  step->set_name("charge");
  step->set_state(v1::STEP_STATE_FAILED);
  step->set_attempts(1);
  step->set_error("card_declined: over limit");
  return saga;
}

TEST(SagaToJson, HasTheDocumentedFieldsWithPayloadsAsJson) {
  nlohmann::json json = SagaToJson(SampleSaga());
  EXPECT_EQ(json["id"], "order-1");
  EXPECT_EQ(json["definition"], "order");
  EXPECT_EQ(json["version"], 2);
  EXPECT_EQ(json["state"], "COMPENSATED");
  EXPECT_EQ(json["input"]["amount"], 5000);
  ASSERT_EQ(json["steps"].size(), 2u);
  EXPECT_EQ(json["steps"][0]["name"], "create-order");
  EXPECT_EQ(json["steps"][0]["state"], "COMPENSATED");
  EXPECT_EQ(json["steps"][0]["attempts"], 1);
  EXPECT_EQ(json["steps"][0]["output"]["order_id"], "o-1");
  EXPECT_TRUE(json["steps"][1]["output"].is_null());
  EXPECT_EQ(json["steps"][1]["error"], "card_declined: over limit");
  EXPECT_EQ(json["steps"][1]["state"], "FAILED");
  EXPECT_FALSE(json.contains("traceparent")) << "not in listings";
  v1::Saga traced = SampleSaga();
  traced.set_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(SagaToJson(traced)["traceparent"],
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
}

TEST(PrintSaga, ShowsStateErrorAndOneLinePerStep) {
  std::ostringstream out;
  PrintSaga(SampleSaga(), out);
  const std::string text = out.str();
  EXPECT_NE(text.find("order v2"), std::string::npos);
  EXPECT_NE(text.find("COMPENSATED"), std::string::npos);
  EXPECT_NE(text.find("step charge failed"), std::string::npos);
  EXPECT_NE(text.find("create-order"), std::string::npos);
  EXPECT_NE(text.find("FAILED"), std::string::npos);
  EXPECT_EQ(text.find("trace "), std::string::npos);
  v1::Saga traced = SampleSaga();
  traced.set_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  std::ostringstream traced_out;
  PrintSaga(traced, traced_out);
  EXPECT_NE(
      traced_out.str().find("trace       00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
      std::string::npos);
}

TEST(StateName, StripsTheEnumPrefix) {
  EXPECT_EQ(StateName(v1::SAGA_STATE_FAILED), "FAILED");
  EXPECT_EQ(StateName(v1::STEP_STATE_COMPENSATION_FAILED), "COMPENSATION_FAILED");
}

}  // namespace
}  // namespace skald::cli
