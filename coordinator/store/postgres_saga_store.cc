#include "coordinator/store/postgres_saga_store.h"

#include <algorithm>
#include <pqxx/pqxx>
#include <unordered_map>
#include <unordered_set>

#include "coordinator/core/definition_parser.h"
#include "coordinator/store/batch_rows.h"
#include "coordinator/store/statements.h"

namespace skald::store {
namespace {

using core::SagaStatus;
using core::StepStatus;
using nlohmann::json;

template <typename T>
std::optional<T> Optional(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<T>();
}

std::optional<core::TimePoint> ReadTime(const pqxx::field& field) {
  if (auto ms = Optional<long long>(field)) {
    return core::TimePoint(std::chrono::milliseconds(*ms));
  }
  return std::nullopt;
}

// Converts a stored step row into the state machine's view of it.
core::StepState ReadStep(const pqxx::row& row) {
  core::StepState step;
  step.status = core::ParseStepStatus(row[1].as<std::string>()).value_or(StepStatus::kPending);
  step.attempts = row[2].as<int>();
  step.compensation_attempts = row[3].as<int>();
  step.retry_at = ReadTime(row[4]);
  if (!row[5].is_null()) step.output = json::parse(row[5].as<std::string>());
  step.error = row[6].as<std::string>();
  step.outcome_unknown = row[7].as<bool>();
  if (!row[8].is_null()) step.input = json::parse(row[8].as<std::string>());
  step.deadline = ReadTime(row[9]);
  if (!row[10].is_null())
    step.waiting = core::WaitingFromJson(json::parse(row[10].as<std::string>()));
  if (!row[11].is_null()) {
    step.closed_wait = core::ClosedWaitFromJson(json::parse(row[11].as<std::string>()));
  }
  return step;
}

// The answer to a start whose id a saga of another definition holds.
absl::Status IdTaken(const std::string& saga_id, const std::string& existing_definition) {
  return absl::AlreadyExistsError("saga id \"" + saga_id +
                                  "\" is already used by a saga of definition \"" +
                                  existing_definition + "\"");
}

// The answer to a start whose id a saga of `existing_definition` holds: the same saga again
// (an idempotent repeat) when it is of the definition started, a clash otherwise.
absl::StatusOr<CreatedSaga> OwnStart(const std::string& saga_id,
                                     const std::string& existing_definition,
                                     const std::string& started_definition) {
  if (existing_definition != started_definition) return IdTaken(saga_id, existing_definition);
  return CreatedSaga{saga_id, false};
}

}  // namespace

absl::StatusOr<bool> PostgresSagaStore::PutDefinition(const core::SagaDefinition& definition) {
  bool created = false;
  std::optional<json> existing;
  absl::Status status = pool_.Run(
      "store definition " + definition.name + " v" + std::to_string(definition.version),
      [&](pqxx::connection& c) {
        pqxx::work tx(c);
        auto inserted = tx.exec_prepared(PreparedName(stmt::kInsertDefinition), definition.name,
                                         definition.version, definition.document.dump());
        created = inserted.affected_rows() == 1;
        if (!created) {
          auto row = tx.exec_prepared1(PreparedName(stmt::kSelectDefinition), definition.name,
                                       definition.version);
          existing = json::parse(row[1].as<std::string>());
        }
        tx.commit();
      });
  if (!status.ok()) return status;
  if (!created && *existing != definition.document) {
    return absl::AlreadyExistsError("definition " + definition.name + " version " +
                                    std::to_string(definition.version) +
                                    " is already applied with a different document; "
                                    "apply the change as a new version");
  }
  return created;
}

absl::StatusOr<core::SagaDefinition> PostgresSagaStore::GetDefinition(const std::string& name,
                                                                      int version) {
  std::optional<std::string> document;
  absl::Status status = pool_.Run("load definition " + name, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);  // One statement: no BEGIN and COMMIT round trips.
    auto rows = version == 0
                    ? tx.exec_prepared(PreparedName(stmt::kSelectLatestDefinition), name)
                    : tx.exec_prepared(PreparedName(stmt::kSelectDefinition), name, version);
    if (!rows.empty()) document = rows[0][1].as<std::string>();
  });
  if (!status.ok()) return status;
  if (!document) {
    return absl::NotFoundError(
        version == 0 ? "no definition named \"" + name + "\" has been applied"
                     : "definition \"" + name + "\" has no version " + std::to_string(version));
  }
  auto definition = core::ParseDefinition(*document);
  if (!definition.ok()) {
    return absl::InternalError("stored definition " + name +
                               " no longer parses: " + std::string(definition.status().message()));
  }
  return definition;
}

