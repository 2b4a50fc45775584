#include "coordinator/core/simulation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "coordinator/core/duration.h"
#include "coordinator/core/state_machine.h"
#include "coordinator/core/template.h"

namespace skald::core {
namespace {

using nlohmann::json;

// Any moment will do: time only moves when a scenario makes a deadline pass.
const TimePoint kStart = TimePoint{} + std::chrono::hours(24 * 365 * 50);
constexpr std::string_view kSimulatedSagaId = "simulated-saga";
constexpr std::string_view kFailureCode = "simulated_failure";
// What a made-up value that a reference must find looks like.
constexpr char kPlaceholder[] = "simulated";

// The saga input and the step outputs a scenario replies with.
struct MadeUpData {
  json input = json::object();
  std::vector<json> outputs;  // One object per step.
};

// Writes values where references point, so that they resolve (or, for a `when` meant to
// be false, so that they do not match). Conflicting demands are left to the engine to
// report: the scenario then shows what it does with them.
class DataBuilder {
 public:
  explicit DataBuilder(const SagaDefinition& definition) : definition_(definition) {
    data_.outputs.assign(definition.steps.size(), json::object());
  }

  // Puts a placeholder where `reference` points unless something is there already.
  void Ensure(const Reference& reference) {
    json* document = Document(reference);
    if (document == nullptr || reference.pointer.empty()) return;
    try {
      if (!document->contains(reference.pointer)) (*document)[reference.pointer] = kPlaceholder;
    } catch (const json::exception&) {
      // The pointer runs through a value that is not a container: left unresolved.
    }
  }

  // Makes the value at `reference` be `value`, or absent when `value` is nullopt.
  void Set(const Reference& reference, const std::optional<json>& value) {
    json* document = Document(reference);
    if (document == nullptr || reference.pointer.empty()) return;
    try {
      if (value) {
        (*document)[reference.pointer] = *value;
        return;
      }
      const json::json_pointer parent = reference.pointer.parent_pointer();
      if (document->contains(parent) && document->at(parent).is_object()) {
        document->at(parent).erase(reference.pointer.back());
      }
    } catch (const json::exception&) {
      // As in Ensure.
    }
  }

  MadeUpData Take() { return std::move(data_); }

 private:
  json* Document(const Reference& reference) {
    if (reference.step.empty()) return &data_.input;
    const std::optional<int> index = definition_.StepIndex(reference.step);
    return index ? &data_.outputs[*index] : nullptr;
  }

