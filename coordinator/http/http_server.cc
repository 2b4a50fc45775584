#include "coordinator/http/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "coordinator/core/http_admission.h"
#include "coordinator/http/gated_server.h"
#include "coordinator/http/json_api.h"
#include "coordinator/http/json_codec.h"
#include "coordinator/http/web_assets.h"
#include "nlohmann/json.hpp"

namespace skald::http {
namespace {

struct HostPort {
  std::string host;
  int port = 0;
};

absl::StatusOr<HostPort> ParseListenAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  HostPort parsed;
  if (colon != std::string::npos && colon > 0) {
    parsed.host = address.substr(0, colon);
    const std::string port = address.substr(colon + 1);
    auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), parsed.port);
    if (error == std::errc() && end == port.data() + port.size() && !port.empty() &&
        parsed.port >= 0 && parsed.port <= 65535) {
      // "[::1]:80": httplib wants the host without brackets.
      if (parsed.host.size() > 2 && parsed.host.front() == '[' && parsed.host.back() == ']') {
        parsed.host = parsed.host.substr(1, parsed.host.size() - 2);
      }
      return parsed;
    }
  }
  return absl::InvalidArgumentError("HTTP listen address must be HOST:PORT, got \"" + address +
                                    "\"");
}

// The status is left to httplib: 200, or 206 for a request with a Range.
void ServeAsset(const WebAsset& asset, httplib::Response& response) {
  // The files change with the binary: always revalidate rather than serve a stale page.
  response.set_header("Cache-Control", "no-cache");
  response.set_content(std::string(asset.content), std::string(ContentTypeFor(asset.path)));
}

void AddDashboardRoutes(httplib::Server& server) {
  auto index = [](const httplib::Request&, httplib::Response& response) {
    if (const WebAsset* asset = FindWebAsset("index.html")) return ServeAsset(*asset, response);
    response.status = 404;
    response.set_content("this coordinator was built without a dashboard (web/index.html)\n",
                         "text/plain; charset=utf-8");
  };
  server.Get("/", index);
  server.Get("/ui", index);
  server.Get("/ui/", index);
  server.Get(R"(/ui/(.+))", [index](const httplib::Request& request, httplib::Response& response) {
    const std::string path = request.matches[1];
    if (const WebAsset* asset = FindWebAsset(path)) return ServeAsset(*asset, response);
    // A page of the dashboard (no file extension) gets the dashboard, which routes itself.
    const size_t slash = path.rfind('/');
    if (path.find('.', slash == std::string::npos ? 0 : slash) == std::string::npos) {
      return index(request, response);
    }
    response.status = 404;
    response.set_content("no such file: /ui/" + path + "\n", "text/plain; charset=utf-8");
  });
}

void AddOperationalRoutes(httplib::Server& server, const HttpServices& services) {
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_header("Cache-Control", "no-store");
    response.set_content("ok\n", "text/plain; charset=utf-8");
  });
  auto readiness = services.readiness;
  server.Get("/readyz", [readiness](const httplib::Request&, httplib::Response& response) {
    const std::vector<ReadinessCheck> checks =
        readiness ? readiness() : std::vector<ReadinessCheck>{};
    bool ready = true;
    for (const ReadinessCheck& check : checks) ready = ready && check.ok;
    response.status = ready ? 200 : 503;
    response.set_header("Cache-Control", "no-store");
    response.set_content(ReadinessBody(checks), "application/json");
  });
  observability::MetricsRegistry* metrics = services.metrics;
  server.Get("/metrics", [metrics](const httplib::Request&, httplib::Response& response) {
    response.set_header("Cache-Control", "no-store");
    response.set_content(metrics ? metrics->RenderText() : "",
                         observability::kPrometheusTextContentType);
  });
}

