#include "tests/conformance/conformance_checks.h"

#include <functional>
#include <optional>
#include <thread>
#include <utility>

namespace skald::conformance {
namespace {

using nlohmann::json;

constexpr char kAdd[] = "conformance.add";
constexpr char kSubtract[] = "conformance.subtract";
constexpr char kRead[] = "conformance.read";

// How often a retryable reply is answered with another attempt, as a coordinator would.
constexpr int kMaxAttempts = 20;
constexpr absl::Duration kRetryInterval = absl::Milliseconds(100);

// One check in progress: its calls, what they answered, and whether it still passes.
class Check {
 public:
  Check(const StepCaller& caller, const std::string& run_id, std::string name, std::string promise)
      : caller_(caller), prefix_(run_id + "/" + name) {
    report_.name = std::move(name);
    report_.promise = std::move(promise);
  }

  std::string counter() const { return prefix_; }
  std::string saga(int n) const { return prefix_ + "/saga-" + std::to_string(n); }

  // The input of conformance.add and conformance.subtract for this check's counter.
  json Change(int amount, json extra = json::object()) const {
    extra["counter"] = counter();
    extra["amount"] = amount;
    return extra;
  }

  StepCallSpec Spec(Phase phase, int saga_number, json input, int attempt = 1) const {
    return {.saga_id = saga(saga_number),
            .step = "change",
            .phase = phase,
            .handler = phase == Phase::kAction ? kAdd : kSubtract,
            .attempt = attempt,
            .input = std::move(input)};
  }

  CallResult Send(const StepCallSpec& spec) {
    CallResult result = caller_.Call(spec);
    Observe(Label(spec) + " -> " + result.Describe());
    return result;
  }

  // Calls the participant's read action (a saga of its own each time); nullopt when it did
  // not answer with an integer value.
  std::optional<long long> Read() {
    const StepCallSpec spec{.saga_id = prefix_ + "/read-" + std::to_string(++reads_),
                            .step = "read",
                            .phase = Phase::kAction,
                            .handler = kRead,
                            .input = {{"counter", counter()}}};
    const CallResult result = caller_.Call(spec);
    const json output = result.output();
    if (output.is_object() && output.contains("value") && output["value"].is_number_integer()) {
      return output["value"].get<long long>();
    }
    Observe("conformance.read -> " + result.Describe());
    return std::nullopt;
  }

  void Expect(bool holds, const std::string& expectation) {
    if (holds) return;
    report_.passed = false;
    Observe("FAILED: expected " + expectation);
  }

  void ExpectCounter(long long expected, const std::string& when) {
    const std::optional<long long> value = Read();
    Observe("counter " + when + ": " + (value ? std::to_string(*value) : "unreadable"));
    Expect(value == expected, "the counter " + when + " to be " + std::to_string(expected));
  }

  void Observe(std::string line) { report_.observations.push_back(std::move(line)); }

  CheckReport Finish() { return std::move(report_); }

  static std::string Label(const StepCallSpec& spec) {
    return spec.handler + " " + spec.saga_id.substr(spec.saga_id.rfind('/') + 1) + " attempt " +
           std::to_string(spec.attempt) + " " + spec.input.dump();
  }

