#include "tests/e2e/saga_harness.h"

#include <grpcpp/grpcpp.h>

#include <pqxx/pqxx>

#include "tests/support/ready_file.h"
#include "tests/support/test_postgres.h"

namespace skald::testing {
namespace {

absl::Time FromMicros(const pqxx::field& field) {
  return absl::FromUnixMicros(field.as<long long>());
}

nlohmann::json JsonOrNull(const pqxx::field& field) {
  return field.is_null() ? nlohmann::json(nullptr) : nlohmann::json::parse(field.c_str());
}

}  // namespace

std::string RecordedCall::Describe() const {
  return step + "/" + phase + "#" + std::to_string(attempt);
}

absl::StatusOr<std::unique_ptr<SagaHarness>> SagaHarness::Start(int participants) {
  return Start(participants, {});
}

absl::StatusOr<std::unique_ptr<SagaHarness>> SagaHarness::Start(
    int participants, std::vector<std::string> coordinator_flags) {
  auto dir = TempDir::Create("skald-e2e-");
  if (!dir.ok()) return dir.status();
  std::unique_ptr<SagaHarness> harness(new SagaHarness(std::move(*dir)));
  auto participants_db = FreshDatabase("testp");
  if (!participants_db.ok()) return participants_db.status();
  harness->participants_db_ = *participants_db;
  auto coordinator_db = FreshDatabase("coordinator");
  if (!coordinator_db.ok()) return coordinator_db.status();
  harness->coordinator_ = std::make_unique<CoordinatorProcess>(
      harness->dir_.path(), *coordinator_db, std::move(coordinator_flags));

  for (int i = 0; i < participants; ++i) {
    const std::string name = harness->dir_.File("p" + std::to_string(i));
    auto started = SpawnAndWaitReady({TEST_PARTICIPANT_BINARY, "--db", harness->participants_db_,
                                      "--listen", "127.0.0.1:0", "--ready-file", name + ".ready"},
                                     name + ".log", name + ".ready");
    if (!started.ok()) return started.status();
    harness->participants_.push_back(std::move(*started));
  }
  if (auto s = harness->coordinator_->Start(); !s.ok()) return s;
  return harness;
}

absl::Status SagaHarness::Apply(nlohmann::json definition) {
  for (auto& step : definition["steps"]) {
    const std::string participant = step.value("participant", "");
    if (participant.size() < 2 || participant[0] != 'p') continue;
    const size_t index = std::stoul(participant.substr(1));
    if (index >= participants_.size()) {
      return absl::InvalidArgumentError("no participant " + participant);
    }
    step["participant"] = participants_[index].address;
  }
  grpc::Status applied = coordinator_->Apply(definition);
  if (!applied.ok()) {
    return absl::InvalidArgumentError("applying " + definition.value("name", "?") +
                                      " failed: " + applied.error_message());
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Saga> SagaHarness::Run(const std::string& definition,
                                          const nlohmann::json& input, absl::Duration timeout) {
  absl::StatusOr<std::string> id = coordinator_->StartSaga(definition, input);
  if (!id.ok()) return id.status();
  return coordinator_->WaitForEnd(*id, timeout);
}

absl::StatusOr<std::vector<RecordedCall>> SagaHarness::Calls(const std::string& saga_id) {
  try {
    pqxx::connection connection(participants_db_);
    pqxx::read_transaction tx(connection);
    const pqxx::result rows = tx.exec_params(
        "SELECT saga_id, step, phase, handler, attempt, idempotency_key, input::text,"
        " action_output::text,"
        " (extract(epoch FROM started_at) * 1000000)::bigint,"
        " (extract(epoch FROM finished_at) * 1000000)::bigint,"
        " coalesce(outcome, ''), coalesce(error_code, ''), output::text, traceparent"
        " FROM testp.calls WHERE saga_id = $1 ORDER BY started_at, id",
        saga_id);
    std::vector<RecordedCall> calls;
    for (const pqxx::row& row : rows) {
      RecordedCall call;
      call.saga_id = row[0].as<std::string>();
      call.step = row[1].as<std::string>();
      call.phase = row[2].as<std::string>();
      call.handler = row[3].as<std::string>();
      call.attempt = row[4].as<int>();
      call.idempotency_key = row[5].as<std::string>();
      call.input = JsonOrNull(row[6]);
      call.action_output = JsonOrNull(row[7]);
      call.started = FromMicros(row[8]);
      if (!row[9].is_null()) call.finished = FromMicros(row[9]);
      call.outcome = row[10].as<std::string>();
      call.error_code = row[11].as<std::string>();
      call.output = JsonOrNull(row[12]);
      call.traceparent = row[13].as<std::string>();
      calls.push_back(std::move(call));
    }
    return calls;
  } catch (const std::exception& e) {
    return absl::UnavailableError(std::string("reading testp.calls: ") + e.what());
  }
}

std::string SagaHarness::Logs() const {
  std::string logs = "coordinator log:\n" + coordinator_->LogTail();
  for (size_t i = 0; i < participants_.size(); ++i) {
    logs += "\nparticipant p" + std::to_string(i) + " log:\n" +
            ReadFileTail(participants_[i].process->log_path(), 2000);
  }
  return logs;
}

std::vector<RecordedCall> CallsOf(const std::vector<RecordedCall>& calls, const std::string& step,
                                  const std::string& phase) {
  std::vector<RecordedCall> selected;
  for (const RecordedCall& call : calls) {
    if (call.step == step && call.phase == phase) selected.push_back(call);
  }
  return selected;
}

std::map<std::string, std::string> StepStates(const v1::Saga& saga) {
  std::map<std::string, std::string> states;
  for (const v1::Step& step : saga.steps()) states[step.name()] = StateName(step.state());
  return states;
}

v1::Step StepNamed(const v1::Saga& saga, const std::string& name) {
  for (const v1::Step& step : saga.steps()) {
    if (step.name() == name) return step;
  }
  return v1::Step();
}

}  // namespace skald::testing
