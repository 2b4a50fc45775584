#include "coordinator/engine/engine.h"

#include <spdlog/spdlog.h>

#include <random>
#include <unordered_set>

#include "coordinator/core/storable_text.h"
#include "coordinator/core/trace_context.h"
#include "coordinator/observability/logging.h"

namespace skald::engine {
namespace {

v1::Phase ToWire(core::Phase phase) {
  return phase == core::Phase::kAction ? v1::PHASE_ACTION : v1::PHASE_COMPENSATION;
}

// The outcome label of attempt metrics and logs.
std::string_view OutcomeLabel(core::AttemptOutcome outcome) {
  switch (outcome) {
    case core::AttemptOutcome::kSuccess:
      return "success";
    case core::AttemptOutcome::kRetryableError:
      return "retryable_error";
    case core::AttemptOutcome::kFailure:
      return "failure";
    case core::AttemptOutcome::kAccepted:
      return "accepted";
  }
  return "unknown";
}

// Events handed in with Submit, whose submitter waits to learn how they ended.
bool IsSubmitted(const core::Event& event) {
  return std::holds_alternative<core::OperatorAction>(event) ||
         std::holds_alternative<core::StepCompleted>(event) ||
         std::holds_alternative<core::HeartbeatReceived>(event);
}

// The error of an attempt whose reply the database refused to record.
constexpr std::string_view kNotRecordedPrefix = "the coordinator could not record this reply: ";

}  // namespace

// One saga's share of a batch: its state before, and the transition its events led to.
struct Engine::Working {
  std::string saga_id;
  core::SagaState before;
  core::Transition transition;
  // Loaded from the store for this batch (rather than already in memory).
  bool loaded_now = false;
  // Operator actions whose submitters learn the outcome once the batch is committed.
  std::vector<Inbound*> awaiting_commit;
  // Every event of the batch decided for the saga, kept should its transition not be
  // recorded.
  std::vector<Inbound*> events;
  // Decided on a state that a later take-up of the batch (a new lease) found stale: neither
  // committed nor applied; the take-up resends what was in flight.
  bool superseded = false;
};

Engine::Engine(store::SagaStore& store, CallRouter& participants, EngineOptions options)
    : store_(store),
      participants_(participants),
      options_(std::move(options)),
      lease_keeper_(
          store,
          LeaseKeeperOptions{lease_holder(), options_.renew_interval, options_.claim_interval,
                             options_.claim_batch, options_.monotonic_now, options_.metrics},
          [this](const store::Lease& lease) {
            Post({lease.saga_id, core::SagaResumed{}, lease.token});
          },
          [this](std::vector<store::Lease> held) {
            // For the loop's self-check: a lease held but not driven would be renewed for ever.
            std::lock_guard lock(mutex_);
            renewed_leases_ = std::move(held);
            ++renewals_;
          }),
      store_backoff_(options_.initial_store_backoff) {}

Engine::~Engine() { Stop(); }

absl::Status Engine::Start() {
  if (absl::Status taken_up = TakeUpUnfinishedSagas(); !taken_up.ok()) return taken_up;
  if (options_.batches_in_flight > 1) {
    for (size_t i = 0; i < options_.batches_in_flight; ++i) {
      committers_.emplace_back([this] { Commit(); });
    }
    thread_ = std::thread([this] { PipelinedLoop(); });
  } else {
    thread_ = std::thread([this] { Loop(); });
  }
  lease_thread_ = std::thread([this] { KeepLeases(); });
  return absl::OkStatus();
}

absl::Status Engine::TakeUpUnfinishedSagas() {
  // A coordinator restarted under the same name takes its sagas back at once instead of
  // waiting for its old leases to expire; the first claim follows. Both happen here, so that
  // a start on an unreachable database fails loudly.
  auto reclaimed = store_.ReclaimOwnLeases(lease_holder());
  if (!reclaimed.ok()) return reclaimed.status();
  auto claimed = store_.ClaimSagas(lease_holder(), options_.claim_batch);
  if (!claimed.ok()) return claimed.status();
  for (const auto* leases : {&*reclaimed, &*claimed}) {
    for (const store::Lease& lease : *leases) {
      Post({lease.saga_id, core::SagaResumed{}, lease.token});
    }
  }
  spdlog::info("engine {}: took up {} unfinished saga(s)", options_.owner,
               reclaimed->size() + claimed->size());
  if (options_.metrics && !claimed->empty()) options_.metrics->LeasesTakenOver(claimed->size());
  std::lock_guard lock(mutex_);
  timers_.push(Timer{options_.now() + options_.self_check_interval, "", core::SagaResumed{},
                     Timer::Kind::kSelfCheck});
  return absl::OkStatus();
}

void Engine::AwaitWork(store::WorkChannel* channel, std::chrono::milliseconds timeout) {
  if (channel) {
    absl::Status heard = channel->AwaitWork(timeout);
    if (heard.ok()) return;
    spdlog::warn("engine: {}; will retry", std::string(heard.message()));
  }
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, timeout, [this] { return stopping_; });
}

void Engine::KeepLeases() {
  std::unique_ptr<store::WorkChannel> channel;
  if (!options_.listen_uri.empty()) channel = store::MakePostgresWorkChannel(options_.listen_uri);
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || draining_) return;
    }
    // A full batch means more are waiting: claim again at once.
    if (lease_keeper_.Tick()) continue;
    AwaitWork(channel.get(), lease_keeper_.interval());
  }
}

