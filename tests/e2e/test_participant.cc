// test-participant: one participant for every end-to-end test of the definition language.
// What a handler does is driven by the step's input, so one binary serves every test, and
// every call is recorded in testp.calls (see kSchemaDdl) for the test to check.
//
//   action "echo"   success, output {"input": <input>, "step": <step name>}
//   action "sleep"  sleeps input.sleep_ms (0..30000), then success {"slept_ms": n}
//   action "fail"   business failure with code input.code (default "refused")
//   action "flaky"  retryable error with code input.code (default "flaky") while the
//                   attempt is <= input.fail_attempts (default 0), then like "echo"
//   action "hang"   sleeps until the call's deadline + 500 ms (at most 30 s), then success
//   compensation "undo"  sleeps input.undo_sleep_ms (0..30000, default 0); then a retryable
//                        error with code "undo_failed" while the attempt is <=
//                        input.undo_fail_attempts (default 0), else success
//                        {"undone": <step name>}
//
// Flags (from the example services' common main): --db URL, --listen HOST:PORT,
// --ready-file PATH, --db-pool N.

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "common/database.h"
#include "common/service_main.h"
#include "skald/barrier.h"
#include "skald/participant_server.h"

namespace skald::testing {
namespace {

using nlohmann::json;

constexpr const char* kSchemaDdl = R"sql(
CREATE SCHEMA IF NOT EXISTS testp;
CREATE TABLE IF NOT EXISTS testp.calls (
  id bigserial PRIMARY KEY,
  saga_id text NOT NULL,
  step text NOT NULL,
  phase text NOT NULL,
  handler text NOT NULL,
  attempt integer NOT NULL,
  idempotency_key text NOT NULL,
  input jsonb NOT NULL,
  action_output jsonb,
  started_at timestamptz NOT NULL,
  finished_at timestamptz,
  -- NULL while the handler runs; then success, retryable or business_failure.
  outcome text,
  error_code text,
  output jsonb,
  -- The W3C trace context the call carried ('' when none).
  traceparent text NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS calls_saga_idx ON testp.calls (saga_id, started_at);
)sql";

constexpr auto kDbWait = std::chrono::seconds(10);
constexpr long long kMaxSleepMs = 30'000;

// Records the start and the end of each call in testp.calls. It records every call, repeats
// included, in transactions of its own: no barrier (skald/barrier.h) here, since the tests
// read exactly what the coordinator delivered.
class CallRecorder {
 public:
  explicit CallRecorder(std::shared_ptr<ConnectionSource> connections)
      : connections_(std::move(connections)) {}

  // Inserts the call's row, started now; returns its id.
  absl::StatusOr<long long> Started(const StepContext& context, const json& input) {
    const std::optional<std::string> action_output =
        context.action_output.is_null() ? std::nullopt
                                        : std::optional(context.action_output.dump());
    return Run([&](pqxx::work& tx) {
      return tx
          .exec_params1(
              "INSERT INTO testp.calls (saga_id, step, phase, handler, attempt,"
              " idempotency_key, input, action_output, started_at, traceparent)"
              " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, clock_timestamp(), $9)"
              " RETURNING id",
              context.saga_id, context.step, std::string(PhaseName(context.phase)), context.handler,
              context.attempt, context.idempotency_key, input.dump(), action_output,
              context.traceparent)[0]
          .as<long long>();
    });
  }

  // Completes the row of call `id` with its result, finished now.
  absl::Status Finished(long long id, const StepResult& result) {
    const char* outcome = result.ok()          ? "success"
                          : result.retryable() ? "retryable"
                                               : "business_failure";
    return Run([&](pqxx::work& tx) {
             tx.exec_params(
                 "UPDATE testp.calls SET finished_at = clock_timestamp(), outcome = $2,"
                 " error_code = $3, output = $4::jsonb WHERE id = $1",
                 id, std::string(outcome), result.error_code(), result.output().dump());
             return 0LL;
           })
        .status();
  }

 private:
  template <typename Statement>
  absl::StatusOr<long long> Run(const Statement& statement) {
    absl::StatusOr<std::unique_ptr<pqxx::connection>> connection =
        connections_->Acquire(std::chrono::system_clock::now() + kDbWait);
    if (!connection.ok()) return connection.status();
    absl::StatusOr<long long> value;
    try {
      pqxx::work tx(**connection);
      value = statement(tx);
      tx.commit();
    } catch (const std::exception& e) {
      value = absl::UnavailableError(std::string("testp.calls: ") + e.what());
    }
    // After an error the connection may be broken: it is closed, not lent again.
    connections_->Release(*std::move(connection), value.ok());
    return value;
  }

