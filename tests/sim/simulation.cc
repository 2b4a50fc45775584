#include "tests/sim/simulation.h"

#include <spdlog/spdlog.h>

#include <memory>
#include <optional>
#include <random>
#include <set>

#include "coordinator/api/saga_operations.h"
#include "coordinator/core/definition_parser.h"
#include "coordinator/engine/call_router.h"
#include "coordinator/engine/engine.h"
#include "tests/sim/invariants.h"
#include "tests/sim/memory_saga_store.h"
#include "tests/sim/participants.h"
#include "tests/sim/scheduler.h"
#include "tests/sim/sim_transport.h"

namespace skald::sim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The three definitions every run drives: a line of three steps; a DAG with a pivot and a
// step after it; short attempt, step and saga timeouts with retries.
constexpr const char* kDefinitions[] = {
    R"({"name": "linear", "version": 1,
        "defaults": {"retry": {"max_attempts": 4, "initial_interval": "100ms", "max_interval": "1s"},
                     "compensation_retry": {"max_attempts": 30, "initial_interval": "100ms",
                                            "max_interval": "2s"},
                     "attempt_timeout": "1s"},
        "steps": [
          {"name": "reserve", "participant": "p1:1", "action": "linear.reserve",
           "compensation": "linear.release"},
          {"name": "charge", "participant": "p2:1", "after": ["reserve"],
           "action": "linear.charge", "compensation": "linear.refund"},
          {"name": "ship", "participant": "p3:1", "after": ["charge"],
           "action": "linear.ship", "compensation": "linear.unship"}]})",
    R"({"name": "pivot", "version": 1, "timeout": "20s",
        "defaults": {"retry": {"max_attempts": 3, "initial_interval": "100ms", "max_interval": "1s"},
                     "compensation_retry": {"max_attempts": 30, "initial_interval": "100ms",
                                            "max_interval": "2s"},
                     "attempt_timeout": "1s"},
        "steps": [
          {"name": "hold", "participant": "p1:1", "after": [], "action": "pivot.hold",
           "compensation": "pivot.unhold"},
          {"name": "debit", "participant": "p2:1", "after": [], "action": "pivot.debit",
           "compensation": "pivot.credit"},
          {"name": "commit", "participant": "p3:1", "after": ["hold", "debit"],
           "action": "pivot.commit", "pivot": true},
          {"name": "notify", "participant": "p1:1", "after": ["commit"],
           "action": "pivot.notify"}]})",
    R"({"name": "timeouts", "version": 1, "timeout": "6s",
        "defaults": {"retry": {"max_attempts": 6, "initial_interval": "200ms", "max_interval": "1s"},
                     "compensation_retry": {"max_attempts": 30, "initial_interval": "100ms",
                                            "max_interval": "2s"},
                     "attempt_timeout": "400ms"},
        "steps": [
          {"name": "book", "participant": "p2:1", "action": "timeouts.book",
           "compensation": "timeouts.unbook", "step_timeout": "2s"},
          {"name": "pay", "participant": "p3:1", "after": ["book"], "action": "timeouts.pay",
           "compensation": "timeouts.repay", "step_timeout": "2s"}]})",
};

const std::map<std::string, std::map<std::string, StepBehaviour>> kBehaviour = {
    {"linear", {{"reserve", {0.0, 0.1}}, {"charge", {0.1, 0.1}}, {"ship", {0.15, 0.1}}}},
    {"pivot",
     {{"hold", {0.0, 0.1}},
      {"debit", {0.1, 0.1}},
      {"commit", {0.1, 0.1}},
      {"notify", {0.08, 0.2}}}},
    {"timeouts", {{"book", {0.05, 0.3}}, {"pay", {0.1, 0.3}}}},
};

constexpr const char* kAddresses[] = {"p1:1", "p2:1", "p3:1"};
constexpr const char* kTraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

// The seed's own random stream for one part of the world, so that a change in how one part
// draws does not reshuffle the others.
uint64_t StreamSeed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