void Engine::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The loop has applied every batch it handed over before it ended.
  {
    std::lock_guard lock(mutex_);
    committers_stopping_ = true;
  }
  commit_wake_.notify_all();
  for (std::thread& committer : committers_) committer.join();
  committers_.clear();
  if (lease_thread_.joinable()) lease_thread_.join();
  participants_.CancelAndDrain();
  // Operator actions not yet decided will not be: their submitters should not wait.
  std::lock_guard lock(mutex_);
  for (Inbound& inbound : inbox_) {
    Tell(inbound, absl::UnavailableError("the coordinator is shutting down"));
  }
  // The loop has ended: its parked events are the caller's now.
  for (auto& [id, parked] : parked_) {
    for (Inbound& inbound : parked.events) {
      Tell(inbound, absl::UnavailableError("the coordinator is shutting down"));
    }
  }
  for (auto& [id, events] : deferred_) {
    for (Inbound& inbound : events) {
      Tell(inbound, absl::UnavailableError("the coordinator is shutting down"));
    }
  }
}

bool Engine::Drain(std::chrono::milliseconds grace) {
  const MonotonicTime deadline = options_.monotonic_now() + grace;
  bool drained;
  {
    std::unique_lock lock(mutex_);
    draining_ = true;
    // Participant replies arrive on gRPC threads and are posted to the inbox; poll the
    // in-flight count at a short interval rather than wiring another notification.
    while (!(drained = !busy_ && inbox_.empty() && participants_.in_flight() == 0) &&
           options_.monotonic_now() < deadline) {
      idle_.wait_for(lock, std::chrono::milliseconds(20));
    }
  }
  spdlog::info("engine: {} within the shutdown grace period",
               drained ? "every call in flight answered and was recorded"
                       : "calls still in flight are left for the next coordinator");
  Stop();
  // Hand the sagas over at once instead of letting the leases run out.
  if (auto s = store_.ReleaseLeases(options_.owner); !s.ok()) {
    spdlog::warn("engine: releasing leases failed (they will expire): {}",
                 std::string(s.message()));
  } else {
    spdlog::info("engine {}: leases released to the other coordinators", options_.owner);
  }
  return drained;
}

void Engine::Admit(const std::string& saga_id, int64_t lease_token) {
  Post({saga_id, core::SagaResumed{}, lease_token});
}

void Engine::AdmitNew(const std::string& saga_id, int64_t lease_token,
                      std::shared_ptr<const core::SagaDefinition> definition, nlohmann::json input,
                      std::string traceparent) {
  const size_t steps = definition->steps.size();
  auto created = std::make_shared<const LiveSaga>(
      LiveSaga{std::move(definition), core::NewSagaState(saga_id, std::move(input), steps),
               lease_token, std::move(traceparent)});
  // Before the loop can end it: a waiter that sees the note will hear of the end.
  outcomes_.MarkDriven(saga_id);
  Post({saga_id, core::SagaResumed{}, lease_token, nullptr, std::move(created)});
}

void Engine::Submit(const std::string& saga_id, int64_t lease_token, core::Event event,
                    std::function<void(absl::Status)> done) {
  Post({saga_id, std::move(event), lease_token, std::move(done)});
}

void Engine::Tell(Inbound& inbound, const absl::Status& status) {
  if (!inbound.done) return;
  auto done = std::move(inbound.done);
  inbound.done = nullptr;
  done(status);
}

size_t Engine::live_sagas() const {
  std::lock_guard lock(mutex_);
  return live_count_;
}

void Engine::Post(Inbound inbound) {
  {
    std::lock_guard lock(mutex_);
    inbox_.push_back(std::move(inbound));
  }
  // All: the lease keeper may be waiting on wake_ too (when it cannot LISTEN), and must not
  // take the loop's wake-up.
  wake_.notify_all();
}

void Engine::Loop() {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      if (!AwaitBatch(lock)) return;  // Stopping.
    }
    RunOnce();
  }
}

bool Engine::AwaitBatch(std::unique_lock<std::mutex>& lock) {
  while (!stopping_ && !BatchReady()) {
    if (paused_until_) {
      wake_.wait_for(lock, *paused_until_ - options_.monotonic_now(), [this] { return stopping_; });
    } else if (timers_.empty()) {
      wake_.wait(lock);
    } else {
      wake_.wait_until(lock, timers_.top().at);
    }
  }
  return !stopping_;
}

bool Engine::BatchReady() const {
  if (paused_until_ && options_.monotonic_now() < *paused_until_) return false;
  return !inbox_.empty() || (!timers_.empty() && timers_.top().at <= options_.now());
}

bool Engine::RunOnce() {
  std::optional<std::vector<Inbound>> next = TakeReadyBatch();
  if (!next) return false;
  std::vector<Inbound>& batch = *next;
  if (batch.empty()) return true;  // Only the self-check was due.
  const bool handled = HandleBatch(batch);
  {
    std::lock_guard lock(mutex_);
    busy_ = false;
  }
  idle_.notify_all();
  if (handled) {
    store_backoff_ = options_.initial_store_backoff;
    return true;
  }
  RequeueAfterFailure(batch);
  return true;
}

