#include "skald/barrier.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <utility>

namespace skald {
namespace {

// Serializes both phases of one step: the key is hashed to the advisory lock's bigint.
// A hash collision only serializes two unrelated steps.
constexpr char kLockSql[] = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
constexpr char kSetTimeoutsSql[] =
    "SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true)";
constexpr char kSetLockTimeoutSql[] = "SELECT set_config('lock_timeout', $1, true)";
constexpr char kFindSql[] =
    "SELECT phase, outcome, output_json, error_code, error_message, attempt, completion_token"
    " FROM skald.barrier WHERE saga_id = $1 AND step = $2";
// Inserts the record, or replaces an 'accepted' one: a new attempt of an accepted step ran
// the handler again (the only way the barrier reaches Record() with a record present).
constexpr char kRecordSql[] =
    "INSERT INTO skald.barrier (saga_id, step, phase, handler, origin, outcome, output_json,"
    " error_code, error_message, attempt, completion_token)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    " ON CONFLICT (saga_id, step, phase) DO UPDATE SET handler = EXCLUDED.handler,"
    " origin = EXCLUDED.origin, outcome = EXCLUDED.outcome, output_json = EXCLUDED.output_json,"
    " error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message,"
    " attempt = EXCLUDED.attempt, completion_token = EXCLUDED.completion_token,"
    " recorded_at = now() WHERE skald.barrier.outcome = 'accepted'";
constexpr char kSavepointSql[] = "SAVEPOINT skald_barrier_handler";
constexpr char kRollbackToSavepointSql[] = "ROLLBACK TO SAVEPOINT skald_barrier_handler";

constexpr char kSchemaLockSql[] =
    "SELECT pg_advisory_xact_lock(hashtextextended('skald.barrier schema', 0))";
constexpr char kSchemaSql[] =
    "CREATE SCHEMA IF NOT EXISTS skald;"
    "CREATE TABLE IF NOT EXISTS skald.barrier ("
    " saga_id text NOT NULL,"
    " step text NOT NULL,"
    " phase text NOT NULL CHECK (phase IN ('action', 'compensation')),"
    " handler text NOT NULL,"
    " origin text NOT NULL CHECK (origin IN ('handler', 'null_compensation', 'refused')),"
    " outcome text NOT NULL CHECK (outcome IN ('success', 'business_failure', 'accepted')),"
    " output_json text NOT NULL,"
    " error_code text NOT NULL,"
    " error_message text NOT NULL,"
    " recorded_at timestamptz NOT NULL DEFAULT now(),"
    " attempt integer NOT NULL DEFAULT 0,"
    " completion_token text NOT NULL DEFAULT '',"
    " PRIMARY KEY (saga_id, step, phase));"
    // A table made before accepted steps (issue 17) gains the columns (a default makes that
    // a catalog change only) and an outcome check that allows 'accepted'; rewritten only
    // once, so later starts do not revalidate the table.
    "ALTER TABLE skald.barrier ADD COLUMN IF NOT EXISTS attempt integer NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS completion_token text NOT NULL DEFAULT '';"
    "DO $$ BEGIN"
    " IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'skald.barrier'::regclass"
    " AND conname = 'barrier_outcome_check'"
    " AND pg_get_constraintdef(oid) NOT LIKE '%accepted%') THEN"
    " ALTER TABLE skald.barrier DROP CONSTRAINT barrier_outcome_check,"
    " ADD CONSTRAINT barrier_outcome_check"
    " CHECK (outcome IN ('success', 'business_failure', 'accepted'));"
    " END IF; END $$;";

constexpr char kSqlStateLockNotAvailable[] = "55P03";
constexpr char kSqlStateQueryCanceled[] = "57014";

StepResult FromRecord(const pqxx::row& row) {
  const std::string outcome = row[1].as<std::string>();
  if (outcome == "success") {
    return StepResult::Success(nlohmann::json::parse(row[2].as<std::string>()));
  }
  if (outcome == "accepted") return StepResult::Accepted();
  return StepResult::BusinessFailure(row[3].as<std::string>(), row[4].as<std::string>());
}

std::string OutcomeColumn(const StepResult& result) {
  if (result.ok()) return "success";
  return result.accepted() ? "accepted" : "business_failure";
}

void Record(pqxx::work& tx, const StepContext& context, const char* origin,
            const StepResult& result) {
  tx.exec_params(kRecordSql, context.saga_id, context.step, std::string(PhaseName(context.phase)),
                 context.handler, std::string(origin), OutcomeColumn(result),
                 result.output().dump(), result.error_code(), result.error_message(),
                 context.attempt, context.completion_token);
}

// What the barrier does with a delivery whose phase already has an 'accepted' record.
enum class AcceptedRepeat {
  kSameAttempt,  // the same token: answer Accepted again, the work is under way
  kNewAttempt,   // a later attempt (new token): run the handler again, the work restarts
  kStale,        // an earlier attempt than the recorded one: the coordinator has moved on
};

AcceptedRepeat ClassifyAcceptedRepeat(const pqxx::row& record, const StepContext& context) {
  if (record[6].as<std::string>() == context.completion_token) return AcceptedRepeat::kSameAttempt;
  return context.attempt > record[5].as<int>() ? AcceptedRepeat::kNewAttempt
                                               : AcceptedRepeat::kStale;
}

// Runs the handler, turning an exception other than a database error into a retryable result.
StepResult CallHandler(const TxHandler& handler, pqxx::work& tx, const StepContext& context,
                       const nlohmann::json& input) {
  try {
    return handler(tx, context, input);
  } catch (const pqxx::failure&) {
    throw;  // Mapped with the barrier's own database errors.
  } catch (const std::exception& e) {
    return StepResult::Retryable(e.what(), "handler_exception");
  } catch (...) {
    return StepResult::Retryable("the handler threw a non-standard exception", "handler_exception");
  }
}

// One attempt in one transaction. Throws pqxx exceptions; the caller maps them.
StepResult RunInTransaction(pqxx::connection& connection, const TxHandler& handler,
                            const BarrierOptions& options, const StepContext& context,
                            const nlohmann::json& input) {
  pqxx::work tx(connection);
  std::int64_t lock_ms = options.lock_wait.count();
  if (context.deadline != std::chrono::system_clock::time_point::max()) {
    const std::int64_t left_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     context.deadline - std::chrono::system_clock::now())
                                     .count();
    if (left_ms <= 0) {
      return StepResult::Retryable("the call's deadline passed before the barrier was entered",
                                   "deadline_exceeded");
    }
    lock_ms = std::min(lock_ms, left_ms);
    tx.exec_params(kSetTimeoutsSql, std::to_string(left_ms),
                   std::to_string(std::max<std::int64_t>(lock_ms, 1)));
  } else {
    tx.exec_params(kSetLockTimeoutSql, std::to_string(std::max<std::int64_t>(lock_ms, 1)));
  }
  tx.exec_params(kLockSql, "skald.barrier/" + context.saga_id + "/" + context.step);

