#include "tests/e2e/hostile_webhook_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace skald::testing {
namespace {

// How long each wait inside the receiver lasts at most, so that stopping is noticed.
constexpr int kPollMs = 100;
// /endless gives up after this much, so that a notifier that reads everything grows
// visibly without taking the machine down.
constexpr uint64_t kEndlessLimit = uint64_t{2} << 30;

}  // namespace

absl::StatusOr<std::unique_ptr<HostileWebhookReceiver>> HostileWebhookReceiver::Start() {
  std::unique_ptr<HostileWebhookReceiver> receiver(new HostileWebhookReceiver());
  receiver->listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (receiver->listener_ < 0) return absl::InternalError("hostile receiver: no socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(receiver->listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(receiver->listener_, 64) != 0 ||
      getsockname(receiver->listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return absl::UnavailableError("hostile receiver: cannot listen on 127.0.0.1");
  }
  receiver->port_ = ntohs(address.sin_port);
  HostileWebhookReceiver* self = receiver.get();
  receiver->acceptor_ = std::thread([self] { self->Accept(); });
  return receiver;
}

HostileWebhookReceiver::~HostileWebhookReceiver() {
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  std::list<std::thread> connections;
  {
    std::lock_guard lock(mutex_);
    connections.swap(connections_);
  }
  for (std::thread& connection : connections) connection.join();
  if (listener_ >= 0) close(listener_);
}

std::string HostileWebhookReceiver::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void HostileWebhookReceiver::SetRedirectTarget(const std::string& url) {
  std::lock_guard lock(mutex_);
  redirect_target_ = url;
}

std::vector<std::string> HostileWebhookReceiver::Paths() const {
  std::lock_guard lock(mutex_);
  return paths_;
}

void HostileWebhookReceiver::Accept() {
  while (!stopping_) {
    pollfd ready{listener_, POLLIN, 0};
    if (poll(&ready, 1, kPollMs) <= 0) continue;
    const int connection = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    std::lock_guard lock(mutex_);
    connections_.emplace_back([this, connection] {
      Serve(connection);
      close(connection);
    });
  }
}

bool HostileWebhookReceiver::Write(int connection, const std::string& data) {
  size_t written = 0;
  while (written < data.size()) {
    if (stopping_) return false;
    pollfd ready{connection, POLLOUT, 0};
    const int polled = poll(&ready, 1, kPollMs);
    if (polled == 0) continue;
    if (polled < 0 || (ready.revents & (POLLERR | POLLHUP)) != 0) return false;
    const ssize_t n = send(connection, data.data() + written, data.size() - written, MSG_NOSIGNAL);
    if (n <= 0) return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

void HostileWebhookReceiver::Serve(int connection) {
  // Read the request line and headers (a notification's body is small; it is not needed).
  std::string request;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
    if (stopping_ || std::chrono::steady_clock::now() > give_up) return;
    pollfd ready{connection, POLLIN, 0};
    if (poll(&ready, 1, kPollMs) <= 0) continue;
    char buffer[4096];
    const ssize_t n = recv(connection, buffer, sizeof buffer, 0);
    if (n <= 0) return;
    request.append(buffer, static_cast<size_t>(n));
  }
  const size_t path_start = request.find(' ') + 1;
  const std::string path = request.substr(path_start, request.find(' ', path_start) - path_start);
  std::string redirect_target;
  {
    std::lock_guard lock(mutex_);
    paths_.push_back(path);
    redirect_target = redirect_target_;
  }
  if (path.starts_with("/endless")) {
    if (!Write(connection,
               "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
               "Connection: close\r\n\r\n")) {
      return;
    }
    const std::string chunk(64 * 1024, 'x');
    while (endless_bytes_ < kEndlessLimit && Write(connection, chunk))
      endless_bytes_ += chunk.size();
  } else if (path.starts_with("/headers")) {
    if (!Write(connection, "HTTP/1.1 500 Internal Server Error\r\n")) return;
    std::string lines;
    for (int i = 0; i < 4096; ++i) lines += "X-Endless: header line\r\n";
    while (endless_bytes_ < kEndlessLimit && Write(connection, lines))
      endless_bytes_ += lines.size();
  } else if (path.starts_with("/drip")) {
    const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    for (char c : answer) {
      if (!Write(connection, std::string(1, c))) return;
      for (int i = 0; i < 2000 / kPollMs && !stopping_; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
      }
    }
  } else if (path.starts_with("/redirect")) {
    Write(connection, "HTTP/1.1 302 Found\r\nLocation: " + redirect_target +
                          "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  } else if (path.starts_with("/close")) {
    Write(connection, "HTTP/1.1 20");
  } else {
    Write(connection, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
  }
}

}  // namespace skald::testing
