#include "coordinator/http/json_api.h"

#include <httplib.h>

#include <optional>

#include "coordinator/http/json_codec.h"

namespace skald::http {
namespace {

void ReplyError(httplib::Response& response, const absl::Status& status) {
  response.status = HttpStatusFor(status.code());
  if (absl::IsUnauthenticated(status)) response.set_header("WWW-Authenticate", "Bearer");
  response.set_header("Cache-Control", "no-store");
  response.set_content(ErrorBody(status), "application/json");
}

void Reply(httplib::Response& response, const absl::Status& status,
           const google::protobuf::Message& message) {
  if (!status.ok()) return ReplyError(response, status);
  response.status = 200;
  response.set_header("Cache-Control", "no-store");
  response.set_content(ToJson(message), "application/json");
}

// Answers with the response of `call(request)`, or the error of building the request.
template <typename Request, typename Response, typename Call>
void Answer(httplib::Response& http_response, const absl::StatusOr<Request>& request, Call call) {
  if (!request.ok()) return ReplyError(http_response, request.status());
  Response response;
  Reply(http_response, call(*request, &response), response);
}

// Returns the caller of `request`; answers `response` with the refusal and returns nothing
// when it is not authenticated.
std::optional<api::Caller> CallerOf(const api::GuardedOperations& api,
                                    const httplib::Request& request, httplib::Response& response) {
  absl::StatusOr<api::Caller> caller = api.Authenticate(request.get_header_value("Authorization"));
  if (!caller.ok()) {
    ReplyError(response, caller.status());
    return std::nullopt;
  }
  return *caller;
}

}  // namespace

absl::StatusOr<v1::SagaState> ParseSagaState(const std::string& text) {
  absl::StatusOr<std::string> name = core::ParseSagaStateName(text);
  if (!name.ok()) return name.status();
  v1::SagaState state = v1::SAGA_STATE_UNSPECIFIED;
  if (!v1::SagaState_Parse(*name, &state))
    return absl::InvalidArgumentError("state: unknown value \"" + text + "\"");
  return state;
}

absl::StatusOr<v1::ListSagasRequest> ListSagasRequestFrom(const QueryParams& query) {
  absl::StatusOr<core::ListSagasQuery> parsed = core::ParseListSagasQuery(query);
  if (!parsed.ok()) return parsed.status();
  v1::ListSagasRequest request;
  if (!parsed->state.empty()) {
    absl::StatusOr<v1::SagaState> state = ParseSagaState(parsed->state);
    if (!state.ok()) return state.status();
    request.set_state(*state);
  }
  request.set_definition(parsed->definition);
  request.set_created_after(parsed->created_after);
  request.set_created_before(parsed->created_before);
  request.set_page_token(parsed->page_token);
  request.set_page_size(parsed->page_size);
  return request;
}

absl::StatusOr<v1::CountSagasRequest> CountSagasRequestFrom(const QueryParams& query) {
  absl::StatusOr<core::CountSagasQuery> parsed = core::ParseCountSagasQuery(query);
  if (!parsed.ok()) return parsed.status();
  v1::CountSagasRequest request;
  request.set_definition(parsed->definition);
  return request;
}

absl::StatusOr<v1::GetSagaHistoryRequest> GetSagaHistoryRequestFrom(const std::string& saga_id,
                                                                    const QueryParams& query) {
  absl::StatusOr<core::SagaHistoryQuery> parsed = core::ParseSagaHistoryQuery(query);
  if (!parsed.ok()) return parsed.status();
  v1::GetSagaHistoryRequest request;
  request.set_saga_id(saga_id);
  request.set_after_event_id(parsed->after_event_id);
  return request;
}

absl::StatusOr<v1::GetDefinitionRequest> GetDefinitionRequestFrom(const std::string& name,
                                                                  const QueryParams& query) {
  absl::StatusOr<core::DefinitionQuery> parsed = core::ParseDefinitionQuery(query);
  if (!parsed.ok()) return parsed.status();
  v1::GetDefinitionRequest request;
  request.set_name(name);
  request.set_version(parsed->version);
  return request;
}

absl::StatusOr<v1::ListParticipantsRequest> ListParticipantsRequestFrom(const QueryParams& query) {
  absl::StatusOr<core::ParticipantsQuery> parsed = core::ParseParticipantsQuery(query);
  if (!parsed.ok()) return parsed.status();
  v1::ListParticipantsRequest request;
  request.set_service(parsed->service);
  request.set_page_size(parsed->page_size);
  request.set_page_token(parsed->page_token);
  return request;
}

// POST routes take no query parameters and do not check them. Their bodies are JSON
// (Content-Type: application/json, checked with the request's head in http_server.cc). Every
// route authenticates first, then parses its request, then hands it to GuardedOperations
// (which checks the caller's permission, as for gRPC, and calls).
void AddJsonApiRoutes(httplib::Server& server, const api::GuardedOperations& operations) {
  using httplib::Request;
  using httplib::Response;
  const api::GuardedOperations* api = &operations;

  server.Get("/api/v1/sagas", [api](const Request& req, Response& res) {
    std::optional<api::Caller> caller = CallerOf(*api, req, res);
    if (!caller) return;
    Answer<v1::ListSagasRequest, v1::ListSagasResponse>(
        res, ListSagasRequestFrom(req.params), [&](const auto& request, auto* response) {
          return api->ListSagas(*caller, request, response);
        });
  });
  // Before the saga route: "counts" is not a saga id here.
  server.Get("/api/v1/sagas/counts", [api](const Request& req, Response& res) {
    std::optional<api::Caller> caller = CallerOf(*api, req, res);
    if (!caller) return;
    Answer<v1::CountSagasRequest, v1::CountSagasResponse>(
        res, CountSagasRequestFrom(req.params), [&](const auto& request, auto* response) {
          return api->CountSagas(*caller, request, response);
        });
  });
  server.Get(R"(/api/v1/sagas/([^/]+))", [api](const Request& req, Response& res) {
    std::optional<api::Caller> caller = CallerOf(*api, req, res);
    if (!caller) return;
    absl::StatusOr<v1::GetSagaRequest> request = v1::GetSagaRequest();
    if (absl::Status s = core::CheckNoQueryParams(req.params); !s.ok()) request = s;
    if (request.ok()) request->set_saga_id(req.matches[1]);
    Answer<v1::GetSagaRequest, v1::GetSagaResponse>(
        res, request, [&](const auto& request, auto* response) {
          return api->GetSaga(*caller, request, response);
        });
  });
  server.Get(R"(/api/v1/sagas/([^/]+)/history)", [api](const Request& req, Response& res) {
    std::optional<api::Caller> caller = CallerOf(*api, req, res);
    if (!caller) return;
    Answer<v1::GetSagaHistoryRequest, v1::GetSagaHistoryResponse>(
        res, GetSagaHistoryRequestFrom(req.matches[1], req.params),
        [&](const auto& request, auto* response) {
          return api->GetSagaHistory(*caller, request, response);
        });
  });
  server.Post("/api/v1/sagas", [api](const Request& req, Response& res) {
    std::optional<api::Caller> caller = CallerOf(*api, req, res);
    if (!caller) return;
    v1::StartSagaRequest request;
    if (absl::Status parsed = FromJson(req.body, &request); !parsed.ok()) {
      return ReplyError(res, parsed);
    }
    v1::StartSagaResponse response;
    Reply(res, api->StartSaga(*caller, request, &response), response);
  });
  server.Post(
      R"(/api/v1/sagas/([^/]+)/(abort|retry|skip))", [api](const Request& req, Response& res) {
        std::optional<api::Caller> caller = CallerOf(*api, req, res);
        if (!caller) return;
        v1::OperatorActionRequest request;
        absl::Status parsed = FromJson(req.body, &request);
        const std::string saga_id = req.matches[1];
        if (parsed.ok() && !request.saga_id().empty() && request.saga_id() != saga_id) {
          parsed = absl::InvalidArgumentError("saga_id: the body names \"" + request.saga_id() +
                                              "\", the path \"" + saga_id +
                                              "\"; leave it out of the body");
        }
        if (!parsed.ok()) return ReplyError(res, parsed);
        request.set_saga_id(saga_id);
        const std::string action = req.matches[2];
        v1::OperatorActionResponse response;
        absl::Status status = action == "abort"   ? api->AbortSaga(*caller, request, &response)
                              : action == "retry" ? api->RetrySaga(*caller, request, &response)
                                                  : api->SkipStep(*caller, request, &response);
        Reply(res, status, response);
      });
  server.Post(R"(/api/v1/sagas/([^/]+)/resolve)", [api](const Request& req, Response& res) {
    std::optional<api::Caller> caller = CallerOf(*api, req, res);
    if (!caller) return;
    v1::ResolveStepRequest request;
    absl::Status parsed = FromJson(req.body, &request);
    const std::string saga_id = req.matches[1];
    if (parsed.ok() && !request.saga_id().empty() && request.saga_id() != saga_id) {
      parsed =
          absl::InvalidArgumentError("saga_id: the body names \"" + request.saga_id() +
                                     "\", the path \"" + saga_id + "\"; leave it out of the body");
    }
    if (!parsed.ok()) return ReplyError(res, parsed);
    request.set_saga_id(saga_id);
    v1::OperatorActionResponse response;
    Reply(res, api->ResolveStep(*caller, request, &response), response);
  });
  // Long-running steps: the saga and step are in the token, not the path.
  server.Post("/api/v1/steps/complete", [api](const Request& req, Response& res) {
    std::optional<api::Caller> caller = CallerOf(*api, req, res);
    if (!caller) return;
    v1::CompleteStepRequest request;
    if (absl::Status parsed = FromJson(req.body, &request); !parsed.ok()) {
      return ReplyError(res, parsed);
    }
    v1::CompleteStepResponse response;
    Reply(res, api->CompleteStep(*caller, request, &response), response);
  });
  server.Post("/api/v1/steps/heartbeat", [api](const Request& req, Response& res) {
    std::optional<api::Caller> caller = CallerOf(*api, req, res);
    if (!caller) return;
    v1::HeartbeatRequest request;
    if (absl::Status parsed = FromJson(req.body, &request); !parsed.ok()) {
      return ReplyError(res, parsed);
    }
    v1::HeartbeatResponse response;
    Reply(res, api->Heartbeat(*caller, request, &response), response);
  });
  server.Get(R"(/api/v1/definitions/([^/]+))", [api](const Request& req, Response& res) {
    std::optional<api::Caller> caller = CallerOf(*api, req, res);
    if (!caller) return;
    Answer<v1::GetDefinitionRequest, v1::GetDefinitionResponse>(
        res, GetDefinitionRequestFrom(req.matches[1], req.params),
        [&](const auto& request, auto* response) {
          return api->GetDefinition(*caller, request, response);
        });
  });
  server.Post("/api/v1/definitions", [api](const Request& req, Response& res) {
    std::optional<api::Caller> caller = CallerOf(*api, req, res);
    if (!caller) return;
    v1::ApplyDefinitionRequest request;
    request.set_definition_json(req.body);
    v1::ApplyDefinitionResponse response;
    Reply(res, api->ApplyDefinition(*caller, request, &response), response);
  });
  server.Get("/api/v1/participants", [api](const Request& req, Response& res) {
    std::optional<api::Caller> caller = CallerOf(*api, req, res);
    if (!caller) return;
    Answer<v1::ListParticipantsRequest, v1::ListParticipantsReply>(
        res, ListParticipantsRequestFrom(req.params), [&](const auto& request, auto* response) {
          return api->ListParticipants(*caller, request, response);
        });
  });
}

}  // namespace skald::http
