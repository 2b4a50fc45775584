// Scenario 16 and the SSRF allowlist, end to end: a real coordinator whose notifications go
// to receivers that misbehave (tests/e2e/hostile_webhook_receiver.h) next to a normal one,
// and to destinations `serve` must refuse.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "tests/e2e/hostile_webhook_receiver.h"
#include "tests/e2e/saga_harness.h"
#include "tests/e2e/webhook_receiver.h"

namespace skald::testing {
namespace {

using nlohmann::json;
using Request = WebhookReceiver::Request;

// Starts a saga of `definition` that reports to `callback_url`; returns its id.
std::string StartWithCallback(CoordinatorProcess& coordinator, const std::string& definition,
                              const std::string& callback_url) {
  v1::StartSagaRequest request;
  request.set_definition(definition);
  request.set_input_json("{}");
  request.set_callback_url(callback_url);
  v1::StartSagaResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  const grpc::Status status = coordinator.client().StartSaga(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.saga_id();
}

// The resident set of process `pid` in KiB (VmRSS), 0 when it cannot be read.
long ResidentKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// Samples a process's VmRSS every 100 ms on its own thread and keeps the peak.
class RssWatch {
 public:
  explicit RssWatch(pid_t pid) : pid_(pid), thread_([this] { Run(); }) {}
  ~RssWatch() {
    stop_ = true;
    thread_.join();
  }
  long peak_kib() const { return peak_.load(); }

 private:
  void Run() {
    while (!stop_) {
      peak_ = std::max(peak_.load(), ResidentKib(pid_));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  const pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<long> peak_{0};
  std::thread thread_;
};

json OneStep(const std::string& name, const std::string& notify) {
  return {{"name", name},
          {"version", 1},
          {"notify", notify},
          {"steps", {{{"name", "a"}, {"participant", "p0"}, {"action", "echo"}}}}};
}

class HostileWebhooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto receiver = WebhookReceiver::Start();
    ASSERT_TRUE(receiver.ok()) << receiver.status();
    receiver_ = std::move(*receiver);
    auto hostile = HostileWebhookReceiver::Start();
    ASSERT_TRUE(hostile.ok()) << hostile.status();
    hostile_ = std::move(*hostile);
  }

  void StartHarness(std::vector<std::string> coordinator_flags) {
    auto harness = SagaHarness::Start(1, std::move(coordinator_flags));
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = std::move(*harness);
  }

  CoordinatorProcess& coordinator() { return harness_->coordinator(); }

  long long OutboxRows(const std::string& condition) {
    return coordinator().Count("SELECT count(*) FROM notification_outbox WHERE " + condition);
  }

  std::unique_ptr<WebhookReceiver> receiver_;
  std::unique_ptr<HostileWebhookReceiver> hostile_;
  std::unique_ptr<SagaHarness> harness_;
};

// Scenario 16: an endless answer, endless headers, an answer one byte every 2 s, a redirect and a
// connection closed mid-answer cost the coordinator a bounded amount of memory and only their own
// deliveries' time; every saga ends as it would have, and the normal receiver gets its
// notifications on time.
TEST_F(HostileWebhooksTest, HostileReceiversCostOnlyTheirOwnDeliveries) {
  StartHarness({"--notify-allow", "127.0.0.1", "--notify-timeout", "3s"});
  hostile_->SetRedirectTarget(receiver_->Url("/redirected"));
  ASSERT_TRUE(harness_->Apply(OneStep("hostile", hostile_->Url("/endless"))).ok());
  ASSERT_TRUE(harness_->Apply(OneStep("normal", receiver_->Url("/normal"))).ok());
  const long baseline_kib = ResidentKib(coordinator().pid());
  ASSERT_GT(baseline_kib, 0);
  RssWatch rss(coordinator().pid());

  std::vector<std::string> hostile_sagas;
  for (const char* path :
       {"/drip", "/drip?2", "/redirect", "/close", "/endless?callback", "/headers"}) {
    hostile_sagas.push_back(StartWithCallback(coordinator(), "hostile", hostile_->Url(path)));
  }
  for (const std::string& saga : hostile_sagas) {
    auto ended = coordinator().WaitForEnd(saga);
    ASSERT_TRUE(ended.ok()) << ended.status();
    EXPECT_EQ(StateName(ended->state()), "COMPLETED");
  }
  // The hostile deliveries are under way; now the normal ones, a few at a time.
  std::map<std::string, absl::Time> finished;
  for (int i = 0; i < 12; ++i) {
    const std::string saga = StartWithCallback(coordinator(), "normal", "");
    auto ended = coordinator().WaitForEnd(saga);
    ASSERT_TRUE(ended.ok()) << ended.status();
    EXPECT_EQ(StateName(ended->state()), "COMPLETED");
    finished[saga] = absl::Now();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  auto all_normal_delivered = [&](const std::vector<Request>& requests) {
    std::set<std::string> seen;
    for (const Request& request : requests) {
      const json body = json::parse(request.body, nullptr, false);
      if (body.is_object()) seen.insert(body.value("saga_id", ""));
    }
    return std::ranges::all_of(finished, [&](const auto& f) { return seen.contains(f.first); });
  };
  EXPECT_TRUE(receiver_->WaitUntil(all_normal_delivered, absl::Seconds(30)))
      << receiver_->Requests().size() << " normal notifications\n"
      << coordinator().LogTail();
  // On time: within a few poll intervals of the saga's end (observed here, after
  // WaitForEnd's polling), although every hostile delivery is being retried meanwhile.
  absl::Duration latest = absl::ZeroDuration();
  for (const Request& request : receiver_->Requests()) {
    const json body = json::parse(request.body, nullptr, false);
    if (!body.is_object() || !finished.contains(body.value("saga_id", ""))) continue;
    latest = std::max(latest, request.at - finished[body["saga_id"]]);
    EXPECT_LT(request.at - finished[body["saga_id"]], absl::Seconds(3))
        << "normal notification of " << body["saga_id"] << " late";
  }
  std::cerr << "the latest normal notification came " << absl::FormatDuration(latest)
            << " after its saga was seen to end\n";

  // Let the hostile deliveries be retried a few more times (1 s, 2 s, 4 s backoff).
  std::this_thread::sleep_for(std::chrono::seconds(8));
  const long peak_kib = rss.peak_kib();
  EXPECT_LT(peak_kib - baseline_kib, 150 * 1024)
      << "the coordinator's RSS grew from " << baseline_kib << " KiB to " << peak_kib << " KiB";
  EXPECT_GT(hostile_->EndlessBytesSent(), 0u);
  std::cerr << "RSS " << baseline_kib << " KiB -> peak " << peak_kib << " KiB; /endless sent "
            << hostile_->EndlessBytesSent() << " bytes\n";

  // Each failure is recorded, bounded and clear; nothing hostile counts as delivered.
  EXPECT_EQ(OutboxRows("url LIKE '%/normal' AND delivered_at IS NULL"), 0);
  EXPECT_EQ(OutboxRows("url LIKE '%/normal'"), 12);
  EXPECT_EQ(OutboxRows("url NOT LIKE '%/normal' AND delivered_at IS NOT NULL"), 0);
  EXPECT_EQ(OutboxRows("url LIKE '%/drip%' AND attempts > 0 AND last_error LIKE "
                       "'no complete answer within 3 s (the delivery''s deadline)'"),
            2)
      << coordinator().LogTail();
  EXPECT_EQ(OutboxRows("url LIKE '%/redirect' AND attempts > 0 AND last_error LIKE "
                       "'HTTP 302 (redirects are not followed; Location: http://127.0.0.1:%"
                       "/redirected)'"),
            1)
      << coordinator().LogTail();
  EXPECT_EQ(OutboxRows("url LIKE '%/close' AND attempts > 0 AND last_error LIKE "
                       "'no complete answer%'"),
            1)
      << coordinator().LogTail();
  EXPECT_EQ(OutboxRows("url LIKE '%/endless%' AND attempts > 1 AND last_error LIKE "
                       "'HTTP 500: xxxx%'"),
            7)
      << coordinator().LogTail();
  EXPECT_EQ(OutboxRows("url LIKE '%/headers' AND attempts > 0 AND last_error LIKE "
                       "'the answer''s status line and headers ran past 64 KiB: cut off'"),
            1)
      << coordinator().LogTail();
  EXPECT_EQ(OutboxRows("length(last_error) > 300"), 0);
  for (const std::string& path : hostile_->Paths()) EXPECT_NE(path, "/redirected");
  for (const Request& request : receiver_->Requests()) EXPECT_NE(request.path, "/redirected");

  // Stopping cancels the deliveries in flight (a drip is always in one) at once.
  const absl::Time stopping = absl::Now();
  ASSERT_TRUE(coordinator().Stop(SIGTERM).ok());
  EXPECT_EQ(coordinator().last_exit_status(), 0);
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(10));
}

// Under `serve`, a callback to loopback is refused where it resolves, recorded once as a
// clear failure and not retried; the same destination listed in --notify-allow (here by
// host name only) is delivered.
TEST_F(HostileWebhooksTest, LoopbackIsRefusedUnderServeUnlessAllowed) {
  const std::string port = receiver_->Url("").substr(std::string("http://127.0.0.1:").size());
  const std::string by_name = "http://localhost:" + port + "/by-name";
  const std::string by_address = receiver_->Url("/by-address");
  StartHarness({});
  ASSERT_TRUE(harness_->Apply(OneStep("refused", by_address)).ok());
  const std::string refused = StartWithCallback(coordinator(), "refused", by_name);
  auto ended = coordinator().WaitForEnd(refused);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(StateName(ended->state()), "COMPLETED");
  auto both_given_up = [&] {
    return OutboxRows("attempts = 1 AND next_attempt_at > now() + interval '50 years'") == 2;
  };
  for (int i = 0; i < 100 && !both_given_up(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(both_given_up()) << coordinator().LogTail();
  EXPECT_EQ(OutboxRows("url LIKE '%/by-address' AND last_error = 'given up: destination "
                       "127.0.0.1, a loopback address: refused (allow it with --notify-allow "
                       "127.0.0.1)'"),
            1)
      << coordinator().LogTail();
  EXPECT_EQ(OutboxRows("url LIKE '%/by-name' AND last_error LIKE 'given up: destination "
                       "localhost resolves to %, a loopback address: refused (allow it with "
                       "--notify-allow % or --notify-allow localhost)'"),
            1)
      << coordinator().LogTail();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(OutboxRows("attempts > 1"), 0) << "a refused destination is not retried";
  EXPECT_TRUE(receiver_->Requests().empty());
  ASSERT_TRUE(coordinator().Stop(SIGTERM).ok());

  // Allowed by name: the name's addresses may be loopback; the address itself is still
  // refused for a URL that names it.
  StartHarness({"--notify-allow", "localhost"});
  ASSERT_TRUE(harness_->Apply(OneStep("refused", by_address)).ok());
  const std::string allowed = StartWithCallback(coordinator(), "refused", by_name);
  ASSERT_TRUE(coordinator().WaitForEnd(allowed).ok());
  ASSERT_TRUE(receiver_->WaitUntil(
      [](const std::vector<Request>& requests) { return !requests.empty(); }, absl::Seconds(10)))
      << coordinator().LogTail();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const std::vector<Request> requests = receiver_->Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].path, "/by-name");
  EXPECT_EQ(requests[0].Header("Host"), "localhost:" + port) << "the URL's host, not the address";
  EXPECT_EQ(OutboxRows("url LIKE '%/by-address' AND last_error LIKE 'given up: destination "
                       "127.0.0.1, a loopback address%'"),
            1);
}

}  // namespace
}  // namespace skald::testing
