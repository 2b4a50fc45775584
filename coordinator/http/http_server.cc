#include "coordinator/http/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <charconv>

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

void ServeAsset(const WebAsset& asset, httplib::Response& response) {
  response.status = 200;
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

// Fills the body of errors that have none (no route, body too large) the way the API does.
void SetErrorHandlers(httplib::Server& server, size_t max_body_bytes) {
  server.set_error_handler([max_body_bytes](const httplib::Request& request,
                                            httplib::Response& response) {
    if (!response.body.empty()) return;
    absl::Status status;
    if (response.status == 413) {
      status = absl::ResourceExhaustedError("request body over the limit of " +
                                            std::to_string(max_body_bytes) +
                                            " bytes (--max-request-bytes)");
    } else if (response.status == 404) {
      status = absl::NotFoundError("no endpoint " + request.method + " " + request.path +
                                   " (see docs/http-api.md)");
    } else {
      status = absl::Status(absl::StatusCode::kUnknown, "HTTP " + std::to_string(response.status));
    }
    response.set_content(ErrorBody(status), "application/json");
  });
  server.set_exception_handler(
      [](const httplib::Request& request, httplib::Response& response, std::exception_ptr error) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("http: {} {} failed: {}", request.method, request.path, what);
        response.status = 500;
        response.set_content(ErrorBody(absl::InternalError(what)), "application/json");
      });
}

// Returns the server HTTP or HTTPS is served by, as `tls` asks.
absl::StatusOr<std::unique_ptr<httplib::Server>> NewTransport(const tls::ServerFiles& tls) {
  if (!tls.enabled()) return std::make_unique<httplib::Server>();
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
  absl::StatusOr<std::unique_ptr<httplib::Server>> transport = NewTransport(options.tls);
  if (!transport.ok()) return transport.status();
  std::unique_ptr<HttpServer> http(new HttpServer(std::move(*transport)));
  httplib::Server& server = *http->server_;
  const int threads = std::max(1, options.threads);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_payload_max_length(options.max_body_bytes);
  // Idle keep-alive connections must not hold up Stop() for long.
  server.set_keep_alive_timeout(1);
  server.set_read_timeout(10);
  server.set_write_timeout(10);
  SetErrorHandlers(server, options.max_body_bytes);
  AddOperationalRoutes(server, services);
  if (services.operations && services.registry) {
    AddJsonApiRoutes(server, *services.operations, *services.registry, services.guard);
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
  http->thread_ = std::thread([&server] { server.listen_after_bind(); });
  return http;
}

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
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
