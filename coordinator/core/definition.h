#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/core/retry_policy.h"
#include "nlohmann/json.hpp"

namespace skald::core {

// A `when` condition: a comparison of one referenced value (see template.h).
struct Condition {
  enum class Op { kEquals, kNotEquals, kExists, kGt, kGte, kLt, kLte };
  // A reference such as "${input}/amount".
  std::string value;
  Op op = Op::kExists;
  // What the value is compared with: any JSON for kEquals/kNotEquals, a boolean for
  // kExists, a number otherwise.
  nlohmann::json operand;
};

// An accepted attempt's completion_timeout when the definition sets none: long enough for
// a person to approve, short enough that a forgotten step is noticed the next day.
inline constexpr std::chrono::milliseconds kDefaultCompletionTimeout{24 * 3600 * 1000};

// One step of a saga: a forward action on a participant and, optionally, the compensation
// that undoes it.
struct StepDefinition {
  std::string name;
  // Where the action and the compensation are sent: exactly one of the two is set.
  // "host:port" of a participant at a fixed address.
  std::string participant;
  // The name of a service whose registered instances serve the step (see discovery).
  std::string service;
  std::string action;
  // Empty when the step has nothing to undo.
  std::string compensation;
  RetryPolicy retry = DefaultActionRetryPolicy();
  RetryPolicy compensation_retry = DefaultCompensationRetryPolicy();
  // The deadline of one participant call.
  std::chrono::milliseconds attempt_timeout{10'000};
  // The deadline of all the action's attempts together, from the first.
  std::optional<std::chrono::milliseconds> step_timeout;
  // How long an attempt its participant accepted (to complete later) may wait for its
  // completion; past it the attempt has failed.
  std::chrono::milliseconds completion_timeout = kDefaultCompletionTimeout;
  // With one: an accepted attempt fails unless a heartbeat (or its completion) comes within
  // this of the acceptance and of each heartbeat.
  std::optional<std::chrono::milliseconds> heartbeat_timeout;
  // Indices of the steps that must succeed (or be skipped) before this one starts.
  std::vector<int> after;
  // The input template; unset means the step receives the saga input.
  std::optional<nlohmann::json> input;
  std::optional<Condition> when;
  // The point of no return (see docs/definitions.md, "Pivot").
  bool pivot = false;
  // Comes after the pivot: retried until it succeeds, never compensated.
  bool after_pivot = false;

  bool has_compensation() const { return !compensation.empty(); }
  // The pivot and the steps after it go forward only: transient errors are retried without
  // limit and timeouts do not apply.
  bool forward_only() const { return pivot || after_pivot; }
};

// A named, versioned saga: what the coordinator runs when a saga of this name starts.
struct SagaDefinition {
  std::string name;
  int version = 0;
  std::vector<StepDefinition> steps;
  // The saga's deadline, from its start.
  std::optional<std::chrono::milliseconds> timeout;
  // The saga output template, rendered when it completes.
  std::optional<nlohmann::json> output;
  // Where each saga's completion notification is POSTed (http:// or https://); empty: none.
  std::string notify;
  // The document as applied, kept so that the stored definition is exactly what was sent.
  nlohmann::json document;

  // Returns the index of the step called `name`, or nullopt.
  std::optional<int> StepIndex(std::string_view step_name) const;

  // Returns the indices of the steps that list `step` in their `after`.
  std::vector<int> Dependents(int step) const;

  // Returns true when `ancestor` must finish before `step` can start (directly or through
  // other steps).
  bool IsAncestor(int ancestor, int step) const;

  // Returns the index of the pivot step, or nullopt.
  std::optional<int> Pivot() const;
};

}  // namespace skald::core
