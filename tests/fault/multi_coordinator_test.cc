// Three coordinators (c0, c1, c2, lease ttl 2 s) on one database with the example order
// participants: order sagas are started through all three APIs while one coordinator after
// another is SIGKILLed and restarted under its name. Then, once every saga has ended:
//  - the invariants of tests/fault/invariants.h (every saga terminal and as expected, the
//    participants' effects matching each saga's end, stock reconciled, attempt numbering);
//  - no step attempt was driven by two coordinators at once, as far as history shows it
//    (see CheckAttemptExclusivity), and the participants' barrier records (skald.barrier)
//    agree with the history;
//  - takeover: for each kill, the time from the SIGKILL to the first history event written
//    after it for a saga the killed coordinator owned then.
//
// SKALD_FAULT_SEED=<n> replays the random choices of a run (printed).

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/e2e/coordinator_process.h"
#include "tests/e2e/order_system.h"
#include "tests/fault/fault_system.h"
#include "tests/fault/invariants.h"
#include "tests/fault/order_load.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_postgres.h"

namespace skald::testing::fault {
namespace {

constexpr int kSagas = 500;
constexpr int kCoordinators = 3;
constexpr long long kMultiCoordinatorStock =
    10000;  // Inventory stock: completing orders never run out.
constexpr absl::Duration kMultiCoordinatorSettleTimeout = absl::Seconds(120);
constexpr double kMaxTakeoverMs = 10000;

void SayMulti(const std::string& line) { std::cout << "[multi] " << line << std::endl; }

uint64_t Seed() {
  uint64_t seed = 0;
  const char* fixed = std::getenv("SKALD_FAULT_SEED");
  if (fixed == nullptr || !absl::SimpleAtoi(fixed, &seed)) {
    seed = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  }
  SayMulti("seed " + std::to_string(seed) +
           " (replay with SKALD_FAULT_SEED=" + std::to_string(seed) + ")");
  return seed;
}

std::string Seconds(absl::Duration d) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f s", absl::ToDoubleSeconds(d));
  return text;
}

// The database's own clock, as text PostgreSQL reads back exactly.
std::string DbNow(const std::string& uri) {
  pqxx::connection conn(uri);
  pqxx::nontransaction tx(conn);
  return tx.exec1("SELECT clock_timestamp()::text")[0].as<std::string>();
}

// Unfinished sagas leased to `owner`, and when each lease expires (as text).
std::vector<std::pair<std::string, std::string>> OwnedSagas(const std::string& uri,
                                                            const std::string& owner) {
  pqxx::connection conn(uri);
  pqxx::nontransaction tx(conn);
  std::vector<std::pair<std::string, std::string>> sagas;
  for (const auto& row :
       tx.exec_params("SELECT id, lease_expires_at::text FROM sagas"
                      " WHERE owner = $1 AND state IN ('RUNNING', 'COMPENSATING')",
                      owner)) {
    sagas.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
  }
  return sagas;
}

// The URI of the participants' database: the only "shop_<n>" database of the cluster (one
// OrderSystem per process), found from the coordinator's database.
absl::StatusOr<std::string> ShopDbUri(const std::string& coordinator_db) {
  absl::StatusOr<devdb::LocalPostgres*> postgres = SharedTestPostgres();
  if (!postgres.ok()) return postgres.status();
  pqxx::connection conn(coordinator_db);
  pqxx::nontransaction tx(conn);
  const pqxx::result rows =
      tx.exec("SELECT datname FROM pg_database WHERE datname LIKE 'shop\\_%' ORDER BY oid");
  if (rows.size() != 1) {
    return absl::FailedPreconditionError("expected one shop_<n> database, found " +
                                         std::to_string(rows.size()));
  }
  return (*postgres)->ConnectionUri(rows[0][0].as<std::string>());
}

// "c1:4 c2:3 done:5": the owners of the unfinished ones among `ids`, and how many ended.
std::string Owners(const std::string& uri, const std::vector<std::string>& ids) {
  pqxx::connection conn(uri);
  pqxx::nontransaction tx(conn);
  std::string text;
  for (const auto& row : tx.exec_params(
           "SELECT CASE WHEN state IN ('RUNNING', 'COMPENSATING') THEN COALESCE(owner, '-')"
           " ELSE 'done' END AS o, count(*) FROM sagas WHERE id = ANY($1::text[])"
           " GROUP BY o ORDER BY o",
           "{" + absl::StrJoin(ids, ",") + "}")) {
    text += (text.empty() ? "" : " ") + row[0].as<std::string>() + ":" + row[1].as<std::string>();
  }
  return text;
}

struct Kill {
  std::string node;
  std::string before;                // DB clock just before the SIGKILL was sent.
  std::string after;                 // DB clock once the process had been reaped.
  std::vector<std::string> owned;    // Unfinished sagas it owned just before.
  std::vector<std::string> expires;  // Their lease_expires_at then (renewals only extend it).
  std::string restart;               // DB clock just before the restart.
  absl::Duration back_in;            // Until the restarted coordinator was ready.
  std::string owners_at_restart;     // Who held `owned` when the victim was restarted.
};

// For each kill with owned sagas: ms from `before` to the first event after `after` of
// one of them; -1 if there is none.
double TakeoverMs(const std::string& uri, const Kill& kill) {
  pqxx::connection conn(uri);
  pqxx::nontransaction tx(conn);
  // Ids match [A-Za-z0-9._-]+, so they need no quoting inside an array literal.
  const std::string ids = "{" + absl::StrJoin(kill.owned, ",") + "}";
  const pqxx::row row = tx.exec_params1(
      "SELECT COALESCE(EXTRACT(EPOCH FROM min(at) - $2::timestamptz) * 1000, -1)::float8"
      " FROM saga_events WHERE saga_id = ANY($1::text[]) AND at > $3::timestamptz",
      ids, kill.before, kill.after);
  return row[0].as<double>();
}

// The first event after the kill for a saga the victim owned: "saga type step/phase#n".
std::string FirstEventAfter(const std::string& uri, const Kill& kill) {
  pqxx::connection conn(uri);
  pqxx::nontransaction tx(conn);
  const pqxx::result rows = tx.exec_params(
      "SELECT saga_id || ' ' || type || ' ' || COALESCE(step, '') || '/' ||"
      " COALESCE(phase, '') || '#' || attempt FROM saga_events"
      " WHERE saga_id = ANY($1::text[]) AND at > $2::timestamptz ORDER BY at LIMIT 1",
      "{" + absl::StrJoin(kill.owned, ",") + "}", kill.after);
  return rows.empty() ? "none" : rows[0][0].as<std::string>();
}

// Events for a saga the victim owned, written after it was dead, before it was restarted
// and before the lease it held on that saga expired: nobody may write those.
long long WritesUnderADeadLease(const std::string& uri, const Kill& kill) {
  pqxx::connection conn(uri);
  pqxx::nontransaction tx(conn);
  // Timestamps as text contain no commas or braces, but do contain spaces: quote them.
  std::string expires = "{";
  for (size_t i = 0; i < kill.expires.size(); ++i) {
    expires += (i ? ",\"" : "\"") + kill.expires[i] + "\"";
  }
  expires += "}";
  return tx
      .exec_params1(
          "SELECT count(*) FROM saga_events e"
          " JOIN unnest($1::text[], $2::timestamptz[]) AS o(id, expires) ON o.id = e.saga_id"
          " WHERE e.at > $3::timestamptz AND e.at < $4::timestamptz AND e.at < o.expires",
          "{" + absl::StrJoin(kill.owned, ",") + "}", expires, kill.after, kill.restart)[0]
      .as<long long>();
}

// Runs `sql` (returning one count) and adds `what` to `violations` if it is not 0.
long long ExpectNone(pqxx::transaction_base& tx, const std::string& what, const std::string& sql,
                     std::vector<std::string>& violations) {
  const long long n = tx.exec1(sql)[0].as<long long>();
  if (n != 0) violations.push_back(what + ": " + std::to_string(n));
  return n;
}

struct Exclusivity {
  long long sequences = 0;           // (saga, step, phase) with at least one attempt_started.
  long long attempts = 0;            // attempt_started events.
  long long resends = 0;             // attempt_resent events.
  long long outcomes = 0;            // attempt_succeeded / attempt_failed events.
  long long barrier_records = 0;     // Rows of skald.barrier, of which:
  long long null_compensations = 0;  //   compensations answered by the barrier itself,
  long long refused_actions = 0;     //   actions refused after their compensation.
  std::vector<std::string> violations;
};

// "No step attempt executing in two coordinators at the same time", from what is recorded.
// Within one saga, events are ordered by id: every write is fenced by an UPDATE of the saga
// row, which holds its lock until commit, so a saga's events commit in id order. For each
// (saga, step, phase):
//  1. attempt_started numbers are exactly 1..n: no number twice (two coordinators both
//     starting attempt k), no gap;
//  2. at most one outcome (attempt_succeeded or attempt_failed) per attempt number: a
//     second outcome would mean two coordinators both drove, and heard back from, it;
//  3. every outcome and every attempt_resent of attempt k comes after attempt_started k and
//     before attempt_started k+1: attempt k+1 never started while k was still in flight,
//     and no coordinator resent or finished an attempt that had been superseded;
//  4. attempt_started k+1 comes after the outcome of attempt k (attempts do not overlap);
// and in the barrier records of the participants (skald.barrier in the shop database, one
// row per (saga, step, phase) by its primary key): every record belongs to a step and phase
// the coordinator started, and every attempt_succeeded has a record of a success (a
// participant behind the barrier answers success only once it is recorded).
Exclusivity CheckAttemptExclusivity(const std::string& coordinator_db, const std::string& shop_db) {
  Exclusivity r;
  {
    pqxx::connection conn(coordinator_db);
    pqxx::read_transaction tx(conn);
    const pqxx::row counts = tx.exec1(
        "SELECT count(DISTINCT (saga_id, step, phase)) FILTER (WHERE type = 'attempt_started'),"
        " count(*) FILTER (WHERE type = 'attempt_started'),"
        " count(*) FILTER (WHERE type = 'attempt_resent'),"
        " count(*) FILTER (WHERE type IN ('attempt_succeeded', 'attempt_failed'))"
        " FROM saga_events");
    r.sequences = counts[0].as<long long>();
    r.attempts = counts[1].as<long long>();
    r.resends = counts[2].as<long long>();
    r.outcomes = counts[3].as<long long>();
    ExpectNone(tx, "attempt number started twice (1)",
               "SELECT count(*) FROM (SELECT 1 FROM saga_events WHERE type = 'attempt_started'"
               " GROUP BY saga_id, step, phase, attempt HAVING count(*) > 1) d",
               r.violations);
    ExpectNone(tx, "attempt numbers not 1..n (1)",
               "SELECT count(*) FROM (SELECT 1 FROM saga_events WHERE type = 'attempt_started'"
               " GROUP BY saga_id, step, phase"
               " HAVING min(attempt) <> 1 OR max(attempt) <> count(DISTINCT attempt)) g",
               r.violations);
    ExpectNone(tx, "attempt with more than one outcome (2)",
               "SELECT count(*) FROM (SELECT 1 FROM saga_events"
               " WHERE type IN ('attempt_succeeded', 'attempt_failed')"
               " GROUP BY saga_id, step, phase, attempt HAVING count(*) > 1) d",
               r.violations);
    // Per attempt: where it started, where the next one started, where its outcome is.
    const std::string spans =
        "WITH s AS (SELECT saga_id, step, phase, attempt, id,"
        "  lead(id) OVER (PARTITION BY saga_id, step, phase ORDER BY attempt) AS next_id"
        "  FROM saga_events WHERE type = 'attempt_started') ";
    ExpectNone(tx, "outcome or resend outside its attempt's span (3)",
               spans +
                   "SELECT count(*) FROM saga_events e"
                   " LEFT JOIN s ON s.saga_id = e.saga_id AND s.step = e.step"
                   "  AND s.phase = e.phase AND s.attempt = e.attempt"
                   " WHERE e.type IN ('attempt_succeeded', 'attempt_failed', 'attempt_resent')"
                   "  AND (s.id IS NULL OR e.id < s.id OR (s.next_id IS NOT NULL AND"
                   "  e.id > s.next_id))",
               r.violations);
    ExpectNone(tx, "attempt started before the previous one's outcome (4)",
               spans +
                   "SELECT count(*) FROM s WHERE s.next_id IS NOT NULL AND NOT EXISTS ("
                   " SELECT 1 FROM saga_events o WHERE o.saga_id = s.saga_id"
                   "  AND o.step = s.step AND o.phase = s.phase AND o.attempt = s.attempt"
                   "  AND o.type = 'attempt_failed' AND o.id < s.next_id)",
               r.violations);
  }
  // Which (saga, step, phase) the coordinator started, and which it saw succeed, to compare
  // with the barrier records.
  std::vector<std::string> started;
  std::vector<std::string> succeeded;
  {
    pqxx::connection conn(coordinator_db);
    pqxx::read_transaction tx(conn);
    for (const auto& row : tx.exec(
             "SELECT DISTINCT saga_id || '/' || step || '/' || phase, type = 'attempt_succeeded'"
             " FROM saga_events WHERE type IN ('attempt_started', 'attempt_succeeded')")) {
      (row[1].as<bool>() ? succeeded : started).push_back(row[0].as<std::string>());
    }
  }
  std::sort(started.begin(), started.end());
  std::vector<std::string> recorded_successes;
  long long never_started = 0;
  {
    pqxx::connection conn(shop_db);
    pqxx::read_transaction tx(conn);
    for (const auto& row : tx.exec("SELECT saga_id || '/' || step || '/' || phase, origin, outcome"
                                   " FROM skald.barrier")) {
      const std::string key = row[0].as<std::string>();
      const std::string origin = row[1].as<std::string>();
      ++r.barrier_records;
      r.null_compensations += origin == "null_compensation";
      r.refused_actions += origin == "refused";
      never_started += !std::binary_search(started.begin(), started.end(), key);
      if (row[2].as<std::string>() == "success") recorded_successes.push_back(key);
    }
  }
  if (never_started != 0) {
    r.violations.push_back("skald.barrier: records of a step and phase never started: " +
                           std::to_string(never_started));
  }
  std::sort(recorded_successes.begin(), recorded_successes.end());
  long long unrecorded = 0;
  for (const std::string& key : succeeded) {
    unrecorded += !std::binary_search(recorded_successes.begin(), recorded_successes.end(), key);
  }
  if (unrecorded != 0) {
    r.violations.push_back(
        "attempt_succeeded without a success recorded in skald.barrier (saga/step/phase): " +
        std::to_string(unrecorded));
  }
  return r;
}

TEST(MultiCoordinatorFaultTest, SigkillsAcrossThreeCoordinatorsKeepAttemptsExclusive) {
  const absl::Time test_start = absl::Now();
  std::mt19937_64 rng(Seed());

  OrderSystem::Options options;
  options.participant_flags[Service::kPayment] = {"--fail-first-attempts", "1"};
  // Repeated --stock flags are applied in order: this one replaces the default level.
  options.participant_flags[Service::kInventory] = {
      "--stock", "widget=" + std::to_string(kMultiCoordinatorStock)};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<OrderSystem> system, OrderSystem::Start(options));
  ASSERT_OK(system->coordinator().Stop(SIGTERM));
  const std::string db = system->coordinator().db_uri();
  ASSERT_OK_AND_ASSIGN(const std::string shop_db, ShopDbUri(db));

