#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

// Which HTTP requests the coordinator's port admits, decided from the request's head alone,
// before its body is read (docs/http-api.md, "Browsers"). Pure: the HTTP shell fills an
// HttpRequestHead from the wire and answers a refusal as it is told.
namespace skald::core {

// The names a request's Host header may carry. A page on an attacker's domain that the
// attacker re-points at 127.0.0.1 (DNS rebinding) sends its own domain as Host: refusing
// unknown names keeps such a page from reading the API.
struct HostAllowlist {
  // Host names without a port, compared without case; "*" admits any. IP literals are
  // always admitted: a browser sending one is on that address's own origin.
  std::vector<std::string> names;
};

// Returns the allowlist of a port listening on `listen_host` (a name or an address, without
// brackets or port): "localhost", the listen host, and the operator's `extra` names.
HostAllowlist MakeHostAllowlist(std::string_view listen_host,
                                const std::vector<std::string>& extra);

// The parts of a request's head the rules look at. A header that is absent is nullopt.
struct HttpRequestHead {
  std::string method;
  // The path without the query string: "/api/v1/sagas".
  std::string path;
  std::optional<std::string> host;
  std::optional<std::string> origin;
  std::optional<std::string> sec_fetch_site;
  std::optional<std::string> content_type;
  // Whether the request says how its body ends: a Content-Length, or chunked encoding.
  bool has_content_length = false;
  bool chunked = false;
};

// A request refused before its body is read: the HTTP status and the error to answer with.
struct HttpRefusal {
  int http_status = 400;
  absl::Status status;
};

// Returns why `head` is refused, or nullopt when it is admitted. In this order:
// - /healthz and /readyz are always admitted (probes address the port however they like);
// - a Host that `hosts` does not allow: 403 (DNS rebinding);
// - a state-changing method (POST, PUT, PATCH, DELETE):
//   - outside /api/v1/: 404 (no such endpoint; its body is never read);
//   - sent cross-site (Sec-Fetch-Site other than same-origin or none, or an Origin that is
//     not the Host's): 403;
//   - without Content-Type: application/json: 415 (an HTML form cannot send that type
//     without the coordinator's consent, which it never gives);
//   - without a Content-Length or chunked body: 400 naming what is missing.
std::optional<HttpRefusal> CheckRequestHead(const HttpRequestHead& head,
                                            const HostAllowlist& hosts);

// Returns whether `content_type` is application/json, parameters (charset) allowed.
bool IsJsonContentType(std::string_view content_type);

// Returns whether the Host header value `host` (name or address, optional port) is allowed.
bool IsHostAllowed(std::string_view host, const HostAllowlist& hosts);

// Returns whether the Origin header value `origin` ("http://127.0.0.1:7780") names the same
// scheme-less authority as the Host header value `host`, default ports aside. "null" never
// does.
bool IsSameOrigin(std::string_view origin, std::string_view host);

}  // namespace skald::core
