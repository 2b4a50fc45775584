#pragma once

#include "coordinator/core/definition_parser.h"
#include "coordinator/engine/engine.h"
#include "coordinator/store/saga_store.h"
#include "skald/v1/saga_service.grpc.pb.h"

namespace skald::api {

// Limits on client requests, checked before anything is stored.
struct ApiLimits {
  core::DefinitionLimits definition;
  size_t max_input_bytes = 1 << 20;
  size_t max_saga_id_length = 128;
  int max_page_size = 1000;
  int default_page_size = 50;
};

// The client API (skald.v1.SagaService). Runs on gRPC's synchronous server threads: each
// request is a short database transaction, and sagas it starts are handed to the engine.
class SagaServiceImpl final : public v1::SagaService::Service {
 public:
  SagaServiceImpl(store::SagaStore& store, engine::Engine& engine, ApiLimits limits = {})
      : store_(store), engine_(engine), limits_(limits) {}

  grpc::Status ApplyDefinition(grpc::ServerContext* context,
                               const v1::ApplyDefinitionRequest* request,
                               v1::ApplyDefinitionResponse* response) override;
  // Returns the stored document of definition `name` at `version` (0: the latest).
  grpc::Status GetDefinition(grpc::ServerContext* context, const v1::GetDefinitionRequest* request,
                             v1::GetDefinitionResponse* response) override;
  grpc::Status StartSaga(grpc::ServerContext* context, const v1::StartSagaRequest* request,
                         v1::StartSagaResponse* response) override;
  grpc::Status GetSaga(grpc::ServerContext* context, const v1::GetSagaRequest* request,
                       v1::GetSagaResponse* response) override;
  grpc::Status ListSagas(grpc::ServerContext* context, const v1::ListSagasRequest* request,
                         v1::ListSagasResponse* response) override;

 private:
  store::SagaStore& store_;
  engine::Engine& engine_;
  const ApiLimits limits_;
};

}  // namespace skald::api
