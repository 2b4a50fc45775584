// StepDispatcher turns one StepCall into a StepReply by running the registered handler. It
// knows nothing of servers or threads, so participant_server.cc stays wiring only.

#ifndef SKALD_PARTICIPANT_SDK_SRC_STEP_DISPATCHER_H_
#define SKALD_PARTICIPANT_SDK_SRC_STEP_DISPATCHER_H_

#include <grpcpp/support/status.h>

#include <chrono>
#include <map>
#include <string>

#include "skald/step.h"
#include "skald/v1/participant.pb.h"

namespace skald {

class StepDispatcher {
 public:
  // Registers `handler` for `phase` calls naming `name`, replacing an earlier one.
  // REQUIRES: no Dispatch() runs concurrently.
  void Register(Phase phase, std::string name, StepHandler handler);

  // Runs the `phase` handler named by call.handler() and fills `reply`. Returns OK when
  // `reply` is filled (whatever its outcome); UNIMPLEMENTED when no such handler is
  // registered; INVALID_ARGUMENT when call.phase() names the other phase. Safe to call
  // concurrently once registration is over.
  grpc::Status Dispatch(Phase phase, const v1::StepCall& call,
                        std::chrono::system_clock::time_point deadline, v1::StepReply* reply) const;

 private:
  std::map<std::string, StepHandler, std::less<>> actions_;
  std::map<std::string, StepHandler, std::less<>> compensations_;
};

}  // namespace skald

#endif  // SKALD_PARTICIPANT_SDK_SRC_STEP_DISPATCHER_H_
