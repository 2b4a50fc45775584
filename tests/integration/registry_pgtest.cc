// Participant registrations in PostgreSQL, and the directory the engine routes by.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <pqxx/pqxx>
#include <thread>

#include "coordinator/discovery/instance_directory.h"
#include "coordinator/store/migrator.h"
#include "coordinator/store/registry_store.h"
#include "tests/support/test_postgres.h"

namespace skald::store {
namespace {

using std::chrono::milliseconds;

core::ParticipantInstance Instance(std::string id, std::string address) {
  core::ParticipantInstance instance;
  instance.service = "inventory";
  instance.instance_id = std::move(id);
  instance.address = std::move(address);
  instance.actions = {"reserve"};
  instance.compensations = {"release"};
  return instance;
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto uri = testing::FreshDatabase("registry");
    ASSERT_TRUE(uri.ok()) << uri.status();
    pool_ = std::make_unique<ConnectionPool>(*uri, 2);
    ASSERT_TRUE(ApplyMigrations(*pool_, EmbeddedMigrations()).ok());
    store_ = std::make_unique<RegistryStore>(*pool_);
  }

  std::vector<std::string> LiveIds() {
    auto live = store_->LiveInstances();
    EXPECT_TRUE(live.ok()) << live.status();
    std::vector<std::string> ids;
    for (const auto& instance : *live) ids.push_back(instance.instance_id);
    return ids;
  }

  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<RegistryStore> store_;
};

TEST_F(RegistryTest, RegistersRenewsAndDeregisters) {
  ASSERT_TRUE(store_->Register(Instance("a", "127.0.0.1:1001"), milliseconds(60'000)).ok());
  ASSERT_TRUE(store_->Register(Instance("b", "127.0.0.1:1002"), milliseconds(60'000)).ok());
  auto live = store_->LiveInstances();
  ASSERT_TRUE(live.ok()) << live.status();
  ASSERT_EQ(live->size(), 2u);
  EXPECT_EQ((*live)[0].address, "127.0.0.1:1001");
  EXPECT_EQ((*live)[0].actions, std::vector<std::string>{"reserve"});
  EXPECT_EQ((*live)[0].compensations, std::vector<std::string>{"release"});
  EXPECT_GT((*live)[0].expires_at, (*live)[0].registered_at + milliseconds(59'000));

  // A renewal may change the address and handlers; registered_at stays.
  core::ParticipantInstance moved = Instance("a", "127.0.0.1:2001");
  moved.actions = {"reserve", "audit"};
  ASSERT_TRUE(store_->Register(moved, milliseconds(60'000)).ok());
  auto renewed = store_->LiveInstances();
  ASSERT_TRUE(renewed.ok());
  ASSERT_EQ(renewed->size(), 2u);
  const core::ParticipantInstance& a =
      (*renewed)[1].instance_id == "a" ? (*renewed)[1] : (*renewed)[0];
  EXPECT_EQ(a.address, "127.0.0.1:2001");
  EXPECT_EQ(a.actions, (std::vector<std::string>{"reserve", "audit"}));
  EXPECT_EQ(a.registered_at, (*live)[0].registered_at);
  EXPECT_GE(a.renewed_at, (*live)[0].renewed_at);

  auto removed = store_->Deregister("inventory", "a");
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(*removed);
  EXPECT_EQ(LiveIds(), std::vector<std::string>{"b"});
  auto again = store_->Deregister("inventory", "a");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
}

TEST_F(RegistryTest, ARegistrationNotRenewedExpires) {
  ASSERT_TRUE(store_->Register(Instance("short", "127.0.0.1:1001"), milliseconds(300)).ok());
  ASSERT_TRUE(store_->Register(Instance("long", "127.0.0.1:1002"), milliseconds(60'000)).ok());
  EXPECT_EQ(LiveIds().size(), 2u);
  std::this_thread::sleep_for(milliseconds(400));  // past the short TTL, by the database's clock
  EXPECT_EQ(LiveIds(), std::vector<std::string>{"long"});
}

TEST_F(RegistryTest, DirectoryRoutesOverLiveInstancesAndEjectsFailingOnes) {
  core::TimePoint now = core::Clock::now();
  discovery::InstanceDirectory directory(*store_, [&now] { return now; });
  ASSERT_TRUE(directory.Start(milliseconds(60'000)).ok());
  ASSERT_TRUE(directory.Register(Instance("a", "127.0.0.1:1001"), milliseconds(60'000)).ok());
  ASSERT_TRUE(directory.Register(Instance("b", "127.0.0.1:1002"), milliseconds(60'000)).ok());

  core::ParticipantInstance payment = Instance("p", "127.0.0.1:1009");
  payment.service = "payment";
  payment.actions = {"charge"};
  ASSERT_TRUE(directory.Register(payment, milliseconds(60'000)).ok());

  // Calls to another service in between do not upset the turns within one service.
  std::map<std::string, int> chosen;
  for (int i = 0; i < 10; ++i) {
    auto instance = directory.Choose("inventory", core::Phase::kAction, "reserve", {});
    ASSERT_TRUE(instance.has_value());
    ++chosen[instance->address];
    ASSERT_TRUE(directory.Choose("payment", core::Phase::kAction, "charge", {}).has_value());
  }
  EXPECT_EQ(chosen, (std::map<std::string, int>{{"127.0.0.1:1001", 5}, {"127.0.0.1:1002", 5}}));
  EXPECT_FALSE(directory.Choose("inventory", core::Phase::kAction, "charge", {}).has_value());
  EXPECT_EQ(directory.WhyNoInstance("inventory", core::Phase::kAction, "charge"),
            "none of the 2 live instances of service \"inventory\" serves action \"charge\"");
  EXPECT_EQ(directory.WhyNoInstance("shipping", core::Phase::kAction, "ship"),
            "no live instance of service \"shipping\" is registered");

  directory.ReportFailed("inventory", "a", "connection refused");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(directory.Choose("inventory", core::Phase::kAction, "reserve", {})->instance_id, "b");
  }
  const auto snapshot = directory.Snapshot("inventory");
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_EQ(snapshot[0].health.consecutive_failures, 1);
  EXPECT_EQ(snapshot[0].health.last_error, "connection refused");
  ASSERT_TRUE(snapshot[0].health.ejected_until.has_value());
  EXPECT_EQ(*snapshot[0].health.ejected_until, now + milliseconds(1'000));

  now += milliseconds(1'001);  // the ejection is over: both take turns again
  std::set<std::string> after;
  for (int i = 0; i < 4; ++i) {
    after.insert(directory.Choose("inventory", core::Phase::kAction, "reserve", {})->instance_id);
  }
  EXPECT_EQ(after, (std::set<std::string>{"a", "b"}));
  directory.ReportAnswered("inventory", "a");
  EXPECT_EQ(directory.Snapshot("inventory")[0].health.consecutive_failures, 0);

  // Registrations made elsewhere (another coordinator) appear on refresh; removed ones go.
  RegistryStore other(*pool_);
  ASSERT_TRUE(other.Register(Instance("c", "127.0.0.1:1003"), milliseconds(60'000)).ok());
  ASSERT_TRUE(other.Deregister("inventory", "a").ok());
  ASSERT_TRUE(directory.Refresh().ok());
  std::vector<std::string> ids;
  for (const auto& view : directory.Snapshot()) ids.push_back(view.instance.instance_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"b", "c", "p"}));
}

// CI found a listing 20 instances short: a reload read the database, 20 registrations
// landed, and the reload then replaced the view with what it had read. Changes made here
// while a reload reads are newer than it and are kept; older ones are the database's.
TEST_F(RegistryTest, AReloadDoesNotUndoRegistrationsMadeWhileItRead) {
  discovery::InstanceDirectory directory(*store_);
  ASSERT_TRUE(directory.Register(Instance("kept", "127.0.0.1:1001"), milliseconds(60'000)).ok());
  ASSERT_TRUE(directory.Register(Instance("gone", "127.0.0.1:1002"), milliseconds(60'000)).ok());

  const auto start = directory.BeginRefresh();
  auto read = store_->LiveInstances();
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 2u);
  // While the reload holds what it read: one registers, one leaves.
  ASSERT_TRUE(directory.Register(Instance("new", "127.0.0.1:1003"), milliseconds(60'000)).ok());
  ASSERT_TRUE(directory.Deregister("inventory", "gone").ok());
  directory.FinishRefresh(start, *std::move(read));

  auto ids = [&] {
    std::vector<std::string> listed;
    for (const auto& view : directory.Snapshot()) listed.push_back(view.instance.instance_id);
    return listed;
  };
  EXPECT_EQ(ids(), (std::vector<std::string>{"kept", "new"}));

  // The next reload saw both changes; one made elsewhere since is the database's to tell.
  RegistryStore other(*pool_);
  ASSERT_TRUE(other.Deregister("inventory", "new").ok());
  ASSERT_TRUE(directory.Refresh().ok());
  EXPECT_EQ(ids(), (std::vector<std::string>{"kept"}));
}

// Issue 13: 500 registrations were accepted in 3 s, after which `skald participant list`
// failed. Live registrations are bounded per service and in all; renewals always pass.
TEST_F(RegistryTest, NewRegistrationsOverTheLimitsAreRefusedAndRenewalsPass) {
  RegistryStore bounded(*pool_, RegistrationLimits{.max_per_service = 2, .max_total = 3});
  ASSERT_TRUE(bounded.Register(Instance("a", "127.0.0.1:1001"), milliseconds(60'000)).ok());
  ASSERT_TRUE(bounded.Register(Instance("b", "127.0.0.1:1002"), milliseconds(60'000)).ok());
  absl::Status third = bounded.Register(Instance("c", "127.0.0.1:1003"), milliseconds(60'000));
  EXPECT_EQ(third.code(), absl::StatusCode::kResourceExhausted) << third;
  EXPECT_NE(third.message().find("limit per service"), std::string::npos) << third;
  EXPECT_TRUE(bounded.Register(Instance("a", "127.0.0.1:1009"), milliseconds(60'000)).ok())
      << "a renewal (here with a new address) passes";
  core::ParticipantInstance other = Instance("p-1", "127.0.0.1:2001");
  other.service = "payments";
  ASSERT_TRUE(bounded.Register(other, milliseconds(60'000)).ok());
  other.instance_id = "p-2";
  absl::Status over_total = bounded.Register(other, milliseconds(60'000));
  EXPECT_EQ(over_total.code(), absl::StatusCode::kResourceExhausted) << over_total;
  EXPECT_NE(over_total.message().find("in all"), std::string::npos) << over_total;
  // A deregistration (or an expiry) frees a place.
  ASSERT_TRUE(*bounded.Deregister("inventory", "b"));
  EXPECT_TRUE(bounded.Register(other, milliseconds(60'000)).ok());
  EXPECT_EQ(LiveIds().size(), 3u);
}

TEST_F(RegistryTest, ConcurrentRegistrationsDoNotOvershootTheLimit) {
  RegistryStore bounded(*pool_, RegistrationLimits{.max_per_service = 5, .max_total = 100});
  std::vector<std::thread> threads;
  std::atomic<int> accepted = 0;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 5; ++j) {
        const std::string id = std::to_string(i) + "-" + std::to_string(j);
        if (bounded.Register(Instance(id, "127.0.0.1:1"), milliseconds(60'000)).ok()) ++accepted;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(accepted.load(), 5);
  EXPECT_EQ(LiveIds().size(), 5u);
}

}  // namespace
}  // namespace skald::store
