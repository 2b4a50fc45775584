// payment-service: card charges for the order saga.
//   action "charge"        records a CHARGED charge of `amount` ("card_declined" when
//                          amount > --limit)
//   compensation "refund"  marks the step's charge REFUNDED
// Both run behind the SDK's barrier (skald/barrier.h): repeats return the first result, a
// "refund" whose "charge" had no effect is answered by the barrier itself, and a "charge"
// arriving after its "refund" is refused ("compensated_before_action").
// --async-charges-over AMOUNT (0: never) confirms larger charges through a simulated card
// provider instead (simulated_provider.h): "charge" records a provider request and answers
// accepted (skald/step_completer.h); the provider heartbeats the step, then "calls the
// webhook" after --provider-delay-ms, which records the charge and completes the step.
// "refund" then also cancels a request the provider has not confirmed yet.
// --fail-first-attempts N is a demo and test knob for transient failures: attempts numbered
// <= N of any call answer a retryable "payment gateway timeout (simulated)" and touch
// nothing (not even the barrier).

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/database.h"
#include "common/input_fields.h"
#include "common/service_main.h"
#include "simulated_provider.h"
#include "skald/barrier.h"
#include "skald/participant_server.h"
#include "skald/step_completer.h"

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
  double async_charges_over = 0;  // 0: every charge is synchronous.
  int provider_delay_ms = 3000;
  int heartbeat_every_ms = 1000;
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

// Hands the charge to the simulated provider: a request keyed by the call's completion token,
// committed with the barrier's record; a request of an earlier attempt is superseded (its
// token is dead).
StepResult RequestAsyncCharge(pqxx::work& tx, const StepContext& context,
                              const PositiveNumber& amount) {
  tx.exec_params(
      "UPDATE payments.provider_requests SET state = 'SUPERSEDED'"
      " WHERE saga_id = $1 AND step = $2 AND state = 'PENDING'",
      context.saga_id, context.step);
  tx.exec_params(
      "INSERT INTO payments.provider_requests (completion_token, saga_id, step, amount, state)"
      " VALUES ($1, $2, $3, $4::numeric, 'PENDING') ON CONFLICT DO NOTHING",
      context.completion_token, context.saga_id, context.step, amount.text);
  return StepResult::Accepted();
}

StepResult Charge(const PaymentFlags& flags, pqxx::work& tx, const StepContext& context,
                  const json& input) {
  const double limit = flags.limit;
  absl::StatusOr<PositiveNumber> amount = PositiveNumberField(input, "amount");
  if (!amount.ok()) {
    return StepResult::BusinessFailure("invalid_input", std::string(amount.status().message()));
  }
  if (amount->value > limit) {
    return StepResult::BusinessFailure(
        "card_declined",
        "amount " + amount->text + " exceeds the card limit " + absl::StrCat(limit));
  }
  if (flags.async_charges_over > 0 && amount->value > flags.async_charges_over &&
      !context.completion_token.empty()) {
    return RequestAsyncCharge(tx, context, *amount);
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
    // An asynchronous charge the provider has not confirmed: it is called off, and the
    // provider will never charge it.
    const pqxx::result requests = tx.exec_params(
        "WITH cancelled AS (UPDATE payments.provider_requests SET state = 'CANCELLED'"
        " WHERE saga_id = $1 AND step = $2 AND state = 'PENDING' RETURNING 1)"
        " SELECT (SELECT count(*) FROM cancelled),"
        " (SELECT count(*) FROM payments.provider_requests WHERE saga_id = $1 AND step = $2)",
        context.saga_id, context.step);
    if (requests[0][1].as<int>() > 0) {
      return StepResult::Success({{"cancelled_requests", requests[0][0].as<int>()}});
    }
    return StepResult::BusinessFailure("charge_missing",
                                       "step \"" + context.step + "\" of saga " + context.saga_id +
                                           " has no CHARGED charge, although it succeeded");
  }
  return StepResult::Success({{"charge_id", refunded[0][0].as<std::string>()},
                              {"refunded", json::parse(refunded[0][1].c_str())}});
}

absl::Status Setup(const PaymentFlags& flags, const CoordinatorEndpoint& coordinator,
                   std::shared_ptr<ConnectionSource> connections, ParticipantServer& server,
                   std::unique_ptr<SimulatedProvider>* provider) {
  if (absl::Status status = WithConnection(*connections, ApplyBarrierSchema); !status.ok()) {
    return status;
  }
  if (absl::Status status = ApplySchema(*connections, kSchemaDdl); !status.ok()) return status;
  if (absl::Status status = ApplySchema(*connections, kProviderRequestsDdl); !status.ok()) {
    return status;
  }
  if (flags.async_charges_over > 0) {
    if (coordinator.address.empty()) {
      return absl::InvalidArgumentError(
          "--async-charges-over needs --register-with: the provider completes charges with the "
          "coordinator");
    }
    // Short tries: one slow coordinator must not hold the provider's other requests long.
    absl::StatusOr<std::unique_ptr<StepCompleter>> completer = StepCompleter::Create(
        coordinator,
        {.try_deadline = std::chrono::seconds(2), .total_deadline = std::chrono::seconds(5)});
    if (!completer.ok()) return completer.status();
    *provider = std::make_unique<SimulatedProvider>(
        connections, *std::move(completer),
        SimulatedProvider::Options{
            .confirm_after = std::chrono::milliseconds(flags.provider_delay_ms),
            .heartbeat_every = std::chrono::milliseconds(flags.heartbeat_every_ms)});
    (*provider)->Start();
  }
  TxHandler charge = [flags](pqxx::work& tx, const StepContext& context, const json& input) {
    return Charge(flags, tx, context, input);
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
  skald::CoordinatorEndpoint coordinator;
  std::unique_ptr<skald::examples::SimulatedProvider> provider;
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
             app.add_option("--async-charges-over", flags.async_charges_over,
                            "confirm charges above this amount through the simulated card "
                            "provider, asynchronously (0: never; needs --register-with)")
                 ->capture_default_str()
                 ->check(CLI::NonNegativeNumber);
             app.add_option("--provider-delay-ms", flags.provider_delay_ms,
                            "how long the simulated provider takes to confirm a charge")
                 ->capture_default_str()
                 ->check(CLI::Range(0, 3'600'000));
             app.add_option("--heartbeat-every-ms", flags.heartbeat_every_ms,
                            "how often a charge waiting for the provider is heartbeated")
                 ->capture_default_str()
                 ->check(CLI::Range(10, 600'000));
           },
       .setup =
           [&](std::shared_ptr<skald::ConnectionSource> connections,
               skald::ParticipantServer& server) {
             return skald::examples::Setup(flags, coordinator, std::move(connections), server,
                                           &provider);
           },
       .coordinator_known = [&](const skald::CoordinatorEndpoint& known) { coordinator = known; },
       .stop =
           [&] {
             if (provider) provider->Stop();
           }});
}
