// SimulatedProvider: a stand-in for a card provider that confirms a charge later, by
// "webhook", for the payment service's asynchronous charges. The "charge" handler records a
// provider request (payments.provider_requests, keyed by the call's completion token) and
// answers StepResult::Accepted(); this thread then, for each pending request:
//   - heartbeats the step every `heartbeat_every` while the provider "works", and
//   - once `confirm_after` has passed since the request, receives the provider's
//     confirmation: in one transaction, marks the request CONFIRMED and records the CHARGED
//     charge, then completes the step with the charge (skald::StepCompleter).
// The requests are rows, so a restarted service picks up where it left off; a completion the
// coordinator refused for good (the attempt timed out, the saga moved on) is not retried:
// the saga's compensation refunds the charge.

#ifndef SKALD_EXAMPLES_ORDER_SAGA_SIMULATED_PROVIDER_H_
#define SKALD_EXAMPLES_ORDER_SAGA_SIMULATED_PROVIDER_H_

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "skald/barrier.h"
#include "skald/step_completer.h"

namespace skald::examples {

// The table of the provider's requests; part of the payment service's schema.
inline constexpr const char* kProviderRequestsDdl = R"sql(
CREATE TABLE IF NOT EXISTS payments.provider_requests (
  completion_token text PRIMARY KEY,
  saga_id text NOT NULL,
  step text NOT NULL,
  amount numeric NOT NULL CHECK (amount > 0),
  state text NOT NULL CHECK (state IN ('PENDING', 'CONFIRMED', 'CANCELLED', 'SUPERSEDED')),
  -- Set once the coordinator answered the completion (accepted or refused for good).
  completion_sent boolean NOT NULL DEFAULT false,
  requested_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS provider_requests_open ON payments.provider_requests (requested_at)
  WHERE state = 'PENDING' OR (state = 'CONFIRMED' AND NOT completion_sent);
)sql";

class SimulatedProvider {
 public:
  struct Options {
    std::chrono::milliseconds confirm_after{3000};
    std::chrono::milliseconds heartbeat_every{1000};
    std::chrono::milliseconds poll_every{200};
  };

  SimulatedProvider(std::shared_ptr<ConnectionSource> connections,
                    std::unique_ptr<StepCompleter> completer, Options options);
  // Stop()s.
  ~SimulatedProvider();

  // Starts the thread. REQUIRES: called at most once.
  void Start();
  // Ends the thread (a completer call in flight finishes first, bounded by its deadline).
  // Later calls do nothing.
  void Stop();

 private:
  struct Request {
    std::string token;
    std::string saga_id;
    std::string step;
    std::string amount;
    std::string state;
    bool due = false;
  };

  void Run();
  // One pass over the open requests.
  void Poll();
  void HeartbeatIfDue(const Request& request);
  // The provider's confirmation of `request`: records the charge, then completes the step.
  void Confirm(const Request& request);
  void SendCompletion(const Request& request);
  void MarkCompletionSent(const std::string& token);

  const std::shared_ptr<ConnectionSource> connections_;
  const std::unique_ptr<StepCompleter> completer_;
  const Options options_;
  // When each pending request was last heartbeated; only the thread uses it.
  std::map<std::string, std::chrono::steady_clock::time_point> last_heartbeat_;

  std::mutex mu_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;  // Guarded by mu_.
  std::thread thread_;
};

}  // namespace skald::examples

#endif  // SKALD_EXAMPLES_ORDER_SAGA_SIMULATED_PROVIDER_H_
