#include "coordinator/cli/serve_command.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "coordinator/cli/commands.h"
#include "coordinator/cli/tls_flags.h"
#include "coordinator/core/duration.h"
#include "coordinator/server/coordinator_server.h"

namespace skald::cli {
namespace {

// Writes `contents` to `path` so that a reader never sees a half-written file.
bool WriteAtomically(const std::string& path, const std::string& contents) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << contents << "\n";
    if (!out) return false;
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  return !error;
}

}  // namespace

int ServeUntilSignalled(const server::ServerOptions& options, const std::string& ready_file,
                        const std::string& shutdown_grace, const std::string& http_ready_file) {
  auto grace = core::ParseDuration(shutdown_grace);
  if (!grace.ok()) {
    spdlog::error("--shutdown-grace: {}", std::string(grace.status().message()));
    return 2;
  }
  if (!http_ready_file.empty() && options.http_listen_address.empty()) {
    spdlog::error("--http-ready-file: needs --http-listen");
    return 2;
  }
  // Block the stop signals in every thread (the ones gRPC and the engine start inherit the
  // mask) and take them synchronously here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  for (const std::string& line : PlaintextWarning(options)) spdlog::warn("{}", line);
  auto server = server::CoordinatorServer::Start(options);
  if (!server.ok()) {
    spdlog::error("cannot start the coordinator: {}", std::string(server.status().message()));
    return 1;
  }
  if (!ready_file.empty() && !WriteAtomically(ready_file, (*server)->address())) {
    spdlog::error("cannot write the ready file {}", ready_file);
    return 1;
  }
  if (!http_ready_file.empty() && !WriteAtomically(http_ready_file, (*server)->http_address())) {
    spdlog::error("cannot write the HTTP ready file {}", http_ready_file);
    return 1;
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("received {}, shutting down", strsignal(signal_number));
  (*server)->Shutdown(*grace);
  spdlog::info("coordinator stopped");
  return 0;
}

namespace {

// A retention is often counted in days, past the 30 days core::ParseDuration allows for
// timeouts: "90d" is taken here, anything else as a duration.
absl::StatusOr<std::chrono::milliseconds> ParseRetention(const std::string& text) {
  if (text.size() >= 2 && text.size() <= 6 && text.back() == 'd' &&
      std::all_of(text.begin(), text.end() - 1, [](char c) { return c >= '0' && c <= '9'; })) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::hours(24) * std::stoi(text.substr(0, text.size() - 1)));
  }
  return core::ParseDuration(text);
}

}  // namespace

int RunServe(const ServeFlags& flags) {
  if (flags.database_uri.empty()) {
    spdlog::error(
        "no database: give --db URI, or set SKALD_DB (which keeps a password out of "
        "the process list)");
    return 2;
  }
  server::ServerOptions options;
  if (absl::Status applied = ApplyCoordinatorFlags(flags, options); !applied.ok()) {
    spdlog::error("{}", std::string(applied.message()));
    return 2;
  }
  options.database_uri = flags.database_uri;
  options.node_id = flags.node_id;
  auto lease_ttl = core::ParseDuration(flags.lease_ttl);
  if (!lease_ttl.ok() || *lease_ttl < std::chrono::milliseconds(300)) {
    spdlog::error("--lease-ttl: must be a duration of at least 300ms, got \"{}\"", flags.lease_ttl);
    return 2;
  }
  options.lease_ttl = *lease_ttl;
  options.engine_batches_in_flight = flags.batches_in_flight;
  if (!flags.retention.empty()) {
    auto retention = ParseRetention(flags.retention);
    if (!retention.ok() || *retention < std::chrono::minutes(1)) {
      spdlog::error("--retention: must be a duration of at least 1m, like \"30d\", got \"{}\"",
                    flags.retention);
      return 2;
    }
    options.retention.retention = *retention;
  }
  options.delivery_faults.duplicate_calls = flags.test_duplicate_calls;
  options.delivery_faults.unstorable_output_step = flags.test_unstorable_output;
  options.delivery_faults.lost_reply_step = flags.test_lost_reply;
  if (!flags.test_late_action.empty()) {
    if (absl::Status parsed =
            engine::ParseLateAction(flags.test_late_action, &options.delivery_faults);
        !parsed.ok()) {
      spdlog::error("--test-late-action: {}", std::string(parsed.message()));
      return 2;
    }
  }
  return ServeUntilSignalled(options, flags.ready_file, flags.shutdown_grace,
                             flags.http_ready_file);
}

}  // namespace skald::cli