absl::StatusOr<CreatedSaga> PostgresSagaStore::CreateSaga(const core::SagaDefinition& definition,
                                                          const std::string& saga_id,
                                                          const json& input,
                                                          const LeaseHolder& holder,
                                                          const SagaStartOptions& options) {
  CreatedSaga result;
  std::string existing_definition;
  json step_names = json::array();
  for (const core::StepDefinition& step : definition.steps) step_names.push_back(step.name);
  const json detail = {{"definition", definition.name}, {"version", definition.version}};
  absl::Status status = pool_.Run("create saga", [&](pqxx::connection& c) {
    // One statement, committed on its own (see kCreateSaga).
    pqxx::nontransaction tx(c);
    std::optional<std::string> requested_id;
    if (!saga_id.empty()) requested_id = saga_id;
    std::optional<std::string> traceparent, callback_url;
    if (!options.traceparent.empty()) traceparent = options.traceparent;
    if (!options.callback_url.empty()) callback_url = options.callback_url;
    auto inserted = tx.exec_prepared(PreparedName(stmt::kCreateSaga), requested_id, definition.name,
                                     definition.version, input.dump(), holder.owner,
                                     static_cast<long long>(holder.ttl.count()), traceparent,
                                     callback_url, step_names.dump(), detail.dump());
    if (inserted.empty()) {
      // The id is taken: an idempotent repeat of an earlier start, or a clash.
      auto row = tx.exec_prepared1(PreparedName(stmt::kSelectSaga), saga_id);
      existing_definition = row[0].as<std::string>();
      result = CreatedSaga{saga_id, false};
      return;
    }
    result = CreatedSaga{inserted[0][0].as<std::string>(), true, 1};
  });
  if (!status.ok()) return status;
  if (!result.created) return OwnStart(saga_id, existing_definition, definition.name);
  return result;
}

