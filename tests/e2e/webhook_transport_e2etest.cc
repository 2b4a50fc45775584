// HttpWebhookTransport against receivers that misbehave, on loopback sockets in this
// process: each POST ends by its deadline whatever the receiver does, reads a bounded part
// of the answer, follows no redirect, and goes nowhere the allowlist refuses.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <future>

#include "coordinator/notify/webhook_transport.h"
#include "tests/e2e/hostile_webhook_receiver.h"
#include "tests/e2e/webhook_receiver.h"

namespace skald::notify {
namespace {

using std::chrono::milliseconds;
using testing::HostileWebhookReceiver;
using testing::WebhookReceiver;
using Clock = std::chrono::steady_clock;

core::DestinationAllowlist LoopbackAllowed() {
  core::DestinationAllowlist allowlist;
  allowlist.AllowLoopback();
  return allowlist;
}

WebhookRequest Notification(const std::string& url) {
  return {url, {{"X-Skald-Event", "saga.finished"}}, R"({"saga_id": "s-1"})"};
}

class WebhookTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto hostile = HostileWebhookReceiver::Start();
    ASSERT_TRUE(hostile.ok()) << hostile.status();
    hostile_ = std::move(*hostile);
    auto normal = WebhookReceiver::Start();
    ASSERT_TRUE(normal.ok()) << normal.status();
    normal_ = std::move(*normal);
  }

  // Posts to `url` with `deadline`; returns the result and how long it took.
  std::pair<WebhookResult, milliseconds> Timed(const std::string& url, milliseconds deadline) {
    const auto start = Clock::now();
    WebhookResult result = transport_.Post(Notification(url), deadline);
    return {result, std::chrono::duration_cast<milliseconds>(Clock::now() - start)};
  }

  std::unique_ptr<HostileWebhookReceiver> hostile_;
  std::unique_ptr<WebhookReceiver> normal_;
  HttpWebhookTransport transport_{LoopbackAllowed()};
};

