// The conformance checks: the promises every Skald participant SDK keeps, checked against a
// participant implementing the conformance contract (docs/participant-sdk.md, "The
// conformance contract": a counter changed by action "conformance.add" and compensation
// "conformance.subtract", read by action "conformance.read").
#ifndef SKALD_TESTS_CONFORMANCE_CONFORMANCE_CHECKS_H_
#define SKALD_TESTS_CONFORMANCE_CONFORMANCE_CHECKS_H_

#include <string>
#include <vector>

#include "tests/conformance/step_caller.h"

namespace skald::conformance {

struct CheckReport {
  std::string name;     // e.g. "duplicate-sequential"
  std::string promise;  // one sentence: what a conforming participant does
  bool passed = true;
  // What was sent and seen, in order, and for a failure what was expected instead.
  std::vector<std::string> observations;
};

// The names of every check, in the order RunConformanceChecks runs them.
std::vector<std::string> ConformanceCheckNames();

// Runs every check against the participant behind `caller` and returns one report per check.
// `run_id` prefixes every counter and saga id, so that runs against the same participant and
// database do not see each other's counters. Takes a few seconds (one check waits out a slow
// handler). Each call is bounded by its deadline, so a dead participant fails every check
// quickly rather than hanging.
std::vector<CheckReport> RunConformanceChecks(const StepCaller& caller, const std::string& run_id);

}  // namespace skald::conformance

#endif  // SKALD_TESTS_CONFORMANCE_CONFORMANCE_CHECKS_H_
