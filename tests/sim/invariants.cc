#include "tests/sim/invariants.h"

#include <algorithm>

namespace skald::sim {
namespace {

// Indices of the steps that depend on `step`, directly or through others.
std::set<int> Descendants(const core::SagaDefinition& definition, int step) {
  std::set<int> found;
  bool grew = true;
  while (grew) {
    grew = false;
    for (int i = 0; i < static_cast<int>(definition.steps.size()); ++i) {
      if (found.contains(i)) continue;
      for (int parent : definition.steps[i].after) {
        if (parent == step || found.contains(parent)) {
          found.insert(i);
          grew = true;
          break;
        }
      }
    }
  }
  return found;
}

class Checker {
 public:
  explicit Checker(const RunOutcome& run) : run_(run) {
    for (const AppliedEffect& effect : run.effects) {
      auto& slot = effects_[{effect.saga_id, effect.step}];
      (effect.phase == core::Phase::kAction ? slot.actions : slot.compensations)
          .push_back(effect.sequence);
    }
  }

  std::vector<std::string> Check() {
    std::set<std::string> stored;
    for (const StoredSaga& saga : run_.sagas) {
      stored.insert(saga.record.state.id);
      CheckSaga(saga);
    }
    for (const std::string& id : run_.acknowledged) {
      if (!stored.contains(id)) Violation(id, "acknowledged to its client but not in the store");
    }
    for (const auto& [key, slot] : effects_) {
      if (slot.actions.size() > 1) {
        Violation(key.first, "step " + key.second + ": action applied " +
                                 std::to_string(slot.actions.size()) + " times");
      }
      if (slot.compensations.size() > 1) {
        Violation(key.first, "step " + key.second + ": compensation applied " +
                                 std::to_string(slot.compensations.size()) + " times");
      }
    }
    for (const std::string& call : run_.forbidden_calls)
      violations_.push_back("forbidden call: " + call);
    return std::move(violations_);
  }

 private:
  struct Effects {
    std::vector<uint64_t> actions;
    std::vector<uint64_t> compensations;
  };

  void Violation(const std::string& saga_id, const std::string& what) {
    violations_.push_back("saga " + saga_id + ": " + what);
  }

  const Effects* EffectsOf(const std::string& saga_id, const std::string& step) const {
    auto it = effects_.find({saga_id, step});
    return it == effects_.end() ? nullptr : &it->second;
  }

  void CheckSaga(const StoredSaga& saga) {
    const core::SagaState& state = saga.record.state;
    const std::string& id = state.id;
    auto definition_it = run_.definitions.find(saga.record.definition_name);
    if (definition_it == run_.definitions.end()) {
      Violation(id, "of unknown definition " + saga.record.definition_name);
      return;
    }
    const core::SagaDefinition& definition = definition_it->second;
    if (run_.settled && !core::IsTerminal(state.status)) {
      Violation(id, "still " + std::string(core::ToString(state.status)) +
                        " after faults stopped and time ran on: no way forward");
    }
    if (state.status == core::SagaStatus::kFailed && state.error.empty()) {
      Violation(id, "FAILED without a reason for the operator");
    }
    std::set<std::string> skipped_by_operator;
    for (const store::HistoryRecord& event : saga.history) {
      if (event.type == "operator_skip") skipped_by_operator.insert(event.step);
    }
    CheckHistory(saga);
    // Effects: reverse dependency order, and agreement with the end state.
    for (int i = 0; i < static_cast<int>(definition.steps.size()); ++i) {
      const std::string& name = definition.steps[i].name;
      const Effects* mine = EffectsOf(id, name);
      if (mine && !mine->compensations.empty()) {
        const uint64_t undone_at = mine->compensations.front();
        for (int later : Descendants(definition, i)) {
          const std::string& later_name = definition.steps[later].name;
          const Effects* theirs = EffectsOf(id, later_name);
          if (!theirs || theirs->actions.empty()) continue;
          if (skipped_by_operator.contains(later_name)) continue;
          if (theirs->compensations.empty() || theirs->compensations.front() > undone_at) {
            Violation(id, "step " + name + " was compensated while " + later_name +
                              ", which depends on it, still had its effect");
          }
        }
      }
      if (skipped_by_operator.contains(name)) continue;
      const bool acted = mine && !mine->actions.empty();
      const bool undone = mine && !mine->compensations.empty();
      if (state.status == core::SagaStatus::kCompleted &&
          state.steps[i].status == core::StepStatus::kSucceeded && (!acted || undone)) {
        Violation(id, "COMPLETED, but step " + name +
                          (acted ? " had its effect undone" : " never took effect"));
      }
      if (state.status == core::SagaStatus::kCompensated && acted && !undone) {
        Violation(id, "COMPENSATED, but step " + name + " took effect and was never undone");
      }
    }
  }

