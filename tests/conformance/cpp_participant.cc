// conformance-participant-cpp: the conformance contract (docs/participant-sdk.md, "The
// conformance contract") on the C++ SDK, with its counters behind skald::Barrier.
//   action "conformance.add"             counter += amount, then waits delay_ms; business
//                                        failure "failed_after_write" after the write when
//                                        fail_after_write is true
//   compensation "conformance.subtract"  counter -= amount
//   action "conformance.read"            the counter's value, no effect (outside the barrier)
// With --without-barrier it is the deliberately broken participant the conformance tests
// expect to fail: the same handlers, each call committed in a plain transaction whatever it
// answers, with no record of calls already answered.
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "common/database.h"
#include "common/input_fields.h"
#include "common/service_main.h"
#include "skald/barrier.h"
#include "skald/participant_server.h"

namespace skald::conformance {
namespace {

using nlohmann::json;

constexpr const char* kSchemaDdl = R"sql(
CREATE SCHEMA IF NOT EXISTS conformance;
CREATE TABLE IF NOT EXISTS conformance.counters (
  name text PRIMARY KEY,
  value bigint NOT NULL);
)sql";

struct Change {
  std::string counter;
  int amount = 0;
  int delay_ms = 0;
  bool fail_after_write = false;
};

absl::StatusOr<Change> ParseChange(const json& input) {
  Change change;
  absl::StatusOr<std::string> counter = examples::NonEmptyStringField(input, "counter");
  if (!counter.ok()) return counter.status();
  change.counter = *counter;
  absl::StatusOr<int> amount = examples::PositiveIntField(input, "amount");
  if (!amount.ok()) return amount.status();
  change.amount = *amount;
  if (input.contains("delay_ms")) {
    if (!input["delay_ms"].is_number_integer() || input["delay_ms"].get<long long>() < 0 ||
        input["delay_ms"].get<long long>() > 60'000) {
      return absl::InvalidArgumentError("delay_ms must be an integer in [0, 60000]");
    }
    change.delay_ms = input["delay_ms"].get<int>();
  }
  if (input.contains("fail_after_write")) {
    if (!input["fail_after_write"].is_boolean()) {
      return absl::InvalidArgumentError("fail_after_write must be a boolean");
    }
    change.fail_after_write = input["fail_after_write"].get<bool>();
  }
  return change;
}

long long AddToCounter(pqxx::work& tx, const std::string& counter, long long delta) {
  const pqxx::result row = tx.exec_params(
      "INSERT INTO conformance.counters (name, value) VALUES ($1, $2)"
      " ON CONFLICT (name) DO UPDATE SET value = conformance.counters.value + EXCLUDED.value"
      " RETURNING value",
      counter, delta);
  return row[0][0].as<long long>();
}

StepResult Add(pqxx::work& tx, const StepContext&, const json& input) {
  absl::StatusOr<Change> change = ParseChange(input);
  if (!change.ok()) {
    return StepResult::BusinessFailure("invalid_input", std::string(change.status().message()));
  }
  const long long value = AddToCounter(tx, change->counter, change->amount);
  if (change->fail_after_write) {
    return StepResult::BusinessFailure("failed_after_write",
                                       "the input asked for a failure after the write");
  }
  // Deliberately blind to the call's deadline: the contract's slow handler.
  std::this_thread::sleep_for(std::chrono::milliseconds(change->delay_ms));
  return StepResult::Success({{"counter", change->counter}, {"value", value}});
}

StepResult Subtract(pqxx::work& tx, const StepContext&, const json& input) {
  absl::StatusOr<Change> change = ParseChange(input);
  if (!change.ok()) {
    return StepResult::BusinessFailure("invalid_input", std::string(change.status().message()));
  }
  const long long value = AddToCounter(tx, change->counter, -change->amount);
  return StepResult::Success({{"counter", change->counter}, {"value", value}});
}

// Returns the contract's read: the counter's value, 0 for a counter never written.
StepHandler Read(std::shared_ptr<ConnectionSource> connections) {
  return [connections](const StepContext&, const json& input) {
    absl::StatusOr<std::string> counter = examples::NonEmptyStringField(input, "counter");
    if (!counter.ok()) {
      return StepResult::BusinessFailure("invalid_input", std::string(counter.status().message()));
    }
    long long value = 0;
    absl::Status read = examples::WithConnection(*connections, [&](pqxx::connection& connection) {
      pqxx::read_transaction tx(connection);
      const pqxx::result row =
          tx.exec_params("SELECT value FROM conformance.counters WHERE name = $1", *counter);
      if (!row.empty()) value = row[0][0].as<long long>();
      return absl::OkStatus();
    });
    if (!read.ok()) return StepResult::Retryable(std::string(read.message()), "database_error");
    return StepResult::Success({{"counter", *counter}, {"value", value}});
  };
}

// The broken participant's way of running a handler: its writes are committed whatever it
// answers, and nothing remembers a call already answered.
StepHandler WithoutBarrier(std::shared_ptr<ConnectionSource> connections, TxHandler handler) {
  return [connections, handler = std::move(handler)](const StepContext& context,
                                                     const json& input) {
    StepResult result = StepResult::Retryable("not run", "database_error");
    absl::Status ran = examples::WithConnection(*connections, [&](pqxx::connection& connection) {
      pqxx::work tx(connection);
      result = handler(tx, context, input);
      tx.commit();
      return absl::OkStatus();
    });
    if (!ran.ok()) return StepResult::Retryable(std::string(ran.message()), "database_error");
    return result;
  };
}

absl::Status Setup(bool without_barrier, std::shared_ptr<ConnectionSource> connections,
                   ParticipantServer& server) {
  if (absl::Status status = examples::WithConnection(*connections, ApplyBarrierSchema);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = examples::ApplySchema(*connections, kSchemaDdl); !status.ok()) {
    return status;
  }
  if (without_barrier) {
    server.on_action("conformance.add", WithoutBarrier(connections, Add));
    server.on_compensation("conformance.subtract", WithoutBarrier(connections, Subtract));
  } else {
    server.on_action("conformance.add", Barrier(connections, Add));
    server.on_compensation("conformance.subtract", Barrier(connections, Subtract));
  }
  server.on_action("conformance.read", Read(connections));
  return absl::OkStatus();
}

}  // namespace
}  // namespace skald::conformance

int main(int argc, char** argv) {
  bool without_barrier = false;
  return skald::examples::RunService(
      argc, argv,
      {.name = "conformance-participant-cpp",
       .service = "conformance",
       .description = "The conformance contract on the C++ SDK (counters behind the barrier)",
       .default_listen = "127.0.0.1:0",
       .add_flags =
           [&](CLI::App& app) {
             app.add_flag("--without-barrier", without_barrier,
                          "broken on purpose: no barrier, every call committed as it comes");
           },
       .setup =
           [&](std::shared_ptr<skald::ConnectionSource> connections,
               skald::ParticipantServer& server) {
             return skald::conformance::Setup(without_barrier, std::move(connections), server);
           }});
}
