#pragma once

#include <chrono>
#include <string>

#include "absl/status/statusor.h"

namespace skald::bench {

// Rates of single gRPC calls in a closed loop (`concurrency` calls outstanding, each replaced
// when it is answered), counted over `duration` after a one-second warm-up.

// The gRPC ceiling: no-op unary calls (Participant.ExecuteAction on a participant that
// answers at once) on loopback, per second. A saga of N steps needs N + 2 such calls
// (StartSaga, AwaitSaga, one per step), so this over N + 2 is the sagas/s gRPC alone allows.
absl::StatusOr<double> NoopCallRate(const std::string& participant_address, int concurrency,
                                    std::chrono::seconds duration);

// The start-only rate: StartSaga calls of `definition` answered per second, nobody waiting
// for the sagas to end.
absl::StatusOr<double> StartOnlyRate(const std::string& coordinator_address,
                                     const std::string& definition, int concurrency,
                                     std::chrono::seconds duration);

}  // namespace skald::bench
