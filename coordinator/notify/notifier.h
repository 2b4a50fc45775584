#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "coordinator/notify/webhook_transport.h"
#include "coordinator/store/outbox.h"

namespace skald::notify {

struct NotifierOptions {
  // Signs every notification (X-Skald-Signature); empty: sent unsigned, with a warning at
  // start.
  std::string secret;
  // Where alerts go; empty: none, and no scan for stuck sagas.
  std::string alert_url;
  // Alert once per saga unfinished (RUNNING, COMPENSATING or FAILED) for longer than this.
  std::chrono::milliseconds alert_stuck_after{3'600'000};
  // How often the outbox is looked at for due rows while there is nothing to do.
  std::chrono::milliseconds poll_interval{500};
  // How many rows one claim takes.
  int batch = 8;
  // How long a claim keeps other notifiers off the claimed rows (a notifier that died while
  // delivering leaves them to the others after this).
  std::chrono::milliseconds claim_lease{60'000};
  // Per phase of one POST (connecting at most 5 s of it).
  std::chrono::milliseconds request_timeout{10'000};
  // The clock of X-Skald-Timestamp: Unix seconds.
  std::function<int64_t()> unix_seconds = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
};

// Delivers the notification outbox: on its own thread it takes due rows (shared with other
// coordinators: each row is claimed by one), POSTs each with its signature, records success,
// or records the failure and retries it later with exponential backoff (1 s doubling to
// 5 min), forever. It also queues the alerts for sagas unfinished for too long. Deliveries
// are at least once: a receiver deduplicates by X-Skald-Delivery.
class Notifier {
 public:
  Notifier(store::OutboxStore& outbox, WebhookTransport& transport, NotifierOptions options);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Starts the thread.
  void Start();

  // Stops the thread; a POST in progress is cut short and recorded as failed (it is retried
  // by whichever coordinator gets to it next). Returns within about the time of one
  // database transaction.
  void Stop();

  // Does one round on the calling thread: queues stuck-saga alerts when a scan is due, then
  // claims due rows and tries each once. Returns how many were delivered. For tests; not to
  // be mixed with Start().
  int RunOnce();

 private:
  void Loop();
  // Tries one claimed row; returns true when delivered.
  bool Deliver(const store::OutboxDelivery& delivery);
  bool stopping() const;

  store::OutboxStore& outbox_;
  WebhookTransport& transport_;
  const NotifierOptions options_;
  std::chrono::steady_clock::time_point next_scan_{};

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// The interval of the scan for sagas unfinished for longer than `stuck_after`: a tenth of
// it, from 1 s to 1 min.
std::chrono::milliseconds StuckScanInterval(std::chrono::milliseconds stuck_after);

}  // namespace skald::notify