void Engine::RequeueAfterFailure(std::vector<Inbound>& batch) {
  // The database is unreachable: keep the batch, in order, and try again after a pause.
  std::lock_guard lock(mutex_);
  for (auto it = batch.rbegin(); it != batch.rend(); ++it) inbox_.push_front(std::move(*it));
  paused_until_ = options_.monotonic_now() + store_backoff_;
  store_backoff_ = std::min(store_backoff_ * 2, options_.max_store_backoff);
}

void Engine::PipelinedLoop() {
  while (true) {
    std::unique_ptr<BatchInFlight> done;
    {
      std::unique_lock lock(mutex_);
      while (true) {
        if (!committed_.empty()) {
          done = std::move(committed_.front());
          committed_.pop_front();
          break;
        }
        if (stopping_) {
          // Every batch handed over is applied before the loop ends, as Loop finishes the
          // batch it is handling.
          if (batches_in_flight_ == 0) return;
          wake_.wait(lock);
          continue;
        }
        if (batches_in_flight_ < options_.batches_in_flight && BatchReady()) break;
        if (paused_until_) {
          wake_.wait_for(lock, *paused_until_ - options_.monotonic_now());
        } else if (timers_.empty() || batches_in_flight_ >= options_.batches_in_flight) {
          wake_.wait(lock);
        } else {
          wake_.wait_until(lock, timers_.top().at);
        }
      }
    }
    if (done) {
      FinishInFlight(std::move(done));
      continue;
    }
    std::optional<std::vector<Inbound>> next = TakeReadyBatch();
    if (!next) continue;
    auto flight = std::make_unique<BatchInFlight>();
    flight->events = std::move(*next);
    std::optional<std::vector<Working>> work;
    if (!flight->events.empty()) work = DecideBatch(flight->events);
    if (work) flight->work = std::move(*work);
    // The writes point into flight->work: taken once it is where it stays.
    if (work) flight->writes = WritesOf(flight->work);
    if (!flight->events.empty() && work && !flight->writes.empty()) {
      {
        std::lock_guard lock(mutex_);
        for (const Working& w : flight->work) sagas_in_flight_.insert(w.saga_id);
        ++batches_in_flight_;
        to_commit_.push_back(std::move(flight));
      }
      commit_wake_.notify_one();
      continue;
    }
    // Nothing to commit (only the self-check was due, or no event changed a state), or a
    // saga could not be loaded: handled here at once.
    if (!flight->events.empty()) {
      if (work) {
        ApplyBatch(flight->work, {});
      } else {
        RequeueAfterFailure(flight->events);
      }
    }
    {
      std::lock_guard lock(mutex_);
      busy_ = batches_in_flight_ > 0;
    }
    idle_.notify_all();
  }
}

void Engine::Commit() {
  while (true) {
    std::unique_ptr<BatchInFlight> flight;
    {
      std::unique_lock lock(mutex_);
      commit_wake_.wait(lock, [this] { return committers_stopping_ || !to_commit_.empty(); });
      if (to_commit_.empty()) return;
      flight = std::move(to_commit_.front());
      to_commit_.pop_front();
    }
    flight->result = CommitWrites(flight->writes);
    {
      std::lock_guard lock(mutex_);
      committed_.push_back(std::move(flight));
    }
    wake_.notify_all();
  }
}

void Engine::FinishInFlight(std::unique_ptr<BatchInFlight> done) {
  const bool committed = done->result.ok();
  if (committed) {
    store_backoff_ = options_.initial_store_backoff;
    ApplyBatch(done->work, *done->result);
  } else {
    spdlog::warn("engine: database {}, will retry {} event(s): {}",
                 absl::IsAborted(done->result.status()) ? "conflict" : "unavailable",
                 done->events.size(), std::string(done->result.status().message()));
    if (absl::IsUnavailable(done->result.status())) {
      RereadAfterUnknownOutcome(done->work, done->events);
    } else {
      ForgetLoaded(done->work);
    }
  }
  {
    std::lock_guard lock(mutex_);
    // The events that arrived for these sagas while they were being committed come before
    // any later one (and after the batch's own, should it be retried).
    std::vector<Inbound> waiting;
    for (const Working& w : done->work) {
      sagas_in_flight_.erase(w.saga_id);
      auto deferred = deferred_.find(w.saga_id);
      if (deferred == deferred_.end()) continue;
      for (Inbound& inbound : deferred->second) waiting.push_back(std::move(inbound));
      deferred_.erase(deferred);
    }
    for (auto it = waiting.rbegin(); it != waiting.rend(); ++it) inbox_.push_front(std::move(*it));
  }
  if (!committed) RequeueAfterFailure(done->events);
  {
    std::lock_guard lock(mutex_);
    --batches_in_flight_;
    busy_ = batches_in_flight_ > 0;
  }
  idle_.notify_all();
}

std::optional<core::TimePoint> Engine::NextTimerAt() const {
  std::lock_guard lock(mutex_);
  if (timers_.empty()) return std::nullopt;
  return timers_.top().at;
}