  std::vector<std::unique_ptr<CoordinatorProcess>> coordinators;
  for (int i = 0; i < kCoordinators; ++i) {
    const std::string name = "c" + std::to_string(i);
    const std::string dir = system->dir() + "/" + name;
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    coordinators.push_back(std::make_unique<CoordinatorProcess>(
        dir, db, std::vector<std::string>{"--node-id", name, "--lease-ttl", "2s"}));
    ASSERT_OK(coordinators.back()->Start());
  }
  // The example with room for a loaded machine: actions get 8 attempts. Their first retry
  // waits 1 s (payment fails every first attempt), so that each saga stays in flight for a
  // second or more and every kill finds sagas on a retry timer or with a call out.
  nlohmann::json definition = system->FastDefinition();
  definition["version"] = 2;
  for (auto& step : definition["steps"]) {
    step["retry"] = {{"max_attempts", 8}, {"initial_interval", "1s"}, {"max_interval", "2s"}};
  }
  {
    const grpc::Status applied = coordinators[0]->Apply(definition);
    ASSERT_TRUE(applied.ok()) << applied.error_message();
  }

  // Kills: 4-6, 2-4 s apart, rotating c0 -> c1 -> c2. Each victim stays down 0-3 s before
  // it is restarted under its name: short outages are ended by its own restart (it reclaims
  // its sagas at once), longer ones by the others once its 2 s leases expired.
  const int kills = std::uniform_int_distribution<int>(4, 6)(rng);
  std::vector<absl::Duration> pauses, downtimes;
  absl::Duration kill_window;
  for (int k = 0; k < kills; ++k) {
    pauses.push_back(absl::Milliseconds(std::uniform_int_distribution<int>(2000, 4000)(rng)));
    downtimes.push_back(absl::Milliseconds(std::uniform_int_distribution<int>(0, 3000)(rng)));
    kill_window += pauses.back() + downtimes.back();
  }
  // Sagas spread over the three APIs; the starts span most of the kill window.
  const std::vector<OrderSaga> sagas = MakeOrderMix("m", kSagas, kMultiCoordinatorStock, rng);
  std::vector<std::vector<OrderSaga>> shares(kCoordinators);
  for (size_t i = 0; i < sagas.size(); ++i) shares[i % kCoordinators].push_back(sagas[i]);
  const absl::Duration pace =
      std::clamp(kill_window / shares[0].size(), absl::Milliseconds(5), absl::Milliseconds(250));
  std::vector<std::unique_ptr<SagaStarter>> starters;
  for (int i = 0; i < kCoordinators; ++i) {
    starters.push_back(std::make_unique<SagaStarter>(
        coordinators[i]->address(), shares[i],
        SagaStarter::Options{.pace = pace, .give_up_after = absl::Seconds(60)}));
  }
  const absl::Time load_start = absl::Now();

