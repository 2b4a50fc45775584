#include "common/service_main.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <utility>

namespace skald::examples {
namespace {

constexpr auto kDrainGrace = std::chrono::seconds(10);

absl::Status WriteReadyFile(const std::string& path, const std::string& address) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << address << '\n';
    out.close();
    if (!out) return absl::UnavailableError("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError("cannot rename " + tmp + " to " + path + ": " +
                                  std::strerror(errno));
  }
  return absl::OkStatus();
}

}  // namespace

int RunService(int argc, char** argv, const ServiceDefinition& definition) {
  // Blocked before any thread starts, so every thread inherits the mask and the signals
  // reach only the sigwait() below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // libpq may write to a socket the server closed.

  CLI::App app{definition.description, definition.name};
  std::string db_url;
  std::string listen = definition.default_listen;
  std::string ready_file;
  int db_pool = 4;
  std::string coordinator;
  std::string service_name = definition.service;
  app.add_option("--db", db_url, "PostgreSQL URL, e.g. postgresql://skald@127.0.0.1/skald")
      ->required();
  app.add_option("--listen", listen, "host:port to serve on; port 0 picks a free one")
      ->capture_default_str();
  app.add_option("--ready-file", ready_file,
                 "once listening, write the bound host:port to this file (atomically)");
  app.add_option("--db-pool", db_pool, "maximum PostgreSQL connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--register-with", coordinator,
                 "host:port of a coordinator to register with, so that definitions can name "
                 "the service instead of this address");
  app.add_option("--service", service_name, "the service name to register under")
      ->capture_default_str();
  // One certificate for both directions: this service's identity as a server (to the
  // coordinator's calls) and as a client (when registering), and one CA to check the
  // coordinator's certificates against, both ways (docs/tls.md).
  ParticipantServer::TlsOptions tls;
  std::string tls_ca;
  app.add_option("--tls-cert", tls.cert_file,
                 "serve over TLS with this PEM certificate; also presented when registering");
  app.add_option("--tls-key", tls.key_file, "PEM private key of --tls-cert");
  app.add_option("--tls-ca", tls_ca,
                 "mutual TLS: the coordinator's certificates, as a client and as a server, must "
                 "be signed by this CA (PEM)");
  if (definition.add_flags) definition.add_flags(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help prints and exits 0.
  }

  spdlog::set_default_logger(spdlog::stderr_color_mt(definition.name));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");

  if (definition.coordinator_known) {
    definition.coordinator_known(
        {.address = coordinator,
         .tls = {.ca_file = tls_ca, .cert_file = tls.cert_file, .key_file = tls.key_file},
         .token = ""});
  }
  ParticipantServer server;
  if (absl::Status status = definition.setup(NewConnectionPool(db_url, db_pool), server);
      !status.ok()) {
    spdlog::error("setup failed: {}", status.ToString());
    return 1;
  }
  if (!tls.cert_file.empty() || !tls.key_file.empty()) {
    tls.client_ca_file = tls_ca;
    server.serve_tls(tls);
  }
  if (!coordinator.empty()) {
    server.register_with(
        {.coordinator_address = coordinator,
         .service = service_name,
         .tls = {.ca_file = tls_ca, .cert_file = tls.cert_file, .key_file = tls.key_file}});
  }
  if (absl::Status status = server.Start(listen); !status.ok()) {
    spdlog::error("{}", status.ToString());
    if (definition.stop) definition.stop();
    return 1;
  }
  if (!coordinator.empty()) {
    // Start() never fails for want of a coordinator: the SDK keeps trying in the background.
    if (absl::Status registered = server.registration_status(); registered.ok()) {
      spdlog::info("registered as service \"{}\" (instance {}) with {}", service_name,
                   server.instance_id(), coordinator);
    } else {
      spdlog::warn("not registered yet, retrying in the background: {}",
                   std::string(registered.message()));
    }
  }
  if (!ready_file.empty()) {
    if (absl::Status status = WriteReadyFile(ready_file, server.address()); !status.ok()) {
      spdlog::error("{}", status.ToString());
      server.Shutdown(std::chrono::milliseconds(0));
      if (definition.stop) definition.stop();
      return 1;
    }
  }
  spdlog::info("listening on {}", server.address());

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("received {}; draining calls in progress", strsignal(signal_number));
  server.Shutdown(kDrainGrace);
  if (definition.stop) definition.stop();
  spdlog::info("stopped");
  return 0;
}

StepHandler WithCallLog(StepHandler handler) {
  return [handler = std::move(handler)](const StepContext& context,
                                        const nlohmann::json& input) -> StepResult {
    const auto start = std::chrono::steady_clock::now();
    auto log = [&](const std::string& outcome) {
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      spdlog::info(
          "saga={} step={} phase={} handler={} attempt={} traceparent={} outcome={} ({:.1f} ms)",
          context.saga_id, context.step, PhaseName(context.phase), context.handler, context.attempt,
          context.traceparent.empty() ? "-" : context.traceparent, outcome, ms);
    };
    try {
      StepResult result = handler(context, input);
      log(result.ToString());
      return result;
    } catch (const std::exception& e) {
      log(std::string("exception: ") + e.what());
      throw;
    }
  };
}

}  // namespace skald::examples
