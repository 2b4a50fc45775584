#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/api/guarded_operations.h"
#include "coordinator/observability/metrics.h"
#include "tls/grpc_credentials.h"

namespace httplib {
class Server;
}

namespace skald::http {

class GatedServer;

// One thing /readyz looked at: "database", "migrations", "coordinator".
struct ReadinessCheck {
  std::string name;
  bool ok = false;
  // "ok", or what is wrong.
  std::string detail;
};

struct HttpServerOptions {
  // host:port; port 0 picks a free port (see HttpServer::address()).
  std::string listen_address;
  // Request bodies over this are refused (413) before they are read.
  size_t max_body_bytes = 4 << 20;
  // Threads answering requests whose head has arrived (plain HTTP: slow and idle clients
  // hold none, see GatedServer; HTTPS: a connection holds one while it is open).
  int threads = 8;
  // Plain HTTP: how long a client may take to send a request's head, and its body.
  std::chrono::milliseconds head_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  // Plain HTTP: connections open at once; beyond, the one waiting longest for its request's
  // head is closed.
  size_t max_connections = 512;
  // Host header values accepted besides IP literals, "localhost" and the listen host
  // (--http-allowed-hosts); "*" accepts any (docs/http-api.md, "Browsers").
  std::vector<std::string> allowed_hosts;
  // HTTPS with this certificate and key (read once, at start), asking clients for a
  // certificate signed by tls.client_ca_file when set; plain HTTP when empty.
  tls::ServerFiles tls;
};

// What the HTTP port serves; everything must outlive the server.
struct HttpServices {
  // The JSON API (/api/v1): authenticated, checked and called; nullptr: no JSON API.
  const api::GuardedOperations* api = nullptr;
  observability::MetricsRegistry* metrics = nullptr;
  // Called for each /readyz: ready when every check is ok. Must not block for long.
  std::function<std::vector<ReadinessCheck>()> readiness;
};

// The coordinator's HTTP port, on its own threads (cpp-httplib): GET /healthz, /readyz,
// /metrics, the JSON API under /api/v1 (docs/http-api.md), and the dashboard (/ and /ui/).
class HttpServer {
 public:
  // Binds the address and starts serving. INVALID_ARGUMENT for a malformed address or
  // unusable TLS files, UNAVAILABLE when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           const HttpServices& services);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The address it listens on, with the port actually bound: "127.0.0.1:40123".
  const std::string& address() const { return address_; }

  // Stops accepting connections and waits for the requests in progress. Idempotent.
  void Stop();

 private:
  explicit HttpServer(std::unique_ptr<httplib::Server> server);

  std::unique_ptr<httplib::Server> server_;
  // server_ itself when serving plain HTTP; nullptr for HTTPS.
  GatedServer* gated_ = nullptr;
  std::thread thread_;
  std::string address_;
};

// The body of /readyz for `checks`: {"status": "ready"|"not ready", "checks": {name: detail}}.
std::string ReadinessBody(const std::vector<ReadinessCheck>& checks);

}  // namespace skald::http
