#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "skald/participant_server.h"

namespace skald::bench {

// Participants that do nothing but answer: one answering at once, one answering from
// behind the SDK's barrier (a transaction per call in a database of its own). An action
// whose saga input holds {"fail": true} fails for good at the scenario's last step, so that
// the saga compensates; one whose input holds {"wait": true} answers retryable, so that the
// saga waits out its backoff. Counts every call.
class NoopParticipants {
 public:
  // Starts both servers on 127.0.0.1; `barrier_database_uri` is the barrier's database
  // (its schema is created here).
  static absl::StatusOr<std::unique_ptr<NoopParticipants>> Start(
      const std::string& barrier_database_uri);
  ~NoopParticipants();

  const std::string& plain_address() const { return plain_address_; }
  const std::string& barrier_address() const { return barrier_address_; }
  // Every handler call answered so far, by both servers.
  long long calls() const { return calls_->load(); }

 private:
  NoopParticipants() = default;

  std::shared_ptr<std::atomic<long long>> calls_ = std::make_shared<std::atomic<long long>>(0);
  ParticipantServer plain_;
  ParticipantServer barrier_;
  std::string plain_address_;
  std::string barrier_address_;
};

}  // namespace skald::bench