  void CheckHistory(const StoredSaga& saga) {
    const std::string& id = saga.record.state.id;
    int64_t last_id = 0;
    std::string ended_by;
    std::string last_saga_event;
    std::set<std::pair<std::string, std::string>> succeeded;
    for (const store::HistoryRecord& event : saga.history) {
      if (event.id <= last_id) Violation(id, "history ids do not increase at " + event.type);
      last_id = event.id;
      if (!ended_by.empty()) {
        Violation(id, "history has " + event.type + " after " + ended_by);
        ended_by.clear();  // Once per saga is enough.
      }
      if (event.type == "saga_completed" || event.type == "saga_compensated") {
        ended_by = event.type;
      }
      if (event.type.starts_with("saga_")) last_saga_event = event.type;
      if (event.type == "attempt_succeeded" &&
          !succeeded.insert({event.step, event.phase}).second) {
        Violation(id, "history records the " + event.phase + " of step " + event.step +
                          " succeeding twice");
      }
    }
    // Each step's state agrees with what its history says happened to it.
    const core::SagaState& state = saga.record.state;
    for (size_t i = 0; i < state.steps.size() && i < saga.record.step_names.size(); ++i) {
      const std::string& step = saga.record.step_names[i];
      const auto has = [&](const std::string& type, const std::string& phase) {
        return std::any_of(saga.history.begin(), saga.history.end(),
                           [&](const store::HistoryRecord& event) {
                             return event.type == type && event.step == step &&
                                    (phase.empty() || event.phase == phase);
                           });
      };
      const bool by_operator = has("operator_skip", "");
      const core::StepStatus step_status = state.steps[i].status;
      const bool agrees = step_status == core::StepStatus::kSucceeded
                              ? has("attempt_succeeded", "action") || by_operator
                          : step_status == core::StepStatus::kCompensated
                              ? has("attempt_succeeded", "compensation") || by_operator
                          : step_status == core::StepStatus::kSkipped ? has("step_skipped", "")
                          : step_status == core::StepStatus::kPending ? !has("attempt_started", "")
                                                                      : true;
      if (!agrees) {
        Violation(id, "step " + step + " is " + std::string(core::ToString(step_status)) +
                          ", which its history does not bear out");
      }
    }
    const core::SagaStatus status = saga.record.state.status;
    const char* expected = status == core::SagaStatus::kCompleted     ? "saga_completed"
                           : status == core::SagaStatus::kCompensated ? "saga_compensated"
                           : status == core::SagaStatus::kFailed      ? "saga_failed"
                                                                      : nullptr;
    if (expected && last_saga_event != expected) {
      Violation(id, std::string(core::ToString(status)) + " but its last saga event is " +
                        (last_saga_event.empty() ? "none" : last_saga_event));
    }
  }

  const RunOutcome& run_;
  std::map<std::pair<std::string, std::string>, Effects> effects_;
  std::vector<std::string> violations_;
};

}  // namespace

std::vector<std::string> CheckInvariants(const RunOutcome& run) { return Checker(run).Check(); }

}  // namespace skald::sim
