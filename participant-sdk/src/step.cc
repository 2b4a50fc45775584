#include "skald/step.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace skald {

std::string_view PhaseName(Phase phase) {
  return phase == Phase::kAction ? "action" : "compensation";
}

std::chrono::milliseconds StepContext::remaining() const {
  if (deadline == std::chrono::system_clock::time_point::max()) return kNoDeadlineRemaining;
  const auto now = std::chrono::system_clock::now();
  if (deadline <= now) return std::chrono::milliseconds(0);
  return std::min(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now),
                  kNoDeadlineRemaining);
}

bool StepContext::expired() const {
  return deadline != std::chrono::system_clock::time_point::max() &&
         deadline <= std::chrono::system_clock::now();
}

StepResult::StepResult(Outcome outcome, nlohmann::json output, std::string code,
                       std::string message)
    : outcome_(outcome),
      output_(std::move(output)),
      error_code_(std::move(code)),
      error_message_(std::move(message)) {}

StepResult StepResult::Success(nlohmann::json output) {
  return StepResult(Outcome::kSuccess, std::move(output), {}, {});
}

StepResult StepResult::Retryable(std::string message, std::string code) {
  return StepResult(Outcome::kRetryableError, nlohmann::json::object(), std::move(code),
                    std::move(message));
}

StepResult StepResult::BusinessFailure(std::string code, std::string message) {
  if (code.empty()) code = "business_failure";
  return StepResult(Outcome::kBusinessFailure, nlohmann::json::object(), std::move(code),
                    std::move(message));
}

StepResult StepResult::Accepted() {
  return StepResult(Outcome::kAccepted, nlohmann::json::object(), {}, {});
}

std::string StepResult::ToString() const {
  switch (outcome_) {
    case Outcome::kSuccess:
      return "success";
    case Outcome::kRetryableError:
      return "retryable_error" + (error_code_.empty() ? "" : " " + error_code_) + ": " +
             error_message_;
    case Outcome::kBusinessFailure:
      return "business_failure " + error_code_ + ": " + error_message_;
    case Outcome::kAccepted:
      return "accepted";
  }
  return "unknown outcome";
}

}  // namespace skald
