#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace skald::http {

struct GateOptions {
  // How long a connection may take to send a whole request head, counted from when it was
  // accepted or its previous answer was sent. Idle keep-alive connections close after it.
  std::chrono::milliseconds head_timeout{10'000};
  // How long reading one request's body may take in total.
  std::chrono::milliseconds body_timeout{30'000};
  // How long one write of a response may block.
  std::chrono::milliseconds write_timeout{10'000};
  // Connections open at once. A new one beyond it closes the connection that has waited
  // longest for its request head (a slow client's, or an idle keep-alive one).
  size_t max_connections = 512;
  // Threads answering requests whose head has arrived.
  int threads = 8;
  // Threads answering only GET/HEAD /readyz and /metrics, so that probes are answered while
  // every other thread is busy. /healthz has one more thread of its own.
  int probe_threads = 2;
  // Requests served on one connection before it is closed.
  size_t max_requests_per_connection = 100;
};

// An httplib::Server (plain HTTP) that no slow or idle client can take down. httplib's own
// loop gives each connection a worker thread from the moment it is accepted, so a few
// clients sending a header line now and then hold every worker. Here the accepted socket
// goes to one poll() thread, the gate, which reads request heads without holding a worker
// and closes a connection whose head is not complete within head_timeout. A connection is
// given to a worker only once its head has arrived: /healthz to a thread of its own, the
// other probes (/readyz, /metrics) to threads of theirs, everything else to the others. After the
// answer, a kept-alive connection goes back to the gate. httplib still parses, routes and answers
// each request (Server::process_request, over a BufferedSocketStream).
class GatedServer : public httplib::Server {
 public:
  explicit GatedServer(GateOptions options);
  ~GatedServer() override;

  // Raises the listen backlog and starts the gate and the workers. Call once, after binding
  // and before listen_after_bind().
  void StartGate();
  // Closes every connection and joins the threads, after the requests being answered.
  // Call after stop() and after listen_after_bind() returned. Idempotent.
  void StopGate();

  // Asks the server to close the connection after the response the calling thread is
  // building (the request's body was not read, so what follows on the connection is not a
  // request). Call from a handler.
  static void CloseConnectionAfterResponse();

 private:
  using Clock = std::chrono::steady_clock;
  struct Connection {
    int fd = -1;
    // Received and not yet given to httplib.
    std::string buffered;
    Clock::time_point deadline;
    size_t requests = 0;
  };
  // Connections whose head has arrived, and the threads answering them.
  struct Lane {
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<std::unique_ptr<Connection>> connections;
    std::vector<std::thread> threads;
  };

  // Called by httplib's accept loop for each accepted socket: hands it to the gate.
  bool process_and_close_socket(socket_t sock) override;

  void RunGate();
  void RunWorker(Lane& lane);
  void Serve(std::unique_ptr<Connection> connection);
  // Hands a connection whose head is in `buffered` to the lane its request line asks for.
  void Dispatch(std::unique_ptr<Connection> connection);
  void Admit(std::unique_ptr<Connection> connection);
  void Close(std::unique_ptr<Connection> connection, const char* answer = nullptr);
  void Wake();

  const GateOptions options_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> open_{0};
  int wake_pipe_[2] = {-1, -1};
  std::thread gate_;
  // Connections handed to the gate by the accept loop or a worker, not yet watched.
  std::mutex incoming_mutex_;
  std::vector<std::unique_ptr<Connection>> incoming_;
  // Watched by the gate only: oldest first.
  std::list<std::unique_ptr<Connection>> waiting_;
  Lane liveness_;
  Lane probes_;
  Lane requests_;
};

}  // namespace skald::http
