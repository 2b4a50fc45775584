// Fault injection on the example order system: the real coordinator, participants and
// PostgreSQL, with the coordinator SIGKILLed repeatedly, PostgreSQL restarted, and a
// participant killed, while sagas run. Each test then waits (bounded) for every saga to end
// and checks the invariants of tests/fault/invariants.h over both databases. One
// coordinator runs at a time; the storm and the PostgreSQL restart also run with short
// leases, so that recovery through lease expiry and re-claiming is exercised too.
//
// Not covered here: a participant that hangs past its attempt timeout. The example
// participants cannot hang (payment's --fail-first-attempts answers at once); that story
// needs a participant with a `hang` handler (tests/e2e/test_participant.cc has one).
//
// SKALD_FAULT_SEED=<n> replays the random choices of a run (printed by each test);
// SKALD_KEEP_TEST_DIRS=1 keeps the logs.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "coordinator/devdb/local_postgres.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "skald/v1/saga_service.grpc.pb.h"
#include "tests/fault/fault_system.h"
#include "tests/fault/invariants.h"
#include "tests/fault/order_load.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_postgres.h"

namespace skald::testing::fault {
namespace {

constexpr long long kWidgets = 10000;
// How long all sagas may take to end after the last fault is over.
constexpr absl::Duration kSettleTimeout = absl::Seconds(90);

void Say(const std::string& line) { std::cout << "[fault] " << line << std::endl; }

// The seed of this run's random choices: $SKALD_FAULT_SEED, else a fresh one. Printed.
uint64_t Seed(const std::string& test) {
  uint64_t seed = 0;
  const char* fixed = std::getenv("SKALD_FAULT_SEED");
  if (fixed == nullptr || !absl::SimpleAtoi(fixed, &seed)) {
    seed = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  }
  Say(test + ": seed " + std::to_string(seed) +
      " (replay with SKALD_FAULT_SEED=" + std::to_string(seed) + ")");
  return seed;
}

absl::Duration Uniform(std::mt19937_64& rng, absl::Duration low, absl::Duration high) {
  std::uniform_real_distribution<double> seconds(absl::ToDoubleSeconds(low),
                                                 absl::ToDoubleSeconds(high));
  return absl::Seconds(seconds(rng));
}

std::string FormatSeconds(absl::Duration d) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f s", absl::ToDoubleSeconds(d));
  return text;
}

// "12 sagas in flight (5 calls out, 9 retry timers armed), 80 stored".
std::string DescribeMoment(const SagaCounts& counts) {
  return std::to_string(counts.total - counts.terminal) + " sagas in flight (" +
         std::to_string(counts.calls_in_flight) + " calls out, " +
         std::to_string(counts.retries_waiting) + " retry timers armed), " +
         std::to_string(counts.total) + " stored";
}

// Payment fails every first attempt, so that retry timers are armed whenever a fault hits.
const std::map<Participant, std::vector<std::string>> kPaymentFailsFirstAttempt = {
    {Participant::kPayment, {"--fail-first-attempts", "1"}}};

// Waits for the starter and for every saga to end, then checks and prints the invariants
// and the figures of the run. `recovered_at` is when the last fault ended.
// `promptly`: how soon after the last fault every saga must have ended (beyond that, the
// test fails even though they ended).
void SettleAndCheck(FaultSystem& system, SagaStarter& starter, const std::vector<OrderSaga>& sagas,
                    bool strict, absl::Time recovered_at,
                    absl::Duration promptly = kSettleTimeout) {
  ASSERT_TRUE(starter.WaitDone(absl::Seconds(90))) << "the saga starter is still busy";
  const SagaStarter::Result& started = starter.result();
  Say("started " + std::to_string(started.acknowledged.size()) + " of " +
      std::to_string(sagas.size()) + " sagas in " + FormatSeconds(started.took) + " (" +
      std::to_string(started.failed_calls) + " failed StartSaga calls sent again, " +
      std::to_string(started.existing) + " answered as already created)");
  for (const auto& [answer, times] : started.failures) {
    Say("  StartSaga failed " + std::to_string(times) + "x: " + answer.substr(0, 200));
  }
  EXPECT_TRUE(started.given_up.empty())
      << started.given_up.size() << " saga(s) never acknowledged, first: " << started.given_up[0];

  absl::StatusOr<SagaCounts> settled = WaitForAllTerminal(
      system.coordinator_db(), static_cast<long long>(started.acknowledged.size()), kSettleTimeout);
  const absl::Duration to_terminal = absl::Now() - recovered_at;
  if (settled.ok()) {
    Say("all " + std::to_string(settled->total) + " sagas terminal " + FormatSeconds(to_terminal) +
        " after the last restart");
    EXPECT_LE(to_terminal, promptly) << "the sagas ended, but not within "
                                     << absl::FormatDuration(promptly) << " of the last restart";
  } else {
    ADD_FAILURE() << "sagas did not all end: " << settled.status().message()
                  << "\nunfinished sagas:\n"
                  << DescribeUnfinishedSagas(system.coordinator_db()) << "coordinator log ("
                  << system.CoordinatorLogPath() << ") warnings and errors:\n"
                  << GrepLog(system.CoordinatorLogPath(), {"warn", "error", "critical"});
  }

  std::vector<ExpectedSaga> expected = ExpectedEnds(sagas, strict);
  std::erase_if(expected, [&](const ExpectedSaga& e) {
    return std::find(started.acknowledged.begin(), started.acknowledged.end(), e.id) ==
           started.acknowledged.end();
  });
  InvariantInputs inputs;
  inputs.coordinator_db = system.coordinator_db();
  inputs.shop_db = system.shop_db();
  inputs.initial_stock = system.options().stock;
  inputs.expected = std::move(expected);
  ASSERT_OK_AND_ASSIGN(InvariantReport report, CheckInvariants(inputs));
  std::cout << report.ToString();
  int gave_up = 0;  // Orders that could have completed but were compensated.
  for (const OrderSaga& saga : sagas) {
    gave_up += saga.kind == OrderKind::kCompletes && report.states[saga.id] == "COMPENSATED";
  }
  Say(std::to_string(gave_up) + " completable order(s) compensated instead (retries ran out)");
  Say("sagas lost: " + std::to_string(report.lost + report.not_terminal) +
      ", duplicate effects: " + std::to_string(report.duplicate_effects) +
      ", last restart to all terminal: " + (settled.ok() ? FormatSeconds(to_terminal) : "never"));
  EXPECT_EQ(report.lost, 0);
  EXPECT_EQ(report.not_terminal, 0);
  EXPECT_EQ(report.duplicate_effects, 0);
  EXPECT_TRUE(report.failed_saga_ids.empty())
      << report.failed_saga_ids.size() << " FAILED saga(s), first: " << report.failed_saga_ids[0];
  EXPECT_TRUE(report.ok()) << report.violations.size()
                           << " invariant violation(s), see the report above; first: "
                           << report.violations[0];
}

// The system on two fresh databases of the test binary's shared PostgreSQL cluster.
absl::StatusOr<std::unique_ptr<FaultSystem>> StartOnSharedCluster(
    const TempDir& dir, const std::string& name, std::vector<std::string> coordinator_flags) {
  absl::StatusOr<std::string> coordinator_db = FreshDatabase(name + "_coordinator");
  if (!coordinator_db.ok()) return coordinator_db.status();
  absl::StatusOr<std::string> shop_db = FreshDatabase(name + "_shop");
  if (!shop_db.ok()) return shop_db.status();
  return FaultSystem::Start({dir.path(),
                             *coordinator_db,
                             *shop_db,
                             {{"widget", kWidgets}},
                             kPaymentFailsFirstAttempt,
                             std::move(coordinator_flags)});
}

// A coordinator restarted under the name it had takes its sagas back at once.
// Leases of 30 s: so long that sagas ending within kPromptly of the restart prove the
// restarted coordinator took them back itself rather than waiting for its leases to expire.
const std::vector<std::string> kStableName = {"--node-id", "fault-coordinator", "--lease-ttl",
                                              "30s"};
constexpr absl::Duration kPromptly = absl::Seconds(15);

// `count` sagas, started one every (kill window / count), while the coordinator is
// SIGKILLed `kills` times, 0.3-1.5 s apart, and restarted each time.
void RunSigkillStorm(const std::string& name, int count, int kills,
                     std::vector<std::string> coordinator_flags, absl::Duration promptly,
                     std::mt19937_64& rng) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create("skald-fault-"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FaultSystem> system,
                       StartOnSharedCluster(dir, name, std::move(coordinator_flags)));
  const std::vector<OrderSaga> sagas = MakeOrderMix(name, count, kWidgets, rng);
  std::vector<absl::Duration> pauses;
  absl::Duration kill_window;
  for (int k = 0; k < kills; ++k) {
    pauses.push_back(Uniform(rng, absl::Milliseconds(300), absl::Milliseconds(1500)));
    kill_window += pauses.back();
  }
  // The starts are spread over the kill window, so that every kill finds sagas in flight.
  const absl::Duration pace =
      std::clamp(kill_window / count, absl::Milliseconds(5), absl::Milliseconds(60));
  SagaStarter starter(system->coordinator_address(), sagas, {.pace = pace});

