#include "coordinator/notify/notifier.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "coordinator/core/notification.h"
#include "coordinator/notify/signature.h"
#include "coordinator/observability/logging.h"
#include "nlohmann/json.hpp"

namespace skald::notify {
namespace {

// How many stuck sagas one scan alerts at most; the next scan takes the rest.
constexpr int kStuckScanLimit = 100;

// The saga a notification is about, for log lines.
std::string SagaOf(const std::string& payload) {
  const nlohmann::json body = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    if (auto it = body.find("saga_id"); it != body.end() && it->is_string()) {
      return it->get<std::string>();
    }
  }
  return "?";
}

}  // namespace

std::chrono::milliseconds StuckScanInterval(std::chrono::milliseconds stuck_after) {
  return std::clamp<std::chrono::milliseconds>(stuck_after / 10, std::chrono::seconds(1),
                                               std::chrono::minutes(1));
}

Notifier::Notifier(store::OutboxStore& outbox, WebhookTransport& transport, NotifierOptions options)
    : outbox_(outbox), transport_(transport), options_(std::move(options)) {}

Notifier::~Notifier() { Stop(); }

void Notifier::Start() {
  if (options_.secret.empty()) {
    spdlog::warn(
        "notifier: no --notify-secret (or SKALD_NOTIFY_SECRET): notifications and alerts are "
        "sent unsigned, so receivers cannot tell them from forgeries");
  }
  if (!options_.alert_url.empty()) {
    spdlog::info("notifier: alerts go to {}", options_.alert_url);
  }
  thread_ = std::thread([this] { Loop(); });
}

void Notifier::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  transport_.Cancel();
  if (thread_.joinable()) thread_.join();
}

bool Notifier::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void Notifier::Loop() {
  auto store_backoff = options_.poll_interval;
  while (!stopping()) {
    bool more = false;
    bool failed = false;
    if (!options_.alert_url.empty() && std::chrono::steady_clock::now() >= next_scan_) {
      auto queued =
          outbox_.QueueStuckAlerts(options_.alert_url, options_.alert_stuck_after, kStuckScanLimit);
      if (!queued.ok()) {
        spdlog::warn("notifier: scanning for stuck sagas failed: {}",
                     std::string(queued.status().message()));
        failed = true;
      } else {
        if (*queued > 0) spdlog::warn("notifier: {} saga(s) unfinished for too long", *queued);
        next_scan_ =
            std::chrono::steady_clock::now() + StuckScanInterval(options_.alert_stuck_after);
        more = *queued == kStuckScanLimit;
      }
    }
    const auto claimed_at = std::chrono::steady_clock::now();
    auto claimed = outbox_.Claim(options_.batch, options_.claim_lease);
    if (!claimed.ok()) {
      spdlog::warn("notifier: reading the outbox failed, will retry: {}",
                   std::string(claimed.status().message()));
      failed = true;
    } else {
      // A POST may take up to about two timeouts and a connect; rows that could not be sent
      // within the claim are handed back rather than sent after others may have taken them.
      const auto budget = 2 * options_.request_timeout + std::chrono::seconds(5);
      for (const store::OutboxDelivery& delivery : *claimed) {
        if (stopping() ||
            std::chrono::steady_clock::now() - claimed_at + budget > options_.claim_lease) {
          if (absl::Status s = outbox_.Release(delivery.id); !s.ok()) {
            spdlog::warn("notifier: handing back notification {} failed (due again in {} s): {}",
                         delivery.id, options_.claim_lease.count() / 1000,
                         std::string(s.message()));
          }
          continue;
        }
        Deliver(delivery);
      }
      more = more || static_cast<int>(claimed->size()) == options_.batch;
    }
    if (more && !failed) continue;
    store_backoff = failed ? std::min(store_backoff * 2, std::chrono::milliseconds(5'000))
                           : options_.poll_interval;
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, store_backoff, [this] { return stopping_; });
  }
}

int Notifier::RunOnce() {
  if (!options_.alert_url.empty() && std::chrono::steady_clock::now() >= next_scan_) {
    if (outbox_.QueueStuckAlerts(options_.alert_url, options_.alert_stuck_after, kStuckScanLimit)
            .ok()) {
      next_scan_ = std::chrono::steady_clock::now() + StuckScanInterval(options_.alert_stuck_after);
    }
  }
  auto claimed = outbox_.Claim(options_.batch, options_.claim_lease);
  if (!claimed.ok()) return 0;
  int delivered = 0;
  for (const store::OutboxDelivery& delivery : *claimed) delivered += Deliver(delivery) ? 1 : 0;
  return delivered;
}

bool Notifier::Deliver(const store::OutboxDelivery& delivery) {
  const int64_t timestamp = options_.unix_seconds();
  WebhookRequest request;
  request.url = delivery.url;
  request.body = delivery.payload;
  request.headers = {{"User-Agent", "skald-notifier"},
                     {"X-Skald-Event", delivery.event},
                     {"X-Skald-Delivery", std::to_string(delivery.id)},
                     {"X-Skald-Timestamp", std::to_string(timestamp)}};
  if (!options_.secret.empty()) {
    request.headers["X-Skald-Signature"] =
        SignatureHeader(options_.secret, timestamp, request.body);
  }
  const WebhookResult result = transport_.Post(request, options_.request_timeout);
  const int attempt = delivery.attempts + 1;
  const std::string saga = SagaOf(delivery.payload);
  // The lines below are about the saga: they carry its id (json logs: saga_id).
  observability::LogScope about_saga({saga});
  if (result.delivered) {
    if (absl::Status s = outbox_.MarkDelivered(delivery.id); !s.ok()) {
      // Sent, but not recorded: it will be sent again (receivers deduplicate by delivery id).
      spdlog::warn("notification {} delivered but not recorded: {}", delivery.id,
                   std::string(s.message()));
    }
    spdlog::info("{} notification {} delivered to {} (attempt {})", delivery.event, delivery.id,
                 delivery.url, attempt);
    return true;
  }
  const std::chrono::milliseconds retry_in = core::DeliveryBackoff(attempt);
  if (absl::Status s = outbox_.MarkFailed(delivery.id, result.error, retry_in); !s.ok()) {
    spdlog::warn("failed delivery of notification {} not recorded: {}", delivery.id,
                 std::string(s.message()));
  }
  spdlog::warn("{} notification {} to {} failed (attempt {}): {}; retrying in {} ms",
               delivery.event, delivery.id, delivery.url, attempt, result.error, retry_in.count());
  return false;
}

}  // namespace skald::notify
