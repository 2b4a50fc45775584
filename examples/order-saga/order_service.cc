// order-service: the orders of the order saga.
//   action "create"        inserts the order, PENDING
//   action "confirm"       sets it CONFIRMED ("manual_review_required" when input.review)
//   compensation "cancel"  sets it CANCELLED
//   action "approve"       asks a person to approve the order: records the request in
//                          orders.approvals, logs the command that approves it, and answers
//                          accepted; the step waits until an operator runs
//                          `skald step complete TOKEN --output '{"approved_by": "..."}'` (or
//                          `--fail rejected --message ...`, which compensates the order)
//   compensation "withdraw" marks the saga's approval requests withdrawn
// Every handler runs behind the SDK's barrier (skald/barrier.h): repeats return the first
// result, a "cancel" whose "create" had no effect is answered by the barrier itself, and a
// "create" arriving after its "cancel" is refused ("compensated_before_action").
//
// Placing an order (order_placing.h): `order-service place-order --input JSON` inserts the
// order and records the start of its saga in one transaction (skald/saga_outbox.h); the
// relay running in the serving order-service (--relay-to) sends it to the coordinator. The
// "create" step then finds the order already there, placed for its own saga.

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "common/database.h"
#include "common/input_fields.h"
#include "common/service_main.h"
#include "order_placing.h"
#include "skald/barrier.h"
#include "skald/participant_server.h"
#include "skald/saga_outbox.h"

namespace skald::examples {
namespace {

using nlohmann::json;

constexpr const char* kSchemaDdl = R"sql(
CREATE SCHEMA IF NOT EXISTS orders;
CREATE TABLE IF NOT EXISTS orders.orders (
  order_id text PRIMARY KEY,
  saga_id text NOT NULL UNIQUE,
  customer text NOT NULL,
  sku text NOT NULL,
  quantity integer NOT NULL CHECK (quantity > 0),
  amount numeric NOT NULL CHECK (amount > 0),
  status text NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'CANCELLED')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now());
-- Approvals asked for (action "approve"); an operator finds the token of a waiting one here
-- or in the service's log. A new attempt of the step asks again, under a new token.
CREATE TABLE IF NOT EXISTS orders.approvals (
  completion_token text PRIMARY KEY,
  saga_id text NOT NULL,
  order_id text NOT NULL,
  amount numeric NOT NULL,
  attempt integer NOT NULL,
  requested_at timestamptz NOT NULL DEFAULT now(),
  withdrawn_at timestamptz);
)sql";

struct Order {
  std::string order_id;
  std::string customer;
  std::string sku;
  int quantity;
  PositiveNumber amount;
};

// Returns the order described by `input`, or the problem with the first bad field.
absl::StatusOr<Order> ParseOrder(const json& input) {
  absl::StatusOr<std::string> order_id = NonEmptyStringField(input, "order_id");
  if (!order_id.ok()) return order_id.status();
  absl::StatusOr<std::string> customer = NonEmptyStringField(input, "customer");
  if (!customer.ok()) return customer.status();
  absl::StatusOr<std::string> sku = NonEmptyStringField(input, "sku");
  if (!sku.ok()) return sku.status();
  absl::StatusOr<int> quantity = PositiveIntField(input, "quantity");
  if (!quantity.ok()) return quantity.status();
  absl::StatusOr<PositiveNumber> amount = PositiveNumberField(input, "amount");
  if (!amount.ok()) return amount.status();
  return Order{*order_id, *customer, *sku, *quantity, *amount};
}

