#include "tests/fault/fault_system.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <deque>
#include <exception>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>

#include "skald/v1/saga_service.grpc.pb.h"
#include "tests/e2e/coordinator_process.h"

namespace skald::testing::fault {
namespace {

constexpr absl::Duration kExitTimeout = absl::Seconds(20);

std::string BinaryOf(Participant participant) {
  switch (participant) {
    case Participant::kOrder:
      return ORDER_SERVICE_BINARY;
    case Participant::kInventory:
      return INVENTORY_SERVICE_BINARY;
    case Participant::kPayment:
      return PAYMENT_SERVICE_BINARY;
  }
  return "";
}

// Which participant serves each step of the example definition.
Participant OwnerOf(const std::string& step) {
  if (step == "reserve-stock") return Participant::kInventory;
  if (step == "charge-payment") return Participant::kPayment;
  return Participant::kOrder;  // create-order, confirm-order.
}

absl::Status KillAndReap(std::unique_ptr<ChildProcess>& child, const std::string& what) {
  if (!child) return absl::FailedPreconditionError(what + " is not running");
  if (absl::Status s = child->Kill(); !s.ok()) return s;
  if (!child->WaitForExit(kExitTimeout)) {
    return absl::DeadlineExceededError(what + " (" + child->Describe() +
                                       ") did not exit after SIGKILL");
  }
  child.reset();
  return absl::OkStatus();
}

}  // namespace

std::string_view ParticipantName(Participant participant) {
  switch (participant) {
    case Participant::kOrder:
      return "order";
    case Participant::kInventory:
      return "inventory";
    case Participant::kPayment:
      return "payment";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<FaultSystem>> FaultSystem::Start(FaultSystemOptions options) {
  std::unique_ptr<FaultSystem> system(new FaultSystem(std::move(options)));
  for (Participant p : {Participant::kOrder, Participant::kInventory, Participant::kPayment}) {
    if (absl::Status s = system->StartParticipant(p); !s.ok()) return s;
  }
  if (absl::Status s = system->StartCoordinator(); !s.ok()) return s;
  if (absl::Status s = system->ApplyDefinition(); !s.ok()) return s;
  return system;
}

absl::Status FaultSystem::StartCoordinator() {
  if (coordinator_.child) return absl::FailedPreconditionError("the coordinator is running");
  ++coordinator_starts_;
  const std::string ready =
      options_.dir + "/coordinator.ready." + std::to_string(coordinator_starts_);
  std::vector<std::string> argv = {
      SKALD_BINARY,         "serve",        "--db", options_.coordinator_db, "--listen",
      coordinator_.address, "--ready-file", ready};
  argv.insert(argv.end(), options_.coordinator_flags.begin(), options_.coordinator_flags.end());
  absl::StatusOr<ReadyProcess> started = SpawnAndWaitReady(argv, CoordinatorLogPath(), ready);
  if (!started.ok()) return started.status();
  coordinator_.child = std::move(started->process);
  coordinator_.address = started->address;
  coordinator_address_ = started->address;
  return absl::OkStatus();
}

absl::Status FaultSystem::KillCoordinator() {
  return KillAndReap(coordinator_.child, "coordinator");
}

std::optional<int> FaultSystem::CoordinatorExitStatus() const {
  if (!coordinator_.child) return -1;  // Killed on purpose and not restarted.
  return coordinator_.child->PeekExitStatus();
}

std::string FaultSystem::CoordinatorLogPath() const {
  return options_.dir + "/coordinator.log." + std::to_string(coordinator_starts_);
}

absl::Status FaultSystem::StartParticipant(Participant participant) {
  Process& process = participants_[participant];
  if (process.child) {
    return absl::FailedPreconditionError(std::string(ParticipantName(participant)) + " is running");
  }
  const std::string name(ParticipantName(participant));
  const std::string suffix = "." + std::to_string(++participant_starts_);
  const std::string ready = options_.dir + "/" + name + ".ready" + suffix;
  std::vector<std::string> argv = {
      BinaryOf(participant), "--db", options_.shop_db, "--listen", process.address,
      "--ready-file",        ready};
  if (participant == Participant::kInventory) {
    for (const auto& [sku, quantity] : options_.stock) {
      argv.insert(argv.end(), {"--stock", sku + "=" + std::to_string(quantity)});
    }
  }
  if (auto it = options_.participant_flags.find(participant);
      it != options_.participant_flags.end()) {
    argv.insert(argv.end(), it->second.begin(), it->second.end());
  }
  absl::StatusOr<ReadyProcess> started =
      SpawnAndWaitReady(argv, options_.dir + "/" + name + ".log" + suffix, ready);
  if (!started.ok()) return started.status();
  process.child = std::move(started->process);
  process.address = started->address;
  return absl::OkStatus();
}

absl::Status FaultSystem::KillParticipant(Participant participant) {
  return KillAndReap(participants_[participant].child, std::string(ParticipantName(participant)));
}

nlohmann::json FaultSystem::FaultDefinition() const {
  std::ifstream in(ORDER_SAGA_DEFINITION);
  nlohmann::json definition = nlohmann::json::parse(in);
  for (nlohmann::json& step : definition["steps"]) {
    step.erase("service");  // the fault suite calls its participants at fixed addresses
    step["participant"] = participants_.at(OwnerOf(step["name"])).address;
    step["retry"] = {{"max_attempts", 8},
                     {"initial_interval", "250ms"},
                     {"backoff_coefficient", 2},
                     {"max_interval", "1s"}};
    step["compensation_retry"] = {{"max_attempts", 100},
                                  {"initial_interval", "100ms"},
                                  {"backoff_coefficient", 2},
                                  {"max_interval", "1s"}};
    step["attempt_timeout"] = "5s";
  }
  return definition;
}

absl::Status FaultSystem::ApplyDefinition() {
  auto stub = v1::SagaService::NewStub(
      grpc::CreateChannel(coordinator_address_, grpc::InsecureChannelCredentials()));
  v1::ApplyDefinitionRequest request;
  request.set_definition_json(FaultDefinition().dump());
  v1::ApplyDefinitionResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = stub->ApplyDefinition(&context, request, &response);
  if (!status.ok()) {
    return absl::InternalError("applying the order definition failed: " + status.error_message());
  }
  return absl::OkStatus();
}

absl::StatusOr<SagaCounts> ReadSagaCounts(const std::string& coordinator_db) {
  try {
    pqxx::connection connection(coordinator_db);
    pqxx::read_transaction tx(connection);
    const pqxx::row sagas = tx.exec1(
        "SELECT count(*), count(*) FILTER (WHERE state IN ('COMPLETED', 'COMPENSATED', "
        "'FAILED')) FROM sagas");
    const pqxx::row steps = tx.exec1(
        "SELECT count(*) FILTER (WHERE retry_at IS NULL), count(*) FILTER (WHERE retry_at IS "
        "NOT NULL) FROM saga_steps WHERE state IN ('RUNNING', 'COMPENSATING')");
    return SagaCounts{sagas[0].as<long long>(), sagas[1].as<long long>(), steps[0].as<long long>(),
                      steps[1].as<long long>()};
  } catch (const std::exception& e) {
    return absl::UnavailableError(std::string("cannot count the sagas: ") + e.what());
  }
}

absl::StatusOr<SagaCounts> WaitForAllTerminal(const std::string& coordinator_db, long long expected,
                                              absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  SagaCounts last;
  std::string last_error;
  while (true) {
    absl::StatusOr<SagaCounts> counts = ReadSagaCounts(coordinator_db);
    if (counts.ok()) {
      last = *counts;
      if (last.total >= expected && last.terminal == last.total) return last;
    } else {
      last_error = std::string(counts.status().message());
    }
    if (absl::Now() >= give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::DeadlineExceededError(
      "after " + absl::FormatDuration(timeout) + ": " + std::to_string(last.terminal) + " of " +
      std::to_string(last.total) + " stored sagas terminal, " + std::to_string(expected) +
      " expected" + (last_error.empty() ? "" : "; last error: " + last_error));
}

std::string DescribeUnfinishedSagas(const std::string& coordinator_db, int limit) {
  try {
    pqxx::connection connection(coordinator_db);
    pqxx::read_transaction tx(connection);
    const pqxx::result rows = tx.exec_params(
        "SELECT s.id, s.state, string_agg(st.name || '=' || st.state || '/a' || st.attempts || "
        "'/c' || st.compensation_attempts || coalesce('/retry_at ' || st.retry_at::text, ''), "
        "' ' ORDER BY st.position) FROM sagas s JOIN saga_steps st ON st.saga_id = s.id "
        "WHERE s.state IN ('RUNNING', 'COMPENSATING') GROUP BY s.id, s.state ORDER BY s.id "
        "LIMIT $1",
        limit);
    std::ostringstream out;
    for (const pqxx::row& row : rows) {
      out << "  " << row[0].c_str() << " " << row[1].c_str() << ": " << row[2].c_str() << "\n";
    }
    return out.str();
  } catch (const std::exception& e) {
    return std::string("  (cannot read the unfinished sagas: ") + e.what() + ")\n";
  }
}

std::string GrepLog(const std::string& path, const std::vector<std::string>& needles,
                    int max_lines) {
  std::ifstream in(path);
  if (!in) return "  (cannot read " + path + ")\n";
  std::deque<std::string> kept;
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    for (const std::string& needle : needles) {
      if (line.find(needle) == std::string::npos) continue;
      ++count;
      kept.push_back(line);
      if (static_cast<int>(kept.size()) > max_lines) kept.pop_front();
      break;
    }
  }
  std::string text;
  if (count > max_lines) {
    text = "  ... " + std::to_string(count - max_lines) + " earlier matching line(s)\n";
  }
  for (const std::string& l : kept) text += "  " + l + "\n";
  return text;
}

}  // namespace skald::testing::fault
