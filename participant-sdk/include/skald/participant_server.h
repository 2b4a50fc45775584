// ParticipantServer serves a participant's named step handlers to the Skald coordinator over
// gRPC (service skald.v1.Participant, see proto/skald/v1/participant.proto).
//
//   skald::ParticipantServer server;
//   server.on_action("charge", Charge);
//   server.on_compensation("refund", Refund);
//   absl::Status started = server.Start("127.0.0.1:7803");
//   ...
//   server.Shutdown(std::chrono::seconds(10));
//
// How a call is answered:
//   - no handler of the call's phase registered under the call's handler name: gRPC status
//     UNIMPLEMENTED, naming the handler and the phase;
//   - input_json that is not a JSON object (malformed, or another JSON type), or
//     action_output_json that is not valid JSON: business failure "invalid_input" naming the
//     field and the problem; the handler is not called. An empty input_json is an empty
//     object; an empty action_output_json is null;
//   - a StepCall whose phase field names the other phase than the method called: gRPC status
//     INVALID_ARGUMENT (PHASE_UNSPECIFIED is accepted);
//   - otherwise the handler's StepResult; an exception escaping the handler is a retryable
//     error with code "handler_exception" and the exception's message; a success whose
//     output is not a JSON object is a retryable error with code "invalid_output".
//
// Handlers run on gRPC's synchronous-server thread pool, one thread per call in progress, so
// a handler may block on a database without stalling other calls. The pool grows with the
// number of concurrent calls; bound the resources a handler holds (e.g. with a connection
// pool) rather than the threads. The server listens without TLS.

#ifndef SKALD_PARTICIPANT_SERVER_H_
#define SKALD_PARTICIPANT_SERVER_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "skald/step.h"

namespace skald {

class ParticipantServer {
 public:
  ParticipantServer();
  // Shuts the server down without grace if it is still running.
  ~ParticipantServer();

  ParticipantServer(const ParticipantServer&) = delete;
  ParticipantServer& operator=(const ParticipantServer&) = delete;

  // Registers `handler` for action calls naming `name`, replacing an earlier registration
  // of the same name. REQUIRES: Start() has not been called; `handler` is not empty.
  void on_action(std::string name, StepHandler handler);

  // Registers `handler` for compensation calls naming `name`, replacing an earlier
  // registration of the same name. REQUIRES: Start() has not been called; `handler` is not
  // empty.
  void on_compensation(std::string name, StepHandler handler);

  // Starts serving on `listen_address` ("host:port"; port 0 picks a free port). Returns
  // OK once listening; InvalidArgument when the address has no port; Unavailable when it
  // cannot be bound (e.g. in use: the port is not shared with another process);
  // FailedPrecondition when called a second time.
  absl::Status Start(const std::string& listen_address);

  // Returns the bound port. REQUIRES: Start() returned OK.
  int port() const;

  // Returns the listen address with the bound port, e.g. "127.0.0.1:40123" for
  // "127.0.0.1:0". REQUIRES: Start() returned OK.
  std::string address() const;

  // Blocks until Shutdown() has finished. REQUIRES: Start() returned OK.
  void Wait();

  // Stops accepting calls and waits up to `grace` for the calls in progress; calls still
  // running then are cancelled for their callers. Returns once every handler has returned.
  // Safe to call from any thread and more than once (a later call waits for the first to
  // finish); before Start() it does nothing.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skald

#endif  // SKALD_PARTICIPANT_SERVER_H_