// Inserts the order described by `input`, PENDING, for saga `saga_id`: how
// `order-service place-order` places it, in the transaction that records the saga's start.
absl::Status InsertOrder(pqxx::work& tx, const json& input, const std::string& saga_id) {
  absl::StatusOr<Order> order = ParseOrder(input);
  if (!order.ok()) return order.status();
  const pqxx::result inserted = tx.exec_params(
      "INSERT INTO orders.orders (order_id, saga_id, customer, sku, quantity, amount, status)"
      " VALUES ($1, $2, $3, $4, $5, $6::numeric, 'PENDING')"
      " ON CONFLICT DO NOTHING RETURNING order_id",
      order->order_id, saga_id, order->customer, order->sku, order->quantity, order->amount.text);
  if (inserted.empty()) {
    return absl::AlreadyExistsError("order " + order->order_id + " (or saga " + saga_id +
                                    ") already exists");
  }
  return absl::OkStatus();
}

StepResult Create(pqxx::work& tx, const StepContext& context, const json& input) {
  absl::StatusOr<Order> order = ParseOrder(input);
  if (!order.ok()) {
    return StepResult::BusinessFailure("invalid_order", std::string(order.status().message()));
  }
  const pqxx::result inserted = tx.exec_params(
      "INSERT INTO orders.orders (order_id, saga_id, customer, sku, quantity, amount, status)"
      " VALUES ($1, $2, $3, $4, $5, $6::numeric, 'PENDING')"
      " ON CONFLICT DO NOTHING RETURNING order_id",
      order->order_id, context.saga_id, order->customer, order->sku, order->quantity,
      order->amount.text);
  if (inserted.empty()) {
    // Placed through the outbox (order_placing.cc): the order came with its saga.
    const pqxx::result placed =
        tx.exec_params("SELECT status FROM orders.orders WHERE order_id = $1 AND saga_id = $2",
                       order->order_id, context.saga_id);
    if (!placed.empty()) {
      return StepResult::Success(
          {{"order_id", order->order_id}, {"status", placed[0][0].as<std::string>()}});
    }
    return StepResult::BusinessFailure("duplicate_order",
                                       "order " + order->order_id + " already exists, or saga " +
                                           context.saga_id + " already created another order");
  }
  return StepResult::Success({{"order_id", order->order_id}, {"status", "PENDING"}});
}

StepResult Confirm(pqxx::work& tx, const StepContext& context, const json& input) {
  if (const auto review = input.find("review"); review != input.end() && *review == true) {
    return StepResult::BusinessFailure("manual_review_required",
                                       "the order is flagged for review (input.review)");
  }
  const pqxx::result rows = tx.exec_params(
      "UPDATE orders.orders SET status = 'CONFIRMED', updated_at = now()"
      " WHERE saga_id = $1 AND status IN ('PENDING', 'CONFIRMED') RETURNING order_id",
      context.saga_id);
  if (rows.empty()) {
    // A definition may run "confirm" in a saga without an order, or after its cancellation.
    const pqxx::result existing =
        tx.exec_params("SELECT status FROM orders.orders WHERE saga_id = $1", context.saga_id);
    return existing.empty() ? StepResult::BusinessFailure(
                                  "order_not_found", "saga " + context.saga_id + " has no order")
                            : StepResult::BusinessFailure(
                                  "order_cancelled", "the order of saga " + context.saga_id +
                                                         " is " + existing[0][0].as<std::string>());
  }
  return StepResult::Success({{"order_id", rows[0][0].as<std::string>()}, {"status", "CONFIRMED"}});
}

