// The example order system under fault injection: a `skald serve` coordinator and the three
// example participants as processes on loopback, on databases the test chooses (so that a
// test may run, and restart, a PostgreSQL cluster of its own), each process killable and
// restartable on the address it had.
#ifndef SKALD_TESTS_FAULT_FAULT_SYSTEM_H_
#define SKALD_TESTS_FAULT_FAULT_SYSTEM_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tests/support/child_process.h"

namespace skald::testing::fault {

enum class Participant { kOrder, kInventory, kPayment };

// "order", "inventory", "payment".
std::string_view ParticipantName(Participant participant);

struct FaultSystemOptions {
  // Logs and ready files go here. REQUIRES: it exists and outlives the system.
  std::string dir;
  std::string coordinator_db;  // libpq URIs.
  std::string shop_db;         // Shared by the three participants.
  // The inventory service's --stock levels, set at each of its starts.
  std::map<std::string, long long> stock;
  // Extra flags per participant, e.g. {kPayment, {"--fail-first-attempts", "1"}}.
  std::map<Participant, std::vector<std::string>> participant_flags;
  // Extra flags for `skald serve`, e.g. {"--node-id", "c1"}.
  std::vector<std::string> coordinator_flags;
};

// Not thread-safe: one test thread drives it. Destroying it SIGKILLs whatever still runs.
class FaultSystem {
 public:
  // Starts the three participants and the coordinator, and applies FaultDefinition().
  static absl::StatusOr<std::unique_ptr<FaultSystem>> Start(FaultSystemOptions options);

  // Starts the coordinator (again, on the address it had) and waits for its ready file.
  absl::Status StartCoordinator();
  // SIGKILLs the coordinator and reaps it: a crash, with no chance to record anything.
  absl::Status KillCoordinator();
  // The coordinator's exit status (128 + signal for a signal) if it has exited by itself
  // since its last start; -1 after KillCoordinator without a restart; nullopt while it runs.
  std::optional<int> CoordinatorExitStatus() const;
  int coordinator_starts() const { return coordinator_starts_; }

  // Starts a participant (again, on the port it had).
  absl::Status StartParticipant(Participant participant);
  // SIGKILLs a participant and reaps it.
  absl::Status KillParticipant(Participant participant);

  // The order saga definition applied at start: the example's steps, with the
  // participants' addresses and retry policies sized for these tests (actions: 8 attempts,
  // 250 ms doubling to 1 s, 5.75 s of waits in all, so that a participant or the database
  // may be gone for 2 s; compensations: 100 attempts; 5 s per call).
  nlohmann::json FaultDefinition() const;

  const std::string& coordinator_address() const { return coordinator_address_; }
  const std::string& coordinator_db() const { return options_.coordinator_db; }
  const std::string& shop_db() const { return options_.shop_db; }
  const FaultSystemOptions& options() const { return options_; }
  // The coordinator's current (newest) log file.
  std::string CoordinatorLogPath() const;

 private:
  explicit FaultSystem(FaultSystemOptions options) : options_(std::move(options)) {}

  struct Process {
    std::string address = "127.0.0.1:0";  // Port 0 until first started.
    std::unique_ptr<ChildProcess> child;
  };

  absl::Status ApplyDefinition();

  FaultSystemOptions options_;
  Process coordinator_;
  std::string coordinator_address_;
  int coordinator_starts_ = 0;
  std::map<Participant, Process> participants_;
  int participant_starts_ = 0;
};

// Progress of the sagas in the coordinator's database.
struct SagaCounts {
  long long total = 0;
  long long terminal = 0;
  long long calls_in_flight = 0;  // Steps RUNNING or COMPENSATING with no retry pending.
  long long retries_waiting = 0;  // Steps whose next attempt waits on a durable timer.
};

// Reads SagaCounts from the coordinator's database; UNAVAILABLE while it cannot be reached.
absl::StatusOr<SagaCounts> ReadSagaCounts(const std::string& coordinator_db);

// Polls (every 100 ms) until at least `expected` sagas are stored and every stored saga is
// terminal. Returns the counts seen last; DEADLINE_EXCEEDED, with those counts, after
// `timeout`.
absl::StatusOr<SagaCounts> WaitForAllTerminal(const std::string& coordinator_db, long long expected,
                                              absl::Duration timeout);

// The sagas still running, with the state of each step, for failure messages; at most
// `limit` of them.
std::string DescribeUnfinishedSagas(const std::string& coordinator_db, int limit = 10);

// The lines of a log file that contain any of `needles`, at most `max_lines` of them (the
// last ones), for reports of what a process complained about.
std::string GrepLog(const std::string& path, const std::vector<std::string>& needles,
                    int max_lines = 20);

}  // namespace skald::testing::fault

#endif  // SKALD_TESTS_FAULT_FAULT_SYSTEM_H_