  absl::Time recovered_at = absl::Now();
  std::string timeline;
  for (int k = 0; k < kills; ++k) {
    absl::SleepFor(pauses[k]);
    ASSERT_OK_AND_ASSIGN(SagaCounts before, ReadSagaCounts(system->coordinator_db()));
    ASSERT_OK(system->KillCoordinator());
    const absl::Time killed_at = absl::Now();
    ASSERT_OK(system->StartCoordinator());
    recovered_at = absl::Now();
    timeline += "  kill " + std::to_string(k + 1) + ": " + DescribeMoment(before) + ", " +
                std::to_string(starter.acknowledged_count()) + " acknowledged; back in " +
                FormatSeconds(recovered_at - killed_at) + "\n";
  }
  Say("SIGKILLed the coordinator " + std::to_string(kills) + " times:\n" + timeline);
  SettleAndCheck(*system, starter, sagas, /*strict=*/true, recovered_at, promptly);
  EXPECT_FALSE(system->CoordinatorExitStatus().has_value())
      << "the coordinator exited by itself; log:\n"
      << GrepLog(system->CoordinatorLogPath(), {"warn", "error", "critical"});
}

// 200 sagas while the coordinator is SIGKILLed 5-8 times at random moments and restarted
// each time under its name, so it must take its sagas back at once: all end within 15 s of
// the last restart, half the lease time. Payment fails every first attempt, so retry timers
// are armed at every kill.
TEST(FaultTest, SigkillStormLosesNothing) {
  std::mt19937_64 rng(Seed("SigkillStorm"));
  const int kills = std::uniform_int_distribution<int>(5, 8)(rng);
  RunSigkillStorm("storm", 200, kills, kStableName, kPromptly, rng);
}