std::optional<std::vector<Engine::Inbound>> Engine::TakeReadyBatch() {
  std::unique_lock lock(mutex_);
  if (stopping_ || !BatchReady()) return std::nullopt;
  paused_until_.reset();
  std::vector<Inbound> batch;
  // An event of a saga in a batch being committed waits for the next batch (its transition
  // must be decided on the committed state).
  const auto take = [&](Inbound inbound) {
    if (sagas_in_flight_.contains(inbound.saga_id)) {
      deferred_[inbound.saga_id].push_back(std::move(inbound));
    } else {
      batch.push_back(std::move(inbound));
    }
  };
  while (!inbox_.empty() && batch.size() < options_.max_batch) {
    take(std::move(inbox_.front()));
    inbox_.pop_front();
  }
  const core::TimePoint now = options_.now();
  bool check_due = false;
  while (!timers_.empty() && timers_.top().at <= now && batch.size() < options_.max_batch) {
    Timer timer = timers_.top();
    timers_.pop();
    switch (timer.kind) {
      case Timer::Kind::kEvent:
        if (auto it = timers_armed_.find(timer.saga_id);
            it != timers_armed_.end() && --it->second <= 0) {
          timers_armed_.erase(it);
        }
        take({timer.saga_id, std::move(timer.event)});
        break;
      case Timer::Kind::kReplay:
        if (auto it = parked_.find(timer.saga_id); it != parked_.end()) {
          it->second.replay_armed = false;
          for (Inbound& inbound : it->second.events) take(std::move(inbound));
          it->second.events.clear();
        }
        break;
      case Timer::Kind::kSelfCheck:
        check_due = true;
        timers_.push(Timer{now + options_.self_check_interval, "", core::SagaResumed{},
                           Timer::Kind::kSelfCheck});
        break;
    }
  }
  busy_ = !batch.empty() || batches_in_flight_ > 0;
  if (check_due) {
    lock.unlock();
    CheckWaysForward(batch);
  }
  return batch;
}

void Engine::PushTimer(Timer timer) {
  if (timer.kind == Timer::Kind::kEvent) ++timers_armed_[timer.saga_id];
  timers_.push(std::move(timer));
}

void Engine::TakeUpUnattendedLeases(const std::unordered_set<std::string>& pending) {
  std::vector<store::Lease> held;
  {
    std::lock_guard lock(mutex_);
    if (renewals_ == renewals_checked_) return;  // No renewal since the last check.
    renewals_checked_ = renewals_;
    held = renewed_leases_;
  }
  std::unordered_map<std::string, int64_t> unattended;
  for (const store::Lease& lease : held) {
    const std::string& id = lease.saga_id;
    if (live_.contains(id) || parked_.contains(id) || pending.contains(id)) continue;
    unattended.emplace(id, lease.token);
  }
  for (const auto& [id, token] : unattended) {
    // Unattended at two checks in a row, with a renewal between: neither a saga being
    // admitted nor one that has just ended.
    auto before = unattended_leases_.find(id);
    if (before == unattended_leases_.end() || before->second != token) continue;
    observability::LogAbout({id}, spdlog::level::warn,
                            "this coordinator holds the saga's lease but was not driving it (its "
                            "creation's commit was in doubt, say): taking it up");
    if (options_.metrics) options_.metrics->SagaWithoutWayForward();
    Post({id, core::SagaResumed{}, token});
  }
  unattended_leases_ = std::move(unattended);
}

void Engine::CheckWaysForward(const std::vector<Inbound>& batch) {
  std::unordered_set<std::string> pending;
  for (const Inbound& inbound : batch) pending.insert(inbound.saga_id);
  {
    std::lock_guard lock(mutex_);
    // While draining, decisions are committed but not carried out, on purpose.
    if (draining_ || stopping_) return;
    for (const Inbound& inbound : inbox_) pending.insert(inbound.saga_id);
    // Being committed, or waiting for that commit: their way forward follows it.
    pending.insert(sagas_in_flight_.begin(), sagas_in_flight_.end());
    for (const auto& [id, events] : deferred_) pending.insert(id);
  }
  // A call whose answer is this late was lost on the way (its transport must report a
  // timeout at its attempt timeout): it is no way forward.
  const core::TimePoint lost_before = options_.now() - 2 * options_.self_check_interval;
  std::vector<std::pair<std::string, int64_t>> stranded;
  for (const auto& [id, saga] : live_) {
    if (core::IsTerminal(saga.state.status)) continue;
    if (auto calls = calls_in_flight_.find(id);
        calls != calls_in_flight_.end() && calls->second.answer_by >= lost_before) {
      continue;
    }
    if (timers_armed_.contains(id) || parked_.contains(id) || pending.contains(id)) continue;
    stranded.emplace_back(id, saga.lease_token);
  }
  TakeUpUnattendedLeases(pending);
  for (const auto& [id, lease_token] : stranded) {
    observability::LogAbout({id}, spdlog::level::err,
                            "no call in flight (or only calls long past their attempt timeout), "
                            "no timer and nothing pending for this {} saga: "
                            "taking it up again from its stored state (a defect; please report "
                            "it with this log)",
                            core::ToString(live_.at(id).state.status));
    if (options_.metrics) options_.metrics->SagaWithoutWayForward();
    // Loaded afresh and resumed, as after a takeover: attempts without a recorded outcome
    // are sent again (same idempotency key) and stored retry times armed.
    live_.erase(id);
    calls_in_flight_.erase(id);
    Post({id, core::SagaResumed{}, lease_token});
  }
  if (!stranded.empty()) {
    std::lock_guard lock(mutex_);
    live_count_ = live_.size();
  }
}

