#include "coordinator/engine/lease_keeper.h"

#include <gtest/gtest.h>

#include "coordinator/core/definition_parser.h"
#include "tests/sim/memory_saga_store.h"

namespace skald::engine {
namespace {

using std::chrono::milliseconds;

// The keeper over the in-memory store, with both clocks in the test's hands.
class LeaseKeeperTest : public ::testing::Test {
 protected:
  LeaseKeeperTest() : store_(sim::MemorySagaStoreOptions{[this] { return wall_; }, nullptr, 3}) {
    auto definition = core::ParseDefinition(
        R"({"name": "d", "version": 1, "steps": [
             {"name": "a", "participant": "p:1", "action": "do", "compensation": "undo"}]})",
        {});
    EXPECT_TRUE(definition.ok()) << definition.status();
    definition_ = *definition;
    EXPECT_TRUE(store_.PutDefinition(definition_).ok());
  }

  void CreateSagaLeasedTo(const std::string& id, const std::string& owner) {
    auto created = store_.CreateSaga(definition_, id, nlohmann::json::object(),
                                     store::LeaseHolder{owner, milliseconds(5'000)});
    ASSERT_TRUE(created.ok()) << created.status();
  }

  LeaseKeeper Keeper(const std::string& owner, int claim_batch = 200) {
    LeaseKeeperOptions options;
    options.holder = {owner, milliseconds(5'000)};
    options.renew_interval = milliseconds(1'500);
    options.claim_interval = milliseconds(1'000);
    options.claim_batch = claim_batch;
    options.monotonic_now = [this] { return monotonic_; };
    return LeaseKeeper(
        store_, options, [this](const store::Lease& lease) { claimed_.push_back(lease.saga_id); },
        [this](std::vector<store::Lease> held) { renewals_.push_back(held.size()); });
  }

  core::TimePoint wall_ = core::TimePoint(std::chrono::hours(500'000));
  MonotonicTime monotonic_{};
  sim::MemorySagaStore store_;
  core::SagaDefinition definition_;
  std::vector<std::string> claimed_;
  std::vector<size_t> renewals_;
};

TEST_F(LeaseKeeperTest, RenewsByItsMonotonicClockWhateverTheWallClockDoes) {
  CreateSagaLeasedTo("s1", "me");
  LeaseKeeper keeper = Keeper("me");
  EXPECT_EQ(keeper.interval(), milliseconds(1'000));
  keeper.Tick();  // The first renewal is one interval after the first tick.
  monotonic_ += milliseconds(1'499);
  keeper.Tick();
  EXPECT_TRUE(renewals_.empty());
  monotonic_ += milliseconds(1);
  keeper.Tick();
  EXPECT_EQ(renewals_, std::vector<size_t>{1});
  // The wall clock jumps back an hour: renewals go on at their interval.
  wall_ -= std::chrono::hours(1);
  monotonic_ += milliseconds(1'500);
  keeper.Tick();
  EXPECT_EQ(renewals_, (std::vector<size_t>{1, 1}));
  EXPECT_EQ(store_.Calls(sim::StoreOperation::kRenewLeases), 2);
}

TEST_F(LeaseKeeperTest, ClaimsExpiredLeasesABatchAtATimeAndSaysWhenMoreWait) {
  CreateSagaLeasedTo("s1", "other");
  CreateSagaLeasedTo("s2", "other");
  LeaseKeeper keeper = Keeper("me", /*claim_batch=*/1);
  EXPECT_FALSE(keeper.Tick());
  EXPECT_TRUE(claimed_.empty()) << "the other coordinator's leases have not expired";
  wall_ += milliseconds(5'001);
  EXPECT_TRUE(keeper.Tick()) << "a full batch: more may wait";
  EXPECT_TRUE(keeper.Tick());
  EXPECT_FALSE(keeper.Tick());
  EXPECT_EQ(claimed_, (std::vector<std::string>{"s1", "s2"}));
}

TEST_F(LeaseKeeperTest, AStoreFailureIsLoggedAndTheNextTickTriesAgain) {
  CreateSagaLeasedTo("s1", "other");
  wall_ += milliseconds(5'001);
  LeaseKeeper keeper = Keeper("me");
  store_.FailNext(sim::StoreOperation::kClaimSagas,
                  sim::StoreFault::ConnectionLost(sim::StoreOperation::kClaimSagas));
  EXPECT_FALSE(keeper.Tick());
  EXPECT_TRUE(claimed_.empty());
  keeper.Tick();
  EXPECT_EQ(claimed_, std::vector<std::string>{"s1"});
}

}  // namespace
}  // namespace skald::engine
