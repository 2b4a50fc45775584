// The pure parts of the HTTP port: error mapping, JSON bodies, query parameters, content
// types, readiness bodies, and the database operation labels of the metrics.
#include <gtest/gtest.h>

#include "coordinator/http/http_server.h"
#include "coordinator/http/json_api.h"
#include "coordinator/http/json_codec.h"
#include "coordinator/http/web_assets.h"
#include "coordinator/store/connection.h"
#include "nlohmann/json.hpp"

namespace skald::http {
namespace {

using nlohmann::json;

TEST(HttpStatus, FromTheStatusCode) {
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kOk), 200);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kResourceExhausted), 413);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnimplemented), 501);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kInternal), 500);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kAborted), 409);  // E.g. a deadlock: repeat.
}

TEST(ErrorBody, NamesCodeAndMessage) {
  const json body = json::parse(ErrorBody(absl::NotFoundError("no saga with id \"x\"")));
  EXPECT_EQ(body, (json{{"error", {{"code", "NOT_FOUND"}, {"message", "no saga with id \"x\""}}}}));
}

TEST(JsonBodies, MessagesUseProtoFieldNamesAndPrintEveryField) {
  v1::StartSagaResponse response;
  response.set_saga_id("o-1");
  const json printed = json::parse(ToJson(response));
  EXPECT_EQ(printed, (json{{"saga_id", "o-1"}, {"created", false}}));

  v1::Saga saga;
  saga.set_state(v1::SAGA_STATE_COMPENSATED);
  const json with_enum = json::parse(ToJson(saga));
  EXPECT_EQ(with_enum["state"], "SAGA_STATE_COMPENSATED");
  EXPECT_TRUE(with_enum.contains("input_json"));
  EXPECT_TRUE(with_enum["steps"].is_array());

  v1::SagaEvent event;
  event.set_id(12);
  EXPECT_EQ(json::parse(ToJson(event))["id"], "12");  // int64 as a string (proto3 JSON)
}

TEST(JsonBodies, ParseSnakeCaseAndCamelCase) {
  v1::StartSagaRequest request;
  ASSERT_TRUE(
      FromJson(R"({"definition":"order","input_json":"{\"a\":1}","saga_id":"s"})", &request).ok());
  EXPECT_EQ(request.definition(), "order");
  EXPECT_EQ(request.input_json(), "{\"a\":1}");
  EXPECT_EQ(request.saga_id(), "s");
  v1::StartSagaRequest camel;
  ASSERT_TRUE(FromJson(R"({"definition":"order","sagaId":"t"})", &camel).ok());
  EXPECT_EQ(camel.saga_id(), "t");
  v1::StartSagaRequest empty;
  EXPECT_TRUE(FromJson("  ", &empty).ok());
}

TEST(JsonBodies, MalformedBodiesAreInvalidArgumentsNamingTheProblem) {
  v1::StartSagaRequest request;
  absl::Status not_json = FromJson(R"({"definition": "order",)", &request);
  EXPECT_EQ(not_json.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(not_json.message().find("not valid JSON at byte"), std::string::npos) << not_json;

  // A number too large for any type makes the JSON library throw out_of_range, not
  // parse_error: it must come back as an error, not end the HTTP thread.
  absl::Status overflow = FromJson(R"({"definition": 127e001111111111111111111111})", &request);
  EXPECT_EQ(overflow.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(overflow.message().find("number overflow"), std::string::npos) << overflow;

  absl::Status array = FromJson("[1]", &request);
  EXPECT_EQ(array.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(array.message().find("must be a JSON object, got array"), std::string::npos) << array;

  absl::Status unknown = FromJson(R"({"definitoin":"order"})", &request);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("definitoin"), std::string::npos) << unknown;

  absl::Status wrong_type = FromJson(R"({"version":"two"})", &request);
  EXPECT_EQ(wrong_type.code(), absl::StatusCode::kInvalidArgument) << wrong_type;
}

TEST(QueryParameters, ListSagas) {
  auto request = ListSagasRequestFrom({{"state", "failed"},
                                       {"definition", "order"},
                                       {"created_after", "2026-01-01"},
                                       {"created_before", "2026-02-01T00:00:00Z"},
                                       {"page_size", "20"},
                                       {"page_token", "abc"}});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->state(), v1::SAGA_STATE_FAILED);
  EXPECT_EQ(request->definition(), "order");
  EXPECT_EQ(request->created_after(), "2026-01-01");
  EXPECT_EQ(request->created_before(), "2026-02-01T00:00:00Z");
  EXPECT_EQ(request->page_size(), 20);
  EXPECT_EQ(request->page_token(), "abc");
  EXPECT_TRUE(ListSagasRequestFrom({}).ok());
}

TEST(QueryParameters, BadOnesAreNamed) {
  auto unknown = ListSagasRequestFrom({{"stat", "FAILED"}});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("unknown query parameter \"stat\""), std::string::npos)
      << unknown.status();
  auto repeated = ListSagasRequestFrom({{"state", "FAILED"}, {"state", "RUNNING"}});
  EXPECT_NE(repeated.status().message().find("state: given more than once"), std::string::npos)
      << repeated.status();
  auto state = ListSagasRequestFrom({{"state", "DONE"}});
  EXPECT_NE(state.status().message().find("state: unknown value \"DONE\""), std::string::npos)
      << state.status();
  auto size = ListSagasRequestFrom({{"page_size", "ten"}});
  EXPECT_NE(size.status().message().find("page_size: expected an integer, got \"ten\""),
            std::string::npos)
      << size.status();
  auto after = GetSagaHistoryRequestFrom("s", {{"after_event_id", "5x"}});
  EXPECT_EQ(after.status().code(), absl::StatusCode::kInvalidArgument);
  auto version = GetDefinitionRequestFrom("order", {{"version", "2"}});
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->version(), 2);
  EXPECT_EQ(version->name(), "order");
  auto none = CountSagasRequestFrom({{"service", "x"}});
  EXPECT_NE(none.status().message().find("expected definition"), std::string::npos)
      << none.status();
}

