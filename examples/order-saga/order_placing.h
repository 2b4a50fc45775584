// Placing orders through the transactional outbox (skald/saga_outbox.h): the order row and
// the start of its saga commit together, or neither does.
//   order-service place-order --db URL --input JSON [--definition NAME] [--saga-id ID]
//                             [--wait-sent SECONDS]
//       inserts the order and records its saga's start in one transaction; prints the saga
//       id, then waits (10 s by default) until a relay has sent it to the coordinator;
//   order-service outbox --db URL [--requeue SAGA_ID]
//       prints the outbox's backlog and the starts the coordinator refused for good;
//       --requeue sends a refused start again (e.g. after applying its definition);
//   order-service ... --relay-to HOST:PORT
//       the serving order-service runs the relay, sending committed starts to that
//       coordinator (default: the --register-with one; none when neither is given).

#ifndef SKALD_EXAMPLES_ORDER_SAGA_ORDER_PLACING_H_
#define SKALD_EXAMPLES_ORDER_SAGA_ORDER_PLACING_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace skald::examples {

// Inserts the order described by `input` for saga `saga_id` inside `tx`; InvalidArgument
// for a bad order, AlreadyExists for a placed one.
using InsertOrderFn =
    std::function<absl::Status(pqxx::work& tx, const nlohmann::json& input, const std::string&)>;

// True for the commands above ("place-order", "outbox").
bool IsOrderCommand(std::string_view command);

// Runs the command argv[1] (REQUIRES: IsOrderCommand) and returns the exit code: 0 done,
// 1 refused or failed, 2 bad flags. `schema_ddl` creates the orders table if need be.
int RunOrderCommand(int argc, char** argv, std::string_view schema_ddl,
                    const InsertOrderFn& insert_order);

// Adds --relay-to to the serving order-service's flags.
void AddRelayFlags(CLI::App& app);

// Starts the relay of the serving order-service, after its flags are parsed.
absl::Status StartOrderRelay();

// Stops it (waits for the sends in flight, at most their deadline).
void StopOrderRelay();

}  // namespace skald::examples

#endif  // SKALD_EXAMPLES_ORDER_SAGA_ORDER_PLACING_H_