 private:
  const StepCaller& caller_;
  const std::string prefix_;
  int reads_ = 0;
  CheckReport report_;
};

bool SameSuccess(const CallResult& a, const CallResult& b) {
  return a.success() && b.success() && a.output() == b.output() && !a.output().is_null();
}

void DuplicateSequential(Check& check) {
  const StepCallSpec add = check.Spec(Phase::kAction, 1, check.Change(7));
  const CallResult first = check.Send(add);
  check.Expect(first.success(), "the first delivery to succeed");
  for (int repeat = 0; repeat < 2; ++repeat) {
    const CallResult again = check.Send(add);
    check.Expect(SameSuccess(first, again), "a repeat to return the first reply");
  }
  check.ExpectCounter(7, "after three deliveries of one add of 7");
}

void DuplicateConcurrent(Check& check, const StepCaller& caller) {
  constexpr int kDeliveries = 8;
  const StepCallSpec add = check.Spec(Phase::kAction, 1, check.Change(5));
  std::vector<std::vector<CallResult>> answers(kDeliveries);
  std::vector<std::thread> deliveries;
  for (int i = 0; i < kDeliveries; ++i) {
    deliveries.emplace_back([&, i] {
      // A delivery told to retry is retried (same call), as the coordinator would.
      for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
        answers[i].push_back(caller.Call(add));
        if (!answers[i].back().retryable()) break;
        absl::SleepFor(kRetryInterval);
      }
    });
  }
  for (std::thread& delivery : deliveries) delivery.join();
  const CallResult* reference = nullptr;
  for (int i = 0; i < kDeliveries; ++i) {
    for (const CallResult& answer : answers[i]) {
      check.Observe("delivery " + std::to_string(i + 1) + " of " + Check::Label(add) + " -> " +
                    answer.Describe());
    }
    const CallResult& last = answers[i].back();
    check.Expect(last.success(), "delivery " + std::to_string(i + 1) + " to end in success");
    if (reference == nullptr) {
      reference = &last;
    } else {
      check.Expect(SameSuccess(*reference, last),
                   "delivery " + std::to_string(i + 1) + " to get the same reply as the first");
    }
  }
  check.ExpectCounter(5, "after 8 concurrent deliveries of one add of 5");
}

void RetrySameKey(Check& check) {
  const CallResult first = check.Send(check.Spec(Phase::kAction, 1, check.Change(3), 1));
  check.Expect(first.success(), "attempt 1 to succeed");
  for (int attempt = 2; attempt <= 3; ++attempt) {
    const CallResult retry = check.Send(check.Spec(Phase::kAction, 1, check.Change(3), attempt));
    check.Expect(SameSuccess(first, retry),
                 "attempt " + std::to_string(attempt) + " to return attempt 1's reply");
  }
  check.ExpectCounter(3, "after attempts 1-3 of one add of 3");
  const CallResult undo = check.Send(check.Spec(Phase::kCompensation, 1, check.Change(3), 1));
  check.Expect(undo.success(), "the compensation's attempt 1 to succeed");
  const CallResult undo_again = check.Send(check.Spec(Phase::kCompensation, 1, check.Change(3), 2));
  check.Expect(SameSuccess(undo, undo_again), "its attempt 2 to return attempt 1's reply");
  check.ExpectCounter(0, "after attempts 1-2 of its compensation");
}

void CompensationWithoutAction(Check& check) {
  for (int attempt = 1; attempt <= 2; ++attempt) {
    const CallResult undo =
        check.Send(check.Spec(Phase::kCompensation, 1, check.Change(4), attempt));
    check.Expect(undo.success(), "a compensation whose action never ran to succeed");
  }
  check.ExpectCounter(0, "after compensating an add of 4 that never ran");
}

void CompensationBeforeAction(Check& check) {
  const CallResult undo = check.Send(check.Spec(Phase::kCompensation, 1, check.Change(4)));
  check.Expect(undo.success(), "the early compensation to succeed");
  for (int attempt = 1; attempt <= 2; ++attempt) {
    const CallResult late = check.Send(check.Spec(Phase::kAction, 1, check.Change(4), attempt));
    check.Expect(late.business_failure(),
                 "the action arriving after its compensation to be refused (business failure)");
  }
  check.ExpectCounter(0, "after a compensation, then its add of 4 arriving late");
}

void BusinessFailureHasNoEffect(Check& check) {
  const json failing = check.Change(6, {{"fail_after_write", true}});
  const CallResult first = check.Send(check.Spec(Phase::kAction, 1, failing, 1));
  check.Expect(first.business_failure() && first.reply.error_code() == "failed_after_write",
               "business failure \"failed_after_write\"");
  check.ExpectCounter(0, "after an add of 6 that wrote, then failed");
  const CallResult again = check.Send(check.Spec(Phase::kAction, 1, failing, 2));
  check.Expect(again.business_failure(), "a repeat to answer the business failure again");
  const CallResult undo = check.Send(check.Spec(Phase::kCompensation, 1, failing));
  check.Expect(undo.success(), "the compensation of a failed action to succeed");
  check.ExpectCounter(0, "after compensating the failed add");
}

void ReplyAfterDeadline(Check& check) {
  constexpr int kDelayMs = 600;
  const json slow = check.Change(9, {{"delay_ms", kDelayMs}});
  StepCallSpec late = check.Spec(Phase::kAction, 1, slow, 1);
  late.timeout = absl::Milliseconds(200);
  const CallResult first = check.Send(late);
  check.Expect(!first.success(), "no success within a 200 ms deadline from a 600 ms handler");
  // Let the handler finish: whatever it does after the deadline must not stay.
  absl::SleepFor(absl::Milliseconds(kDelayMs + 600));
  check.ExpectCounter(0, "after the attempt whose handler outlived its deadline");
  const CallResult retry = check.Send(check.Spec(Phase::kAction, 1, slow, 2));
  check.Expect(retry.success(), "attempt 2, with time enough, to succeed");
  check.ExpectCounter(9, "after attempt 2");
  const CallResult repeat = check.Send(check.Spec(Phase::kAction, 1, slow, 3));
  check.Expect(SameSuccess(retry, repeat), "attempt 3 to return attempt 2's reply");
  check.ExpectCounter(9, "after attempt 3");
}

struct CheckDefinition {
  std::string name;
  std::string promise;
  std::function<void(Check&, const StepCaller&)> run;
};

std::vector<CheckDefinition> Definitions() {
  return {
      {"duplicate-sequential",
       "a delivery repeated (same saga, step, phase and key) returns the first reply; the "
       "effect is applied once",
       [](Check& c, const StepCaller&) { DuplicateSequential(c); }},
      {"duplicate-concurrent",
       "deliveries of one call arriving together get one reply; the effect is applied once",
       [](Check& c, const StepCaller& caller) { DuplicateConcurrent(c, caller); }},
      {"retry-same-key",
       "attempts of one step and phase (one idempotency key) apply the effect once, and so do "
       "its compensation's",
       [](Check& c, const StepCaller&) { RetrySameKey(c); }},
      {"compensation-without-action",
       "a compensation whose action never ran succeeds and changes nothing",
       [](Check& c, const StepCaller&) { CompensationWithoutAction(c); }},
      {"compensation-before-action",
       "an action arriving after its step's compensation is refused and changes nothing",
       [](Check& c, const StepCaller&) { CompensationBeforeAction(c); }},
      {"business-failure-no-effect",
       "a business failure leaves no effect, even when the handler wrote first; a repeat "
       "answers it again; its compensation changes nothing",
       [](Check& c, const StepCaller&) { BusinessFailureHasNoEffect(c); }},
      {"reply-after-deadline",
       "an attempt whose handler outlives the call's deadline leaves no effect; a later "
       "attempt applies it once",
       [](Check& c, const StepCaller&) { ReplyAfterDeadline(c); }},
  };
}

}  // namespace

std::vector<std::string> ConformanceCheckNames() {
  std::vector<std::string> names;
  for (const CheckDefinition& definition : Definitions()) names.push_back(definition.name);
  return names;
}

std::vector<CheckReport> RunConformanceChecks(const StepCaller& caller, const std::string& run_id) {
  std::vector<CheckReport> reports;
  for (const CheckDefinition& definition : Definitions()) {
    Check check(caller, run_id, definition.name, definition.promise);
    definition.run(check, caller);
    reports.push_back(check.Finish());
  }
  return reports;
}

}  // namespace skald::conformance