  const pqxx::result records = tx.exec_params(kFindSql, context.saga_id, context.step);
  std::optional<pqxx::row> action;
  std::optional<pqxx::row> compensation;
  for (pqxx::result::size_type i = 0; i < records.size(); ++i) {
    const pqxx::row row = records[i];
    (row[0].as<std::string>() == "action" ? action : compensation) = row;
  }
  const std::optional<pqxx::row>& own = context.phase == Phase::kAction ? action : compensation;
  if (own.has_value() && (*own)[1].as<std::string>() != "accepted") {
    return FromRecord(*own);  // A repeat: the first result, no effect.
  }
  if (own.has_value()) {
    switch (ClassifyAcceptedRepeat(*own, context)) {
      case AcceptedRepeat::kSameAttempt:
        return StepResult::Accepted();  // Whoever holds the token finishes the work.
      case AcceptedRepeat::kStale:
        return StepResult::Retryable("attempt " + std::to_string(context.attempt) + " of step \"" +
                                         context.step + "\" of saga " + context.saga_id +
                                         " is older than accepted attempt " +
                                         std::to_string((*own)[5].as<int>()) + "; not run",
                                     "stale_attempt");
      case AcceptedRepeat::kNewAttempt:
        break;  // The earlier attempt timed out: run the handler under the new token.
    }
  }

  if (context.phase == Phase::kAction && compensation.has_value()) {
    StepResult refused = StepResult::BusinessFailure(
        "compensated_before_action", "step \"" + context.step + "\" of saga " + context.saga_id +
                                         " was compensated before its action arrived; refused");
    Record(tx, context, "refused", refused);
    tx.commit();
    return refused;
  }
  // An accepted action may have been completed with success since (the barrier does not see
  // completions): its compensation runs the handler, which knows how the work ended.
  if (context.phase == Phase::kCompensation &&
      (!action.has_value() || (*action)[1].as<std::string>() == "business_failure")) {
    // Nothing to undo: the action never ran, or ran without effect. Recording the
    // compensation also makes a late action be refused.
    StepResult null_compensation = StepResult::Success();
    Record(tx, context, "null_compensation", null_compensation);
    tx.commit();
    return null_compensation;
  }

