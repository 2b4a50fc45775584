#include "order_placing.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>
#include <iostream>
#include <memory>
#include <thread>
#include <utility>

#include "common/database.h"
#include "skald/barrier.h"
#include "skald/saga_outbox.h"

namespace skald::examples {
namespace {

using nlohmann::json;

// A JSON document on the command line is still bounded before it is parsed.
constexpr std::size_t kMaxInputBytes = 64 * 1024;

// The serving order-service's flags and relay (one per process).
CLI::App* serving_app = nullptr;
std::string relay_to;
std::unique_ptr<OutboxRelay> relay;

std::string OptionValue(const char* name) {
  const CLI::Option* option = serving_app->get_option_no_throw(name);
  return option == nullptr || option->empty() ? "" : option->as<std::string>();
}

absl::Status PrepareSchemas(const std::string& db_url, std::string_view schema_ddl) {
  pqxx::connection connection(db_url);
  if (absl::Status status = ApplyOutboxSchema(connection); !status.ok()) return status;
  std::shared_ptr<ConnectionSource> pool = NewConnectionPool(db_url, 1);
  return ApplySchema(*pool, schema_ddl);
}

// Waits until a relay has sent (or the coordinator refused) the start of `saga_id`.
absl::Status WaitSent(pqxx::connection& connection, const std::string& saga_id,
                      std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    pqxx::read_transaction tx(connection);
    const pqxx::result row = tx.exec_params(
        "SELECT state, error_code, error_message FROM skald.saga_outbox WHERE saga_id = $1",
        saga_id);
    tx.commit();
    const std::string state = row.empty() ? "sent" : row[0][0].as<std::string>();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (state == "sent") {
      std::cerr << "saga " << saga_id << " started by the relay " << ms << " ms after COMMIT\n";
      return absl::OkStatus();
    }
    if (state == "refused") {
      return absl::FailedPreconditionError("the coordinator refused saga " + saga_id + ": " +
                                           row[0][1].as<std::string>() + ": " +
                                           row[0][2].as<std::string>());
    }
    if (std::chrono::steady_clock::now() - start >= timeout) {
      return absl::DeadlineExceededError(
          "the order is placed, but no relay has sent saga " + saga_id +
          " yet (is an order-service with --relay-to running?); it starts once one does");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int PlaceOrder(const std::string& db_url, const std::string& definition,
               const std::string& input_text, std::string saga_id, double wait_seconds,
               std::string_view schema_ddl, const InsertOrderFn& insert_order) {
  if (input_text.size() > kMaxInputBytes) {
    std::cerr << "error: --input: over " << kMaxInputBytes << " bytes\n";
    return 1;
  }
  const json input = json::parse(input_text, nullptr, /*allow_exceptions=*/false);
  if (input.is_discarded() || !input.is_object()) {
    std::cerr << "error: --input: not a JSON object\n";
    return 1;
  }
  if (saga_id.empty()) {
    const auto order_id = input.find("order_id");
    if (order_id == input.end() || !order_id->is_string()) {
      std::cerr << "error: --input: order_id: required, a string\n";
      return 1;
    }
    saga_id = "saga-" + order_id->get<std::string>();
  }
  try {
    if (absl::Status status = PrepareSchemas(db_url, schema_ddl); !status.ok()) {
      std::cerr << "error: " << status << "\n";
      return 1;
    }
    pqxx::connection connection(db_url);
    {
      pqxx::work tx(connection);
      if (absl::Status inserted = insert_order(tx, input, saga_id); !inserted.ok()) {
        std::cerr << "error: " << inserted << "\n";
        return 1;  // The transaction rolls back: no order, no saga.
      }
      absl::StatusOr<std::string> started = StartSagaInTransaction(tx, definition, input, saga_id);
      if (!started.ok()) {
        std::cerr << "error: " << started.status() << "\n";
        return 1;
      }
      tx.commit();
    }
    std::cout << saga_id << std::endl;
    if (wait_seconds <= 0) return 0;
    absl::Status sent = WaitSent(connection, saga_id,
                                 std::chrono::milliseconds(static_cast<long>(wait_seconds * 1000)));
    if (!sent.ok()) {
      std::cerr << "warning: " << sent << "\n";
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: database: " << e.what() << "\n";
    return 1;
  }
}

std::string FormatTime(std::chrono::system_clock::time_point time) {
  const std::time_t t = std::chrono::system_clock::to_time_t(time);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return text;
}

int ShowOutbox(const std::string& db_url, const std::string& requeue) {
  try {
    pqxx::connection connection(db_url);
    if (!requeue.empty()) {
      if (absl::Status status = RequeueRefusedStart(connection, requeue); !status.ok()) {
        std::cerr << "error: " << status << "\n";
        return 1;
      }
      std::cout << "saga " << requeue << " is pending again\n";
      return 0;
    }
    absl::StatusOr<OutboxBacklog> backlog = ReadOutboxBacklog(connection);
    absl::StatusOr<std::vector<RefusedStart>> refused = ListRefusedStarts(connection, 100);
    if (!backlog.ok() || !refused.ok()) {
      std::cerr << "error: " << (backlog.ok() ? refused.status() : backlog.status()) << "\n";
      return 1;
    }
    std::cout << "pending " << backlog->pending << ", oldest "
              << backlog->oldest_pending_age.count() << " ms; refused " << backlog->refused << "\n";
    for (const RefusedStart& start : *refused) {
      std::cout << "refused " << start.saga_id << " (" << start.definition << ") at "
                << FormatTime(start.refused_at) << ": " << start.error_code << ": "
                << start.error_message << "\n";
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: database: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

bool IsOrderCommand(std::string_view command) {
  return command == "place-order" || command == "outbox";
}

int RunOrderCommand(int argc, char** argv, std::string_view schema_ddl,
                    const InsertOrderFn& insert_order) {
  const std::string command = argv[1];
  CLI::App app{command == "place-order"
                   ? "Places an order and starts its saga in one transaction (the outbox)"
                   : "Shows the outbox's backlog and the starts the coordinator refused",
               "order-service " + command};
  std::string db_url, input, saga_id, requeue, definition = "order";
  double wait_seconds = 10;
  app.add_option("--db", db_url, "PostgreSQL URL of the order service's database")->required();
  if (command == "place-order") {
    app.add_option("--input", input,
                   R"(the order saga's input, e.g. {"order_id":"o-1","customer":"ada",)"
                   R"("sku":"widget","quantity":1,"amount":20})")
        ->required();
    app.add_option("--saga-id", saga_id, "the saga's id; default: saga-<order_id>");
    app.add_option("--definition", definition, "the saga definition to start")
        ->capture_default_str();
    app.add_option("--wait-sent", wait_seconds,
                   "wait at most this long (seconds) for a relay to send the start; 0: do not")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 3600.0));
  } else {
    app.add_option("--requeue", requeue, "send this refused start again");
  }
  try {
    app.parse(argc - 1, argv + 1);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return command == "place-order" ? PlaceOrder(db_url, definition, input, saga_id, wait_seconds,
                                               schema_ddl, insert_order)
                                  : ShowOutbox(db_url, requeue);
}

void AddRelayFlags(CLI::App& app) {
  serving_app = &app;
  app.add_option("--relay-to", relay_to,
                 "host:port of the coordinator the outbox relay sends placed orders' sagas to; "
                 "default: --register-with");
}

absl::Status StartOrderRelay() {
  CoordinatorEndpoint coordinator{
      .address = relay_to.empty() ? OptionValue("--register-with") : relay_to,
      .tls = {.ca_file = OptionValue("--tls-ca"),
              .cert_file = OptionValue("--tls-cert"),
              .key_file = OptionValue("--tls-key")}};
  if (coordinator.address.empty()) {
    spdlog::info("no --relay-to nor --register-with: orders placed here wait for another relay");
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<OutboxRelay>> started =
      OutboxRelay::Start({.db_url = OptionValue("--db"),
                          .coordinator = coordinator,
                          .log = [](const std::string& message) { spdlog::warn("{}", message); }});
  if (!started.ok()) return started.status();
  relay = *std::move(started);
  spdlog::info("outbox relay sending placed orders' sagas to {}", coordinator.address);
  return absl::OkStatus();
}

void StopOrderRelay() {
  if (relay == nullptr) return;
  const OutboxRelayStats stats = relay->stats();
  relay.reset();
  spdlog::info("outbox relay stopped: {} starts sent ({} new sagas), {} refused", stats.sent,
               stats.created, stats.refused);
}

}  // namespace skald::examples
