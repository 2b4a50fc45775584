#include "coordinator/api/server.h"

#include <spdlog/spdlog.h>

#include "coordinator/store/migrator.h"

namespace skald::api {

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
  server->participants_ = std::make_unique<engine::ParticipantClient>();
  server->engine_ = std::make_unique<engine::Engine>(*server->store_, *server->participants_);
  server->service_ = std::make_unique<SagaServiceImpl>(*server->store_, *server->engine_);

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen_address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(server->service_.get());
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

CoordinatorServer::~CoordinatorServer() { Shutdown(); }

void CoordinatorServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (engine_) engine_->Stop();
}

}  // namespace skald::api
