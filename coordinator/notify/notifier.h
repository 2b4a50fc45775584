#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/notify/notifier_options.h"
#include "coordinator/notify/webhook_transport.h"
#include "coordinator/store/outbox.h"

namespace skald::notify {

// Delivers the notification outbox: a dispatcher thread takes due rows (shared with other
// coordinators: each row is claimed by one) as workers become free, and `workers` threads
// POST them concurrently with their signature, each within request_timeout; a worker
// records success, or records the failure and has the row retried later with exponential
// backoff (1 s doubling to 5 min), until max_attempts. A destination refused by the
// transport (not allowed, invalid) is given up at once. The dispatcher also queues the
// alerts for sagas unfinished for too long. Deliveries are at least once: a receiver
// deduplicates by X-Skald-Delivery.
class Notifier {
 public:
  Notifier(store::OutboxStore& outbox, WebhookTransport& transport, NotifierOptions options);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Starts the dispatcher and the workers.
  void Start();

  // Stops the threads; POSTs in progress are cut short and recorded as failed, and claimed
  // rows not yet started are handed back (either is retried by whichever coordinator gets
  // to it next). Returns within about the time of one database transaction.
  void Stop();

  // Does one round on the calling thread: queues stuck-saga alerts when a scan is due, then
  // claims up to `workers` due rows and tries each once. Returns how many were delivered.
  // For tests; not to be mixed with Start().
  int RunOnce();

 private:
  // Claims rows for the free workers until stopped.
  void Dispatch();
  // Delivers the rows handed to it until stopped.
  void Work();
  // Queues stuck-saga alerts when a scan is due; returns false when the store failed, and
  // sets `more` when a scan found more than it queued.
  bool ScanIfDue(bool& more);
  std::chrono::milliseconds claim_lease() const;
  int workers() const;
  // Tries one claimed row; returns true when delivered.
  bool Deliver(const store::OutboxDelivery& delivery);

  store::OutboxStore& outbox_;
  WebhookTransport& transport_;
  const NotifierOptions options_;
  std::chrono::steady_clock::time_point next_scan_{};

  mutable std::mutex mutex_;
  // Wakes the dispatcher (a worker became free, or stop) and the workers (rows, or stop).
  std::condition_variable wake_;
  bool stopping_ = false;
  // Rows claimed for the workers and not yet taken by one; never more than idle_.
  std::deque<store::OutboxDelivery> queue_;
  // Workers waiting for a row.
  int idle_ = 0;
  std::thread dispatcher_;
  std::vector<std::thread> workers_;
};

// The interval of the scan for sagas unfinished for longer than `stuck_after`: a tenth of
// it, from 1 s to 1 min.
std::chrono::milliseconds StuckScanInterval(std::chrono::milliseconds stuck_after);

}  // namespace skald::notify
