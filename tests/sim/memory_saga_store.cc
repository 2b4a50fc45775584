#include "tests/sim/memory_saga_store.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <tuple>
#include <utility>

#include "coordinator/core/definition_parser.h"
#include "coordinator/store/batch_rows.h"
#include "coordinator/store/database_error.h"
#include "tests/sim/jsonb_text.h"
#include "tests/sim/postgres_time_text.h"

namespace skald::sim {

using core::SagaStatus;
using core::StepStatus;
using core::TimePoint;
using nlohmann::json;

struct MemorySagaStore::Row {
  std::string id;
  std::string definition_name;
  int definition_version = 0;
  SagaStatus status = SagaStatus::kRunning;
  json input;
  std::string error;
  json output;  // null: SQL NULL
  std::optional<TimePoint> deadline;
  TimePoint created_at;
  TimePoint updated_at;
  std::string traceparent;
  std::string callback_url;
  std::optional<std::string> owner;
  int64_t lease_token = 0;
  std::optional<TimePoint> lease_expires_at;
  std::vector<std::string> step_names;
  std::vector<core::StepState> steps;
  std::vector<store::HistoryRecord> history;
  std::vector<core::Notice> notices;
  // Creation order: breaks ties between equal times, which PostgreSQL leaves unordered.
  uint64_t sequence = 0;

  bool Active() const {
    return status == SagaStatus::kRunning || status == SagaStatus::kCompensating;
  }
  bool Finished() const {
    return status == SagaStatus::kCompleted || status == SagaStatus::kCompensated;
  }
};

namespace {

// What PostgresSagaStore names each call in its errors (the start of ConnectionPool::Run's
// `what`, without the saga id some of them add).
std::string_view WhatOf(StoreOperation operation) {
  switch (operation) {
    case StoreOperation::kPutDefinition:
      return "store definition";
    case StoreOperation::kGetDefinition:
      return "load definition";
    case StoreOperation::kCreateSaga:
      return "create saga";
    case StoreOperation::kClaimSagas:
      return "claim sagas";
    case StoreOperation::kRenewLeases:
      return "renew_leases";
    case StoreOperation::kReclaimOwnLeases:
      return "reclaim_own_leases";
    case StoreOperation::kReleaseLeases:
      return "release leases";
    case StoreOperation::kTakeLease:
      return "take the lease";
    case StoreOperation::kGetSaga:
    case StoreOperation::kGetSagaOutcome:
      return "load saga";
    case StoreOperation::kDeleteFinishedSagas:
      return "delete finished sagas";
    case StoreOperation::kListSagas:
      return "list sagas";
    case StoreOperation::kCountSagas:
      return "count sagas";
    case StoreOperation::kGetHistory:
      return "load history";
    case StoreOperation::kActiveSagaIds:
      return "list active sagas";
    case StoreOperation::kCommitTransitions:
      return "commit saga transitions";
  }
  return "other";
}

// The status PostgresSagaStore returns when PostgreSQL refuses `what` with `sqlstate` ("" for
// an exception without one, which is INTERNAL).
absl::Status Refusal(std::string_view what, std::string_view sqlstate) {
  return store::RefusalStatus(what, store::ClassifySqlState(sqlstate));
}

// A LIMIT below zero: PostgreSQL refuses it (22 class, 2201W).
absl::Status NegativeLimit(std::string_view what) { return Refusal(what, "2201W"); }

bool HoldsNul(const json& value) {
  if (value.is_string()) {
    return value.get_ref<const std::string&>().find('\0') != std::string::npos;
  }
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      if (key.find('\0') != std::string::npos || HoldsNul(item)) return true;
    }
  }
  if (value.is_array()) {
    for (const json& item : value) {
      if (HoldsNul(item)) return true;
    }
  }
  return false;
}

// Returns `value` as PostgreSQL stores it as jsonb, from the text PostgresSagaStore sends:
// with invalid UTF-8 replaced when `replace` (its batch parameters), else as json::dump()
// which throws on invalid UTF-8 inside the store's transaction (INTERNAL). A NUL character
// anywhere is refused (22P05), as jsonb refuses \u0000.
absl::StatusOr<json> ThroughJsonb(const json& value, bool replace, std::string_view what) {
  std::string text;
  try {
    text = replace ? value.dump(-1, ' ', false, json::error_handler_t::replace) : value.dump();
  } catch (const json::exception&) {
    return Refusal(what, "");
  }
  json stored = json::parse(text);
  if (HoldsNul(stored)) return Refusal(what, "22P05");
  return stored;
}

