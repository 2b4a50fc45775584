// The coordinator's HTTP port (HttpServer, in process, on loopback) against slow, idle and
// abusive clients, and browsers' requests. No database: the probes, the dashboard's files
// and the admission of API requests, which happens before any route.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/http/http_server.h"
#include "coordinator/http/web_assets.h"
#include "nlohmann/json.hpp"

namespace skald::http {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

// A raw TCP client on loopback, for what httplib's client will not send.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  bool Send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Returns what arrives until the server closes or `timeout` passes.
  std::string ReceiveAll(std::chrono::milliseconds timeout) {
    std::string received;
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      pollfd watched{fd_, POLLIN, 0};
      if (::poll(&watched, 1, 50) <= 0) continue;
      char chunk[65536];
      const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      received.append(chunk, static_cast<size_t>(n));
    }
    return received;
  }
  // Whether the server closed the connection (seen by ReceiveAll).
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
};

class HttpPortTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions options = {},
             std::function<std::vector<ReadinessCheck>()> readiness = nullptr) {
    options.listen_address = "127.0.0.1:0";
    HttpServices services;
    services.readiness = readiness ? readiness : [] {
      return std::vector<ReadinessCheck>{{"database", true, "ok"}};
    };
    auto started = HttpServer::Start(options, services);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
    port_ = PortOf(server_->address());
  }

  // GET `path` with a fresh connection; the status, or -1 when no answer came within 2 s.
  int Get(const std::string& path, std::string* body = nullptr) {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(2);
    client.set_read_timeout(2);
    client.set_write_timeout(2);
    auto result = client.Get(path.c_str());
    if (!result) return -1;
    if (body) *body = result->body;
    return result->status;
  }

  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

// Symptom 5 of issue 13: eight clients sending a header line every 4 s took the port down.
// Here 40 do it (one line per second), and every probe must still answer within 2 s.
TEST_F(HttpPortTest, SlowClientsDoNotStopTheProbes) {
  Start();
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 40; ++i) {
    slow.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(slow.back()->connected());
    slow.back()->Send("GET /api/v1/sagas HTTP/1.1\r\n");
  }
  std::atomic<bool> done{false};
  std::thread trickle([&] {
    for (int line = 0; line < 6 && !done; ++line) {
      for (auto& client : slow) client->Send("X-Slow: " + std::to_string(line) + "\r\n");
      std::this_thread::sleep_for(1s);
    }
  });
  const auto until = Clock::now() + 5s;
  int probes = 0;
  while (Clock::now() < until) {
    for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
      const auto sent = Clock::now();
      EXPECT_EQ(Get(path), 200) << path << " while 40 clients send their heads slowly";
      EXPECT_LT(Clock::now() - sent, 2s) << path;
      ++probes;
    }
    std::this_thread::sleep_for(200ms);
  }
  done = true;
  trickle.join();
  EXPECT_GE(probes, 9);
}

// /readyz asks the database, which may hang: /healthz must not wait behind it.
TEST_F(HttpPortTest, LivenessIsNotStuckBehindReadiness) {
  std::atomic<bool> database_answers{false};
  Start({}, [&] {
    const auto until = Clock::now() + 5s;
    while (!database_answers && Clock::now() < until) std::this_thread::sleep_for(10ms);
    return std::vector<ReadinessCheck>{{"database", true, "ok"}};
  });
  std::vector<std::thread> waiting;
  for (int i = 0; i < 4; ++i) {
    waiting.emplace_back([this] {
      httplib::Client client("127.0.0.1", port_);
      client.set_read_timeout(8);
      client.Get("/readyz");
    });
  }
  std::this_thread::sleep_for(300ms);
  const auto sent = Clock::now();
  EXPECT_EQ(Get("/healthz"), 200);
  EXPECT_LT(Clock::now() - sent, 1s);
  database_answers = true;
  for (std::thread& thread : waiting) thread.join();
}

