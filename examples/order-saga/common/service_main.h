// What the example participants share: flags, logging, the database connection pool (the
// SDK's, which skald::Barrier uses), the ready file, and a graceful stop on SIGTERM/SIGINT.
// Each service's main() is one RunService() call.

#ifndef SKALD_EXAMPLES_ORDER_SAGA_COMMON_SERVICE_MAIN_H_
#define SKALD_EXAMPLES_ORDER_SAGA_COMMON_SERVICE_MAIN_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "skald/barrier.h"
#include "skald/coordinator_endpoint.h"
#include "skald/participant_server.h"

namespace skald::examples {

struct ServiceDefinition {
  std::string name;            // e.g. "order-service"; also the logger's name.
  std::string service;         // The default name to register under, e.g. "order".
  std::string description;     // One line for --help.
  std::string default_listen;  // e.g. "127.0.0.1:7801".
  // Adds the service's own flags; may be empty.
  std::function<void(CLI::App& app)> add_flags;
  // Creates the service's schema and registers its handlers on `server`; runs after the
  // flags are parsed. `connections` is a pool of at most --db-pool connections to --db;
  // handlers may keep it (skald::Barrier does). `server` outlives every handler call.
  std::function<absl::Status(std::shared_ptr<ConnectionSource> connections,
                             ParticipantServer& server)>
      setup;
  // Called after the flags are parsed and before setup, with the coordinator of
  // --register-with and the service's TLS files (an empty address without one); may be
  // empty. A service that talks to the coordinator itself (e.g. to complete accepted steps,
  // skald/step_completer.h) keeps it.
  std::function<void(const CoordinatorEndpoint& coordinator)> coordinator_known;
  // Called once the server has drained, before RunService returns; may be empty. Stops what
  // setup started besides the handlers (e.g. a background thread).
  std::function<void()> stop;
};

// Parses the common flags (--db URL, required; --listen ADDR; --ready-file PATH;
// --db-pool N; --register-with HOST:PORT and --service NAME to register with a coordinator;
// --tls-cert FILE, --tls-key FILE and --tls-ca FILE for mutual TLS with it)
// and the service's own, sets up the service, serves until SIGTERM or SIGINT,
// then drains the calls in progress (up to 10 s). Once listening, writes the bound address
// ("127.0.0.1:40123\n") to the ready file, atomically (PATH.tmp, then rename). Returns the
// process exit code: 0 after a signal, 1 when setup or listening failed, 2 for bad flags.
// REQUIRES: called from main() before any other thread is started.
int RunService(int argc, char** argv, const ServiceDefinition& definition);

// Returns `handler` wrapped to log one line per call: saga, step, phase, handler, attempt,
// outcome and duration.
StepHandler WithCallLog(StepHandler handler);

}  // namespace skald::examples

#endif  // SKALD_EXAMPLES_ORDER_SAGA_COMMON_SERVICE_MAIN_H_
