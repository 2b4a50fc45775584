#include "bench/scale_checks.h"

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "skald/v1/saga_service.grpc.pb.h"

namespace skald::bench {

absl::Status PreloadFinishedSagas(const std::string& database_uri, const std::string& definition,
                                  long long count) {
  constexpr long long kChunk = 50'000;
  try {
    pqxx::connection connection(database_uri);
    for (long long first = 1; first <= count; first += kChunk) {
      const long long last = std::min(count, first + kChunk - 1);
      pqxx::work tx(connection);
      tx.exec_params0(
          "INSERT INTO sagas (id, definition_name, definition_version, state, input, output, "
          "lease_token, created_at, updated_at, finished_at) "
          "SELECT 'preloaded-' || g, $3, 1, 'COMPLETED', '{\"n\": 1}', '{}', 1, "
          "now() - interval '40 days', now() - interval '40 days', now() - interval '40 days' "
          "FROM generate_series($1::bigint, $2::bigint) g",
          first, last, definition);
      tx.exec_params0(
          "INSERT INTO saga_steps (saga_id, position, name, state, attempts, input, output) "
          "SELECT 'preloaded-' || g, p, 's' || (p + 1), 'SUCCEEDED', 1, '{}', '{}' "
          "FROM generate_series($1::bigint, $2::bigint) g, generate_series(0, 2) p",
          first, last);
      tx.exec_params0(
          "INSERT INTO saga_events (saga_id, at, type, step, phase, attempt) "
          "SELECT 'preloaded-' || g, now() - interval '40 days', "
          "CASE WHEN e = 0 THEN 'saga_created' WHEN e = 7 THEN 'saga_completed' "
          "WHEN e % 2 = 1 THEN 'attempt_started' ELSE 'attempt_succeeded' END, "
          "CASE WHEN e BETWEEN 1 AND 6 THEN 's' || ((e + 1) / 2) END, "
          "CASE WHEN e BETWEEN 1 AND 6 THEN 'action' END, "
          "CASE WHEN e BETWEEN 1 AND 6 THEN 1 ELSE 0 END "
          "FROM generate_series($1::bigint, $2::bigint) g, generate_series(0, 7) e",
          first, last);
      tx.commit();
    }
    pqxx::nontransaction vacuum(connection);
    vacuum.exec0("VACUUM ANALYZE");
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("preloading finished sagas: ") + e.what());
  }
  return absl::OkStatus();
}

absl::StatusOr<long long> CountOldFinishedSagas(const std::string& database_uri) {
  try {
    pqxx::connection connection(database_uri);
    pqxx::nontransaction tx(connection);
    return tx
        .exec1(
            "SELECT count(*) FROM sagas WHERE state IN ('COMPLETED', 'COMPENSATED', 'FAILED') "
            "AND updated_at < now() - interval '30 days'")[0]
        .as<long long>();
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("counting old sagas: ") + e.what());
  }
}

absl::Status StartWaitingSagas(const std::string& coordinator_address,
                               const std::string& definition, int count) {
  auto stub = v1::SagaService::NewStub(
      grpc::CreateChannel(coordinator_address, grpc::InsecureChannelCredentials()));
  for (int i = 0; i < count; ++i) {
    v1::StartSagaRequest request;
    request.set_definition(definition);
    request.set_input_json(R"({"wait": true, "steps": 1})");
    v1::StartSagaResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status status = stub->StartSaga(&context, request, &response);
    if (!status.ok()) {
      return absl::InternalError("starting waiting saga " + std::to_string(i) + ": " +
                                 status.error_message());
    }
  }
  return absl::OkStatus();
}

}  // namespace skald::bench
