#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "coordinator/api/guarded_operations.h"
#include "coordinator/core/api_request.h"
#include "skald/v1/registry.pb.h"
#include "skald/v1/saga_service.pb.h"

namespace httplib {
class Server;
}

// The JSON HTTP API (docs/http-api.md): the client API of SagaOperations and the
// participant registry's listing, under /api/v1. Same validation and errors as over gRPC.
namespace skald::http {

// A request's query parameters, decoded (httplib::Params).
using QueryParams = core::QueryParams;

// Adds the /api/v1 routes to `server`, each a thin adapter over `operations`: the request
// is authenticated by its "Authorization: Bearer <token>" header and checked as over gRPC
// (401 UNAUTHENTICATED, 403 PERMISSION_DENIED). `operations` must outlive the server.
void AddJsonApiRoutes(httplib::Server& server, const api::GuardedOperations& operations);

// The requests built from query parameters. Each refuses (INVALID_ARGUMENT) an unknown or
// repeated parameter and a value of the wrong type, naming it.
absl::StatusOr<v1::ListSagasRequest> ListSagasRequestFrom(const QueryParams& query);
absl::StatusOr<v1::CountSagasRequest> CountSagasRequestFrom(const QueryParams& query);
absl::StatusOr<v1::GetSagaHistoryRequest> GetSagaHistoryRequestFrom(const std::string& saga_id,
                                                                    const QueryParams& query);
absl::StatusOr<v1::GetDefinitionRequest> GetDefinitionRequestFrom(const std::string& name,
                                                                  const QueryParams& query);
absl::StatusOr<v1::ListParticipantsRequest> ListParticipantsRequestFrom(const QueryParams& query);

// Parses a saga state as the API names it: "FAILED" or "SAGA_STATE_FAILED", any case.
absl::StatusOr<v1::SagaState> ParseSagaState(const std::string& text);

}  // namespace skald::http
