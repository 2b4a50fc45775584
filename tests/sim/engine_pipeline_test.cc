// The engine with several batches in flight (EngineOptions::batches_in_flight) and its retry
// of a conflicting batch as a batch, on its own threads over MemorySagaStore, with
// participants that answer at once on a thread of their own.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "coordinator/core/definition_parser.h"
#include "coordinator/engine/engine.h"
#include "tests/sim/memory_saga_store.h"

namespace skald {
namespace {

using std::chrono::milliseconds;

constexpr const char* kDefinition =
    R"({"name": "linear", "version": 1, "defaults": {"attempt_timeout": "5s"},
        "steps": [
          {"name": "a", "participant": "p:1", "action": "a.do", "compensation": "a.undo"},
          {"name": "b", "participant": "p:1", "after": ["a"], "action": "b.do",
           "compensation": "b.undo"},
          {"name": "c", "participant": "p:1", "after": ["b"], "action": "c.do",
           "compensation": "c.undo"}]})";

// Answers every call with success, in order, on a thread of its own.
class AnsweringTransport final : public engine::CallTransport {
 public:
  AnsweringTransport() : thread_([this] { Run(); }) {}
  ~AnsweringTransport() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void Call(const std::string&, const v1::StepCall&, milliseconds,
            std::function<void(engine::CallResult)> done) override {
    {
      std::lock_guard lock(mutex_);
      pending_.push_back(std::move(done));
      ++in_flight_;
    }
    wake_.notify_all();
  }
  void CancelAndDrain() override {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, std::chrono::seconds(10), [this] { return in_flight_ == 0; });
  }
  size_t in_flight() const override {
    std::lock_guard lock(mutex_);
    return in_flight_;
  }

 private:
  void Run() {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;
      auto done = std::move(pending_.front());
      pending_.pop_front();
      lock.unlock();
      engine::CallResult result;
      result.output = nlohmann::json::object();
      done(std::move(result));
      lock.lock();
      --in_flight_;
      wake_.notify_all();
    }
  }
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void(engine::CallResult)>> pending_;
  size_t in_flight_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

// MemorySagaStore, with each batch commit held open for a while (as PostgreSQL's flush
// does), watching that no saga is in two commits at once and that commits overlap.
class SlowCommitStore final : public store::SagaStore {
 public:
  explicit SlowCommitStore(sim::MemorySagaStore& inner) : inner_(inner) {}

  absl::StatusOr<std::vector<std::string>> CommitTransitions(
      const std::vector<store::TransitionWrite>& writes, const std::string& owner) override {
    {
      std::lock_guard lock(mutex_);
      for (const store::TransitionWrite& write : writes) {
        if (!committing_.insert(write.before->id).second) ++saga_in_two_commits_;
      }
      max_concurrent_ = std::max(max_concurrent_, ++concurrent_);
      ++commits_;
      if (writes.size() > 1) ++batch_commits_;
    }
    std::this_thread::sleep_for(milliseconds(3));
    auto result = inner_.CommitTransitions(writes, owner);
    std::lock_guard lock(mutex_);
    --concurrent_;
    for (const store::TransitionWrite& write : writes) committing_.erase(write.before->id);
    return result;
  }

  int saga_in_two_commits() const {
    std::lock_guard lock(mutex_);
    return saga_in_two_commits_;
  }
  int max_concurrent() const {
    std::lock_guard lock(mutex_);
    return max_concurrent_;
  }
  int commits() const {
    std::lock_guard lock(mutex_);
    return commits_;
  }
  int batch_commits() const {
    std::lock_guard lock(mutex_);
    return batch_commits_;
  }

