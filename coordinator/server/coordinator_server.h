#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "coordinator/api/access_guard.h"
#include "coordinator/api/guarded_operations.h"
#include "coordinator/api/registry_operations.h"
#include "coordinator/api/registry_service.h"
#include "coordinator/api/saga_service.h"
#include "coordinator/api/start_batcher.h"
#include "coordinator/core/destination_allowlist.h"
#include "coordinator/discovery/instance_directory.h"
#include "coordinator/engine/call_router.h"
#include "coordinator/engine/delivery_faults.h"
#include "coordinator/engine/engine.h"
#include "coordinator/engine/participant_client.h"
#include "coordinator/http/http_server.h"
#include "coordinator/notify/notifier.h"
#include "coordinator/notify/webhook_transport.h"
#include "coordinator/observability/coordinator_metrics.h"
#include "coordinator/observability/metrics.h"
#include "coordinator/server/server_options.h"
#include "coordinator/store/connection.h"
#include "coordinator/store/outbox.h"
#include "coordinator/store/registry_store.h"
#include "coordinator/store/retention_sweeper.h"
#include "coordinator/store/saga_store.h"
#include "coordinator/store/write_probe.h"
#include "grpcpp/grpcpp.h"
#include "tls/grpc_credentials.h"

namespace skald::server {

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
  // Before the engine, which mints tokens with it until it stops.
  std::unique_ptr<api::CompletionTokens> completion_tokens_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<store::OutboxStore> outbox_;
  std::unique_ptr<notify::HttpWebhookTransport> webhooks_;
  std::unique_ptr<notify::Notifier> notifier_;
  std::unique_ptr<store::RetentionSweeper> retention_;
  std::unique_ptr<api::StartBatcher> start_batcher_;
  std::unique_ptr<api::SagaOperations> operations_;
  std::unique_ptr<api::AccessGuard> guard_;
  std::unique_ptr<api::RegistryOperations> registry_operations_;
  std::unique_ptr<api::GuardedOperations> guarded_;
  std::unique_ptr<api::SagaServiceImpl> service_;
  std::unique_ptr<api::RegistryServiceImpl> registry_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<http::HttpServer> http_;
  bool shut_down_ = false;
};

}  // namespace skald::server
