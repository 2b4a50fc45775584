#include "coordinator/store/work_channel.h"

#include <pqxx/pqxx>

#include "coordinator/store/saga_store.h"

namespace skald::store {
namespace {

// Counts announcements of released sagas on the work channel.
class WorkReceiver : public pqxx::notification_receiver {
 public:
  explicit WorkReceiver(pqxx::connection_base& connection)
      : pqxx::notification_receiver(connection, kWorkChannel) {}
  void operator()(const std::string&, int) override { ++received; }
  int received = 0;
};

class PostgresWorkChannel : public WorkChannel {
 public:
  explicit PostgresWorkChannel(std::string database_uri) : database_uri_(std::move(database_uri)) {}

  absl::Status AwaitWork(std::chrono::milliseconds timeout) override {
    // libpqxx 6 may reconnect silently and lose the LISTEN, so any trouble drops the
    // connection and the next wait opens a fresh one.
    try {
      if (!connection_) {
        connection_ = std::make_unique<pqxx::connection>(database_uri_);
        receiver_ = std::make_unique<WorkReceiver>(*connection_);
      }
      const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
      connection_->await_notification(micros / 1'000'000, micros % 1'000'000);
      return absl::OkStatus();
    } catch (const std::exception& e) {
      receiver_.reset();
      connection_.reset();
      return absl::UnavailableError(std::string("listening for released sagas failed: ") +
                                    e.what());
    }
  }

 private:
  const std::string database_uri_;
  std::unique_ptr<pqxx::connection> connection_;
  std::unique_ptr<WorkReceiver> receiver_;
};

}  // namespace

std::unique_ptr<WorkChannel> MakePostgresWorkChannel(std::string database_uri) {
  return std::make_unique<PostgresWorkChannel>(std::move(database_uri));
}

}  // namespace skald::store
