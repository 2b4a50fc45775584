// inventory-service: stock per sku for the order saga.
//   action "reserve"        takes `quantity` of `sku` from stock ("insufficient_stock")
//   compensation "release"  puts the step's reservation back
// Both run behind the SDK's barrier (skald/barrier.h): repeats return the first result, a
// "release" whose "reserve" had no effect is answered by the barrier itself, and a "reserve"
// arriving after its "release" is refused ("compensated_before_action").
// --stock sku=qty (repeatable) sets a sku's stock level at every start (an upsert: the same
// flags give the same level, they never add up), or with --keep-stock only for skus not yet
// stocked (a second instance). Reservations still held across a restart
// are added back on top when released.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/database.h"
#include "common/input_fields.h"
#include "common/service_main.h"
#include "skald/barrier.h"
#include "skald/participant_server.h"

namespace skald::examples {
namespace {

using nlohmann::json;

constexpr const char* kSchemaDdl = R"sql(
CREATE SCHEMA IF NOT EXISTS inventory;
CREATE TABLE IF NOT EXISTS inventory.stock (
  sku text PRIMARY KEY,
  quantity integer NOT NULL CHECK (quantity >= 0));
CREATE TABLE IF NOT EXISTS inventory.reservations (
  reservation_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  saga_id text NOT NULL,
  step text NOT NULL,
  sku text NOT NULL,
  quantity integer NOT NULL CHECK (quantity > 0),
  status text NOT NULL CHECK (status IN ('RESERVED', 'RELEASED')),
  created_at timestamptz NOT NULL DEFAULT now(),
  released_at timestamptz,
  UNIQUE (saga_id, step));
)sql";

StepResult Reserve(pqxx::work& tx, const StepContext& context, const json& input) {
  absl::StatusOr<std::string> sku = NonEmptyStringField(input, "sku");
  if (!sku.ok()) {
    return StepResult::BusinessFailure("invalid_input", std::string(sku.status().message()));
  }
  absl::StatusOr<int> quantity = PositiveIntField(input, "quantity");
  if (!quantity.ok()) {
    return StepResult::BusinessFailure("invalid_input", std::string(quantity.status().message()));
  }
  const pqxx::result taken = tx.exec_params(
      "UPDATE inventory.stock SET quantity = quantity - $2"
      " WHERE sku = $1 AND quantity >= $2 RETURNING quantity",
      *sku, *quantity);
  if (taken.empty()) {
    const pqxx::result stock =
        tx.exec_params("SELECT quantity FROM inventory.stock WHERE sku = $1", *sku);
    const std::string available = stock.empty() ? "none (unknown sku)" : stock[0][0].c_str();
    return StepResult::BusinessFailure(
        "insufficient_stock", "sku " + *sku + ": " + std::to_string(*quantity) + " requested, " +
                                  available + " available");
  }
  const pqxx::result reservation = tx.exec_params(
      "INSERT INTO inventory.reservations (saga_id, step, sku, quantity, status)"
      " VALUES ($1, $2, $3, $4, 'RESERVED') RETURNING reservation_id",
      context.saga_id, context.step, *sku, *quantity);
  return StepResult::Success({{"reservation_id", reservation[0][0].as<std::string>()},
                              {"sku", *sku},
                              {"quantity", *quantity}});
}

// The barrier calls it once, and only after a successful "reserve" of the same step, which
// left a RESERVED reservation: a missing one means the table was changed behind the
// service's back, which an operator must look at.
StepResult Release(pqxx::work& tx, const StepContext& context, const json&) {
  const pqxx::result released = tx.exec_params(
      "UPDATE inventory.reservations SET status = 'RELEASED', released_at = now()"
      " WHERE saga_id = $1 AND step = $2 AND status = 'RESERVED'"
      " RETURNING reservation_id, sku, quantity",
      context.saga_id, context.step);
  if (released.empty()) {
    return StepResult::BusinessFailure("reservation_missing",
                                       "step \"" + context.step + "\" of saga " + context.saga_id +
                                           " has no RESERVED reservation, although it succeeded");
  }
  const std::string sku = released[0][1].as<std::string>();
  const int quantity = released[0][2].as<int>();
  tx.exec_params("UPDATE inventory.stock SET quantity = quantity + $2 WHERE sku = $1", sku,
                 quantity);
  return StepResult::Success(
      {{"reservation_id", released[0][0].as<std::string>()}, {"sku", sku}, {"released", quantity}});
}

// Returns `flags` ("sku=qty") as pairs, or the first malformed one.
absl::StatusOr<std::vector<std::pair<std::string, int>>> ParseStock(
    const std::vector<std::string>& flags) {
  std::vector<std::pair<std::string, int>> stock;
  for (const std::string& flag : flags) {
    const std::string::size_type eq = flag.find('=');
    int quantity = -1;
    std::size_t used = 0;
    try {
      if (eq != std::string::npos) quantity = std::stoi(flag.substr(eq + 1), &used);
    } catch (const std::exception&) {
      quantity = -1;
    }
    if (eq == std::string::npos || eq == 0 || quantity < 0 || used != flag.size() - eq - 1) {
      return absl::InvalidArgumentError("--stock \"" + flag +
                                        "\": expected sku=quantity with quantity >= 0");
    }
    stock.emplace_back(flag.substr(0, eq), quantity);
  }
  return stock;
}

// Sets each sku's stock level; with `keep_existing`, only skus not stocked yet (a second
// instance must not reset what the first one's sagas already took).
absl::Status SeedStock(ConnectionSource& connections,
                       const std::vector<std::pair<std::string, int>>& stock, bool keep_existing) {
  absl::Status status = WithConnection(connections, [&](pqxx::connection& connection) {
    pqxx::work tx(connection);
    for (const auto& [sku, quantity] : stock) {
      tx.exec_params(keep_existing
                         ? "INSERT INTO inventory.stock (sku, quantity) VALUES ($1, $2)"
                           " ON CONFLICT (sku) DO NOTHING"
                         : "INSERT INTO inventory.stock (sku, quantity) VALUES ($1, $2)"
                           " ON CONFLICT (sku) DO UPDATE SET quantity = EXCLUDED.quantity",
                     sku, quantity);
    }
    tx.commit();
    return absl::OkStatus();
  });
  if (status.ok()) return status;
  return absl::Status(status.code(), "cannot seed the stock: " + std::string(status.message()));
}

absl::Status Setup(const std::vector<std::string>& stock_flags, bool keep_stock,
                   std::shared_ptr<ConnectionSource> connections, ParticipantServer& server) {
  absl::StatusOr<std::vector<std::pair<std::string, int>>> stock = ParseStock(stock_flags);
  if (!stock.ok()) return stock.status();
  if (absl::Status status = WithConnection(*connections, ApplyBarrierSchema); !status.ok()) {
    return status;
  }
  if (absl::Status status = ApplySchema(*connections, kSchemaDdl); !status.ok()) return status;
  if (absl::Status status = SeedStock(*connections, *stock, keep_stock); !status.ok())
    return status;
  server.on_action("reserve", WithCallLog(Barrier(connections, Reserve)));
  server.on_compensation("release", WithCallLog(Barrier(connections, Release)));
  return absl::OkStatus();
}

}  // namespace
}  // namespace skald::examples

int main(int argc, char** argv) {
  std::vector<std::string> stock_flags = {"widget=100", "gadget=5"};
  bool keep_stock = false;
  return skald::examples::RunService(
      argc, argv,
      {.name = "inventory-service",
       .service = "inventory",
       .description = "Order saga example participant: stock (reserve / release)",
       .default_listen = "127.0.0.1:7802",
       .add_flags =
           [&](CLI::App& app) {
             app.add_option("--stock", stock_flags,
                            "sku=quantity to set at start; repeatable; replaces the default")
                 ->capture_default_str();
             app.add_flag("--keep-stock", keep_stock,
                          "only stock skus not stocked yet (for a second instance on the same "
                          "database)");
           },
       .setup =
           [&](std::shared_ptr<skald::ConnectionSource> connections,
               skald::ParticipantServer& server) {
             return skald::examples::Setup(stock_flags, keep_stock, std::move(connections), server);
           }});
}
