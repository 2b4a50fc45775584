#include "coordinator/notify/webhook_transport.h"

#include <fcntl.h>
#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "coordinator/core/notification.h"
#include "coordinator/core/storable_text.h"
#include "coordinator/notify/socket_bytes.h"

namespace skald::notify {
namespace {

using Clock = std::chrono::steady_clock;

// How much a receiver may send before the transport hangs up: headers, a TLS handshake and
// the part of an answer that is read fit well within it.
constexpr uint64_t kMaxReceivedBytes = 64 * 1024;
// How often the reaper looks at how much each POST in flight has received.
constexpr std::chrono::milliseconds kReceivedCheckInterval{20};

// How much of an answer goes into the outbox's last_error and the logs.
constexpr size_t kShownAnswerBytes = 200;

// A receiver's answer as text for the outbox (a text column) and the logs: storable, one
// line, short.
std::string Shown(std::string_view text) {
  std::string line = core::StorableText(text, kShownAnswerBytes);
  std::ranges::replace_if(
      line, [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }, ' ');
  return line;
}

std::string Describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "cannot connect";
    case httplib::Error::ConnectionTimeout:
      return "connecting timed out";
    case httplib::Error::Read:
      return "no complete answer (reading failed or timed out)";
    case httplib::Error::Write:
      return "sending the request failed or timed out";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed";
    case httplib::Error::SSLServerVerification:
      return "the server's TLS certificate is not trusted";
    case httplib::Error::Canceled:
      return "cancelled";
    default:
      return "request failed";
  }
}

// The host of an origin "scheme://host[:port]", as written ("[::1]" keeps its brackets).
std::string HostOf(std::string_view origin) {
  std::string_view authority = origin.substr(origin.find("://") + 3);
  if (authority.starts_with('[')) return std::string(authority.substr(0, authority.find(']') + 1));
  return std::string(authority.substr(0, authority.find(':')));
}

std::string Unbracketed(const std::string& host) {
  return host.starts_with('[') ? host.substr(1, host.size() - 2) : host;
}

// Returns every address `host` resolves to (TCP), without duplicates. Blocks for as long
// as the system's resolver takes (resolv.conf's timeout and attempts).
absl::StatusOr<std::vector<core::IpAddress>> Resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int error = getaddrinfo(host.c_str(), nullptr, &hints, &found); error != 0) {
    return absl::UnavailableError("cannot resolve " + host + ": " + gai_strerror(error));
  }
  std::vector<core::IpAddress> addresses;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* bytes =
        a->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr)
            : static_cast<const void*>(
                  &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr);
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    if (inet_ntop(a->ai_family, bytes, text, sizeof text) == nullptr) continue;
    if (auto address = core::ParseIpAddress(text);
        address && std::ranges::find(addresses, *address) == addresses.end()) {
      addresses.push_back(*address);
    }
  }
  freeaddrinfo(found);
  if (addresses.empty()) return absl::UnavailableError("cannot resolve " + host + ": no address");
  return addresses;
}

std::string Seconds(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

}  // namespace

HttpWebhookTransport::HttpWebhookTransport(core::DestinationAllowlist allowlist)
    : allowlist_(std::move(allowlist)), reaper_([this] { Reap(); }) {}

HttpWebhookTransport::~HttpWebhookTransport() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  changed_.notify_all();
  reaper_.join();
}

void HttpWebhookTransport::Cut(InFlight& flight) {
  flight.cut = true;
  // shutdown() (not close) ends a connect, a handshake, a send or a receive in progress on
  // the POST's thread at once, and leaves the descriptor to its owner.
  if (flight.socket >= 0) ::shutdown(flight.socket, SHUT_RDWR);
}

void HttpWebhookTransport::Reap() {
  std::unique_lock lock(mutex_);
  while (!closing_) {
    const auto now = Clock::now();
    std::optional<Clock::time_point> wake;
    for (const auto& flight : in_flight_) {
      Clock::time_point next = std::min(flight->deadline, now + kReceivedCheckInterval);
      if (!flight->cut && flight->socket >= 0) {
        // cpp-httplib reads header lines without a limit on their number: what the peer
        // sent so far is watched here instead.
        const std::optional<uint64_t> received = TcpBytesReceived(flight->socket);
        if (received && *received > kMaxReceivedBytes) {
          flight->too_long = true;
          Cut(*flight);
        }
      }
      if (cancelled_ || flight->deadline <= now) {
        // Again until the POST ends: it may have been between creating its socket and
        // connecting when it was cut first.
        Cut(*flight);
        next = now + std::chrono::milliseconds(100);
      }
      wake = wake ? std::min(*wake, next) : next;
    }
    if (wake) {
      changed_.wait_until(lock, *wake);
    } else {
      changed_.wait(lock);
    }
  }
}

