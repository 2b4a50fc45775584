// Limits against the real coordinator (issue 8, point 3; docs/security.md): each one, set
// small by its flag, refuses the request that goes over it with the documented code and a
// message naming the limit's flag, counts it at /metrics, and stores nothing.
#include <gtest/gtest.h>

#include <thread>

#include "tests/e2e/api_client.h"
#include "tests/e2e/saga_harness.h"
#include "tests/support/ready_file.h"

namespace skald::testing {
namespace {

using nlohmann::json;

class LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("skald-limits-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    const std::string http_ready = dir_->path() + "/http.ready";
    auto harness = SagaHarness::Start(
        1, {"--max-request-bytes",    "20000",   "--max-input-bytes",   "1000",
            "--max-definition-bytes", "2000",    "--max-steps",         "3",
            "--max-name-length",      "40",      "--max-text-length",   "100",
            "--max-page-size",        "20",      "--max-watch-streams", "2",
            "--max-output-bytes",     "300",     "--http-listen",       "127.0.0.1:0",
            "--http-ready-file",      http_ready});
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = std::move(*harness);
    auto http = WaitForReadyFile(http_ready, absl::Seconds(10));
    ASSERT_TRUE(http.ok()) << http.status();
    http_address_ = *http;
    client_ = std::make_unique<ApiClient>(harness_->coordinator().address(), "");
    grpc::Status applied = client_->Apply(Definition("order", 1));
    ASSERT_TRUE(applied.ok()) << applied.error_message();
  }

  json Definition(const std::string& name, int steps, const std::string& action = "sleep") {
    json list = json::array();
    for (int i = 0; i < steps; ++i) {
      list.push_back({{"name", "s" + std::to_string(i)},
                      {"participant", harness_->participant(0)},
                      {"action", action},
                      {"retry", {{"max_attempts", 2}, {"initial_interval", "50ms"}}}});
    }
    return {{"name", name}, {"version", 1}, {"steps", list}};
  }

  // The number of sagas stored.
  int Sagas() {
    v1::ListSagasResponse page;
    EXPECT_TRUE(client_->List("", &page, 20).ok());
    return page.sagas_size();
  }

  // Expects `status` to have `code` and name `flag`.
  static void ExpectRefused(const grpc::Status& status, grpc::StatusCode code,
                            const std::string& flag) {
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    EXPECT_NE(status.error_message().find(flag), std::string::npos) << status.error_message();
  }

  double Rejections(const std::string& limit) {
    HttpAnswer scrape = HttpApi(http_address_, "").Get("/metrics");
    return Sample(scrape.body, "skald_limit_rejections_total{limit=\"" + limit + "\"}");
  }