// A head must arrive whole within its time, however regularly its lines come.
TEST_F(HttpPortTest, AHeadThatNeverEndsIsCutOff) {
  HttpServerOptions options;
  options.head_timeout = 1s;
  Start(options);
  RawClient client(port_);
  ASSERT_TRUE(client.connected());
  client.Send("GET /healthz HTTP/1.1\r\n");
  const auto started = Clock::now();
  bool closed = false;
  std::string answer;
  for (int line = 0; line < 20 && !closed; ++line) {
    client.Send("X-Slow: " + std::to_string(line) + "\r\n");
    answer += client.ReceiveAll(250ms);
    closed = client.closed();
  }
  EXPECT_TRUE(closed) << "the connection stayed open for 5 s of header lines";
  EXPECT_LT(Clock::now() - started, 3s);
  EXPECT_NE(answer.find("408"), std::string::npos) << answer;
}

// Idle connections beyond the limit make room: the oldest is closed, the probe answered.
TEST_F(HttpPortTest, ConnectionsBeyondTheLimitMakeRoomForNewOnes) {
  HttpServerOptions options;
  options.max_connections = 16;
  Start(options);
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 64; ++i) {
    idle.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(idle.back()->connected());
  }
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Get("/healthz"), 200);
  // Keep-alive still works for a client that sends its requests promptly.
  httplib::Client client("127.0.0.1", port_);
  client.set_keep_alive(true);
  client.set_read_timeout(2);
  for (int i = 0; i < 5; ++i) {
    auto result = client.Get("/readyz");
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 200);
  }
}

// Symptom 3: "Range: bytes=0-,0-,..." answered one whole copy per range.
TEST_F(HttpPortTest, AtMostOneRangeIsServed) {
  Start();
  const WebAsset* asset = FindWebAsset("index.html");
  ASSERT_NE(asset, nullptr);
  std::string ranges = "bytes=0-";
  for (int i = 0; i < 500; ++i) ranges += ",0-";
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(5);
  auto many = client.Get("/ui/index.html", {{"Range", ranges}});
  ASSERT_TRUE(many);
  EXPECT_EQ(many->status, 200);
  EXPECT_EQ(many->body.size(), asset->content.size());
  EXPECT_EQ(many->get_header_value("Content-Type"), "text/html; charset=utf-8");
  auto one = client.Get("/ui/index.html", {{"Range", "bytes=0-9"}});
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 206);
  EXPECT_EQ(one->body, std::string(asset->content.substr(0, 10)));
  // An error body is never split into parts either.
  auto invalid = client.Get("/ui/index.html", {{"Range", "bytes=0-,0-,0-,5-1"}});
  ASSERT_TRUE(invalid);
  EXPECT_EQ(invalid->status, 416);
  EXPECT_LT(invalid->body.size(), 300u);
  EXPECT_EQ(nlohmann::json::parse(invalid->body)["error"]["code"], "INVALID_ARGUMENT");
}

struct Answer {
  int status = -1;
  std::string code;
  std::string message;
};

Answer Post(int port, const std::string& path, const std::string& body,
            const std::string& content_type, const httplib::Headers& headers = {}) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(5);
  auto result = client.Post(path.c_str(), headers, body, content_type.c_str());
  Answer answer;
  if (!result) return answer;
  answer.status = result->status;
  auto parsed = nlohmann::json::parse(result->body, nullptr, false);
  if (parsed.is_object() && parsed.contains("error")) {
    answer.code = parsed["error"]["code"];
    answer.message = parsed["error"]["message"];
  }
  return answer;
}