std::optional<TimePoint> ReadTime(const json& value) {
  if (value.is_null()) return std::nullopt;
  return TimePoint(std::chrono::milliseconds(value.get<int64_t>()));
}

std::string TextOrEmpty(const json& value) {
  return value.is_null() ? std::string() : value.get<std::string>();
}

}  // namespace

std::string_view ToString(StoreOperation operation) {
  switch (operation) {
    case StoreOperation::kPutDefinition:
      return "PutDefinition";
    case StoreOperation::kGetDefinition:
      return "GetDefinition";
    case StoreOperation::kCreateSaga:
      return "CreateSaga";
    case StoreOperation::kClaimSagas:
      return "ClaimSagas";
    case StoreOperation::kRenewLeases:
      return "RenewLeases";
    case StoreOperation::kReclaimOwnLeases:
      return "ReclaimOwnLeases";
    case StoreOperation::kReleaseLeases:
      return "ReleaseLeases";
    case StoreOperation::kTakeLease:
      return "TakeLease";
    case StoreOperation::kGetSaga:
      return "GetSaga";
    case StoreOperation::kDeleteFinishedSagas:
      return "DeleteFinishedSagas";
    case StoreOperation::kGetSagaOutcome:
      return "GetSagaOutcome";
    case StoreOperation::kListSagas:
      return "ListSagas";
    case StoreOperation::kCountSagas:
      return "CountSagas";
    case StoreOperation::kGetHistory:
      return "GetHistory";
    case StoreOperation::kActiveSagaIds:
      return "ActiveSagaIds";
    case StoreOperation::kCommitTransitions:
      return "CommitTransitions";
  }
  return "Unknown";
}

StoreFault StoreFault::ConnectionLost(StoreOperation operation) {
  return {Refusal(WhatOf(operation), "08006"), false};
}

StoreFault StoreFault::OutcomeUnknown(StoreOperation operation) {
  const bool one_statement = operation == StoreOperation::kCreateSaga;
  return {Refusal(WhatOf(operation), one_statement ? "08006" : "08007"), true};
}

StoreFault StoreFault::ReadOnly(StoreOperation operation) {
  return {Refusal(WhatOf(operation), "25006"), false};
}

StoreFault StoreFault::DiskFull(StoreOperation operation) {
  return {Refusal(WhatOf(operation), "53100"), false};
}

StoreFault StoreFault::Deadlock(StoreOperation operation) {
  return {Refusal(WhatOf(operation), "40P01"), false};
}

StoreFault StoreFault::RefusedValue(StoreOperation operation) {
  return {Refusal(WhatOf(operation), "22P05"), false};
}

MemorySagaStore::MemorySagaStore(MemorySagaStoreOptions options) : options_(std::move(options)) {}

MemorySagaStore::~MemorySagaStore() = default;

TimePoint MemorySagaStore::Now() const { return ToMicroseconds(options_.now()); }

std::optional<StoreFault> MemorySagaStore::FaultFor(const StoreCall& call) {
  StoreFaultHook hook;
  {
    std::lock_guard lock(mutex_);
    ++calls_[static_cast<size_t>(call.operation)];
    if (auto queued = fail_next_.find(call.operation);
        queued != fail_next_.end() && !queued->second.empty()) {
      StoreFault fault = std::move(queued->second.front());
      queued->second.pop_front();
      return fault;
    }
    if (call.operation == StoreOperation::kCommitTransitions) {
      for (const std::string& id : call.saga_ids) {
        if (refused_sagas_.contains(id)) return StoreFault::RefusedValue(call.operation);
      }
    }
    hook = hook_;
  }
  if (hook) return hook(call);
  return std::nullopt;
}

void MemorySagaStore::FailNext(StoreOperation operation, StoreFault fault) {
  std::lock_guard lock(mutex_);
  fail_next_[operation].push_back(std::move(fault));
}