WebhookResult HttpWebhookTransport::Post(const WebhookRequest& request,
                                         std::chrono::milliseconds deadline) {
  const auto give_up = Clock::now() + deadline;
  auto url = core::SplitWebhookUrl(request.url);
  if (!url.ok()) {
    return {false, 0, Shown("invalid URL: " + std::string(url.status().message())), true};
  }
  // Resolve here and check every address, then connect to a checked one: a destination
  // that resolves to a refused address among others is refused whole.
  const std::string host = HostOf(url->origin);
  std::vector<core::IpAddress> addresses;
  if (auto literal = core::ParseIpAddress(host)) {
    addresses.push_back(*literal);
  } else {
    auto resolved = Resolve(host);
    if (!resolved.ok()) return {false, 0, Shown(std::string(resolved.status().message()))};
    addresses = std::move(*resolved);
  }
  for (const core::IpAddress& address : addresses) {
    if (absl::Status allowed = allowlist_.Check(host, address); !allowed.ok()) {
      return {false, 0, Shown("destination " + std::string(allowed.message())), true};
    }
  }

  // In the resolver's order, the next address when one cannot be connected to.
  WebhookResult result;
  for (const core::IpAddress& address : addresses) {
    bool unreachable = false;
    result =
        PostTo(url->origin, url->target, host, address, request, give_up, deadline, unreachable);
    if (!unreachable || Clock::now() >= give_up) break;
  }
  return result;
}

WebhookResult HttpWebhookTransport::PostTo(const std::string& origin, const std::string& target,
                                           const std::string& host, const core::IpAddress& address,
                                           const WebhookRequest& request,
                                           std::chrono::steady_clock::time_point give_up,
                                           std::chrono::milliseconds deadline, bool& unreachable) {
  httplib::Client client(origin);
  if (!client.is_valid()) return {false, 0, Shown("cannot make an HTTP client for " + origin)};
  client.set_hostname_addr_map({{Unbracketed(host), address.ToString()}});
  const auto left =
      std::max(std::chrono::duration_cast<std::chrono::milliseconds>(give_up - Clock::now()),
               std::chrono::milliseconds(1));
  client.set_connection_timeout(std::min<std::chrono::milliseconds>(left, std::chrono::seconds(5)));
  // The reaper ends the POST at its deadline; these are a backstop that it beats.
  client.set_read_timeout(left + std::chrono::seconds(1));
  client.set_write_timeout(left + std::chrono::seconds(1));
  client.set_keep_alive(false);
  client.set_follow_location(false);
  // No Accept-Encoding, and a compressed answer is not inflated: a small gzip bomb cannot
  // turn into much.
  client.set_decompress(false);

  auto flight = std::make_shared<InFlight>();
  flight->deadline = give_up;
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) return {false, 0, "cancelled: the coordinator is shutting down"};
    in_flight_.push_back(flight);
  }
  changed_.notify_all();
  client.set_socket_options([this, flight](socket_t socket) {
    std::lock_guard lock(mutex_);
    flight->socket = fcntl(socket, F_DUPFD_CLOEXEC, 0);
    if (flight->cut) Cut(*flight);
  });

  httplib::Request post;
  post.method = "POST";
  post.path = target;
  for (const auto& [name, value] : request.headers) {
    if (name != "Content-Type") post.headers.emplace(name, value);
  }
  post.headers.emplace("Content-Type", "application/json");
  post.body = request.body;
  // A 2xx says all there is to say: its body is not read. Of another answer, the first
  // kMaxAnswerBytes say why.
  bool headers_read = false;
  post.response_handler = [&](const httplib::Response& response) {
    headers_read = true;
    return response.status < 200 || response.status >= 300;
  };
  std::string answer;
  post.content_receiver = [&](const char* data, size_t length, uint64_t, uint64_t) {
    answer.append(data, std::min(length, kMaxAnswerBytes - answer.size()));
    return answer.size() < kMaxAnswerBytes;
  };
  httplib::Response response;
  httplib::Error error = httplib::Error::Success;
  const bool complete = client.send(post, response, error);

  bool cut = false;
  bool too_long = false;
  bool cancelled = false;
  {
    std::lock_guard lock(mutex_);
    in_flight_.remove(flight);
    if (flight->socket >= 0) ::close(flight->socket);
    cut = flight->cut;
    too_long = flight->too_long;
    cancelled = cancelled_;
  }
  if (complete || headers_read) {
    const int status = response.status;
    if (status >= 200 && status < 300) return {true, status, ""};
    std::string why = "HTTP " + std::to_string(status);
    if (status >= 300 && status < 400) {
      why += " (redirects are not followed";
      if (response.has_header("Location")) {
        why += "; Location: " + response.get_header_value("Location");
      }
      why += ")";
    }
    if (!answer.empty()) why += ": " + answer;
    return {false, status, Shown(why)};
  }
  if (cancelled) return {false, 0, "cancelled: the coordinator is shutting down"};
  if (too_long) {
    return {false, 0,
            "the answer's status line and headers ran past " +
                std::to_string(kMaxReceivedBytes / 1024) + " KiB: cut off"};
  }
  if (cut) {
    return {false, 0,
            "no complete answer within " + Seconds(deadline) + " (the delivery's deadline)"};
  }
  unreachable = error == httplib::Error::Connection || error == httplib::Error::ConnectionTimeout;
  return {false, 0,
          Shown(Describe(error) + " to " + address.ToString() + " (" + httplib::to_string(error) +
                ")")};
}

void HttpWebhookTransport::Cancel() {
  {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    for (const auto& flight : in_flight_) Cut(*flight);
  }
  changed_.notify_all();
}

}  // namespace skald::notify
