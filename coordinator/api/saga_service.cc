#include "coordinator/api/saga_service.h"

#include <spdlog/spdlog.h>

#include "coordinator/api/proto_mapping.h"
#include "coordinator/core/definition_parser.h"

namespace skald::api {
namespace {

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

}  // namespace

grpc::Status SagaServiceImpl::ApplyDefinition(grpc::ServerContext*,
                                              const v1::ApplyDefinitionRequest* request,
                                              v1::ApplyDefinitionResponse* response) {
  auto definition = core::ParseDefinition(request->definition_json(), limits_.definition);
  if (!definition.ok()) return ToGrpc(definition.status());
  auto created = store_.PutDefinition(*definition);
  if (!created.ok()) return ToGrpc(created.status());
  response->set_name(definition->name);
  response->set_version(definition->version);
  response->set_created(*created);
  if (*created) spdlog::info("definition {} v{} applied", definition->name, definition->version);
  return grpc::Status::OK;
}

grpc::Status SagaServiceImpl::GetDefinition(grpc::ServerContext*,
                                            const v1::GetDefinitionRequest* request,
                                            v1::GetDefinitionResponse* response) {
  if (auto s = core::ValidateName(request->name(), limits_.definition.max_name_length); !s.ok()) {
    return Invalid("name: " + std::string(s.message()));
  }
  if (request->version() < 0) return Invalid("version: must be 0 (latest) or positive");
  auto definition = store_.GetDefinition(request->name(), request->version());
  if (!definition.ok()) return ToGrpc(definition.status());
  response->set_name(definition->name);
  response->set_version(definition->version);
  response->set_definition_json(definition->document.dump());
  return grpc::Status::OK;
}

grpc::Status SagaServiceImpl::StartSaga(grpc::ServerContext*, const v1::StartSagaRequest* request,
                                        v1::StartSagaResponse* response) {
  if (request->definition().empty()) return Invalid("definition: required, got empty");
  if (request->version() < 0) return Invalid("version: must be 0 (latest) or positive");
  if (!request->saga_id().empty()) {
    if (auto s = core::ValidateName(request->saga_id(), limits_.max_saga_id_length); !s.ok()) {
      return Invalid("saga_id: " + std::string(s.message()));
    }
  }
  if (request->input_json().size() > limits_.max_input_bytes) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "input_json: " + std::to_string(request->input_json().size()) +
                            " bytes, over the limit of " + std::to_string(limits_.max_input_bytes));
  }
  nlohmann::json input = nlohmann::json::object();
  if (!request->input_json().empty()) {
    try {
      input = nlohmann::json::parse(request->input_json());
    } catch (const nlohmann::json::parse_error& e) {
      return Invalid("input_json: not valid JSON at byte " + std::to_string(e.byte));
    }
    if (!input.is_object()) {
      return Invalid(std::string("input_json: must be a JSON object, got ") + input.type_name());
    }
  }
  auto definition = store_.GetDefinition(request->definition(), request->version());
  if (!definition.ok()) return ToGrpc(definition.status());
  auto created = store_.CreateSaga(*definition, request->saga_id(), input, engine_.lease_holder());
  if (!created.ok()) return ToGrpc(created.status());
  if (created->created) engine_.Admit(created->saga_id, created->lease_token);
  response->set_saga_id(created->saga_id);
  response->set_created(created->created);
  return grpc::Status::OK;
}

grpc::Status SagaServiceImpl::GetSaga(grpc::ServerContext*, const v1::GetSagaRequest* request,
                                      v1::GetSagaResponse* response) {
  if (request->saga_id().empty()) return Invalid("saga_id: required, got empty");
  if (request->saga_id().size() > limits_.max_saga_id_length) {
    return Invalid("saga_id: longer than " + std::to_string(limits_.max_saga_id_length));
  }
  auto record = store_.GetSaga(request->saga_id());
  if (!record.ok()) return ToGrpc(record.status());
  ToWire(*record, /*with_steps=*/true, *response->mutable_saga());
  return grpc::Status::OK;
}

grpc::Status SagaServiceImpl::ListSagas(grpc::ServerContext*, const v1::ListSagasRequest* request,
                                        v1::ListSagasResponse* response) {
  if (request->page_size() < 0 || request->page_size() > limits_.max_page_size) {
    return Invalid("page_size: must be from 0 to " + std::to_string(limits_.max_page_size));
  }
  store::SagaFilter filter;
  filter.page_size = request->page_size() == 0 ? limits_.default_page_size : request->page_size();
  filter.page_token = request->page_token();
  if (request->state() != v1::SAGA_STATE_UNSPECIFIED) {
    filter.status = FromWire(request->state());
    if (!filter.status) return Invalid("state: unknown value");
  }
  if (!request->definition().empty()) filter.definition_name = request->definition();
  auto page = store_.ListSagas(filter);
  if (!page.ok()) return ToGrpc(page.status());
  for (const store::SagaRecord& record : page->sagas) {
    ToWire(record, /*with_steps=*/false, *response->add_sagas());
  }
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

}  // namespace skald::api
