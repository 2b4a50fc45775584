// An HTTP server on loopback that stands in for the receivers of Skald's notifications and
// alerts: it records every request and answers with the status the test chooses.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace httplib {
class Server;
}

namespace skald::testing {

class WebhookReceiver {
 public:
  // One POST received.
  struct Request {
    std::string path;
    // Header names as sent (X-Skald-Event, X-Skald-Delivery, ...).
    std::map<std::string, std::string> headers;
    std::string body;
    // The status it was answered with.
    int status = 0;
    absl::Time at;

    // The header's value, or "" when absent.
    std::string Header(const std::string& name) const;
  };

  // Starts listening on 127.0.0.1 on a free port; answers 200 until told otherwise.
  static absl::StatusOr<std::unique_ptr<WebhookReceiver>> Start();
  ~WebhookReceiver();

  // "http://127.0.0.1:<port>" + path.
  std::string Url(const std::string& path) const;

  // Answers the next `count` requests with `status`, then 200.
  void FailNext(int count, int status = 500);
  // Answers every request from now on with `status`.
  void AnswerAll(int status);

  // Every request so far, in the order received.
  std::vector<Request> Requests() const;

  // Waits (polling every 20 ms) until `done` holds for the requests received; returns
  // whether it did within `timeout`.
  bool WaitUntil(const std::function<bool(const std::vector<Request>&)>& done,
                 absl::Duration timeout) const;

 private:
  WebhookReceiver();
  int Answer();

  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<Request> requests_;
  int failures_left_ = 0;
  int failure_status_ = 500;
  int status_ = 200;
};

// Returns true when `request` carries X-Skald-Timestamp and an X-Skald-Signature equal to
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)), computed here with OpenSSL
// rather than with the coordinator's code.
bool HasValidSignature(const WebhookReceiver::Request& request, const std::string& secret);

}  // namespace skald::testing
