// OutboxRelay: forwards committed rows of skald.saga_outbox to the coordinator's StartSaga.
//
// One thread, one database connection. Each round claims at most batch_size due rows with
// FOR UPDATE SKIP LOCKED, sends them all in parallel (each call with its own deadline), and
// records every outcome before COMMIT. The row locks are held while the calls are in flight:
// a relay that dies mid-send leaves no claim behind (its transaction ends with its
// connection, and another relay takes the rows), and two relays never send the same row at
// once. A relay that dies after the coordinator answered but before its COMMIT leaves the
// row pending; the next send gets the same saga back (StartSaga is idempotent by saga id).
// Between rounds the thread sleeps in poll() on the connection's socket (LISTEN) and a pipe
// (Wake, the destructor) until a notification, the next row's due time, or poll_interval.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "coordinator_channel.h"
#include "skald/saga_outbox.h"
#include "skald/v1/saga_service.grpc.pb.h"

namespace skald {
namespace {

using std::chrono::milliseconds;

constexpr char kClaimSql[] =
    "SELECT id, saga_id, definition, version, input_json, traceparent, callback_url, attempts"
    " FROM skald.saga_outbox WHERE state = 'pending' AND next_attempt_at <= clock_timestamp()"
    " ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED";
constexpr char kMarkSentSql[] =
    "UPDATE skald.saga_outbox SET state = 'sent', sent_at = clock_timestamp(),"
    " attempts = attempts + 1, error_code = '', error_message = ''"
    " WHERE id = ANY($1::bigint[])";
constexpr char kMarkRefusedSql[] =
    "UPDATE skald.saga_outbox SET state = 'refused', refused_at = clock_timestamp(),"
    " attempts = attempts + 1, error_code = $2, error_message = $3 WHERE id = $1";
constexpr char kMarkRetrySql[] =
    "UPDATE skald.saga_outbox SET attempts = attempts + 1, error_code = $2, error_message = $3,"
    " next_attempt_at = clock_timestamp() + $4 * interval '1 millisecond' WHERE id = $1";
constexpr char kNextDueSql[] =
    "SELECT (extract(epoch FROM min(next_attempt_at) - clock_timestamp()) * 1000)::bigint"
    " FROM skald.saga_outbox WHERE state = 'pending'";
constexpr char kCleanupSql[] =
    "DELETE FROM skald.saga_outbox WHERE id IN (SELECT id FROM skald.saga_outbox"
    " WHERE state = 'sent' AND sent_at < clock_timestamp() - $1 * interval '1 millisecond'"
    " LIMIT 1000)";
constexpr std::size_t kMaxErrorMessage = 1000;
// A wait while due rows exist but are claimed by another relay: short, since that relay's
// COMMIT sends no notification.
constexpr milliseconds kBusyWait(50);
// How often the backlog is read while the relay has no idle moment.
constexpr milliseconds kBacklogInterval(250);

// A refusal the coordinator will repeat for the same request: sending again cannot help.
// Authentication and quota errors are not among them: an operator fixes the token or the
// limit and every row then goes through.
bool IsPermanent(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::UNIMPLEMENTED:
      return true;
    default:
      return false;
  }
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

std::string Truncated(std::string text) {
  if (text.size() > kMaxErrorMessage) text.resize(kMaxErrorMessage);
  return text;
}

// The LISTEN registration; notifications only need to wake the thread, which poll() does.
class Listener final : public pqxx::notification_receiver {
 public:
  explicit Listener(pqxx::connection_base& connection)
      : pqxx::notification_receiver(connection, kOutboxChannel) {}
  void operator()(const std::string&, int) override {}
};

struct Row {
  std::int64_t id;
  int attempts;
  std::string saga_id;
};

// One StartSaga call in flight.
struct Call {
  grpc::ClientContext context;
  v1::StartSagaRequest request;
  v1::StartSagaResponse response;
  grpc::Status status;
};

class OutboxRelayImpl final : public OutboxRelay {
 public:
  OutboxRelayImpl(OutboxRelayOptions options, std::shared_ptr<grpc::Channel> channel, int wake_read,
                  int wake_write)
      : options_(std::move(options)),
        stub_(v1::SagaService::NewStub(std::move(channel))),
        wake_read_(wake_read),
        wake_write_(wake_write),
        thread_([this] { Run(); }) {}

