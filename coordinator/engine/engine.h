#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "coordinator/core/definition.h"
#include "coordinator/core/saga_state.h"
#include "coordinator/core/state_machine.h"
#include "coordinator/engine/participant_client.h"
#include "coordinator/store/saga_store.h"

namespace skald::engine {

struct EngineOptions {
  // How many events one database transaction may commit at most.
  size_t max_batch = 512;
  // The wait before retrying after the database failed, doubled up to the maximum.
  std::chrono::milliseconds initial_store_backoff{100};
  std::chrono::milliseconds max_store_backoff{5'000};
  std::function<core::TimePoint()> now = [] { return core::Clock::now(); };
};

// Drives sagas: one thread runs a loop that takes events (participant replies, due retry
// timers, newly admitted sagas), asks the state machine what follows, commits the new states
// of the whole batch in one transaction, and only then sends the next participant calls and
// arms the timers. No thread per saga, and no thread waits on a participant.
class Engine {
 public:
  Engine(store::SagaStore& store, ParticipantClient& participants, EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Takes up every saga not yet terminal (resending attempts whose outcome was never
  // recorded, re-arming stored retry timers) and starts the loop.
  absl::Status Start();

  // Stops the loop and cancels participant calls in flight. Their outcomes are not
  // recorded; the attempts are resent when a coordinator next takes up the saga.
  void Stop();

  // Stops sending new participant calls and arming timers, waits up to `grace` for the
  // calls in flight to answer and their outcomes to be committed, then stops. Work decided
  // meanwhile is committed as intent and resumed by the next coordinator to take the saga.
  // Returns true when everything in flight was recorded within the grace period.
  bool Drain(std::chrono::milliseconds grace);

  // Hands the engine a saga that is stored but not driven yet, such as one just created.
  // Thread-safe; returns at once.
  void Admit(const std::string& saga_id);

  // Returns how many sagas are being driven right now.
  size_t live_sagas() const;

 private:
  struct Inbound {
    std::string saga_id;
    core::Event event;
  };
  // A retry or a deadline: the event to deliver to a saga at a time.
  struct Timer {
    core::TimePoint at;
    std::string saga_id;
    core::Event event;
    bool operator>(const Timer& other) const { return at > other.at; }
  };
  struct LiveSaga {
    std::shared_ptr<const core::SagaDefinition> definition;
    core::SagaState state;
  };

  void Post(Inbound inbound);
  void Loop();
  // Collects the events to handle next, waiting for one or for the next timer.
  std::vector<Inbound> NextBatch();
  // Returns false when the database failed and the batch must be tried again.
  bool HandleBatch(std::vector<Inbound>& batch);
  absl::Status EnsureLive(const std::string& saga_id);
  absl::StatusOr<std::shared_ptr<const core::SagaDefinition>> DefinitionFor(
      const std::string& name, int version);
  void Execute(const std::string& saga_id, const LiveSaga& saga, const core::Command& command);
  void SendAttempt(const std::string& saga_id, const LiveSaga& saga,
                   const core::CallParticipant& call);

  store::SagaStore& store_;
  ParticipantClient& participants_;
  const EngineOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Inbound> inbox_;
  bool stopping_ = false;
  bool draining_ = false;
  // True while the loop handles a batch, so that Drain does not mistake a batch being
  // committed for an idle engine.
  bool busy_ = false;
  std::condition_variable idle_;
  std::thread thread_;

  // Owned by the loop thread.
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::unordered_map<std::string, LiveSaga> live_;
  std::map<std::pair<std::string, int>, std::shared_ptr<const core::SagaDefinition>>
      definitions_;
  std::chrono::milliseconds store_backoff_;
  size_t live_count_ = 0;  // Guarded by mutex_; mirrors live_.size() for other threads.
};

}  // namespace skald::engine