// Behind the barrier, a duplicate delivery of the same attempt is answered accepted without
// asking again.
StepResult Approve(pqxx::work& tx, const StepContext& context, const json& input) {
  absl::StatusOr<std::string> order_id = NonEmptyStringField(input, "order_id");
  if (!order_id.ok()) {
    return StepResult::BusinessFailure("invalid_order", std::string(order_id.status().message()));
  }
  absl::StatusOr<PositiveNumber> amount = PositiveNumberField(input, "amount");
  if (!amount.ok()) {
    return StepResult::BusinessFailure("invalid_order", std::string(amount.status().message()));
  }
  if (context.completion_token.empty()) {
    return StepResult::Retryable("the coordinator sent no completion token; cannot wait",
                                 "no_completion_token");
  }
  tx.exec_params(
      "INSERT INTO orders.approvals (completion_token, saga_id, order_id, amount, attempt)"
      " VALUES ($1, $2, $3, $4::numeric, $5) ON CONFLICT DO NOTHING",
      context.completion_token, context.saga_id, *order_id, amount->text, context.attempt);
  spdlog::info(
      "approval needed: order {} for {} (saga {}); approve with: skald step complete {} "
      "--output '{{\"approved_by\": \"you\"}}'  (or reject: --fail rejected --message ...)",
      *order_id, amount->text, context.saga_id, context.completion_token);
  return StepResult::Accepted();
}

// The compensation of "approve" (a step before the pivot must be undoable): the approval had
// no effect of its own, so undoing it only withdraws the requests, e.g. from a list of pending
// approvals an operator works through.
StepResult Withdraw(pqxx::work& tx, const StepContext& context, const json&) {
  const pqxx::result rows = tx.exec_params(
      "UPDATE orders.approvals SET withdrawn_at = now()"
      " WHERE saga_id = $1 AND withdrawn_at IS NULL RETURNING 1",
      context.saga_id);
  return StepResult::Success({{"withdrawn_requests", rows.size()}});
}

// The barrier calls it only after a successful action of the same step ("create" or
// "confirm"), and both leave the saga's order in place: a missing order means the table was
// changed behind the service's back, which an operator must look at.
StepResult Cancel(pqxx::work& tx, const StepContext& context, const json&) {
  const pqxx::result rows = tx.exec_params(
      "UPDATE orders.orders SET status = 'CANCELLED', updated_at = now()"
      " WHERE saga_id = $1 RETURNING order_id",
      context.saga_id);
  if (rows.empty()) {
    return StepResult::BusinessFailure(
        "order_missing", "saga " + context.saga_id + " has no order, although step \"" +
                             context.step + "\" succeeded; nothing to cancel");
  }
  return StepResult::Success({{"order_id", rows[0][0].as<std::string>()}, {"status", "CANCELLED"}});
}

absl::Status Setup(std::shared_ptr<ConnectionSource> connections, ParticipantServer& server) {
  if (absl::Status status = WithConnection(*connections, ApplyBarrierSchema); !status.ok()) {
    return status;
  }
  if (absl::Status status = WithConnection(*connections, ApplyOutboxSchema); !status.ok()) {
    return status;
  }
  if (absl::Status status = ApplySchema(*connections, kSchemaDdl); !status.ok()) return status;
  if (absl::Status status = StartOrderRelay(); !status.ok()) return status;
  server.on_action("create", WithCallLog(Barrier(connections, Create)));
  server.on_action("confirm", WithCallLog(Barrier(connections, Confirm)));
  server.on_compensation("cancel", WithCallLog(Barrier(connections, Cancel)));
  server.on_action("approve", WithCallLog(Barrier(connections, Approve)));
  server.on_compensation("withdraw", WithCallLog(Barrier(connections, Withdraw)));
  return absl::OkStatus();
}

}  // namespace
}  // namespace skald::examples

int main(int argc, char** argv) {
  if (argc > 1 && skald::examples::IsOrderCommand(argv[1])) {
    return skald::examples::RunOrderCommand(argc, argv, skald::examples::kSchemaDdl,
                                            skald::examples::InsertOrder);
  }
  const int exit_code = skald::examples::RunService(
      argc, argv,
      {.name = "order-service",
       .service = "order",
       .description = "Order saga example participant: orders (create, confirm / cancel); "
                      "also `order-service place-order --help`, `order-service outbox --help`",
       .default_listen = "127.0.0.1:7801",
       .add_flags = skald::examples::AddRelayFlags,
       .setup = skald::examples::Setup});
  skald::examples::StopOrderRelay();
  return exit_code;
}