  ~OutboxRelayImpl() override {
    stopping_ = true;
    Wake();
    thread_.join();
    close(wake_read_);
    close(wake_write_);
  }

  OutboxRelayStats stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

  void Wake() override {
    const char byte = 1;
    // The pipe is non-blocking: when it is full, the relay is awake anyway.
    [[maybe_unused]] ssize_t written = write(wake_write_, &byte, 1);
  }

 private:
  void Run() {
    std::unique_ptr<pqxx::connection> connection;
    std::unique_ptr<Listener> listener;
    milliseconds reconnect_wait = options_.initial_backoff;
    bool database_down = false;
    auto last_cleanup = std::chrono::steady_clock::now() - options_.cleanup_interval;
    auto last_backlog = std::chrono::steady_clock::now();
    while (!stopping_) {
      try {
        if (connection == nullptr) {
          connection = std::make_unique<pqxx::connection>(options_.db_url);
          listener = std::make_unique<Listener>(*connection);
          if (database_down) Log("outbox relay: the database is reachable again");
          database_down = false;
          reconnect_wait = options_.initial_backoff;
        }
        const int claimed = ClaimAndSend(*connection);
        if (std::chrono::steady_clock::now() - last_backlog >= kBacklogInterval) {
          ReadBacklog(*connection);  // Also while busy or waiting for the coordinator.
          last_backlog = std::chrono::steady_clock::now();
        }
        if (coordinator_unreachable_) {
          // Every row of the round failed to reach the coordinator: pause the relay itself,
          // so that an hour's outage costs a round per max_backoff, not one per row.
          Sleep(unreachable_wait_);
          unreachable_wait_ = std::min(2 * unreachable_wait_, options_.max_backoff);
          continue;
        }
        unreachable_wait_ = options_.initial_backoff;
        if (claimed == options_.batch_size) continue;  // More may be due.
        if (std::chrono::steady_clock::now() - last_cleanup >= options_.cleanup_interval) {
          Cleanup(*connection);
          last_cleanup = std::chrono::steady_clock::now();
        }
        ReadBacklog(*connection);
        last_backlog = std::chrono::steady_clock::now();
        WaitForWork(*connection);
      } catch (const std::exception& e) {
        // A broken connection, an unknown COMMIT outcome (the rows stay pending or are
        // sent; a repeat is harmless) or any other database error: start afresh on a new
        // connection (libpqxx 6 would otherwise reconnect silently and lose the LISTEN).
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.database_errors;
        }
        if (!database_down) Log(std::string("outbox relay: database error: ") + e.what());
        database_down = true;
        listener.reset();
        connection.reset();
        Sleep(reconnect_wait);
        reconnect_wait = std::min(2 * reconnect_wait, options_.max_backoff);
      }
    }
  }