  tx.exec0(kSavepointSql);
  StepResult result = CallHandler(handler, tx, context, input);
  if (result.retryable()) {
    tx.abort();
    return result;
  }
  if (result.ok() && !result.output().is_object()) {
    tx.abort();
    return StepResult::Retryable("the handler's success output is not a JSON object",
                                 "invalid_output");
  }
  if (result.accepted() && context.completion_token.empty()) {
    // Recorded, it would answer every repeat with a step nobody can complete.
    tx.abort();
    return StepResult::Retryable(
        "the handler answered accepted, but the call carried no completion token",
        "no_completion_token");
  }
  if (result.outcome() == StepResult::Outcome::kBusinessFailure) {
    tx.exec0(kRollbackToSavepointSql);  // A business failure has no effect.
  }
  Record(tx, context, "handler", result);
  if (context.expired()) {
    // The caller gave up on this attempt and retries it: committing now would apply an
    // effect after the deadline. The retry runs the handler again.
    tx.abort();
    return StepResult::Retryable("the call's deadline passed while " +
                                     std::string(PhaseName(context.phase)) + " handler \"" +
                                     context.handler + "\" ran; its writes were rolled back",
                                 "deadline_exceeded");
  }
  tx.commit();
  return result;
}

}  // namespace

absl::Status ApplyBarrierSchema(pqxx::connection& connection) {
  try {
    pqxx::work tx(connection);
    tx.exec(kSchemaLockSql);
    tx.exec0(kSchemaSql);
    tx.commit();
    return absl::OkStatus();
  } catch (const pqxx::broken_connection& e) {
    return absl::UnavailableError(std::string("applying the barrier schema: ") + e.what());
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("applying the barrier schema: ") + e.what());
  }
}

StepHandler Barrier(std::shared_ptr<ConnectionSource> connections, TxHandler handler,
                    BarrierOptions options) {
  return [connections = std::move(connections), handler = std::move(handler), options](
             const StepContext& context, const nlohmann::json& input) -> StepResult {
    if (context.saga_id.empty() || context.step.empty()) {
      return StepResult::BusinessFailure("invalid_input",
                                         "the call names no saga id or no step; the barrier "
                                         "cannot key it");
    }
    // A connection found broken before COMMIT committed nothing: one more round on a fresh
    // connection (after a database restart, pooled connections are dead).
    for (int round = 1;; ++round) {
      absl::StatusOr<std::unique_ptr<pqxx::connection>> connection =
          connections->Acquire(context.deadline);
      if (!connection.ok()) {
        return StepResult::Retryable(std::string(connection.status().message()),
                                     "database_unavailable");
      }
      bool reusable = true;
      bool again = false;
      StepResult result = StepResult::Retryable("not run", "database_error");
      try {
        result = RunInTransaction(**connection, handler, options, context, input);
      } catch (const pqxx::in_doubt_error& e) {
        reusable = false;
        result = StepResult::Retryable(
            std::string("the connection died during COMMIT, outcome unknown: ") + e.what(),
            "database_in_doubt");
      } catch (const pqxx::broken_connection& e) {
        reusable = false;
        again = round == 1;
        result = StepResult::Retryable(std::string("database connection lost: ") + e.what(),
                                       "database_unavailable");
      } catch (const pqxx::sql_error& e) {
        if (e.sqlstate() == kSqlStateLockNotAvailable) {
          result =
              StepResult::Retryable("another delivery of step \"" + context.step + "\" of saga " +
                                        context.saga_id + " is still in progress",
                                    "barrier_busy");
        } else if (e.sqlstate() == kSqlStateQueryCanceled) {
          result = StepResult::Retryable(std::string("statement cancelled: ") + e.what(),
                                         "deadline_exceeded");
        } else {
          result =
              StepResult::Retryable(std::string("database error: ") + e.what(), "database_error");
        }
      } catch (const pqxx::failure& e) {
        // serialization_failure, deadlock_detected, ...: nothing was committed.
        result =
            StepResult::Retryable(std::string("database error: ") + e.what(), "database_error");
      }
      connections->Release(*std::move(connection), reusable);
      if (!again) return result;
    }
  };
}

}  // namespace skald