// The same with a new name at each start (the default): the killed coordinator's sagas
// come back only once their leases (1 s here) expire and the new one claims them.
TEST(FaultTest, SigkillStormUnderNewNamesLosesNothing) {
  std::mt19937_64 rng(Seed("SigkillStormNewNames"));
  RunSigkillStorm("renamed", 100, 5, {"--lease-ttl", "1s"}, kSettleTimeout, rng);
}

// 50 sagas while the PostgreSQL cluster holding both databases is stopped for 2 s and
// started again; the coordinator and participants keep running and must ride it out.
void RunPostgresRestart(const std::string& name, std::vector<std::string> coordinator_flags,
                        std::mt19937_64& rng) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create("skald-fault-pg-"));
  devdb::LocalPostgresOptions pg_options;
  pg_options.data_dir = dir.File("pg");
  pg_options.fsync_off = true;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<devdb::LocalPostgres> postgres,
                       devdb::LocalPostgres::Start(pg_options));
  ASSERT_OK(postgres->CreateDatabase("coordinator"));
  ASSERT_OK(postgres->CreateDatabase("shop"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FaultSystem> system,
                       FaultSystem::Start({dir.path(),
                                           postgres->ConnectionUri("coordinator"),
                                           postgres->ConnectionUri("shop"),
                                           {{"widget", kWidgets}},
                                           kPaymentFailsFirstAttempt,
                                           std::move(coordinator_flags)}));
  const std::vector<OrderSaga> sagas = MakeOrderMix(name, 50, kWidgets, rng);
  SagaStarter starter(system->coordinator_address(), sagas, {.pace = absl::Milliseconds(20)});

  absl::SleepFor(Uniform(rng, absl::Milliseconds(300), absl::Milliseconds(600)));
  ASSERT_OK_AND_ASSIGN(SagaCounts before, ReadSagaCounts(system->coordinator_db()));
  const absl::Time stopping_at = absl::Now();
  ASSERT_OK(postgres->Stop());
  const absl::Time stopped_at = absl::Now();
  {
    // While the database is away, client calls are answered UNAVAILABLE, not hung or
    // crashed on.
    auto stub = v1::SagaService::NewStub(
        grpc::CreateChannel(system->coordinator_address(), grpc::InsecureChannelCredentials()));
    v1::GetSagaRequest request;
    request.set_saga_id(sagas.front().id);
    v1::GetSagaResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    const grpc::Status status = stub->GetSaga(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  }
  absl::SleepFor(absl::Seconds(2) - (absl::Now() - stopped_at));
  postgres.reset();  // Stop() was called: this does not touch the server.
  ASSERT_OK_AND_ASSIGN(postgres, devdb::LocalPostgres::Start(pg_options));
  const absl::Time recovered_at = absl::Now();
  Say("PostgreSQL stopped with " + DescribeMoment(before) + ": stop took " +
      FormatSeconds(stopped_at - stopping_at) + ", down for " +
      FormatSeconds(recovered_at - stopped_at));

  SettleAndCheck(*system, starter, sagas, /*strict=*/false, recovered_at);
  const std::optional<int> exited = system->CoordinatorExitStatus();
  EXPECT_FALSE(exited.has_value())
      << "the coordinator exited with status " << exited.value_or(0)
      << " after the PostgreSQL restart; log:\n"
      << GrepLog(system->CoordinatorLogPath(), {"warn", "error", "critical"});
  Say("coordinator " + std::string(exited ? "EXITED" : "still running") +
      "; the end of its complaints:\n" +
      GrepLog(system->CoordinatorLogPath(), {"warn", "error", "critical"}, 6));
}

TEST(FaultTest, PostgresRestartMidRun) {
  std::mt19937_64 rng(Seed("PostgresRestart"));
  RunPostgresRestart("pg", kStableName, rng);
}

// The same with leases of 1 s: they all expire while the database is down, so the
// coordinator must claim its own sagas again (with new fencing tokens) and go on.
TEST(FaultTest, PostgresDownLongerThanTheLeases) {
  std::mt19937_64 rng(Seed("PostgresDownLongerThanTheLeases"));
  RunPostgresRestart("pglease", {"--node-id", "fault-coordinator", "--lease-ttl", "1s"}, rng);
}

// 50 sagas while the payment service is SIGKILLed and, 2 s later, started again on its port.
TEST(FaultTest, PaymentServiceKilledAndRestarted) {
  std::mt19937_64 rng(Seed("PaymentRestart"));
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create("skald-fault-"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FaultSystem> system,
                       StartOnSharedCluster(dir, "payment", kStableName));
  const std::vector<OrderSaga> sagas = MakeOrderMix("payment", 50, kWidgets, rng);
  SagaStarter starter(system->coordinator_address(), sagas, {.pace = absl::Milliseconds(20)});

  absl::SleepFor(Uniform(rng, absl::Milliseconds(300), absl::Milliseconds(600)));
  ASSERT_OK_AND_ASSIGN(SagaCounts before, ReadSagaCounts(system->coordinator_db()));
  ASSERT_OK(system->KillParticipant(Participant::kPayment));
  const absl::Time killed_at = absl::Now();
  absl::SleepFor(absl::Seconds(2));
  ASSERT_OK(system->StartParticipant(Participant::kPayment));
  const absl::Time recovered_at = absl::Now();
  Say("payment service SIGKILLed with " + DescribeMoment(before) + ", back after " +
      FormatSeconds(recovered_at - killed_at));

  SettleAndCheck(*system, starter, sagas, /*strict=*/false, recovered_at);
  EXPECT_FALSE(system->CoordinatorExitStatus().has_value());
}

// A participant that hangs past its deadline is covered end to end by
// tests/e2e/definition_language_e2etest.cc (attempt, step and saga timeouts with the test
// participant's `hang` handler): the example participants here cannot hang.

}  // namespace
}  // namespace skald::testing::fault
