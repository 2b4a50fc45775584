#include "tests/e2e/order_system.h"

#include <algorithm>
#include <fstream>

#include "tests/support/ready_file.h"
#include "tests/support/test_postgres.h"

namespace skald::testing {

absl::StatusOr<std::unique_ptr<OrderSystem>> OrderSystem::Start(Options options) {
  auto dir = TempDir::Create("skald-e2e-");
  if (!dir.ok()) return dir.status();
  std::unique_ptr<OrderSystem> system(new OrderSystem(std::move(*dir), std::move(options)));
  auto coordinator_db = FreshDatabase("coordinator");
  if (!coordinator_db.ok()) return coordinator_db.status();
  auto shop_db = FreshDatabase("shop");
  if (!shop_db.ok()) return shop_db.status();
  system->shop_db_ = *shop_db;

  system->coordinator_ = std::make_unique<CoordinatorProcess>(system->dir(), *coordinator_db,
                                                              system->options_.coordinator_flags);
  if (system->options_.coordinator_http) system->coordinator_->ServeHttp();

  system->participants_[{Service::kOrder, 0}] = {"order", ORDER_SERVICE_BINARY, "127.0.0.1:0", {}};
  for (int i = 0; i < system->options_.inventory_instances; ++i) {
    system->participants_[{Service::kInventory, i}] = {
        i == 0 ? "inventory" : "inventory." + std::to_string(i),
        INVENTORY_SERVICE_BINARY,
        "127.0.0.1:0",
        {}};
  }
  system->participants_[{Service::kPayment, 0}] = {
      "payment", PAYMENT_SERVICE_BINARY, "127.0.0.1:0", {}};
  // Registering participants need the coordinator first; fixed-address ones do not.
  if (system->options_.discovery) {
    if (auto s = system->StartCoordinator(); !s.ok()) return s;
  }
  for (const auto& [key, participant] : system->participants_) {
    if (auto s = system->StartParticipant(key.first, key.second); !s.ok()) return s;
  }
  if (!system->options_.discovery) {
    if (auto s = system->StartCoordinator(); !s.ok()) return s;
  }
  grpc::Status applied = system->Apply(system->FastDefinition());
  if (!applied.ok()) {
    return absl::InternalError("applying the example definition failed: " +
                               applied.error_message());
  }
  return system;
}

absl::Status OrderSystem::StartCoordinator() { return coordinator_->Start(); }

absl::Status OrderSystem::StopCoordinator(int signal) { return coordinator_->Stop(signal); }

absl::Status OrderSystem::StartParticipant(Service service, int instance) {
  Participant& p = participants_.at({service, instance});
  const std::string ready = dir() + "/" + p.name + ".ready." + std::to_string(++starts_);
  std::vector<std::string> argv = {p.binary,  "--db",         shop_db_, "--listen",
                                   p.address, "--ready-file", ready};
  if (service == Service::kInventory) {
    // Every inventory instance and restart shares the stock table the first start filled:
    // none may reset what the sagas already took. A test's own --stock replaces ours.
    const auto flags = options_.participant_flags.find(service);
    const bool own_stock = flags != options_.participant_flags.end() &&
                           std::ranges::find(flags->second, "--stock") != flags->second.end();
    if (!own_stock)
      argv.insert(argv.end(), {"--stock", "widget=" + std::to_string(kInitialWidgets)});
    argv.push_back("--keep-stock");
  }
  if (options_.discovery) {
    argv.insert(argv.end(), {"--register-with",
                             register_with_.empty() ? coordinator_->address() : register_with_});
  }
  if (auto it = options_.participant_flags.find(service); it != options_.participant_flags.end()) {
    argv.insert(argv.end(), it->second.begin(), it->second.end());
  }
  auto started =
      SpawnAndWaitReady(argv, dir() + "/" + p.name + ".log." + std::to_string(starts_), ready);
  if (!started.ok()) return started.status();
  p.process = std::move(started->process);
  p.address = started->address;
  return absl::OkStatus();
}

absl::Status OrderSystem::StopParticipant(Service service, int signal, int instance) {
  Participant& p = participants_.at({service, instance});
  if (!p.process) return absl::FailedPreconditionError(p.name + " not running");
  if (auto s = p.process->Signal(signal); !s.ok()) return s;
  if (!p.process->WaitForExit(absl::Seconds(20))) {
    return absl::DeadlineExceededError(p.name + " did not exit");
  }
  p.process.reset();
  return absl::OkStatus();
}

const std::string& OrderSystem::ParticipantAddress(Service service, int instance) const {
  return participants_.at({service, instance}).address;
}

nlohmann::json OrderSystem::FastDefinition() const {
  std::ifstream in(ORDER_SAGA_DEFINITION);
  nlohmann::json definition = nlohmann::json::parse(in);
  const std::map<std::string, Service> owner = {{"create-order", Service::kOrder},
                                                {"reserve-stock", Service::kInventory},
                                                {"charge-payment", Service::kPayment},
                                                {"confirm-order", Service::kOrder}};
  for (auto& step : definition["steps"]) {
    // The example names services; without discovery, point each step at its address.
    if (!options_.discovery) {
      step.erase("service");
      step["participant"] = participants_.at({owner.at(step["name"]), 0}).address;
    }
    step["retry"] = {{"max_attempts", 4}, {"initial_interval", "50ms"}, {"max_interval", "50ms"}};
    step["compensation_retry"] = {
        {"max_attempts", 100}, {"initial_interval", "50ms"}, {"max_interval", "200ms"}};
    step["attempt_timeout"] = "2s";
  }
  return definition;
}

grpc::Status OrderSystem::Apply(const nlohmann::json& definition) {
  return coordinator_->Apply(definition);
}

absl::StatusOr<std::string> OrderSystem::StartOrder(const nlohmann::json& input,
                                                    const std::string& saga_id) {
  return coordinator_->StartSaga("order", input, saga_id);
}

absl::StatusOr<v1::Saga> OrderSystem::GetSaga(const std::string& saga_id) {
  return coordinator_->GetSaga(saga_id);
}

absl::StatusOr<v1::Saga> OrderSystem::WaitFor(const std::string& saga_id,
                                              const std::function<bool(const v1::Saga&)>& predicate,
                                              absl::Duration timeout) {
  return coordinator_->WaitFor(saga_id, predicate, timeout);
}

absl::StatusOr<v1::Saga> OrderSystem::WaitForEnd(const std::string& saga_id,
                                                 absl::Duration timeout) {
  return coordinator_->WaitForEnd(saga_id, timeout);
}

long long OrderSystem::ShopCount(const std::string& sql, const std::string& param) {
  return QueryCount(shop_db_, sql, param);
}

long long OrderSystem::CoordinatorCount(const std::string& sql, const std::string& param) {
  return coordinator_->Count(sql, param);
}

int OrderSystem::CountLogLines(Service service, const std::string& text, int instance) const {
  const Participant& p = participants_.at({service, instance});
  if (!p.process) return 0;
  std::ifstream in(p.process->log_path());
  int count = 0;
  for (std::string line; std::getline(in, line);) count += line.find(text) != std::string::npos;
  return count;
}

std::string OrderSystem::LogTail(const std::string& name) const {
  if (name == "coordinator") return coordinator_->LogTail();
  std::string path;
  for (const auto& [service, p] : participants_) {
    if (p.name == name && p.process) path = p.process->log_path();
  }
  return ReadFileTail(path, 3000);
}

}  // namespace skald::testing
