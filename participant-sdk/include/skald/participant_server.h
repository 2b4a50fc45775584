// ParticipantServer serves a participant's named step handlers to the Skald coordinator over
// gRPC (service skald.v1.Participant, see proto/skald/v1/participant.proto).
//
//   skald::ParticipantServer server;
//   server.on_action("charge", Charge);
//   server.on_compensation("refund", Refund);
//   server.register_with({.coordinator_address = "coordinator:7700", .service = "payment"});
//   absl::Status started = server.Start("0.0.0.0:7803");
//   ...
//   server.Shutdown(std::chrono::seconds(10));
//
// How a call is answered, the first that applies:
//   - a StepCall whose phase field names the other phase than the method called: gRPC status
//     INVALID_ARGUMENT (PHASE_UNSPECIFIED is accepted);
//   - no handler of the call's phase registered under the call's handler name: gRPC status
//     UNIMPLEMENTED, naming the handler and the phase;
//   - a call whose deadline has already passed when it would be handed to its handler: gRPC
//     status DEADLINE_EXCEEDED; the handler is not called (the caller has given up on this
//     attempt and retries it);
//   - input_json that is not a JSON object (malformed, or another JSON type), or
//     action_output_json that is not valid JSON: business failure "invalid_input" naming the
//     field and the problem; the handler is not called. An empty input_json is an empty
//     object; an empty action_output_json is null;
//   - otherwise the handler's StepResult; an exception escaping the handler is a retryable
//     error with code "handler_exception" and the exception's message; a success whose
//     output is not a JSON object is a retryable error with code "invalid_output".
//
// The handler's StepContext carries the call's deadline (context.remaining(),
// context.expired()) and W3C trace context (context.traceparent).
//
// Registration (discovery): with register_with(), Start() registers this instance with the
// coordinator's ParticipantRegistry (proto/skald/v1/registry.proto) under a service name,
// with its address and the names of the handlers registered, so that definitions can name
// the service instead of a fixed address:
//   - Start() sends Register once, waiting at most 2 s for the reply. Whatever the outcome,
//     Start() returns OK once listening: a participant starts even when no coordinator is
//     up. Until a Register succeeds, a background thread retries it after 200 ms, doubling
//     the wait after each failure up to 2 s.
//   - Once registered, the thread renews the registration (Register again) at the interval
//     the coordinator's reply asks for (renew_interval_ms; a third of the granted ttl when
//     it names none). A failed renewal is retried with the same backoff as above.
//   - Shutdown() stops renewing and sends Deregister (waiting at most 1 s, a failure is
//     ignored: the registration then expires after its ttl) BEFORE it stops accepting calls,
//     so the coordinator stops choosing this instance while calls in flight still finish.
//   - registration_status() reports how the last Register went.
// Every Register carries the same content; the coordinator treats a renewal as an update.
//
// Handlers run on gRPC's synchronous-server thread pool, one thread per call in progress, so
// a handler may block on a database without stalling other calls. The pool grows with the
// number of concurrent calls; bound the resources a handler holds (e.g. with a connection
// pool) rather than the threads.
//
// TLS (docs/tls.md): without serve_tls() the server listens in plaintext. With it, Start()
// serves over TLS and, when a client CA is given, accepts only callers presenting a
// certificate signed by that CA (mutual TLS with the coordinator). RegistrationOptions::tls
// secures the registration channel the same way. Certificate, key and CA files are read
// again every minute: replaced files are used for new connections without a restart.

#ifndef SKALD_PARTICIPANT_SERVER_H_
#define SKALD_PARTICIPANT_SERVER_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "skald/coordinator_endpoint.h"
#include "skald/step.h"

namespace skald {

class ParticipantServer {
 public:
  // PEM files for serving the Participant service over TLS; see serve_tls().
  struct TlsOptions {
    // This server's certificate (chain) and private key. REQUIRED.
    std::string cert_file;
    std::string key_file;
    // Set: every caller must present a certificate signed by this CA (mutual TLS), or the
    // handshake fails. Empty: callers are not asked for a certificate.
    std::string client_ca_file;
  };

