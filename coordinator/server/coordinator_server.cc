#include "coordinator/server/coordinator_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <limits>
#include <random>

#include "coordinator/store/migrator.h"
#include "coordinator/store/postgres_saga_store.h"

namespace skald::server {
namespace {

std::string GeneratedNodeId() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::random_device random;
  char suffix[9];
  snprintf(suffix, sizeof suffix, "%08x", random());
  return std::string(host) + "/" + std::to_string(getpid()) + "/" + suffix;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    const ServerOptions& options) {
  std::unique_ptr<CoordinatorServer> server(new CoordinatorServer);
  server->metrics_registry_ = std::make_unique<observability::MetricsRegistry>();
  server->metrics_ =
      std::make_unique<observability::CoordinatorMetrics>(*server->metrics_registry_);
  server->pool_ =
      std::make_unique<store::ConnectionPool>(options.database_uri, options.database_connections);
  server->pool_->SetObserver(
      [metrics = server->metrics_.get()](std::string_view operation,
                                         std::chrono::steady_clock::duration elapsed,
                                         const absl::Status& status) {
        // A refused duplicate (unique violation) is an answer, not a database failure.
        metrics->DatabaseTransaction(operation, elapsed,
                                     !status.ok() && !absl::IsAlreadyExists(status));
      });
  if (auto s = server->pool_->CheckConnectivity(); !s.ok()) return s;
  auto applied = store::ApplyMigrations(*server->pool_, store::EmbeddedMigrations());
  if (!applied.ok()) return applied.status();
  for (int version : *applied) spdlog::info("applied migration {:04d}", version);

  server->store_ = std::make_unique<store::PostgresSagaStore>(
      *server->pool_,
      store::OutboxPolicy{options.notifier.alert_url, options.alert_compensation_failures});
  server->registry_store_ =
      std::make_unique<store::RegistryStore>(*server->pool_, options.limits.registrations);
  server->directory_ = std::make_unique<discovery::InstanceDirectory>(*server->registry_store_);
  if (auto s = server->directory_->Start(options.registry_refresh); !s.ok()) return s;
  auto participant_credentials =
      tls::MakeChannelCredentials(options.participant_tls, options.tls_reload_interval);
  if (!participant_credentials.ok()) {
    return absl::InvalidArgumentError("participant TLS: " +
                                      std::string(participant_credentials.status().message()));
  }
  server->participants_ = std::make_unique<engine::ParticipantClient>(
      std::move(*participant_credentials), options.limits.max_output_bytes,
      [metrics = server->metrics_.get()] { metrics->LimitExceeded("max_output_bytes"); });
  engine::CallTransport* transport = server->participants_.get();
  if (options.delivery_faults.any()) {
    server->faulty_participants_ = std::make_unique<engine::FaultInjectingTransport>(
        *server->participants_, options.delivery_faults);
    transport = server->faulty_participants_.get();
  }
  server->router_ = std::make_unique<engine::CallRouter>(*transport, server->directory_.get());
  engine::EngineOptions engine_options;
  engine_options.owner = options.node_id.empty() ? GeneratedNodeId() : options.node_id;
  engine_options.lease_ttl = options.lease_ttl;
  engine_options.renew_interval = options.lease_ttl / 3;
  engine_options.claim_interval =
      std::min<std::chrono::milliseconds>(std::chrono::seconds(1), options.lease_ttl / 2);
  engine_options.listen_uri = options.database_uri;
  engine_options.metrics = server->metrics_.get();
  // Every coordinator signs completion tokens with the cluster's one secret.
  auto tokens = api::CompletionTokens::Load(*server->pool_);
  if (!tokens.ok()) return tokens.status();
  server->completion_tokens_ = std::make_unique<api::CompletionTokens>(*std::move(tokens));
  engine_options.completion_token =
      [tokens = server->completion_tokens_.get()](const core::CompletionClaims& claims) {
        return tokens->Mint(claims);
      };
  engine_options.batches_in_flight = options.engine_batches_in_flight;
  server->engine_ =
      std::make_unique<engine::Engine>(*server->store_, *server->router_, engine_options);
  server->write_probe_ = std::make_unique<store::WriteProbe>(*server->pool_, engine_options.owner);
  // Sagas started together are created in one commit each batch, leased to this engine.
  server->start_batcher_ = std::make_unique<api::StartBatcher>(
      *server->store_, server->engine_->lease_holder(), api::StartBatcher::Options{});
  server->operations_ = std::make_unique<api::SagaOperations>(
      *server->store_, *server->engine_, options.limits, server->metrics_.get(),
      server->completion_tokens_.get(), server->start_batcher_.get());
  server->guard_ = std::make_unique<api::AccessGuard>(
      options.auth_tokens ? api::Authorizer(*options.auth_tokens) : api::Authorizer(),
      *server->store_, server->metrics_.get());
  if (!server->guard_->enabled()) {
    spdlog::warn(
        "AUTHENTICATION IS OFF: any client that reaches the API may start, read, abort, retry "
        "and skip sagas and register participants; give --auth-tokens FILE "
        "(docs/security.md)");
  }
  server->registry_operations_ = std::make_unique<api::RegistryOperations>(*server->directory_);
  server->guarded_ = std::make_unique<api::GuardedOperations>(
      *server->operations_, server->registry_operations_.get(), server->guard_.get());
  server->service_ = std::make_unique<api::SagaServiceImpl>(
      *server->guarded_, options.limits.max_watch_streams, server->metrics_.get(),
      api::SagaWaiters::Options{.max_waiting = options.limits.max_waiting},
      options.limits.max_total_watch_streams);

  // The standard grpc.health.v1.Health service and server reflection (v1alpha), so that
  // load balancers and tools like grpcurl work against the coordinator.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto credentials = tls::MakeServerCredentials(options.tls, options.tls_reload_interval);
  if (!credentials.ok()) {
    return absl::InvalidArgumentError("TLS: " + std::string(credentials.status().message()));
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen_address, *credentials, &port);
  server->registry_ = std::make_unique<api::RegistryServiceImpl>(*server->guarded_);
  builder.RegisterService(server->service_.get());
  builder.RegisterService(server->registry_.get());
  // A whole request over --max-request-bytes is refused by gRPC before it is parsed
  // (RESOURCE_EXHAUSTED); requests within it but over a finer limit get a precise error
  // from the service.
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      std::min<size_t>(options.limits.max_request_bytes, std::numeric_limits<int>::max())));
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || port == 0) {
    return absl::UnavailableError("cannot listen on " + options.listen_address +
                                  " (address in use or invalid?)");
  }
  const size_t colon = options.listen_address.rfind(':');
  server->address_ = options.listen_address.substr(0, colon) + ":" + std::to_string(port);

  // Serving only once the engine drives sagas. Each service is named, so that a client may
  // ask about it as well as about the server ("").
  for (const char* service : {"skald.v1.SagaService", "skald.v1.ParticipantRegistry"}) {
    server->server_->GetHealthCheckService()->SetServingStatus(service, false);
  }
  server->server_->GetHealthCheckService()->SetServingStatus(false);
  if (auto s = server->engine_->Start(); !s.ok()) return s;
  // The outbox is shared by every coordinator on the database: this one delivers whatever is
  // due, whoever queued it.
  server->outbox_ = std::make_unique<store::OutboxStore>(*server->pool_);
  spdlog::info(
      "notifier: {} workers, {} ms per delivery; loopback, link-local and private destinations "
      "refused except: {}",
      options.notifier.workers, options.notifier.request_timeout.count(),
      options.notify_allow.ToString().empty() ? "none" : options.notify_allow.ToString());
  server->webhooks_ = std::make_unique<notify::HttpWebhookTransport>(options.notify_allow);
  server->notifier_ =
      std::make_unique<notify::Notifier>(*server->outbox_, *server->webhooks_, options.notifier);
  server->notifier_->Start();
  server->retention_ =
      std::make_unique<store::RetentionSweeper>(*server->store_, options.retention);
  server->retention_->Start();
  server->server_->GetHealthCheckService()->SetServingStatus(true);
  if (!options.http_listen_address.empty()) {
    http::HttpServerOptions http_options;
    http_options.listen_address = options.http_listen_address;
    http_options.tls = options.http_tls;
    http_options.allowed_hosts = options.http_allowed_hosts;
    // A JSON body escapes the input or document it carries: allow for that, and let the
    // API's own limits give the precise error.
    http_options.max_body_bytes = options.limits.max_request_bytes;
    http::HttpServices services;
    services.api = server->guarded_.get();
    services.metrics = server->metrics_registry_.get();
    services.readiness = [raw = server.get()] { return raw->CheckReadiness(); };
    auto http = http::HttpServer::Start(http_options, services);
    if (!http.ok()) return http.status();
    server->http_ = std::move(*http);
    server->http_address_ = server->http_->address();
    spdlog::info("HTTP (health, metrics, JSON API, dashboard) on {}://{}",
                 options.http_tls.enabled() ? "https" : "http", server->http_address_);
  }
  spdlog::info("skald coordinator listening on {}{}", server->address_,
               !options.tls.enabled()               ? " (plaintext)"
               : options.tls.client_ca_file.empty() ? " (TLS)"
                                                    : " (mutual TLS)");
  return server;
}