  // The rest as MemorySagaStore does it.
  absl::StatusOr<bool> PutDefinition(const core::SagaDefinition& d) override {
    return inner_.PutDefinition(d);
  }
  absl::StatusOr<core::SagaDefinition> GetDefinition(const std::string& n, int v) override {
    return inner_.GetDefinition(n, v);
  }
  absl::StatusOr<store::CreatedSaga> CreateSaga(const core::SagaDefinition& d,
                                                const std::string& id, const nlohmann::json& in,
                                                const store::LeaseHolder& h,
                                                const store::SagaStartOptions& o) override {
    return inner_.CreateSaga(d, id, in, h, o);
  }
  std::vector<absl::StatusOr<store::CreatedSaga>> CreateSagas(
      const std::vector<store::SagaToCreate>& sagas, const store::LeaseHolder& h) override {
    return inner_.CreateSagas(sagas, h);
  }
  absl::StatusOr<std::vector<store::Lease>> ClaimSagas(const store::LeaseHolder& h,
                                                       int limit) override {
    return inner_.ClaimSagas(h, limit);
  }
  absl::StatusOr<std::vector<store::Lease>> RenewLeases(const store::LeaseHolder& h) override {
    return inner_.RenewLeases(h);
  }
  absl::StatusOr<std::vector<store::Lease>> ReclaimOwnLeases(const store::LeaseHolder& h) override {
    return inner_.ReclaimOwnLeases(h);
  }
  absl::Status ReleaseLeases(const std::string& owner) override {
    return inner_.ReleaseLeases(owner);
  }
  absl::StatusOr<int64_t> TakeLease(const std::string& id, const store::LeaseHolder& h) override {
    return inner_.TakeLease(id, h);
  }
  absl::StatusOr<store::SagaRecord> GetSaga(const std::string& id) override {
    return inner_.GetSaga(id);
  }
  absl::StatusOr<int> DeleteFinishedSagas(milliseconds age, int limit) override {
    return inner_.DeleteFinishedSagas(age, limit);
  }
  absl::StatusOr<store::SagaOutcome> GetSagaOutcome(const std::string& id) override {
    return inner_.GetSagaOutcome(id);
  }
  absl::StatusOr<store::SagaPage> ListSagas(const store::SagaFilter& f) override {
    return inner_.ListSagas(f);
  }
  absl::StatusOr<std::map<core::SagaStatus, int64_t>> CountSagas(
      const std::optional<std::string>& d) override {
    return inner_.CountSagas(d);
  }
  absl::StatusOr<std::vector<store::HistoryRecord>> GetHistory(const std::string& id, int64_t after,
                                                               int limit) override {
    return inner_.GetHistory(id, after, limit);
  }
  absl::StatusOr<std::vector<std::string>> ActiveSagaIds() override {
    return inner_.ActiveSagaIds();
  }

 private:
  sim::MemorySagaStore& inner_;
  mutable std::mutex mutex_;
  std::set<std::string> committing_;
  int concurrent_ = 0;
  int max_concurrent_ = 0;
  int saga_in_two_commits_ = 0;
  int commits_ = 0;
  int batch_commits_ = 0;
};

class EnginePipelineTest : public ::testing::Test {
 protected:
  EnginePipelineTest()
      : memory_(sim::MemorySagaStoreOptions{.now = [] { return core::Clock::now(); }}),
        store_(memory_),
        router_(transport_, nullptr) {
    spdlog::set_level(spdlog::level::warn);
    auto parsed = core::ParseDefinition(kDefinition, {});
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    definition_ = std::make_shared<const core::SagaDefinition>(*parsed);
    EXPECT_TRUE(memory_.PutDefinition(*definition_).ok());
  }

  // Starts `count` sagas on `engine` as the API does, and waits (bounded) until every one
  // has ended; returns how many completed.
  int RunSagas(engine::Engine& engine, int count) {
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      auto created = memory_.CreateSaga(*definition_, "saga-" + std::to_string(i),
                                        nlohmann::json::object(), engine.lease_holder());
      EXPECT_TRUE(created.ok()) << created.status();
      if (!created.ok()) return 0;
      engine.AdmitNew(created->saga_id, created->lease_token, definition_, nlohmann::json::object(),
                      "");
      ids.push_back(created->saga_id);
    }
    int completed = 0;
    for (const std::string& id : ids) {
      auto outcome = engine.outcomes().Await(id, milliseconds(20'000),
                                             [&] { return memory_.GetSagaOutcome(id); });
      if (outcome.ok() && outcome->status == core::SagaStatus::kCompleted) ++completed;
    }
    return completed;
  }

  sim::MemorySagaStore memory_;
  SlowCommitStore store_;
  AnsweringTransport transport_;
  engine::CallRouter router_;
  std::shared_ptr<const core::SagaDefinition> definition_;
};

TEST_F(EnginePipelineTest, SeveralBatchesInFlightKeepEachSagaInOneAtATime) {
  engine::EngineOptions options;
  options.owner = "pipelined";
  options.batches_in_flight = 3;
  options.max_batch = 16;  // Many batches, so that they overlap.
  engine::Engine engine(store_, router_, options);
  ASSERT_TRUE(engine.Start().ok());
  EXPECT_EQ(RunSagas(engine, 200), 200);
  engine.Stop();
  EXPECT_EQ(store_.saga_in_two_commits(), 0);
  EXPECT_GT(store_.max_concurrent(), 1) << "the batches were committed one at a time";
  // Every transition recorded in order: 3 steps, each started and finished, then the end.
  for (int i = 0; i < 200; ++i) {
    auto saga = memory_.GetSaga("saga-" + std::to_string(i));
    ASSERT_TRUE(saga.ok());
    EXPECT_EQ(saga->state.status, core::SagaStatus::kCompleted);
    for (const core::StepState& step : saga->state.steps) {
      EXPECT_EQ(step.status, core::StepStatus::kSucceeded);
      EXPECT_EQ(step.attempts, 1) << "a call was sent twice";
    }
  }
}

