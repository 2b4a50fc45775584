#include "coordinator/api/server.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <random>

#include "coordinator/store/migrator.h"

namespace skald::api {
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
  server->pool_ =
      std::make_unique<store::ConnectionPool>(options.database_uri, options.database_connections);
  if (auto s = server->pool_->CheckConnectivity(); !s.ok()) return s;
  auto applied = store::ApplyMigrations(*server->pool_, store::EmbeddedMigrations());
  if (!applied.ok()) return applied.status();
  for (int version : *applied) spdlog::info("applied migration {:04d}", version);

  server->store_ = std::make_unique<store::SagaStore>(*server->pool_);
  server->registry_store_ = std::make_unique<store::RegistryStore>(*server->pool_);
  server->directory_ = std::make_unique<discovery::InstanceDirectory>(*server->registry_store_);
  if (auto s = server->directory_->Start(options.registry_refresh); !s.ok()) return s;
  server->participants_ = std::make_unique<engine::ParticipantClient>();
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
  server->engine_ =
      std::make_unique<engine::Engine>(*server->store_, *server->router_, engine_options);
  server->operations_ =
      std::make_unique<SagaOperations>(*server->store_, *server->engine_, options.limits);
  server->service_ = std::make_unique<SagaServiceImpl>(*server->operations_);

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen_address, grpc::InsecureServerCredentials(), &port);
  server->registry_ = std::make_unique<RegistryServiceImpl>(*server->directory_);
  builder.RegisterService(server->service_.get());
  builder.RegisterService(server->registry_.get());
  // Requests over our own limits get a precise error from the service; gRPC's cap only
  // has to stay out of their way.
  const size_t largest =
      std::max(options.limits.max_input_bytes, options.limits.definition.max_document_bytes);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(std::max<size_t>(4 << 20, largest + (64 << 10))));
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || port == 0) {
    return absl::UnavailableError("cannot listen on " + options.listen_address +
                                  " (address in use or invalid?)");
  }
  const size_t colon = options.listen_address.rfind(':');
  server->address_ = options.listen_address.substr(0, colon) + ":" + std::to_string(port);

  if (auto s = server->engine_->Start(); !s.ok()) return s;
  spdlog::info("skald coordinator listening on {}", server->address_);
  return server;
}

CoordinatorServer::~CoordinatorServer() { Shutdown(std::chrono::milliseconds(0)); }

void CoordinatorServer::Shutdown(std::chrono::milliseconds grace) {
  if (shut_down_) return;
  shut_down_ = true;
  const auto deadline = std::chrono::system_clock::now() + grace;
  // Client requests are short transactions: a second is plenty for those in progress.
  // gRPC's sync server otherwise lingers for seconds over idle client connections.
  if (server_) {
    server_->Shutdown(
        std::min(deadline, std::chrono::system_clock::now() + std::chrono::seconds(1)));
  }
  if (engine_) {
    engine_->Drain(std::chrono::duration_cast<std::chrono::milliseconds>(std::max(
        deadline - std::chrono::system_clock::now(), std::chrono::system_clock::duration::zero())));
  }
  if (directory_) directory_->Stop();
}

}  // namespace skald::api
