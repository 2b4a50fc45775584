#include "coordinator/observability/coordinator_metrics.h"

namespace skald::observability {
namespace {

double Seconds(std::chrono::steady_clock::duration elapsed) {
  return std::chrono::duration<double>(elapsed).count();
}

std::string S(std::string_view text) { return std::string(text); }

}  // namespace

CoordinatorMetrics::CoordinatorMetrics(MetricsRegistry& registry)
    : sagas_started_(registry.AddCounter("skald_sagas_started_total",
                                         "Sagas created through this coordinator's API.",
                                         {"definition"})),
      sagas_finished_(registry.AddCounter(
          "skald_sagas_finished_total",
          "Sagas driven by this coordinator that reached a final state (COMPLETED, "
          "COMPENSATED or FAILED).",
          {"definition", "state"})),
      attempt_duration_(registry.AddHistogram(
          "skald_step_attempt_duration_seconds",
          "Time from sending a step's attempt to its answer (or the call's failure), by "
          "outcome: success, retryable_error, failure.",
          {"definition", "step", "phase", "outcome"}, LatencyBuckets())),
      step_retries_(registry.AddCounter(
          "skald_step_retries_total",
          "Attempts that failed transiently and were scheduled to be tried again.",
          {"definition", "step", "phase"})),
      sagas_in_flight_(registry.AddGauge("skald_sagas_in_flight",
                                         "Unfinished sagas this coordinator is driving now.")),
      lease_takeovers_(registry.AddCounter(
          "skald_lease_takeovers_total",
          "Sagas this coordinator claimed because their lease was released or had expired.")),
      db_duration_(registry.AddHistogram("skald_db_transaction_duration_seconds",
                                         "Duration of the coordinator's database work, by "
                                         "operation.",
                                         {"operation"}, LatencyBuckets())),
      db_errors_(registry.AddCounter(
          "skald_db_errors_total",
          "Database operations that failed (lost connection, unknown commit outcome, "
          "refused statement), by operation.",
          {"operation"})),
      requests_refused_(registry.AddCounter(
          "skald_requests_refused_total",
          "Client API requests refused by authentication or authorisation, by reason: "
          "unauthenticated, permission_denied.",
          {"reason"})),
      limit_rejections_(registry.AddCounter(
          "skald_limit_rejections_total",
          "Requests and participant replies refused for going over a limit, by limit.", {"limit"})),
      transitions_refused_(registry.AddCounter(
          "skald_transitions_refused_total",
          "Saga transitions the database refused for a cause that did not pass, by what "
          "followed: retried, recorded_as_failure, kept.",
          {"then"})),
      sagas_without_way_forward_(registry.AddCounter(
          "skald_sagas_without_way_forward_total",
          "Sagas the engine's self-check found with no call in flight, no timer and nothing "
          "pending, and took up again from their stored state (each one is a defect).")) {}

void CoordinatorMetrics::SagaStarted(std::string_view definition) {
  sagas_started_.WithLabels({S(definition)}).Increment();
}

void CoordinatorMetrics::SagaFinished(std::string_view definition, std::string_view state) {
  sagas_finished_.WithLabels({S(definition), S(state)}).Increment();
}

void CoordinatorMetrics::AttemptFinished(std::string_view definition, std::string_view step,
                                         std::string_view phase, std::string_view outcome,
                                         std::chrono::steady_clock::duration elapsed) {
  attempt_duration_.WithLabels({S(definition), S(step), S(phase), S(outcome)})
      .Observe(Seconds(elapsed));
}

void CoordinatorMetrics::RetryScheduled(std::string_view definition, std::string_view step,
                                        std::string_view phase) {
  step_retries_.WithLabels({S(definition), S(step), S(phase)}).Increment();
}

void CoordinatorMetrics::SetSagasInFlight(size_t count) {
  sagas_in_flight_.WithLabels({}).Set(static_cast<double>(count));
}

void CoordinatorMetrics::LeasesTakenOver(size_t count) {
  lease_takeovers_.WithLabels({}).Increment(static_cast<double>(count));
}

void CoordinatorMetrics::DatabaseTransaction(std::string_view operation,
                                             std::chrono::steady_clock::duration elapsed,
                                             bool failed) {
  db_duration_.WithLabels({S(operation)}).Observe(Seconds(elapsed));
  if (failed) db_errors_.WithLabels({S(operation)}).Increment();
}

void CoordinatorMetrics::RequestRefused(std::string_view reason) {
  requests_refused_.WithLabels({S(reason)}).Increment();
}

void CoordinatorMetrics::LimitExceeded(std::string_view limit) {
  limit_rejections_.WithLabels({S(limit)}).Increment();
}

void CoordinatorMetrics::TransitionRefused(std::string_view then) {
  transitions_refused_.WithLabels({S(then)}).Increment();
}

void CoordinatorMetrics::SagaWithoutWayForward() {
  sagas_without_way_forward_.WithLabels({}).Increment();
}

}  // namespace skald::observability
