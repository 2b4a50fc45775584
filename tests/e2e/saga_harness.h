// A coordinator and test-participant processes (tests/e2e/test_participant.cc) on loopback,
// for end-to-end tests that run arbitrary definitions and check every participant call.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/coordinator_process.h"
#include "tests/support/temp_dir.h"

namespace skald::testing {

// One participant call as test-participant recorded it (a row of testp.calls).
struct RecordedCall {
  std::string saga_id;
  std::string step;
  std::string phase;  // "action" or "compensation"
  std::string handler;
  int attempt = 0;
  std::string idempotency_key;
  nlohmann::json input;
  nlohmann::json action_output;  // null for actions
  absl::Time started;
  std::optional<absl::Time> finished;  // nullopt while the handler runs
  std::string outcome;                 // "success", "retryable", "business_failure", ""
  std::string error_code;
  nlohmann::json output;
  // The W3C trace context the call carried; empty when none.
  std::string traceparent;

  // "step/phase#attempt", for messages.
  std::string Describe() const;
};

class SagaHarness {
 public:
  // Starts `participants` test-participant processes, then the coordinator, each on a
  // fresh database of the test binary's PostgreSQL cluster (participants share theirs).
  static absl::StatusOr<std::unique_ptr<SagaHarness>> Start(int participants = 1);
  // The same, with `coordinator_flags` added to the coordinator's command line.
  static absl::StatusOr<std::unique_ptr<SagaHarness>> Start(
      int participants, std::vector<std::string> coordinator_flags);

  CoordinatorProcess& coordinator() { return *coordinator_; }
  // The address of participant `index`. REQUIRES: 0 <= index < participants.
  const std::string& participant(int index) const { return participants_.at(index).address; }

  // Applies `definition` after replacing each step's "participant" of the form "pN" with
  // participant N's address. Returns the coordinator's error, if any.
  absl::Status Apply(nlohmann::json definition);

  // Starts a saga of `definition` with `input` and waits until it is terminal.
  absl::StatusOr<v1::Saga> Run(const std::string& definition, const nlohmann::json& input,
                               absl::Duration timeout = absl::Seconds(15));

  // Returns every call recorded for `saga_id`, in the order they started.
  absl::StatusOr<std::vector<RecordedCall>> Calls(const std::string& saga_id);

  // The tails of every process's log, for failure messages.
  std::string Logs() const;

 private:
  explicit SagaHarness(TempDir dir) : dir_(std::move(dir)) {}

  TempDir dir_;
  std::string participants_db_;
  std::unique_ptr<CoordinatorProcess> coordinator_;
  std::vector<ReadyProcess> participants_;
};

// The calls among `calls` of `step` in `phase`, in the order they started.
std::vector<RecordedCall> CallsOf(const std::vector<RecordedCall>& calls, const std::string& step,
                                  const std::string& phase = "action");

// The state of each step of `saga` by name: {"a": "SUCCEEDED", ...}.
std::map<std::string, std::string> StepStates(const v1::Saga& saga);

// The step of `saga` called `name`; an empty Step if there is none.
v1::Step StepNamed(const v1::Saga& saga, const std::string& name);

}  // namespace skald::testing
