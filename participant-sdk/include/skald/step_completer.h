// StepCompleter: completes, or keeps alive, a step its handler answered with
// StepResult::Accepted(), from anywhere in the participant's process (another thread, a
// webhook handler, a queue consumer), with the call's StepContext::completion_token.
//
//   auto completer = skald::StepCompleter::Create({.address = "localhost:7233"});
//   // In the handler:   pending.push(context.completion_token); return StepResult::Accepted();
//   // Later, anywhere:  (*completer)->Complete(token, {{"charge_id", "c-1"}});
//
// Each method sends one request to the coordinator's SagaService (CompleteStep or Heartbeat)
// through the SDK's channel to the coordinator (TLS and token as CoordinatorEndpoint says).
// A transient failure (the coordinator unreachable, overloaded, or restarting: UNAVAILABLE,
// DEADLINE_EXCEEDED of one try, RESOURCE_EXHAUSTED, ABORTED) is retried with doubling backoff
// until StepCompleterOptions::total_deadline; sending the same completion again is safe: the
// coordinator answers a repeat of the same result with already_completed. Any other refusal
// is returned at once with the coordinator's code and message, e.g. FAILED_PRECONDITION for
// a token of an old attempt, a different result after the first, or a completion after the
// step's deadline; NOT_FOUND for an unknown token; PERMISSION_DENIED for a token without the
// participant role.

#ifndef SKALD_STEP_COMPLETER_H_
#define SKALD_STEP_COMPLETER_H_

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "skald/coordinator_endpoint.h"

namespace skald {

struct StepCompleterOptions {
  // Bounds each try of a request.
  std::chrono::milliseconds try_deadline = std::chrono::seconds(5);
  // Bounds one method call, its retries and backoff included.
  std::chrono::milliseconds total_deadline = std::chrono::seconds(30);
  // The wait after the first transient failure, doubled after each further one up to
  // max_backoff.
  std::chrono::milliseconds initial_backoff = std::chrono::milliseconds(100);
  std::chrono::milliseconds max_backoff = std::chrono::seconds(2);
};

// What the coordinator answered to a completion.
struct CompletionReceipt {
  std::string saga_id;
  std::string step;
  // True when the coordinator had already recorded this same result for the token (a
  // repeat, e.g. after a reply lost on the way back): nothing changed.
  bool already_completed = false;
};

class StepCompleter {
 public:
  // Returns a completer for the coordinator at `endpoint`; it connects lazily. Returns
  // InvalidArgument when the address is empty or a TLS file cannot be read, or when an
  // option is not positive.
  static absl::StatusOr<std::unique_ptr<StepCompleter>> Create(CoordinatorEndpoint endpoint,
                                                               StepCompleterOptions options = {});

  virtual ~StepCompleter() = default;

  // Completes the accepted step with success and `output`. REQUIRES: `output` is a JSON
  // object, or null (what `{}` in a call makes), sent as {}; InvalidArgument otherwise,
  // nothing sent.
  virtual absl::StatusOr<CompletionReceipt> Complete(std::string_view token,
                                                     const nlohmann::json& output) = 0;

  // Completes the accepted step with a business failure: it had no effect and is not
  // retried (compensation of the earlier steps follows). An empty `code` is sent as
  // "business_failure".
  virtual absl::StatusOr<CompletionReceipt> Fail(std::string_view token, std::string_view code,
                                                 std::string_view message) = 0;

  // Completes the accepted step's attempt with a retryable error: the attempt failed without
  // effect, and the coordinator's retry policy applies (a new attempt, with a new token).
  virtual absl::StatusOr<CompletionReceipt> Retry(std::string_view token, std::string_view code,
                                                  std::string_view message) = 0;

  // Tells the coordinator the work is still going on, with `details` (a JSON object, shown
  // to operators). Returns the time before which the next heartbeat (or the completion) must
  // come, time_point::max() when the coordinator sent none it could read. REQUIRES: `details`
  // is a JSON object or null (sent as {}); InvalidArgument otherwise, nothing sent.
  virtual absl::StatusOr<std::chrono::system_clock::time_point> Heartbeat(
      std::string_view token, const nlohmann::json& details = nlohmann::json::object()) = 0;
};

// The length refused by every method before anything is sent: a token is far shorter.
inline constexpr size_t kMaxCompletionTokenLength = 1024;

}  // namespace skald

#endif  // SKALD_STEP_COMPLETER_H_
