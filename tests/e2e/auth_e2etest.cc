// Authentication and authorisation against the real coordinator (issue 8, point 2;
// docs/security.md): `skald serve --auth-tokens FILE` with a submitter, an operator and a
// participant token, over gRPC, the HTTP API and the CLI; refusals counted at /metrics;
// tokens and redacted payload fields never in the log.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "coordinator/api/authorizer.h"
#include "tests/e2e/api_client.h"
#include "tests/e2e/saga_harness.h"
#include "tests/e2e/skald_command.h"
#include "tests/support/ready_file.h"

namespace skald::testing {
namespace {

using nlohmann::json;

constexpr char kSubmitterToken[] = "submitter-secret-7c1e";
constexpr char kOperatorToken[] = "operator-secret-93ab";
constexpr char kParticipantToken[] = "participant-secret-41d2";
// A saga input field the default --redact-fields hides in debug log lines.
constexpr char kCardNumber[] = "4111-1111-marker";

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("skald-auth-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    const std::string tokens = dir_->path() + "/tokens.json";
    std::ofstream(tokens) << json{{"tokens",
                                   {{{"name", "checkout"},
                                     {"sha256", api::Sha256Hex(kSubmitterToken)},
                                     {"roles", {"submitter"}},
                                     {"namespaces", {"order"}}},
                                    {{"name", "alice"},
                                     {"sha256", api::Sha256Hex(kOperatorToken)},
                                     {"roles", {"operator", "submitter"}},
                                     {"namespaces", {"*"}}},
                                    {{"name", "inventory"},
                                     {"sha256", api::Sha256Hex(kParticipantToken)},
                                     {"roles", {"participant"}}}}}};
    http_ready_ = dir_->path() + "/http.ready";
    auto harness =
        SagaHarness::Start(1, {"--auth-tokens", tokens, "--http-listen", "127.0.0.1:0",
                               "--http-ready-file", http_ready_, "--log-level", "debug"});
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = std::move(*harness);
    auto http = WaitForReadyFile(http_ready_, absl::Seconds(10));
    ASSERT_TRUE(http.ok()) << http.status();
    http_address_ = *http;
    // One definition per namespace: "order.slow" (the submitter's) and "shipping".
    for (const std::string name : {"order.slow", "shipping"}) {
      grpc::Status applied = Operator().Apply(Definition(name));
      ASSERT_TRUE(applied.ok()) << applied.error_message();
    }
  }

  json Definition(const std::string& name) {
    return {{"name", name},
            {"version", 1},
            {"steps",
             {{{"name", "wait"},
               {"participant", harness_->participant(0)},
               {"action", "sleep"},
               {"compensation", "undo"}}}}};
  }

  const std::string& address() { return harness_->coordinator().address(); }
  ApiClient Anonymous() { return ApiClient(address(), ""); }
  ApiClient Submitter() { return ApiClient(address(), kSubmitterToken); }
  ApiClient Operator() { return ApiClient(address(), kOperatorToken); }

  std::string Metrics() {
    HttpAnswer scrape = HttpApi(http_address_, "").Get("/metrics");
    EXPECT_EQ(scrape.status, 200) << scrape.body;
    return scrape.body;
  }

