// A SagaService / ParticipantRegistry client that presents an API token, and an HTTP client
// for the coordinator's HTTP port, for the end-to-end tests of authentication and limits.
#pragma once

#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <map>
#include <memory>
#include <string>

#include "nlohmann/json.hpp"
#include "skald/v1/registry.grpc.pb.h"
#include "skald/v1/saga_service.grpc.pb.h"

namespace skald::testing {

// Calls the coordinator at `address` with "authorization: Bearer <token>" (none when the
// token is empty); every call bounded by 10 s.
class ApiClient {
 public:
  ApiClient(const std::string& address, std::string token)
      : channel_(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())),
        sagas_(v1::SagaService::NewStub(channel_)),
        registry_(v1::ParticipantRegistry::NewStub(channel_)),
        token_(std::move(token)) {}

  // A context with the deadline and the token.
  std::unique_ptr<grpc::ClientContext> Context() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
    return context;
  }

  grpc::Status Apply(const nlohmann::json& definition) {
    v1::ApplyDefinitionRequest request;
    request.set_definition_json(definition.dump());
    v1::ApplyDefinitionResponse response;
    return sagas_->ApplyDefinition(Context().get(), request, &response);
  }
  grpc::Status Start(const std::string& definition, const nlohmann::json& input,
                     const std::string& saga_id = "") {
    v1::StartSagaRequest request;
    request.set_definition(definition);
    request.set_input_json(input.dump());
    request.set_saga_id(saga_id);
    v1::StartSagaResponse response;
    return sagas_->StartSaga(Context().get(), request, &response);
  }
  grpc::Status Get(const std::string& saga_id, v1::Saga* saga = nullptr) {
    v1::GetSagaRequest request;
    request.set_saga_id(saga_id);
    v1::GetSagaResponse response;
    grpc::Status status = sagas_->GetSaga(Context().get(), request, &response);
    if (saga) *saga = response.saga();
    return status;
  }
  grpc::Status List(const std::string& definition, v1::ListSagasResponse* response = nullptr,
                    int page_size = 0) {
    v1::ListSagasRequest request;
    request.set_definition(definition);
    request.set_page_size(page_size);
    v1::ListSagasResponse ignored;
    return sagas_->ListSagas(Context().get(), request, response ? response : &ignored);
  }
  grpc::Status Abort(const std::string& saga_id, const std::string& operator_name,
                     const std::string& reason) {
    v1::OperatorActionRequest request;
    request.set_saga_id(saga_id);
    request.set_operator_(operator_name);
    request.set_reason(reason);
    v1::OperatorActionResponse response;
    return sagas_->AbortSaga(Context().get(), request, &response);
  }
  grpc::Status History(const std::string& saga_id, v1::GetSagaHistoryResponse* response) {
    v1::GetSagaHistoryRequest request;
    request.set_saga_id(saga_id);
    return sagas_->GetSagaHistory(Context().get(), request, response);
  }
  grpc::Status Register(const std::string& service, const std::string& address) {
    v1::RegisterRequest request;
    request.set_service(service);
    request.set_instance_id(service + "-1");
    request.set_address(address);
    request.add_actions("echo");
    v1::RegisterReply reply;
    return registry_->Register(Context().get(), request, &reply);
  }
  v1::SagaService::Stub& sagas() { return *sagas_; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::SagaService::Stub> sagas_;
  std::unique_ptr<v1::ParticipantRegistry::Stub> registry_;
  const std::string token_;
};

struct HttpAnswer {
  int status = 0;  // 0: no answer
  std::string body;
  std::string www_authenticate;
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// A client of the coordinator's HTTP port sending "Authorization: Bearer <token>" (none
// when empty); every call bounded by 10 s.
class HttpApi {
 public:
  HttpApi(const std::string& address, std::string token)
      : client_(address.substr(0, address.rfind(':')),
                std::stoi(address.substr(address.rfind(':') + 1))),
        token_(std::move(token)) {
    client_.set_connection_timeout(5);
    client_.set_read_timeout(10);
    client_.set_write_timeout(10);
  }

  HttpAnswer Get(const std::string& path) { return Answer(client_.Get(path.c_str(), Headers())); }
  HttpAnswer Post(const std::string& path, const std::string& body) {
    return Answer(client_.Post(path.c_str(), Headers(), body, "application/json"));
  }

 private:
  httplib::Headers Headers() const {
    if (token_.empty()) return {};
    return {{"Authorization", "Bearer " + token_}};
  }
  static HttpAnswer Answer(const httplib::Result& result) {
    if (!result) return {0, httplib::to_string(result.error()), ""};
    return {result->status, result->body, result->get_header_value("WWW-Authenticate")};
  }
  httplib::Client client_;
  const std::string token_;
};

// The value of the Prometheus sample `series` (e.g. `skald_x_total{reason="a"}`) in a
// scrape; 0 when absent.
inline double Sample(const std::string& scrape, const std::string& series) {
  size_t at = 0;
  while ((at = scrape.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || scrape[at - 1] == '\n') {
      return std::stod(scrape.substr(at + series.size() + 1));
    }
    at += series.size();
  }
  return 0;
}

}  // namespace skald::testing