  std::vector<Kill> done;
  for (int k = 0; k < kills; ++k) {
    absl::SleepFor(pauses[k]);
    CoordinatorProcess& victim = *coordinators[k % kCoordinators];
    Kill kill;
    kill.node = "c" + std::to_string(k % kCoordinators);
    for (auto& [id, expires] : OwnedSagas(db, kill.node)) {
      kill.owned.push_back(id);
      kill.expires.push_back(expires);
    }
    kill.before = DbNow(db);
    ASSERT_OK(victim.Stop(SIGKILL));
    kill.after = DbNow(db);
    const absl::Time killed = absl::Now();
    absl::SleepFor(downtimes[k]);
    kill.owners_at_restart = Owners(db, kill.owned);
    kill.restart = DbNow(db);
    ASSERT_OK(victim.Start());
    kill.back_in = absl::Now() - killed;
    done.push_back(std::move(kill));
  }
  const absl::Time last_restart = absl::Now();

  int acknowledged = 0;
  std::vector<std::string> acked_ids;
  for (int i = 0; i < kCoordinators; ++i) {
    ASSERT_TRUE(starters[i]->WaitDone(absl::Seconds(90))) << "starter " << i << " still busy";
    const SagaStarter::Result& result = starters[i]->result();
    acknowledged += static_cast<int>(result.acknowledged.size());
    acked_ids.insert(acked_ids.end(), result.acknowledged.begin(), result.acknowledged.end());
    SayMulti("c" + std::to_string(i) + ": " + std::to_string(result.acknowledged.size()) +
             " sagas started in " + Seconds(result.took) + " (" +
             std::to_string(result.failed_calls) + " StartSaga calls sent again, " +
             std::to_string(result.existing) + " already created)");
    EXPECT_TRUE(result.given_up.empty())
        << result.given_up.size() << " never acknowledged, first: " << result.given_up[0];
  }