bool Engine::HandleBatch(std::vector<Inbound>& batch) {
  std::optional<std::vector<Working>> work = DecideBatch(batch);
  if (!work) return false;
  auto not_recorded = CommitWrites(WritesOf(*work));
  if (!not_recorded.ok()) {
    spdlog::warn("engine: database {}, will retry {} event(s): {}",
                 absl::IsAborted(not_recorded.status()) ? "conflict" : "unavailable", batch.size(),
                 std::string(not_recorded.status().message()));
    if (absl::IsUnavailable(not_recorded.status())) {
      RereadAfterUnknownOutcome(*work, batch);
    } else {
      ForgetLoaded(*work);
    }
    return false;
  }
  ApplyBatch(*work, *not_recorded);
  return true;
}

void Engine::RereadAfterUnknownOutcome(const std::vector<Working>& work,
                                       std::vector<Inbound>& batch) {
  // The connection may have died during COMMIT, after the database committed: deciding the
  // same events again from the states in memory would record every transition twice. So
  // the sagas are taken up again from what is stored, first, and their events decided on
  // that: events already recorded then no longer apply, and what the recorded transition
  // asked for (calls, timers) is resent or re-armed by the take-up.
  std::vector<Inbound> take_ups;
  for (const Working& w : work) {
    auto saga = live_.find(w.saga_id);
    if (saga == live_.end()) continue;
    take_ups.push_back({w.saga_id, core::SagaResumed{}, saga->second.lease_token});
    live_.erase(saga);
  }
  batch.insert(batch.begin(), std::make_move_iterator(take_ups.begin()),
               std::make_move_iterator(take_ups.end()));
}

std::optional<std::vector<Engine::Working>> Engine::DecideBatch(std::vector<Inbound>& batch) {
  const core::TimePoint now = options_.now();
  std::vector<Working> work;
  std::unordered_map<std::string, size_t> index;
  for (Inbound& inbound : batch) {
    if (std::holds_alternative<core::AttemptFinished>(inbound.event) && !inbound.reply_counted) {
      inbound.reply_counted = true;
      if (auto it = calls_in_flight_.find(inbound.saga_id);
          it != calls_in_flight_.end() && --it->second.count <= 0) {
        calls_in_flight_.erase(it);
      }
    }
    const bool resumes = std::holds_alternative<core::SagaResumed>(inbound.event);
    // Submitted with a lease taken for it: an operator action, a completion, a heartbeat.
    const bool action = IsSubmitted(inbound.event);
    const bool takes_up = resumes || action;
    bool loaded_now = false;
    if (auto it = live_.find(inbound.saga_id);
        takes_up && it != live_.end() && inbound.lease_token > it->second.lease_token) {
      // Claimed anew (our own lease had lapsed): what is in memory may be stale.
      live_.erase(it);
      if (auto decided = index.find(inbound.saga_id); decided != index.end()) {
        // So were the decisions of its earlier events in this batch: committed under the
        // new lease, they would overwrite what another coordinator recorded meanwhile.
        Working& stale = work[decided->second];
        stale.superseded = true;
        for (Inbound* earlier : stale.awaiting_commit) {
          Tell(*earlier, absl::AbortedError("another coordinator took the saga over meanwhile; "
                                            "look at it again and repeat the action if it "
                                            "still applies"));
        }
        stale.awaiting_commit.clear();
        index.erase(decided);
      }
    }
    if (!live_.contains(inbound.saga_id)) {
      // Replies and timers of sagas no longer driven here are stale: drop them.
      if (!takes_up) continue;
      absl::Status loaded = absl::OkStatus();
      if (inbound.created) {
        AdoptCreated(inbound);
      } else {
        loaded = EnsureLive(inbound.saga_id, inbound.lease_token);
      }
      if (absl::IsUnavailable(loaded)) {
        ForgetLoaded(work);
        return std::nullopt;
      }
      if (!loaded.ok()) {
        observability::LogAbout({inbound.saga_id}, spdlog::level::err, "cannot take it up: {}",
                                std::string(loaded.message()));
        Tell(inbound, loaded);
        continue;
      }
      loaded_now = true;
      if (resumes && core::IsTerminal(live_.at(inbound.saga_id).state.status)) {
        // Ended meanwhile (a lease taken up as unattended just as it finished): nothing to do.
        live_.erase(inbound.saga_id);
        continue;
      }
    } else if (resumes) {
      continue;  // Already driven here: resending its calls would duplicate them.
    }
    const LiveSaga& saga = live_.at(inbound.saga_id);
    auto [it, inserted] = index.emplace(inbound.saga_id, work.size());
    if (inserted) {
      work.push_back(Working{inbound.saga_id, saga.state, {saga.state, {}, {}}, loaded_now});
    }
    Working& w = work[it->second];
    w.events.push_back(&inbound);
    auto decide = [&](const core::Event& event) {
      core::Transition next = core::Decide(*saga.definition, w.transition.state, event, now);
      // A heartbeat changes the state without a line of history.
      const bool changed = !next.history.empty() || next.state != w.transition.state;
      w.transition.state = std::move(next.state);
      for (auto& command : next.commands) w.transition.commands.push_back(std::move(command));
      for (auto& entry : next.history) w.transition.history.push_back(std::move(entry));
      return changed;
    };
    if (!action) {
      decide(inbound.event);
      continue;
    }
    // Taken up for the operator: resumed first like any saga taken up, so that its calls in
    // flight are resent and its timers re-armed here.
    if (loaded_now) decide(core::SagaResumed{});
    const core::SagaState before_action = w.transition.state;
    if (decide(inbound.event)) {
      w.awaiting_commit.push_back(&inbound);
    } else {
      absl::Status refused =
          core::CheckSubmitted(*saga.definition, before_action, inbound.event, now);
      Tell(inbound,
           refused.ok() ? absl::FailedPreconditionError("the action no longer applies") : refused);
    }
  }
  return work;
}

