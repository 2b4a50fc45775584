#include "tests/e2e/coordinator_process.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <pqxx/pqxx>
#include <thread>

#include "tests/support/ready_file.h"

namespace skald::testing {
namespace {

constexpr auto kCallDeadline = std::chrono::seconds(10);

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

std::string WithoutPrefix(const std::string& name, const std::string& prefix, int number) {
  if (name.empty()) return prefix + "(" + std::to_string(number) + ")";
  return name.starts_with(prefix) ? name.substr(prefix.size()) : name;
}

}  // namespace

bool IsTerminal(v1::SagaState state) {
  return state == v1::SAGA_STATE_COMPLETED || state == v1::SAGA_STATE_COMPENSATED ||
         state == v1::SAGA_STATE_FAILED;
}

std::string StateName(v1::SagaState state) {
  return WithoutPrefix(v1::SagaState_Name(state), "SAGA_STATE_", state);
}

std::string StateName(v1::StepState state) {
  return WithoutPrefix(v1::StepState_Name(state), "STEP_STATE_", state);
}

long long QueryCount(const std::string& uri, const std::string& sql, const std::string& param) {
  pqxx::connection connection(uri);
  pqxx::read_transaction tx(connection);
  pqxx::row row = param.empty() ? tx.exec1(sql) : tx.exec_params1(sql, param);
  return row[0].is_null() ? 0 : row[0].as<long long>();
}

absl::StatusOr<ReadyProcess> SpawnAndWaitReady(std::vector<std::string> argv,
                                               const std::string& log_path,
                                               const std::string& ready_path) {
  auto process = ChildProcess::Spawn(std::move(argv), log_path);
  if (!process.ok()) return process.status();
  auto address = WaitForReadyFile(ready_path, kReadyTimeout, process->get());
  if (!address.ok()) return address.status();
  return ReadyProcess{std::move(*process), *address};
}

absl::Status CoordinatorProcess::Start() {
  ++starts_;
  const std::string ready = dir_ + "/coordinator.ready." + std::to_string(starts_);
  std::vector<std::string> argv = {SKALD_BINARY, "serve",  "--db",         db_uri_,
                                   "--listen",   address_, "--ready-file", ready};
  const std::string http_ready = dir_ + "/coordinator.http-ready." + std::to_string(starts_);
  if (http_) {
    argv.insert(argv.end(), {"--http-listen", http_address_, "--http-ready-file", http_ready});
  }
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  auto started = SpawnAndWaitReady(std::move(argv), LogPath(starts_), ready);
  if (!started.ok()) return started.status();
  process_ = std::move(started->process);
  address_ = started->address;
  if (http_) {
    // Written just after the client API's ready file.
    auto http_address = WaitForReadyFile(http_ready, kReadyTimeout, process_.get());
    if (!http_address.ok()) return http_address.status();
    http_address_ = *http_address;
  }
  client_ = v1::SagaService::NewStub(grpc::CreateChannel(
      address_, client_credentials_ ? client_credentials_ : grpc::InsecureChannelCredentials()));
  return absl::OkStatus();
}

absl::Status CoordinatorProcess::Stop(int signal) {
  if (!process_) return absl::FailedPreconditionError("coordinator not running");
  if (auto s = process_->Signal(signal); !s.ok()) return s;
  last_exit_status_ = process_->WaitForExit(absl::Seconds(20));
  if (!last_exit_status_) return absl::DeadlineExceededError("coordinator did not exit");
  process_.reset();
  return absl::OkStatus();
}

absl::Status CoordinatorProcess::Signal(int signal) {
  if (!process_) return absl::FailedPreconditionError("coordinator not running");
  return process_->Signal(signal);
}

std::string CoordinatorProcess::Log() const { return ReadFileTail(LogPath(starts_), 1 << 24); }

grpc::Status CoordinatorProcess::Apply(const nlohmann::json& definition) {
  v1::ApplyDefinitionRequest request;
  request.set_definition_json(definition.dump());
  v1::ApplyDefinitionResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  return client_->ApplyDefinition(&context, request, &response);
}

absl::StatusOr<std::string> CoordinatorProcess::StartSaga(const std::string& definition,
                                                          const nlohmann::json& input,
                                                          const std::string& saga_id) {
  v1::StartSagaRequest request;
  request.set_definition(definition);
  request.set_input_json(input.dump());
  request.set_saga_id(saga_id);
  v1::StartSagaResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  grpc::Status status = client_->StartSaga(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response.saga_id();
}

absl::StatusOr<v1::Saga> CoordinatorProcess::GetSaga(const std::string& saga_id) {
  v1::GetSagaRequest request;
  request.set_saga_id(saga_id);
  v1::GetSagaResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  grpc::Status status = client_->GetSaga(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response.saga();
}

absl::StatusOr<v1::Saga> CoordinatorProcess::WaitFor(
    const std::string& saga_id, const std::function<bool(const v1::Saga&)>& predicate,
    absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  absl::StatusOr<v1::Saga> saga;
  while (true) {
    saga = GetSaga(saga_id);
    if (saga.ok() && predicate(*saga)) return saga;
    if (absl::Now() >= give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(
      "saga " + saga_id + " did not get there in time; last seen: " +
      (saga.ok() ? saga->DebugString() : std::string(saga.status().message())) +
      "\ncoordinator log:\n" + LogTail());
}

absl::StatusOr<v1::Saga> CoordinatorProcess::WaitForEnd(const std::string& saga_id,
                                                        absl::Duration timeout) {
  return WaitFor(
      saga_id, [](const v1::Saga& s) { return IsTerminal(s.state()); }, timeout);
}

absl::StatusOr<nlohmann::json> CoordinatorProcess::SagaOutput(const std::string& saga_id) {
  absl::StatusOr<v1::Saga> saga = GetSaga(saga_id);
  if (!saga.ok()) return saga.status();
  if (saga->output_json().empty()) return nlohmann::json(nullptr);
  return nlohmann::json::parse(saga->output_json());
}

std::string CoordinatorProcess::LogPath(int start) const {
  return dir_ + "/coordinator.log." + std::to_string(start);
}

std::string CoordinatorProcess::LogTail() const { return ReadFileTail(LogPath(starts_), 3000); }

}  // namespace skald::testing
