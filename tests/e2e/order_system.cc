#include "tests/e2e/order_system.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <pqxx/pqxx>
#include <thread>

#include "tests/support/ready_file.h"
#include "tests/support/test_postgres.h"

namespace skald::testing {
namespace {

constexpr absl::Duration kReadyTimeout = absl::Seconds(30);

bool IsTerminal(v1::SagaState state) {
  return state == v1::SAGA_STATE_COMPLETED || state == v1::SAGA_STATE_COMPENSATED ||
         state == v1::SAGA_STATE_FAILED;
}

long long CountOn(const std::string& uri, const std::string& sql, const std::string& param) {
  pqxx::connection connection(uri);
  pqxx::read_transaction tx(connection);
  pqxx::row row = param.empty() ? tx.exec1(sql) : tx.exec_params1(sql, param);
  return row[0].is_null() ? 0 : row[0].as<long long>();
}

}  // namespace

absl::StatusOr<std::unique_ptr<OrderSystem>> OrderSystem::Start(Options options) {
  auto dir = TempDir::Create("skald-e2e-");
  if (!dir.ok()) return dir.status();
  std::unique_ptr<OrderSystem> system(new OrderSystem(std::move(*dir), std::move(options)));
  auto coordinator_db = FreshDatabase("coordinator");
  if (!coordinator_db.ok()) return coordinator_db.status();
  system->coordinator_db_ = *coordinator_db;
  auto shop_db = FreshDatabase("shop");
  if (!shop_db.ok()) return shop_db.status();
  system->shop_db_ = *shop_db;

  system->participants_[Service::kOrder] = {"order", ORDER_SERVICE_BINARY, "127.0.0.1:0", {}};
  system->participants_[Service::kInventory] = {"inventory", INVENTORY_SERVICE_BINARY,
                                                "127.0.0.1:0", {}};
  system->participants_[Service::kPayment] = {"payment", PAYMENT_SERVICE_BINARY, "127.0.0.1:0",
                                              {}};
  for (Service service : {Service::kOrder, Service::kInventory, Service::kPayment}) {
    if (auto s = system->StartParticipant(service); !s.ok()) return s;
  }
  if (auto s = system->StartCoordinator(); !s.ok()) return s;
  grpc::Status applied = system->Apply(system->FastDefinition());
  if (!applied.ok()) {
    return absl::InternalError("applying the example definition failed: " +
                               applied.error_message());
  }
  return system;
}

absl::Status OrderSystem::StartCoordinator() {
  const std::string ready = dir() + "/coordinator.ready." + std::to_string(++starts_);
  auto process = ChildProcess::Spawn(
      {SKALD_BINARY, "serve", "--db", coordinator_db_, "--listen", coordinator_address_,
       "--ready-file", ready},
      dir() + "/coordinator.log." + std::to_string(starts_));
  if (!process.ok()) return process.status();
  coordinator_ = std::move(*process);
  auto address = WaitForReadyFile(ready, kReadyTimeout, coordinator_.get());
  if (!address.ok()) return address.status();
  coordinator_address_ = *address;
  client_ = v1::SagaService::NewStub(
      grpc::CreateChannel(coordinator_address_, grpc::InsecureChannelCredentials()));
  return absl::OkStatus();
}

absl::Status OrderSystem::StopCoordinator(int signal) {
  if (!coordinator_) return absl::FailedPreconditionError("coordinator not running");
  if (auto s = coordinator_->Signal(signal); !s.ok()) return s;
  if (!coordinator_->WaitForExit(absl::Seconds(20))) {
    return absl::DeadlineExceededError("coordinator did not exit");
  }
  coordinator_.reset();
  return absl::OkStatus();
}

absl::Status OrderSystem::StartParticipant(Service service) {
  Participant& p = participants_.at(service);
  const std::string ready = dir() + "/" + p.name + ".ready." + std::to_string(++starts_);
  std::vector<std::string> argv = {p.binary, "--db", shop_db_, "--listen", p.address,
                                   "--ready-file", ready};
  if (service == Service::kInventory) {
    argv.insert(argv.end(), {"--stock", "widget=" + std::to_string(kInitialWidgets)});
  }
  if (auto it = options_.participant_flags.find(service); it != options_.participant_flags.end()) {
    argv.insert(argv.end(), it->second.begin(), it->second.end());
  }
  auto process = ChildProcess::Spawn(argv, dir() + "/" + p.name + ".log." +
                                               std::to_string(starts_));
  if (!process.ok()) return process.status();
  p.process = std::move(*process);
  auto address = WaitForReadyFile(ready, kReadyTimeout, p.process.get());
  if (!address.ok()) return address.status();
  p.address = *address;
  return absl::OkStatus();
}

absl::Status OrderSystem::StopParticipant(Service service, int signal) {
  Participant& p = participants_.at(service);
  if (!p.process) return absl::FailedPreconditionError(p.name + " not running");
  if (auto s = p.process->Signal(signal); !s.ok()) return s;
  if (!p.process->WaitForExit(absl::Seconds(20))) {
    return absl::DeadlineExceededError(p.name + " did not exit");
  }
  p.process.reset();
  return absl::OkStatus();
}

nlohmann::json OrderSystem::FastDefinition() const {
  std::ifstream in(ORDER_SAGA_DEFINITION);
  nlohmann::json definition = nlohmann::json::parse(in);
  const std::map<std::string, Service> owner = {{"create-order", Service::kOrder},
                                                {"reserve-stock", Service::kInventory},
                                                {"charge-payment", Service::kPayment},
                                                {"confirm-order", Service::kOrder}};
  for (auto& step : definition["steps"]) {
    step["participant"] = participants_.at(owner.at(step["name"])).address;
    step["retry"] = {{"max_attempts", 4}, {"initial_interval", "50ms"}, {"max_interval", "50ms"}};
    step["compensation_retry"] = {
        {"max_attempts", 100}, {"initial_interval", "50ms"}, {"max_interval", "200ms"}};
    step["attempt_timeout"] = "2s";
  }
  return definition;
}

grpc::Status OrderSystem::Apply(const nlohmann::json& definition) {
  v1::ApplyDefinitionRequest request;
  request.set_definition_json(definition.dump());
  v1::ApplyDefinitionResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return client_->ApplyDefinition(&context, request, &response);
}

absl::StatusOr<std::string> OrderSystem::StartOrder(const nlohmann::json& input,
                                                    const std::string& saga_id) {
  v1::StartSagaRequest request;
  request.set_definition("order");
  request.set_input_json(input.dump());
  request.set_saga_id(saga_id);
  v1::StartSagaResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = client_->StartSaga(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  return response.saga_id();
}

absl::StatusOr<v1::Saga> OrderSystem::GetSaga(const std::string& saga_id) {
  v1::GetSagaRequest request;
  request.set_saga_id(saga_id);
  v1::GetSagaResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = client_->GetSaga(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  return response.saga();
}

absl::StatusOr<v1::Saga> OrderSystem::WaitFor(
    const std::string& saga_id, const std::function<bool(const v1::Saga&)>& predicate,
    absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  absl::StatusOr<v1::Saga> saga;
  while (true) {
    saga = GetSaga(saga_id);
    if (saga.ok() && predicate(*saga)) return saga;
    if (absl::Now() >= give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(
      "saga " + saga_id + " did not get there in time; last seen: " +
      (saga.ok() ? saga->DebugString() : std::string(saga.status().message())) +
      "\ncoordinator log:\n" + LogTail("coordinator"));
}

absl::StatusOr<v1::Saga> OrderSystem::WaitForEnd(const std::string& saga_id,
                                                 absl::Duration timeout) {
  return WaitFor(saga_id, [](const v1::Saga& s) { return IsTerminal(s.state()); }, timeout);
}

long long OrderSystem::ShopCount(const std::string& sql, const std::string& param) {
  return CountOn(shop_db_, sql, param);
}

long long OrderSystem::CoordinatorCount(const std::string& sql, const std::string& param) {
  return CountOn(coordinator_db_, sql, param);
}

std::string OrderSystem::LogTail(const std::string& name) const {
  std::string path;
  if (name == "coordinator") {
    path = dir() + "/coordinator.log." + std::to_string(starts_);
    // The newest coordinator log.
    for (int i = starts_; i > 0; --i) {
      std::ifstream probe(dir() + "/coordinator.log." + std::to_string(i));
      if (probe) {
        path = dir() + "/coordinator.log." + std::to_string(i);
        break;
      }
    }
  } else {
    for (const auto& [service, p] : participants_) {
      if (p.name == name && p.process) path = p.process->log_path();
    }
  }
  return ReadFileTail(path, 3000);
}

}  // namespace skald::testing