SimDuration Ms(int64_t ms) { return std::chrono::duration_cast<SimDuration>(milliseconds(ms)); }

// One coordinator: the real engine, lease keeper, router and client operations over the
// shared store, with its own simulated transport and wall-clock skew.
struct Coordinator {
  std::string name;
  bool up = false;
  int incarnation = 0;
  SimDuration paused_until{0};
  std::chrono::microseconds skew{0};
  std::unique_ptr<SimulatedTransport> transport;
  std::unique_ptr<engine::CallRouter> router;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<api::SagaOperations> operations;
  std::optional<SimDuration> wake_at;
};

class Simulation {
 public:
  explicit Simulation(const SimulationOptions& options)
      : options_(options),
        scheduler_(core::TimePoint(std::chrono::hours(24 * 365 * 56))),
        world_(scheduler_, StreamSeed(options.seed, 1)),
        random_(StreamSeed(options.seed, 2)),
        store_(MemorySagaStoreOptions{[this] { return scheduler_.now(); }, nullptr, 3}) {}

  SimulationReport Run();

 private:
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(random_) < p; }
  int64_t Uniform(int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>(low, high)(random_);
  }
  SimDuration UniformMs(int64_t low, int64_t high) { return Ms(Uniform(low, high)); }
  void Count(const std::string& fault) { ++report_.faults[fault]; }

  void Setup();
  void StartCoordinator(size_t index);
  void StopCoordinator(size_t index, bool graceful);
  void ScheduleLeaseTick(size_t index, SimDuration after);
  // Runs every coordinator that is up and not paused until it has nothing ready, then makes
  // sure each is woken for its next timer.
  void Settle();
  Coordinator* ServingCoordinator();
  void StartSaga(int number, int tries_left);
  void ScheduleFaults();
  void InjectFault();
  void OperatorActs();
  std::optional<StoreFault> StoreFaultFor(const StoreCall& call);
  void StopFaults();
  bool AllSettled() const;

  const SimulationOptions options_;
  Scheduler scheduler_;
  ParticipantWorld world_;
  std::mt19937_64 random_;
  MemorySagaStore store_;
  NetworkFaults network_;
  std::vector<std::unique_ptr<Coordinator>> coordinators_;
  std::map<std::string, core::SagaDefinition> definitions_;
  std::set<std::string> acknowledged_;
  std::vector<std::string> started_ids_;
  bool faults_on_ = true;
  double store_fault_rate_ = 0;
  SimDuration fault_phase_{0};
  SimulationReport report_;
};

void Simulation::Setup() {
  store_.set_disable_fencing_for_mutation_test(options_.disable_fencing_for_mutation_test);
  store_.SetFaultHook([this](const StoreCall& call) { return StoreFaultFor(call); });
  store_.SetReleaseListener([this](const std::string& owner) {
    // NOTIFY skald_work: every other coordinator's lease keeper claims at once.
    for (size_t i = 0; i < coordinators_.size(); ++i) {
      if (coordinators_[i]->name != owner) ScheduleLeaseTick(i, SimDuration(0));
    }
  });
  // How rough this seed's world is.
  store_fault_rate_ = std::uniform_real_distribution<double>(0.0, 0.06)(random_);
  network_.request_lost = std::uniform_real_distribution<double>(0.0, 0.05)(random_);
  network_.reply_lost = std::uniform_real_distribution<double>(0.0, 0.05)(random_);
  network_.duplicated = std::uniform_real_distribution<double>(0.0, 0.1)(random_);
  network_.malformed = std::uniform_real_distribution<double>(0.0, 0.03)(random_);
  network_.delayed_past_deadline = std::uniform_real_distribution<double>(0.0, 0.04)(random_);
  if (options_.swallow_replies_for_mutation_test) {
    network_.reply_never_reported_for_mutation_test = 0.2;
  }
  fault_phase_ = Ms(Uniform(15'000, 40'000));
  for (const char* text : kDefinitions) {
    auto definition = core::ParseDefinition(text, {});
    if (!definition.ok()) {
      report_.violations.push_back("simulated definition does not parse: " +
                                   std::string(definition.status().message()));
      continue;
    }
    world_.AddDefinition(*definition, kBehaviour.at(definition->name));
    definitions_.emplace(definition->name, *definition);
  }
  const int count = static_cast<int>(Uniform(2, 3));
  report_.coordinators = count;
  for (int i = 0; i < count; ++i) {
    auto coordinator = std::make_unique<Coordinator>();
    coordinator->name = "c" + std::to_string(i + 1);
    coordinators_.push_back(std::move(coordinator));
  }
}

