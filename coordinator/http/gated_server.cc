#include "coordinator/http/gated_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "coordinator/http/socket_stream.h"

namespace skald::http {
namespace {

// Heads larger than this are refused (431) rather than read on: httplib takes request lines
// and header lines of up to 8 KiB each, and browsers send a few KiB in all.
constexpr size_t kMaxHeadBytes = 32 * 1024;

constexpr char kHeadTimeout[] =
    "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/plain\r\n"
    "Content-Length: 42\r\n\r\nthe request's head did not arrive in time\n";
constexpr char kHeadTooLarge[] =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n"
    "Content-Type: text/plain\r\nContent-Length: 34\r\n\r\nthe request's head is over 32 KiB\n";
constexpr char kTooManyConnections[] =
    "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
    "Content-Type: text/plain\r\nContent-Length: 33\r\n\r\ntoo many connections; try again\n";

thread_local bool close_after_response = false;

// httplib's accept loop hands each socket to a task queue; this one passes it on at once to
// GatedServer::process_and_close_socket, which only queues it for the gate.
class InlineTaskQueue : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> task) override { task(); }
  void shutdown() override {}
};

bool HeadComplete(std::string_view buffered) {
  return buffered.find("\r\n\r\n") != std::string_view::npos ||
         buffered.find("\n\n") != std::string_view::npos;
}

// What the request line in `head` asks for: a probe is a GET or HEAD of /healthz, /readyz or
// /metrics, which has no body to wait for.
enum class Kind { kLiveness, kProbe, kRequest };

Kind KindOf(std::string_view head) {
  const std::string_view line = head.substr(0, head.find_first_of("\r\n"));
  const size_t method_end = line.find(' ');
  if (method_end == std::string_view::npos) return Kind::kRequest;
  const std::string_view method = line.substr(0, method_end);
  std::string_view target = line.substr(method_end + 1);
  target = target.substr(0, target.find(' '));
  const std::string_view path = target.substr(0, target.find('?'));
  if (method != "GET" && method != "HEAD") return Kind::kRequest;
  if (path == "/healthz") return Kind::kLiveness;
  return path == "/readyz" || path == "/metrics" ? Kind::kProbe : Kind::kRequest;
}

enum class ReadResult { kOpen, kClosed };

// Reads what has arrived, up to kMaxHeadBytes in all, without blocking.
ReadResult ReadAvailable(int fd, std::string& buffered) {
  char chunk[4096];
  while (buffered.size() < kMaxHeadBytes) {
    const ssize_t n =
        ::recv(fd, chunk, std::min(sizeof(chunk), kMaxHeadBytes - buffered.size()), 0);
    if (n > 0) {
      buffered.append(chunk, static_cast<size_t>(n));
    } else if (n == 0) {
      return ReadResult::kClosed;
    } else if (errno == EINTR) {
      continue;
    } else {
      return errno == EAGAIN || errno == EWOULDBLOCK ? ReadResult::kOpen : ReadResult::kClosed;
    }
  }
  return ReadResult::kOpen;
}

}  // namespace

GatedServer::GatedServer(GateOptions options) : options_(options) {
  new_task_queue = [] { return new InlineTaskQueue(); };
}

GatedServer::~GatedServer() { StopGate(); }

void GatedServer::CloseConnectionAfterResponse() { close_after_response = true; }

void GatedServer::StartGate() {
  // httplib listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG, compiled into Debian's
  // library): a burst of connections beyond it waits for the clients' SYN retransmission (1 s).
  // listen() again on a listening socket only changes its backlog.
  ::listen(svr_sock_, SOMAXCONN);
  if (::pipe2(wake_pipe_, O_NONBLOCK | O_CLOEXEC) != 0) wake_pipe_[0] = wake_pipe_[1] = -1;
  gate_ = std::thread([this] { RunGate(); });
  // /healthz answers from memory: one thread, never behind a /readyz waiting for the database.
  liveness_.threads.emplace_back([this] { RunWorker(liveness_); });
  for (int i = 0; i < std::max(1, options_.probe_threads); ++i) {
    probes_.threads.emplace_back([this] { RunWorker(probes_); });
  }
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    requests_.threads.emplace_back([this] { RunWorker(requests_); });
  }
}

