// Completion notifications, alerts and trace context, end to end: a real coordinator and
// test participant, and an HTTP receiver in this process on loopback.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "tests/e2e/saga_harness.h"
#include "tests/e2e/skald_command.h"
#include "tests/e2e/webhook_receiver.h"

namespace skald::testing {
namespace {

using nlohmann::json;
using Request = WebhookReceiver::Request;

constexpr const char* kSecret = "whsec_e2e_test";
constexpr const char* kGivenTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

std::string TraceId(const std::string& traceparent) {
  return traceparent.size() == 55 ? traceparent.substr(3, 32) : "";
}

std::string SpanId(const std::string& traceparent) {
  return traceparent.size() == 55 ? traceparent.substr(36, 16) : "";
}

// Starts a saga with the optional fields of StartSagaRequest.
grpc::Status StartSaga(CoordinatorProcess& coordinator, const std::string& definition,
                       const json& input, const std::string& traceparent,
                       const std::string& callback_url, std::string* saga_id) {
  v1::StartSagaRequest request;
  request.set_definition(definition);
  request.set_input_json(input.dump());
  request.set_traceparent(traceparent);
  request.set_callback_url(callback_url);
  v1::StartSagaResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = coordinator.client().StartSaga(&context, request, &response);
  if (saga_id != nullptr) *saga_id = response.saga_id();
  return status;
}

json Body(const Request& request) {
  return json::parse(request.body, nullptr, /*allow_exceptions=*/false);
}

// The requests whose body is about `saga_id`.
std::vector<Request> About(const std::vector<Request>& requests, const std::string& saga_id) {
  std::vector<Request> selected;
  for (const Request& request : requests) {
    const json body = Body(request);
    if (body.is_object() && body.value("saga_id", "") == saga_id) selected.push_back(request);
  }
  return selected;
}

// How many requests of each delivery id were answered 2xx.
std::map<std::string, int> Deliveries(const std::vector<Request>& requests) {
  std::map<std::string, int> delivered;
  for (const Request& request : requests) {
    const std::string id = request.Header("X-Skald-Delivery");
    delivered.try_emplace(id, 0);
    if (request.status >= 200 && request.status < 300) ++delivered[id];
  }
  return delivered;
}

std::string Describe(const std::vector<Request>& requests) {
  std::string text;
  for (const Request& r : requests) {
    text += r.path + " delivery=" + r.Header("X-Skald-Delivery") +
            " event=" + r.Header("X-Skald-Event") + " -> " + std::to_string(r.status) + " " +
            r.body + "\n";
  }
  return text;
}

class NotificationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto receiver = WebhookReceiver::Start();
    ASSERT_TRUE(receiver.ok()) << receiver.status();
    receiver_ = std::move(*receiver);
  }

  void StartHarness(std::vector<std::string> coordinator_flags) {
    // The receiver listens on loopback, which `serve` refuses unless allowed.
    coordinator_flags.insert(coordinator_flags.end(), {"--notify-allow", "127.0.0.1"});
    auto harness = SagaHarness::Start(1, std::move(coordinator_flags));
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = std::move(*harness);
  }

  CoordinatorProcess& coordinator() { return harness_->coordinator(); }

  std::unique_ptr<WebhookReceiver> receiver_;
  std::unique_ptr<SagaHarness> harness_;
};