void Simulation::StartCoordinator(size_t index) {
  Coordinator& c = *coordinators_[index];
  if (c.up) return;
  ++c.incarnation;
  c.transport = std::make_unique<SimulatedTransport>(
      c.name, scheduler_, world_, StreamSeed(options_.seed, 100 + index * 1000 + c.incarnation),
      network_, [this](const std::string& fault) { Count(fault); });
  c.router = std::make_unique<engine::CallRouter>(*c.transport, nullptr,
                                                  [this, &c] { return scheduler_.now() + c.skew; });
  engine::EngineOptions engine_options;
  engine_options.owner = c.name;
  engine_options.lease_ttl = milliseconds(5'000);
  engine_options.renew_interval = milliseconds(1'500);
  engine_options.claim_interval = milliseconds(1'000);
  if (options_.disable_self_check_for_mutation_test)
    engine_options.self_check_interval = std::chrono::hours(1);
  engine_options.now = [this, &c] { return scheduler_.now() + c.skew; };
  engine_options.monotonic_now = [this] { return engine::MonotonicTime(scheduler_.elapsed()); };
  c.engine = std::make_unique<engine::Engine>(store_, *c.router, engine_options);
  c.operations = std::make_unique<api::SagaOperations>(store_, *c.engine);
  absl::Status started = c.engine->TakeUpUnfinishedSagas();
  if (!started.ok()) {
    scheduler_.Note(c.name + " could not start: " + std::string(started.message()));
    c.operations.reset();
    c.engine.reset();
    c.router.reset();
    c.transport.reset();
    scheduler_.After(Ms(500), c.name + " start again", [this, index] { StartCoordinator(index); });
    return;
  }
  c.up = true;
  c.paused_until = SimDuration(0);
  c.wake_at.reset();
  scheduler_.Note(c.name + " up (incarnation " + std::to_string(c.incarnation) + ")");
  ScheduleLeaseTick(index, c.engine->lease_keeper().interval() + Ms(37 * index));
}

void Simulation::StopCoordinator(size_t index, bool graceful) {
  Coordinator& c = *coordinators_[index];
  if (!c.up) return;
  // A crash destroys the objects without draining: calls in flight are abandoned and the
  // leases run out. A graceful stop drains with no grace and releases the leases.
  if (graceful) c.engine->Drain(milliseconds(0));
  c.up = false;
  c.operations.reset();
  c.engine.reset();
  c.router.reset();
  c.transport.reset();
  c.wake_at.reset();
}

void Simulation::ScheduleLeaseTick(size_t index, SimDuration after) {
  const int incarnation = coordinators_[index]->incarnation;
  scheduler_.After(after, "", [this, index, incarnation] {
    Coordinator& c = *coordinators_[index];
    if (!c.up || c.incarnation != incarnation) return;
    if (scheduler_.elapsed() < c.paused_until) {
      ScheduleLeaseTick(index, c.paused_until - scheduler_.elapsed());
      return;
    }
    scheduler_.Note(c.name + " lease tick");
    bool again = c.engine->lease_keeper().Tick();
    for (int i = 0; again && i < 100; ++i) again = c.engine->lease_keeper().Tick();
    ScheduleLeaseTick(index, c.engine->lease_keeper().interval());
  });
}

void Simulation::Settle() {
  for (size_t index = 0; index < coordinators_.size(); ++index) {
    Coordinator& c = *coordinators_[index];
    if (!c.up || scheduler_.elapsed() < c.paused_until) continue;
    for (int i = 0; i < 10'000 && c.engine->RunOnce(); ++i) {
    }
    std::optional<core::TimePoint> next = c.engine->NextTimerAt();
    if (!next) continue;
    // A timer already due waits out the engine's pause after a database failure: look
    // again a little later rather than at once.
    const SimDuration at =
        std::max(std::chrono::duration_cast<SimDuration>(*next - c.skew - scheduler_.epoch()) +
                     SimDuration(1),
                 scheduler_.elapsed() + Ms(10));
    if (c.wake_at && *c.wake_at <= at && *c.wake_at > scheduler_.elapsed()) continue;
    c.wake_at = at;
    const int incarnation = c.incarnation;
    scheduler_.At(at, "", [this, index, incarnation, at] {
      Coordinator& woken = *coordinators_[index];
      if (woken.incarnation == incarnation && woken.wake_at == at) woken.wake_at.reset();
    });
  }
}

Coordinator* Simulation::ServingCoordinator() {
  std::vector<Coordinator*> serving;
  for (auto& c : coordinators_) {
    if (c->up && scheduler_.elapsed() >= c->paused_until) serving.push_back(c.get());
  }
  if (serving.empty()) return nullptr;
  return serving[Uniform(0, static_cast<int64_t>(serving.size()) - 1)];
}

void Simulation::StartSaga(int number, int tries_left) {
  char id[16];
  std::snprintf(id, sizeof id, "s-%03d", number);
  const std::string saga_id = id;
  Coordinator* c = ServingCoordinator();
  if (!c) {
    scheduler_.After(Ms(500), "", [this, number, tries_left] { StartSaga(number, tries_left); });
    return;
  }
  static constexpr const char* kNames[] = {"linear", "pivot", "timeouts"};
  const std::string definition = kNames[number % 3];
  v1::StartSagaRequest request;
  request.set_definition(definition);
  request.set_saga_id(saga_id);
  request.set_input_json(R"({"n": )" + std::to_string(number) + "}");
  request.set_traceparent(kTraceParent);
  v1::StartSagaResponse response;
  absl::Status started = c->operations->StartSaga(request, &response);
  scheduler_.Note(c->name + " StartSaga " + saga_id + " (" + definition +
                  "): " + (started.ok() ? "OK" : started.ToString()));
  if (started.ok()) {
    acknowledged_.insert(saga_id);
    return;
  }
  // Clients try again with the same id: creation is idempotent.
  if (tries_left > 0) {
    scheduler_.After(Ms(1'000), "",
                     [this, number, tries_left] { StartSaga(number, tries_left - 1); });
  }
}

std::optional<StoreFault> Simulation::StoreFaultFor(const StoreCall& call) {
  if (!faults_on_ || call.operation == StoreOperation::kPutDefinition) return std::nullopt;
  if (call.operation == StoreOperation::kCommitTransitions && Chance(store_fault_rate_ / 2)) {
    // The coordinator dies right after this commit, before it sends the calls or arms the
    // timers the commit decided: the next holder of the leases must do both.
    for (size_t i = 0; i < coordinators_.size(); ++i) {
      if (coordinators_[i]->name != call.owner) continue;
      Count("coordinator_crash_after_commit");
      scheduler_.At(scheduler_.elapsed(), "fault: " + call.owner + " crashes after a commit",
                    [this, i] {
                      StopCoordinator(i, false);
                      scheduler_.After(UniformMs(100, 8'000), coordinators_[i]->name + " restarts",
                                       [this, i] { StartCoordinator(i); });
                    });
    }
  }
  if (!Chance(store_fault_rate_)) return std::nullopt;
  const StoreOperation op = call.operation;
  const bool writes = op == StoreOperation::kCreateSaga || op == StoreOperation::kClaimSagas ||
                      op == StoreOperation::kRenewLeases ||
                      op == StoreOperation::kReclaimOwnLeases ||
                      op == StoreOperation::kReleaseLeases || op == StoreOperation::kTakeLease ||
                      op == StoreOperation::kCommitTransitions;
  std::string kind = "connection_lost";
  StoreFault fault = StoreFault::ConnectionLost(op);
  if (writes) {
    switch (Uniform(0, op == StoreOperation::kCommitTransitions ? 4 : 3)) {
      case 1:
        kind = "outcome_unknown";
        fault = StoreFault::OutcomeUnknown(op);
        break;
      case 2:
        kind = "read_only";
        fault = StoreFault::ReadOnly(op);
        break;
      case 3:
        kind = "disk_full";
        fault = StoreFault::DiskFull(op);
        break;
      case 4:
        kind = "deadlock";
        fault = StoreFault::Deadlock(op);
        break;
      default:
        break;
    }
  }
  const std::string name = "store:" + std::string(ToString(op)) + ":" + kind;
  Count(name);
  scheduler_.Note("fault " + name + (call.owner.empty() ? "" : " (" + call.owner + ")"));
  return fault;
}

void Simulation::InjectFault() {
  if (!faults_on_) return;
  const size_t index =
      static_cast<size_t>(Uniform(0, static_cast<int64_t>(coordinators_.size()) - 1));
  Coordinator& c = *coordinators_[index];
  switch (Uniform(0, 7)) {
    case 0: {  // Crash, restarted a little later from the store.
      if (!c.up) break;
      Count("coordinator_crash");
      scheduler_.Note("fault: " + c.name + " crashes");
      StopCoordinator(index, false);
      scheduler_.After(UniformMs(100, 8'000), c.name + " restarts",
                       [this, index] { StartCoordinator(index); });
      break;
    }
    case 1: {  // Graceful restart: drain, release the leases, start again.
      if (!c.up) break;
      Count("coordinator_restart");
      scheduler_.Note("fault: " + c.name + " stops gracefully");
      StopCoordinator(index, true);
      scheduler_.After(UniformMs(100, 3'000), c.name + " restarts",
                       [this, index] { StartCoordinator(index); });
      break;
    }
    case 2: {  // Paused (GC, SIGSTOP, a VM migration), often past its leases.
      if (!c.up) break;
      const SimDuration pause = UniformMs(500, 12'000);
      Count("coordinator_pause");
      scheduler_.Note("fault: " + c.name + " paused for " + std::to_string(pause.count() / 1000) +
                      " ms");
      c.paused_until = scheduler_.elapsed() + pause;
      break;
    }
    case 3: {  // Its wall clock jumps.
      const SimDuration jump = UniformMs(-2'000, 2'000);
      Count("clock_jump");
      c.skew += jump;
      scheduler_.Note("fault: " + c.name + " clock jumps " + std::to_string(jump.count() / 1000) +
                      " ms");
      break;
    }
    case 4: {  // A participant instance dies for a while.
      const std::string address = kAddresses[Uniform(0, 2)];
      const SimDuration down = UniformMs(200, 5'000);
      Count("participant_death");
      scheduler_.Note("fault: participant " + address + " down for " +
                      std::to_string(down.count() / 1000) + " ms");
      world_.KillUntil(address, scheduler_.elapsed() + down);
      break;
    }
    case 5: {  // The database refuses one saga's values for a while.
      if (acknowledged_.empty()) break;
      auto it = acknowledged_.begin();
      std::advance(it, Uniform(0, static_cast<int64_t>(acknowledged_.size()) - 1));
      const std::string saga_id = *it;
      Count("store:CommitTransitions:refused_value");
      scheduler_.Note("fault: the database refuses writes of " + saga_id);
      store_.RefuseWritesOf(saga_id);
      scheduler_.After(UniformMs(200, 6'000), "the database accepts writes of " + saga_id,
                       [this, saga_id] { store_.AcceptWritesOf(saga_id); });
      break;
    }
    default:
      OperatorActs();
      break;
  }
}

void Simulation::OperatorActs() {
  if (acknowledged_.empty()) return;
  Coordinator* c = ServingCoordinator();
  if (!c) return;
  auto it = acknowledged_.begin();
  std::advance(it, Uniform(0, static_cast<int64_t>(acknowledged_.size()) - 1));
  std::optional<StoredSaga> saga = store_.Saga(*it);
  if (!saga) return;
  v1::OperatorActionRequest request;
  request.set_saga_id(*it);
  request.set_operator_("sim");
  request.set_reason("simulated operator");
  core::OperatorAction::Kind kind = core::OperatorAction::Kind::kAbort;
  std::string what = "abort";
  if (saga->record.state.status == core::SagaStatus::kFailed) {
    kind = core::OperatorAction::Kind::kRetry;
    what = "retry";
    for (size_t i = 0; i < saga->record.state.steps.size(); ++i) {
      const core::StepStatus status = saga->record.state.steps[i].status;
      if ((status == core::StepStatus::kFailed ||
           status == core::StepStatus::kCompensationFailed) &&
          Chance(0.5)) {
        kind = core::OperatorAction::Kind::kSkip;
        what = "skip " + saga->record.step_names[i];
        request.set_step(saga->record.step_names[i]);
        break;
      }
    }
  }
  Count("operator_" + what.substr(0, what.find(' ')));
  const std::string label = c->name + " operator " + what + " " + *it;
  absl::Status submitted =
      c->operations->SubmitOperatorAction(request, kind, [this, label](absl::Status status) {
        scheduler_.Note(label + " recorded: " + (status.ok() ? "OK" : status.ToString()));
      });
  scheduler_.Note(label + " submitted: " + (submitted.ok() ? "OK" : submitted.ToString()));
}

void Simulation::StopFaults() {
  scheduler_.Note("faults stop");
  faults_on_ = false;
  network_ = NetworkFaults{};
  if (options_.swallow_replies_for_mutation_test)
    network_.reply_never_reported_for_mutation_test = 0.2;
  world_.StopFaults();
  for (const std::string& id : started_ids_) store_.AcceptWritesOf(id);
  for (size_t i = 0; i < coordinators_.size(); ++i) {
    coordinators_[i]->paused_until = SimDuration(0);
    if (!coordinators_[i]->up) StartCoordinator(i);
  }
}

bool Simulation::AllSettled() const {
  for (const StoredSaga& saga : store_.Sagas()) {
    if (!core::IsTerminal(saga.record.state.status)) return false;
  }
  return true;
}

void Simulation::ScheduleFaults() {
  // Sagas start during the first part of the fault phase; faults come at random moments.
  const int sagas = static_cast<int>(Uniform(8, 24));
  report_.sagas_started = sagas;
  for (int n = 1; n <= sagas; ++n) {
    char id[16];
    std::snprintf(id, sizeof id, "s-%03d", n);
    started_ids_.push_back(id);
    scheduler_.At(UniformMs(0, fault_phase_.count() / 1000 * 2 / 3), "",
                  [this, n] { StartSaga(n, 5); });
  }
  const double faults_per_second = std::uniform_real_distribution<double>(0.2, 1.5)(random_);
  const int faults = static_cast<int>(faults_per_second * fault_phase_.count() / 1e6);
  for (int i = 0; i < faults; ++i) {
    scheduler_.At(UniformMs(0, fault_phase_.count() / 1000), "", [this] { InjectFault(); });
  }
  scheduler_.At(fault_phase_, "", [this] { StopFaults(); });
}

SimulationReport Simulation::Run() {
  report_.seed = options_.seed;
  Setup();
  // The first coordinator starts before any fault, and the definitions are applied through
  // its API, as an operator would.
  faults_on_ = false;
  StartCoordinator(0);
  for (const char* text : kDefinitions) {
    v1::ApplyDefinitionRequest request;
    request.set_definition_json(text);
    v1::ApplyDefinitionResponse response;
    if (absl::Status applied = coordinators_[0]->operations->ApplyDefinition(request, &response);
        !applied.ok()) {
      report_.violations.push_back("applying a definition failed: " + applied.ToString());
    }
  }
  faults_on_ = true;
  for (size_t i = 1; i < coordinators_.size(); ++i) {
    scheduler_.At(Ms(static_cast<int64_t>(i) * 10), "", [this, i] { StartCoordinator(i); });
  }
  ScheduleFaults();
  // After the faults, time runs on until every saga settles, bounded.
  const SimDuration horizon = fault_phase_ + Ms(600'000);
  SimDuration next_check = fault_phase_;
  uint64_t steps = 0;
  while (scheduler_.RunNext(horizon) && ++steps < 5'000'000) {
    Settle();
    if (!faults_on_ && scheduler_.elapsed() >= next_check) {
      next_check = scheduler_.elapsed() + Ms(1'000);
      if (AllSettled()) break;
    }
  }
  RunOutcome outcome;
  outcome.sagas = store_.Sagas();
  outcome.definitions = definitions_;
  outcome.acknowledged = acknowledged_;
  outcome.effects = world_.effects();
  outcome.forbidden_calls = world_.forbidden_calls();
  outcome.settled = true;
  for (const std::string& v : CheckInvariants(outcome)) report_.violations.push_back(v);
  for (size_t i = 0; i < coordinators_.size(); ++i) StopCoordinator(i, false);
  report_.sagas_acknowledged = static_cast<int>(acknowledged_.size());
  for (const StoredSaga& saga : outcome.sagas) {
    ++report_.end_states[std::string(core::ToString(saga.record.state.status))];
  }
  report_.barrier = {{"deliveries", static_cast<int>(world_.deliveries())},
                     {"replays", static_cast<int>(world_.replays())},
                     {"null_compensations", static_cast<int>(world_.null_compensations())},
                     {"refused_actions", static_cast<int>(world_.refused_actions())}};
  report_.events_run = scheduler_.events_run();
  report_.simulated_seconds = static_cast<double>(scheduler_.elapsed().count()) / 1e6;
  report_.trace_hash = scheduler_.trace_hash();
  report_.trace = scheduler_.trace();
  return std::move(report_);
}

}  // namespace

SimulationReport RunSimulation(const SimulationOptions& options) {
  // The engine logs every step; thousands of runs would drown the output.
  const spdlog::level::level_enum level = spdlog::get_level();
  spdlog::set_level(spdlog::level::off);
  SimulationReport report = Simulation(options).Run();
  spdlog::set_level(level);
  return report;
}

std::string ReplayCommand(const SimulationOptions& options) {
  std::string command = "scripts/simulate.sh --seed " + std::to_string(options.seed);
  if (options.disable_fencing_for_mutation_test) command += " --mutation fencing-off";
  if (options.swallow_replies_for_mutation_test) command += " --mutation swallow-replies";
  if (options.disable_self_check_for_mutation_test) command += " --mutation no-self-check";
  return command + " --trace";
}

}  // namespace skald::sim

namespace skald::sim {

std::string DescribeFailure(const SimulationOptions& options, const SimulationReport& report,
                            size_t trace_lines) {
  std::string text = "seed " + std::to_string(report.seed) + " broke " +
                     std::to_string(report.violations.size()) +
                     " invariant(s)\n  replay: " + ReplayCommand(options) + "\n";
  for (const std::string& violation : report.violations) text += "  - " + violation + "\n";
  const size_t from = trace_lines == 0 || report.trace.size() <= trace_lines
                          ? 0
                          : report.trace.size() - trace_lines;
  text += "  trace (" + std::to_string(report.trace.size() - from) + " of " +
          std::to_string(report.trace.size()) + " lines):\n";
  for (size_t i = from; i < report.trace.size(); ++i) text += "    " + report.trace[i] + "\n";
  return text;
}

}  // namespace skald::sim