CoordinatorServer::~CoordinatorServer() { Shutdown(std::chrono::milliseconds(0)); }

void CoordinatorServer::Shutdown(std::chrono::milliseconds grace) {
  if (shut_down_) return;
  shut_down_ = true;
  shutting_down_ = true;
  if (server_) server_->GetHealthCheckService()->SetServingStatus(false);
  const auto deadline = std::chrono::system_clock::now() + grace;
  // Client requests are short transactions: a second is plenty for those in progress.
  // gRPC's sync server otherwise lingers for seconds over idle client connections.
  // AwaitSaga calls wait without a thread: the server's shutdown waits for them to finish.
  if (service_) service_->StopWaiting();
  if (server_) {
    server_->Shutdown(
        std::min(deadline, std::chrono::system_clock::now() + std::chrono::seconds(1)));
  }
  if (http_) http_->Stop();
  // After both ports: the starts they accepted are committed and answered, and handed to the
  // engine before it drains.
  if (start_batcher_) start_batcher_->Stop();
  if (retention_) retention_->Stop();
  if (engine_) {
    engine_->Drain(std::chrono::duration_cast<std::chrono::milliseconds>(std::max(
        deadline - std::chrono::system_clock::now(), std::chrono::system_clock::duration::zero())));
  }
  // Notifications of sagas finished while draining are in the outbox: delivered by this
  // coordinator until here, by any other (or the next one) after.
  if (notifier_) notifier_->Stop();
  if (directory_) directory_->Stop();
}