  // Returns the number of rows claimed.
  int ClaimAndSend(pqxx::connection& connection) {
    coordinator_unreachable_ = false;
    pqxx::work tx(connection);
    const pqxx::result claimed = tx.exec_params(kClaimSql, options_.batch_size);
    if (claimed.empty()) {
      tx.commit();
      return 0;
    }
    std::vector<Row> rows;
    std::vector<std::unique_ptr<Call>> calls;
    for (const pqxx::row& row : claimed) {
      rows.push_back({row[0].as<std::int64_t>(), row[7].as<int>(), row[1].as<std::string>()});
      auto call = std::make_unique<Call>();
      call->request.set_saga_id(row[1].as<std::string>());
      call->request.set_definition(row[2].as<std::string>());
      call->request.set_version(row[3].as<int>());
      call->request.set_input_json(row[4].as<std::string>());
      call->request.set_traceparent(row[5].as<std::string>());
      call->request.set_callback_url(row[6].as<std::string>());
      calls.push_back(std::move(call));
    }
    SendAll(calls);

    std::string sent_ids = "{";
    int sent = 0, created = 0, refused = 0, transient = 0, unavailable = 0;
    std::string transient_error;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const grpc::Status& status = calls[i]->status;
      if (status.ok()) {
        sent_ids += (sent++ > 0 ? "," : "") + std::to_string(rows[i].id);
        if (calls[i]->response.created()) ++created;
      } else if (IsPermanent(status.error_code())) {
        ++refused;
        const std::string message = Truncated(status.error_message());
        tx.exec_params(kMarkRefusedSql, rows[i].id, CodeName(status.error_code()), message);
        Log("outbox relay: the coordinator refused the start of saga " + rows[i].saga_id +
            " for good (" + CodeName(status.error_code()) + ": " + message +
            "); recorded in skald.saga_outbox, not retried");
      } else {
        ++transient;
        if (status.error_code() == grpc::StatusCode::UNAVAILABLE) ++unavailable;
        transient_error = CodeName(status.error_code()) + ": " + status.error_message();
        tx.exec_params(kMarkRetrySql, rows[i].id, CodeName(status.error_code()),
                       Truncated(status.error_message()), Backoff(rows[i].attempts).count());
      }
    }
    if (sent > 0) tx.exec_params(kMarkSentSql, sent_ids + "}");
    tx.commit();

    if (transient > 0 && !coordinator_failing_) {
      Log("outbox relay: cannot start sagas now (" + transient_error + "); retrying with backoff");
    } else if (transient == 0 && coordinator_failing_) {
      Log("outbox relay: the coordinator accepts starts again");
    }
    coordinator_failing_ = transient > 0;
    coordinator_unreachable_ = unavailable == static_cast<int>(rows.size());
    std::lock_guard<std::mutex> lock(mu_);
    stats_.sent += sent;
    stats_.created += created;
    stats_.refused += refused;
    stats_.transient_failures += transient;
    return static_cast<int>(rows.size());
  }

  // Sends every call at once and returns when each has its status.
  void SendAll(std::vector<std::unique_ptr<Call>>& calls) {
    std::mutex mu;
    std::condition_variable done;
    std::size_t finished = 0;
    const auto deadline = std::chrono::system_clock::now() + options_.call_deadline;
    for (auto& call : calls) {
      call->context.set_deadline(deadline);
      AuthorizeCall(call->context, options_.coordinator);
      Call* raw = call.get();
      stub_->async()->StartSaga(&raw->context, &raw->request, &raw->response,
                                [raw, &mu, &done, &finished](grpc::Status status) {
                                  std::lock_guard<std::mutex> lock(mu);
                                  raw->status = std::move(status);
                                  ++finished;
                                  done.notify_one();
                                });
    }
    std::unique_lock<std::mutex> lock(mu);
    // gRPC ends every call by its deadline; cancelling is a second line of defence only.
    if (!done.wait_until(lock, deadline + std::chrono::seconds(5),
                         [&] { return finished == calls.size(); })) {
      for (auto& call : calls) call->context.TryCancel();
      done.wait(lock, [&] { return finished == calls.size(); });
    }
  }

  milliseconds Backoff(int attempts_before) {
    milliseconds wait = options_.initial_backoff;
    for (int i = 0; i < attempts_before && wait < options_.max_backoff; ++i) wait *= 2;
    wait = std::min(wait, options_.max_backoff);
    // ±20% so that rows failing together do not all come back in the same instant.
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    return milliseconds(
        static_cast<std::int64_t>(static_cast<double>(wait.count()) * jitter(random_)));
  }

  void Cleanup(pqxx::connection& connection) {
    pqxx::work tx(connection);
    const pqxx::result deleted = tx.exec_params(kCleanupSql, options_.retention.count());
    tx.commit();
    std::lock_guard<std::mutex> lock(mu_);
    stats_.cleaned += deleted.affected_rows();
  }

  void ReadBacklog(pqxx::connection& connection) {
    absl::StatusOr<OutboxBacklog> backlog = ReadOutboxBacklog(connection);
    if (!backlog.ok()) throw pqxx::failure(std::string(backlog.status().message()));
    std::lock_guard<std::mutex> lock(mu_);
    stats_.backlog = *backlog;
  }