TEST(QueryParameters, SagaStates) {
  EXPECT_EQ(*ParseSagaState("RUNNING"), v1::SAGA_STATE_RUNNING);
  EXPECT_EQ(*ParseSagaState("compensated"), v1::SAGA_STATE_COMPENSATED);
  EXPECT_EQ(*ParseSagaState("SAGA_STATE_FAILED"), v1::SAGA_STATE_FAILED);
  EXPECT_FALSE(ParseSagaState("UNSPECIFIED").ok());
  EXPECT_FALSE(ParseSagaState("").ok());
}

TEST(WebAssets, ContentTypes) {
  EXPECT_EQ(ContentTypeFor("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("style.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("img/logo.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("favicon.ico"), "image/x-icon");
  EXPECT_EQ(ContentTypeFor("LOGO.PNG"), "image/png");
  EXPECT_EQ(ContentTypeFor("data.json"), "application/json");
  EXPECT_EQ(ContentTypeFor("v1.0/README"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor("archive.tar.zst"), "application/octet-stream");
}

TEST(WebAssets, TheDashboardIsEmbedded) {
  const WebAsset* index = FindWebAsset("index.html");
  ASSERT_NE(index, nullptr) << "web/index.html was not embedded";
  EXPECT_NE(index->content.find("<html"), std::string_view::npos);
  EXPECT_EQ(FindWebAsset("no-such-file.js"), nullptr);
  for (const WebAsset& asset : EmbeddedWebAssets()) {
    EXPECT_FALSE(asset.path.starts_with(".")) << asset.path;
    EXPECT_FALSE(asset.path.ends_with("~")) << asset.path;
  }
}

TEST(Readiness, BodyNamesWhatIsWrong) {
  EXPECT_EQ(json::parse(ReadinessBody({{"database", true, "ok"}, {"migrations", true, "ok"}})),
            (json{{"status", "ready"}, {"checks", {{"database", "ok"}, {"migrations", "ok"}}}}));
  EXPECT_EQ(json::parse(ReadinessBody(
                {{"database", false, "cannot connect"}, {"migrations", false, "unknown"}})),
            (json{{"status", "not ready"},
                  {"checks", {{"database", "cannot connect"}, {"migrations", "unknown"}}}}));
}

TEST(DatabaseOperations, LabelsAreAFixedSetWithoutValues) {
  using store::OperationLabel;
  EXPECT_EQ(OperationLabel("create saga"), "create_saga");
  EXPECT_EQ(OperationLabel("load saga order-17"), "load_saga");
  EXPECT_EQ(OperationLabel("load history of saga order-17"), "load_history");
  EXPECT_EQ(OperationLabel("list sagas"), "list_sagas");
  EXPECT_EQ(OperationLabel("list active sagas"), "list_active_sagas");
  EXPECT_EQ(OperationLabel("store definition order v2"), "store_definition");
  EXPECT_EQ(OperationLabel("load definition order"), "load_definition");
  EXPECT_EQ(OperationLabel("commit saga transitions"), "commit_transitions");
  EXPECT_EQ(OperationLabel("renew_leases"), "renew_leases");
  EXPECT_EQ(OperationLabel("take the lease of saga o-1"), "take_lease");
  EXPECT_EQ(OperationLabel("register inventory instance i-1"), "register_participant");
  EXPECT_EQ(OperationLabel("deregister inventory instance i-1"), "deregister_participant");
  EXPECT_EQ(OperationLabel("check connectivity"), "check_connectivity");
  EXPECT_EQ(OperationLabel("something new o-17"), "other");
  EXPECT_EQ(OperationLabel("create sagas in bulk"), "other");  // a whole word must match
  EXPECT_EQ(OperationLabel(""), "other");
}

}  // namespace
}  // namespace skald::http
