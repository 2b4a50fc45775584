#pragma once

#include <httplib.h>

#include <chrono>
#include <string>

namespace skald::http {

// An httplib::Stream over a non-blocking socket whose request head (and maybe more) has
// already been read into `buffered`. Every read ends by `read_deadline`, whatever the peer
// sends: a request's body is read within a total time, not a time per recv(). Each write
// call ends within `write_timeout`. The socket stays open when the stream is destroyed.
class BufferedSocketStream : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  BufferedSocketStream(int fd, std::string buffered, Clock::time_point read_deadline,
                       std::chrono::milliseconds write_timeout);

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

  // Returns the bytes received but not read yet (the start of a pipelined request).
  std::string TakeBuffered();

 private:
  // Waits until the socket has `events` (POLLIN, POLLOUT) or `deadline` passes.
  bool WaitFor(short events, Clock::time_point deadline) const;

  int fd_;
  std::string buffered_;
  size_t position_ = 0;
  Clock::time_point read_deadline_;
  std::chrono::milliseconds write_timeout_;
};

}  // namespace skald::http