  absl::StatusOr<SagaCounts> settled =
      WaitForAllTerminal(db, kSagas, kMultiCoordinatorSettleTimeout);
  const absl::Time all_terminal = absl::Now();
  if (settled.ok()) {
    SayMulti("all " + std::to_string(settled->total) + " sagas terminal " +
             Seconds(all_terminal - load_start) + " after the first start, " +
             Seconds(all_terminal - last_restart) + " after the last restart");
  } else {
    std::string logs;
    for (const auto& c : coordinators) logs += c->LogTail() + "\n";
    ADD_FAILURE() << "sagas did not all end: " << settled.status().message() << "\n"
                  << DescribeUnfinishedSagas(db) << logs;
  }

  // Takeover per kill.
  std::vector<double> takeovers;
  for (size_t k = 0; k < done.size(); ++k) {
    const Kill& kill = done[k];
    const double ms = kill.owned.empty() ? -1 : TakeoverMs(db, kill);
    SayMulti("kill " + std::to_string(k + 1) + " (" + kill.node +
             "): " + std::to_string(kill.owned.size()) + " unfinished sagas owned; after " +
             Seconds(downtimes[k]) + " down: " + kill.owners_at_restart + "; restarted in " +
             Seconds(kill.back_in) + "; takeover " +
             (kill.owned.empty() ? std::string("n/a")
              : ms < 0           ? std::string("never")
                                 : std::to_string(ms) + " ms"));
    if (kill.owned.empty()) continue;
    const long long early = WritesUnderADeadLease(db, kill);
    SayMulti("  first event after it: " + FirstEventAfter(db, kill) +
             "; events written under its " +
             "dead, unexpired lease before its restart: " + std::to_string(early));
    EXPECT_EQ(early, 0) << "kill " << k + 1;
    EXPECT_GE(ms, 0) << "no event after kill " << k + 1 << " for the sagas " << kill.node
                     << " owned";
    takeovers.push_back(ms < 0 ? 1e9 : ms);
  }
  if (!takeovers.empty()) {
    std::sort(takeovers.begin(), takeovers.end());
    SayMulti("takeover ms over " + std::to_string(takeovers.size()) + " kills: min " +
             std::to_string(takeovers.front()) + ", median " +
             std::to_string(takeovers[takeovers.size() / 2]) + ", max " +
             std::to_string(takeovers.back()));
    EXPECT_LT(takeovers.back(), kMaxTakeoverMs);
  }
  EXPECT_GE(takeovers.size(), 3u) << "too few kills found sagas in flight";