void MemorySagaStore::SetFaultHook(StoreFaultHook hook) {
  std::lock_guard lock(mutex_);
  hook_ = std::move(hook);
}

void MemorySagaStore::RefuseWritesOf(const std::string& saga_id) {
  std::lock_guard lock(mutex_);
  refused_sagas_.insert(saga_id);
}

void MemorySagaStore::AcceptWritesOf(const std::string& saga_id) {
  std::lock_guard lock(mutex_);
  refused_sagas_.erase(saga_id);
}

void MemorySagaStore::set_disable_fencing_for_mutation_test(bool disabled) {
  std::lock_guard lock(mutex_);
  fencing_disabled_ = disabled;
}

void MemorySagaStore::SetReleaseListener(std::function<void(const std::string&)> listener) {
  std::lock_guard lock(mutex_);
  release_listener_ = std::move(listener);
}

// --- Definitions ---

absl::StatusOr<bool> MemorySagaStore::PutDefinition(const core::SagaDefinition& definition) {
  const std::string what =
      "store definition " + definition.name + " v" + std::to_string(definition.version);
  auto fault = FaultFor({StoreOperation::kPutDefinition, {}, {}});
  if (fault && !fault->takes_effect) return fault->status;
  auto document = ThroughJsonb(definition.document, false, what);
  if (!document.ok()) return document.status();
  // CHECK (version > 0): a check violation is INTERNAL.
  if (definition.version <= 0) return Refusal(what, "23514");
  bool created = false;
  {
    std::lock_guard lock(mutex_);
    auto [it, inserted] =
        definitions_.try_emplace({definition.name, definition.version}, *document);
    created = inserted;
    if (!inserted && it->second != definition.document) {
      return absl::AlreadyExistsError("definition " + definition.name + " version " +
                                      std::to_string(definition.version) +
                                      " is already applied with a different document; "
                                      "apply the change as a new version");
    }
  }
  if (fault) return fault->status;
  return created;
}