std::vector<absl::StatusOr<CreatedSaga>> PostgresSagaStore::CreateSagas(
    const std::vector<SagaToCreate>& sagas, const LeaseHolder& holder) {
  std::vector<absl::StatusOr<CreatedSaga>> results;
  // Alone, one statement in autocommit is one round trip less than BEGIN ... COMMIT.
  if (sagas.size() <= 1) {
    for (const SagaToCreate& saga : sagas) {
      results.push_back(
          CreateSaga(*saga.definition, saga.saga_id, saga.input, holder, saga.options));
    }
    return results;
  }
  // One statement creates the batch (kCreateSagas). A requested id given twice goes in once,
  // by its first start; the repeats are answered after, as later calls would be.
  json rows = json::array();
  std::vector<std::optional<size_t>> repeat_of(sagas.size());
  std::unordered_map<std::string, size_t> first_start;
  for (size_t i = 0; i < sagas.size(); ++i) {
    const SagaToCreate& saga = sagas[i];
    if (!saga.saga_id.empty()) {
      if (auto [first, fresh] = first_start.emplace(saga.saga_id, i); !fresh) {
        repeat_of[i] = first->second;
        continue;
      }
    }
    json step_names = json::array();
    for (const core::StepDefinition& step : saga.definition->steps) step_names.push_back(step.name);
    const auto text_or_null = [](const std::string& text) {
      return text.empty() ? json(nullptr) : json(text);
    };
    rows.push_back(
        {{"i", i},
         {"id", text_or_null(saga.saga_id)},
         {"definition_name", saga.definition->name},
         {"definition_version", saga.definition->version},
         {"input", saga.input},
         {"traceparent", text_or_null(saga.options.traceparent)},
         {"callback_url", text_or_null(saga.options.callback_url)},
         {"steps", std::move(step_names)},
         {"detail",
          {{"definition", saga.definition->name}, {"version", saga.definition->version}}}});
  }
  const std::string batch = BatchParam(rows);
  absl::Status status;
  // A deadlock or serialization failure wrote nothing: the batch is tried again as a batch.
  for (int attempt = 0; attempt < 3; ++attempt) {
    status = pool_.Run("create sagas", [&](pqxx::connection& c) {
      std::vector<absl::StatusOr<CreatedSaga>> staged(sagas.size(),
                                                      absl::InternalError("not created"));
      // The owner of each id this batch did not create: the saga that had it already.
      std::unordered_map<std::string, std::string> taken_by;
      // One statement, committed on its own.
      pqxx::nontransaction tx(c);
      for (const auto& row :
           tx.exec_prepared(PreparedName(stmt::kCreateSagas), batch, holder.owner,
                            static_cast<long long>(holder.ttl.count()), rows.size())) {
        const size_t i = row[0].as<size_t>();
        const std::string id = row[1].as<std::string>();
        if (row[2].as<bool>()) {
          staged[i] = CreatedSaga{id, true, 1};
          continue;
        }
        // The id is taken: an idempotent repeat of an earlier start, or a clash.
        auto existing = tx.exec_prepared(PreparedName(stmt::kSelectSaga), id);
        if (existing.empty()) {
          staged[i] = absl::AbortedError("saga id \"" + id + "\" was taken, then deleted");
          continue;
        }
        taken_by[id] = existing[0][0].as<std::string>();
        staged[i] = OwnStart(id, taken_by[id], sagas[i].definition->name);
      }
      for (size_t i = 0; i < sagas.size(); ++i) {
        if (!repeat_of[i]) continue;
        const std::string& id = sagas[i].saga_id;
        const auto taken = taken_by.find(id);
        const std::string& owner =
            taken != taken_by.end() ? taken->second : sagas[*repeat_of[i]].definition->name;
        staged[i] = OwnStart(id, owner, sagas[i].definition->name);
      }
      results = std::move(staged);
    });
    if (!absl::IsAborted(status)) break;
  }
  if (status.ok()) return results;
  // What concerns the database as a whole is every saga's answer; retrying each alone would
  // only wait longer, and after a commit of unknown outcome could create a saga twice.
  if (absl::IsUnavailable(status)) {
    return std::vector<absl::StatusOr<CreatedSaga>>(sagas.size(), status);
  }
  // One saga's refusal rolled the whole transaction back: each is created alone, in the
  // given order, so that it gets its own answer and the others theirs.
  results.clear();
  for (const SagaToCreate& saga : sagas) {
    results.push_back(CreateSaga(*saga.definition, saga.saga_id, saga.input, holder, saga.options));
  }
  return results;
}

absl::StatusOr<SagaRecord> PostgresSagaStore::GetSaga(const std::string& saga_id) {
  std::optional<SagaRecord> record;
  absl::Status status = pool_.Run("load saga " + saga_id, [&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_prepared(PreparedName(stmt::kSelectSaga), saga_id);
    if (rows.empty()) return;
    const auto& row = rows[0];
    SagaRecord r;
    r.definition_name = row[0].as<std::string>();
    r.definition_version = row[1].as<int>();
    r.state.id = saga_id;
    r.state.status = core::ParseSagaStatus(row[2].as<std::string>()).value_or(SagaStatus::kRunning);
    r.state.input = json::parse(row[3].as<std::string>());
    r.state.error = row[4].as<std::string>();
    r.created_at = row[5].as<std::string>();
    r.updated_at = row[6].as<std::string>();
    if (!row[7].is_null()) r.state.output = json::parse(row[7].as<std::string>());
    r.state.deadline = ReadTime(row[8]);
    r.traceparent = row[9].as<std::string>();
    r.callback_url = row[10].as<std::string>();
    for (const auto& step_row : tx.exec_prepared(PreparedName(stmt::kSelectSteps), saga_id)) {
      r.step_names.push_back(step_row[0].as<std::string>());
      r.state.steps.push_back(ReadStep(step_row));
    }
    record = std::move(r);
  });
  if (!status.ok()) return status;
  if (!record) return absl::NotFoundError("no saga with id \"" + saga_id + "\"");
  return *std::move(record);
}