  const SagaDefinition& definition_;
  MadeUpData data_;
};

double Above(double n) {
  const double up = n + 1;
  return up > n ? up : std::nextafter(n, std::numeric_limits<double>::infinity());
}

double Below(double n) {
  const double down = n - 1;
  return down < n ? down : std::nextafter(n, -std::numeric_limits<double>::infinity());
}

// Returns a value for which `condition` is `holds`; nullopt means "absent".
std::optional<json> ValueMaking(const Condition& condition, bool holds) {
  const json& operand = condition.operand;
  // An object wrapping a value never equals it.
  const json different = json{{"not", operand}};
  const double n = operand.is_number() ? operand.get<double>() : 0.0;
  switch (condition.op) {
    case Condition::Op::kEquals:
      return holds ? operand : different;
    case Condition::Op::kNotEquals:
      return holds ? different : operand;
    case Condition::Op::kExists:
      if ((operand == true) == holds) return json(kPlaceholder);
      return std::nullopt;
    case Condition::Op::kGt:
      return holds ? Above(n) : n;
    case Condition::Op::kGte:
      return holds ? n : Below(n);
    case Condition::Op::kLt:
      return holds ? Below(n) : n;
    case Condition::Op::kLte:
      return holds ? n : Above(n);
  }
  return std::nullopt;
}

size_t Depth(const json::json_pointer& pointer) {
  const std::string text = pointer.to_string();
  return static_cast<size_t>(std::ranges::count(text, '/'));
}

// Returns an input and step outputs that resolve every reference of the step inputs and
// make every `when` hold, except that of step `false_condition` (-1: none).
MadeUpData MakeData(const SagaDefinition& definition, int false_condition) {
  std::vector<Reference> references;
  for (const StepDefinition& step : definition.steps) {
    if (!step.input) continue;
    // A malformed reference cannot be in a parsed definition; if one were, the engine
    // reports it when the step starts.
    (void)ForEachReference(*step.input, "", [&](const std::string&, const Reference& reference) {
      references.push_back(reference);
      return absl::OkStatus();
    });
  }
  // Deepest first, so that "/a/b" is made before "/a" would be filled with a placeholder.
  std::ranges::stable_sort(references, [](const Reference& a, const Reference& b) {
    return Depth(a.pointer) > Depth(b.pointer);
  });
  DataBuilder builder(definition);
  for (const Reference& reference : references) builder.Ensure(reference);
  for (size_t i = 0; i < definition.steps.size(); ++i) {
    const std::optional<Condition>& when = definition.steps[i].when;
    if (!when) continue;
    auto reference = ParseReference(when->value);
    if (!reference.ok() || !*reference) continue;
    const bool holds = false_condition != static_cast<int>(i);
    builder.Set(**reference, ValueMaking(*when, holds));
  }
  return builder.Take();
}

// What a scenario stages on top of the happy path.
struct Staging {
  // Answers this step's first action attempt with a business failure.
  std::optional<int> failing_step;
  // Makes this step's deadline pass in the round its first attempt goes out.
  std::optional<int> timeout_step;
  // Makes the saga's deadline pass in this round (0-based).
  std::optional<int> saga_timeout_round;
  // Answers every action attempt of this step OUTCOME_ACCEPTED, and never completes it.
  std::optional<int> accepting_step;
};

// Plays one scenario: feeds Decide the saga's events round by round and records what it
// asks for.
class ScenarioRun {
 public:
  ScenarioRun(const SagaDefinition& definition, MadeUpData data, Staging staging)
      : definition_(definition), data_(std::move(data)), staging_(staging) {}

  ScenarioResult Play() {
    state_ = NewSagaState(std::string(kSimulatedSagaId), data_.input, definition_.steps.size());
    Deliver(SagaResumed{});
    // Each step is called at most twice (action, compensation) in these scenarios, so a
    // saga still running after this many rounds is stuck.
    const int max_rounds = 4 * static_cast<int>(definition_.steps.size()) + 8;
    while (!IsTerminal(state_.status)) {
      if (calls_.empty()) DeliverRetries();
      if (calls_.empty()) {
        // An accepted attempt whose wait ran out is retried after its backoff.
        DeliverWaitTimeouts();
        if (calls_.empty()) DeliverRetries();
      }
      if (calls_.empty()) {
        Note("the saga is left " + std::string(ToString(state_.status)) +
             " with nothing in flight: it waits for something this simulation does not stage");
        break;
      }
      if (rounds_ == max_rounds) {
        Note("stopped after " + std::to_string(max_rounds) + " rounds with the saga still " +
             std::string(ToString(state_.status)));
        break;
      }
      PlayRound();
    }
    result_.final_state = state_;
    return std::move(result_);
  }

  // Rounds played so far.
  int rounds() const { return rounds_; }

 private:
  void PlayRound() {
    std::vector<CallParticipant> calls = std::exchange(calls_, {});
    Wave actions, compensations;
    for (const CallParticipant& call : calls) {
      (call.phase == Phase::kAction ? actions : compensations).push_back(call.step);
    }
    if (!actions.empty()) result_.actions.push_back(std::move(actions));
    if (!compensations.empty()) result_.compensations.push_back(std::move(compensations));

    if (staging_.timeout_step && !step_deadline_staged_) {
      const int step = *staging_.timeout_step;
      if (std::ranges::any_of(calls, [step](const CallParticipant& call) {
            return call.step == step && call.phase == Phase::kAction;
          })) {
        step_deadline_staged_ = true;
        PassDeadline(step);
      }
    }
    if (staging_.saga_timeout_round == rounds_) PassDeadline(std::nullopt);
    for (const CallParticipant& call : calls) Deliver(Reply(call));
    ++rounds_;
  }

