// An HTTP server on loopback that answers webhooks the way no receiver should, to prove the
// notifier bounds what a receiver can cost it. Raw sockets, so that it can misbehave where
// an HTTP library would not let it. Each path is one behaviour:
//   /endless   "500" with a body that never ends (until 2 GiB, or the peer hangs up)
//   /headers   "500" with header lines that never end (until 2 GiB, or the peer hangs up)
//   /drip      the answer one byte every 2 s
//   /redirect  "302" to the Location the test set (SetRedirectTarget)
//   /close     half a status line, then the connection closed
//   anything else: "200 OK".
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace skald::testing {

class HostileWebhookReceiver {
 public:
  // Starts listening on 127.0.0.1 on a free port.
  static absl::StatusOr<std::unique_ptr<HostileWebhookReceiver>> Start();
  // Closes every connection and joins every thread (within about a second).
  ~HostileWebhookReceiver();

  // "http://127.0.0.1:<port>" + path.
  std::string Url(const std::string& path) const;
  // Where /redirect sends its callers.
  void SetRedirectTarget(const std::string& url);

  // The paths of the requests read so far, in the order they came.
  std::vector<std::string> Paths() const;
  // Bytes /endless and /headers have written so far, all connections together.
  uint64_t EndlessBytesSent() const { return endless_bytes_.load(); }

 private:
  HostileWebhookReceiver() = default;
  void Accept();
  void Serve(int connection);
  // Writes all of `data` unless stopping or the peer is gone; returns whether it did.
  bool Write(int connection, const std::string& data);

  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> endless_bytes_{0};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::list<std::thread> connections_;
  std::vector<std::string> paths_;
  std::string redirect_target_ = "http://127.0.0.1:9/";
};

}  // namespace skald::testing