std::vector<store::TransitionWrite> Engine::WritesOf(const std::vector<Working>& work) const {
  std::vector<store::TransitionWrite> writes;
  for (const Working& w : work) {
    if (w.superseded) continue;
    if (w.transition.history.empty() && w.transition.state == w.before) continue;
    const LiveSaga& saga = live_.at(w.saga_id);
    writes.push_back({&w.before, &w.transition, saga.definition.get(), saga.lease_token});
  }
  return writes;
}

absl::StatusOr<Engine::NotRecordedBySaga> Engine::CommitWrites(
    const std::vector<store::TransitionWrite>& writes) const {
  NotRecordedBySaga not_recorded;
  if (writes.empty()) return not_recorded;
  const auto lease_lost = [&](const std::vector<std::string>& fenced) {
    for (const std::string& id : fenced) {
      // Another coordinator holds the lease now: nothing of ours was written.
      observability::LogAbout({id}, spdlog::level::warn,
                              "lease lost to another coordinator; letting it go");
      not_recorded[id] = {NotRecorded::Why::kLeaseLost, absl::OkStatus()};
    }
  };
  absl::StatusOr<std::vector<std::string>> fenced =
      store_.CommitTransitions(writes, options_.owner);
  // A conflict (deadlock, serialization failure) rolled the whole transaction back: nothing
  // was written, and the same batch is committed again at once, after a short pause that
  // lets the other transaction finish (jittered, so that two retrying writers part ways).
  std::chrono::microseconds pause = options_.conflict_backoff;
  for (int retry = 0; absl::IsAborted(fenced.status()) && retry < options_.conflict_retries;
       ++retry) {
    thread_local std::minstd_rand jitter(std::random_device{}());
    const auto half = pause.count() / 2;
    std::this_thread::sleep_for(std::chrono::microseconds(
        half + (half > 0 ? static_cast<int64_t>(jitter() % static_cast<uint64_t>(half)) : 0)));
    pause *= 2;
    spdlog::debug("engine: batch of {} transition(s) conflicted ({}); committing it again",
                  writes.size(), std::string(fenced.status().message()));
    fenced = store_.CommitTransitions(writes, options_.owner);
  }
  // Causes that may pass (the connection, a read-only or full database, privileges): the
  // whole batch is tried again after a pause.
  if (absl::IsUnavailable(fenced.status())) return fenced.status();
  if (fenced.ok()) {
    lease_lost(*fenced);
    return not_recorded;
  }
  const auto why_alone = [](const absl::Status& status) {
    return absl::IsUnavailable(status) || absl::IsAborted(status) ? NotRecorded::Why::kUnavailable
                                                                  : NotRecorded::Why::kRefused;
  };
  if (writes.size() == 1) {
    not_recorded[writes[0].before->id] = {why_alone(fenced.status()), fenced.status()};
    return not_recorded;
  }
  // The database refused a value, or the batch kept conflicting: find the saga(s) at fault
  // by committing one at a time. Each saga's fate is its own from here, so that what was
  // committed is not committed again.
  for (const store::TransitionWrite& write : writes) {
    auto alone = store_.CommitTransitions({write}, options_.owner);
    if (alone.ok()) {
      lease_lost(*alone);
    } else {
      not_recorded[write.before->id] = {why_alone(alone.status()), alone.status()};
    }
  }
  return not_recorded;
}

void Engine::ApplyBatch(std::vector<Working>& work,
                        const std::unordered_map<std::string, NotRecorded>& not_recorded) {
  for (Working& w : work) {
    if (w.superseded) continue;
    if (auto missed = not_recorded.find(w.saga_id); missed != not_recorded.end()) {
      if (missed->second.why != NotRecorded::Why::kLeaseLost) {
        Park(w, missed->second);
        continue;
      }
      const absl::Status taken_over = absl::AbortedError(
          "another coordinator took the saga over meanwhile; look at it "
          "again and repeat the action if it still applies");
      live_.erase(w.saga_id);
      if (auto parked = parked_.find(w.saga_id); parked != parked_.end()) {
        for (Inbound& inbound : parked->second.events) Tell(inbound, taken_over);
        parked_.erase(parked);
      }
      for (Inbound* inbound : w.awaiting_commit) Tell(*inbound, taken_over);
      continue;
    }
    if (auto parked = parked_.find(w.saga_id);
        parked != parked_.end() && parked->second.events.empty()) {
      // Its parked events were in this batch, and are recorded now.
      if (parked->second.refusals > 0) {
        observability::LogAbout({w.saga_id}, spdlog::level::info,
                                "transition recorded after {} refusal(s)", parked->second.refusals);
      }
      parked_.erase(parked);
    }
    for (Inbound* inbound : w.awaiting_commit) Tell(*inbound, absl::OkStatus());
    LiveSaga& saga = live_.at(w.saga_id);
    saga.state = std::move(w.transition.state);
    for (const core::Command& command : w.transition.commands) Execute(w.saga_id, saga, command);
    if (core::IsTerminal(saga.state.status)) {
      observability::LogAbout({w.saga_id}, spdlog::level::info, "{}",
                              core::ToString(saga.state.status));
      if (options_.metrics) {
        options_.metrics->SagaFinished(saga.definition->name, core::ToString(saga.state.status));
      }
      outcomes_.Publish(w.saga_id, {saga.state.status, saga.state.error});
      live_.erase(w.saga_id);
      // Events still parked no longer apply (replies and timers of an ended saga change
      // nothing); an operator waiting on one is told.
      if (auto parked = parked_.find(w.saga_id); parked != parked_.end()) {
        for (Inbound& inbound : parked->second.events) {
          Tell(inbound, absl::FailedPreconditionError("the saga has ended meanwhile"));
        }
        parked_.erase(parked);
      }
    }
  }
  std::lock_guard lock(mutex_);
  live_count_ = live_.size();
  if (options_.metrics) options_.metrics->SetSagasInFlight(live_count_);
}