  // PEM files for the channel to the coordinator (skald/coordinator_endpoint.h).
  using CoordinatorTls = skald::CoordinatorTls;

  // Where and as what this instance registers; see register_with().
  struct RegistrationOptions {
    // "host:port" of any coordinator of the cluster (they share the registry).
    std::string coordinator_address;
    // The service this instance belongs to, e.g. "inventory": the name definitions give in
    // a step's `service`.
    std::string service;
    // "host:port" the coordinator calls this instance on. Empty: address(), except that a
    // wildcard host ("0.0.0.0", "::", "[::]" or none) is replaced by this machine's host name.
    std::string advertise_address;
    // How long the registration lasts without renewal: the coordinator ejects an instance
    // that stops renewing (e.g. killed) after this long. Zero lets the coordinator choose.
    // The coordinator clamps it to [1 s, 5 min].
    std::chrono::milliseconds ttl{10'000};
    // TLS to the coordinator; plaintext when all empty.
    CoordinatorTls tls;
    // The API token of a coordinator with authentication on (a token with the
    // "participant" role), sent as "authorization: Bearer <token>". Empty: none is sent.
    std::string token;
  };

  ParticipantServer();
  // Shuts the server down without grace if it is still running (deregistering first, as
  // Shutdown() does).
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

  // Makes Start() register this instance with a coordinator and keep it registered (see
  // "Registration" above), replacing an earlier call's options. REQUIRES: Start() has not
  // been called; options.coordinator_address and options.service are not empty;
  // options.ttl is not negative.
  void register_with(RegistrationOptions options);

  // Makes Start() serve over TLS with `options` (see "TLS" above), replacing an earlier
  // call's. REQUIRES: Start() has not been called.
  void serve_tls(TlsOptions options);

  // Returns the id this instance registers under: "<host name>/<process id>/<8 random hex
  // digits>", fixed for the lifetime of this object and distinct between objects.
  std::string instance_id() const;

  // Returns OK when the last Register (the first or a renewal) succeeded; otherwise the
  // last Register's error, with the gRPC status code (e.g. Unavailable when the
  // coordinator cannot be reached, DeadlineExceeded when it did not answer within 2 s) and
  // a message naming the instance, the service and the coordinator. Returns
  // FailedPrecondition when register_with() was not called, before Start() (or when it
  // failed), and after Shutdown() (the registration is then removed or left to expire).
  // Safe to call from any thread, also while Start() is registering.
  absl::Status registration_status() const;

  // Starts serving on `listen_address` ("host:port"; port 0 picks a free port), then
  // registers when register_with() was called (this takes up to 2 s when the coordinator
  // does not answer). Returns OK once listening, whether or not the registration
  // succeeded; InvalidArgument when the address has no port or a TLS file cannot be used
  // (unreadable, not PEM, a key not matching its certificate); Unavailable when it cannot be
  // bound (e.g. in use: the port is not shared with another process); FailedPrecondition
  // when called a second time.
  absl::Status Start(const std::string& listen_address);

  // Returns the bound port. REQUIRES: Start() returned OK.
  int port() const;

  // Returns the listen address with the bound port, e.g. "127.0.0.1:40123" for
  // "127.0.0.1:0". REQUIRES: Start() returned OK.
  std::string address() const;

  // Blocks until Shutdown() has finished. REQUIRES: Start() returned OK.
  void Wait();

  // When registered: stops renewing and deregisters (at most 1 s, see "Registration").
  // Then stops accepting calls and waits up to `grace` for the calls in progress; calls
  // still running then are cancelled for their callers. Returns once every handler has
  // returned. Safe to call from any thread and more than once (a later call waits for the
  // first to finish); before Start() it does nothing.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skald

#endif  // SKALD_PARTICIPANT_SERVER_H_
