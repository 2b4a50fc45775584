#include "common/step_ledger.h"

#include <chrono>
#include <string>

namespace skald::examples {
namespace {

StepResult FromRow(const pqxx::row& row) {
  const std::string outcome = row[0].as<std::string>();
  if (outcome == "success") return StepResult::Success(nlohmann::json::parse(row[1].c_str()));
  return StepResult::BusinessFailure(row[2].as<std::string>(), row[3].as<std::string>());
}

}  // namespace

StepResult StepLedger::Run(const StepContext& context, const Effect& effect) {
  if (context.idempotency_key.empty()) {
    return StepResult::BusinessFailure("invalid_input", "the call has no idempotency_key");
  }
  // A connection found broken before COMMIT committed nothing, so the call is tried once more
  // on a fresh one: after a database restart every pooled connection is dead.
  for (int round = 1;; ++round) {
    absl::StatusOr<PgPool::Lease> lease = pool_->Acquire(context.deadline);
    if (!lease.ok()) {
      return StepResult::Retryable(std::string(lease.status().message()), "database_unavailable");
    }
    try {
      pqxx::work tx(lease->connection());
      StepResult result = RunInTransaction(tx, context, effect);
      if (result.retryable()) {
        tx.abort();
      } else {
        tx.commit();
      }
      return result;
    } catch (const pqxx::in_doubt_error& e) {
      lease->Discard();
      return StepResult::Retryable(
          std::string("the database connection died during COMMIT, outcome unknown: ") + e.what(),
          "database_unavailable");
    } catch (const pqxx::broken_connection& e) {
      lease->Discard();
      pool_->DiscardIdle();
      if (round == 1) continue;
      return StepResult::Retryable(std::string("database connection lost: ") + e.what(),
                                   "database_unavailable");
    } catch (const pqxx::failure& e) {
      // sql_error, serialization_failure, deadlock_detected, ...: nothing was committed.
      return StepResult::Retryable(std::string("database error: ") + e.what(), "database_error");
    }
  }
}

StepResult StepLedger::RunInTransaction(pqxx::work& tx, const StepContext& context,
                                        const Effect& effect) {
  // Work the caller no longer waits for is cut short: lock waits and statements included.
  if (context.deadline != std::chrono::system_clock::time_point::max()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        context.deadline - std::chrono::system_clock::now());
    if (left.count() <= 0) {
      return StepResult::Retryable("the call's deadline passed before the database work began",
                                   "deadline_exceeded");
    }
    tx.exec_params("SELECT set_config('statement_timeout', $1, true)",
                   std::to_string(left.count()));
  }
  // Serializes calls for one saga within this service: a repeated call waits for the first
  // one's commit and then finds its result; an action racing its compensation loses cleanly.
  tx.exec_params("SELECT pg_advisory_xact_lock(hashtext($1))",
                 std::string(sql_.schema) + "/" + context.saga_id);

  const pqxx::result recorded = tx.exec_params(sql_.find_by_key, context.idempotency_key);
  if (!recorded.empty()) return FromRow(recorded[0]);

  StepResult result = StepResult::Success();
  if (context.phase == Phase::kAction &&
      !tx.exec_params(sql_.find_compensation, context.saga_id, context.step).empty()) {
    result = StepResult::BusinessFailure(
        "already_compensated", "step \"" + context.step + "\" of saga " + context.saga_id +
                                   " was compensated before this action arrived; refused");
  } else {
    result = effect(tx);
  }
  if (result.retryable()) return result;
  tx.exec_params(sql_.record, context.idempotency_key, context.saga_id, context.step,
                 std::string(PhaseName(context.phase)), context.handler,
                 result.ok() ? "success" : "business_failure", result.output().dump(),
                 result.error_code(), result.error_message());
  return result;
}

}  // namespace skald::examples
