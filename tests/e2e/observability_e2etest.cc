// Operating the coordinator (issue 6): its HTTP port (/metrics checked against the sagas the
// test ran, /healthz, /readyz as the database goes away and comes back, the JSON API and
// the dashboard's files), the standard gRPC health and reflection services, and JSON logs.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <map>
#include <pqxx/pqxx>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/e2e/order_system.h"
#include "tests/support/test_postgres.h"

namespace skald::testing {
namespace {

using nlohmann::json;

// Never a payload in a log line at info level: this customer name must not show up.
constexpr char kPayloadMarker[] = "payload-marker-5f0c";

json ObservedOrder(const std::string& id, int amount) {
  return {{"order_id", id},
          {"customer", kPayloadMarker},
          {"sku", "widget"},
          {"quantity", 1},
          {"amount", amount}};
}

struct HttpReply {
  int status = 0;  // 0: no answer
  std::string body;
  std::string content_type;
  std::string error;  // why there was no answer
};

// A client for the coordinator's HTTP port; every call bounded by 10 s.
class Http {
 public:
  explicit Http(const std::string& address)
      : client_(address.substr(0, address.rfind(':')),
                std::stoi(address.substr(address.rfind(':') + 1))) {
    client_.set_connection_timeout(5);
    client_.set_read_timeout(10);
    client_.set_write_timeout(10);
  }

  HttpReply Get(const std::string& path) { return Reply(client_.Get(path.c_str())); }
  HttpReply Post(const std::string& path, const std::string& body) {
    return Reply(client_.Post(path.c_str(), body, "application/json"));
  }
  // The reply's body as JSON (null when it is not JSON).
  static json Json(const HttpReply& reply) { return json::parse(reply.body, nullptr, false); }

