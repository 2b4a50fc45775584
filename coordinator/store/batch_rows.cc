#include "coordinator/store/batch_rows.h"

#include <chrono>

namespace skald::store {

using nlohmann::json;

json TimeValue(const std::optional<core::TimePoint>& time) {
  if (!time) return nullptr;
  return std::chrono::duration_cast<std::chrono::milliseconds>(time->time_since_epoch()).count();
}

json SagaRow(const core::SagaState& after, int64_t lease_token) {
  return {{"id", after.id},
          {"state", core::ToString(after.status)},
          {"error", after.error},
          {"output", after.output},
          {"deadline_ms", TimeValue(after.deadline)},
          {"lease_token", lease_token}};
}

json StepRow(const std::string& saga_id, int position, const core::StepState& step) {
  return {{"saga_id", saga_id},
          {"position", position},
          {"state", core::ToString(step.status)},
          {"attempts", step.attempts},
          {"compensation_attempts", step.compensation_attempts},
          {"retry_ms", TimeValue(step.retry_at)},
          {"output", step.output},
          {"error", step.error},
          {"outcome_unknown", step.outcome_unknown},
          {"input", step.input},
          {"deadline_ms", TimeValue(step.deadline)},
          {"wait", core::WaitingToJson(step.waiting)},
          {"closed_wait", core::ClosedWaitToJson(step.closed_wait)}};
}

json EventRow(int seq, const std::string& saga_id, const core::SagaDefinition& definition,
              const core::HistoryEntry& entry) {
  return {{"seq", seq},
          {"saga_id", saga_id},
          {"type", entry.type},
          {"step", entry.step ? json(definition.steps[*entry.step].name) : json(nullptr)},
          {"phase", entry.phase ? json(core::ToString(*entry.phase)) : json(nullptr)},
          {"attempt", entry.attempt},
          {"detail", entry.detail}};
}

std::string BatchParam(const json& rows) {
  return rows.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace skald::store