  std::unique_ptr<TempDir> dir_;
  std::string http_address_;
  std::unique_ptr<SagaHarness> harness_;
  std::unique_ptr<ApiClient> client_;
};

TEST_F(LimitsTest, RequestsOverALimitAreRefusedNamingItAndNothingIsStored) {
  const std::string pad(1200, 'x');
  ExpectRefused(client_->Start("order", {{"pad", pad}}, "big-input"),
                grpc::StatusCode::RESOURCE_EXHAUSTED, "(--max-input-bytes)");
  // Over the whole-message limit: refused by gRPC before it is parsed.
  EXPECT_EQ(client_->Start("order", {{"pad", std::string(30000, 'x')}}, "huge").error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  ExpectRefused(client_->Start("order", {}, std::string(41, 'i')),
                grpc::StatusCode::INVALID_ARGUMENT, "(--max-name-length)");
  ExpectRefused(client_->Start(std::string(41, 'd'), {}), grpc::StatusCode::INVALID_ARGUMENT,
                "(--max-name-length)");
  ExpectRefused(client_->Apply(Definition("four", 4)), grpc::StatusCode::INVALID_ARGUMENT,
                "(--max-steps)");
  json padded = Definition("padded", 1);
  padded["description"] = std::string(2500, 'x');
  ExpectRefused(client_->Apply(padded), grpc::StatusCode::INVALID_ARGUMENT,
                "(--max-definition-bytes)");
  json long_step = Definition("longstep", 1);
  long_step["steps"][0]["name"] = std::string(41, 's');
  ExpectRefused(client_->Apply(long_step), grpc::StatusCode::INVALID_ARGUMENT,
                "(--max-name-length)");
  ExpectRefused(client_->List("", nullptr, 21), grpc::StatusCode::INVALID_ARGUMENT,
                "(--max-page-size)");

  EXPECT_EQ(Sagas(), 0);
  for (const std::string name : {"four", "padded", "longstep"}) {
    v1::GetDefinitionRequest request;
    request.set_name(name);
    v1::GetDefinitionResponse response;
    EXPECT_EQ(
        client_->sagas().GetDefinition(client_->Context().get(), request, &response).error_code(),
        grpc::StatusCode::NOT_FOUND)
        << name;
  }
  EXPECT_EQ(Rejections("max_input_bytes"), 1);
  EXPECT_EQ(Rejections("max_name_length"), 3);
  EXPECT_EQ(Rejections("max_steps"), 1);
  EXPECT_EQ(Rejections("max_definition_bytes"), 1);
  EXPECT_EQ(Rejections("max_page_size"), 1);
}

TEST_F(LimitsTest, OperatorTextOverTheLimitIsRefused) {
  ASSERT_TRUE(client_->Start("order", {{"sleep_ms", 6000}}, "slow").ok());
  ExpectRefused(client_->Abort("slow", "ada", std::string(101, 'r')),
                grpc::StatusCode::INVALID_ARGUMENT, "(--max-text-length)");
  v1::Saga saga;
  ASSERT_TRUE(client_->Get("slow", &saga).ok());
  EXPECT_EQ(saga.state(), v1::SAGA_STATE_RUNNING);
  EXPECT_EQ(Rejections("max_text_length"), 1);
}

TEST_F(LimitsTest, HttpBodiesOverTheRequestLimitAreRefused) {
  HttpAnswer answer =
      HttpApi(http_address_, "")
          .Post("/api/v1/sagas",
                json{{"definition", "order"}, {"input_json", std::string(30000, 'x')}}.dump());
  EXPECT_EQ(answer.status, 413) << answer.body;
  EXPECT_NE(answer.body.find("--max-request-bytes"), std::string::npos) << answer.body;
  HttpAnswer page = HttpApi(http_address_, "").Get("/api/v1/sagas?page_size=21");
  EXPECT_EQ(page.status, 400);
  EXPECT_NE(page.body.find("--max-page-size"), std::string::npos) << page.body;
  EXPECT_EQ(Sagas(), 0);
}

TEST_F(LimitsTest, WatchStreamsPerCallerAreLimited) {
  ASSERT_TRUE(client_->Start("order", {{"sleep_ms", 6000}}, "watched").ok());
  v1::WatchSagaRequest request;
  request.set_saga_id("watched");
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::SagaEvent>>> streams;
  for (int i = 0; i < 2; ++i) {
    contexts.push_back(client_->Context());
    streams.push_back(client_->sagas().WatchSaga(contexts.back().get(), request));
    v1::SagaEvent first;
    // Reading an event proves the stream is open on the server.
    ASSERT_TRUE(streams.back()->Read(&first));
  }
  auto context = client_->Context();
  auto third = client_->sagas().WatchSaga(context.get(), request);
  v1::SagaEvent event;
  while (third->Read(&event)) {
  }
  ExpectRefused(third->Finish(), grpc::StatusCode::RESOURCE_EXHAUSTED, "(--max-watch-streams)");
  EXPECT_EQ(Rejections("max_watch_streams"), 1);

  // A stream that ends frees its slot.
  contexts[0]->TryCancel();
  while (streams[0]->Read(&event)) {
  }
  streams[0]->Finish();
  grpc::Status fourth = grpc::Status(grpc::StatusCode::UNKNOWN, "not tried");
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto again = client_->Context();
    auto stream = client_->sagas().WatchSaga(again.get(), request);
    if (stream->Read(&event)) {
      fourth = grpc::Status::OK;
      again->TryCancel();
      while (stream->Read(&event)) {
      }
      stream->Finish();
      break;
    }
    fourth = stream->Finish();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(fourth.ok()) << fourth.error_message();
  for (size_t i = 1; i < contexts.size(); ++i) {
    contexts[i]->TryCancel();
    while (streams[i]->Read(&event)) {
    }
    streams[i]->Finish();
  }
}

TEST_F(LimitsTest, AnOutputOverTheLimitFailsTheAttemptNamingTheLimit) {
  ASSERT_TRUE(client_->Apply(Definition("echoes", 1, "echo")).ok());
  // echo answers {"input": <input>, ...}: over 300 bytes with this input.
  ASSERT_TRUE(client_->Start("echoes", {{"pad", std::string(400, 'x')}}, "loud").ok());
  v1::Saga saga;
  for (int i = 0; i < 150; ++i) {
    ASSERT_TRUE(client_->Get("loud", &saga).ok());
    if (saga.state() != v1::SAGA_STATE_RUNNING && saga.state() != v1::SAGA_STATE_COMPENSATING) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Retried (max_attempts 2), then compensated: the output may stand for an effect.
  EXPECT_EQ(saga.state(), v1::SAGA_STATE_COMPENSATED) << saga.DebugString();
  ASSERT_EQ(saga.steps_size(), 1);
  EXPECT_EQ(saga.steps(0).attempts(), 2);
  EXPECT_NE(saga.steps(0).error().find("(--max-output-bytes)"), std::string::npos)
      << saga.DebugString();
  EXPECT_EQ(Rejections("max_output_bytes"), 2);
}

}  // namespace
}  // namespace skald::testing