  AttemptFinished Reply(const CallParticipant& call) const {
    AttemptFinished reply;
    reply.step = call.step;
    reply.phase = call.phase;
    reply.attempt = call.attempt;
    if (call.phase == Phase::kAction && staging_.accepting_step == call.step) {
      reply.outcome = AttemptOutcome::kAccepted;
      return reply;
    }
    if (call.phase == Phase::kAction && staging_.failing_step == call.step && call.attempt == 1) {
      reply.outcome = AttemptOutcome::kFailure;
      reply.error_code = std::string(kFailureCode);
      reply.error = reply.error_code + ": business failure (simulated)";
      return reply;
    }
    reply.outcome = AttemptOutcome::kSuccess;
    reply.output = call.phase == Phase::kAction ? data_.outputs[call.step] : json::object();
    return reply;
  }

  void PassDeadline(std::optional<int> step) {
    const int key = step.value_or(kSagaKey);
    const std::string what =
        step ? definition_.steps[*step].name + "'s step_timeout" : std::string("the saga timeout");
    auto armed = deadlines_.find(key);
    if (armed == deadlines_.end()) {
      std::string note = "the engine armed no deadline for " + what + ", so it never passes";
      if (step && definition_.steps[*step].forward_only()) {
        note += " (timeouts do not apply from the pivot on)";
      }
      Note(note);
      return;
    }
    const TimePoint at = armed->second;
    deadlines_.erase(armed);
    if (step) {
      if (auto saga = deadlines_.find(kSagaKey); saga != deadlines_.end() && saga->second < at) {
        Note("in a real run the saga timeout would pass first: it comes before " + what);
      }
    }
    Note(what + " passes while action wave " + std::to_string(result_.actions.size()) +
         " is in flight, " +
         FormatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(at - kStart)) +
         " after the saga started; that wave's replies come after it");
    now_ = std::max(now_, at);
    Deliver(DeadlinePassed{step});
  }

  void DeliverRetries() {
    std::vector<ScheduleRetry> due = std::exchange(retries_, {});
    std::ranges::stable_sort(due, {}, &ScheduleRetry::at);
    for (const ScheduleRetry& retry : due) {
      now_ = std::max(now_, retry.at);
      Deliver(RetryDue{retry.step, retry.phase});
    }
  }

  // Nothing else in flight: the waits of accepted attempts run out, earliest first.
  void DeliverWaitTimeouts() {
    std::vector<ScheduleWaitTimeout> due = std::exchange(waits_, {});
    std::ranges::stable_sort(due, {}, &ScheduleWaitTimeout::at);
    for (const ScheduleWaitTimeout& wait : due) {
      if (wait.at > now_) {
        Note(definition_.steps[wait.step].name + "'s attempt " + std::to_string(wait.attempt) +
             " was accepted and is never completed: its wait runs out " +
             FormatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(wait.at - now_)) +
             " later");
      }
      now_ = std::max(now_, wait.at);
      Deliver(WaitTimedOut{wait.step, wait.phase, wait.attempt});
    }
  }

  void Deliver(const Event& event) {
    Transition transition = Decide(definition_, state_, event, now_);
    state_ = std::move(transition.state);
    for (Command& command : transition.commands) {
      if (auto* call = std::get_if<CallParticipant>(&command)) {
        calls_.push_back(*call);
      } else if (auto* retry = std::get_if<ScheduleRetry>(&command)) {
        retries_.push_back(*retry);
      } else if (auto* deadline = std::get_if<ScheduleDeadline>(&command)) {
        deadlines_[deadline->step.value_or(kSagaKey)] = deadline->at;
      } else if (auto* wait = std::get_if<ScheduleWaitTimeout>(&command)) {
        waits_.push_back(*wait);
      }
    }
  }

  void Note(std::string note) { result_.notes.push_back(std::move(note)); }

  static constexpr int kSagaKey = -1;

  const SagaDefinition& definition_;
  const MadeUpData data_;
  const Staging staging_;
  SagaState state_;
  TimePoint now_ = kStart;
  int rounds_ = 0;
  bool step_deadline_staged_ = false;
  // Issued by the last decisions, answered in the next round.
  std::vector<CallParticipant> calls_;
  std::vector<ScheduleRetry> retries_;
  // Waits of accepted attempts, delivered once nothing else is in flight.
  std::vector<ScheduleWaitTimeout> waits_;
  // Armed deadlines: the step index, or kSagaKey.
  std::map<int, TimePoint> deadlines_;
  ScenarioResult result_;
};

