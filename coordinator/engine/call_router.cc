#include "coordinator/engine/call_router.h"

namespace skald::engine {

struct CallRouter::ServiceAttempt {
  std::string service;
  core::Phase phase;
  v1::StepCall call;
  core::TimePoint deadline;
  std::function<void(CallResult)> done;
  std::set<std::string> tried;
  // The failure of the instance tried last, reported when no other instance is left.
  std::optional<CallResult> last_failure;
};

void CallRouter::Send(const core::StepDefinition& step, const v1::StepCall& call,
                      std::function<void(CallResult)> done) {
  if (step.service.empty()) {
    transport_.Call(step.participant, call, step.attempt_timeout, std::move(done));
    return;
  }
  auto attempt = std::make_shared<ServiceAttempt>();
  attempt->service = step.service;
  attempt->phase =
      call.phase() == v1::PHASE_COMPENSATION ? core::Phase::kCompensation : core::Phase::kAction;
  attempt->call = call;
  attempt->deadline = now_() + step.attempt_timeout;
  attempt->done = std::move(done);
  SendToInstance(std::move(attempt));
}

void CallRouter::SendToInstance(std::shared_ptr<ServiceAttempt> attempt) {
  const auto remaining =
      std::chrono::duration_cast<std::chrono::milliseconds>(attempt->deadline - now_());
  std::optional<discovery::ChosenInstance> instance;
  if (directory_ && !cancelled_ && remaining.count() > 0) {
    instance = directory_->Choose(attempt->service, attempt->phase, attempt->call.handler(),
                                  attempt->tried);
  }
  if (!instance) {
    if (attempt->last_failure) {
      attempt->done(*std::move(attempt->last_failure));
      return;
    }
    CallResult none{core::AttemptOutcome::kRetryableError, nullptr,
                    directory_ ? directory_->WhyNoInstance(attempt->service, attempt->phase,
                                                           attempt->call.handler())
                               : "service \"" + attempt->service + "\" cannot be resolved",
                    "no_instance", true};
    attempt->done(std::move(none));
    return;
  }
  attempt->tried.insert(instance->instance_id);
  transport_.Call(instance->address, attempt->call, remaining,
                  [this, attempt, instance = *instance](CallResult result) mutable {
                    if (!result.unreachable) {
                      if (result.timed_out) {
                        directory_->ReportFailed(attempt->service, instance.instance_id,
                                                 result.error);
                      } else {
                        directory_->ReportAnswered(attempt->service, instance.instance_id);
                      }
                      // The attempt's time is spent: the retry policy decides what follows.
                      attempt->done(std::move(result));
                      return;
                    }
                    directory_->ReportFailed(attempt->service, instance.instance_id, result.error);
                    attempt->last_failure = std::move(result);
                    SendToInstance(std::move(attempt));
                  });
}

void CallRouter::CancelAndDrain() {
  cancelled_ = true;
  transport_.CancelAndDrain();
}

}  // namespace skald::engine
