#include "tests/sim/participants.h"

namespace skald::sim {
namespace {

WireReply Success(nlohmann::json output) {
  WireReply reply;
  reply.outcome = core::kWireOutcomeSuccess;
  reply.output_json = output.dump();
  return reply;
}

WireReply Failure(int outcome, std::string code, std::string message) {
  WireReply reply;
  reply.outcome = outcome;
  reply.error_code = std::move(code);
  reply.error_message = std::move(message);
  return reply;
}

}  // namespace

void ParticipantWorld::AddDefinition(const core::SagaDefinition& definition,
                                     const std::map<std::string, StepBehaviour>& behaviour) {
  for (const core::StepDefinition& step : definition.steps) {
    auto it = behaviour.find(step.name);
    const StepBehaviour how = it == behaviour.end() ? StepBehaviour{} : it->second;
    // Handlers are named uniquely across the simulated definitions.
    steps_by_handler_[step.action] = {step, how};
    if (step.has_compensation()) steps_by_handler_[step.compensation] = {step, how};
  }
}

WireReply ParticipantWorld::Deliver(const std::string& address, const v1::StepCall& call) {
  ++deliveries_;
  if (auto down = down_until_.find(address);
      down != down_until_.end() && scheduler_.elapsed() < down->second) {
    WireReply refused;
    refused.status_code = absl::StatusCode::kUnavailable;
    refused.status_message = "connection refused (instance " + address + " is down)";
    return refused;
  }
  const core::Phase phase =
      call.phase() == v1::PHASE_COMPENSATION ? core::Phase::kCompensation : core::Phase::kAction;
  auto handler = steps_by_handler_.find(call.handler());
  if (handler == steps_by_handler_.end()) {
    WireReply unknown;
    unknown.status_code = absl::StatusCode::kUnimplemented;
    unknown.status_message = "no handler " + call.handler();
    return unknown;
  }
  const auto& [step, behaviour] = handler->second;
  if (phase == core::Phase::kCompensation && (!step.has_compensation() || step.forward_only())) {
    forbidden_calls_.push_back("compensation of step " + step.name + " of saga " + call.saga_id() +
                               " (it has none, or is at or after the pivot)");
  }
  const Key key{call.saga_id(), step.name, phase};
  if (auto recorded = barrier_.find(key); recorded != barrier_.end()) {
    ++replays_;
    return recorded->second.reply;
  }
  if (Chance(behaviour.transient_error)) {
    return Failure(core::kWireOutcomeRetryableError, "busy", "try again later");
  }
  const auto record_effect = [&] {
    effects_.push_back({effects_.size() + 1, call.saga_id(), step.name, phase});
  };
  if (phase == core::Phase::kAction) {
    if (barrier_.contains({call.saga_id(), step.name, core::Phase::kCompensation})) {
      ++refused_actions_;
      WireReply refused = Failure(core::kWireOutcomeBusinessFailure, "compensated_before_action",
                                  "compensated before its action arrived; refused");
      barrier_[key] = {refused};
      return refused;
    }
    if (Chance(behaviour.business_failure)) {
      WireReply declined = Failure(core::kWireOutcomeBusinessFailure, "declined", "no");
      barrier_[key] = {declined};
      return declined;
    }
    record_effect();
    WireReply done = Success({{"step", step.name}, {"attempt", call.attempt()}});
    barrier_[key] = {done};
    return done;
  }
  // A compensation: undoes the action's effect if it had one, else is a null compensation.
  const auto action = barrier_.find({call.saga_id(), step.name, core::Phase::kAction});
  const bool action_applied =
      action != barrier_.end() && action->second.reply.outcome == core::kWireOutcomeSuccess;
  if (action_applied) {
    record_effect();
  } else {
    ++null_compensations_;
  }
  WireReply done = Success({{"undone", action_applied}});
  barrier_[key] = {done};
  return done;
}

}  // namespace skald::sim
