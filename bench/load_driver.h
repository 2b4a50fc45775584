#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "bench/scenario.h"
#include "grpcpp/grpcpp.h"
#include "skald/v1/saga_service.grpc.pb.h"

namespace skald::bench {

// What one load run saw, counting only sagas that ended inside the measured window.
struct LoadResult {
  std::chrono::steady_clock::time_point window_start;
  std::chrono::steady_clock::time_point window_end;
  long long completed = 0;
  long long compensated = 0;
  long long failed = 0;
  // Start or await calls that failed (the saga may still have run).
  long long errors = 0;
  std::string first_error;
  // Sagas the open loop did not start because too many were in flight.
  long long not_started = 0;
  // Start-to-end latency of every saga that started and ended inside the window, seconds.
  std::vector<double> latencies;

  double window_seconds() const {
    return std::chrono::duration<double>(window_end - window_start).count();
  }
  long long ended() const { return completed + compensated + failed; }
};

// Drives sagas through the client API with gRPC's asynchronous client: StartSaga, then
// AwaitSaga for its end; latency is measured from the start call to the await's answer.
// Given several coordinators, sagas are spread over them in turn, each awaited on the
// coordinator that started it (which holds its lease and wakes its waiters at once).
class LoadDriver {
 public:
  explicit LoadDriver(const std::string& coordinator_address)
      : LoadDriver(std::vector<std::string>{coordinator_address}) {}
  // REQUIRES: at least one address.
  explicit LoadDriver(const std::vector<std::string>& coordinator_addresses);

  // Offers the load `spec` describes for warmup + duration, sagas of `scenario` (applied
  // already); blocks until it is done and the sagas in flight have ended (or spec.drain
  // passed). `at_window_start` and `at_window_end` run on the calling thread at the two
  // edges of the measured window, e.g. to sample CPU time.
  LoadResult Run(const Scenario& scenario, const LoadSpec& spec,
                 const std::function<void()>& at_window_start,
                 const std::function<void()>& at_window_end);

 private:
  std::vector<std::unique_ptr<v1::SagaService::Stub>> stubs_;
};

// Returns the q-quantile (0..1) of `sorted`, 0 when empty.
double Quantile(const std::vector<double>& sorted, double q);

}  // namespace skald::bench
