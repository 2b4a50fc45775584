// The vocabulary of one step call: what a participant's handler is given (StepContext, the
// input) and what it answers (StepResult).

#ifndef SKALD_STEP_H_
#define SKALD_STEP_H_

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace skald {

// Which half of a step a call runs.
enum class Phase { kAction, kCompensation };

// Returns "action" or "compensation".
std::string_view PhaseName(Phase phase);

// Everything about a call except its input. Valid only for the duration of the handler call.
struct StepContext {
  std::string saga_id;
  // The step's name in the saga definition, e.g. "charge-payment".
  std::string step;
  Phase phase = Phase::kAction;
  // The name the handler was registered under, e.g. "charge".
  std::string handler;
  // 1 for the first attempt of this step and phase; grows with each retry.
  int attempt = 0;
  // Identical for every attempt of the same saga, step and phase. Handlers use it to apply
  // their effect at most once: the coordinator delivers each call at least once.
  std::string idempotency_key;
  // When the caller stops waiting for the reply. std::chrono::system_clock::time_point::max()
  // when the caller set no deadline. The SDK does not call a handler for a call whose
  // deadline has already passed (see participant_server.h); a handler that runs long should
  // check expired() or bound its own waits by remaining().
  std::chrono::system_clock::time_point deadline = std::chrono::system_clock::time_point::max();
  // For a compensation: the output of the step's action when the action reported success.
  // Null otherwise (for every action, and for a compensation whose action never reported
  // success, which includes an action that never ran).
  nlohmann::json action_output;
  // The W3C trace context of this attempt, "00-<trace id>-<span id>-<flags>", as the caller
  // sent it (not validated): the StepCall's traceparent field, or when that is empty the
  // gRPC request metadata "traceparent". Empty when the call carried neither. A handler
  // passes it on to its own outgoing calls to join the saga's trace.
  std::string traceparent;
  // Opaque, bound to this saga, step, phase and attempt: the same for every delivery of
  // this attempt, different for the next attempt. A handler that answers
  // StepResult::Accepted() hands it to whatever finishes the work, which completes the step
  // with it later (skald/step_completer.h). Empty when the coordinator sent none (a
  // coordinator that cannot take accepted steps).
  std::string completion_token;

  // Returns the time left until `deadline`, rounded down to whole milliseconds: zero once
  // the deadline has passed, kNoDeadlineRemaining when the call has no deadline. Reads the
  // system clock on every call.
  std::chrono::milliseconds remaining() const;

  // Returns true once `deadline` has passed: the caller has stopped waiting, and a reply
  // will not reach it. Always false for a call without a deadline.
  bool expired() const;
};

// What StepContext::remaining() returns for a call without a deadline: ten years, longer
// than any wait, yet small enough to add to std::chrono::system_clock::now() safely.
inline constexpr std::chrono::milliseconds kNoDeadlineRemaining = std::chrono::hours(24 * 3652);

// What a handler answers. Constructed only through the factories below.
class StepResult {
 public:
  enum class Outcome { kSuccess, kRetryableError, kBusinessFailure, kAccepted };

  // The step's effect is applied. REQUIRES: `output` is a JSON object; any other value is
  // replied to the coordinator as a retryable error with code "invalid_output" (the effect
  // may be applied, so the call must not be reported as a failure without effect).
  static StepResult Success(nlohmann::json output = nlohmann::json::object());

  // A transient problem (database unreachable, timeout, ...): the coordinator retries the
  // call with backoff. The effect must not be half applied. `code` is optional.
  static StepResult Retryable(std::string message, std::string code = {});

  // A business rule refused the step: it had no effect and is not retried. `code` is short
  // and machine-readable, e.g. "card_declined"; an empty code is replied as
  // "business_failure".
  static StepResult BusinessFailure(std::string code, std::string message);

  // The participant took the step on and completes it later, from anywhere in its process,
  // with the call's StepContext::completion_token (skald/step_completer.h). The step waits,
  // holding no thread, within its deadline and heartbeat timeout. A handler answers this only
  // when the call carried a completion token: without one the step could never be completed,
  // so the SDK replies a retryable error "no_completion_token" instead.
  static StepResult Accepted();

  Outcome outcome() const { return outcome_; }
  bool ok() const { return outcome_ == Outcome::kSuccess; }
  bool retryable() const { return outcome_ == Outcome::kRetryableError; }
  bool accepted() const { return outcome_ == Outcome::kAccepted; }

  // The output of a success; an empty object for the other outcomes.
  const nlohmann::json& output() const { return output_; }
  // Empty for a success and for accepted.
  const std::string& error_code() const { return error_code_; }
  const std::string& error_message() const { return error_message_; }

  // Returns a one-line description for logs, e.g. "business_failure card_declined: ...".
  std::string ToString() const;

 private:
  StepResult(Outcome outcome, nlohmann::json output, std::string code, std::string message);

  Outcome outcome_;
  nlohmann::json output_;
  std::string error_code_;
  std::string error_message_;
};

// Runs one phase of a step. `input` is the step's input, always a JSON object. May block
// (e.g. on a database) and may be called concurrently from several threads, also for the
// same saga. An exception escaping it is replied as a retryable error carrying the
// exception's message.
using StepHandler =
    std::function<StepResult(const StepContext& context, const nlohmann::json& input)>;

}  // namespace skald

#endif  // SKALD_STEP_H_
