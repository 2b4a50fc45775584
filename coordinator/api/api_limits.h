// The limits on client requests (a plain struct, so that the flags that fill it compile
// neither the engine nor the wire types).
#pragma once

#include <cstddef>

#include "coordinator/core/definition_limits.h"
#include "coordinator/store/registration_limits.h"

namespace skald::api {

// Limits on client requests, checked before anything is stored (docs/security.md). Each
// refusal names the limit and its flag, and is counted (skald_limit_rejections_total).
struct ApiLimits {
  core::DefinitionLimits definition;
  size_t max_input_bytes = 1 << 20;
  size_t max_saga_id_length = 128;
  int max_page_size = 1000;
  int default_page_size = 50;
  size_t max_operator_text = 1000;
  // A whole gRPC message or HTTP body.
  size_t max_request_bytes = 4 << 20;
  // A participant's output (engine::ParticipantClient).
  size_t max_output_bytes = 1 << 20;
  // WatchSaga streams open at once per caller (token name, or peer when auth is off).
  int max_watch_streams = 8;
  // ... and in all, on one coordinator: each holds a server thread.
  int max_total_watch_streams = 256;
  // AwaitSaga calls waiting at once on one coordinator (they hold no thread).
  size_t max_waiting = 10'000;
  // Participant registrations, per service and in all (store::RegistryStore).
  store::RegistrationLimits registrations;
};

}  // namespace skald::api
