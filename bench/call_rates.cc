#include "bench/call_rates.h"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "skald/v1/participant.grpc.pb.h"
#include "skald/v1/saga_service.grpc.pb.h"

namespace skald::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Keeps `concurrency` calls outstanding until `duration` after a warm-up, then waits (at
// most 30 s) for the last answers. `call(done)` starts one call and has `done(ok)` run when
// it is answered. Returns answered calls per second inside the window; an error when any
// call failed.
absl::StatusOr<double> ClosedLoop(int concurrency, std::chrono::seconds duration,
                                  const std::function<void(std::function<void(bool)>)>& call) {
  struct State {
    std::mutex mutex;
    std::condition_variable idle;
    int in_flight = 0;
    long long failed = 0;
    std::atomic<long long> answered{0};
    std::atomic<bool> stopping{false};
  };
  auto state = std::make_shared<State>();
  // A slot stays counted in flight from its first call to its last answer, so that the
  // wait below cannot end between an answer and the call that replaces it.
  std::function<void()> launch;
  launch = [state, &call, &launch] {
    call([state, &launch](bool ok) {
      state->answered.fetch_add(1, std::memory_order_relaxed);
      bool again = false;
      {
        std::lock_guard lock(state->mutex);
        if (!ok) ++state->failed;
        again = !state->stopping;
        if (!again && --state->in_flight == 0) state->idle.notify_all();
      }
      if (again) launch();
    });
  };
  {
    std::lock_guard lock(state->mutex);
    state->in_flight = concurrency;
  }
  for (int i = 0; i < concurrency; ++i) launch();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const long long start_count = state->answered.load();
  const Clock::time_point start = Clock::now();
  std::this_thread::sleep_for(duration);
  const long long end_count = state->answered.load();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::unique_lock lock(state->mutex);
  state->stopping = true;
  if (!state->idle.wait_for(lock, std::chrono::seconds(30),
                            [&] { return state->in_flight == 0; })) {
    // The callbacks reference `launch` and `call`: they must not outlive this frame.
    std::abort();
  }
  if (state->failed > 0) {
    return absl::InternalError(std::to_string(state->failed) + " call(s) failed");
  }
  return (end_count - start_count) / seconds;
}

}  // namespace

absl::StatusOr<double> NoopCallRate(const std::string& participant_address, int concurrency,
                                    std::chrono::seconds duration) {
  auto channel = grpc::CreateChannel(participant_address, grpc::InsecureChannelCredentials());
  auto stub = v1::Participant::NewStub(channel);
  return ClosedLoop(concurrency, duration, [&](std::function<void(bool)> done) {
    struct Call {
      grpc::ClientContext context;
      v1::StepCall request;
      v1::StepReply reply;
    };
    auto* c = new Call();
    c->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    c->request.set_saga_id("grpc-ceiling");
    c->request.set_step("s1");
    c->request.set_phase(v1::PHASE_ACTION);
    c->request.set_handler("act");
    c->request.set_attempt(1);
    c->request.set_idempotency_key("grpc-ceiling/s1/action");
    c->request.set_input_json("{}");
    stub->async()->ExecuteAction(&c->context, &c->request, &c->reply,
                                 [c, done = std::move(done)](grpc::Status status) {
                                   const bool ok = status.ok();
                                   delete c;
                                   done(ok);
                                 });
  });
}

absl::StatusOr<double> StartOnlyRate(const std::string& coordinator_address,
                                     const std::string& definition, int concurrency,
                                     std::chrono::seconds duration) {
  auto channel = grpc::CreateChannel(coordinator_address, grpc::InsecureChannelCredentials());
  auto stub = v1::SagaService::NewStub(channel);
  std::atomic<long long> n{0};
  return ClosedLoop(concurrency, duration, [&](std::function<void(bool)> done) {
    struct Call {
      grpc::ClientContext context;
      v1::StartSagaRequest request;
      v1::StartSagaResponse response;
    };
    auto* c = new Call();
    c->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    c->request.set_definition(definition);
    c->request.set_input_json(nlohmann::json{{"start_only", n.fetch_add(1)}}.dump());
    stub->async()->StartSaga(&c->context, &c->request, &c->response,
                             [c, done = std::move(done)](grpc::Status status) {
                               const bool ok = status.ok();
                               delete c;
                               done(ok);
                             });
  });
}

}  // namespace skald::bench
