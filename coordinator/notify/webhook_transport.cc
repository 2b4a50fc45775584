#include "coordinator/notify/webhook_transport.h"

#include <httplib.h>

#include <algorithm>

#include "coordinator/core/notification.h"

namespace skald::notify {
namespace {

// Error text goes into the outbox (a text column) and the logs: keep it short and plain.
std::string Printable(std::string_view text, size_t limit) {
  std::string out;
  for (char c : text.substr(0, limit)) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(byte >= 0x20 && byte < 0x7f ? c : ' ');
  }
  if (text.size() > limit) out += "...";
  return out;
}

std::string Describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "cannot connect";
    case httplib::Error::ConnectionTimeout:
      return "connecting timed out";
    case httplib::Error::Read:
      return "no answer (reading failed or timed out)";
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

}  // namespace

WebhookResult HttpWebhookTransport::Post(const WebhookRequest& request,
                                         std::chrono::milliseconds timeout) {
  auto url = core::SplitWebhookUrl(request.url);
  if (!url.ok()) return {false, 0, "invalid URL: " + std::string(url.status().message())};
  httplib::Client client(url->origin);
  if (!client.is_valid()) return {false, 0, "cannot make an HTTP client for " + url->origin};
  client.set_connection_timeout(
      std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(5)));
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  client.set_keep_alive(false);
  client.set_follow_location(false);
  httplib::Headers headers;
  for (const auto& [name, value] : request.headers) {
    if (name != "Content-Type") headers.emplace(name, value);
  }
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) return {false, 0, "cancelled: the coordinator is shutting down"};
    current_ = &client;
  }
  httplib::Result result = client.Post(url->target, headers, request.body, "application/json");
  {
    std::lock_guard lock(mutex_);
    current_ = nullptr;
    if (cancelled_ && !result) return {false, 0, "cancelled: the coordinator is shutting down"};
  }
  if (!result) {
    return {false, 0, Describe(result.error()) + " (" + httplib::to_string(result.error()) + ")"};
  }
  const int status = result->status;
  if (status >= 200 && status < 300) return {true, status, ""};
  std::string error = "HTTP " + std::to_string(status);
  if (!result->body.empty()) error += ": " + Printable(result->body, 200);
  return {false, status, error};
}

void HttpWebhookTransport::Cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  if (current_ != nullptr) current_->stop();
}

}  // namespace skald::notify