absl::StatusOr<int> PostgresSagaStore::DeleteFinishedSagas(std::chrono::milliseconds age,
                                                           int limit) {
  int deleted = 0;
  absl::Status status = pool_.Run("delete finished sagas", [&](pqxx::connection& c) {
    pqxx::work tx(c);
    deleted = static_cast<int>(tx.exec_prepared(PreparedName(stmt::kDeleteFinishedSagas),
                                                static_cast<long long>(age.count()), limit)
                                   .affected_rows());
    tx.commit();
  });
  if (!status.ok()) return status;
  return deleted;
}

absl::StatusOr<SagaOutcome> PostgresSagaStore::GetSagaOutcome(const std::string& saga_id) {
  std::optional<SagaOutcome> outcome;
  absl::Status status = pool_.Run("load saga " + saga_id, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);  // One statement: no BEGIN and COMMIT round trips.
    auto rows = tx.exec_prepared(PreparedName(stmt::kSelectSagaOutcome), saga_id);
    if (rows.empty()) return;
    outcome = SagaOutcome{
        core::ParseSagaStatus(rows[0][0].as<std::string>()).value_or(SagaStatus::kRunning),
        rows[0][1].as<std::string>()};
  });
  if (!status.ok()) return status;
  if (!outcome) return absl::NotFoundError("no saga with id \"" + saga_id + "\"");
  return *std::move(outcome);
}

absl::StatusOr<std::map<core::SagaStatus, int64_t>> PostgresSagaStore::CountSagas(
    const std::optional<std::string>& definition_name) {
  std::map<SagaStatus, int64_t> counts;
  absl::Status status = pool_.Run("count sagas", [&](pqxx::connection& c) {
    counts.clear();
    for (SagaStatus s : {SagaStatus::kRunning, SagaStatus::kCompensating, SagaStatus::kCompleted,
                         SagaStatus::kCompensated, SagaStatus::kFailed}) {
      counts[s] = 0;
    }
    pqxx::read_transaction tx(c);
    for (const auto& row : tx.exec_prepared(PreparedName(stmt::kCountSagas), definition_name)) {
      if (auto state = core::ParseSagaStatus(row[0].as<std::string>())) {
        counts[*state] = row[1].as<int64_t>();
      }
    }
  });
  if (!status.ok()) return status;
  return counts;
}

absl::StatusOr<std::vector<HistoryRecord>> PostgresSagaStore::GetHistory(const std::string& saga_id,
                                                                         int64_t after_id,
                                                                         int limit) {
  std::vector<HistoryRecord> events;
  bool exists = false;
  absl::Status status = pool_.Run("load history of saga " + saga_id, [&](pqxx::connection& c) {
    events.clear();
    pqxx::read_transaction tx(c);
    exists = !tx.exec_prepared(PreparedName(stmt::kSelectSaga), saga_id).empty();
    if (!exists) return;
    for (const auto& row :
         tx.exec_prepared(PreparedName(stmt::kSelectHistory), saga_id, after_id, limit)) {
      events.push_back({row[0].as<int64_t>(), row[1].as<std::string>(), row[2].as<std::string>(),
                        row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<int>(),
                        row[6].as<std::string>()});
    }
  });
  if (!status.ok()) return status;
  if (!exists) return absl::NotFoundError("no saga with id \"" + saga_id + "\"");
  return events;
}