TEST_F(WebhookTransportTest, DeliversToANormalReceiverWithItsHeaders) {
  auto [result, took] = Timed(normal_->Url("/ok?x=1"), milliseconds(5'000));
  EXPECT_TRUE(result.delivered) << result.error;
  EXPECT_EQ(result.status, 200);
  ASSERT_EQ(normal_->Requests().size(), 1u);
  EXPECT_EQ(normal_->Requests()[0].Header("Content-Type"), "application/json");
  EXPECT_EQ(normal_->Requests()[0].Header("X-Skald-Event"), "saga.finished");
  EXPECT_EQ(normal_->Requests()[0].body, R"({"saga_id": "s-1"})");
  normal_->AnswerAll(503);
  auto [refused, _] = Timed(normal_->Url("/ok"), milliseconds(5'000));
  EXPECT_FALSE(refused.delivered);
  EXPECT_EQ(refused.error, "HTTP 503: try again later");
  EXPECT_FALSE(refused.permanent);
}

TEST_F(WebhookTransportTest, AnEndlessAnswerIsReadOnlyInPart) {
  auto [result, took] = Timed(hostile_->Url("/endless"), milliseconds(5'000));
  EXPECT_FALSE(result.delivered);
  EXPECT_EQ(result.status, 500);
  EXPECT_EQ(result.error.rfind("HTTP 500: xxxx", 0), 0u) << result.error;
  EXPECT_LE(result.error.size(), 300u);
  EXPECT_LT(took, milliseconds(4'000));
  // The receiver could write a little more than was read (socket buffers), no more.
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_LT(hostile_->EndlessBytesSent(), 16u << 20) << "bytes sent before the notifier hung up";
}

// The resident set of this process in KiB.
long ResidentKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

TEST_F(WebhookTransportTest, EndlessHeadersAreCutShort) {
  const long before = ResidentKib();
  auto [result, took] = Timed(hostile_->Url("/headers"), milliseconds(5'000));
  const long after = ResidentKib();
  std::cerr << "endless headers: " << result.error << " after " << took.count() << " ms; RSS "
            << before << " -> " << after << " KiB; " << hostile_->EndlessBytesSent()
            << " bytes sent\n";
  EXPECT_FALSE(result.delivered);
  EXPECT_EQ(result.error, "the answer's status line and headers ran past 64 KiB: cut off");
  EXPECT_LT(took, milliseconds(2'000));
  EXPECT_LT(after - before, 16 * 1024) << "RSS " << before << " -> " << after << " KiB";
  EXPECT_LT(hostile_->EndlessBytesSent(), 16u << 20);
}

TEST_F(WebhookTransportTest, ASlowAnswerEndsAtTheDeadline) {
  auto [result, took] = Timed(hostile_->Url("/drip"), milliseconds(1'500));
  EXPECT_FALSE(result.delivered);
  EXPECT_EQ(result.error, "no complete answer within 1500 ms (the delivery's deadline)");
  EXPECT_GE(took, milliseconds(1'400));
  EXPECT_LT(took, milliseconds(2'500));
}

TEST_F(WebhookTransportTest, RedirectsAreNotFollowedAndClosedAnswersFail) {
  hostile_->SetRedirectTarget(normal_->Url("/redirected"));
  auto [redirected, _] = Timed(hostile_->Url("/redirect"), milliseconds(5'000));
  EXPECT_FALSE(redirected.delivered);
  EXPECT_EQ(redirected.status, 302);
  EXPECT_EQ(redirected.error,
            "HTTP 302 (redirects are not followed; Location: " + normal_->Url("/redirected") + ")");
  EXPECT_TRUE(normal_->Requests().empty());
  auto [closed, took] = Timed(hostile_->Url("/close"), milliseconds(5'000));
  EXPECT_FALSE(closed.delivered);
  EXPECT_EQ(closed.status, 0);
  EXPECT_EQ(closed.error.rfind("no complete answer", 0), 0u) << closed.error;
  EXPECT_LT(took, milliseconds(4'000));
}

TEST_F(WebhookTransportTest, CancelEndsEveryPostInProgressAtOnce) {
  std::vector<std::future<std::pair<WebhookResult, milliseconds>>> posts;
  for (int i = 0; i < 4; ++i) {
    posts.push_back(std::async(
        std::launch::async, [&] { return Timed(hostile_->Url("/drip"), milliseconds(30'000)); }));
  }
  std::this_thread::sleep_for(milliseconds(500));
  transport_.Cancel();
  for (auto& post : posts) {
    ASSERT_EQ(post.wait_for(std::chrono::seconds(3)), std::future_status::ready);
    auto [result, took] = post.get();
    EXPECT_FALSE(result.delivered);
    EXPECT_EQ(result.error, "cancelled: the coordinator is shutting down");
    EXPECT_LT(took, milliseconds(2'000));
  }
  EXPECT_EQ(Timed(normal_->Url("/later"), milliseconds(5'000)).first.error,
            "cancelled: the coordinator is shutting down");
}

TEST_F(WebhookTransportTest, RefusedDestinationsAreNotContacted) {
  HttpWebhookTransport strict{core::DestinationAllowlist{}};
  const WebhookResult by_address =
      strict.Post(Notification(normal_->Url("/x")), milliseconds(5'000));
  EXPECT_FALSE(by_address.delivered);
  EXPECT_TRUE(by_address.permanent);
  EXPECT_EQ(by_address.error,
            "destination 127.0.0.1, a loopback address: refused (allow it with --notify-allow "
            "127.0.0.1)");
  const std::string port = normal_->Url("").substr(std::string("http://127.0.0.1:").size());
  const WebhookResult by_name =
      strict.Post(Notification("http://localhost:" + port + "/x"), milliseconds(5'000));
  EXPECT_TRUE(by_name.permanent);
  EXPECT_EQ(by_name.error.rfind("destination localhost resolves to ", 0), 0u) << by_name.error;
  for (const char* url :
       {"http://169.254.169.254/latest/meta-data", "http://10.0.0.1/",
        "http://[::ffff:192.168.0.1]/", "http://0.0.0.0:1/", "http://[fd00::1]/"}) {
    const WebhookResult refused = strict.Post(Notification(url), milliseconds(5'000));
    EXPECT_TRUE(refused.permanent) << url << ": " << refused.error;
  }
  EXPECT_TRUE(normal_->Requests().empty());

  // Allowed by name, connected to by address, with the name in the Host header.
  auto by_host = core::DestinationAllowlist::Parse({"localhost"});
  ASSERT_TRUE(by_host.ok());
  HttpWebhookTransport named{*by_host};
  const WebhookResult allowed =
      named.Post(Notification("http://localhost:" + port + "/named"), milliseconds(5'000));
  EXPECT_TRUE(allowed.delivered) << allowed.error;
  ASSERT_EQ(normal_->Requests().size(), 1u);
  EXPECT_EQ(normal_->Requests()[0].Header("Host"), "localhost:" + port);
}

}  // namespace
}  // namespace skald::notify
