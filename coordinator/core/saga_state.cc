#include "coordinator/core/saga_state.h"

#include <array>
#include <utility>

namespace skald::core {
namespace {

constexpr std::array<std::pair<SagaStatus, std::string_view>, 5> kSagaNames{{
    {SagaStatus::kRunning, "RUNNING"},
    {SagaStatus::kCompensating, "COMPENSATING"},
    {SagaStatus::kCompleted, "COMPLETED"},
    {SagaStatus::kCompensated, "COMPENSATED"},
    {SagaStatus::kFailed, "FAILED"},
}};

constexpr std::array<std::pair<StepStatus, std::string_view>, 8> kStepNames{{
    {StepStatus::kPending, "PENDING"},
    {StepStatus::kRunning, "RUNNING"},
    {StepStatus::kSucceeded, "SUCCEEDED"},
    {StepStatus::kFailed, "FAILED"},
    {StepStatus::kCompensating, "COMPENSATING"},
    {StepStatus::kCompensated, "COMPENSATED"},
    {StepStatus::kCompensationFailed, "COMPENSATION_FAILED"},
    {StepStatus::kSkipped, "SKIPPED"},
}};

template <typename Enum, size_t N>
std::string_view NameOf(const std::array<std::pair<Enum, std::string_view>, N>& names, Enum value) {
  for (const auto& [candidate, name] : names) {
    if (candidate == value) return name;
  }
  return "UNKNOWN";
}

template <typename Enum, size_t N>
std::optional<Enum> ValueOf(const std::array<std::pair<Enum, std::string_view>, N>& names,
                            std::string_view text) {
  for (const auto& [value, name] : names) {
    if (name == text) return value;
  }
  return std::nullopt;
}

}  // namespace

std::string_view ToString(SagaStatus status) { return NameOf(kSagaNames, status); }
std::string_view ToString(StepStatus status) { return NameOf(kStepNames, status); }
std::string_view ToString(Phase phase) {
  return phase == Phase::kAction ? "action" : "compensation";
}
std::optional<SagaStatus> ParseSagaStatus(std::string_view text) {
  return ValueOf(kSagaNames, text);
}
std::optional<StepStatus> ParseStepStatus(std::string_view text) {
  return ValueOf(kStepNames, text);
}

bool IsTerminal(SagaStatus status) {
  return status == SagaStatus::kCompleted || status == SagaStatus::kCompensated ||
         status == SagaStatus::kFailed;
}

SagaState NewSagaState(std::string id, nlohmann::json input, size_t step_count) {
  SagaState state;
  state.id = std::move(id);
  state.input = std::move(input);
  state.steps.resize(step_count);
  return state;
}

std::string IdempotencyKey(std::string_view saga_id, std::string_view step, Phase phase) {
  std::string key;
  key.reserve(saga_id.size() + step.size() + 16);
  key.append(saga_id).append("/").append(step).append("/").append(ToString(phase));
  return key;
}

}  // namespace skald::core