// Symptoms 6 and 8: a text/plain form post reached the JSON parser; a big form-encoded body
// was refused as over 4194304 bytes.
TEST_F(HttpPortTest, StateChangingRequestsMustBeJson) {
  Start();
  const std::string start = R"({"definition": "order", "saga_id": "o-1"})";
  Answer form = Post(port_, "/api/v1/sagas", start, "text/plain");
  EXPECT_EQ(form.status, 415);
  EXPECT_NE(form.message.find("Content-Type: application/json"), std::string::npos) << form.message;
  Answer big_form =
      Post(port_, "/api/v1/sagas", std::string(100'000, 'a'), "application/x-www-form-urlencoded");
  EXPECT_EQ(big_form.status, 415);
  EXPECT_EQ(big_form.message.find("4194304"), std::string::npos) << big_form.message;
  EXPECT_NE(big_form.message.find("application/json"), std::string::npos) << big_form.message;
  // Admitted: no API routes in this server, so "no endpoint".
  EXPECT_EQ(Post(port_, "/api/v1/sagas", start, "application/json").status, 404);
}

TEST_F(HttpPortTest, CrossSiteRequestsAreRefused) {
  Start();
  const std::string start = R"({"definition": "order"})";
  Answer origin =
      Post(port_, "/api/v1/sagas", start, "application/json", {{"Origin", "http://127.0.0.1:1"}});
  EXPECT_EQ(origin.status, 403);
  EXPECT_EQ(origin.code, "PERMISSION_DENIED");
  Answer site =
      Post(port_, "/api/v1/sagas", start, "application/json", {{"Sec-Fetch-Site", "same-site"}});
  EXPECT_EQ(site.status, 403);
  const std::string self = "http://127.0.0.1:" + std::to_string(port_);
  EXPECT_EQ(Post(port_, "/api/v1/sagas", start, "application/json",
                 {{"Origin", self}, {"Sec-Fetch-Site", "same-origin"}})
                .status,
            404);
}

TEST_F(HttpPortTest, UnknownHostNamesAreRefused) {
  Start();
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(5);
  for (const char* path : {"/api/v1/sagas", "/metrics", "/ui/index.html"}) {
    auto rebound =
        client.Get(path, {{"Host", "rebound.attacker.example:" + std::to_string(port_)}});
    ASSERT_TRUE(rebound) << path;
    EXPECT_EQ(rebound->status, 403) << path;
    EXPECT_NE(rebound->body.find("--http-allowed-hosts"), std::string::npos) << rebound->body;
  }
  auto probe = client.Get("/healthz", {{"Host", "rebound.attacker.example"}});
  ASSERT_TRUE(probe);
  EXPECT_EQ(probe->status, 200);
  auto local = client.Get("/metrics", {{"Host", "localhost:" + std::to_string(port_)}});
  ASSERT_TRUE(local);
  EXPECT_EQ(local->status, 200);
}

TEST_F(HttpPortTest, AllowedHostsFromTheFlag) {
  HttpServerOptions options;
  options.allowed_hosts = {"skald.example"};
  Start(options);
  httplib::Client client("127.0.0.1", port_);
  auto named = client.Get("/metrics", {{"Host", "skald.example"}});
  ASSERT_TRUE(named);
  EXPECT_EQ(named->status, 200);
}

// Symptom 8: "curl -X POST" without a body waited for the read timeout, then said
// "UNKNOWN: HTTP 400".
TEST_F(HttpPortTest, APostWithoutABodySaysWhatIsMissing) {
  Start();
  RawClient client(port_);
  ASSERT_TRUE(client.connected());
  client.Send(
      "POST /api/v1/sagas/o-1/abort HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Type: application/json\r\n\r\n");
  const auto sent = Clock::now();
  const std::string answer = client.ReceiveAll(3s);
  EXPECT_LT(Clock::now() - sent, 3s) << "no answer before the connection closed";
  EXPECT_NE(answer.find("HTTP/1.1 400"), std::string::npos) << answer;
  EXPECT_NE(answer.find("no request body"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("UNKNOWN"), std::string::npos) << answer;
}

TEST_F(HttpPortTest, HttplibsOwnRefusalsAreNamed) {
  Start();
  RawClient client(port_);
  ASSERT_TRUE(client.connected());
  client.Send("BREW /pot HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const std::string answer = client.ReceiveAll(2s);
  EXPECT_NE(answer.find("HTTP/1.1 400"), std::string::npos) << answer;
  EXPECT_NE(answer.find("INVALID_ARGUMENT"), std::string::npos) << answer;
  EXPECT_NE(answer.find("unsupported method"), std::string::npos) << answer;
}

TEST_F(HttpPortTest, StopsPromptlyWithSlowClientsConnected) {
  Start();
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 20; ++i) {
    slow.push_back(std::make_unique<RawClient>(port_));
    slow.back()->Send("GET /healthz HTTP/1.1\r\n");
  }
  std::this_thread::sleep_for(100ms);
  const auto stopping = Clock::now();
  server_->Stop();
  EXPECT_LT(Clock::now() - stopping, 3s);
}

}  // namespace
}  // namespace skald::http