  std::unique_ptr<TempDir> dir_;
  std::string http_ready_;
  std::string http_address_;
  std::unique_ptr<SagaHarness> harness_;
};

TEST_F(AuthTest, NoTokenOrAWrongOneIsUnauthenticatedAndCounted) {
  const std::string before = Metrics();
  // No token, an unknown one, and the hash of a real one (the file's content is no token).
  for (const std::string& token :
       {std::string(), std::string("not-a-token"), api::Sha256Hex(kOperatorToken)}) {
    ApiClient client(address(), token);
    EXPECT_EQ(client.List("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
    grpc::Status started = client.Start("order.slow", {{"sleep_ms", 0}}, "o-anon");
    EXPECT_EQ(started.error_code(), grpc::StatusCode::UNAUTHENTICATED) << started.error_message();
  }
  const std::string after = Metrics();
  const std::string series = R"(skald_requests_refused_total{reason="unauthenticated"})";
  EXPECT_EQ(Sample(after, series) - Sample(before, series), 6) << after;
  // Nothing was stored.
  EXPECT_EQ(Operator().Get("o-anon").error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(AuthTest, ASubmitterWorksInItsNamespaceOnly) {
  ApiClient submitter = Submitter();
  ASSERT_TRUE(submitter.Start("order.slow", {{"sleep_ms", 0}}, "o-1").ok());
  v1::Saga saga;
  EXPECT_TRUE(submitter.Get("o-1", &saga).ok());
  EXPECT_TRUE(submitter.List("order.slow").ok());
  const std::string before = Metrics();

  grpc::Status applied = submitter.Apply(Definition("shipping.express"));
  EXPECT_EQ(applied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(applied.error_message().find("namespace \"shipping\""), std::string::npos)
      << applied.error_message();
  EXPECT_EQ(submitter.Start("shipping", {}, "s-1").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Operator().Start("shipping", {{"sleep_ms", 0}}, "s-2").ok());
  // Issue 13: another namespace's saga is answered as one that does not exist (it was
  // PERMISSION_DENIED, which told that the id exists), naming neither its definition nor
  // its namespace.
  auto same_as_missing = [](const grpc::Status& hidden, const grpc::Status& missing,
                            const std::string& id) {
    EXPECT_EQ(hidden.error_code(), grpc::StatusCode::NOT_FOUND) << hidden.error_message();
    EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND) << missing.error_message();
    std::string hidden_message = hidden.error_message(), missing_message = missing.error_message();
    if (size_t at = missing_message.find("missing-id"); at != std::string::npos) {
      missing_message.replace(at, 10, id);
    }
    EXPECT_EQ(hidden_message, missing_message);
    EXPECT_EQ(hidden_message.find("shipping"), std::string::npos) << hidden_message;
  };
  same_as_missing(submitter.Get("s-2"), submitter.Get("missing-id"), "s-2");
  v1::GetSagaHistoryResponse history;
  same_as_missing(submitter.History("s-2", &history), submitter.History("missing-id", &history),
                  "s-2");
  {
    v1::AwaitSagaRequest await;
    await.set_saga_id("s-2");
    v1::AwaitSagaResponse awaited;
    grpc::Status hidden = submitter.sagas().AwaitSaga(submitter.Context().get(), await, &awaited);
    await.set_saga_id("missing-id");
    grpc::Status missing = submitter.sagas().AwaitSaga(submitter.Context().get(), await, &awaited);
    same_as_missing(hidden, missing, "s-2");
  }
  {
    v1::GetDefinitionRequest request;
    request.set_name("shipping");
    v1::GetDefinitionResponse response;
    grpc::Status hidden =
        submitter.sagas().GetDefinition(submitter.Context().get(), request, &response);
    request.set_name("order.none");
    grpc::Status missing =
        submitter.sagas().GetDefinition(submitter.Context().get(), request, &response);
    EXPECT_EQ(hidden.error_code(), grpc::StatusCode::NOT_FOUND) << hidden.error_message();
    EXPECT_EQ(hidden.error_message(), "no definition named \"shipping\" has been applied");
    EXPECT_EQ(missing.error_message(), "no definition named \"order.none\" has been applied");
  }
  // A saga id taken in another namespace: refused without naming the definition there.
  grpc::Status taken = submitter.Start("order.slow", {{"sleep_ms", 0}}, "s-2");
  EXPECT_EQ(taken.error_code(), grpc::StatusCode::ALREADY_EXISTS) << taken.error_message();
  EXPECT_EQ(taken.error_message().find("shipping"), std::string::npos) << taken.error_message();
  // Every namespace is more than its own.
  EXPECT_EQ(submitter.List("").error_code(), grpc::StatusCode::PERMISSION_DENIED);

  const std::string series = R"(skald_requests_refused_total{reason="permission_denied"})";
  EXPECT_EQ(Sample(Metrics(), series) - Sample(before, series), 7);
  EXPECT_EQ(Operator().Get("s-1").error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(AuthTest, OnlyAnOperatorAbortsAndTheHistoryNamesTheCaller) {
  ASSERT_TRUE(Submitter().Start("order.slow", {{"sleep_ms", 6000}}, "o-slow").ok());
  grpc::Status refused = Submitter().Abort("o-slow", "mallory", "no");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("needs role operator"), std::string::npos)
      << refused.error_message();

  grpc::Status aborted = Operator().Abort("o-slow", "ada", "customer cancelled");
  ASSERT_TRUE(aborted.ok()) << aborted.error_message();
  v1::GetSagaHistoryResponse history;
  ASSERT_TRUE(Operator().History("o-slow", &history).ok());
  json who;
  for (const v1::SagaEvent& event : history.events()) {
    if (event.type() == "operator_abort") who = json::parse(event.detail_json());
  }
  EXPECT_EQ(who, (json{{"operator", "alice (ada)"}, {"reason", "customer cancelled"}}))
      << history.DebugString();
}

TEST_F(AuthTest, TheHttpApiAppliesTheSameRules) {
  const std::string before = Metrics();
  HttpAnswer anonymous = HttpApi(http_address_, "").Get("/api/v1/sagas");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.www_authenticate, "Bearer");
  EXPECT_EQ(anonymous.Json()["error"]["code"], "UNAUTHENTICATED") << anonymous.body;
  EXPECT_EQ(HttpApi(http_address_, "wrong").Get("/api/v1/sagas").status, 401);

  HttpApi submitter(http_address_, kSubmitterToken);
  HttpAnswer started = submitter.Post(
      "/api/v1/sagas", R"({"definition": "order.slow", "saga_id": "h-1", "input_json": "{}"})");
  EXPECT_EQ(started.status, 200) << started.body;
  HttpAnswer foreign = submitter.Post("/api/v1/sagas", R"({"definition": "shipping"})");
  EXPECT_EQ(foreign.status, 403) << foreign.body;
  EXPECT_EQ(foreign.Json()["error"]["code"], "PERMISSION_DENIED");
  EXPECT_EQ(submitter.Get("/api/v1/sagas").status, 403);
  EXPECT_EQ(submitter.Get("/api/v1/sagas?definition=order.slow").status, 200);
  EXPECT_EQ(submitter.Get("/api/v1/definitions/shipping").status, 404);
  EXPECT_EQ(submitter.Post("/api/v1/sagas/h-1/abort", R"({"operator": "x", "reason": "y"})").status,
            403);

  ASSERT_TRUE(Submitter().Start("order.slow", {{"sleep_ms", 6000}}, "h-slow").ok());
  HttpAnswer aborted = HttpApi(http_address_, kOperatorToken)
                           .Post("/api/v1/sagas/h-slow/abort",
                                 R"({"operator": "ada", "reason": "from the dashboard"})");
  EXPECT_EQ(aborted.status, 200) << aborted.body;
  HttpAnswer history = HttpApi(http_address_, kOperatorToken).Get("/api/v1/sagas/h-slow/history");
  json who;
  const json events = history.Json()["events"];
  for (const json& event : events) {
    if (event["type"] == "operator_abort")
      who = json::parse(event["detail_json"].get<std::string>());
  }
  EXPECT_EQ(who["operator"], "alice (ada)") << history.body;

  // Health and metrics stay open.
  EXPECT_EQ(HttpApi(http_address_, "").Get("/healthz").status, 200);
  EXPECT_EQ(HttpApi(http_address_, "").Get("/readyz").status, 200);
  const std::string after = Metrics();
  EXPECT_EQ(Sample(after, R"(skald_requests_refused_total{reason="unauthenticated"})") -
                Sample(before, R"(skald_requests_refused_total{reason="unauthenticated"})"),
            2);
  EXPECT_EQ(Sample(after, R"(skald_requests_refused_total{reason="permission_denied"})") -
                Sample(before, R"(skald_requests_refused_total{reason="permission_denied"})"),
            4);
}

TEST_F(AuthTest, OnlyAParticipantTokenRegisters) {
  EXPECT_EQ(Anonymous().Register("inventory", "127.0.0.1:1").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Operator().Register("inventory", "127.0.0.1:1").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status registered =
      ApiClient(address(), kParticipantToken).Register("inventory", "127.0.0.1:1");
  EXPECT_TRUE(registered.ok()) << registered.error_message();
}

TEST_F(AuthTest, TheCliSendsItsTokenAndTheLogShowsNoTokenNorRedactedField) {
  const std::string scratch = dir_->path();
  CommandOutput refused = RunSkald(scratch, {"saga", "list", "--address", address()});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("UNAUTHENTICATED"), std::string::npos) << refused.err;
  CommandOutput started =
      RunSkald(scratch, {"saga", "start", "order.slow", "--id", "c-1", "--input",
                         json{{"sleep_ms", 0}, {"card_number", kCardNumber}}.dump(), "--token",
                         kSubmitterToken, "--address", address()});
  EXPECT_EQ(started.exit_code, 0) << started.err;
  CommandOutput listed = RunSkald(scratch, {"saga", "list", "--definition", "order.slow", "--token",
                                            kOperatorToken, "--address", address()});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("c-1"), std::string::npos) << listed.out;
  // (CoordinatorProcess::WaitForEnd has no token: poll with one.)
  v1::Saga saga;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(Operator().Get("c-1", &saga).ok());
    if (saga.state() == v1::SAGA_STATE_COMPLETED) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(saga.state(), v1::SAGA_STATE_COMPLETED);

  const std::string log = harness_->coordinator().Log();
  // The debug line with the input was written, redacted.
  EXPECT_NE(log.find("started with input"), std::string::npos) << log.substr(0, 4000);
  EXPECT_NE(log.find("\"card_number\":\"[redacted]\""), std::string::npos);
  EXPECT_EQ(log.find(kCardNumber), std::string::npos);
  for (const char* token : {kSubmitterToken, kOperatorToken, kParticipantToken}) {
    EXPECT_EQ(log.find(token), std::string::npos) << token;
  }
  EXPECT_NE(log.find("authentication on: 3 tokens (checkout, alice, inventory)"),
            std::string::npos);
}

}  // namespace
}  // namespace skald::testing
