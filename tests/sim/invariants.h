#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "coordinator/core/definition.h"
#include "tests/sim/memory_saga_store.h"
#include "tests/sim/participants.h"

namespace skald::sim {

// What the invariant checker reads once a simulated run is over.
struct RunOutcome {
  // Every saga the store holds, with its full history (MemorySagaStore::Sagas).
  std::vector<StoredSaga> sagas;
  // The definitions by name (each simulated definition has one version).
  std::map<std::string, core::SagaDefinition> definitions;
  // Sagas whose StartSaga returned OK to a client.
  std::set<std::string> acknowledged;
  // What the participants applied, in order, and the calls they should never have had.
  std::vector<AppliedEffect> effects;
  std::vector<std::string> forbidden_calls;
  // True when faults stopped and time ran on long enough for every saga to settle.
  bool settled = true;
};

// Returns every invariant the run broke, each a sentence naming the saga and step:
// - no acknowledged saga lost: each exists in the store;
// - a way forward: once settled, every saga is COMPLETED, COMPENSATED, or FAILED with a
//   reason (waiting for an operator);
// - each step's effect (action, compensation) applied at most once;
// - compensations in reverse dependency order: a step is compensated only after every step
//   depending on it that took effect was compensated;
// - nothing at or after the pivot compensated (no participant ever asked to);
// - effects agree with the end state: a COMPLETED saga's succeeded steps took effect and
//   were not undone; a COMPENSATED saga left no effect undone (steps an operator skipped
//   excepted);
// - history consistent with state: event ids increase, nothing follows a saga's
//   completion or compensation, each phase of a step succeeded at most once, and the
//   last saga event matches its state.
std::vector<std::string> CheckInvariants(const RunOutcome& run);

}  // namespace skald::sim