TEST_F(NotificationsTest, OutcomesAreRetriedUntilDeliveredOnceEachAndSigned) {
  StartHarness({"--notify-secret", kSecret});
  receiver_->FailNext(3);
  ASSERT_TRUE(harness_
                  ->Apply({{"name", "notified"},
                           {"version", 1},
                           {"notify", receiver_->Url("/definition")},
                           {"steps",
                            {{{"name", "a"},
                              {"participant", "p0"},
                              {"action", "echo"},
                              {"compensation", "undo"}}}},
                           {"output", {{"a", "${steps.a.output}/step"}}}})
                  .ok());
  ASSERT_TRUE(harness_
                  ->Apply({{"name", "refused"},
                           {"version", 1},
                           {"notify", receiver_->Url("/definition")},
                           {"steps",
                            {{{"name", "a"},
                              {"participant", "p0"},
                              {"action", "echo"},
                              {"compensation", "undo"}},
                             {{"name", "b"}, {"participant", "p0"}, {"action", "fail"}}}}})
                  .ok());
  std::string completed, compensated;
  ASSERT_TRUE(StartSaga(coordinator(), "notified", json::object(), "",
                        receiver_->Url("/callback?order=17"), &completed)
                  .ok());
  ASSERT_TRUE(StartSaga(coordinator(), "refused", json::object(), "", "", &compensated).ok());
  ASSERT_TRUE(coordinator().WaitForEnd(completed).ok());
  ASSERT_TRUE(coordinator().WaitForEnd(compensated).ok());

  // Three notifications (completed: definition and callback; compensated: definition), the
  // first three POSTs refused: each must still arrive, after 1 s and 2 s backoffs.
  auto all_delivered = [](const std::vector<Request>& requests) {
    const auto delivered = Deliveries(requests);
    return delivered.size() == 3 &&
           std::ranges::all_of(delivered, [](const auto& d) { return d.second >= 1; });
  };
  ASSERT_TRUE(receiver_->WaitUntil(all_delivered, absl::Seconds(30)))
      << Describe(receiver_->Requests()) << harness_->Logs();
  // Nothing more comes once each is delivered.
  std::this_thread::sleep_for(std::chrono::milliseconds(2'500));
  const std::vector<Request> requests = receiver_->Requests();
  for (const auto& [delivery, count] : Deliveries(requests)) {
    EXPECT_EQ(count, 1) << "delivery " << delivery << " delivered once\n" << Describe(requests);
  }
  int refused = 0;
  for (const Request& request : requests) {
    refused += request.status == 500 ? 1 : 0;
    EXPECT_EQ(request.Header("X-Skald-Event"), "saga.finished");
    EXPECT_EQ(request.Header("Content-Type"), "application/json");
    EXPECT_TRUE(HasValidSignature(request, kSecret)) << Describe({request});
    EXPECT_FALSE(HasValidSignature(request, "another secret"));
    const int64_t sent = std::stoll(request.Header("X-Skald-Timestamp"));
    EXPECT_LE(std::abs(sent - absl::ToUnixSeconds(request.at)), 5) << "a current timestamp";
  }
  EXPECT_EQ(refused, 3) << "the refused POSTs were retried, not dropped\n" << Describe(requests);
  EXPECT_GT(requests.size(), 3u);

  const std::vector<Request> of_completed = About(requests, completed);
  std::set<std::string> paths;
  for (const Request& request : of_completed) {
    paths.insert(request.path);
    const json body = Body(request);
    EXPECT_EQ(body["definition"], "notified");
    EXPECT_EQ(body["version"], 1);
    EXPECT_EQ(body["state"], "COMPLETED");
    EXPECT_EQ(body["error"], "");
    EXPECT_EQ(body["output"], (json{{"a", "a"}}));
    EXPECT_FALSE(body.value("created_at", "").empty());
    EXPECT_FALSE(body.value("finished_at", "").empty());
  }
  EXPECT_EQ(paths, (std::set<std::string>{"/definition", "/callback"}));
  const std::vector<Request> of_compensated = About(requests, compensated);
  ASSERT_FALSE(of_compensated.empty());
  for (const Request& request : of_compensated) {
    EXPECT_EQ(request.path, "/definition");
    EXPECT_EQ(Body(request)["state"], "COMPENSATED");
    EXPECT_NE(Body(request)["error"], "");
  }

  // The outbox says the same: every row delivered, attempts as the receiver saw them.
  EXPECT_EQ(coordinator().Count("SELECT count(*) FROM notification_outbox"), 3);
  EXPECT_EQ(
      coordinator().Count("SELECT count(*) FROM notification_outbox WHERE delivered_at IS NULL"),
      0);
  EXPECT_EQ(coordinator().Count("SELECT sum(attempts) FROM notification_outbox"),
            static_cast<long long>(requests.size()));
}

TEST_F(NotificationsTest, UndeliveredOutcomesAreDeliveredAfterTheCoordinatorIsKilled) {
  StartHarness({"--notify-secret", kSecret});
  receiver_->AnswerAll(503);
  ASSERT_TRUE(harness_
                  ->Apply({{"name", "notified"},
                           {"version", 1},
                           {"notify", receiver_->Url("/definition")},
                           {"steps", {{{"name", "a"}, {"participant", "p0"}, {"action", "echo"}}}}})
                  .ok());
  auto saga = harness_->Run("notified", json::object());
  ASSERT_TRUE(saga.ok()) << saga.status();
  ASSERT_TRUE(receiver_->WaitUntil([](const auto& requests) { return !requests.empty(); },
                                   absl::Seconds(20)))
      << harness_->Logs();
  ASSERT_TRUE(coordinator().Stop(SIGKILL).ok());
  ASSERT_EQ(coordinator().Count("SELECT count(*) FROM notification_outbox WHERE saga_id = $1 "
                                "AND delivered_at IS NULL",
                                saga->id()),
            1)
      << "undelivered when the coordinator died";

  receiver_->AnswerAll(200);
  ASSERT_TRUE(coordinator().Start().ok());
  // Due again within the backoff (a row claimed at the moment of the kill waits out its
  // 60 s claim).
  ASSERT_TRUE(receiver_->WaitUntil(
      [](const auto& requests) { return !requests.empty() && requests.back().status == 200; },
      absl::Seconds(90)))
      << Describe(receiver_->Requests()) << coordinator().LogTail();
  const std::vector<Request> requests = receiver_->Requests();
  EXPECT_EQ(Deliveries(requests).size(), 1u) << "the same notification throughout";
  EXPECT_EQ(Body(requests.back())["saga_id"], saga->id());
  EXPECT_EQ(Body(requests.back())["state"], "COMPLETED");
  EXPECT_TRUE(HasValidSignature(requests.back(), kSecret));
  EXPECT_EQ(coordinator().Count("SELECT count(*) FROM notification_outbox WHERE saga_id = $1 "
                                "AND delivered_at IS NOT NULL",
                                saga->id()),
            1);
}

TEST_F(NotificationsTest, AlertsForAFailingCompensationAFailedSagaAndAStuckOne) {
  StartHarness({"--notify-secret", kSecret, "--alert-url", receiver_->Url("/alerts"),
                "--alert-compensation-failures", "2", "--alert-stuck-after", "2s"});
  // a's compensation fails four times, its whole budget: the saga ends FAILED.
  const json quick = {{"max_attempts", 4}, {"initial_interval", "50ms"}, {"max_interval", "50ms"}};
  ASSERT_TRUE(harness_
                  ->Apply({{"name", "stubborn"},
                           {"version", 1},
                           {"steps",
                            {{{"name", "a"},
                              {"participant", "p0"},
                              {"action", "echo"},
                              {"compensation", "undo"},
                              {"input", {{"undo_fail_attempts", 10}}},
                              {"compensation_retry", quick}},
                             {{"name", "b"}, {"participant", "p0"}, {"action", "fail"}}}}})
                  .ok());
  auto saga = harness_->Run("stubborn", json::object());
  ASSERT_TRUE(saga.ok()) << saga.status();
  ASSERT_EQ(saga->state(), v1::SAGA_STATE_FAILED) << saga->DebugString();

  auto kinds = [&](const std::vector<Request>& requests) {
    std::multiset<std::string> seen;
    for (const Request& request : About(requests, saga->id())) {
      seen.insert(Body(request).value("kind", "?"));
    }
    return seen;
  };
  ASSERT_TRUE(receiver_->WaitUntil(
      [&](const auto& requests) { return kinds(requests).contains("saga_stuck"); },
      absl::Seconds(30)))
      << Describe(receiver_->Requests()) << harness_->Logs();
  // Each alert once, however long the saga stays FAILED (the stuck scan runs every second).
  std::this_thread::sleep_for(std::chrono::milliseconds(3'000));
  const std::vector<Request> requests = receiver_->Requests();
  EXPECT_EQ(kinds(requests),
            (std::multiset<std::string>{"compensation_failing", "saga_failed", "saga_stuck"}))
      << Describe(requests);
  for (const Request& request : requests) {
    EXPECT_EQ(request.path, "/alerts");
    EXPECT_EQ(request.Header("X-Skald-Event"), "alert");
    EXPECT_TRUE(HasValidSignature(request, kSecret)) << Describe({request});
    const json body = Body(request);
    EXPECT_EQ(body["definition"], "stubborn");
    if (body["kind"] == "compensation_failing") {
      EXPECT_EQ(body["step"], "a");
      EXPECT_EQ(body["failures"], 2);
      EXPECT_NE(body.value("error", "").find("failing on purpose"), std::string::npos)
          << body.dump();
    } else if (body["kind"] == "saga_failed") {
      EXPECT_EQ(body["state"], "FAILED");
      EXPECT_EQ(body["error"], saga->error());
      EXPECT_FALSE(body.contains("step"));
    } else {
      EXPECT_EQ(body["state"], "FAILED");
      EXPECT_GE(body["unfinished_seconds"].get<int>(), 2);
    }
  }
  // The saga's definition names no notify URL and it had no callback: no completion POST.
  EXPECT_EQ(
      coordinator().Count("SELECT count(*) FROM notification_outbox WHERE event = 'saga.finished'"),
      0);
}

TEST_F(NotificationsTest, ATraceparentGivenOnStartReachesEveryCallAndGetSaga) {
  StartHarness({});
  ASSERT_TRUE(harness_
                  ->Apply({{"name", "traced"},
                           {"version", 1},
                           {"steps",
                            {{{"name", "a"},
                              {"participant", "p0"},
                              {"action", "echo"},
                              {"compensation", "undo"}},
                             {{"name", "b"}, {"participant", "p0"}, {"action", "fail"}}}}})
                  .ok());
  std::string given;
  ASSERT_TRUE(
      StartSaga(coordinator(), "traced", json::object(), kGivenTraceparent, "", &given).ok());
  ASSERT_TRUE(coordinator().WaitForEnd(given).ok());
  auto saga = coordinator().GetSaga(given);
  ASSERT_TRUE(saga.ok());
  EXPECT_EQ(saga->traceparent(), kGivenTraceparent);
  auto calls = harness_->Calls(given);
  ASSERT_TRUE(calls.ok()) << calls.status();
  ASSERT_EQ(calls->size(), 3u) << "a, b, then a's compensation";
  std::set<std::string> spans;
  for (const RecordedCall& call : *calls) {
    EXPECT_EQ(TraceId(call.traceparent), TraceId(kGivenTraceparent))
        << call.Describe() << ": " << call.traceparent;
    EXPECT_EQ(call.traceparent.substr(0, 3), "00-");
    EXPECT_EQ(call.traceparent.substr(52), "-01");
    spans.insert(SpanId(call.traceparent));
  }
  EXPECT_EQ(spans.size(), 3u) << "a span per attempt";
  EXPECT_FALSE(spans.contains(SpanId(kGivenTraceparent)));
  // The participants' call log shows it too.
  EXPECT_NE(harness_->Logs().find("traceparent=00-" + TraceId(kGivenTraceparent) + "-"),
            std::string::npos)
      << harness_->Logs();

  // Without one, the coordinator makes a trace up, and keeps to it.
  std::string generated;
  ASSERT_TRUE(StartSaga(coordinator(), "traced", json::object(), "", "", &generated).ok());
  ASSERT_TRUE(coordinator().WaitForEnd(generated).ok());
  const std::string made_up = coordinator().GetSaga(generated)->traceparent();
  ASSERT_EQ(made_up.size(), 55u) << made_up;
  EXPECT_NE(TraceId(made_up), TraceId(kGivenTraceparent));
  EXPECT_NE(TraceId(made_up), std::string(32, '0'));
  auto generated_calls = harness_->Calls(generated);
  ASSERT_TRUE(generated_calls.ok()) << generated_calls.status();
  ASSERT_EQ(generated_calls->size(), 3u);
  for (const RecordedCall& call : *generated_calls) {
    EXPECT_EQ(TraceId(call.traceparent), TraceId(made_up)) << call.Describe();
  }

  // What is not a traceparent or a callback URL is refused, naming the field.
  grpc::Status bad = StartSaga(coordinator(), "traced", json::object(),
                               "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "", nullptr);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad.error_message().rfind("traceparent: ", 0), 0u) << bad.error_message();
  bad = StartSaga(coordinator(), "traced", json::object(), "", "mailto:ops@example.com", nullptr);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad.error_message(),
            "callback_url: must start with http:// or https://, got \"mailto:ops@example.com\"");
  bad = StartSaga(coordinator(), "traced", json::object(), "",
                  "https://h/" + std::string(2048, 'x'), nullptr);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad.error_message(), "callback_url: is 2058 characters, over the limit of 2048");

  // `skald saga start --traceparent --callback-url`.
  const CommandOutput started =
      RunSkald(::testing::TempDir(),
               {"saga", "start", "traced", "--traceparent", kGivenTraceparent, "--callback-url",
                receiver_->Url("/cli"), "--address", coordinator().address()});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  std::string cli_saga = started.out;
  while (!cli_saga.empty() && cli_saga.back() == '\n') cli_saga.pop_back();
  ASSERT_TRUE(coordinator().WaitForEnd(cli_saga).ok());
  EXPECT_EQ(coordinator().GetSaga(cli_saga)->traceparent(), kGivenTraceparent);
  ASSERT_TRUE(receiver_->WaitUntil(
      [&](const auto& requests) { return !About(requests, cli_saga).empty(); }, absl::Seconds(20)))
      << Describe(receiver_->Requests());
  EXPECT_EQ(About(receiver_->Requests(), cli_saga)[0].path, "/cli");
  EXPECT_EQ(About(receiver_->Requests(), cli_saga)[0].Header("X-Skald-Signature"), "")
      << "no secret: unsigned";
  EXPECT_NE(coordinator().Log().find("sent unsigned"), std::string::npos);
}

}  // namespace
}  // namespace skald::testing
