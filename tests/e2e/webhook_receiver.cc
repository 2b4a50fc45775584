#include "tests/e2e/webhook_receiver.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <cstdio>

namespace skald::testing {

std::string WebhookReceiver::Request::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

WebhookReceiver::WebhookReceiver() : server_(std::make_unique<httplib::Server>()) {}

absl::StatusOr<std::unique_ptr<WebhookReceiver>> WebhookReceiver::Start() {
  std::unique_ptr<WebhookReceiver> receiver(new WebhookReceiver());
  WebhookReceiver* self = receiver.get();
  receiver->server_->Post(".*", [self](const httplib::Request& in, httplib::Response& out) {
    Request request;
    request.path = in.path;
    for (const auto& [name, value] : in.headers) request.headers[name] = value;
    request.body = in.body;
    request.at = absl::Now();
    request.status = self->Answer();
    out.status = request.status;
    out.set_content(request.status < 300 ? "ok" : "try again later", "text/plain");
    std::lock_guard lock(self->mutex_);
    self->requests_.push_back(std::move(request));
  });
  receiver->port_ = receiver->server_->bind_to_any_port("127.0.0.1");
  if (receiver->port_ <= 0) return absl::UnavailableError("webhook receiver: cannot bind");
  receiver->thread_ = std::thread([self] { self->server_->listen_after_bind(); });
  // httplib's stop() does nothing before the listening loop runs, so a receiver destroyed
  // that early (a test that never contacts it, on a loaded machine) would never be joined.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!receiver->server_->is_running() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!receiver->server_->is_running()) {
    return absl::UnavailableError("webhook receiver: not listening after 10 s");
  }
  return receiver;
}

WebhookReceiver::~WebhookReceiver() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string WebhookReceiver::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void WebhookReceiver::FailNext(int count, int status) {
  std::lock_guard lock(mutex_);
  failures_left_ = count;
  failure_status_ = status;
}

void WebhookReceiver::AnswerAll(int status) {
  std::lock_guard lock(mutex_);
  failures_left_ = 0;
  status_ = status;
}

int WebhookReceiver::Answer() {
  std::lock_guard lock(mutex_);
  if (failures_left_ > 0) {
    --failures_left_;
    return failure_status_;
  }
  return status_;
}

std::vector<WebhookReceiver::Request> WebhookReceiver::Requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

bool WebhookReceiver::WaitUntil(const std::function<bool(const std::vector<Request>&)>& done,
                                absl::Duration timeout) const {
  const absl::Time give_up = absl::Now() + timeout;
  while (true) {
    if (done(Requests())) return true;
    if (absl::Now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool HasValidSignature(const WebhookReceiver::Request& request, const std::string& secret) {
  const std::string timestamp = request.Header("X-Skald-Timestamp");
  if (timestamp.empty()) return false;
  const std::string signed_text = timestamp + "." + request.body;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), digest,
       &length);
  std::string expected = "sha256=";
  for (unsigned int i = 0; i < length; ++i) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", digest[i]);
    expected += hex;
  }
  return request.Header("X-Skald-Signature") == expected;
}

}  // namespace skald::testing
