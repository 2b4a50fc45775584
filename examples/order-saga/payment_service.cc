// payment-service: card charges for the order saga.
//   action "charge"        records a CHARGED charge of `amount` ("card_declined" when
//                          amount > --limit)
//   compensation "refund"  marks the step's charge REFUNDED
// Both run behind the SDK's barrier (skald/barrier.h): repeats return the first result, a
// "refund" whose "charge" had no effect is answered by the barrier itself, and a "charge"
// arriving after its "refund" is refused ("compensated_before_action").
// --fail-first-attempts N is a demo and test knob for transient failures: attempts numbered
// <= N of any call answer a retryable "payment gateway timeout (simulated)" and touch
// nothing (not even the barrier).

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/database.h"
#include "common/input_fields.h"
#include "common/service_main.h"
#include "skald/barrier.h"
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

struct PaymentFlags {
  double limit = 1000;
  int fail_first_attempts = 0;
};

// Returns `handler` answering attempts <= fail_first_attempts with a simulated retryable
// gateway timeout, without calling it.
StepHandler WithSimulatedTimeouts(int fail_first_attempts, StepHandler handler) {
  return [fail_first_attempts, handler = std::move(handler)](const StepContext& context,
                                                             const json& input) {
    if (context.attempt <= fail_first_attempts) {
      return StepResult::Retryable("payment gateway timeout (simulated)", "gateway_timeout");
    }
    return handler(context, input);
  };
}

StepResult Charge(double limit, pqxx::work& tx, const StepContext& context, const json& input) {
  absl::StatusOr<PositiveNumber> amount = PositiveNumberField(input, "amount");
  if (!amount.ok()) {
    return StepResult::BusinessFailure("invalid_input", std::string(amount.status().message()));
  }
  if (amount->value > limit) {
    return StepResult::BusinessFailure(
        "card_declined",
        "amount " + amount->text + " exceeds the card limit " + absl::StrCat(limit));
  }
  const pqxx::result charge = tx.exec_params(
      "INSERT INTO payments.charges (saga_id, step, amount, status)"
      " VALUES ($1, $2, $3::numeric, 'CHARGED') RETURNING charge_id",
      context.saga_id, context.step, amount->text);
  return StepResult::Success(
      {{"charge_id", charge[0][0].as<std::string>()}, {"amount", input.at("amount")}});
}

// The barrier calls it once, and only after a successful "charge" of the same step, which
// left a CHARGED charge: a missing one means the table was changed behind the service's
// back, which an operator must look at.
StepResult Refund(pqxx::work& tx, const StepContext& context, const json&) {
  const pqxx::result refunded = tx.exec_params(
      "UPDATE payments.charges SET status = 'REFUNDED', refunded_at = now()"
      " WHERE saga_id = $1 AND step = $2 AND status = 'CHARGED'"
      " RETURNING charge_id, amount::text",
      context.saga_id, context.step);
  if (refunded.empty()) {
    return StepResult::BusinessFailure("charge_missing",
                                       "step \"" + context.step + "\" of saga " + context.saga_id +
                                           " has no CHARGED charge, although it succeeded");
  }
  return StepResult::Success({{"charge_id", refunded[0][0].as<std::string>()},
                              {"refunded", json::parse(refunded[0][1].c_str())}});
}

absl::Status Setup(const PaymentFlags& flags, std::shared_ptr<ConnectionSource> connections,
                   ParticipantServer& server) {
  if (absl::Status status = WithConnection(*connections, ApplyBarrierSchema); !status.ok()) {
    return status;
  }
  if (absl::Status status = ApplySchema(*connections, kSchemaDdl); !status.ok()) return status;
  const double limit = flags.limit;
  TxHandler charge = [limit](pqxx::work& tx, const StepContext& context, const json& input) {
    return Charge(limit, tx, context, input);
  };
  server.on_action("charge", WithCallLog(WithSimulatedTimeouts(flags.fail_first_attempts,
                                                               Barrier(connections, charge))));
  server.on_compensation("refund", WithCallLog(WithSimulatedTimeouts(
                                       flags.fail_first_attempts, Barrier(connections, Refund))));
  return absl::OkStatus();
}

}  // namespace
}  // namespace skald::examples

int main(int argc, char** argv) {
  skald::examples::PaymentFlags flags;
  return skald::examples::RunService(
      argc, argv,
      {.name = "payment-service",
       .service = "payment",
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
           [&](std::shared_ptr<skald::ConnectionSource> connections,
               skald::ParticipantServer& server) {
             return skald::examples::Setup(flags, std::move(connections), server);
           }});
}
