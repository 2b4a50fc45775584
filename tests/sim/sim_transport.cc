#include "tests/sim/sim_transport.h"

namespace skald::sim {
namespace {

std::string Label(const v1::StepCall& call) {
  return call.saga_id() + "/" + call.step() + "/" +
         (call.phase() == v1::PHASE_COMPENSATION ? "compensation" : "action") + "#" +
         std::to_string(call.attempt());
}

engine::CallResult Classify(const std::string& address, const WireReply& reply) {
  return core::ClassifyParticipantReply(
      address, {reply.status_code, reply.status_message, reply.outcome, reply.output_json,
                reply.error_code, reply.error_message});
}

}  // namespace

SimulatedTransport::SimulatedTransport(std::string coordinator, Scheduler& scheduler,
                                       ParticipantWorld& world, uint64_t seed,
                                       const NetworkFaults& faults,
                                       std::function<void(const std::string&)> count_fault)
    : coordinator_(std::move(coordinator)),
      scheduler_(scheduler),
      world_(world),
      random_(seed),
      faults_(faults),
      count_fault_(std::move(count_fault)) {}

SimulatedTransport::~SimulatedTransport() = default;

SimDuration SimulatedTransport::Delay(std::chrono::milliseconds timeout) {
  if (Chance(faults_.delayed_past_deadline)) {
    count_fault_("network:delayed_past_deadline");
    return SimDuration(std::uniform_int_distribution<int64_t>(timeout.count() * 1000,
                                                              timeout.count() * 3000)(random_));
  }
  return SimDuration(std::uniform_int_distribution<int64_t>(200, 30'000)(random_));
}

bool SimulatedTransport::Report(Calls& calls, uint64_t id, engine::CallResult result) {
  auto it = calls.pending.find(id);
  if (it == calls.pending.end()) return false;
  auto done = std::move(it->second);
  calls.pending.erase(it);
  done(std::move(result));
  return true;
}

void SimulatedTransport::Call(const std::string& address, const v1::StepCall& call,
                              std::chrono::milliseconds timeout,
                              std::function<void(engine::CallResult)> done) {
  const uint64_t id = next_id_++;
  const std::string label = coordinator_ + " " + Label(call);
  calls_->pending.emplace(id, std::move(done));
  std::weak_ptr<Calls> calls = calls_;
  scheduler_.After(timeout, "", [calls, id, address, label, this_scheduler = &scheduler_] {
    auto alive = calls.lock();
    if (!alive) return;
    engine::CallResult timed_out = Classify(
        address, {absl::StatusCode::kDeadlineExceeded, "Deadline Exceeded", 0, "", "", ""});
    if (Report(*alive, id, std::move(timed_out))) this_scheduler->Note(label + " timed out");
  });
  if (Chance(faults_.request_lost)) {
    scheduler_.Note(label + " request lost");
    count_fault_("network:request_lost");
    return;
  }
  const int deliveries = Chance(faults_.duplicated) ? 2 : 1;
  if (deliveries == 2) count_fault_("network:duplicated");
  for (int i = 0; i < deliveries; ++i) {
    scheduler_.After(Delay(timeout), "deliver " + label,
                     [this, calls, id, address, call, timeout, label] {
                       if (calls.expired()) return;  // The coordinator crashed.
                       Deliver(id, address, call, timeout, label);
                     });
  }
}

void SimulatedTransport::Deliver(uint64_t id, std::string address, v1::StepCall call,
                                 std::chrono::milliseconds timeout, std::string label) {
  WireReply reply = world_.Deliver(address, call);
  if (Chance(faults_.reply_lost)) {
    scheduler_.Note(label + " reply lost");
    count_fault_("network:reply_lost");
    return;
  }
  if (Chance(faults_.reply_never_reported_for_mutation_test)) {
    scheduler_.Note(label + " reply swallowed (mutation)");
    count_fault_("mutation:reply_swallowed");
    calls_->pending.erase(id);
    return;
  }
  if (reply.status_code == absl::StatusCode::kOk && Chance(faults_.malformed)) {
    switch (std::uniform_int_distribution<int>(0, 2)(random_)) {
      case 0:
        reply.output_json = "{\"truncated\": ";
        break;
      case 1:
        reply.outcome = 7;
        break;
      default:
        reply.outcome = core::kWireOutcomeRetryableError;
        reply.error_code = std::string(300, 'x');
        break;
    }
    label += " (malformed)";
    count_fault_("network:malformed_reply");
  }
  std::weak_ptr<Calls> calls = calls_;
  scheduler_.After(Delay(timeout), "", [calls, id, address, reply, label, this] {
    auto alive = calls.lock();
    if (!alive) return;
    engine::CallResult result = Classify(address, reply);
    const std::string outcome = result.outcome == core::AttemptOutcome::kSuccess   ? "success"
                                : result.outcome == core::AttemptOutcome::kFailure ? "failure"
                                                                                   : "retryable";
    const bool reported = Report(*alive, id, std::move(result));
    scheduler_.Note(label + (reported ? " answered " : " late reply dropped: ") + outcome);
  });
}

void SimulatedTransport::CancelAndDrain() {
  auto pending = std::move(calls_->pending);
  calls_->pending.clear();
  for (auto& [id, done] : pending) {
    done(Classify("", {absl::StatusCode::kCancelled, "cancelled", 0, "", "", ""}));
  }
}

}  // namespace skald::sim