// Returns the parts of `request`'s head that decide whether it is admitted.
core::HttpRequestHead HeadOf(const httplib::Request& request) {
  auto header = [&](const char* name) -> std::optional<std::string> {
    if (!request.has_header(name)) return std::nullopt;
    return request.get_header_value(name);
  };
  core::HttpRequestHead head;
  head.method = request.method;
  head.path = request.path;
  head.host = header("Host");
  head.origin = header("Origin");
  head.sec_fetch_site = header("Sec-Fetch-Site");
  head.content_type = header("Content-Type");
  head.has_content_length = request.has_header("Content-Length");
  std::string encoding = request.get_header_value("Transfer-Encoding");
  std::transform(encoding.begin(), encoding.end(), encoding.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  head.chunked = encoding.find("chunked") != std::string::npos;
  return head;
}

// Admits or refuses each request from its head, before httplib reads its body
// (core/http_admission.h), and serves at most one range of a response.
void SetAdmission(httplib::Server& server, core::HostAllowlist hosts) {
  server.set_pre_routing_handler(
      [hosts = std::move(hosts)](const httplib::Request& request, httplib::Response& response) {
        // httplib answers "Range: bytes=0-,0-,..." with one part per range, each a whole copy
        // (6 KB of dashboard became 32 MB). Ranges are optional for a server (RFC 9110 14.2):
        // several are ignored and the whole response sent once. The hook sees the request as
        // const; it is httplib's own mutable object, read again only after this returns.
        if (request.ranges.size() > 1) const_cast<httplib::Request&>(request).ranges.clear();
        std::optional<core::HttpRefusal> refusal = core::CheckRequestHead(HeadOf(request), hosts);
        if (!refusal) return httplib::Server::HandlerResponse::Unhandled;
        response.status = refusal->http_status;
        response.set_header("Cache-Control", "no-store");
        // The body, if any, is not read: what follows it on the connection is no request.
        response.set_header("Connection", "close");
        GatedServer::CloseConnectionAfterResponse();
        response.set_content(ErrorBody(refusal->status), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      });
}

// Returns the error of a response httplib refused by itself (no handler ran).
absl::Status ErrorOfRefusal(const httplib::Request& request, int http_status,
                            size_t max_body_bytes) {
  switch (http_status) {
    case 413: {
      const size_t length = request.get_header_value<uint64_t>("Content-Length");
      if (request.has_header("Content-Length") && length <= max_body_bytes) {
        // httplib's own cap on form-encoded bodies, lower than ours.
        return absl::ResourceExhaustedError(
            "a form-encoded body (Content-Type: " + request.get_header_value("Content-Type") +
            ") over 8192 bytes; the API takes JSON: send Content-Type: application/json");
      }
      return absl::ResourceExhaustedError("request body over the limit of " +
                                          std::to_string(max_body_bytes) +
                                          " bytes (--max-request-bytes)");
    }
    case 404:
      return absl::NotFoundError("no endpoint " + request.method + " " + request.path +
                                 " (see docs/http-api.md)");
    case 414:
      return absl::InvalidArgumentError("request line over 8192 bytes");
    case 416:
      return absl::InvalidArgumentError(
          "Range header not understood: expected bytes=FIRST-LAST, e.g. bytes=0-1023");
    case 400:
      return absl::InvalidArgumentError(
          "malformed HTTP request: an unsupported method, a bad request line or header, or a "
          "body that did not arrive complete in time");
    default:
      return absl::Status(
          http_status < 500 ? absl::StatusCode::kInvalidArgument : absl::StatusCode::kInternal,
          "HTTP " + std::to_string(http_status));
  }
}

// Fills the body of errors that have none (no route, body too large) the way the API does.
void SetErrorHandlers(httplib::Server& server, size_t max_body_bytes) {
  // Unhandled: the body set here is sent as is; "Handled" would make httplib apply the
  // request's ranges to it.
  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [max_body_bytes](const httplib::Request& request, httplib::Response& response) {
        if (response.body.empty()) {
          response.set_content(ErrorBody(ErrorOfRefusal(request, response.status, max_body_bytes)),
                               "application/json");
        }
        return httplib::Server::HandlerResponse::Unhandled;
      }));
  server.set_exception_handler(
      [](const httplib::Request& request, httplib::Response& response, std::exception_ptr error) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        // The detail stays in the log: it may hold SQL, paths or other internals.
        spdlog::error("http: {} {} failed: {}", request.method, request.path, what);
        response.status = 500;
        response.set_content(
            ErrorBody(absl::InternalError("internal error while answering " + request.method + " " +
                                          request.path + "; the coordinator's log has the detail")),
            "application/json");
      });
}

