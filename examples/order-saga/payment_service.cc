// payment-service: card charges for the order saga.
//   action "charge"        records a CHARGED charge of `amount` ("card_declined" when
//                          amount > --limit)
//   compensation "refund"  marks the charge REFUNDED, once (none: success, {"noop": true})
// --fail-first-attempts N is a demo and test knob for transient failures: attempts numbered
// <= N of any call answer a retryable "payment gateway timeout (simulated)" and touch
// nothing.

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/input_fields.h"
#include "common/pg_pool.h"
#include "common/service_main.h"
#include "common/step_ledger.h"
#include "skald/participant_server.h"

namespace skald::examples {
namespace {

using nlohmann::json;

constexpr const char* kSchemaDdl = R"sql(
CREATE SCHEMA IF NOT EXISTS payments;
CREATE TABLE IF NOT EXISTS payments.charges (
  charge_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  saga_id text NOT NULL,
  step text NOT NULL,
  amount numeric NOT NULL CHECK (amount > 0),
  status text NOT NULL CHECK (status IN ('CHARGED', 'REFUNDED')),
  created_at timestamptz NOT NULL DEFAULT now(),
  refunded_at timestamptz,
  UNIQUE (saga_id, step));
)sql";

constexpr LedgerSql kLedgerSql = SKALD_LEDGER_SQL("payments");

struct PaymentFlags {
  double limit = 1000;
  int fail_first_attempts = 0;
};

StepResult SimulatedTimeout() {
  return StepResult::Retryable("payment gateway timeout (simulated)", "gateway_timeout");
}

StepResult Charge(const PaymentFlags& flags, StepLedger& ledger, const StepContext& context,
                  const json& input) {
  if (context.attempt <= flags.fail_first_attempts) return SimulatedTimeout();
  absl::StatusOr<PositiveNumber> amount = PositiveNumberField(input, "amount");
  if (!amount.ok()) {
    return StepResult::BusinessFailure("invalid_input", std::string(amount.status().message()));
  }
  return ledger.Run(context, [&](pqxx::work& tx) {
    if (amount->value > flags.limit) {
      return StepResult::BusinessFailure(
          "card_declined",
          "amount " + amount->text + " exceeds the card limit " + absl::StrCat(flags.limit));
    }
    const pqxx::result charge = tx.exec_params(
        "INSERT INTO payments.charges (saga_id, step, amount, status)"
        " VALUES ($1, $2, $3::numeric, 'CHARGED') RETURNING charge_id",
        context.saga_id, context.step, amount->text);
    return StepResult::Success(
        {{"charge_id", charge[0][0].as<std::string>()}, {"amount", input.at("amount")}});
  });
}

StepResult Refund(const PaymentFlags& flags, StepLedger& ledger, const StepContext& context,
                  const json&) {
  if (context.attempt <= flags.fail_first_attempts) return SimulatedTimeout();
  return ledger.Run(context, [&](pqxx::work& tx) {
    const pqxx::result refunded = tx.exec_params(
        "UPDATE payments.charges SET status = 'REFUNDED', refunded_at = now()"
        " WHERE saga_id = $1 AND step = $2 AND status = 'CHARGED'"
        " RETURNING charge_id, amount::text",
        context.saga_id, context.step);
    if (refunded.empty()) return StepResult::Success({{"noop", true}});
    return StepResult::Success({{"charge_id", refunded[0][0].as<std::string>()},
                                {"refunded", json::parse(refunded[0][1].c_str())}});
  });
}

absl::Status Setup(const PaymentFlags& flags, PgPool& pool, ParticipantServer& server) {
  if (absl::Status status = ApplySchema(pool, std::string(kSchemaDdl) + kLedgerSql.create);
      !status.ok()) {
    return status;
  }
  auto ledger = std::make_shared<StepLedger>(&pool, kLedgerSql);
  server.on_action("charge", WithCallLog([flags, ledger](const StepContext& c, const json& in) {
                     return Charge(flags, *ledger, c, in);
                   }));
  server.on_compensation("refund",
                         WithCallLog([flags, ledger](const StepContext& c, const json& in) {
                           return Refund(flags, *ledger, c, in);
                         }));
  return absl::OkStatus();
}

}  // namespace
}  // namespace skald::examples

int main(int argc, char** argv) {
  skald::examples::PaymentFlags flags;
  return skald::examples::RunService(
      argc, argv,
      {.name = "payment-service",
       .description = "Order saga example participant: payments (charge / refund)",
       .default_listen = "127.0.0.1:7803",
       .add_flags =
           [&](CLI::App& app) {
             app.add_option("--limit", flags.limit, "largest amount a card accepts")
                 ->capture_default_str()
                 ->check(CLI::NonNegativeNumber);
             app.add_option("--fail-first-attempts", flags.fail_first_attempts,
                            "answer attempts <= N with a simulated retryable gateway timeout")
                 ->capture_default_str()
                 ->check(CLI::NonNegativeNumber);
           },
       .setup =
           [&](skald::examples::PgPool& pool, skald::ParticipantServer& server) {
             return skald::examples::Setup(flags, pool, server);
           }});
}
