#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace httplib {
class Client;
}

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
  // Why it was not delivered, for people: "HTTP 500: <start of body>", "connection refused
  // (Connection)"; printable ASCII only. Empty when delivered.
  std::string error;
};

// Sends notifications. The notifier's only contact with the network, so that tests can
// replace it.
class WebhookTransport {
 public:
  virtual ~WebhookTransport() = default;
  // POSTs `request` and waits for the answer, at most about `timeout` per phase (connect,
  // send, receive). Never throws.
  virtual WebhookResult Post(const WebhookRequest& request, std::chrono::milliseconds timeout) = 0;
  // Makes a Post in progress on another thread end at once (as not delivered), and every
  // later one too. Thread-safe.
  virtual void Cancel() = 0;
};

// WebhookTransport over cpp-httplib: a new connection per POST (no keep-alive), HTTPS
// certificates checked against the system's CAs, redirects not followed (a 3xx is a failure).
class HttpWebhookTransport : public WebhookTransport {
 public:
  WebhookResult Post(const WebhookRequest& request, std::chrono::milliseconds timeout) override;
  void Cancel() override;

 private:
  std::mutex mutex_;
  bool cancelled_ = false;
  // The client of the POST in progress; guarded by mutex_.
  httplib::Client* current_ = nullptr;
};

}  // namespace skald::notify
