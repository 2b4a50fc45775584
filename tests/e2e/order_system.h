#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "skald/v1/saga_service.grpc.pb.h"
#include "tests/e2e/coordinator_process.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace skald::testing {

enum class Service { kOrder, kInventory, kPayment };

// The example order system, for end-to-end tests: a `skald serve` coordinator and the three
// example participants as real processes on loopback, each coordinator and shop database
// fresh in the test binary's PostgreSQL cluster.
class OrderSystem {
 public:
  struct Options {
    // Extra flags per participant, e.g. {kPayment, {"--fail-first-attempts", "2"}}.
    std::map<Service, std::vector<std::string>> participant_flags;
    // Extra `skald serve` flags, e.g. {"--test-duplicate-calls"}.
    std::vector<std::string> coordinator_flags;
    // Participants register with the coordinator as services "order", "inventory" and
    // "payment", and the definition names services instead of addresses.
    bool discovery = false;
    // How many inventory instances run (more than one needs `discovery`).
    int inventory_instances = 1;
    // The coordinator serves its HTTP port too (see CoordinatorProcess::ServeHttp).
    bool coordinator_http = false;
  };

  // Starts the coordinator and the participants and applies the example definition with
  // fast retries (see FastDefinition).
  static absl::StatusOr<std::unique_ptr<OrderSystem>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<OrderSystem>> Start() { return Start(Options{}); }

  // Starts (again) the coordinator on the database and address it had before.
  absl::Status StartCoordinator();
  // Sends `signal` to the coordinator and waits for it to exit.
  absl::Status StopCoordinator(int signal);

  // Starts (again) an instance of a participant; after a restart it listens on the port it
  // had. Instances are numbered from 0.
  absl::Status StartParticipant(Service service, int instance = 0);
  absl::Status StopParticipant(Service service, int signal, int instance = 0);
  // With `discovery`, participants started from now on register with `coordinators` (one
  // address or a list "a:7700,b:7700") instead of the system's coordinator.
  void RegisterWith(std::string coordinators) { register_with_ = std::move(coordinators); }
  // The address instance `instance` of `service` listens on.
  const std::string& ParticipantAddress(Service service, int instance = 0) const;

  // The example definition with the participants' real addresses (or, with `discovery`,
  // their service names) and retry policies fit for tests: actions get 4 attempts 50 ms
  // apart, compensations 100.
  nlohmann::json FastDefinition() const;

  v1::SagaService::Stub& client() { return coordinator_->client(); }
  CoordinatorProcess& coordinator() { return *coordinator_; }
  const std::string& coordinator_address() const { return coordinator_->address(); }

  // Returns the status of applying `definition`.
  grpc::Status Apply(const nlohmann::json& definition);
  // Starts a saga of definition "order"; returns its id.
  absl::StatusOr<std::string> StartOrder(const nlohmann::json& input,
                                         const std::string& saga_id = "");
  absl::StatusOr<v1::Saga> GetSaga(const std::string& saga_id);
  // Polls the saga until it is terminal; DEADLINE_EXCEEDED with its last state otherwise.
  absl::StatusOr<v1::Saga> WaitForEnd(const std::string& saga_id,
                                      absl::Duration timeout = absl::Seconds(30));
  // Polls until `predicate` holds for the saga, or fails after `timeout`.
  absl::StatusOr<v1::Saga> WaitFor(const std::string& saga_id,
                                   const std::function<bool(const v1::Saga&)>& predicate,
                                   absl::Duration timeout);
  // The saga's rendered output (see CoordinatorProcess::SagaOutput).
  absl::StatusOr<nlohmann::json> SagaOutput(const std::string& saga_id) {
    return coordinator_->SagaOutput(saga_id);
  }

  // Runs a query returning one integer on the participants' database.
  long long ShopCount(const std::string& sql, const std::string& param = "");
  long long CoordinatorCount(const std::string& sql, const std::string& param = "");

  const std::string& dir() const { return dir_.path(); }
  // Returns how many lines of the current log of participant instance `instance` of
  // `service` contain `text`.
  int CountLogLines(Service service, const std::string& text, int instance = 0) const;

  // The tail of a process's log, for failure messages: "coordinator", "order",
  // "inventory", "inventory.1" (the second inventory instance), ...
  std::string LogTail(const std::string& name) const;

 private:
  OrderSystem(TempDir dir, Options options) : dir_(std::move(dir)), options_(std::move(options)) {}

  struct Participant {
    std::string name;
    std::string binary;
    std::string address;  // "127.0.0.1:0" until first started.
    std::unique_ptr<ChildProcess> process;
  };

  TempDir dir_;
  Options options_;
  std::string shop_db_;
  std::unique_ptr<CoordinatorProcess> coordinator_;
  std::map<std::pair<Service, int>, Participant> participants_;
  int starts_ = 0;             // Participant starts, numbering their ready files and logs.
  std::string register_with_;  // Empty: the system's coordinator.
};

// The initial stock of the inventory service in every OrderSystem.
inline constexpr int kInitialWidgets = 100;

}  // namespace skald::testing