absl::StatusOr<SagaPage> PostgresSagaStore::ListSagas(const SagaFilter& filter) {
  std::optional<std::string> cursor_time, cursor_id;
  if (!filter.page_token.empty()) {
    const size_t bar = filter.page_token.find('|');
    if (bar == std::string::npos || bar == 0) {
      return absl::InvalidArgumentError("page_token: not a token from a previous listing");
    }
    cursor_time = filter.page_token.substr(0, bar);
    cursor_id = filter.page_token.substr(bar + 1);
  }
  std::optional<std::string> status_filter;
  if (filter.status) status_filter = std::string(core::ToString(*filter.status));
  SagaPage page;
  std::string last_cursor;
  absl::Status status = pool_.Run("list sagas", [&](pqxx::connection& c) {
    page.sagas.clear();
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_prepared(PreparedName(stmt::kListSagas), status_filter,
                                 filter.definition_name, cursor_time, cursor_id,
                                 filter.page_size + 1, filter.created_after, filter.created_before);
    for (const auto& row : rows) {
      if (static_cast<int>(page.sagas.size()) == filter.page_size) {
        page.next_page_token = last_cursor;
        break;
      }
      SagaRecord r;
      r.state.id = row[0].as<std::string>();
      r.definition_name = row[1].as<std::string>();
      r.definition_version = row[2].as<int>();
      r.state.status =
          core::ParseSagaStatus(row[3].as<std::string>()).value_or(SagaStatus::kRunning);
      r.state.error = row[4].as<std::string>();
      r.created_at = row[5].as<std::string>();
      r.updated_at = row[6].as<std::string>();
      last_cursor = row[7].as<std::string>() + "|" + r.state.id;
      page.sagas.push_back(std::move(r));
    }
  });
  if (!status.ok()) {
    if (status.code() == absl::StatusCode::kInternal && cursor_time) {
      return absl::InvalidArgumentError("page_token: not a token from a previous listing");
    }
    return status;
  }
  return page;
}

absl::StatusOr<std::vector<std::string>> PostgresSagaStore::ActiveSagaIds() {
  std::vector<std::string> ids;
  absl::Status status = pool_.Run("list active sagas", [&](pqxx::connection& c) {
    ids.clear();
    pqxx::read_transaction tx(c);
    for (const auto& row : tx.exec_prepared(PreparedName(stmt::kSelectActiveSagas))) {
      ids.push_back(row[0].as<std::string>());
    }
  });
  if (!status.ok()) return status;
  return ids;
}

namespace {

std::vector<Lease> ReadLeases(const pqxx::result& rows) {
  std::vector<Lease> leases;
  leases.reserve(rows.size());
  for (const auto& row : rows) {
    leases.push_back(Lease{row[0].as<std::string>(), row[1].as<int64_t>()});
  }
  return leases;
}

}  // namespace

absl::StatusOr<std::vector<Lease>> PostgresSagaStore::ClaimSagas(const LeaseHolder& holder,
                                                                 int limit) {
  std::vector<Lease> leases;
  absl::Status status = pool_.Run("claim sagas", [&](pqxx::connection& c) {
    pqxx::work tx(c);
    leases = ReadLeases(tx.exec_prepared(PreparedName(stmt::kClaimSagas), holder.owner,
                                         static_cast<long long>(holder.ttl.count()), limit));
    tx.commit();
  });
  if (!status.ok()) return status;
  return leases;
}

absl::StatusOr<std::vector<Lease>> PostgresSagaStore::UpdateLeases(std::string_view statement,
                                                                   const LeaseHolder& holder) {
  std::vector<Lease> leases;
  absl::Status status = pool_.Run(std::string(statement), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    leases = ReadLeases(tx.exec_prepared(PreparedName(statement), holder.owner,
                                         static_cast<long long>(holder.ttl.count())));
    tx.commit();
  });
  if (!status.ok()) return status;
  return leases;
}

absl::StatusOr<std::vector<Lease>> PostgresSagaStore::RenewLeases(const LeaseHolder& holder) {
  std::vector<Lease> leases;
  json skipped = json::array();
  const auto ttl = static_cast<long long>(holder.ttl.count());
  absl::Status status = pool_.Run("renew leases", [&](pqxx::connection& c) {
    leases.clear();
    skipped = json::array();
    pqxx::work tx(c);
    for (const auto& row : tx.exec_params(SqlOf(stmt::kRenewLeases), holder.owner, ttl)) {
      if (row[2].as<bool>()) {
        leases.push_back(Lease{row[0].as<std::string>(), row[1].as<int64_t>()});
      } else {
        skipped.push_back(row[0].as<std::string>());
      }
    }
    tx.commit();
  });
  if (!status.ok() || skipped.empty()) {
    if (!status.ok()) return status;
    return leases;
  }
  // The rows a batch was writing: renewed once it has committed, each still this owner's.
  status = pool_.Run("renew leases", [&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto rows =
        tx.exec_params(SqlOf(stmt::kRenewLeasesOf), holder.owner, ttl, BatchParam(skipped));
    for (const auto& row : rows) {
      leases.push_back(Lease{row[0].as<std::string>(), row[1].as<int64_t>()});
    }
    tx.commit();
  });
  if (!status.ok()) return status;
  return leases;
}