void Engine::Park(Working& w, const NotRecorded& why) {
  const bool refused = why.why == NotRecorded::Why::kRefused;
  // The message as the store gives it (no SQL text: the store keeps that for its log),
  // made storable, since it may end up in the saga's history.
  const std::string cause = core::StorableText(std::string(why.status.message()), 1024);
  Parked& parked = parked_[w.saga_id];
  if (parked.backoff.count() == 0) parked.backoff = options_.initial_store_backoff;
  if (refused) ++parked.refusals;
  // A saga taken up by this batch is taken up again, from its stored state, when its events
  // are replayed: the take-up's own transition was not recorded either. So is a saga whose
  // commit failed on the connection: it may have been recorded after all (see
  // RereadAfterUnknownOutcome).
  if (w.loaded_now || why.why == NotRecorded::Why::kUnavailable) {
    // A take-up from the stored state, not from the state a creation here began with.
    const bool takes_up_first =
        !w.events.empty() && std::holds_alternative<core::SagaResumed>(w.events.front()->event) &&
        !w.events.front()->created;
    if (!takes_up_first) {
      parked.events.push_back({w.saga_id, core::SagaResumed{}, live_.at(w.saga_id).lease_token});
    }
    live_.erase(w.saga_id);
  }
  for (Inbound* inbound : w.events) {
    if (refused && std::holds_alternative<core::OperatorAction>(inbound->event)) {
      // The operator is told the real cause at once, and may act again.
      Tell(*inbound, absl::Status(why.status.code(),
                                  "the coordinator could not record the action: " + cause));
      continue;
    }
    parked.events.push_back(std::move(*inbound));
  }
  if (parked.events.empty()) {
    // Only operator actions, each told why: nothing to decide again, and the saga, still
    // driven here, must not look parked to the self-check (it would be skipped for ever).
    parked_.erase(w.saga_id);
    return;
  }
  std::string_view then = "retried";
  if (refused && parked.refusals > options_.max_transition_refusals) {
    then = parked.refusals == options_.max_transition_refusals + 1 ? "recorded_as_failure" : "kept";
    RecordRepliesAsFailures(parked.events, cause);
  }
  if (refused && options_.metrics) options_.metrics->TransitionRefused(then);
  observability::LogAbout(
      {w.saga_id}, then == "kept" ? spdlog::level::err : spdlog::level::warn,
      "transition not recorded ({}), {} event(s) kept and decided again in {} ms{}: {}",
      refused ? "refusal " + std::to_string(parked.refusals) : std::string("database unreachable"),
      parked.events.size(), parked.backoff.count(),
      then == "recorded_as_failure" ? ", participant replies now recorded as failed attempts"
      : then == "kept"              ? "; even the failed attempts were refused"
                                    : "",
      cause);
  if (!parked.replay_armed) {
    parked.replay_armed = true;
    timers_.push(Timer{options_.now() + parked.backoff, w.saga_id, core::SagaResumed{},
                       Timer::Kind::kReplay});
    parked.backoff = std::min(parked.backoff * 2, options_.max_store_backoff);
  }
}

void Engine::RecordRepliesAsFailures(std::vector<Inbound>& events, const std::string& cause) {
  for (Inbound& inbound : events) {
    auto* reply = std::get_if<core::AttemptFinished>(&inbound.event);
    if (!reply ||
        (reply->outcome == core::AttemptOutcome::kRetryableError && reply->output.is_null() &&
         reply->error_code.empty() && reply->error.starts_with(kNotRecordedPrefix))) {
      continue;
    }
    reply->outcome = core::AttemptOutcome::kRetryableError;
    reply->output = nullptr;
    reply->error_code.clear();
    reply->error = std::string(kNotRecordedPrefix) + cause;
  }
}

void Engine::ForgetLoaded(const std::vector<Working>& work) {
  // Their take-up events are retried with the batch and must load them afresh then.
  for (const Working& w : work) {
    if (w.loaded_now) live_.erase(w.saga_id);
  }
}

