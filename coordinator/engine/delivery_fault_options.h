// What the test-only FaultInjectingTransport (delivery_faults.h) is asked to do: a plain
// struct, so that the flags that fill it compile no transport.
#pragma once

#include <chrono>
#include <string>

#include "absl/status/status.h"

namespace skald::engine {

// TEST ONLY. Network misbehaviour the coordinator can be told to simulate, so that
// end-to-end tests prove participants stay correct when calls are duplicated and reordered.
struct DeliveryFaults {
  // Every call is sent twice at once; the second copy's answer is ignored.
  bool duplicate_calls = false;
  // Actions of this step reach the participant `late_by` after they were sent, while the
  // coordinator sees the attempt time out: its compensation then overtakes the action.
  std::string late_action_step;
  std::chrono::milliseconds late_by{0};
  // Successful actions of this step report an output PostgreSQL refuses (a \u0000 in a
  // string), past the reply checks: the engine must not lose the saga over it.
  std::string unstorable_output_step;
  // The first call of this step's action in each saga is sent, but its outcome (even a
  // timeout) is never reported: a transport defect the engine's self-check must repair.
  std::string lost_reply_step;

  bool any() const {
    return duplicate_calls || !late_action_step.empty() || !unstorable_output_step.empty() ||
           !lost_reply_step.empty();
  }
};

// Reads "STEP:DURATION", e.g. "charge-payment:2s", into faults->late_action_step/late_by.
absl::Status ParseLateAction(const std::string& text, DeliveryFaults* faults);

}  // namespace skald::engine
