#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "coordinator/core/completion_token.h"
#include "coordinator/core/definition.h"
#include "coordinator/core/saga_state.h"
#include "coordinator/core/state_machine.h"
#include "coordinator/engine/call_router.h"
#include "coordinator/engine/lease_keeper.h"
#include "coordinator/engine/saga_outcomes.h"
#include "coordinator/observability/coordinator_metrics.h"
#include "coordinator/store/saga_store.h"
#include "coordinator/store/work_channel.h"

namespace skald::engine {

struct EngineOptions {
  // This coordinator's name in lease records; unique among coordinators.
  std::string owner = "coordinator";
  // How long a claimed or renewed lease lasts. Sagas of a coordinator that dies are taken
  // over within about lease_ttl + claim_interval.
  std::chrono::milliseconds lease_ttl{5'000};
  std::chrono::milliseconds renew_interval{1'500};
  // How often free or expired leases are looked for, besides when another coordinator
  // announces released sagas.
  std::chrono::milliseconds claim_interval{1'000};
  int claim_batch = 200;
  // A connection used only to LISTEN for released sagas (store::MakePostgresWorkChannel);
  // empty disables listening.
  std::string listen_uri;
  // How many events one database transaction may commit at most.
  size_t max_batch = 512;
  // How many batches may be committed at once, each by a committer thread of its own on a
  // pooled connection, so that the next batch is decided and written while the previous one
  // waits for its flush. A saga is in at most one batch at a time: its later events wait for
  // the next batch, so its transitions are committed in order. 1: the loop commits each batch
  // itself. Stepping (RunOnce) always commits inline.
  size_t batches_in_flight = 1;
  // A batch that conflicted with a concurrent transaction (deadlock, serialization failure)
  // wrote nothing: it is committed again as a batch up to this many times, after a jittered
  // pause doubling from conflict_backoff, before its sagas are committed one by one.
  int conflict_retries = 3;
  std::chrono::microseconds conflict_backoff{2'000};
  // The wait before retrying after the database failed, doubled up to the maximum.
  std::chrono::milliseconds initial_store_backoff{100};
  std::chrono::milliseconds max_store_backoff{5'000};
  // How many times a saga's transition that PostgreSQL refuses (for a cause other than the
  // connection, a read-only or full database, missing privileges or a conflict, which are
  // retried with the whole batch) is tried again, with the same backoff, before the replies
  // that led to it are recorded as failed attempts instead.
  int max_transition_refusals = 3;
  // How often the engine checks that every saga it drives has a way forward (a call in
  // flight, a timer armed, an event pending), and takes up again any that has none.
  std::chrono::milliseconds self_check_interval{5'000};
  // The wall clock: due times of retries and deadlines (stored with the saga), history.
  std::function<core::TimePoint()> now = [] { return core::Clock::now(); };
  // A monotonic clock for intervals: lease renewals and claims, pauses after database
  // failures, the drain's grace period, call latencies.
  std::function<MonotonicTime()> monotonic_now = [] { return std::chrono::steady_clock::now(); };
  // Mints the completion token sent with each attempt (StepCall.completion_token): the same
  // for every delivery of one attempt. None sent when unset. Called on the loop thread.
  std::function<std::string(const core::CompletionClaims&)> completion_token;
  // Where the engine counts attempts, retries, finished sagas and lease takeovers; none
  // when null. Must outlive the engine.
  observability::CoordinatorMetrics* metrics = nullptr;
};

// Drives sagas: one thread runs a loop that takes events (participant replies, due retry
// timers, newly admitted sagas), asks the state machine what follows, commits the new states
// of the whole batch in one transaction, and only then sends the next participant calls and
// arms the timers. No thread per saga, and no thread waits on a participant.
class Engine {
 public:
  Engine(store::SagaStore& store, CallRouter& participants, EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Takes up every saga not yet terminal (resending attempts whose outcome was never
  // recorded, re-arming stored retry timers) and starts the loop and the lease keeper, each
  // on a thread of its own.
  absl::Status Start();

  // Stepping, for a caller that drives the engine on one thread of its own instead of
  // Start's threads (the simulator), with the same code:
  //
  // Takes up every saga not yet terminal, as Start does, without starting any thread.
  absl::Status TakeUpUnfinishedSagas();
  // Handles one batch if one is ready now: events in the inbox, or timers due by
  // options.now() (a batch that failed on the database is ready again once its pause,
  // measured by options.monotonic_now(), has passed). Returns false when nothing was ready.
  bool RunOnce();
  // Returns when the earliest timer is due (retries, deadlines, replays, the self-check).
  std::optional<core::TimePoint> NextTimerAt() const;
  // The lease keeper; call its Tick every interval() when stepping.
  LeaseKeeper& lease_keeper() { return lease_keeper_; }

  // Stops the loop and cancels participant calls in flight. Their outcomes are not
  // recorded; the attempts are resent when a coordinator next takes up the saga.
  void Stop();

  // Stops sending new participant calls and arming timers, waits up to `grace` for the
  // calls in flight to answer and their outcomes to be committed, then stops. Work decided
  // meanwhile is committed as intent and resumed by the next coordinator to take the saga.
  // Returns true when everything in flight was recorded within the grace period.
  bool Drain(std::chrono::milliseconds grace);

  // Hands the engine a saga whose lease it holds with `lease_token`, such as one just
  // created. Thread-safe; returns at once.
  void Admit(const std::string& saga_id, int64_t lease_token);

  // Like Admit, for a saga this coordinator has just created (and holds the lease of) with
  // `definition`, `input` and `traceparent`: its state is core::NewSagaState's, so the engine
  // drives it without reading it back from the store. Thread-safe; returns at once.
  void AdmitNew(const std::string& saga_id, int64_t lease_token,
                std::shared_ptr<const core::SagaDefinition> definition, nlohmann::json input,
                std::string traceparent);

  // Hands the engine an operator's action (or a completion, or a heartbeat of an accepted
  // attempt) on a saga whose lease it holds with `lease_token` (taken for this purpose if
  // needed). `done` runs once, on the engine's thread, when the event's transition is
  // committed (OK), when it no longer applies (core::CheckSubmitted's answer:
  // FAILED_PRECONDITION, or ALREADY_EXISTS for a repeated completion) or could not be
  // recorded (ABORTED: the lease was lost; NOT_FOUND...). It must not block. Thread-safe;
  // returns at once.
  void Submit(const std::string& saga_id, int64_t lease_token, core::Event event,
              std::function<void(absl::Status)> done);

  // The lease holder sagas created on this coordinator should be given to.
  store::LeaseHolder lease_holder() const { return {options_.owner, options_.lease_ttl}; }

  // Returns how many sagas are being driven right now.
  size_t live_sagas() const;

  // Where clients wait for sagas to end; the engine publishes every saga it drives to a
  // terminal state once that is committed.
  SagaOutcomes& outcomes() { return outcomes_; }

 private:
  struct LiveSaga;
  struct Inbound {
    std::string saga_id;
    core::Event event;
    // For SagaResumed and OperatorAction: the token of the lease that lets this
    // coordinator drive the saga.
    int64_t lease_token = 0;
    // For OperatorAction: told how it ended (see Submit); cleared once told.
    std::function<void(absl::Status)> done;
    // For a saga created here (AdmitNew): its state, so that it need not be loaded.
    std::shared_ptr<const LiveSaga> created;
    // For AttemptFinished: the saga's count of calls in flight was lowered for it.
    bool reply_counted = false;
  };
  // A retry or a deadline: the event to deliver to a saga at a time; or the time to replay
  // a saga's parked events (kReplay), or to check every saga's way forward (kSelfCheck).
  struct Timer {
    enum class Kind { kEvent, kReplay, kSelfCheck };
    core::TimePoint at;
    std::string saga_id;
    core::Event event;
    Kind kind = Kind::kEvent;
    bool operator>(const Timer& other) const { return at > other.at; }
  };
  // The events of a saga whose transition was not recorded (refused by the database, or
  // the database unreachable for it alone), waiting to be decided again after a pause.
  struct Parked {
    std::vector<Inbound> events;
    // Refusals in a row; past max_transition_refusals the replies become failed attempts.
    int refusals = 0;
    std::chrono::milliseconds backoff{0};
    bool replay_armed = false;
  };
  // Why a saga's transition was not recorded.
  struct NotRecorded {
    enum class Why { kLeaseLost, kRefused, kUnavailable };
    Why why = Why::kRefused;
    absl::Status status;
  };
  struct LiveSaga {
    std::shared_ptr<const core::SagaDefinition> definition;
    core::SagaState state;
    int64_t lease_token = 0;
    // As stored with the saga; empty for sagas stored before traceparents were kept.
    std::string traceparent;
  };

  void Post(Inbound inbound);
  // Tells an operator action's submitter how it ended, once.
  static void Tell(Inbound& inbound, const absl::Status& status);
  // The loop thread: waits until a batch is ready, handles it, until stopped.
  void Loop();
  // Waits until RunOnce has a batch to handle (or the pause after a database failure has
  // passed); returns false when stopping.
  bool AwaitBatch(std::unique_lock<std::mutex>& lock);
  // True when events wait in the inbox or a timer is due, and no pause holds them back.
  bool BatchReady() const;
  // Collects the events to handle next without waiting; runs the self-check when it is due.
  // Returns nullopt when nothing is ready (an empty batch when only the self-check was).
  std::optional<std::vector<Inbound>> TakeReadyBatch();
  struct Working;
  // Returns false when the database failed and the batch must be tried again.
  bool HandleBatch(std::vector<Inbound>& batch);
  // Decides every event of the batch against the sagas' states, loading sagas taken up.
  // Returns nullopt when the database could not be reached for a load.
  std::optional<std::vector<Working>> DecideBatch(std::vector<Inbound>& batch);
  using NotRecordedBySaga = std::unordered_map<std::string, NotRecorded>;
  // The writes of the batch's transitions (pointing into `work` and the sagas' definitions).
  // Loop thread only: it reads live_.
  std::vector<store::TransitionWrite> WritesOf(const std::vector<Working>& work) const;
  // Commits `writes` in one transaction; returns the sagas whose transition was not recorded
  // and why, or UNAVAILABLE when the whole batch must be tried again. A conflict (deadlock,
  // serialization failure) is retried as a batch, a few times (conflict_retries); when the
  // batch is still refused, its sagas are committed one by one to find the ones at fault.
  // Touches nothing of the engine's state but the store: any thread.
  absl::StatusOr<NotRecordedBySaga> CommitWrites(
      const std::vector<store::TransitionWrite>& writes) const;
  // A batch being committed by a committer thread (batches_in_flight > 1). Heap-allocated
  // and never moved: the Working entries point into `events`.
  struct BatchInFlight {
    std::vector<Inbound> events;
    std::vector<Working> work;
    std::vector<store::TransitionWrite> writes;
    absl::StatusOr<NotRecordedBySaga> result = NotRecordedBySaga{};
  };
  // The loop with committer threads: forms a batch from the events of sagas not in flight,
  // decides it and hands it over, while applying the batches committed meanwhile.
  void PipelinedLoop();
  // A committer thread: commits the batches handed over, one at a time, until stopped.
  void Commit();
  // Applies a batch its committer has finished (or requeues it after a database failure),
  // and frees its sagas for the next batch, their deferred events first in the inbox.
  void FinishInFlight(std::unique_ptr<BatchInFlight> done);
  // After a batch failed on the database: its events first in the inbox again, in order,
  // and nothing handled for a pause that grows with each failure in a row.
  void RequeueAfterFailure(std::vector<Inbound>& batch);
  // Updates the sagas in memory and carries out their commands, after a commit; parks the
  // events of sagas whose transition was not recorded.
  void ApplyBatch(std::vector<Working>& work,
                  const std::unordered_map<std::string, NotRecorded>& not_recorded);
  // Keeps the events of `w`, whose transition was not recorded, to decide them again after
  // a pause; operator actions refused by the database are told why and not kept. Past
  // max_transition_refusals, replies are replaced by failed attempts saying why.
  void Park(Working& w, const NotRecorded& why);
  // Returns `events` with every participant reply replaced by a retryable error of its
  // attempt saying that it could not be recorded, and why.
  static void RecordRepliesAsFailures(std::vector<Inbound>& events, const std::string& cause);
  // Takes up again, from their stored state, the sagas that have no call in flight, no
  // timer armed and no event pending (in the inbox or in `batch`, about to be decided):
  // none should, and each is logged and counted.
  void CheckWaysForward(const std::vector<Inbound>& batch);
  // Takes up the sagas whose lease this coordinator held at two checks in a row (renewed by
  // the lease keeper meanwhile) without driving them, e.g. one whose creation's commit
  // outcome was unknown to the API: their leases would otherwise be renewed for ever.
  void TakeUpUnattendedLeases(const std::unordered_set<std::string>& pending);
  void PushTimer(Timer timer);
  // Drops the sagas the batch loaded, so that retrying the batch loads them afresh.
  void ForgetLoaded(const std::vector<Working>& work);
  // After a commit failed on the connection (its outcome unknown): drops every saga of
  // `work` from memory and puts a take-up from the stored state before its events in
  // `batch`, so that a transition committed after all is not recorded twice.
  void RereadAfterUnknownOutcome(const std::vector<Working>& work, std::vector<Inbound>& batch);
  absl::Status EnsureLive(const std::string& saga_id, int64_t lease_token);
  // Drives a saga created here (AdmitNew) from the state it was created with.
  void AdoptCreated(const Inbound& inbound);
  // The lease keeper's thread: ticks the keeper, between ticks waiting on the work channel
  // (at once when another coordinator announces released sagas).
  void KeepLeases();
  // Waits up to `timeout` on `channel` (null: none) for another coordinator to announce
  // released sagas; without a channel, or when it fails, waits on the engine, returning
  // early on stop.
  void AwaitWork(store::WorkChannel* channel, std::chrono::milliseconds timeout);
  absl::StatusOr<std::shared_ptr<const core::SagaDefinition>> DefinitionFor(const std::string& name,
                                                                            int version);
  void Execute(const std::string& saga_id, const LiveSaga& saga, const core::Command& command);
  void SendAttempt(const std::string& saga_id, const LiveSaga& saga,
                   const core::CallParticipant& call);

  store::SagaStore& store_;
  CallRouter& participants_;
  const EngineOptions options_;
  SagaOutcomes outcomes_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Inbound> inbox_;
  bool stopping_ = false;
  bool draining_ = false;
  // True while the loop handles a batch, so that Drain does not mistake a batch being
  // committed for an idle engine.
  bool busy_ = false;
  std::condition_variable idle_;
  // After the database failed a batch: the batch is kept in the inbox and nothing is
  // handled before this time (guarded by mutex_).
  std::optional<MonotonicTime> paused_until_;
  std::thread thread_;
  std::thread lease_thread_;
  // With batches_in_flight > 1 (all guarded by mutex_): the committer threads, the batches
  // handed to them and not yet taken, those they finished and the loop has not yet applied,
  // the sagas in a batch being committed, and the events of those sagas that arrived
  // meanwhile, in order, kept for the next batch.
  std::vector<std::thread> committers_;
  std::deque<std::unique_ptr<BatchInFlight>> to_commit_;
  std::deque<std::unique_ptr<BatchInFlight>> committed_;
  size_t batches_in_flight_ = 0;
  bool committers_stopping_ = false;
  std::condition_variable commit_wake_;
  std::unordered_set<std::string> sagas_in_flight_;
  std::unordered_map<std::string, std::vector<Inbound>> deferred_;
  // Ticked by the lease thread (or the stepping caller) only.
  LeaseKeeper lease_keeper_;

  // Owned by the loop thread.
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::unordered_map<std::string, LiveSaga> live_;
  std::map<std::pair<std::string, int>, std::shared_ptr<const core::SagaDefinition>> definitions_;
  std::chrono::milliseconds store_backoff_;
  std::unordered_map<std::string, Parked> parked_;
  // Per saga: participant calls sent whose reply was not yet decided, and when the last of
  // them must have answered (its attempt timeout; a transport reports a timeout then).
  struct CallsInFlight {
    int count = 0;
    core::TimePoint answer_by;
  };
  std::unordered_map<std::string, CallsInFlight> calls_in_flight_;
  std::unordered_map<std::string, int> timers_armed_;
  size_t live_count_ = 0;  // Guarded by mutex_; mirrors live_.size() for other threads.
  // The leases the lease keeper's last renewal found held, and how many renewals there were
  // (both guarded by mutex_); the count the loop last checked, and the leases it found held
  // but not driven then (both owned by the loop thread).
  std::vector<store::Lease> renewed_leases_;
  uint64_t renewals_ = 0;
  uint64_t renewals_checked_ = 0;
  std::unordered_map<std::string, int64_t> unattended_leases_;
};

}  // namespace skald::engine