  // Invariants of the whole system.
  std::vector<ExpectedSaga> expected = ExpectedEnds(sagas, /*strict=*/true);
  std::sort(acked_ids.begin(), acked_ids.end());
  std::erase_if(expected, [&](const ExpectedSaga& e) {
    return !std::binary_search(acked_ids.begin(), acked_ids.end(), e.id);
  });
  InvariantInputs inputs;
  inputs.coordinator_db = db;
  inputs.shop_db = shop_db;
  inputs.initial_stock = {{"widget", kMultiCoordinatorStock}};
  inputs.expected = std::move(expected);
  ASSERT_OK_AND_ASSIGN(InvariantReport report, CheckInvariants(inputs));
  std::cout << report.ToString();
  EXPECT_EQ(acknowledged, kSagas);
  EXPECT_EQ(report.sagas, kSagas);
  EXPECT_EQ(report.lost, 0);
  EXPECT_EQ(report.not_terminal, 0);
  EXPECT_EQ(report.duplicate_effects, 0);
  EXPECT_TRUE(report.failed_saga_ids.empty())
      << report.failed_saga_ids.size() << " FAILED, first: " << report.failed_saga_ids[0];
  EXPECT_TRUE(report.ok()) << report.violations.size()
                           << " violation(s), first: " << report.violations[0];

