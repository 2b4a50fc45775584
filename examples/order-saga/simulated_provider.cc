#include "simulated_provider.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <utility>
#include <vector>

#include "common/database.h"

namespace skald::examples {
namespace {

// At most this many requests per pass: the rest wait for the next one.
constexpr int kBatch = 100;

// Refusals after which sending again cannot help: the token's attempt is over.
bool IsFinal(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition ||
         status.code() == absl::StatusCode::kNotFound ||
         status.code() == absl::StatusCode::kInvalidArgument ||
         status.code() == absl::StatusCode::kPermissionDenied;
}

}  // namespace

SimulatedProvider::SimulatedProvider(std::shared_ptr<ConnectionSource> connections,
                                     std::unique_ptr<StepCompleter> completer, Options options)
    : connections_(std::move(connections)), completer_(std::move(completer)), options_(options) {}

SimulatedProvider::~SimulatedProvider() { Stop(); }

void SimulatedProvider::Start() {
  thread_ = std::thread([this] { Run(); });
}

void SimulatedProvider::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_requested_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SimulatedProvider::Run() {
  for (;;) {
    Poll();
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_requested_.wait_for(lock, options_.poll_every, [this] { return stopping_; })) return;
  }
}

void SimulatedProvider::Poll() {
  std::vector<Request> requests;
  const absl::Status read = WithConnection(*connections_, [&](pqxx::connection& connection) {
    pqxx::work tx(connection);
    const pqxx::result rows = tx.exec_params(
        "SELECT completion_token, saga_id, step, amount::text, state,"
        " now() - requested_at >= make_interval(secs => $1::float8 / 1000)"
        " FROM payments.provider_requests"
        " WHERE state = 'PENDING' OR (state = 'CONFIRMED' AND NOT completion_sent)"
        " ORDER BY requested_at LIMIT $2",
        static_cast<double>(options_.confirm_after.count()), kBatch);
    for (const pqxx::row& row : rows) {
      requests.push_back({.token = row[0].as<std::string>(),
                          .saga_id = row[1].as<std::string>(),
                          .step = row[2].as<std::string>(),
                          .amount = row[3].as<std::string>(),
                          .state = row[4].as<std::string>(),
                          .due = row[5].as<bool>()});
    }
    tx.commit();
    return absl::OkStatus();
  });
  if (!read.ok()) {
    spdlog::warn("provider: reading pending requests failed: {}", read.ToString());
    return;
  }
  for (const Request& request : requests) {
    if (request.state == "CONFIRMED") {
      SendCompletion(request);  // Confirmed before, but the completion did not get through.
    } else if (request.due) {
      Confirm(request);
    } else {
      HeartbeatIfDue(request);
    }
  }
}

void SimulatedProvider::HeartbeatIfDue(const Request& request) {
  const auto now = std::chrono::steady_clock::now();
  auto [last, inserted] = last_heartbeat_.try_emplace(request.token, now);
  if (!inserted && now - last->second < options_.heartbeat_every) return;
  last->second = now;
  absl::StatusOr<std::chrono::system_clock::time_point> next = completer_->Heartbeat(
      request.token, {{"provider", "simulated"}, {"state", "waiting for the card provider"}});
  if (next.ok()) return;
  spdlog::warn("provider: heartbeat of saga {} step {} failed: {}", request.saga_id, request.step,
               next.status().ToString());
  if (IsFinal(next.status())) {
    // The attempt is over (e.g. its heartbeat timeout passed): the provider drops it. A new
    // attempt, if any, brings a request of its own.
    const absl::Status dropped = WithConnection(*connections_, [&](pqxx::connection& connection) {
      pqxx::work tx(connection);
      tx.exec_params(
          "UPDATE payments.provider_requests SET state = 'SUPERSEDED'"
          " WHERE completion_token = $1 AND state = 'PENDING'",
          request.token);
      tx.commit();
      return absl::OkStatus();
    });
    if (!dropped.ok()) spdlog::warn("provider: {}", dropped.ToString());
    last_heartbeat_.erase(request.token);
  }
}