// Returns the server HTTP or HTTPS is served by, as `options.tls` asks.
absl::StatusOr<std::unique_ptr<httplib::Server>> NewTransport(const HttpServerOptions& options) {
  const tls::ServerFiles& tls = options.tls;
  if (!tls.enabled()) {
    GateOptions gate;
    gate.head_timeout = options.head_timeout;
    gate.body_timeout = options.body_timeout;
    gate.max_connections = options.max_connections;
    gate.threads = options.threads;
    return std::make_unique<GatedServer>(gate);
  }
  if (absl::Status checked = tls::CheckServerFiles(tls); !checked.ok()) {
    return absl::InvalidArgumentError("HTTPS: " + std::string(checked.message()));
  }
  auto server = std::make_unique<httplib::SSLServer>(
      tls.cert_file.c_str(), tls.key_file.c_str(),
      tls.client_ca_file.empty() ? nullptr : tls.client_ca_file.c_str());
  if (!server->is_valid()) {
    return absl::InvalidArgumentError("HTTPS: OpenSSL refused the certificate " + tls.cert_file +
                                      " or the key " + tls.key_file);
  }
  return server;
}

}  // namespace

HttpServer::HttpServer(std::unique_ptr<httplib::Server> server) : server_(std::move(server)) {}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              const HttpServices& services) {
  absl::StatusOr<HostPort> listen = ParseListenAddress(options.listen_address);
  if (!listen.ok()) return listen.status();
  absl::StatusOr<std::unique_ptr<httplib::Server>> transport = NewTransport(options);
  if (!transport.ok()) return transport.status();
  std::unique_ptr<HttpServer> http(new HttpServer(std::move(*transport)));
  httplib::Server& server = *http->server_;
  const int threads = std::max(1, options.threads);
  http->gated_ = dynamic_cast<GatedServer*>(&server);
  if (!http->gated_) {
    // HTTPS: httplib's own loop, a worker per open connection.
    server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  }
  server.set_payload_max_length(options.max_body_bytes);
  if (http->gated_) {
    // Only what the Keep-Alive header tells clients: the gate closes idle connections.
    server.set_keep_alive_timeout(
        std::chrono::duration_cast<std::chrono::seconds>(options.head_timeout).count());
    server.set_keep_alive_max_count(GateOptions().max_requests_per_connection);
  } else {
    // Idle keep-alive connections must not hold up Stop() for long.
    server.set_keep_alive_timeout(1);
  }
  server.set_read_timeout(10);
  server.set_write_timeout(10);
  SetErrorHandlers(server, options.max_body_bytes);
  SetAdmission(server, core::MakeHostAllowlist(listen->host, options.allowed_hosts));
  AddOperationalRoutes(server, services);
  if (services.api) {
    AddJsonApiRoutes(server, *services.api);
  }
  AddDashboardRoutes(server);

  int port = listen->port;
  if (port == 0) {
    port = server.bind_to_any_port(listen->host);
  } else if (!server.bind_to_port(listen->host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return absl::UnavailableError("cannot listen for HTTP on " + options.listen_address +
                                  " (address in use or invalid?)");
  }
  const bool ipv6 = listen->host.find(':') != std::string::npos;
  http->address_ = (ipv6 ? "[" + listen->host + "]" : listen->host) + ":" + std::to_string(port);
  // The socket listens from here on: connections wait in its backlog until accepted.
  if (http->gated_) http->gated_->StartGate();
  http->thread_ = std::thread([&server] { server.listen_after_bind(); });
  // stop() does nothing before the loop runs: wait for it, so that Stop() cannot hang.
  for (int i = 0; i < 2000 && !server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return http;
}

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
  if (gated_) gated_->StopGate();
}

std::string ReadinessBody(const std::vector<ReadinessCheck>& checks) {
  bool ready = true;
  nlohmann::ordered_json details = nlohmann::ordered_json::object();
  for (const ReadinessCheck& check : checks) {
    ready = ready && check.ok;
    details[check.name] = check.ok ? "ok" : check.detail;
  }
  nlohmann::ordered_json body;
  body["status"] = ready ? "ready" : "not ready";
  body["checks"] = details;
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace skald::http
