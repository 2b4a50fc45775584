#include "coordinator/core/notification.h"

#include <gtest/gtest.h>

namespace skald::core {
namespace {

using std::chrono::milliseconds;

TEST(ValidateWebhookUrl, AcceptsHttpAndHttpsUrls) {
  for (const char* url :
       {"http://127.0.0.1:8080/hook", "https://hooks.example.com", "https://hooks.example.com/",
        "https://hooks.example.com/sagas?team=shop&x=1", "http://[::1]:9000/a",
        "http://localhost:1/x", "https://a-b.example_c.com:65535"}) {
    EXPECT_TRUE(ValidateWebhookUrl(url).ok()) << url << ": " << ValidateWebhookUrl(url);
  }
}

TEST(ValidateWebhookUrl, RejectsWhatCannotBeDeliveredTo) {
  auto error = [](std::string_view url) { return std::string(ValidateWebhookUrl(url).message()); };
  EXPECT_EQ(error("ftp://x/y"), "must start with http:// or https://, got \"ftp://x/y\"");
  EXPECT_EQ(error("HTTP://x/y"), "must start with http:// or https://, got \"HTTP://x/y\"");
  EXPECT_EQ(error(""), "must start with http:// or https://, got \"\"");
  EXPECT_EQ(error("http://"), "has no host: \"http://\"");
  EXPECT_EQ(error("http://:80/x"), "has no host: \"http://:80/x\"");
  EXPECT_EQ(error("http://host:/x"), "has an empty port: \"http://host:/x\"");
  EXPECT_EQ(error("http://host:0/x"), "port must be a number from 1 to 65535, got \"0\"");
  EXPECT_EQ(error("http://host:80a/x"), "port must be a number from 1 to 65535, got \"80a\"");
  EXPECT_EQ(error("http://user:pw@host/x"),
            "must not hold credentials (user@host): \"http://user:pw@host/x\"");
  EXPECT_EQ(error("http://ho st/x"),
            "must not hold spaces or control characters: \"http://ho st/x\"");
  EXPECT_EQ(error("http://host/x#top"), "must not hold a fragment (#...): \"http://host/x#top\"");
  EXPECT_EQ(error("http://ho%st/x"), "has an invalid host \"ho%st\"");
  EXPECT_EQ(error("http://[zz]/x"), "has an invalid IPv6 host: \"http://[zz]/x\"");
  EXPECT_EQ(error("https://h/" + std::string(kMaxWebhookUrlLength, 'a')),
            "is 2058 characters, over the limit of 2048");
  EXPECT_TRUE(ValidateWebhookUrl("https://h/" + std::string(kMaxWebhookUrlLength - 10, 'a')).ok());
}

TEST(SplitWebhookUrl, CutsOriginFromTarget) {
  auto parts = SplitWebhookUrl("https://hooks.example.com:8443/sagas/done?team=shop");
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(parts->origin, "https://hooks.example.com:8443");
  EXPECT_EQ(parts->target, "/sagas/done?team=shop");
  EXPECT_EQ(SplitWebhookUrl("http://127.0.0.1:9")->target, "/");
  EXPECT_EQ(SplitWebhookUrl("http://127.0.0.1:9?x=1")->target, "/?x=1");
  EXPECT_EQ(SplitWebhookUrl("http://127.0.0.1:9?x=1")->origin, "http://127.0.0.1:9");
}

TEST(DeliveryBackoff, DoublesFromOneSecondToFiveMinutes) {
  EXPECT_EQ(DeliveryBackoff(1), milliseconds(1'000));
  EXPECT_EQ(DeliveryBackoff(2), milliseconds(2'000));
  EXPECT_EQ(DeliveryBackoff(3), milliseconds(4'000));
  EXPECT_EQ(DeliveryBackoff(9), milliseconds(256'000));
  EXPECT_EQ(DeliveryBackoff(10), milliseconds(300'000));
  EXPECT_EQ(DeliveryBackoff(1'000'000), milliseconds(300'000));
  EXPECT_EQ(DeliveryBackoff(0), milliseconds(1'000));
}

class NoticesOfTest : public ::testing::Test {
 protected:
  NoticesOfTest() : before_(NewSagaState("s-1", nlohmann::json::object(), 2)) {}

  Transition To(SagaStatus status, std::string error = "") {
    Transition transition{before_, {}, {}};
    transition.state.status = status;
    transition.state.error = std::move(error);
    return transition;
  }

  SagaState before_;
};

TEST_F(NoticesOfTest, NothingWhileTheSagaMovesOn) {
  EXPECT_TRUE(NoticesOf(before_, To(SagaStatus::kRunning), 3).empty());
  Transition compensating = To(SagaStatus::kCompensating, "step b failed");
  compensating.history.push_back({"attempt_failed", 1, Phase::kAction, 5, {{"error", "x"}}});
  EXPECT_TRUE(NoticesOf(before_, compensating, 3).empty());
}

TEST_F(NoticesOfTest, ATerminalStateIsNotifiedOnceAndFailedAlsoAlerts) {
  EXPECT_EQ(NoticesOf(before_, To(SagaStatus::kCompleted), 3),
            (std::vector<Notice>{Notice{Notice::Kind::kSagaFinished, {}, 0, ""}}));
  EXPECT_EQ(NoticesOf(before_, To(SagaStatus::kCompensated, "b failed"), 3),
            (std::vector<Notice>{Notice{Notice::Kind::kSagaFinished, {}, 0, "b failed"}}));
  EXPECT_EQ(
      NoticesOf(before_, To(SagaStatus::kFailed, "compensation of a failed"), 3),
      (std::vector<Notice>{Notice{Notice::Kind::kSagaFinished, {}, 0, "compensation of a failed"},
                           Notice{Notice::Kind::kSagaFailed, {}, 0, "compensation of a failed"}}));
  // Already terminal before (an event that changed nothing else): nothing again.
  before_.status = SagaStatus::kCompleted;
  EXPECT_TRUE(NoticesOf(before_, To(SagaStatus::kCompleted), 3).empty());
}

TEST_F(NoticesOfTest, CompensationFailuresAlertFromTheThreshold) {
  before_.status = SagaStatus::kCompensating;
  Transition second = To(SagaStatus::kCompensating);
  second.history.push_back({"attempt_failed", 0, Phase::kCompensation, 2, {{"error", "e2"}}});
  EXPECT_TRUE(NoticesOf(before_, second, 3).empty()) << "below the threshold";
  EXPECT_EQ(NoticesOf(before_, second, 2),
            (std::vector<Notice>{Notice{Notice::Kind::kCompensationFailing, 0, 2, "e2"}}));
  EXPECT_TRUE(NoticesOf(before_, second, 0).empty()) << "0 turns the alert off";

  // Action failures and other events never count.
  Transition action = To(SagaStatus::kCompensating);
  action.history.push_back({"attempt_failed", 0, Phase::kAction, 9, {{"error", "x"}}});
  action.history.push_back({"attempt_started", 1, Phase::kCompensation, 9, {}});
  EXPECT_TRUE(NoticesOf(before_, action, 3).empty());

  // Two steps at once, each once; the error falls back to the step's.
  Transition both = To(SagaStatus::kCompensating);
  both.state.steps[1].error = "step error";
  both.history.push_back({"attempt_failed", 0, Phase::kCompensation, 3, {{"error", "e0"}}});
  both.history.push_back({"attempt_failed", 1, Phase::kCompensation, 4, nlohmann::json::object()});
  both.history.push_back({"attempt_failed", 0, Phase::kCompensation, 4, {{"error", "again"}}});
  EXPECT_EQ(NoticesOf(before_, both, 3),
            (std::vector<Notice>{Notice{Notice::Kind::kCompensationFailing, 0, 3, "e0"},
                                 Notice{Notice::Kind::kCompensationFailing, 1, 4, "step error"}}));
}

}  // namespace
}  // namespace skald::core