absl::StatusOr<core::SagaDefinition> MemorySagaStore::GetDefinition(const std::string& name,
                                                                    int version) {
  auto fault = FaultFor({StoreOperation::kGetDefinition, {}, {}});
  if (fault && !fault->takes_effect) return fault->status;
  std::optional<std::string> document;
  {
    std::lock_guard lock(mutex_);
    if (version == 0) {
      auto next = definitions_.lower_bound({name, std::numeric_limits<int>::max()});
      if (next != definitions_.begin() && std::prev(next)->first.first == name) {
        document = std::prev(next)->second.dump();
      }
    } else if (auto it = definitions_.find({name, version}); it != definitions_.end()) {
      document = it->second.dump();
    }
  }
  if (fault) return fault->status;
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

// --- Sagas ---

std::vector<absl::StatusOr<store::CreatedSaga>> MemorySagaStore::CreateSagas(
    const std::vector<store::SagaToCreate>& sagas, const store::LeaseHolder& holder) {
  std::vector<absl::StatusOr<store::CreatedSaga>> results;
  for (const store::SagaToCreate& saga : sagas) {
    results.push_back(CreateSaga(*saga.definition, saga.saga_id, saga.input, holder, saga.options));
  }
  return results;
}

absl::StatusOr<store::CreatedSaga> MemorySagaStore::CreateSaga(
    const core::SagaDefinition& definition, const std::string& saga_id, const json& input,
    const store::LeaseHolder& holder, const store::SagaStartOptions& options) {
  const std::string what = "create saga";
  std::vector<std::string> named;
  if (!saga_id.empty()) named.push_back(saga_id);
  auto fault = FaultFor({StoreOperation::kCreateSaga, named, holder.owner});
  if (fault && !fault->takes_effect) return fault->status;
  auto stored_input = ThroughJsonb(input, false, what);
  if (!stored_input.ok()) return stored_input.status();
  store::CreatedSaga result;
  {
    std::lock_guard lock(mutex_);
    const TimePoint now = Now();
    if (!saga_id.empty()) {
      if (auto existing = sagas_.find(saga_id); existing != sagas_.end()) {
        // The id is taken: an idempotent repeat of an earlier start, or a clash.
        if (existing->second->definition_name != definition.name) {
          return absl::AlreadyExistsError("saga id \"" + saga_id +
                                          "\" is already used by a saga of definition \"" +
                                          existing->second->definition_name + "\"");
        }
        if (fault) return fault->status;
        return store::CreatedSaga{saga_id, false};
      }
    }
    // FOREIGN KEY (definition_name, definition_version): a violation is INTERNAL.
    if (!definitions_.contains({definition.name, definition.version})) {
      return Refusal(what, "23503");
    }
    std::string id = saga_id;
    if (id.empty()) {
      if (options_.new_saga_id) {
        id = options_.new_saga_id();
      } else {
        char text[40];
        std::snprintf(text, sizeof text, "00000000-0000-4000-8000-%012llu",
                      static_cast<unsigned long long>(++generated_ids_));
        id = text;
      }
    }
    auto row = std::make_unique<Row>();
    row->id = id;
    row->definition_name = definition.name;
    row->definition_version = definition.version;
    row->input = *std::move(stored_input);
    row->created_at = now;
    row->updated_at = now;
    row->traceparent = options.traceparent;
    row->callback_url = options.callback_url;
    row->owner = holder.owner;
    row->lease_token = 1;
    row->lease_expires_at = now + holder.ttl;
    for (const core::StepDefinition& step : definition.steps) {
      row->step_names.push_back(step.name);
      row->steps.emplace_back();
    }
    const json detail = {{"definition", definition.name}, {"version", definition.version}};
    row->history.push_back(
        {next_event_id_++, Rfc3339Millis(now), "saga_created", "", "", 0, JsonbText(detail)});
    row->sequence = next_sequence_++;
    sagas_.emplace(id, std::move(row));
    result = store::CreatedSaga{id, true, 1};
  }
  if (fault) return fault->status;
  return result;
}

absl::StatusOr<store::SagaRecord> MemorySagaStore::GetSaga(const std::string& saga_id) {
  auto fault = FaultFor({StoreOperation::kGetSaga, {saga_id}, {}});
  if (fault) return fault->status;
  std::lock_guard lock(mutex_);
  auto it = sagas_.find(saga_id);
  if (it == sagas_.end()) return absl::NotFoundError("no saga with id \"" + saga_id + "\"");
  return RecordOf(*it->second);
}

absl::StatusOr<store::SagaOutcome> MemorySagaStore::GetSagaOutcome(const std::string& saga_id) {
  auto fault = FaultFor({StoreOperation::kGetSagaOutcome, {saga_id}, {}});
  if (fault) return fault->status;
  std::lock_guard lock(mutex_);
  auto it = sagas_.find(saga_id);
  if (it == sagas_.end()) return absl::NotFoundError("no saga with id \"" + saga_id + "\"");
  return store::SagaOutcome{it->second->status, it->second->error};
}

absl::StatusOr<int> MemorySagaStore::DeleteFinishedSagas(std::chrono::milliseconds age, int limit) {
  const std::string what = "delete finished sagas";
  auto fault = FaultFor({StoreOperation::kDeleteFinishedSagas, {}, {}});
  if (fault && !fault->takes_effect) return fault->status;
  if (limit < 0) return NegativeLimit(what);
  int deleted = 0;
  {
    std::lock_guard lock(mutex_);
    const TimePoint cutoff = Now() - age;
    std::vector<const Row*> finished;
    for (const auto& [id, row] : sagas_) {
      if (row->Finished() && row->updated_at < cutoff) finished.push_back(row.get());
    }
    std::sort(finished.begin(), finished.end(), [](const Row* a, const Row* b) {
      return std::tie(a->updated_at, a->sequence) < std::tie(b->updated_at, b->sequence);
    });
    if (finished.size() > static_cast<size_t>(limit)) finished.resize(limit);
    std::vector<std::string> ids;
    for (const Row* row : finished) ids.push_back(row->id);
    // Steps, history and notices go with the row (ON DELETE CASCADE).
    for (const std::string& id : ids) sagas_.erase(id);
    deleted = static_cast<int>(ids.size());
  }
  if (fault) return fault->status;
  return deleted;
}

absl::StatusOr<store::SagaPage> MemorySagaStore::ListSagas(const store::SagaFilter& filter) {
  const std::string what = "list sagas";
  std::optional<std::pair<TimePoint, std::string>> cursor;
  std::optional<std::string> cursor_time_text;
  if (!filter.page_token.empty()) {
    const size_t bar = filter.page_token.find('|');
    if (bar == std::string::npos || bar == 0) {
      return absl::InvalidArgumentError("page_token: not a token from a previous listing");
    }
    cursor_time_text = filter.page_token.substr(0, bar);
  }
  auto fault = FaultFor({StoreOperation::kListSagas, {}, {}});
  if (fault) return fault->status;
  // PostgreSQL reads the times in the statement: one it cannot read is a data exception.
  const absl::Status bad_time = Refusal(what, "22007");
  if (cursor_time_text) {
    auto time = ParseTimestampText(*cursor_time_text);
    if (!time) return bad_time;
    cursor.emplace(*time, filter.page_token.substr(cursor_time_text->size() + 1));
  }
  std::optional<TimePoint> after, before;
  if (filter.created_after) {
    after = ParseTimestampText(*filter.created_after);
    if (!after) return bad_time;
  }
  if (filter.created_before) {
    before = ParseTimestampText(*filter.created_before);
    if (!before) return bad_time;
  }
  if (filter.page_size + 1 < 0) return NegativeLimit(what);
  std::lock_guard lock(mutex_);
  std::vector<const Row*> rows;
  for (const auto& [id, row] : sagas_) {
    if (filter.status && row->status != *filter.status) continue;
    if (filter.definition_name && row->definition_name != *filter.definition_name) continue;
    if (cursor && !(std::tie(row->created_at, row->id) < std::tie(cursor->first, cursor->second))) {
      continue;
    }
    if (after && row->created_at < *after) continue;
    if (before && !(row->created_at < *before)) continue;
    rows.push_back(row.get());
  }
  // Newest first: ORDER BY created_at DESC, id DESC.
  std::sort(rows.begin(), rows.end(), [](const Row* a, const Row* b) {
    return std::tie(b->created_at, b->id) < std::tie(a->created_at, a->id);
  });
  if (rows.size() > static_cast<size_t>(filter.page_size + 1)) rows.resize(filter.page_size + 1);
  store::SagaPage page;
  std::string last_cursor;
  for (const Row* row : rows) {
    if (static_cast<int>(page.sagas.size()) == filter.page_size) {
      page.next_page_token = last_cursor;
      break;
    }
    store::SagaRecord r;
    r.state.id = row->id;
    r.definition_name = row->definition_name;
    r.definition_version = row->definition_version;
    r.state.status = row->status;
    r.state.error = row->error;
    r.created_at = Rfc3339Millis(row->created_at);
    r.updated_at = Rfc3339Millis(row->updated_at);
    last_cursor = PostgresText(row->created_at) + "|" + row->id;
    page.sagas.push_back(std::move(r));
  }
  return page;
}

absl::StatusOr<std::map<SagaStatus, int64_t>> MemorySagaStore::CountSagas(
    const std::optional<std::string>& definition_name) {
  auto fault = FaultFor({StoreOperation::kCountSagas, {}, {}});
  if (fault) return fault->status;
  std::map<SagaStatus, int64_t> counts;
  for (SagaStatus s : {SagaStatus::kRunning, SagaStatus::kCompensating, SagaStatus::kCompleted,
                       SagaStatus::kCompensated, SagaStatus::kFailed}) {
    counts[s] = 0;
  }
  std::lock_guard lock(mutex_);
  for (const auto& [id, row] : sagas_) {
    if (!definition_name || row->definition_name == *definition_name) ++counts[row->status];
  }
  return counts;
}

absl::StatusOr<std::vector<store::HistoryRecord>> MemorySagaStore::GetHistory(
    const std::string& saga_id, int64_t after_id, int limit) {
  auto fault = FaultFor({StoreOperation::kGetHistory, {saga_id}, {}});
  if (fault) return fault->status;
  std::lock_guard lock(mutex_);
  auto it = sagas_.find(saga_id);
  if (it == sagas_.end()) return absl::NotFoundError("no saga with id \"" + saga_id + "\"");
  if (limit < 0) return NegativeLimit("load history of saga " + saga_id);
  std::vector<store::HistoryRecord> events;
  for (const store::HistoryRecord& event : it->second->history) {
    if (static_cast<int>(events.size()) == limit) break;
    if (event.id > after_id) events.push_back(event);
  }
  return events;
}

absl::StatusOr<std::vector<std::string>> MemorySagaStore::ActiveSagaIds() {
  auto fault = FaultFor({StoreOperation::kActiveSagaIds, {}, {}});
  if (fault) return fault->status;
  std::lock_guard lock(mutex_);
  std::vector<const Row*> active;
  for (const auto& [id, row] : sagas_) {
    if (row->Active()) active.push_back(row.get());
  }
  std::sort(active.begin(), active.end(), [](const Row* a, const Row* b) {
    return std::tie(a->created_at, a->sequence) < std::tie(b->created_at, b->sequence);
  });
  std::vector<std::string> ids;
  for (const Row* row : active) ids.push_back(row->id);
  return ids;
}

// --- Leases ---

absl::StatusOr<std::vector<store::Lease>> MemorySagaStore::ClaimSagas(
    const store::LeaseHolder& holder, int limit) {
  auto fault = FaultFor({StoreOperation::kClaimSagas, {}, holder.owner});
  if (fault && !fault->takes_effect) return fault->status;
  if (limit < 0) return NegativeLimit("claim sagas");
  std::vector<store::Lease> leases;
  {
    std::lock_guard lock(mutex_);
    const TimePoint now = Now();
    std::vector<Row*> free;
    for (auto& [id, row] : sagas_) {
      if (row->Active() && (!row->lease_expires_at || *row->lease_expires_at < now)) {
        free.push_back(row.get());
      }
    }
    // ORDER BY lease_expires_at NULLS FIRST, created_at.
    std::sort(free.begin(), free.end(), [](const Row* a, const Row* b) {
      const bool a_released = !a->lease_expires_at, b_released = !b->lease_expires_at;
      if (a_released != b_released) return a_released;
      if (!a_released && *a->lease_expires_at != *b->lease_expires_at) {
        return *a->lease_expires_at < *b->lease_expires_at;
      }
      return std::tie(a->created_at, a->sequence) < std::tie(b->created_at, b->sequence);
    });
    if (free.size() > static_cast<size_t>(limit)) free.resize(limit);
    for (Row* row : free) {
      row->owner = holder.owner;
      ++row->lease_token;
      row->lease_expires_at = now + holder.ttl;
      leases.push_back({row->id, row->lease_token});
    }
  }
  if (fault) return fault->status;
  return leases;
}

absl::StatusOr<std::vector<store::Lease>> MemorySagaStore::RenewLeases(
    const store::LeaseHolder& holder) {
  return ExtendOwnLeases(holder, StoreOperation::kRenewLeases, /*new_tokens=*/false);
}

absl::StatusOr<std::vector<store::Lease>> MemorySagaStore::ReclaimOwnLeases(
    const store::LeaseHolder& holder) {
  return ExtendOwnLeases(holder, StoreOperation::kReclaimOwnLeases, /*new_tokens=*/true);
}

absl::StatusOr<std::vector<store::Lease>> MemorySagaStore::ExtendOwnLeases(
    const store::LeaseHolder& holder, StoreOperation operation, bool new_tokens) {
  auto fault = FaultFor({operation, {}, holder.owner});
  if (fault && !fault->takes_effect) return fault->status;
  std::vector<store::Lease> leases;
  {
    std::lock_guard lock(mutex_);
    const TimePoint now = Now();
    std::vector<Row*> held;
    for (auto& [id, row] : sagas_) {
      if (row->Active() && row->owner == holder.owner) held.push_back(row.get());
    }
    std::sort(held.begin(), held.end(),
              [](const Row* a, const Row* b) { return a->sequence < b->sequence; });
    for (Row* row : held) {
      if (new_tokens) ++row->lease_token;
      row->lease_expires_at = now + holder.ttl;
      leases.push_back({row->id, row->lease_token});
    }
  }
  if (fault) return fault->status;
  return leases;
}

absl::Status MemorySagaStore::ReleaseLeases(const std::string& owner) {
  auto fault = FaultFor({StoreOperation::kReleaseLeases, {}, owner});
  if (fault && !fault->takes_effect) return fault->status;
  std::function<void(const std::string&)> listener;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, row] : sagas_) {
      if (row->Active() && row->owner == owner) {
        row->owner.reset();
        row->lease_expires_at.reset();
      }
    }
    listener = release_listener_;
  }
  // NOTIFY is delivered at commit, whether or not any lease was released.
  if (listener) listener(owner);
  if (fault) return fault->status;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> MemorySagaStore::TakeLease(const std::string& saga_id,
                                                   const store::LeaseHolder& holder) {
  auto fault = FaultFor({StoreOperation::kTakeLease, {saga_id}, holder.owner});
  if (fault && !fault->takes_effect) return fault->status;
  int64_t token = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = sagas_.find(saga_id);
    if (it == sagas_.end()) return absl::NotFoundError("no saga with id \"" + saga_id + "\"");
    Row& row = *it->second;
    // Kept when already held, so that the holder's engine is not fenced off by its own hand.
    if (row.owner != holder.owner) ++row.lease_token;
    row.owner = holder.owner;
    row.lease_expires_at = Now() + holder.ttl;
    token = row.lease_token;
  }
  if (fault) return fault->status;
  return token;
}

