// Registrar keeps one participant instance registered with a coordinator's
// ParticipantRegistry (proto/skald/v1/registry.proto): it registers, retries with backoff
// while the coordinator cannot be reached, renews before the registration expires, and
// deregisters when stopped. It knows nothing of the Participant service it advertises.

#ifndef SKALD_PARTICIPANT_SDK_SRC_REGISTRAR_H_
#define SKALD_PARTICIPANT_SDK_SRC_REGISTRAR_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "skald/coordinator_endpoint.h"
#include "skald/v1/registry.grpc.pb.h"

namespace skald {

// What an instance registers.
struct Registration {
  std::string service;
  std::string instance_id;
  // "host:port" the coordinator calls the instance on.
  std::string address;
  std::vector<std::string> actions;
  std::vector<std::string> compensations;
  // How long the registration lasts without renewal; zero for the coordinator's default.
  std::chrono::milliseconds ttl{0};
};

// The registrar's timing. The defaults are what ParticipantServer documents.
struct RegistrarTiming {
  // Bounds each Register call, the first one (made by Start()) included.
  std::chrono::milliseconds register_deadline{2'000};
  // Bounds the Deregister call made by Stop().
  std::chrono::milliseconds deregister_deadline{1'000};
  // The wait after a failed Register, doubled after each further failure up to max_backoff,
  // and reset by a success.
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{2'000};
};

// Returns the time to wait before renewing a registration the coordinator granted with
// `reply`: its renew_interval_ms; else a third of its ttl_ms; else a third of
// `requested_ttl`; else a third of ten seconds. Never less than 10 ms.
std::chrono::milliseconds RenewInterval(const v1::RegisterReply& reply,
                                        std::chrono::milliseconds requested_ttl);

// Returns an instance id unique per call: "<host name>/<process id>/<8 random hex digits>".
std::string NewInstanceId();

// Returns the address to advertise for a server bound to `bound_address` ("host:port"):
// `bound_address` itself, except that a wildcard host (empty, "0.0.0.0", "::" or "[::]"),
// which names no machine to a caller elsewhere, is replaced by this machine's host name.
std::string DefaultAdvertiseAddress(const std::string& bound_address);

class Registrar {
 public:
  // Returns a registrar for `registration` with the coordinators at `coordinator` (one
  // address or a list: coordinator_channel.h, with its TLS files and token), not started
  // yet. InvalidArgument when the address list or a TLS file cannot be used.
  // REQUIRES: registration.service is not empty.
  static absl::StatusOr<std::unique_ptr<Registrar>> Create(const CoordinatorEndpoint& coordinator,
                                                           Registration registration,
                                                           RegistrarTiming timing = {});
  // Stop()s.
  ~Registrar();

  Registrar(const Registrar&) = delete;
  Registrar& operator=(const Registrar&) = delete;

  // Sends the first Register, waiting for its reply at most timing.register_deadline, then
  // starts the background thread that renews the registration (or keeps retrying it with
  // backoff until it succeeds). Returns the first Register's outcome, as status() does; the
  // thread starts either way, unless Stop() has been called. REQUIRES: called at most once.
  absl::Status Start();

  // Stops the background thread, cancelling a Register in flight, and then, if any Register
  // was sent, sends Deregister, waiting for its reply at most timing.deregister_deadline;
  // its failure is ignored (the registration then expires by itself). Returns once the
  // thread has ended. Safe to call concurrently with Start(); later calls do nothing.
  void Stop();

  // Returns OK when the last Register succeeded, its error otherwise (the gRPC status code,
  // with a message naming the service, instance and coordinator); FailedPrecondition before
  // the first Register and after Stop().
  absl::Status status() const;

 private:
  // Sends one Register. Returns the renew interval, or the call's error. Records the outcome
  // in status_ unless Stop() cancelled the call.
  absl::StatusOr<std::chrono::milliseconds> RegisterOnce();
  // Sends Deregister; returns a description of the outcome for status_.
  std::string DeregisterOnce();
  // The background thread: waits (interruptibly) and registers, forever until Stop().
  void Run(std::chrono::milliseconds first_wait);
  std::string Describe() const;

  Registrar(CoordinatorEndpoint coordinator, Registration registration, RegistrarTiming timing,
            std::shared_ptr<grpc::Channel> channel);

  const CoordinatorEndpoint coordinator_;
  const Registration registration_;
  const RegistrarTiming timing_;
  const std::unique_ptr<v1::ParticipantRegistry::Stub> stub_;

  mutable std::mutex mu_;
  // Notified when stopping_ is set and when a Register returns.
  std::condition_variable changed_;
  bool stopping_ = false;                      // Guarded by mu_.
  bool sent_ = false;                          // A Register was sent. Guarded by mu_.
  grpc::ClientContext* in_flight_ = nullptr;   // The Register being sent. Guarded by mu_.
  absl::Status status_;                        // Guarded by mu_.
  std::chrono::milliseconds next_backoff_{0};  // Used by the sender only.
  std::thread thread_;  // Started by Start() under mu_; joined by the first Stop().
};

}  // namespace skald

#endif  // SKALD_PARTICIPANT_SDK_SRC_REGISTRAR_H_
