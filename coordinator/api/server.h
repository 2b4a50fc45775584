#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "coordinator/api/access_guard.h"
#include "coordinator/api/registry_service.h"
#include "coordinator/api/saga_service.h"
#include "coordinator/core/destination_allowlist.h"
#include "coordinator/discovery/instance_directory.h"
#include "coordinator/engine/call_router.h"
#include "coordinator/engine/delivery_faults.h"
#include "coordinator/engine/engine.h"
#include "coordinator/engine/participant_client.h"
#include "coordinator/engine/retention_sweeper.h"
#include "coordinator/http/http_server.h"
#include "coordinator/notify/notifier.h"
#include "coordinator/notify/webhook_transport.h"
#include "coordinator/observability/coordinator_metrics.h"
#include "coordinator/observability/metrics.h"
#include "coordinator/store/connection.h"
#include "coordinator/store/outbox.h"
#include "coordinator/store/registry_store.h"
#include "coordinator/store/saga_store.h"
#include "coordinator/store/write_probe.h"
#include "grpcpp/grpcpp.h"
#include "tls/grpc_credentials.h"

namespace skald::api {

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
  size_t database_connections = 8;
  ApiLimits limits;
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
  engine::RetentionOptions retention;
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
  std::optional<std::vector<TokenEntry>> auth_tokens;
};

// A running coordinator: schema migrated, engine driving sagas, client API listening.
class CoordinatorServer {
 public:
  // Connects to the database, applies pending migrations, takes up unfinished sagas and
  // starts listening. Fails with a message naming what could not be done.
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(const ServerOptions& options);
  ~CoordinatorServer();

  // The address clients reach the API on, with the port actually bound.
  const std::string& address() const { return address_; }
  // The HTTP port's address, with the port actually bound; empty when it has none.
  const std::string& http_address() const { return http_address_; }

  // What /readyz reports: whether the database answers and takes writes (see
  // store::WriteProbe), whether its schema is this binary's, and whether the coordinator is
  // shutting down.
  std::vector<http::ReadinessCheck> CheckReadiness() const;

  // Stops accepting requests, finishes those in progress, lets participant calls in flight
  // answer (up to `grace`) and records their outcomes, then stops the engine.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  CoordinatorServer() = default;

  std::string address_;
  std::string http_address_;
  std::atomic<bool> shutting_down_ = false;
  // First, so that they outlive every thread that reports to them.
  std::unique_ptr<observability::MetricsRegistry> metrics_registry_;
  std::unique_ptr<observability::CoordinatorMetrics> metrics_;
  std::unique_ptr<store::ConnectionPool> pool_;
  std::unique_ptr<store::WriteProbe> write_probe_;
  std::unique_ptr<store::SagaStore> store_;
  std::unique_ptr<store::RegistryStore> registry_store_;
  std::unique_ptr<discovery::InstanceDirectory> directory_;
  std::unique_ptr<engine::ParticipantClient> participants_;
  std::unique_ptr<engine::FaultInjectingTransport> faulty_participants_;
  std::unique_ptr<engine::CallRouter> router_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<store::OutboxStore> outbox_;
  std::unique_ptr<notify::HttpWebhookTransport> webhooks_;
  std::unique_ptr<notify::Notifier> notifier_;
  std::unique_ptr<engine::RetentionSweeper> retention_;
  std::unique_ptr<SagaOperations> operations_;
  std::unique_ptr<AccessGuard> guard_;
  std::unique_ptr<SagaServiceImpl> service_;
  std::unique_ptr<RegistryServiceImpl> registry_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<http::HttpServer> http_;
  bool shut_down_ = false;
};

}  // namespace skald::api