ScenarioResult Play(const SagaDefinition& definition, ScenarioKind kind, std::optional<int> step,
                    const Staging& staging, int* rounds = nullptr) {
  const int false_condition = kind == ScenarioKind::kConditionFalse ? step.value_or(-1) : -1;
  ScenarioRun run(definition, MakeData(definition, false_condition), staging);
  ScenarioResult result = run.Play();
  result.kind = kind;
  result.step = step;
  if (rounds != nullptr) *rounds = run.rounds();
  const std::optional<int> pivot = definition.Pivot();
  result.forward_recovery = kind != ScenarioKind::kHappyPath && pivot &&
                            result.final_state.steps[*pivot].status == StepStatus::kSucceeded &&
                            result.final_state.status != SagaStatus::kCompleted;
  return result;
}

void AddStepNote(const SagaDefinition& definition, const ScenarioResult& happy,
                 ScenarioResult& result) {
  const int step = *result.step;
  const bool called = std::ranges::any_of(
      happy.actions, [step](const Wave& wave) { return std::ranges::count(wave, step) > 0; });
  if (!called) {
    result.notes.push_back(definition.steps[step].name +
                           "'s action is never called on the happy path, so this cannot happen");
  }
}

// The saga timeout scenario: its deadline passes in the last round of the happy path at
// which that still changes the outcome.
ScenarioResult PlaySagaTimeout(const SagaDefinition& definition, int happy_rounds) {
  for (int round = happy_rounds - 1; round >= 0; --round) {
    Staging staging;
    staging.saga_timeout_round = round;
    ScenarioResult result = Play(definition, ScenarioKind::kSagaTimeout, std::nullopt, staging);
    if (result.final_state.status != SagaStatus::kCompleted) return result;
  }
  Staging staging;
  staging.saga_timeout_round = 0;
  ScenarioResult result = Play(definition, ScenarioKind::kSagaTimeout, std::nullopt, staging);
  result.notes.push_back("whichever round it passes in, the saga timeout changes nothing");
  return result;
}

}  // namespace

std::string_view ToString(ScenarioKind kind) {
  switch (kind) {
    case ScenarioKind::kHappyPath:
      return "happy_path";
    case ScenarioKind::kConditionFalse:
      return "condition_false";
    case ScenarioKind::kStepFails:
      return "step_fails";
    case ScenarioKind::kStepTimeout:
      return "step_timeout";
    case ScenarioKind::kCompletionTimeout:
      return "completion_timeout";
    case ScenarioKind::kSagaTimeout:
      return "saga_timeout";
  }
  return "unknown";
}

std::vector<ScenarioResult> Simulate(const SagaDefinition& definition) {
  std::vector<ScenarioResult> results;
  int happy_rounds = 0;
  results.push_back(
      Play(definition, ScenarioKind::kHappyPath, std::nullopt, Staging{}, &happy_rounds));
  const ScenarioResult happy = results.front();
  const int steps = static_cast<int>(definition.steps.size());
  for (int i = 0; i < steps; ++i) {
    if (!definition.steps[i].when) continue;
    results.push_back(Play(definition, ScenarioKind::kConditionFalse, i, Staging{}));
  }
  for (int i = 0; i < steps; ++i) {
    Staging staging;
    staging.failing_step = i;
    results.push_back(Play(definition, ScenarioKind::kStepFails, i, staging));
    AddStepNote(definition, happy, results.back());
  }
  for (int i = 0; i < steps; ++i) {
    if (!definition.steps[i].step_timeout) continue;
    Staging staging;
    staging.timeout_step = i;
    results.push_back(Play(definition, ScenarioKind::kStepTimeout, i, staging));
    AddStepNote(definition, happy, results.back());
  }
  if (definition.timeout) results.push_back(PlaySagaTimeout(definition, happy_rounds));
  for (int i = 0; i < steps; ++i) {
    const StepDefinition& step = definition.steps[i];
    if (!step.heartbeat_timeout && step.completion_timeout == kDefaultCompletionTimeout) continue;
    Staging staging;
    staging.accepting_step = i;
    results.push_back(Play(definition, ScenarioKind::kCompletionTimeout, i, staging));
    AddStepNote(definition, happy, results.back());
  }
  return results;
}

}  // namespace skald::core
