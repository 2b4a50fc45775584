#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/core/saga_state.h"
#include "coordinator/core/state_machine.h"

// What a saga's progress tells the outside world, as pure rules: which committed transitions
// produce a completion notification or an alert, which URLs may receive them, and how far
// apart deliveries are retried. The store writes what these rules produce into its outbox;
// the notifier delivers it (see docs/notifications.md).
namespace skald::core {

inline constexpr size_t kMaxWebhookUrlLength = 2048;

// Returns OK when `url` may receive notifications: http:// or https://, a host (name, IPv4
// or bracketed IPv6) with an optional port from 1 to 65535, then an optional path and query;
// at most kMaxWebhookUrlLength characters, no spaces, no credentials, no fragment.
// Otherwise INVALID_ARGUMENT saying what is wrong, e.g. `must start with http:// or
// https://, got "ftp://x"` (callers prefix the field's name).
absl::Status ValidateWebhookUrl(std::string_view url);

// A valid webhook URL cut where an HTTP client wants it.
struct WebhookUrl {
  // "http://host:port" or "https://host" (scheme, host and port).
  std::string origin;
  // "/path?query"; "/" when the URL has none.
  std::string target;
};

// Returns `url` cut into origin and target, or the error of ValidateWebhookUrl.
absl::StatusOr<WebhookUrl> SplitWebhookUrl(std::string_view url);

// Returns the wait before the next delivery attempt after `failures` failed ones (>= 1):
// 1 s, doubled per further failure, at most 5 minutes. Deliveries are retried forever.
std::chrono::milliseconds DeliveryBackoff(int failures);

// Something a committed transition must tell the outside world.
struct Notice {
  enum class Kind {
    // The saga reached COMPLETED, COMPENSATED or FAILED: its completion notification.
    kSagaFinished,
    // Alert: the saga entered FAILED (an operator must act).
    kSagaFailed,
    // Alert: a step's compensation has failed `failures` times (the configured threshold
    // or more). Meant to fire once per saga and step: the store keeps only the first.
    kCompensationFailing,
  };
  Kind kind = Kind::kSagaFinished;
  // For kCompensationFailing: the step's index in the definition.
  std::optional<int> step;
  int failures = 0;
  // Why, for people: the saga's error, or the compensation's last error.
  std::string error;

  bool operator==(const Notice&) const = default;
};

// Returns what the transition from `before` to `transition.state` must tell: a completion
// notification (and for FAILED an alert) when the saga reached a terminal state, and an
// alert for each step whose compensation attempt numbered `compensation_failures` or higher
// failed in it. `compensation_failures` < 1 turns that alert off.
std::vector<Notice> NoticesOf(const SagaState& before, const Transition& transition,
                              int compensation_failures);

}  // namespace skald::core
