// inventory-service: stock per sku for the order saga.
//   action "reserve"        takes `quantity` of `sku` from stock ("insufficient_stock")
//   compensation "release"  puts a reservation back, once (none: success, {"noop": true})
// --stock sku=qty (repeatable) sets a sku's stock level at every start (an upsert: the same
// flags give the same level, they never add up). Reservations still held across a restart
// are added back on top when released.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/input_fields.h"
#include "common/pg_pool.h"
#include "common/service_main.h"
#include "common/step_ledger.h"
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

constexpr LedgerSql kLedgerSql = SKALD_LEDGER_SQL("inventory");

StepResult Reserve(StepLedger& ledger, const StepContext& context, const json& input) {
  absl::StatusOr<std::string> sku = NonEmptyStringField(input, "sku");
  if (!sku.ok())
    return StepResult::BusinessFailure("invalid_input", std::string(sku.status().message()));
  absl::StatusOr<int> quantity = PositiveIntField(input, "quantity");
  if (!quantity.ok()) {
    return StepResult::BusinessFailure("invalid_input", std::string(quantity.status().message()));
  }
  return ledger.Run(context, [&](pqxx::work& tx) {
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
  });
}

StepResult Release(StepLedger& ledger, const StepContext& context, const json&) {
  return ledger.Run(context, [&](pqxx::work& tx) {
    const pqxx::result released = tx.exec_params(
        "UPDATE inventory.reservations SET status = 'RELEASED', released_at = now()"
        " WHERE saga_id = $1 AND step = $2 AND status = 'RESERVED'"
        " RETURNING reservation_id, sku, quantity",
        context.saga_id, context.step);
    if (released.empty()) return StepResult::Success({{"noop", true}});
    const std::string sku = released[0][1].as<std::string>();
    const int quantity = released[0][2].as<int>();
    tx.exec_params("UPDATE inventory.stock SET quantity = quantity + $2 WHERE sku = $1", sku,
                   quantity);
    return StepResult::Success({{"reservation_id", released[0][0].as<std::string>()},
                                {"sku", sku},
                                {"released", quantity}});
  });
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

absl::Status SeedStock(PgPool& pool, const std::vector<std::pair<std::string, int>>& stock) {
  absl::StatusOr<PgPool::Lease> lease =
      pool.Acquire(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!lease.ok()) return lease.status();
  try {
    pqxx::work tx(lease->connection());
    for (const auto& [sku, quantity] : stock) {
      tx.exec_params(
          "INSERT INTO inventory.stock (sku, quantity) VALUES ($1, $2)"
          " ON CONFLICT (sku) DO UPDATE SET quantity = EXCLUDED.quantity",
          sku, quantity);
    }
    tx.commit();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    lease->Discard();
    return absl::UnavailableError(std::string("cannot seed the stock: ") + e.what());
  }
}

absl::Status Setup(const std::vector<std::string>& stock_flags, PgPool& pool,
                   ParticipantServer& server) {
  absl::StatusOr<std::vector<std::pair<std::string, int>>> stock = ParseStock(stock_flags);
  if (!stock.ok()) return stock.status();
  if (absl::Status status = ApplySchema(pool, std::string(kSchemaDdl) + kLedgerSql.create);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = SeedStock(pool, *stock); !status.ok()) return status;
  auto ledger = std::make_shared<StepLedger>(&pool, kLedgerSql);
  server.on_action("reserve", WithCallLog([ledger](const StepContext& c, const json& in) {
                     return Reserve(*ledger, c, in);
                   }));
  server.on_compensation("release", WithCallLog([ledger](const StepContext& c, const json& in) {
                           return Release(*ledger, c, in);
                         }));
  return absl::OkStatus();
}

}  // namespace
}  // namespace skald::examples

int main(int argc, char** argv) {
  std::vector<std::string> stock_flags = {"widget=100", "gadget=5"};
  return skald::examples::RunService(
      argc, argv,
      {.name = "inventory-service",
       .description = "Order saga example participant: stock (reserve / release)",
       .default_listen = "127.0.0.1:7802",
       .add_flags =
           [&](CLI::App& app) {
             app.add_option("--stock", stock_flags,
                            "sku=quantity to set at start; repeatable; replaces the default")
                 ->capture_default_str();
           },
       .setup =
           [&](skald::examples::PgPool& pool, skald::ParticipantServer& server) {
             return skald::examples::Setup(stock_flags, pool, server);
           }});
}
