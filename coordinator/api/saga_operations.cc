#include "coordinator/api/saga_operations.h"

#include <spdlog/spdlog.h>

#include <regex>

#include "coordinator/api/proto_mapping.h"
#include "coordinator/core/definition_parser.h"

namespace skald::api {
namespace {

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

// Accepts a date ("2026-11-26") or an RFC 3339 time ("2026-11-26T10:00:00Z",
// "2026-11-26T10:00:00.123+01:00"): what the store hands PostgreSQL must not fail to parse.
bool IsTimestamp(const std::string& text) {
  static const std::regex kTime(
      R"(\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?)");
  return text.size() <= 40 && std::regex_match(text, kTime);
}

}  // namespace

absl::Status SagaOperations::ApplyDefinition(const v1::ApplyDefinitionRequest& request,
                                             v1::ApplyDefinitionResponse* response) {
  auto definition = core::ParseDefinition(request.definition_json(), limits_.definition);
  if (!definition.ok()) return definition.status();
  auto created = store_.PutDefinition(*definition);
  if (!created.ok()) return created.status();
  response->set_name(definition->name);
  response->set_version(definition->version);
  response->set_created(*created);
  if (*created) spdlog::info("definition {} v{} applied", definition->name, definition->version);
  return absl::OkStatus();
}

absl::Status SagaOperations::GetDefinition(const v1::GetDefinitionRequest& request,
                                           v1::GetDefinitionResponse* response) {
  if (auto s = core::ValidateName(request.name(), limits_.definition.max_name_length); !s.ok()) {
    return Invalid("name: " + std::string(s.message()));
  }
  if (request.version() < 0) return Invalid("version: must be 0 (latest) or positive");
  auto definition = store_.GetDefinition(request.name(), request.version());
  if (!definition.ok()) return definition.status();
  response->set_name(definition->name);
  response->set_version(definition->version);
  response->set_definition_json(definition->document.dump());
  return absl::OkStatus();
}

absl::Status SagaOperations::StartSaga(const v1::StartSagaRequest& request,
                                       v1::StartSagaResponse* response) {
  if (request.definition().empty()) return Invalid("definition: required, got empty");
  if (request.version() < 0) return Invalid("version: must be 0 (latest) or positive");
  if (!request.saga_id().empty()) {
    if (auto s = core::ValidateName(request.saga_id(), limits_.max_saga_id_length); !s.ok()) {
      return Invalid("saga_id: " + std::string(s.message()));
    }
  }
  if (request.input_json().size() > limits_.max_input_bytes) {
    return absl::ResourceExhaustedError(
        "input_json: " + std::to_string(request.input_json().size()) +
        " bytes, over the limit of " + std::to_string(limits_.max_input_bytes));
  }
  nlohmann::json input = nlohmann::json::object();
  if (!request.input_json().empty()) {
    try {
      input = nlohmann::json::parse(request.input_json());
    } catch (const nlohmann::json::parse_error& e) {
      return Invalid("input_json: not valid JSON at byte " + std::to_string(e.byte));
    }
    if (!input.is_object()) {
      return Invalid(std::string("input_json: must be a JSON object, got ") + input.type_name());
    }
  }
  auto definition = store_.GetDefinition(request.definition(), request.version());
  if (!definition.ok()) return definition.status();
  auto created = store_.CreateSaga(*definition, request.saga_id(), input, engine_.lease_holder());
  if (!created.ok()) return created.status();
  if (created->created) engine_.Admit(created->saga_id, created->lease_token);
  response->set_saga_id(created->saga_id);
  response->set_created(created->created);
  return absl::OkStatus();
}

absl::Status SagaOperations::GetSaga(const v1::GetSagaRequest& request,
                                     v1::GetSagaResponse* response) {
  if (absl::Status valid = CheckSagaId(request.saga_id()); !valid.ok()) return valid;
  auto record = store_.GetSaga(request.saga_id());
  if (!record.ok()) return record.status();
  ToWire(*record, /*with_steps=*/true, *response->mutable_saga());
  return absl::OkStatus();
}

absl::Status SagaOperations::ListSagas(const v1::ListSagasRequest& request,
                                       v1::ListSagasResponse* response) {
  if (request.page_size() < 0 || request.page_size() > limits_.max_page_size) {
    return Invalid("page_size: must be from 0 to " + std::to_string(limits_.max_page_size));
  }
  store::SagaFilter filter;
  filter.page_size = request.page_size() == 0 ? limits_.default_page_size : request.page_size();
  filter.page_token = request.page_token();
  if (request.state() != v1::SAGA_STATE_UNSPECIFIED) {
    filter.status = FromWire(request.state());
    if (!filter.status) return Invalid("state: unknown value");
  }
  if (!request.definition().empty()) filter.definition_name = request.definition();
  if (!request.created_after().empty()) {
    if (!IsTimestamp(request.created_after())) {
      return Invalid("created_after: expected an RFC 3339 time like 2026-11-26T10:00:00Z, got \"" +
                     request.created_after() + "\"");
    }
    filter.created_after = request.created_after();
  }
  if (!request.created_before().empty()) {
    if (!IsTimestamp(request.created_before())) {
      return Invalid("created_before: expected an RFC 3339 time like 2026-11-26T10:00:00Z, got \"" +
                     request.created_before() + "\"");
    }
    filter.created_before = request.created_before();
  }
  auto page = store_.ListSagas(filter);
  if (!page.ok()) return page.status();
  for (const store::SagaRecord& record : page->sagas) {
    ToWire(record, /*with_steps=*/false, *response->add_sagas());
  }
  response->set_next_page_token(page->next_page_token);
  return absl::OkStatus();
}

absl::Status SagaOperations::CheckSagaId(const std::string& saga_id) const {
  if (saga_id.empty()) return Invalid("saga_id: required, got empty");
  if (saga_id.size() > limits_.max_saga_id_length) {
    return Invalid("saga_id: longer than " + std::to_string(limits_.max_saga_id_length));
  }
  return absl::OkStatus();
}

absl::Status SagaOperations::CountSagas(const v1::CountSagasRequest& request,
                                        v1::CountSagasResponse* response) {
  std::optional<std::string> definition;
  if (!request.definition().empty()) definition = request.definition();
  auto counts = store_.CountSagas(definition);
  if (!counts.ok()) return counts.status();
  for (const auto& [status, count] : *counts) {
    (*response->mutable_by_state())[std::string(core::ToString(status))] = count;
  }
  return absl::OkStatus();
}

absl::Status SagaOperations::GetSagaHistory(const v1::GetSagaHistoryRequest& request,
                                            v1::GetSagaHistoryResponse* response) {
  if (absl::Status valid = CheckSagaId(request.saga_id()); !valid.ok()) return valid;
  if (request.after_event_id() < 0) return Invalid("after_event_id: must not be negative");
  // A saga's history is bounded by its steps and their attempts; the cap only keeps one
  // response reasonable, and a watcher asks again from the last id.
  auto events = store_.GetHistory(request.saga_id(), request.after_event_id(), 10'000);
  if (!events.ok()) return events.status();
  for (const store::HistoryRecord& record : *events) {
    v1::SagaEvent* event = response->add_events();
    event->set_id(record.id);
    event->set_at(record.at);
    event->set_type(record.type);
    event->set_step(record.step);
    event->set_phase(record.phase);
    event->set_attempt(record.attempt);
    event->set_detail_json(record.detail_json);
  }
  return absl::OkStatus();
}

absl::Status SagaOperations::AbortSaga(const v1::OperatorActionRequest&,
                                       v1::OperatorActionResponse*) {
  return absl::UnimplementedError("AbortSaga: not yet");
}

absl::Status SagaOperations::RetrySaga(const v1::OperatorActionRequest&,
                                       v1::OperatorActionResponse*) {
  return absl::UnimplementedError("RetrySaga: not yet");
}

absl::Status SagaOperations::SkipStep(const v1::OperatorActionRequest&,
                                      v1::OperatorActionResponse*) {
  return absl::UnimplementedError("SkipStep: not yet");
}

}  // namespace skald::api