void GatedServer::StopGate() {
  if (!gate_.joinable()) return;
  stopping_ = true;
  Wake();
  gate_.join();
  for (Lane* lane : {&liveness_, &probes_, &requests_}) {
    {
      std::lock_guard<std::mutex> lock(lane->mutex);
      lane->ready.notify_all();
    }
    for (std::thread& thread : lane->threads) thread.join();
    lane->threads.clear();
    for (auto& connection : lane->connections) Close(std::move(connection));
    lane->connections.clear();
  }
  std::lock_guard<std::mutex> lock(incoming_mutex_);
  for (auto& connection : incoming_) Close(std::move(connection));
  incoming_.clear();
  for (int& fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

bool GatedServer::process_and_close_socket(socket_t sock) {
  auto connection = std::make_unique<Connection>();
  connection->fd = sock;
  ++open_;
  if (stopping_ || ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK) != 0) {
    Close(std::move(connection));
    return false;
  }
  connection->deadline = Clock::now() + options_.head_timeout;
  Admit(std::move(connection));
  return true;
}

void GatedServer::Admit(std::unique_ptr<Connection> connection) {
  {
    std::lock_guard<std::mutex> lock(incoming_mutex_);
    incoming_.push_back(std::move(connection));
  }
  Wake();
}

void GatedServer::Wake() {
  if (wake_pipe_[1] < 0) return;
  const char byte = 1;
  // A full pipe already wakes the gate.
  [[maybe_unused]] ssize_t ignored = ::write(wake_pipe_[1], &byte, 1);
}

void GatedServer::Close(std::unique_ptr<Connection> connection, const char* answer) {
  if (!connection || connection->fd < 0) return;
  if (answer) {
    [[maybe_unused]] ssize_t ignored = ::send(
        connection->fd, answer, std::string_view(answer).size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  ::shutdown(connection->fd, SHUT_RDWR);
  ::close(connection->fd);
  connection->fd = -1;
  --open_;
}

void GatedServer::RunGate() {
  std::vector<pollfd> watched;
  while (!stopping_) {
    std::vector<std::unique_ptr<Connection>> arrived;
    {
      std::lock_guard<std::mutex> lock(incoming_mutex_);
      arrived.swap(incoming_);
    }
    for (auto& connection : arrived) {
      // A kept-alive connection may bring the next request already (pipelining).
      if (HeadComplete(connection->buffered)) {
        Dispatch(std::move(connection));
      } else {
        waiting_.push_back(std::move(connection));
      }
    }
    // Over the limit: close the connections that have waited longest for a head, then those
    // whose head came but that no worker has taken yet.
    while (open_ > options_.max_connections && !waiting_.empty()) {
      Close(std::move(waiting_.front()), kTooManyConnections);
      waiting_.pop_front();
    }
    while (open_ > options_.max_connections) {
      std::unique_ptr<Connection> oldest;
      {
        std::lock_guard<std::mutex> lock(requests_.mutex);
        if (requests_.connections.empty()) break;
        oldest = std::move(requests_.connections.front());
        requests_.connections.pop_front();
      }
      Close(std::move(oldest), kTooManyConnections);
    }

    watched.assign(1, pollfd{wake_pipe_[0], POLLIN, 0});
    for (const auto& connection : waiting_) watched.push_back({connection->fd, POLLIN, 0});
    // Every connection waits as long, so the first in line has the nearest deadline.
    int timeout_ms = 1000;
    if (!waiting_.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          waiting_.front()->deadline - Clock::now());
      timeout_ms = static_cast<int>(std::clamp<int64_t>(left.count() + 1, 0, 1000));
    }
    if (::poll(watched.data(), watched.size(), timeout_ms) < 0 && errno != EINTR) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (watched[0].revents != 0) {
      char drain[256];
      while (::read(wake_pipe_[0], drain, sizeof(drain)) > 0) {
      }
    }
    size_t index = 1;
    for (auto it = waiting_.begin(); it != waiting_.end(); ++index) {
      Connection& connection = **it;
      if (watched[index].revents == 0) {
        ++it;
        continue;
      }
      if (ReadAvailable(connection.fd, connection.buffered) == ReadResult::kClosed) {
        Close(std::move(*it));
      } else if (HeadComplete(connection.buffered)) {
        Dispatch(std::move(*it));
      } else if (connection.buffered.size() >= kMaxHeadBytes) {
        Close(std::move(*it), kHeadTooLarge);
      } else {
        ++it;
        continue;
      }
      it = waiting_.erase(it);
    }
    const Clock::time_point now = Clock::now();
    while (!waiting_.empty() && waiting_.front()->deadline <= now) {
      // Silence for an idle kept-alive connection; an answer for a half-sent request.
      const bool started = !waiting_.front()->buffered.empty();
      Close(std::move(waiting_.front()), started ? kHeadTimeout : nullptr);
      waiting_.pop_front();
    }
  }
  for (auto& connection : waiting_) Close(std::move(connection));
  waiting_.clear();
}

void GatedServer::Dispatch(std::unique_ptr<Connection> connection) {
  const Kind kind = KindOf(connection->buffered);
  Lane& lane = kind == Kind::kLiveness ? liveness_ : kind == Kind::kProbe ? probes_ : requests_;
  std::lock_guard<std::mutex> lock(lane.mutex);
  lane.connections.push_back(std::move(connection));
  lane.ready.notify_one();
}

void GatedServer::RunWorker(Lane& lane) {
  while (true) {
    std::unique_ptr<Connection> connection;
    {
      std::unique_lock<std::mutex> lock(lane.mutex);
      lane.ready.wait(lock, [&] { return stopping_ || !lane.connections.empty(); });
      if (stopping_) return;
      connection = std::move(lane.connections.front());
      lane.connections.pop_front();
    }
    Serve(std::move(connection));
  }
}

void GatedServer::Serve(std::unique_ptr<Connection> connection) {
  BufferedSocketStream stream(connection->fd, std::move(connection->buffered),
                              Clock::now() + options_.body_timeout, options_.write_timeout);
  const bool last = ++connection->requests >= options_.max_requests_per_connection || stopping_;
  bool closed_by_client = false;
  close_after_response = false;
  const bool answered = process_request(stream, last, closed_by_client, nullptr);
  if (!answered || last || closed_by_client || close_after_response || stopping_) {
    return Close(std::move(connection));
  }
  connection->buffered = stream.TakeBuffered();
  connection->deadline = Clock::now() + options_.head_timeout;
  Admit(std::move(connection));
}

}  // namespace skald::http