 private:
  static HttpReply Reply(const httplib::Result& result) {
    if (!result) return {0, "", "", httplib::to_string(result.error())};
    return {result->status, result->body, result->get_header_value("Content-Type"), ""};
  }
  httplib::Client client_;
};

// Samples of a Prometheus text scrape: "name{labels}" -> value.
std::map<std::string, double> ParseMetrics(const std::string& text) {
  std::map<std::string, double> samples;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

double Sample(const std::map<std::string, double>& samples, const std::string& series) {
  auto it = samples.find(series);
  return it == samples.end() ? -1 : it->second;
}

std::string AttemptCount(const std::string& step, const std::string& phase,
                         const std::string& outcome) {
  return "skald_step_attempt_duration_seconds_count{definition=\"order\",step=\"" + step +
         "\",phase=\"" + phase + "\",outcome=\"" + outcome + "\"}";
}

class ObservabilityTest : public ::testing::Test {
 protected:
  void StartSystem(OrderSystem::Options options = {}) {
    options.coordinator_http = true;
    auto system = OrderSystem::Start(std::move(options));
    ASSERT_TRUE(system.ok()) << system.status();
    system_ = std::move(*system);
    http_ = std::make_unique<Http>(system_->coordinator().http_address());
  }

  // Runs an order to its end and returns its final state's name.
  std::string RunOrder(const std::string& id, int amount) {
    auto started = system_->StartOrder(ObservedOrder(id, amount), id);
    EXPECT_TRUE(started.ok()) << started.status();
    if (!started.ok()) return "";
    auto saga = system_->WaitForEnd(id);
    EXPECT_TRUE(saga.ok()) << saga.status();
    return saga.ok() ? StateName(saga->state()) : "";
  }

  // Scrapes /metrics until `done` holds for the samples (at most 10 s); returns the last.
  std::map<std::string, double> ScrapeUntil(
      const std::function<bool(const std::map<std::string, double>&)>& done) {
    std::map<std::string, double> samples;
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    do {
      HttpReply reply = http_->Get("/metrics");
      EXPECT_EQ(reply.status, 200) << reply.error;
      samples = ParseMetrics(reply.body);
      if (done(samples)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (absl::Now() < give_up);
    return samples;
  }

  // Polls /readyz until it answers `status` (at most 20 s); returns the last reply.
  HttpReply ReadyzUntil(int status) {
    HttpReply reply;
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    do {
      reply = http_->Get("/readyz");
      if (reply.status == status) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (absl::Now() < give_up);
    return reply;
  }

  std::unique_ptr<OrderSystem> system_;
  std::unique_ptr<Http> http_;
};

TEST_F(ObservabilityTest, MetricsCountTheSagasThatRanAndNoSagaIsALabel) {
  // Every payment attempt numbered 1 fails transiently: one retry per saga that pays.
  StartSystem({.participant_flags = {{Service::kPayment, {"--fail-first-attempts", "1"}}},
               .coordinator_flags = {"--log-format", "json"}});
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back("m-ok-" + std::to_string(i));
    EXPECT_EQ(RunOrder(ids.back(), 150), "COMPLETED");
  }
  for (int i = 0; i < 2; ++i) {
    ids.push_back("m-declined-" + std::to_string(i));
    EXPECT_EQ(RunOrder(ids.back(), 5000), "COMPENSATED");  // over the card limit of 1000
  }

  const std::string completed =
      "skald_sagas_finished_total{definition=\"order\",state=\"COMPLETED\"}";
  const std::string compensated =
      "skald_sagas_finished_total{definition=\"order\",state=\"COMPENSATED\"}";
  // Sagas are counted finished just after their final state is committed.
  auto samples = ScrapeUntil([&](const auto& s) {
    return Sample(s, completed) == 3 && Sample(s, compensated) == 2 &&
           Sample(s, "skald_sagas_in_flight") == 0;
  });
  EXPECT_EQ(Sample(samples, "skald_sagas_started_total{definition=\"order\"}"), 5);
  EXPECT_EQ(Sample(samples, completed), 3);
  EXPECT_EQ(Sample(samples, compensated), 2);
  EXPECT_EQ(Sample(samples, "skald_sagas_finished_total{definition=\"order\",state=\"FAILED\"}"),
            -1);
  EXPECT_EQ(Sample(samples, "skald_sagas_in_flight"), 0);
  EXPECT_EQ(Sample(samples, "skald_lease_takeovers_total"), 0);
  EXPECT_EQ(Sample(samples,
                   "skald_step_retries_total{definition=\"order\",step=\"charge-payment\","
                   "phase=\"action\"}"),
            5);
  EXPECT_EQ(Sample(samples, AttemptCount("charge-payment", "action", "retryable_error")), 5);
  EXPECT_EQ(Sample(samples, AttemptCount("charge-payment", "action", "success")), 3);
  EXPECT_EQ(Sample(samples, AttemptCount("charge-payment", "action", "failure")), 2);
  EXPECT_EQ(Sample(samples, AttemptCount("create-order", "action", "success")), 5);
  EXPECT_EQ(Sample(samples, AttemptCount("reserve-stock", "action", "success")), 5);
  EXPECT_EQ(Sample(samples, AttemptCount("confirm-order", "action", "success")), 3);
  EXPECT_EQ(Sample(samples, AttemptCount("create-order", "compensation", "success")), 2);
  EXPECT_EQ(Sample(samples, AttemptCount("reserve-stock", "compensation", "success")), 2);
  // A declined charge had no effect and is not compensated.
  EXPECT_EQ(Sample(samples, AttemptCount("charge-payment", "compensation", "success")), -1);
  // Each histogram's +Inf bucket is its count.
  for (const auto& [series, value] : samples) {
    const size_t count = series.find("_count{");
    if (count == std::string::npos) continue;
    std::string inf = series.substr(0, count) + "_bucket{" + series.substr(count + 7);
    inf.insert(inf.size() - 1, ",le=\"+Inf\"");
    EXPECT_EQ(Sample(samples, inf), value) << inf;
  }
  EXPECT_EQ(
      Sample(samples, "skald_db_transaction_duration_seconds_count{operation=\"create_saga\"}"), 5);
  EXPECT_GT(Sample(samples,
                   "skald_db_transaction_duration_seconds_count{operation=\"commit_transitions\"}"),
            0);
  for (const auto& [series, value] : samples) {
    EXPECT_EQ(series.find("skald_db_errors_total"), std::string::npos) << series << " " << value;
    EXPECT_EQ(series.find("operation=\"other\""), std::string::npos)
        << series << ": give the new operation a label in store::OperationLabel";
  }

  HttpReply scrape = http_->Get("/metrics");
  EXPECT_EQ(scrape.content_type.rfind("text/plain; version=0.0.4", 0), 0u) << scrape.content_type;
  for (const std::string& id : ids) EXPECT_EQ(scrape.body.find(id), std::string::npos) << id;

  // The coordinator's log: JSON lines, the sagas' final lines carry their ids, no payload.
  const std::string log = system_->coordinator().Log();
  int json_lines = 0;
  std::map<std::string, std::string> final_lines;  // saga id -> msg
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_EQ(line.find(kPayloadMarker), std::string::npos) << line;
    EXPECT_NE(line.rfind("[20", 0), 0u) << "a text-format line: " << line;
    if (line.empty() || line[0] != '{') continue;  // gRPC's own messages, if any
    const json parsed = json::parse(line, nullptr, false);
    ASSERT_TRUE(parsed.is_object()) << line;
    ++json_lines;
    for (const char* field : {"ts", "level", "logger", "msg"}) {
      EXPECT_TRUE(parsed.contains(field)) << field << " missing in " << line;
    }
    const std::string msg = parsed.value("msg", "");
    if (msg == "COMPLETED" || msg == "COMPENSATED") {
      EXPECT_TRUE(parsed.contains("saga_id")) << line;
      final_lines[parsed.value("saga_id", "")] = msg;
    }
  }
  EXPECT_GT(json_lines, 3) << log;
  for (const std::string& id : ids) {
    EXPECT_EQ(final_lines[id], id.starts_with("m-ok") ? "COMPLETED" : "COMPENSATED") << log;
  }
}

TEST_F(ObservabilityTest, HealthzAndReadyzFollowTheDatabaseAndTheSchema) {
  StartSystem();
  HttpReply healthz = http_->Get("/healthz");
  EXPECT_EQ(healthz.status, 200) << healthz.error;
  EXPECT_EQ(healthz.body, "ok\n");
  HttpReply ready = http_->Get("/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(Http::Json(ready),
            (json{{"status", "ready"}, {"checks", {{"database", "ok"}, {"migrations", "ok"}}}}));

  // A migration this coordinator knows is missing from the database.
  const std::string uri = system_->coordinator().db_uri();
  pqxx::connection admin(uri);
  const int newest =
      pqxx::work(admin).exec1("SELECT max(version) FROM schema_migrations")[0].as<int>();
  {
    pqxx::work tx(admin);
    tx.exec_params("DELETE FROM schema_migrations WHERE version = $1", newest);
    tx.commit();
  }
  HttpReply pending = ReadyzUntil(503);
  EXPECT_EQ(pending.status, 503) << pending.body;
  EXPECT_EQ(Http::Json(pending)["checks"]["migrations"],
            "pending: " + std::to_string(newest) + " (restart to apply them)")
      << pending.body;
  {
    pqxx::work tx(admin);
    tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, 'back')", newest);
    tx.exec("INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')");
    tx.commit();
  }
  HttpReply newer = http_->Get("/readyz");
  EXPECT_EQ(newer.status, 503) << newer.body;
  EXPECT_NE(newer.body.find("does not know: 9999"), std::string::npos) << newer.body;
  {
    pqxx::work tx(admin);
    tx.exec("DELETE FROM schema_migrations WHERE version = 9999");
    tx.commit();
  }
  EXPECT_EQ(ReadyzUntil(200).status, 200);

  // The database goes away: it refuses connections and the coordinator's are cut.
  const std::string database =
      pqxx::work(admin).exec1("SELECT current_database()")[0].as<std::string>();
  admin.disconnect();
  auto postgres = SharedTestPostgres();
  ASSERT_TRUE(postgres.ok()) << postgres.status();
  pqxx::connection maintenance((*postgres)->ConnectionUri("postgres"));
  {
    pqxx::nontransaction tx(maintenance);
    tx.exec("ALTER DATABASE " + tx.quote_name(database) + " ALLOW_CONNECTIONS false");
    tx.exec_params("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                   database);
  }
  HttpReply down = ReadyzUntil(503);
  EXPECT_EQ(down.status, 503) << down.body;
  const json down_body = Http::Json(down);
  EXPECT_EQ(down_body["status"], "not ready") << down.body;
  EXPECT_NE(down_body["checks"]["database"], "ok") << down.body;
  EXPECT_EQ(http_->Get("/healthz").status, 200) << "alive, if not ready";

  // Back again.
  {
    pqxx::nontransaction tx(maintenance);
    tx.exec("ALTER DATABASE " + tx.quote_name(database) + " ALLOW_CONNECTIONS true");
  }
  HttpReply up = ReadyzUntil(200);
  EXPECT_EQ(up.status, 200) << up.body;
  // And sagas run again.
  EXPECT_EQ(RunOrder("after-outage", 150), "COMPLETED");
}

TEST_F(ObservabilityTest, JsonApiListsGetsStartsAndAnswersErrorsWithHttpCodes) {
  StartSystem();
  // Start over HTTP: the body is StartSagaRequest in JSON.
  json start = {{"definition", "order"},
                {"input_json", ObservedOrder("h-1", 150).dump()},
                {"saga_id", "h-1"}};
  HttpReply started = http_->Post("/api/v1/sagas", start.dump());
  EXPECT_EQ(started.status, 200) << started.body;
  EXPECT_EQ(started.content_type, "application/json");
  EXPECT_EQ(Http::Json(started), (json{{"saga_id", "h-1"}, {"created", true}}));
  EXPECT_EQ(Http::Json(http_->Post("/api/v1/sagas", start.dump())),
            (json{{"saga_id", "h-1"}, {"created", false}}));
  ASSERT_TRUE(system_->WaitForEnd("h-1").ok());
  EXPECT_EQ(RunOrder("h-2", 5000), "COMPENSATED");

  HttpReply got = http_->Get("/api/v1/sagas/h-1");
  ASSERT_EQ(got.status, 200) << got.body;
  const json saga = Http::Json(got)["saga"];
  EXPECT_EQ(saga["id"], "h-1");
  EXPECT_EQ(saga["state"], "SAGA_STATE_COMPLETED");
  EXPECT_EQ(saga["definition"], "order");
  ASSERT_EQ(saga["steps"].size(), 4u) << got.body;
  EXPECT_EQ(saga["steps"][2]["name"], "charge-payment");
  EXPECT_EQ(saga["steps"][2]["state"], "STEP_STATE_SUCCEEDED");

  HttpReply history = http_->Get("/api/v1/sagas/h-1/history");
  ASSERT_EQ(history.status, 200) << history.body;
  const json events = Http::Json(history)["events"];
  ASSERT_GE(events.size(), 2u) << history.body;
  EXPECT_EQ(events.front()["type"], "saga_created");
  EXPECT_EQ(events.back()["type"], "saga_completed");
  const std::string last_id = events.back()["id"];  // int64: a string in proto3 JSON
  EXPECT_EQ(Http::Json(http_->Get("/api/v1/sagas/h-1/history?after_event_id=" + last_id))["events"],
            json::array());

  auto ids = [&](const std::string& query) {
    HttpReply listed = http_->Get("/api/v1/sagas" + query);
    EXPECT_EQ(listed.status, 200) << query << ": " << listed.body;
    std::vector<std::string> found;
    const json body = Http::Json(listed);
    for (const json& s : body["sagas"]) found.push_back(s["id"]);
    return found;
  };
  EXPECT_EQ(ids(""), (std::vector<std::string>{"h-2", "h-1"}));  // newest first
  EXPECT_EQ(ids("?state=COMPENSATED&definition=order"), std::vector<std::string>{"h-2"});
  EXPECT_EQ(ids("?state=SAGA_STATE_COMPLETED"), std::vector<std::string>{"h-1"});
  EXPECT_EQ(ids("?definition=refund"), std::vector<std::string>{});
  EXPECT_EQ(ids("?created_after=2999-01-01T00:00:00Z"), std::vector<std::string>{});
  EXPECT_EQ(ids("?created_after=2000-01-01&created_before=2999-01-01"),
            (std::vector<std::string>{"h-2", "h-1"}));
  HttpReply first_page = http_->Get("/api/v1/sagas?page_size=1");
  const json page = Http::Json(first_page);
  ASSERT_EQ(page["sagas"].size(), 1u) << first_page.body;
  ASSERT_FALSE(page["next_page_token"].get<std::string>().empty()) << first_page.body;
  EXPECT_EQ(ids("?page_size=1&page_token=" +
                httplib::detail::encode_query_param(page["next_page_token"])),
            std::vector<std::string>{"h-1"});

  const json counts = Http::Json(http_->Get("/api/v1/sagas/counts?definition=order"))["by_state"];
  EXPECT_EQ(counts["COMPLETED"], "1") << counts;
  EXPECT_EQ(counts["COMPENSATED"], "1") << counts;
  EXPECT_EQ(counts["RUNNING"], "0") << counts;

  HttpReply definition = http_->Get("/api/v1/definitions/order?version=1");
  ASSERT_EQ(definition.status, 200) << definition.body;
  EXPECT_EQ(Http::Json(definition)["name"], "order");
  EXPECT_EQ(
      json::parse(Http::Json(definition)["definition_json"].get<std::string>())["steps"].size(),
      4u);
  json v2 = system_->FastDefinition();
  v2["version"] = 2;
  HttpReply applied = http_->Post("/api/v1/definitions", v2.dump());
  EXPECT_EQ(applied.status, 200) << applied.body;
  EXPECT_EQ(Http::Json(applied), (json{{"name", "order"}, {"version", 2}, {"created", true}}));
  EXPECT_EQ(Http::Json(http_->Get("/api/v1/definitions/order"))["version"], 2);

  HttpReply participants = http_->Get("/api/v1/participants");
  EXPECT_EQ(participants.status, 200) << participants.body;
  EXPECT_TRUE(Http::Json(participants).contains("instances")) << participants.body;

  // Errors: the HTTP status from the code, the body naming both.
  auto expect_error = [&](const HttpReply& reply, int status, const std::string& code,
                          const std::string& message_part) {
    EXPECT_EQ(reply.status, status) << reply.body;
    const json body = Http::Json(reply);
    EXPECT_EQ(body["error"]["code"], code) << reply.body;
    EXPECT_NE(body["error"]["message"].get<std::string>().find(message_part), std::string::npos)
        << reply.body;
  };
  expect_error(http_->Get("/api/v1/sagas/nope"), 404, "NOT_FOUND", "nope");
  expect_error(http_->Get("/api/v1/sagas/nope/history"), 404, "NOT_FOUND", "nope");
  expect_error(http_->Get("/api/v1/definitions/refund"), 404, "NOT_FOUND", "refund");
  expect_error(http_->Get("/api/v1/sagas?state=DONE"), 400, "INVALID_ARGUMENT", "state");
  expect_error(http_->Get("/api/v1/sagas?page_size=5000"), 400, "INVALID_ARGUMENT", "page_size");
  expect_error(http_->Get("/api/v1/sagas?created_after=yesterday"), 400, "INVALID_ARGUMENT",
               "created_after");
  expect_error(http_->Get("/api/v1/sagas?colour=red"), 400, "INVALID_ARGUMENT", "colour");
  expect_error(http_->Post("/api/v1/sagas", "{\"definition\": \"order\","), 400, "INVALID_ARGUMENT",
               "not valid JSON");
  expect_error(http_->Post("/api/v1/sagas", "{\"definiton\": \"order\"}"), 400, "INVALID_ARGUMENT",
               "definiton");
  expect_error(
      http_->Post("/api/v1/sagas", json{{"definition", "order"}, {"input_json", "[1]"}}.dump()),
      400, "INVALID_ARGUMENT", "input_json");
  expect_error(http_->Post("/api/v1/sagas", json{{"definition", "refund"}}.dump()), 404,
               "NOT_FOUND", "refund");
  expect_error(http_->Post("/api/v1/definitions", "{\"name\": \"x\"}"), 400, "INVALID_ARGUMENT",
               "");
  // A definition over --max-definition-bytes: refused as over gRPC.
  json huge = v2;
  huge["description"] = std::string((1 << 20) + 1, 'x');
  expect_error(http_->Post("/api/v1/definitions", huge.dump()), 400, "INVALID_ARGUMENT",
               "over the limit");
  // An input over --max-input-bytes (1 MiB) is refused by the API's own limit...
  json big = {{"definition", "order"},
              {"input_json", json{{"pad", std::string(1 << 20, 'x')}}.dump()}};
  expect_error(http_->Post("/api/v1/sagas", big.dump()), 413, "RESOURCE_EXHAUSTED", "input_json");
  // ...and a body far over every limit before it is read.
  expect_error(http_->Post("/api/v1/sagas", std::string(5 << 20, ' ')), 413, "RESOURCE_EXHAUSTED",
               "request body over the limit");
  // Operator actions: a COMPLETED saga cannot be aborted.
  expect_error(
      http_->Post("/api/v1/sagas/h-1/abort", json{{"operator", "ada"}, {"reason", "test"}}.dump()),
      409, "FAILED_PRECONDITION", "");
  expect_error(
      http_->Post("/api/v1/sagas/h-1/retry",
                  json{{"operator", "ada"}, {"reason", "test"}, {"saga_id", "h-2"}}.dump()),
      400, "INVALID_ARGUMENT", "saga_id");
  expect_error(http_->Get("/api/v1/nothing"), 404, "NOT_FOUND", "no endpoint GET /api/v1/nothing");

  // The dashboard's files.
  HttpReply index = http_->Get("/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("<html"), std::string::npos);
  EXPECT_EQ(http_->Get("/ui/index.html").body, index.body);
  EXPECT_EQ(http_->Get("/ui/sagas/h-1").body, index.body) << "a page of the dashboard";
  EXPECT_EQ(http_->Get("/ui/no-such-file.js").status, 404);
}

TEST_F(ObservabilityTest, GrpcHealthAndReflection) {
  StartSystem();
  auto channel =
      grpc::CreateChannel(system_->coordinator_address(), grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  auto check = [&](const std::string& service, grpc::health::v1::HealthCheckResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    return health->Check(&context, request, response);
  };
  for (const std::string service : {"", "skald.v1.SagaService", "skald.v1.ParticipantRegistry"}) {
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = check(service, &response);
    EXPECT_TRUE(status.ok()) << service << ": " << status.error_message();
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
  grpc::health::v1::HealthCheckResponse unknown;
  EXPECT_EQ(check("no.such.Service", &unknown).error_code(), grpc::StatusCode::NOT_FOUND);

  // Reflection lists the services, as grpcurl would ask.
  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = reflection->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("*");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::vector<std::string> services;
  for (const auto& service : response.list_services_response().service()) {
    services.push_back(service.name());
  }
  while (stream->Read(&response)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
  for (const std::string expected :
       {"skald.v1.SagaService", "skald.v1.ParticipantRegistry", "grpc.health.v1.Health"}) {
    EXPECT_NE(std::find(services.begin(), services.end(), expected), services.end()) << expected;
  }

  // On SIGTERM the coordinator says NOT_SERVING before it goes.
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::health::v1::HealthCheckRequest watch_request;
  auto watch = health->Watch(&watch_context, watch_request);
  grpc::health::v1::HealthCheckResponse seen;
  ASSERT_TRUE(watch->Read(&seen));
  EXPECT_EQ(seen.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  ASSERT_TRUE(system_->coordinator().Signal(SIGTERM).ok());
  bool not_serving = false;
  while (watch->Read(&seen)) {
    if (seen.status() == grpc::health::v1::HealthCheckResponse::NOT_SERVING) {
      not_serving = true;
      break;
    }
  }
  EXPECT_TRUE(not_serving);
  watch_context.TryCancel();
  watch->Finish();
}

}  // namespace
}  // namespace skald::testing
