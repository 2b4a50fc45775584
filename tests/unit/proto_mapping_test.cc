#include "coordinator/api/proto_mapping.h"

#include <gtest/gtest.h>

namespace skald::api {
namespace {

TEST(StatusCodeName, NamesEveryCodeAsGrpcSpellsIt) {
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::NOT_FOUND), "NOT_FOUND");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::UNAVAILABLE), "UNAVAILABLE");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(static_cast<grpc::StatusCode>(42)), "CODE_42");
}

TEST(ToGrpc, KeepsCodeAndMessage) {
  grpc::Status status = ToGrpc(absl::NotFoundError("no saga with id \"x\""));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "no saga with id \"x\"");
  EXPECT_TRUE(ToGrpc(absl::OkStatus()).ok());
}

// Issue 13: GetSaga repeated the saga's input in every step that got it unchanged, so a
// finished 4-step saga with a 0.9 MB input made a 4.5 MB response over the clients' limit.
TEST(ToWire, AStepCalledWithTheSagaInputRefersToItInsteadOfRepeatingIt) {
  store::SagaRecord record;
  record.state.id = "s-1";
  record.state.input = {{"blob", std::string(900'000, 'x')}};
  record.step_names = {"a", "b", "c", "d"};
  for (int i = 0; i < 4; ++i) {
    core::StepState step;
    step.status = core::StepStatus::kSucceeded;
    step.input = i == 3 ? nlohmann::json{{"only", "this"}} : record.state.input;
    record.state.steps.push_back(step);
  }
  record.state.steps[2].input = nullptr;  // never called
  v1::Saga saga;
  ToWire(record, /*with_steps=*/true, saga);
  EXPECT_LT(saga.ByteSizeLong(), 1'000'000u);
  EXPECT_TRUE(saga.steps(0).input_is_saga_input());
  EXPECT_EQ(saga.steps(0).input_json(), "");
  EXPECT_TRUE(saga.steps(1).input_is_saga_input());
  EXPECT_FALSE(saga.steps(2).input_is_saga_input());
  EXPECT_EQ(saga.steps(2).input_json(), "");
  EXPECT_FALSE(saga.steps(3).input_is_saga_input());
  EXPECT_EQ(saga.steps(3).input_json(), R"({"only":"this"})");
}

}  // namespace
}  // namespace skald::api
