#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// What the JSON HTTP API reads from a request's query string and body (docs/http-api.md),
// before anything of the protobuf or gRPC kind: the shell maps these onto the client API's
// messages. Pure, so that libFuzzer can drive it (fuzz/http_request_fuzzer.cc).
namespace skald::core {

// A request's query parameters, decoded; a name may repeat.
using QueryParams = std::multimap<std::string, std::string>;

// The query of GET /api/v1/sagas.
struct ListSagasQuery {
  // The state's full name ("SAGA_STATE_FAILED"); empty: any state.
  std::string state;
  std::string definition;
  std::string created_after;
  std::string created_before;
  int32_t page_size = 0;
  std::string page_token;
};

// The query of GET /api/v1/sagas/counts.
struct CountSagasQuery {
  std::string definition;
};

// The query of GET /api/v1/sagas/{id}/history.
struct SagaHistoryQuery {
  int64_t after_event_id = 0;
};

// The query of GET /api/v1/definitions/{name}.
struct DefinitionQuery {
  int32_t version = 0;
};

// The query of GET /api/v1/participants.
struct ParticipantsQuery {
  std::string service;
  int32_t page_size = 0;
  std::string page_token;
};

// Each parser refuses (INVALID_ARGUMENT, naming it) an unknown or repeated parameter and a
// value of the wrong type.
absl::StatusOr<ListSagasQuery> ParseListSagasQuery(const QueryParams& query);
absl::StatusOr<CountSagasQuery> ParseCountSagasQuery(const QueryParams& query);
absl::StatusOr<SagaHistoryQuery> ParseSagaHistoryQuery(const QueryParams& query);
absl::StatusOr<DefinitionQuery> ParseDefinitionQuery(const QueryParams& query);
absl::StatusOr<ParticipantsQuery> ParseParticipantsQuery(const QueryParams& query);
// For endpoints that take no parameters (GET /api/v1/sagas/{id}).
absl::Status CheckNoQueryParams(const QueryParams& query);

// Returns the full name of a saga state as the API takes it: "FAILED", "failed" or
// "SAGA_STATE_FAILED" give "SAGA_STATE_FAILED". INVALID_ARGUMENT for anything else.
absl::StatusOr<std::string> ParseSagaStateName(std::string_view text);

// How deep a request body of the API may nest: its messages are flat objects of strings and
// numbers, so anything deeper is a mistake or an attack, refused before the full parse.
inline constexpr size_t kMaxRequestBodyDepth = 8;

// Checks that `body` is one JSON object (whitespace alone counts as {}), nested at most
// kMaxRequestBodyDepth deep. INVALID_ARGUMENT saying what is wrong and where: "request body:
// not valid JSON at byte 12", "request body: must be a JSON object, got array".
absl::Status CheckRequestBody(std::string_view body);

}  // namespace skald::core
