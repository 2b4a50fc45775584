// What a coordinator is started with (CoordinatorServer::Start): plain option structs only,
// so that the flag code of cli/ fills them without compiling gRPC, libpqxx or the engine.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/api/api_limits.h"
#include "coordinator/api/authorizer.h"
#include "coordinator/core/destination_allowlist.h"
#include "coordinator/engine/delivery_fault_options.h"
#include "coordinator/notify/notifier_options.h"
#include "coordinator/store/retention_options.h"
#include "tls/tls_files.h"

namespace skald::server {

struct ServerOptions {
  // libpq URI of the coordinator's database.
  std::string database_uri;
  // host:port; port 0 picks a free port (see CoordinatorServer::address()).
  std::string listen_address = "127.0.0.1:7700";
  // host:port of the HTTP port (health, metrics, JSON API, dashboard); port 0 picks a free
  // port (see CoordinatorServer::http_address()). Empty: no HTTP port.
  std::string http_listen_address;
  // Host header values the HTTP port accepts besides IP literals, "localhost" and the listen
  // host; "*": any (DNS rebinding, docs/http-api.md).
  std::vector<std::string> http_allowed_hosts;
  // Shared by the engine's committers (engine_batches_in_flight), the lease keeper, the
  // start workers (4) and AwaitSaga's workers (2), and the other API calls.
  size_t database_connections = 12;
  // How many batches the engine commits at once (engine::EngineOptions::batches_in_flight);
  // each holds one of the database connections while it commits.
  size_t engine_batches_in_flight = 3;
  api::ApiLimits limits;
  // This coordinator's name in lease records, unique among the coordinators running on the
  // database. Restarting under the same name takes its sagas back at once. Empty: a name
  // made of the host name, the process id and a random part.
  std::string node_id;
  // How long a lease lasts without renewal: a dead coordinator's sagas are taken over
  // within about this plus one second.
  std::chrono::milliseconds lease_ttl{5'000};
  // How often the participant registrations are reloaded from the database (those made
  // through this coordinator are seen at once).
  std::chrono::milliseconds registry_refresh{1'000};
  // TEST ONLY: simulated network faults on participant calls.
  engine::DeliveryFaults delivery_faults;
  // Completion notifications and alerts (docs/notifications.md): the signing secret, the
  // alert URL, the stuck-saga threshold and the delivery settings.
  notify::NotifierOptions notifier;
  // Where notifications and alerts may go besides public addresses (--notify-allow):
  // loopback, link-local, private and unspecified addresses are refused unless listed.
  core::DestinationAllowlist notify_allow;
  // Alert once per saga and step when its compensation has failed this many times.
  int alert_compensation_failures = 3;
  // Deleting sagas that finished long ago (retention.retention zero: kept forever).
  store::RetentionOptions retention;
  // TLS of the gRPC port (client API and ParticipantRegistry), mutual when tls.client_ca_file
  // is set; plaintext when empty (docs/tls.md).
  tls::ServerFiles tls;
  // TLS of the HTTP port (HTTPS); plaintext when empty.
  tls::ServerFiles http_tls;
  // TLS of the calls to participants: the CA their certificates are checked against and the
  // client certificate presented to them; plaintext when empty.
  tls::ChannelFiles participant_tls;
  // How often the gRPC certificate, key and CA files are read again (replaced files take
  // effect without a restart). The HTTP port reads its files once, at start.
  std::chrono::seconds tls_reload_interval = tls::kDefaultReloadInterval;
  // The API tokens (--auth-tokens, docs/security.md); none: auth is off and every caller
  // may do everything.
  std::optional<std::vector<api::TokenEntry>> auth_tokens;
};

}  // namespace skald::server
