// The waiting state of an accepted attempt (saga_state.h): how it is shown and stored.
#include <chrono>

#include "coordinator/core/saga_state.h"

namespace skald::core {
namespace {

using nlohmann::json;

json Millis(const std::optional<TimePoint>& time) {
  if (!time) return nullptr;
  return std::chrono::duration_cast<std::chrono::milliseconds>(time->time_since_epoch()).count();
}

// A stored time; nullopt when absent or not an integer.
std::optional<TimePoint> ReadMillis(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) return std::nullopt;
  return TimePoint(std::chrono::milliseconds(it->get<int64_t>()));
}

constexpr std::pair<ClosedWait::How, std::string_view> kHowNames[] = {
    {ClosedWait::How::kCompleted, "completed"}, {ClosedWait::How::kResolved, "resolved"},
    {ClosedWait::How::kDeadline, "deadline"},   {ClosedWait::How::kHeartbeat, "heartbeat"},
    {ClosedWait::How::kEnded, "ended"},
};

}  // namespace

std::string_view ShownStatus(const StepState& step) {
  if (step.waiting) {
    return step.status == StepStatus::kCompensating ? "COMPENSATION_WAITING" : "WAITING";
  }
  return ToString(step.status);
}

json WaitingToJson(const std::optional<WaitingStep>& waiting) {
  if (!waiting) return nullptr;
  return {{"since_ms", Millis(waiting->since)},
          {"deadline_ms", Millis(waiting->deadline)},
          {"heartbeat_deadline_ms", Millis(waiting->heartbeat_deadline)},
          {"last_heartbeat_ms", Millis(waiting->last_heartbeat)},
          {"heartbeat_details", waiting->heartbeat_details}};
}

std::optional<WaitingStep> WaitingFromJson(const json& stored) {
  if (!stored.is_object()) return std::nullopt;
  auto since = ReadMillis(stored, "since_ms");
  auto deadline = ReadMillis(stored, "deadline_ms");
  if (!since || !deadline) return std::nullopt;
  WaitingStep waiting;
  waiting.since = *since;
  waiting.deadline = *deadline;
  waiting.heartbeat_deadline = ReadMillis(stored, "heartbeat_deadline_ms");
  waiting.last_heartbeat = ReadMillis(stored, "last_heartbeat_ms");
  if (auto it = stored.find("heartbeat_details"); it != stored.end() && it->is_object()) {
    waiting.heartbeat_details = *it;
  }
  return waiting;
}

json ClosedWaitToJson(const std::optional<ClosedWait>& closed) {
  if (!closed) return nullptr;
  std::string_view how = "ended";
  for (const auto& [value, name] : kHowNames) {
    if (value == closed->how) how = name;
  }
  return {{"phase", ToString(closed->phase)},
          {"attempt", closed->attempt},
          {"how", how},
          {"result", closed->result},
          {"at_ms", Millis(closed->at)}};
}

std::optional<ClosedWait> ClosedWaitFromJson(const json& stored) {
  if (!stored.is_object()) return std::nullopt;
  ClosedWait closed;
  const auto phase = stored.find("phase");
  const auto attempt = stored.find("attempt");
  const auto how = stored.find("how");
  auto at = ReadMillis(stored, "at_ms");
  if (phase == stored.end() || !phase->is_string() || attempt == stored.end() ||
      !attempt->is_number_integer() || how == stored.end() || !how->is_string() || !at) {
    return std::nullopt;
  }
  closed.phase =
      phase->get<std::string>() == "compensation" ? Phase::kCompensation : Phase::kAction;
  closed.attempt = attempt->get<int>();
  for (const auto& [value, name] : kHowNames) {
    if (name == how->get<std::string>()) closed.how = value;
  }
  if (auto result = stored.find("result"); result != stored.end()) closed.result = *result;
  closed.at = *at;
  return closed;
}

}  // namespace skald::core