  const std::shared_ptr<ConnectionSource> connections_;
};

// Returns `handler` wrapped to record each call; a call that cannot be recorded is
// answered as a retryable error (and its effect, if any, is still applied).
StepHandler Recorded(std::shared_ptr<CallRecorder> recorder, StepHandler handler) {
  return [recorder, handler = std::move(handler)](const StepContext& context,
                                                  const json& input) -> StepResult {
    const absl::StatusOr<long long> id = recorder->Started(context, input);
    if (!id.ok()) return StepResult::Retryable(std::string(id.status().message()), "record");
    StepResult result = handler(context, input);
    if (absl::Status s = recorder->Finished(*id, result); !s.ok()) {
      return StepResult::Retryable(std::string(s.message()), "record");
    }
    return result;
  };
}

// Returns input[field] as a whole number of milliseconds in [0, kMaxSleepMs], 0 when absent,
// or nullopt when it is something else.
std::optional<long long> SleepField(const json& input, const char* field) {
  const auto it = input.find(field);
  if (it == input.end()) return 0;
  if (!it->is_number_integer() || *it < 0 || *it > kMaxSleepMs) return std::nullopt;
  return it->get<long long>();
}

std::string StringField(const json& input, const char* field, const char* fallback) {
  const auto it = input.find(field);
  return it != input.end() && it->is_string() ? it->get<std::string>() : fallback;
}

StepResult InvalidField(const char* field) {
  return StepResult::BusinessFailure(
      "invalid_input", std::string(field) + ": expected a whole number from 0 to 30000");
}

StepResult Echo(const StepContext& context, const json& input) {
  return StepResult::Success({{"input", input}, {"step", context.step}});
}

StepResult Sleep(const StepContext&, const json& input) {
  const std::optional<long long> ms = SleepField(input, "sleep_ms");
  if (!ms) return InvalidField("sleep_ms");
  std::this_thread::sleep_for(std::chrono::milliseconds(*ms));
  return StepResult::Success({{"slept_ms", *ms}});
}

StepResult Fail(const StepContext& context, const json& input) {
  return StepResult::BusinessFailure(StringField(input, "code", "refused"),
                                     "step " + context.step + " refused by test-participant");
}

StepResult Flaky(const StepContext& context, const json& input) {
  const auto it = input.find("fail_attempts");
  const long long fail_attempts =
      it != input.end() && it->is_number_integer() ? it->get<long long>() : 0;
  if (context.attempt <= fail_attempts) {
    return StepResult::Retryable("attempt " + std::to_string(context.attempt) + " of " +
                                     std::to_string(fail_attempts) + " failing on purpose",
                                 StringField(input, "code", "flaky"));
  }
  return Echo(context, input);
}

StepResult Hang(const StepContext& context, const json&) {
  const auto now = std::chrono::system_clock::now();
  const auto bound = now + std::chrono::milliseconds(kMaxSleepMs);
  // A deadline of time_point::max() would overflow when added to.
  const auto until = context.deadline >= bound
                         ? bound
                         : std::min(bound, context.deadline + std::chrono::milliseconds(500));
  std::this_thread::sleep_until(until);
  return StepResult::Success({{"hung_until_deadline", true}});
}

StepResult Undo(const StepContext& context, const json& input) {
  const std::optional<long long> ms = SleepField(input, "undo_sleep_ms");
  if (!ms) return InvalidField("undo_sleep_ms");
  std::this_thread::sleep_for(std::chrono::milliseconds(*ms));
  const auto it = input.find("undo_fail_attempts");
  if (it != input.end() && it->is_number_integer() && context.attempt <= it->get<long long>()) {
    return StepResult::Retryable(
        "compensation attempt " + std::to_string(context.attempt) + " failing on purpose",
        "undo_failed");
  }
  return StepResult::Success({{"undone", context.step}});
}

absl::Status Setup(std::shared_ptr<ConnectionSource> connections, ParticipantServer& server) {
  if (absl::Status s = examples::ApplySchema(*connections, kSchemaDdl); !s.ok()) return s;
  auto recorder = std::make_shared<CallRecorder>(std::move(connections));
  auto add = [&](const char* name, StepHandler handler) {
    server.on_action(name, examples::WithCallLog(Recorded(recorder, std::move(handler))));
  };
  add("echo", Echo);
  add("sleep", Sleep);
  add("fail", Fail);
  add("flaky", Flaky);
  add("hang", Hang);
  server.on_compensation("undo", examples::WithCallLog(Recorded(recorder, Undo)));
  return absl::OkStatus();
}

}  // namespace
}  // namespace skald::testing

int main(int argc, char** argv) {
  return skald::examples::RunService(
      argc, argv,
      {.name = "test-participant",
       .description = "Participant for the end-to-end tests: echo, sleep, fail, flaky, hang "
                      "/ undo; records every call in testp.calls",
       .default_listen = "127.0.0.1:0",
       .add_flags = nullptr,
       .setup = skald::testing::Setup});
}
