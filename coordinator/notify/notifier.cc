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

// When a given-up row is due again: never in practice. The row stays in the outbox, with
// its last error, for people to see (and to make due again by hand, see
// docs/notifications.md).
constexpr std::chrono::milliseconds kNever = std::chrono::hours(24 * 365 * 100);

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

std::chrono::milliseconds Notifier::claim_lease() const {
  return std::max(options_.claim_lease, options_.request_timeout + std::chrono::seconds(5));
}

int Notifier::workers() const { return std::max(options_.workers, 1); }

void Notifier::Start() {
  if (options_.secret.empty()) {
    spdlog::warn(
        "notifier: no --notify-secret (or SKALD_NOTIFY_SECRET): notifications and alerts are "
        "sent unsigned, so receivers cannot tell them from forgeries");
  }
  if (!options_.alert_url.empty()) {
    spdlog::info("notifier: alerts go to {}", options_.alert_url);
  }
  for (int i = 0; i < workers(); ++i) workers_.emplace_back([this] { Work(); });
  dispatcher_ = std::thread([this] { Dispatch(); });
}

void Notifier::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !dispatcher_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  transport_.Cancel();
  if (dispatcher_.joinable()) dispatcher_.join();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  // Claimed, but no worker got to them: due again at once, for any coordinator.
  for (const store::OutboxDelivery& delivery : queue_) {
    if (absl::Status s = outbox_.Release(delivery.id); !s.ok()) {
      spdlog::warn("notifier: handing back notification {} failed (due again in {} s): {}",
                   delivery.id, claim_lease().count() / 1000, std::string(s.message()));
    }
  }
  queue_.clear();
}

bool Notifier::ScanIfDue(bool& more) {
  if (options_.alert_url.empty() || std::chrono::steady_clock::now() < next_scan_) return true;
  auto queued =
      outbox_.QueueStuckAlerts(options_.alert_url, options_.alert_stuck_after, kStuckScanLimit);
  if (!queued.ok()) {
    spdlog::warn("notifier: scanning for stuck sagas failed: {}",
                 std::string(queued.status().message()));
    return false;
  }
  if (*queued > 0) spdlog::warn("notifier: {} saga(s) unfinished for too long", *queued);
  next_scan_ = std::chrono::steady_clock::now() + StuckScanInterval(options_.alert_stuck_after);
  more = more || *queued == kStuckScanLimit;
  return true;
}

void Notifier::Dispatch() {
  auto store_backoff = options_.poll_interval;
  std::unique_lock lock(mutex_);
  while (true) {
    // Rows are claimed only for workers free to start them at once, so that a claim's
    // lease runs from the start of its delivery, and rows wait in the outbox (where other
    // coordinators may take them), not here, while every worker is busy.
    wake_.wait(lock, [this] { return stopping_ || idle_ > static_cast<int>(queue_.size()); });
    if (stopping_) return;
    const int free = idle_ - static_cast<int>(queue_.size());
    lock.unlock();
    bool more = false;
    bool failed = !ScanIfDue(more);
    auto claimed = outbox_.Claim(free, claim_lease());
    if (!claimed.ok()) {
      spdlog::warn("notifier: reading the outbox failed, will retry: {}",
                   std::string(claimed.status().message()));
      failed = true;
    }
    lock.lock();
    if (claimed.ok()) {
      more = more || static_cast<int>(claimed->size()) == free;
      for (store::OutboxDelivery& delivery : *claimed) queue_.push_back(std::move(delivery));
      wake_.notify_all();
    }
    if (more && !failed) continue;
    store_backoff = failed ? std::min(store_backoff * 2, std::chrono::milliseconds(5'000))
                           : options_.poll_interval;
    wake_.wait_for(lock, store_backoff, [this] { return stopping_; });
  }
}

void Notifier::Work() {
  std::unique_lock lock(mutex_);
  while (true) {
    ++idle_;
    wake_.notify_all();
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (stopping_) return;
    const store::OutboxDelivery delivery = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    Deliver(delivery);
    lock.lock();
  }
}

int Notifier::RunOnce() {
  bool more = false;
  ScanIfDue(more);
  auto claimed = outbox_.Claim(workers(), claim_lease());
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
  const bool give_up = result.permanent || attempt >= options_.max_attempts;
  const std::chrono::milliseconds retry_in = give_up ? kNever : core::DeliveryBackoff(attempt);
  const std::string error =
      give_up ? (result.permanent ? "given up: "
                                  : "given up after " + std::to_string(attempt) + " attempts: ") +
                    result.error
              : result.error;
  if (absl::Status s = outbox_.MarkFailed(delivery.id, error, retry_in); !s.ok()) {
    spdlog::warn("failed delivery of notification {} not recorded: {}", delivery.id,
                 std::string(s.message()));
  }
  if (give_up) {
    spdlog::error("{} notification {} to {} failed (attempt {}): {}; not retried", delivery.event,
                  delivery.id, delivery.url, attempt, error);
  } else {
    spdlog::warn("{} notification {} to {} failed (attempt {}): {}; retrying in {} ms",
                 delivery.event, delivery.id, delivery.url, attempt, result.error,
                 retry_in.count());
  }
  return false;
}

}  // namespace skald::notify