void SimulatedProvider::Confirm(const Request& request) {
  last_heartbeat_.erase(request.token);
  bool confirmed = false;
  const absl::Status recorded = WithConnection(*connections_, [&](pqxx::connection& connection) {
    pqxx::work tx(connection);
    // Only a request still PENDING is confirmed: a refund may have cancelled it meanwhile
    // (the row lock orders the two).
    const pqxx::result request_row = tx.exec_params(
        "UPDATE payments.provider_requests SET state = 'CONFIRMED'"
        " WHERE completion_token = $1 AND state = 'PENDING' RETURNING 1",
        request.token);
    if (!request_row.empty()) {
      // One charge per step, whichever attempt's request the provider confirms.
      tx.exec_params(
          "INSERT INTO payments.charges (saga_id, step, amount, status)"
          " VALUES ($1, $2, $3::numeric, 'CHARGED') ON CONFLICT (saga_id, step) DO NOTHING",
          request.saga_id, request.step, request.amount);
      confirmed = true;
    }
    tx.commit();
    return absl::OkStatus();
  });
  if (!recorded.ok()) {
    spdlog::warn("provider: confirming saga {} step {} failed: {}", request.saga_id, request.step,
                 recorded.ToString());
    return;
  }
  if (confirmed) {
    spdlog::info("provider: webhook confirms the charge of {} for saga {} step {}", request.amount,
                 request.saga_id, request.step);
    SendCompletion(request);
  }
}

void SimulatedProvider::SendCompletion(const Request& request) {
  std::string charge_id;
  std::string status;
  const absl::Status read = WithConnection(*connections_, [&](pqxx::connection& connection) {
    pqxx::work tx(connection);
    const pqxx::result row = tx.exec_params(
        "SELECT charge_id::text, status FROM payments.charges WHERE saga_id = $1 AND step = $2",
        request.saga_id, request.step);
    if (!row.empty()) {
      charge_id = row[0][0].as<std::string>();
      status = row[0][1].as<std::string>();
    }
    tx.commit();
    return absl::OkStatus();
  });
  if (!read.ok()) {
    spdlog::warn("provider: {}", read.ToString());
    return;  // The next pass tries again.
  }
  absl::StatusOr<CompletionReceipt> sent =
      charge_id.empty() || status != "CHARGED"
          ? completer_->Retry(request.token, "charge_missing",
                              "the provider confirmed, but no CHARGED charge is recorded")
          : completer_->Complete(request.token, {{"charge_id", charge_id},
                                                 {"amount", nlohmann::json::parse(request.amount)},
                                                 {"confirmed_by", "provider webhook"}});
  if (sent.ok()) {
    spdlog::info("provider: completed saga {} step {}{}", request.saga_id, request.step,
                 sent->already_completed ? " (already completed)" : "");
    MarkCompletionSent(request.token);
  } else if (IsFinal(sent.status())) {
    spdlog::warn("provider: the coordinator refused the completion of saga {} step {}: {}",
                 request.saga_id, request.step, sent.status().ToString());
    MarkCompletionSent(request.token);
  } else {
    spdlog::warn("provider: completion of saga {} step {} not sent yet: {}", request.saga_id,
                 request.step, sent.status().ToString());
  }
}

void SimulatedProvider::MarkCompletionSent(const std::string& token) {
  const absl::Status marked = WithConnection(*connections_, [&](pqxx::connection& connection) {
    pqxx::work tx(connection);
    tx.exec_params(
        "UPDATE payments.provider_requests SET completion_sent = true WHERE completion_token = $1",
        token);
    tx.commit();
    return absl::OkStatus();
  });
  if (!marked.ok()) spdlog::warn("provider: {}", marked.ToString());
}

}  // namespace skald::examples
