// StepLedger makes a participant's effects idempotent: it records the result of each call
// under its idempotency key, in the same transaction as the effect, and answers a repeated
// call with the recorded result instead of applying the effect again.

#ifndef SKALD_EXAMPLES_ORDER_SAGA_COMMON_STEP_LEDGER_H_
#define SKALD_EXAMPLES_ORDER_SAGA_COMMON_STEP_LEDGER_H_

#include <functional>
#include <pqxx/pqxx>

#include "common/pg_pool.h"
#include "skald/step.h"

namespace skald::examples {

// The statements of one service's ledger table, <schema>.step_ledger. Built with
// SKALD_LEDGER_SQL so that every statement stays a string literal.
struct LedgerSql {
  const char* schema;
  const char* create;             // DDL for the table and its index.
  const char* find_by_key;        // $1 idempotency key.
  const char* find_compensation;  // $1 saga id, $2 step.
  const char* record;             // $1..$9, see StepLedger::Run.
};

// Expands to the LedgerSql of the schema named by the string literal `schema_literal`.
#define SKALD_LEDGER_SQL(schema_literal)                                              \
  ::skald::examples::LedgerSql {                                                      \
    schema_literal,                                                                   \
        "CREATE TABLE IF NOT EXISTS " schema_literal                                  \
        ".step_ledger ("                                                              \
        " idempotency_key text PRIMARY KEY,"                                          \
        " saga_id text NOT NULL,"                                                     \
        " step text NOT NULL,"                                                        \
        " phase text NOT NULL CHECK (phase IN ('action', 'compensation')),"           \
        " handler text NOT NULL,"                                                     \
        " outcome text NOT NULL CHECK (outcome IN ('success', 'business_failure')),"  \
        " output_json text NOT NULL,"                                                 \
        " error_code text NOT NULL,"                                                  \
        " error_message text NOT NULL,"                                               \
        " recorded_at timestamptz NOT NULL DEFAULT now());"                           \
        "CREATE INDEX IF NOT EXISTS step_ledger_saga_step ON " schema_literal         \
        ".step_ledger (saga_id, step, phase);",                                       \
        "SELECT outcome, output_json, error_code, error_message FROM " schema_literal \
        ".step_ledger WHERE idempotency_key = $1",                                    \
        "SELECT 1 FROM " schema_literal                                               \
        ".step_ledger"                                                                \
        " WHERE saga_id = $1 AND step = $2 AND phase = 'compensation' LIMIT 1",       \
        "INSERT INTO " schema_literal                                                 \
        ".step_ledger (idempotency_key, saga_id, step, phase, handler, outcome,"      \
        " output_json, error_code, error_message)"                                    \
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"                                \
  }

class StepLedger {
 public:
  // Applies the effect of one call inside `tx` and returns its result. It must not commit
  // or abort `tx`, and must have no effect outside `tx`: it is run again on a fresh
  // connection when the first one turns out to be broken. It may throw.
  using Effect = std::function<StepResult(pqxx::work& tx)>;

  // REQUIRES: `pool` outlives this ledger; the table in sql.create exists.
  StepLedger(PgPool* pool, const LedgerSql& sql) : pool_(pool), sql_(sql) {}

  // Returns the result recorded for context.idempotency_key, if any, without running
  // `effect`. Otherwise runs `effect` in a new transaction and commits it together with
  // its result, unless the result is retryable (then everything is rolled back and nothing
  // recorded). Calls for the same saga are serialized. The transaction's statement_timeout
  // is the time left until context.deadline. An action arriving after its step
  // was compensated in the same saga is refused, and recorded, as business failure
  // "already_compensated" without running `effect`. Database errors, and a commit whose
  // outcome is unknown, become retryable results (a retry then finds what was recorded);
  // other exceptions propagate.
  StepResult Run(const StepContext& context, const Effect& effect);

 private:
  StepResult RunInTransaction(pqxx::work& tx, const StepContext& context, const Effect& effect);

  PgPool* const pool_;
  const LedgerSql sql_;
};

}  // namespace skald::examples

#endif  // SKALD_EXAMPLES_ORDER_SAGA_COMMON_STEP_LEDGER_H_
