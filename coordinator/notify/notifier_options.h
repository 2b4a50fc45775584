// How the Notifier (notifier.h) delivers: a plain struct, so that the flags that fill it
// compile neither the outbox nor the transport.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

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
  // How many deliveries run at once (each on its own worker thread): a receiver that
  // answers slowly holds one worker until its delivery's deadline, and the others go on.
  int workers = 8;
  // How long a claim keeps other notifiers off the claimed rows (a notifier that died while
  // delivering leaves them to the others after this). Rows are claimed only when a worker
  // is free, so it must exceed request_timeout (it is raised to that plus 5 s otherwise).
  std::chrono::milliseconds claim_lease{60'000};
  // The whole of one POST: resolving, connecting, sending and receiving together.
  std::chrono::milliseconds request_timeout{10'000};
  // A row that failed this many times is given up (about 3.5 days of retries every 5 min):
  // it stays in the outbox with its last error and is not tried again.
  int max_attempts = 1'000;
  // The clock of X-Skald-Timestamp: Unix seconds.
  std::function<int64_t()> unix_seconds = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
};

}  // namespace skald::notify
