// StepDispatcher turns one StepCall into a StepReply by running the registered handler. It
// knows nothing of servers or threads, so participant_server.cc stays wiring only.

#ifndef SKALD_PARTICIPANT_SDK_SRC_STEP_DISPATCHER_H_
#define SKALD_PARTICIPANT_SDK_SRC_STEP_DISPATCHER_H_

#include <grpcpp/support/status.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "skald/step.h"
#include "skald/v1/participant.pb.h"

namespace skald {

// What the transport knows about a call besides its StepCall message.
struct CallInfo {
  // When the caller stops waiting; time_point::max() when it set no deadline.
  std::chrono::system_clock::time_point deadline = std::chrono::system_clock::time_point::max();
  // The request metadata "traceparent"; empty when absent.
  std::string traceparent_metadata;
};

class StepDispatcher {
 public:
  // Registers `handler` for `phase` calls naming `name`, replacing an earlier one.
  // REQUIRES: no Dispatch() runs concurrently.
  void Register(Phase phase, std::string name, StepHandler handler);

  // Returns the names registered for `phase`, sorted.
  std::vector<std::string> Names(Phase phase) const;

  // Runs the `phase` handler named by call.handler() and fills `reply`. Returns OK when
  // `reply` is filled (whatever its outcome); INVALID_ARGUMENT when call.phase() names the
  // other phase; UNIMPLEMENTED when no such handler is registered; DEADLINE_EXCEEDED, without
  // calling the handler, when info.deadline has already passed. Safe to call concurrently
  // once registration is over.
  grpc::Status Dispatch(Phase phase, const v1::StepCall& call, const CallInfo& info,
                        v1::StepReply* reply) const;

 private:
  std::map<std::string, StepHandler, std::less<>> actions_;
  std::map<std::string, StepHandler, std::less<>> compensations_;
};

}  // namespace skald

#endif  // SKALD_PARTICIPANT_SDK_SRC_STEP_DISPATCHER_H_