absl::Status Engine::EnsureLive(const std::string& saga_id, int64_t lease_token) {
  auto record = store_.GetSaga(saga_id);
  if (!record.ok()) return record.status();
  auto definition = DefinitionFor(record->definition_name, record->definition_version);
  if (!definition.ok()) return definition.status();
  if ((*definition)->steps.size() != record->state.steps.size()) {
    return absl::InternalError("stored steps do not match definition " + record->definition_name +
                               " v" + std::to_string(record->definition_version));
  }
  live_[saga_id] =
      LiveSaga{*definition, std::move(record->state), lease_token, std::move(record->traceparent)};
  return absl::OkStatus();
}

void Engine::AdoptCreated(const Inbound& inbound) {
  LiveSaga saga = *inbound.created;
  // One copy of each definition version in memory, whoever parsed it.
  auto key = std::make_pair(saga.definition->name, saga.definition->version);
  saga.definition = definitions_.emplace(key, saga.definition).first->second;
  live_[inbound.saga_id] = std::move(saga);
}

absl::StatusOr<std::shared_ptr<const core::SagaDefinition>> Engine::DefinitionFor(
    const std::string& name, int version) {
  auto key = std::make_pair(name, version);
  if (auto it = definitions_.find(key); it != definitions_.end()) return it->second;
  auto definition = store_.GetDefinition(name, version);
  if (!definition.ok()) return definition.status();
  auto shared = std::make_shared<const core::SagaDefinition>(*std::move(definition));
  definitions_.emplace(key, shared);
  return shared;
}

void Engine::Execute(const std::string& saga_id, const LiveSaga& saga,
                     const core::Command& command) {
  {
    // While draining, decisions are committed (the intent is durable) but not carried out:
    // the next coordinator to take the saga up sends the call or arms the timer.
    std::lock_guard lock(mutex_);
    if (draining_) return;
  }
  if (const auto* call = std::get_if<core::CallParticipant>(&command)) {
    SendAttempt(saga_id, saga, *call);
  } else if (const auto* retry = std::get_if<core::ScheduleRetry>(&command)) {
    if (options_.metrics) {
      options_.metrics->RetryScheduled(saga.definition->name,
                                       saga.definition->steps[retry->step].name,
                                       core::ToString(retry->phase));
    }
    PushTimer(Timer{retry->at, saga_id, core::RetryDue{retry->step, retry->phase}});
  } else if (const auto* deadline = std::get_if<core::ScheduleDeadline>(&command)) {
    PushTimer(Timer{deadline->at, saga_id, core::DeadlinePassed{deadline->step}});
  } else if (const auto* wait = std::get_if<core::ScheduleWaitTimeout>(&command)) {
    PushTimer(Timer{wait->at, saga_id, core::WaitTimedOut{wait->step, wait->phase, wait->attempt}});
  }
}

void Engine::SendAttempt(const std::string& saga_id, const LiveSaga& saga,
                         const core::CallParticipant& call) {
  const core::StepDefinition& step = saga.definition->steps[call.step];
  v1::StepCall request;
  request.set_saga_id(saga_id);
  request.set_step(step.name);
  request.set_phase(ToWire(call.phase));
  request.set_handler(call.phase == core::Phase::kAction ? step.action : step.compensation);
  request.set_attempt(call.attempt);
  request.set_idempotency_key(core::IdempotencyKey(saga_id, step.name, call.phase));
  const core::StepState& state = saga.state.steps[call.step];
  // The input rendered when the step started; sagas stored before templates existed
  // have none and receive the saga input.
  request.set_input_json(state.input.is_null() ? saga.state.input.dump() : state.input.dump());
  const nlohmann::json& output = state.output;
  if (call.phase == core::Phase::kCompensation && !output.is_null()) {
    request.set_action_output_json(output.dump());
  }
  request.set_traceparent(
      core::TraceParent(saga.traceparent, saga_id, step.name, call.phase, call.attempt));
  if (options_.completion_token) {
    request.set_completion_token(
        options_.completion_token({saga_id, call.step, call.phase, call.attempt}));
  }
  observability::LogAbout({saga_id, step.name, call.attempt}, spdlog::level::debug,
                          "sending the {} to {}", core::ToString(call.phase), request.handler());
  const MonotonicTime sent = options_.monotonic_now();
  CallsInFlight& calls = calls_in_flight_[saga_id];
  ++calls.count;
  calls.answer_by = std::max(calls.answer_by, options_.now() + step.attempt_timeout);
  participants_.Send(
      step, request, [this, saga_id, call, sent, definition = saga.definition](CallResult result) {
        const std::string& step_name = definition->steps[call.step].name;
        observability::LogAbout({saga_id, step_name, call.attempt}, spdlog::level::debug,
                                "{} answered: {}{}", core::ToString(call.phase),
                                OutcomeLabel(result.outcome),
                                result.error.empty() ? "" : " (" + result.error + ")");
        if (options_.metrics) {
          options_.metrics->AttemptFinished(definition->name, step_name, core::ToString(call.phase),
                                            OutcomeLabel(result.outcome),
                                            options_.monotonic_now() - sent);
        }
        Post({saga_id, core::AttemptFinished{call.step, call.phase, call.attempt, result.outcome,
                                             std::move(result.output), std::move(result.error),
                                             std::move(result.error_code)}});
      });
}

}  // namespace skald::engine