absl::StatusOr<std::vector<Lease>> PostgresSagaStore::ReclaimOwnLeases(const LeaseHolder& holder) {
  return UpdateLeases(stmt::kReclaimOwnLeases, holder);
}

absl::StatusOr<int64_t> PostgresSagaStore::TakeLease(const std::string& saga_id,
                                                     const LeaseHolder& holder) {
  std::optional<int64_t> token;
  absl::Status status = pool_.Run("take the lease of saga " + saga_id, [&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto rows = tx.exec_prepared(PreparedName(stmt::kTakeLease), saga_id, holder.owner,
                                 static_cast<long long>(holder.ttl.count()));
    if (!rows.empty()) token = rows[0][0].as<int64_t>();
    tx.commit();
  });
  if (!status.ok()) return status;
  if (!token) return absl::NotFoundError("no saga with id \"" + saga_id + "\"");
  return *token;
}

absl::Status PostgresSagaStore::ReleaseLeases(const std::string& owner) {
  return pool_.Run("release leases", [&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_prepared(PreparedName(stmt::kReleaseLeases), owner);
    // Delivered at commit, to every coordinator listening.
    tx.exec_prepared(PreparedName(stmt::kNotifyWork), owner);
    tx.commit();
  });
}

absl::StatusOr<std::vector<std::string>> PostgresSagaStore::CommitTransitions(
    const std::vector<TransitionWrite>& writes, const std::string& owner) {
  json sagas = json::array();
  for (const TransitionWrite& write : writes) {
    const core::SagaState& after = write.transition->state;
    // Always written: the update both checks the lease token (fencing) and locks the saga's
    // row until commit, so no claim can slip in between.
    json row = SagaRow(after, write.lease_token);
    // The statement queues the outcome notice of a saga finished now (see kUpdateSagas).
    const bool finished = FinishesSaga(*write.before, *write.transition);
    row["finished"] = finished;
    row["notify"] = finished && !write.definition->notify.empty() ? json(write.definition->notify)
                                                                  : json(nullptr);
    sagas.push_back(std::move(row));
  }
  const std::string saga_rows = BatchParam(sagas);
  std::vector<std::string> fenced;
  absl::Status status = pool_.Run("commit saga transitions", [&](pqxx::connection& c) {
    fenced.clear();
    pqxx::work tx(c);
    // The batch statements are prepared, and PostgreSQL keeps one generic plan for them
    // after a few executions, perhaps made while the tables were small: a sequential scan
    // then, kept as they grow. Every row they touch is found by its key, so they may never
    // scan (batch_plan_pgtest).
    tx.exec0("SET LOCAL enable_seqscan = off");
    std::unordered_set<std::string> updated;
    for (const auto& row :
         tx.exec_prepared(PreparedName(stmt::kUpdateSagas), saga_rows, owner, sagas.size())) {
      updated.insert(row[0].as<std::string>());
    }
    json steps = json::array();
    json events = json::array();
    for (const TransitionWrite& write : writes) {
      const core::SagaState& before = *write.before;
      const core::SagaState& after = write.transition->state;
      if (!updated.contains(after.id)) {
        fenced.push_back(after.id);
        continue;
      }
      for (size_t i = 0; i < after.steps.size(); ++i) {
        if (after.steps[i] != before.steps[i]) {
          steps.push_back(StepRow(after.id, static_cast<int>(i), after.steps[i]));
        }
      }
      for (const core::HistoryEntry& entry : write.transition->history) {
        events.push_back(
            EventRow(static_cast<int>(events.size()), after.id, *write.definition, entry));
      }
      QueueAlerts(tx, before, *write.transition, *write.definition, outbox_);
    }
    if (!steps.empty()) {
      tx.exec_prepared0(PreparedName(stmt::kUpdateSteps), BatchParam(steps), steps.size());
    }
    if (!events.empty()) tx.exec_prepared0(PreparedName(stmt::kInsertEvents), BatchParam(events));
    tx.commit();
  });
  if (!status.ok()) return status;
  return fenced;
}

}  // namespace skald::store
