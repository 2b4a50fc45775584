// What every end-to-end test needs: a `skald serve` coordinator as a real process on
// loopback with a client for it, and participants started with a ready file.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "nlohmann/json.hpp"
#include "skald/v1/saga_service.grpc.pb.h"
// SKALD_BINARY, ORDER_SERVICE_BINARY, ...: the programs e2e tests start.
#include "tests/support/built_files.h"
#include "tests/support/child_process.h"

namespace skald::testing {

// How long a started process may take to write its ready file.
inline constexpr absl::Duration kReadyTimeout = absl::Seconds(30);

// True for COMPLETED, COMPENSATED and FAILED.
bool IsTerminal(v1::SagaState state);

// Returns the state's name without its prefix: "COMPLETED", "SKIPPED", ...
std::string StateName(v1::SagaState state);
std::string StateName(v1::StepState state);

// Runs `sql` (with `param` as $1 unless it is empty) on the database at `uri` and returns
// the integer in its single row; a NULL is 0. Throws pqxx errors.
long long QueryCount(const std::string& uri, const std::string& sql, const std::string& param = "");

// A child process that wrote its listening address into its ready file.
struct ReadyProcess {
  std::unique_ptr<ChildProcess> process;
  std::string address;  // e.g. "127.0.0.1:40123"
};

// Spawns `argv` with its output in `log_path` and waits until `ready_path` holds an
// address (see WaitForReadyFile). REQUIRES: argv asks the program to write `ready_path`.
absl::StatusOr<ReadyProcess> SpawnAndWaitReady(std::vector<std::string> argv,
                                               const std::string& log_path,
                                               const std::string& ready_path);

// A `skald serve` process on a database of its own, and a client for its SagaService.
// Logs and ready files go into a directory the caller owns. Not thread-safe.
class CoordinatorProcess {
 public:
  // REQUIRES: `dir` exists and outlives this object. Nothing is started yet.
  // `extra_args` are added to every `skald serve` command line, e.g. {"--lease-ttl", "1s"}.
  CoordinatorProcess(std::string dir, std::string db_uri, std::vector<std::string> extra_args = {})
      : dir_(std::move(dir)), db_uri_(std::move(db_uri)), extra_args_(std::move(extra_args)) {}

  // Starts (again) the coordinator on its database, at the address it had before (port 0
  // the first time), and connects the client.
  absl::Status Start();
  // From the next Start() on, the coordinator also serves its HTTP port (--http-listen) on
  // loopback: a free port the first time, the same one after a restart.
  void ServeHttp() { http_ = true; }
  // From the next Start() on, client() connects with `credentials` (e.g. TLS) instead of
  // plaintext.
  void SetClientCredentials(std::shared_ptr<grpc::ChannelCredentials> credentials) {
    client_credentials_ = std::move(credentials);
  }
  // Sends `signal` and waits up to 20 s for the process to exit.
  absl::Status Stop(int signal);
  // Sends `signal` (e.g. SIGSTOP, SIGCONT) without waiting.
  absl::Status Signal(int signal);
  // The exit status of the process Stop last ended (128 + signal if a signal ended it).
  std::optional<int> last_exit_status() const { return last_exit_status_; }
  // The whole log of the current (or last) run.
  std::string Log() const;
  // The process id of the running coordinator; 0 when none was started.
  pid_t pid() const { return process_ ? process_->pid() : 0; }

  // "127.0.0.1:0" until first started.
  const std::string& address() const { return address_; }
  // The HTTP port's address, e.g. "127.0.0.1:40124"; "127.0.0.1:0" until first started with
  // ServeHttp().
  const std::string& http_address() const { return http_address_; }
  const std::string& db_uri() const { return db_uri_; }
  // REQUIRES: Start() succeeded once.
  v1::SagaService::Stub& client() { return *client_; }

  // Returns the status of applying `definition`.
  grpc::Status Apply(const nlohmann::json& definition);
  // Starts a saga of the newest version of `definition`; returns its id.
  absl::StatusOr<std::string> StartSaga(const std::string& definition, const nlohmann::json& input,
                                        const std::string& saga_id = "");
  absl::StatusOr<v1::Saga> GetSaga(const std::string& saga_id);
  // Polls (every 50 ms) until `predicate` holds for the saga; DEADLINE_EXCEEDED with its
  // last state and the coordinator's log otherwise.
  absl::StatusOr<v1::Saga> WaitFor(const std::string& saga_id,
                                   const std::function<bool(const v1::Saga&)>& predicate,
                                   absl::Duration timeout);
  // Polls until the saga is terminal.
  absl::StatusOr<v1::Saga> WaitForEnd(const std::string& saga_id,
                                      absl::Duration timeout = absl::Seconds(30));

  // Returns the saga's rendered output: null until it has completed, and for a definition
  // without an output template.
  absl::StatusOr<nlohmann::json> SagaOutput(const std::string& saga_id);

  // QueryCount on the coordinator's database.
  long long Count(const std::string& sql, const std::string& param = "") const {
    return QueryCount(db_uri_, sql, param);
  }

  // The tail of the newest coordinator log, for failure messages.
  std::string LogTail() const;

 private:
  std::string LogPath(int start) const;

  const std::string dir_;
  const std::string db_uri_;
  const std::vector<std::string> extra_args_;
  std::optional<int> last_exit_status_;
  std::string address_ = "127.0.0.1:0";
  bool http_ = false;
  std::string http_address_ = "127.0.0.1:0";
  std::unique_ptr<ChildProcess> process_;
  std::unique_ptr<v1::SagaService::Stub> client_;
  std::shared_ptr<grpc::ChannelCredentials> client_credentials_;
  int starts_ = 0;
};

}  // namespace skald::testing