// --- Transitions ---

absl::StatusOr<std::vector<std::string>> MemorySagaStore::CommitTransitions(
    const std::vector<store::TransitionWrite>& writes, const std::string& owner) {
  const std::string what = "commit saga transitions";
  std::vector<std::string> ids;
  for (const store::TransitionWrite& write : writes) ids.push_back(write.transition->state.id);
  auto fault = FaultFor({StoreOperation::kCommitTransitions, ids, owner});
  if (fault && !fault->takes_effect) return fault->status;

  // The saga rows of every write, fenced or not, as one parameter (PostgresSagaStore's
  // kUpdateSagas): a value jsonb refuses in any of them fails the whole batch.
  json saga_rows = json::array();
  for (const store::TransitionWrite& write : writes) {
    const core::SagaState& after = write.transition->state;
    saga_rows.push_back(store::SagaRow(after, write.lease_token));
  }
  auto sagas = ThroughJsonb(saga_rows, true, what);
  if (!sagas.ok()) return sagas.status();

  std::vector<std::string> fenced;
  {
    std::lock_guard lock(mutex_);
    const TimePoint now = Now();
    // Which writes go on: the lease check is the update's WHERE clause.
    std::vector<Row*> holders(writes.size(), nullptr);
    json step_rows = json::array();
    json event_rows = json::array();
    for (size_t i = 0; i < writes.size(); ++i) {
      const store::TransitionWrite& write = writes[i];
      const core::SagaState& before = *write.before;
      const core::SagaState& after = write.transition->state;
      auto it = sagas_.find(after.id);
      const bool holds = it != sagas_.end() &&
                         (fencing_disabled_ || (it->second->owner == owner &&
                                                it->second->lease_token == write.lease_token));
      if (!holds) {
        fenced.push_back(after.id);
        continue;
      }
      holders[i] = it->second.get();
      for (size_t s = 0; s < after.steps.size(); ++s) {
        if (s >= before.steps.size() || after.steps[s] != before.steps[s]) {
          step_rows.push_back(store::StepRow(after.id, static_cast<int>(s), after.steps[s]));
        }
      }
      for (const core::HistoryEntry& entry : write.transition->history) {
        event_rows.push_back(store::EventRow(static_cast<int>(event_rows.size()), after.id,
                                             *write.definition, entry));
      }
    }
    auto steps = ThroughJsonb(step_rows, true, what);
    if (!steps.ok()) return steps.status();
    auto events = ThroughJsonb(event_rows, true, what);
    if (!events.ok()) return events.status();

    // Nothing fails from here on: the transaction commits.
    for (size_t i = 0; i < writes.size(); ++i) {
      Row* row = holders[i];
      if (!row) continue;
      const json& w = (*sagas)[i];
      row->status = core::ParseSagaStatus(w["state"].get<std::string>()).value_or(row->status);
      row->error = w["error"].get<std::string>();
      row->output = w["output"];
      row->deadline = ReadTime(w["deadline_ms"]);
      row->updated_at = now;
      for (core::Notice& notice : core::NoticesOf(*writes[i].before, *writes[i].transition,
                                                  options_.alert_compensation_failures)) {
        row->notices.push_back(std::move(notice));
      }
    }
    for (const json& w : *steps) {
      Row& row = *sagas_.at(w["saga_id"].get<std::string>());
      const size_t position = w["position"].get<size_t>();
      if (position >= row.steps.size()) continue;  // no such row: the update touches none
      core::StepState& step = row.steps[position];
      step.status = core::ParseStepStatus(w["state"].get<std::string>()).value_or(step.status);
      step.attempts = w["attempts"].get<int>();
      step.compensation_attempts = w["compensation_attempts"].get<int>();
      step.retry_at = ReadTime(w["retry_ms"]);
      step.output = w["output"];
      step.error = w["error"].get<std::string>();
      step.outcome_unknown = w["outcome_unknown"].get<bool>();
      step.input = w["input"];
      step.deadline = ReadTime(w["deadline_ms"]);
      step.waiting = core::WaitingFromJson(w["wait"]);
      step.closed_wait = core::ClosedWaitFromJson(w["closed_wait"]);
    }
    // In the order the state machine recorded them, so that ids follow it.
    for (const json& e : *events) {
      Row& row = *sagas_.at(e["saga_id"].get<std::string>());
      row.history.push_back({next_event_id_++, Rfc3339Millis(now), e["type"].get<std::string>(),
                             TextOrEmpty(e["step"]), TextOrEmpty(e["phase"]),
                             e["attempt"].get<int>(), JsonbText(e["detail"])});
    }
  }
  if (fault) return fault->status;
  return fenced;
}

