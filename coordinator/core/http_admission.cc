#include "coordinator/core/http_admission.h"

#include <algorithm>
#include <cctype>

namespace skald::core {
namespace {

std::string Lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// An authority split into its host (brackets kept for IPv6) and port ("" when absent).
struct Authority {
  std::string host;
  std::string port;
};

Authority SplitAuthority(std::string_view authority) {
  Authority split;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return {std::string(authority), ""};
    split.host = std::string(authority.substr(0, close + 1));
    std::string_view rest = authority.substr(close + 1);
    if (rest.starts_with(':')) split.port = std::string(rest.substr(1));
    return split;
  }
  const size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos) return {std::string(authority), ""};
  return {std::string(authority.substr(0, colon)), std::string(authority.substr(colon + 1))};
}

bool IsIpv4Literal(std::string_view host) {
  int parts = 0;
  while (true) {
    size_t digits = 0;
    int value = 0;
    while (digits < host.size() && std::isdigit(static_cast<unsigned char>(host[digits]))) {
      value = value * 10 + (host[digits] - '0');
      if (++digits > 3) return false;
    }
    if (digits == 0 || value > 255) return false;
    ++parts;
    host.remove_prefix(digits);
    if (host.empty()) return parts == 4;
    if (host.front() != '.' || parts == 4) return false;
    host.remove_prefix(1);
  }
}

// "[::1]", "[fe80::1%25eth0]": what a browser sends for an IPv6 address.
bool IsIpv6Literal(std::string_view host) {
  if (host.size() < 4 || host.front() != '[' || host.back() != ']') return false;
  host = host.substr(1, host.size() - 2);
  if (host.find(':') == std::string_view::npos) return false;
  return std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isxdigit(c) || c == ':' || c == '.' || c == '%' || std::isalnum(c);
  });
}

bool IsStateChanging(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

HttpRefusal Refuse(int http_status, absl::Status status) { return {http_status, status}; }

}  // namespace

HostAllowlist MakeHostAllowlist(std::string_view listen_host,
                                const std::vector<std::string>& extra) {
  HostAllowlist hosts;
  hosts.names.push_back("localhost");
  if (!listen_host.empty()) hosts.names.push_back(Lower(listen_host));
  for (const std::string& name : extra) {
    std::string_view trimmed = Trim(name);
    if (!trimmed.empty()) hosts.names.push_back(Lower(trimmed));
  }
  return hosts;
}

bool IsJsonContentType(std::string_view content_type) {
  const size_t semicolon = content_type.find(';');
  return Lower(Trim(content_type.substr(0, semicolon))) == "application/json";
}

bool IsHostAllowed(std::string_view host, const HostAllowlist& hosts) {
  std::string name = Lower(SplitAuthority(Trim(host)).host);
  if (name.ends_with('.')) name.pop_back();  // "localhost." is "localhost"
  if (name.empty()) return false;
  if (IsIpv4Literal(name) || IsIpv6Literal(name)) return true;
  return std::any_of(hosts.names.begin(), hosts.names.end(),
                     [&](const std::string& allowed) { return allowed == "*" || allowed == name; });
}

bool IsSameOrigin(std::string_view origin, std::string_view host) {
  origin = Trim(origin);
  const size_t separator = origin.find("://");
  if (separator == std::string_view::npos) return false;  // "null", or not an origin
  const std::string scheme = Lower(origin.substr(0, separator));
  const std::string default_port = scheme == "http" ? "80" : scheme == "https" ? "443" : "";
  if (default_port.empty()) return false;
  Authority from = SplitAuthority(Lower(origin.substr(separator + 3)));
  Authority to = SplitAuthority(Lower(Trim(host)));
  if (from.port.empty()) from.port = default_port;
  if (to.port.empty()) to.port = default_port;
  return !from.host.empty() && from.host == to.host && from.port == to.port;
}

std::optional<HttpRefusal> CheckRequestHead(const HttpRequestHead& head,
                                            const HostAllowlist& hosts) {
  if (head.path == "/healthz" || head.path == "/readyz") return std::nullopt;
  if (head.host && !IsHostAllowed(*head.host, hosts)) {
    return Refuse(403, absl::PermissionDeniedError(
                           "Host \"" + *head.host +
                           "\" is not a name of this coordinator; add it to "
                           "--http-allowed-hosts if clients reach the port by that name"));
  }
  if (!IsStateChanging(head.method)) return std::nullopt;
  const std::string endpoint = head.method + " " + head.path;
  if (!head.path.starts_with("/api/v1/")) {
    return Refuse(404, absl::NotFoundError("no endpoint " + endpoint + " (see docs/http-api.md)"));
  }
  if (head.sec_fetch_site && *head.sec_fetch_site != "same-origin" &&
      *head.sec_fetch_site != "none") {
    return Refuse(403, absl::PermissionDeniedError(
                           "cross-site request refused (Sec-Fetch-Site: " + *head.sec_fetch_site +
                           "): the API takes requests that change state only from its own "
                           "pages and from clients outside a browser"));
  }
  if (head.origin && !(head.host && IsSameOrigin(*head.origin, *head.host))) {
    return Refuse(403, absl::PermissionDeniedError(
                           "cross-origin request refused (Origin: " + *head.origin +
                           "): the API takes requests that change state only from its own "
                           "pages and from clients outside a browser"));
  }
  if (!head.content_type || !IsJsonContentType(*head.content_type)) {
    return Refuse(
        415, absl::InvalidArgumentError(
                 endpoint + " takes a JSON body: send it with Content-Type: " + "application/json" +
                 (head.content_type ? " (not " + *head.content_type + ")" : "")));
  }
  if (!head.has_content_length && !head.chunked) {
    return Refuse(400, absl::InvalidArgumentError(
                           endpoint + ": no request body: send a JSON object with a " +
                           "Content-Length (an empty object {} when there is nothing to say)"));
  }
  return std::nullopt;
}

}  // namespace skald::core
