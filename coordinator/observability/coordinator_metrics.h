#pragma once

#include <chrono>
#include <string_view>

#include "coordinator/observability/metrics.h"

namespace skald::observability {

// What a coordinator measures, served at /metrics. Labels name definitions, steps, phases,
// states and outcomes, never a saga: the number of series stays bounded by the definitions.
class CoordinatorMetrics {
 public:
  explicit CoordinatorMetrics(MetricsRegistry& registry);

  // A saga was created through this coordinator's API.
  void SagaStarted(std::string_view definition);
  // A saga driven here reached COMPLETED, COMPENSATED or FAILED.
  void SagaFinished(std::string_view definition, std::string_view state);
  // A participant answered an attempt (or the call failed) after `elapsed`. `phase` is
  // "action" or "compensation", `outcome` "success", "retryable_error" or "failure".
  void AttemptFinished(std::string_view definition, std::string_view step, std::string_view phase,
                       std::string_view outcome, std::chrono::steady_clock::duration elapsed);
  // A step's attempt failed transiently and another was scheduled.
  void RetryScheduled(std::string_view definition, std::string_view step, std::string_view phase);
  void SetSagasInFlight(size_t count);
  // This coordinator claimed `count` sagas whose lease was free or had expired.
  void LeasesTakenOver(size_t count);
  // A database transaction of `operation` (store::OperationLabel) took `elapsed`; `failed`
  // when it did not succeed (other than as a refused duplicate).
  void DatabaseTransaction(std::string_view operation, std::chrono::steady_clock::duration elapsed,
                           bool failed);
  // A client request was refused before it was carried out: `reason` is "unauthenticated"
  // or "permission_denied".
  void RequestRefused(std::string_view reason);
  // A client request (or a participant's reply) went over `limit` ("max_input_bytes", ...).
  void LimitExceeded(std::string_view limit);
  // PostgreSQL refused a saga's transition for a cause that did not pass: `then` is
  // "retried" (tried again after a pause), "recorded_as_failure" (the reply that caused it
  // became a failed attempt) or "kept" (even that was refused: the saga is kept, retried).
  void TransitionRefused(std::string_view then);
  // The engine's self-check found a saga with no call in flight, no timer and nothing
  // pending, and took it up again from its stored state.
  void SagaWithoutWayForward();

 private:
  CounterFamily& sagas_started_;
  CounterFamily& sagas_finished_;
  HistogramFamily& attempt_duration_;
  CounterFamily& step_retries_;
  GaugeFamily& sagas_in_flight_;
  CounterFamily& lease_takeovers_;
  HistogramFamily& db_duration_;
  CounterFamily& db_errors_;
  CounterFamily& requests_refused_;
  CounterFamily& limit_rejections_;
  CounterFamily& transitions_refused_;
  CounterFamily& sagas_without_way_forward_;
};

}  // namespace skald::observability
