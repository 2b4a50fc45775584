#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "coordinator/core/destination_allowlist.h"

namespace skald::notify {

// One POST of a notification.
struct WebhookRequest {
  // http:// or https:// (validated: core::ValidateWebhookUrl).
  std::string url;
  std::map<std::string, std::string> headers;
  // JSON.
  std::string body;
};

// How a POST ended.
struct WebhookResult {
  // The receiver answered 2xx: delivered.
  bool delivered = false;
  // The HTTP status, or 0 when none came (connection refused, timeout, TLS failure...).
  int status = 0;
  // Why it was not delivered, for people: "HTTP 500: <start of the answer>", "cannot
  // connect (Connection)"; storable text (no NUL, valid UTF-8) of a few hundred bytes at
  // most. Empty when delivered.
  std::string error;
  // Trying again cannot help: the destination is refused (not allowed by --notify-allow)
  // or the URL is invalid.
  bool permanent = false;
};

// How much of a receiver's answer is read at most: enough to show why it refused. A 2xx
// answer is not read past its headers.
inline constexpr size_t kMaxAnswerBytes = 4096;

// Sends notifications. The notifier's only contact with the network, so that tests can
// replace it. Thread-safe: the notifier's workers post concurrently.
class WebhookTransport {
 public:
  virtual ~WebhookTransport() = default;
  // POSTs `request` and waits for the answer, `deadline` at most in total (resolving,
  // connecting, sending and receiving together), then gives up. Never throws.
  virtual WebhookResult Post(const WebhookRequest& request, std::chrono::milliseconds deadline) = 0;
  // Makes every Post in progress on other threads end at once (as not delivered), and
  // every later one too. Thread-safe.
  virtual void Cancel() = 0;
};

// WebhookTransport over cpp-httplib: a new connection per POST (no keep-alive), HTTPS
// certificates checked against the system's CAs, redirects not followed (a 3xx is a
// failure). The host is resolved here and every address it resolves to is checked against
// `allowlist`; the connection then goes to a checked address (the next one when one cannot
// be connected to) (with the URL's
// host in the Host header and the TLS server name), so that a second DNS answer cannot
// swap in an address that was not checked. A reaper thread cuts every POST off at its
// deadline, or once the receiver has sent more than 64 KiB (cpp-httplib 0.11 would read
// header lines without end).
class HttpWebhookTransport : public WebhookTransport {
 public:
  explicit HttpWebhookTransport(core::DestinationAllowlist allowlist);
  ~HttpWebhookTransport() override;
  HttpWebhookTransport(const HttpWebhookTransport&) = delete;
  HttpWebhookTransport& operator=(const HttpWebhookTransport&) = delete;

  WebhookResult Post(const WebhookRequest& request, std::chrono::milliseconds deadline) override;
  void Cancel() override;

 private:
  // A POST in progress.
  struct InFlight {
    std::chrono::steady_clock::time_point deadline;
    // A duplicate of the POST's socket (so that its number is not reused while the reaper
    // may shut it down), -1 until it is created.
    int socket = -1;
    // The reaper (or Cancel) shut it down.
    bool cut = false;
    // ... because the receiver sent more than the transport reads.
    bool too_long = false;
  };

  // POSTs `request` to `address` (one of `host`'s) until `give_up`; sets `unreachable`
  // when it could not connect.
  WebhookResult PostTo(const std::string& origin, const std::string& target,
                       const std::string& host, const core::IpAddress& address,
                       const WebhookRequest& request, std::chrono::steady_clock::time_point give_up,
                       std::chrono::milliseconds deadline, bool& unreachable);
  // Shuts down, until they end, the POSTs past their deadline, all of them once cancelled.
  void Reap();
  // REQUIRES: mutex_ held.
  void Cut(InFlight& flight);

  const core::DestinationAllowlist allowlist_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool cancelled_ = false;
  bool closing_ = false;
  std::list<std::shared_ptr<InFlight>> in_flight_;
  std::thread reaper_;
};

}  // namespace skald::notify