// --- Inspection ---

store::SagaRecord MemorySagaStore::RecordOf(const Row& row) {
  store::SagaRecord r;
  r.definition_name = row.definition_name;
  r.definition_version = row.definition_version;
  r.state.id = row.id;
  r.state.status = row.status;
  r.state.input = row.input;
  r.state.error = row.error;
  r.created_at = Rfc3339Millis(row.created_at);
  r.updated_at = Rfc3339Millis(row.updated_at);
  r.state.output = row.output;
  r.state.deadline = row.deadline;
  r.traceparent = row.traceparent;
  r.callback_url = row.callback_url;
  r.step_names = row.step_names;
  r.state.steps = row.steps;
  return r;
}

StoredSaga MemorySagaStore::Inspect(const Row& row) const {
  StoredSaga saga;
  saga.record = RecordOf(row);
  saga.owner = row.owner;
  saga.lease_token = row.lease_token;
  saga.lease_expires_at = row.lease_expires_at;
  saga.created_at = row.created_at;
  saga.updated_at = row.updated_at;
  saga.history = row.history;
  saga.notices = row.notices;
  return saga;
}

std::vector<StoredSaga> MemorySagaStore::Sagas() const {
  std::lock_guard lock(mutex_);
  std::vector<const Row*> rows;
  for (const auto& [id, row] : sagas_) rows.push_back(row.get());
  std::sort(rows.begin(), rows.end(),
            [](const Row* a, const Row* b) { return a->sequence < b->sequence; });
  std::vector<StoredSaga> sagas;
  for (const Row* row : rows) sagas.push_back(Inspect(*row));
  return sagas;
}

std::optional<StoredSaga> MemorySagaStore::Saga(const std::string& saga_id) const {
  std::lock_guard lock(mutex_);
  auto it = sagas_.find(saga_id);
  if (it == sagas_.end()) return std::nullopt;
  return Inspect(*it->second);
}

std::vector<core::SagaDefinition> MemorySagaStore::Definitions() const {
  std::vector<std::string> documents;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, document] : definitions_) documents.push_back(document.dump());
  }
  std::vector<core::SagaDefinition> definitions;
  for (const std::string& document : documents) {
    if (auto definition = core::ParseDefinition(document); definition.ok()) {
      definitions.push_back(*std::move(definition));
    }
  }
  return definitions;
}

int64_t MemorySagaStore::Calls(StoreOperation operation) const {
  std::lock_guard lock(mutex_);
  return calls_[static_cast<size_t>(operation)];
}

}  // namespace skald::sim