  void WaitForWork(pqxx::connection& connection) {
    milliseconds wait = options_.poll_interval;
    {
      pqxx::read_transaction tx(connection);
      const pqxx::row next = tx.exec1(kNextDueSql);
      if (!next[0].is_null()) {
        const milliseconds due(next[0].as<std::int64_t>());
        wait = std::min(std::max(due, kBusyWait), wait);
      }
    }
    // A notification that came while the claim ran is already in libpq's buffer.
    if (connection.get_notifs() > 0) return;
    pollfd fds[2] = {{wake_read_, POLLIN, 0}, {connection.sock(), POLLIN, 0}};
    const int watched = fds[1].fd >= 0 ? 2 : 1;
    if (poll(fds, watched, static_cast<int>(wait.count())) > 0) {
      DrainWakePipe();
      if (watched == 2 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        connection.get_notifs();  // Consumes them; throws on a broken connection.
      }
    }
  }

  void Sleep(milliseconds wait) {
    pollfd fd = {wake_read_, POLLIN, 0};
    if (poll(&fd, 1, static_cast<int>(wait.count())) > 0) DrainWakePipe();
  }

  void DrainWakePipe() {
    char buffer[64];
    while (read(wake_read_, buffer, sizeof buffer) > 0) {
    }
  }

  void Log(const std::string& message) const {
    if (options_.log) {
      options_.log(message);
    } else {
      std::cerr << message << std::endl;
    }
  }

  const OutboxRelayOptions options_;
  const std::unique_ptr<v1::SagaService::Stub> stub_;
  const int wake_read_;
  const int wake_write_;
  std::atomic<bool> stopping_{false};
  // Only the relay's thread uses these.
  bool coordinator_failing_ = false;      // the last round had a transient failure
  bool coordinator_unreachable_ = false;  // ...and every call of it was UNAVAILABLE
  milliseconds unreachable_wait_ = options_.initial_backoff;
  std::mt19937 random_{std::random_device{}()};
  mutable std::mutex mu_;
  OutboxRelayStats stats_;
  std::thread thread_;  // Last: started once everything it uses is constructed.
};

absl::Status CheckOptions(const OutboxRelayOptions& options) {
  if (options.db_url.empty()) return absl::InvalidArgumentError("db_url: required");
  if (options.coordinator.address.empty()) {
    return absl::InvalidArgumentError("coordinator.address: required");
  }
  if (options.batch_size < 1 || options.batch_size > 1000) {
    return absl::InvalidArgumentError("batch_size: must be from 1 to 1000");
  }
  auto positive = [](milliseconds value, const char* name) {
    return value.count() > 0 ? absl::OkStatus()
                             : absl::InvalidArgumentError(std::string(name) + ": must be positive");
  };
  for (const auto& [value, name] :
       {std::pair{options.call_deadline, "call_deadline"},
        std::pair{options.poll_interval, "poll_interval"},
        std::pair{options.initial_backoff, "initial_backoff"},
        std::pair{options.max_backoff, "max_backoff"}, std::pair{options.retention, "retention"},
        std::pair{options.cleanup_interval, "cleanup_interval"}}) {
    if (absl::Status s = positive(value, name); !s.ok()) return s;
  }
  if (options.poll_interval > milliseconds(3'600'000) ||
      options.max_backoff > milliseconds(3'600'000)) {
    return absl::InvalidArgumentError("poll_interval and max_backoff: at most one hour");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<OutboxRelay>> OutboxRelay::Start(OutboxRelayOptions options) {
  if (absl::Status valid = CheckOptions(options); !valid.ok()) return valid;
  grpc::ChannelArguments args;
  // Back at work within a second of the coordinator's return, not gRPC's default two minutes.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      NewCoordinatorChannel(options.coordinator, args);
  if (!channel.ok()) return channel.status();
  int wake[2];
  if (pipe2(wake, O_NONBLOCK | O_CLOEXEC) != 0) {
    return absl::InternalError("outbox relay: cannot create its wake-up pipe");
  }
  return std::unique_ptr<OutboxRelay>(
      new OutboxRelayImpl(std::move(options), *std::move(channel), wake[0], wake[1]));
}

}  // namespace skald