TEST_F(EnginePipelineTest, AnActionOnASagaBeingCommittedWaitsForTheCommit) {
  engine::EngineOptions options;
  options.owner = "acting";
  options.batches_in_flight = 3;
  options.max_batch = 8;
  engine::Engine engine(store_, router_, options);
  ASSERT_TRUE(engine.Start().ok());
  std::vector<std::pair<std::string, int64_t>> sagas;
  for (int i = 0; i < 100; ++i) {
    auto created = memory_.CreateSaga(*definition_, "abort-" + std::to_string(i),
                                      nlohmann::json::object(), engine.lease_holder());
    ASSERT_TRUE(created.ok()) << created.status();
    engine.AdmitNew(created->saga_id, created->lease_token, definition_, nlohmann::json::object(),
                    "");
    sagas.emplace_back(created->saga_id, created->lease_token);
  }
  // Arriving while many of these sagas are in a batch being committed (each commit takes
  // 3 ms): they must be decided on the committed state, in the next batch.
  std::atomic<int> told{0};
  for (const auto& [id, token] : sagas) {
    engine.Submit(id, token,
                  core::OperatorAction{core::OperatorAction::Kind::kAbort, {}, "test", "test"},
                  [&told](absl::Status) { ++told; });
  }
  int ended = 0;
  for (const auto& [id, token] : sagas) {
    auto outcome = engine.outcomes().Await(id, milliseconds(20'000),
                                           [&] { return memory_.GetSagaOutcome(id); });
    if (outcome.ok() && core::IsTerminal(outcome->status)) ++ended;
  }
  engine.Stop();
  EXPECT_EQ(ended, 100);
  EXPECT_EQ(told.load(), 100);
  EXPECT_EQ(store_.saga_in_two_commits(), 0);
}

TEST_F(EnginePipelineTest, OneBatchInFlightCommitsOneAtATime) {
  engine::EngineOptions options;
  options.owner = "serial";
  engine::Engine engine(store_, router_, options);
  ASSERT_TRUE(engine.Start().ok());
  EXPECT_EQ(RunSagas(engine, 50), 50);
  engine.Stop();
  EXPECT_EQ(store_.max_concurrent(), 1);
}

TEST_F(EnginePipelineTest, AConflictingBatchIsCommittedAgainAsABatch) {
  std::mutex mutex;
  // The size of each batch commit from the first conflict on.
  std::vector<size_t> sizes;
  int conflicts = 0;
  // The first two multi-saga commits conflict (deadlock), as with the lease keeper's renewal.
  memory_.SetFaultHook([&](const sim::StoreCall& call) -> std::optional<sim::StoreFault> {
    if (call.operation != sim::StoreOperation::kCommitTransitions) return std::nullopt;
    std::lock_guard lock(mutex);
    if (call.saga_ids.size() > 1 && conflicts < 2) {
      ++conflicts;
      sizes.push_back(call.saga_ids.size());
      return sim::StoreFault::Deadlock(call.operation);
    }
    if (conflicts > 0) sizes.push_back(call.saga_ids.size());
    return std::nullopt;
  });
  engine::EngineOptions options;
  options.owner = "retrying";
  // A pause after a failed batch far longer than the test's bound: only a retry within the
  // commit finishes in time.
  options.initial_store_backoff = milliseconds(60'000);
  engine::Engine engine(store_, router_, options);
  ASSERT_TRUE(engine.Start().ok());
  EXPECT_EQ(RunSagas(engine, 40), 40);
  engine.Stop();
  std::lock_guard lock(mutex);
  EXPECT_EQ(conflicts, 2);
  ASSERT_GE(sizes.size(), 3u);
  // The same batch, whole, three times: not split into one commit per saga.
  EXPECT_GT(sizes[0], 1u);
  EXPECT_EQ(sizes[1], sizes[0]);
  EXPECT_EQ(sizes[2], sizes[0]);
}

}  // namespace
}  // namespace skald