  // Attempt exclusivity.
  const Exclusivity ex = CheckAttemptExclusivity(db, shop_db);
  SayMulti("exclusivity: " + std::to_string(ex.sequences) + " (saga, step, phase) sequences, " +
           std::to_string(ex.attempts) + " attempts started, " + std::to_string(ex.resends) +
           " resent, " + std::to_string(ex.outcomes) + " outcomes, " +
           std::to_string(ex.barrier_records) + " barrier records (" +
           std::to_string(ex.null_compensations) + " null compensations, " +
           std::to_string(ex.refused_actions) + " refused actions); " +
           std::to_string(ex.violations.size()) + " violation(s)");
  for (const std::string& v : ex.violations) SayMulti("  VIOLATION " + v);
  EXPECT_TRUE(ex.violations.empty());

  for (size_t i = 0; i < coordinators.size(); ++i) {
    EXPECT_TRUE(coordinators[i]->Signal(0).ok()) << "c" << i << " exited by itself";
    const std::string log = coordinators[i]->Log();
    size_t lost = 0;
    for (size_t at = log.find("lease lost"); at != std::string::npos;
         at = log.find("lease lost", at + 1)) {
      ++lost;
    }
    SayMulti("c" + std::to_string(i) + " log (last run): " + std::to_string(lost) +
             " 'lease lost'");
  }
  starters.clear();
  for (auto& c : coordinators) EXPECT_OK(c->Stop(SIGTERM));
  SayMulti("sagas " + std::to_string(kSagas) + ", kills " + std::to_string(kills) + ", total " +
           Seconds(absl::Now() - test_start));
}

}  // namespace
}  // namespace skald::testing::fault
