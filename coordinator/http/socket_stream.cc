#include "coordinator/http/socket_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace skald::http {
namespace {

void Describe(const sockaddr_storage& address, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    port = ntohs(v4->sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    port = ntohs(v6->sin6_port);
  }
  ip = text;
}

}  // namespace

BufferedSocketStream::BufferedSocketStream(int fd, std::string buffered,
                                           Clock::time_point read_deadline,
                                           std::chrono::milliseconds write_timeout)
    : fd_(fd),
      buffered_(std::move(buffered)),
      read_deadline_(read_deadline),
      write_timeout_(write_timeout) {}

bool BufferedSocketStream::WaitFor(short events, Clock::time_point deadline) const {
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd watched{fd_, events, 0};
    const int ready = ::poll(&watched, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
}

bool BufferedSocketStream::is_readable() const {
  return position_ < buffered_.size() || WaitFor(POLLIN, read_deadline_);
}

bool BufferedSocketStream::is_writable() const {
  return WaitFor(POLLOUT, Clock::now() + write_timeout_);
}

ssize_t BufferedSocketStream::read(char* ptr, size_t size) {
  if (position_ < buffered_.size()) {
    const size_t n = std::min(size, buffered_.size() - position_);
    std::memcpy(ptr, buffered_.data() + position_, n);
    position_ += n;
    return static_cast<ssize_t>(n);
  }
  while (true) {
    const ssize_t n = ::recv(fd_, ptr, size, 0);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    if (!WaitFor(POLLIN, read_deadline_)) return -1;
  }
}

ssize_t BufferedSocketStream::write(const char* ptr, size_t size) {
  const Clock::time_point deadline = Clock::now() + write_timeout_;
  size_t written = 0;
  while (written < size) {
    const ssize_t n = ::send(fd_, ptr + written, size - written, MSG_NOSIGNAL);
    if (n > 0) {
      written += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitFor(POLLOUT, deadline)) return -1;
    } else {
      return -1;
    }
  }
  return static_cast<ssize_t>(written);
}

void BufferedSocketStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    Describe(address, ip, port);
  }
}

void BufferedSocketStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    Describe(address, ip, port);
  }
}

std::string BufferedSocketStream::TakeBuffered() {
  std::string rest = buffered_.substr(position_);
  buffered_.clear();
  position_ = 0;
  return rest;
}

}  // namespace skald::http