std::vector<http::ReadinessCheck> CoordinatorServer::CheckReadiness() const {
  if (shutting_down_) return {{"coordinator", false, "shutting down"}};
  absl::StatusOr<store::SchemaStatus> schema =
      store::CheckMigrations(*pool_, store::EmbeddedMigrations());
  if (!schema.ok()) {
    return {{"database", false, std::string(schema.status().message())},
            {"migrations", false, "unknown: the database did not answer"}};
  }
  auto versions = [](const std::vector<int>& list) {
    std::string text;
    for (int version : list) text += (text.empty() ? "" : ", ") + std::to_string(version);
    return text;
  };
  http::ReadinessCheck migrations{"migrations", schema->current(), "ok"};
  if (!schema->pending.empty()) {
    migrations.detail = "pending: " + versions(schema->pending) + " (restart to apply them)";
  } else if (!schema->unknown.empty()) {
    migrations.detail =
        "the database has versions this coordinator does not know: " + versions(schema->unknown) +
        " (upgrade the coordinator)";
  }
  // Reads work; writes may not (read-only after a failover, a full disk, a revoked
  // privilege), and a coordinator that cannot record progress is not ready.
  http::ReadinessCheck database{"database", true, "ok"};
  if (absl::Status writes = write_probe_->Check(); !writes.ok()) {
    database = {"database", false, std::string(writes.message())};
  }
  return {database, migrations};
}

}  // namespace skald::server
