// What 10,000 waiting steps cost (issue 17): a coordinator's CPU, and its database
// backends', over 30 s idle with none waiting and with 10,000 steps accepted by their
// participant and waiting for their completion. A waiting step holds no call, no thread and
// no timer but one entry in the engine's timer queue; its saga's lease is renewed like any
// unfinished saga's. Label "bench": about two minutes; the machine is shared, so the figures
// are printed and the check is loose.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>

#include "tests/e2e/coordinator_process.h"
#include "tests/e2e/recording_participant.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_postgres.h"

namespace skald::testing {
namespace {

using nlohmann::json;

constexpr int kWaitingSteps = 10'000;
constexpr auto kIdle = std::chrono::seconds(30);

// CPU seconds (user + system) a process has used, from /proc; 0 when it is gone.
double CpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The PostgreSQL backends serving the coordinator's database.
std::vector<pid_t> Backends(const std::string& uri) {
  pqxx::connection c(uri);
  pqxx::nontransaction tx(c);
  std::vector<pid_t> pids;
  for (const auto& row : tx.exec("SELECT pid FROM pg_stat_activity WHERE datname = "
                                 "current_database() AND pid <> pg_backend_pid()")) {
    pids.push_back(row[0].as<int>());
  }
  return pids;
}

struct Cost {
  double coordinator = 0;
  double database = 0;
};

// CPU seconds the coordinator and its database backends use over kIdle.
Cost MeasureIdle(CoordinatorProcess& coordinator) {
  const std::vector<pid_t> backends = Backends(coordinator.db_uri());
  auto database = [&backends] {
    double total = 0;
    for (pid_t pid : backends) total += CpuSeconds(pid);
    return total;
  };
  const double coordinator_before = CpuSeconds(coordinator.pid());
  const double database_before = database();
  std::this_thread::sleep_for(kIdle);
  return {CpuSeconds(coordinator.pid()) - coordinator_before, database() - database_before};
}

TEST(LongRunningCost, TenThousandWaitingStepsCostNoMeasurableCoordinatorCpu) {
  auto dir = TempDir::Create("skald-waitcost-");
  ASSERT_TRUE(dir.ok()) << dir.status();
  RecordingParticipant participant;
  auto db = FreshDatabase("waitcost");
  ASSERT_TRUE(db.ok()) << db.status();
  CoordinatorProcess coordinator(dir->path(), *db);
  ASSERT_TRUE(coordinator.Start().ok()) << coordinator.LogTail();
  ASSERT_TRUE(coordinator
                  .Apply({{"name", "hold"},
                          {"version", 1},
                          {"steps",
                           {{{"name", "approve"},
                             {"participant", participant.address()},
                             {"action", "accept"}}}}})
                  .ok());

  const Cost none = MeasureIdle(coordinator);

  // 10,000 sagas, from four client threads; each first step is accepted and waits.
  std::vector<std::thread> starters;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    starters.emplace_back([&, t] {
      for (int i = t; i < kWaitingSteps; i += 4) {
        if (!coordinator.StartSaga("hold", {{"n", i}}).ok()) ++failures;
      }
    });
  }
  for (std::thread& starter : starters) starter.join();
  ASSERT_EQ(failures.load(), 0);
  const std::string count_waiting = "SELECT count(*) FROM saga_steps WHERE wait IS NOT NULL";
  for (int i = 0; i < 1200 && coordinator.Count(count_waiting) < kWaitingSteps; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(coordinator.Count(count_waiting), kWaitingSteps) << coordinator.LogTail();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // Let the last commits settle.

  const Cost waiting = MeasureIdle(coordinator);
  std::cout << "[waiting-steps cost] over " << kIdle.count() << " s idle: coordinator CPU "
            << none.coordinator << " s with none waiting, " << waiting.coordinator << " s with "
            << kWaitingSteps << " waiting; its database backends " << none.database << " s and "
            << waiting.database << " s (the machine is shared)\n";
  // No calls, threads or timers per waiting step: what remains is the renewal of their
  // sagas' leases (one UPDATE every lease_ttl/3 returning 10,000 rows).
  EXPECT_LT(waiting.coordinator - none.coordinator, 0.1 * static_cast<double>(kIdle.count()))
      << "more than 10% of a core for " << kWaitingSteps << " waiting steps";
  // Still waiting: nothing timed out or was resent.
  EXPECT_EQ(participant.accepted(), kWaitingSteps);
}

}  // namespace
}  // namespace skald::testing
