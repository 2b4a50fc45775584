// outbox-bench: saga starts per second through the transactional outbox against direct
// StartSaga calls, in the same run, on one `skald serve` and one throwaway PostgreSQL; and the
// commit-to-saga latency of the outbox (p50/p99).
//   outbox-bench [--sagas N] [--writers K] [--relays R] [--steady S]
// Direct: K threads call StartSaga with their own ids, N in all. Outbox: K threads each
// commit N/K transactions holding one StartSagaInTransaction, while R relays forward them;
// the run ends when every row is sent. Latency: from the writer's COMMIT returning to the
// saga's created_at in the coordinator's database (the coordinator's transaction start), and
// to the relay marking the row sent (after StartSaga answered OK), both at saturation and for
// S starts committed one per 10 ms by one writer. Same machine, same clock.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "skald/saga_outbox.h"
#include "tests/e2e/coordinator_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_postgres.h"

namespace skald::testing {
namespace {

using Clock = std::chrono::system_clock;
using nlohmann::json;

const json kDefinition = {{"name", "bench"},
                          {"version", 1},
                          {"steps",
                           {{{"name", "a"},
                             {"participant", "127.0.0.1:1"},
                             {"action", "a"},
                             {"retry", {{"max_attempts", 1}}}}}}};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(p * values.size()))];
}

// Fills the latencies (ms) from each saga's commit to its created_at in the coordinator's
// database, and to its row being marked sent, for the saga ids LIKE `pattern`.
void Latencies(pqxx::connection& service, const std::string& coordinator_db,
               const std::string& pattern, std::map<std::string, Clock::time_point>& committed_at,
               std::vector<double>& to_created_ms, std::vector<double>& to_sent_ms) {
  auto since_commit_ms = [&](const pqxx::row& row) {
    const double commit =
        std::chrono::duration<double>(committed_at[row[0].as<std::string>()].time_since_epoch())
            .count();
    return (row[1].as<double>() - commit) * 1000;
  };
  {
    pqxx::nontransaction tx(service);
    for (const pqxx::row& row :
         tx.exec_params("SELECT saga_id, extract(epoch FROM sent_at)::float8 FROM "
                        "skald.saga_outbox WHERE saga_id LIKE $1",
                        pattern)) {
      to_sent_ms.push_back(since_commit_ms(row));
    }
  }
  pqxx::connection connection(coordinator_db);
  pqxx::nontransaction tx(connection);
  for (const pqxx::row& row : tx.exec_params(
           "SELECT id, extract(epoch FROM created_at)::float8 FROM sagas WHERE id LIKE $1",
           pattern)) {
    to_created_ms.push_back(since_commit_ms(row));
  }
}

int Run(int sagas, int writers, int relays, int steady) {
  auto dir = TempDir::Create("skald-outbox-bench-");
  auto coordinator_db = FreshDatabase("bench_coordinator");
  auto service_db = FreshDatabase("bench_service");
  if (!dir.ok() || !coordinator_db.ok() || !service_db.ok()) {
    std::fprintf(stderr, "setup failed\n");
    return 1;
  }
  CoordinatorProcess coordinator(dir->path(), *coordinator_db);
  if (absl::Status started = coordinator.Start(); !started.ok()) {
    std::fprintf(stderr, "%s\n", started.ToString().c_str());
    return 1;
  }
  if (!coordinator.Apply(kDefinition).ok()) return 1;
  {
    pqxx::connection connection(*service_db);
    if (!ApplyOutboxSchema(connection).ok()) return 1;
  }
  const int per_writer = sagas / writers;
  const int total = per_writer * writers;

  // Direct StartSaga, K callers at once.
  const auto direct_start = Clock::now();
  {
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        for (int i = 0; i < per_writer; ++i) {
          auto id = coordinator.StartSaga("bench", {{"n", i}},
                                          "direct-" + std::to_string(w) + "-" + std::to_string(i));
          if (!id.ok()) std::fprintf(stderr, "direct: %s\n", id.status().ToString().c_str());
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  const double direct_seconds = Seconds(Clock::now() - direct_start);

  // Through the outbox.
  std::vector<std::unique_ptr<OutboxRelay>> running;
  for (int r = 0; r < relays; ++r) {
    auto relay = OutboxRelay::Start(
        {.db_url = *service_db, .coordinator = {.address = coordinator.address()}});
    if (!relay.ok()) return 1;
    running.push_back(*std::move(relay));
  }
  std::mutex mu;
  std::map<std::string, Clock::time_point> committed_at;
  const auto outbox_start = Clock::now();
  {
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        pqxx::connection connection(*service_db);
        for (int i = 0; i < per_writer; ++i) {
          const std::string id = "outbox-" + std::to_string(w) + "-" + std::to_string(i);
          pqxx::work tx(connection);
          if (!StartSagaInTransaction(tx, "bench", {{"n", i}}, id).ok()) std::abort();
          tx.commit();
          const auto now = Clock::now();
          std::lock_guard<std::mutex> lock(mu);
          committed_at[id] = now;
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  const double commit_seconds = Seconds(Clock::now() - outbox_start);
  pqxx::connection service(*service_db);
  for (int polls = 0; polls < 6000; ++polls) {  // At most 10 minutes.
    pqxx::nontransaction tx(service);
    if (tx.exec1("SELECT count(*) FROM skald.saga_outbox WHERE state = 'sent'")[0].as<int>() ==
        total) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  double outbox_seconds = 0;
  {
    pqxx::nontransaction tx(service);
    outbox_seconds =
        tx.exec1("SELECT extract(epoch FROM max(sent_at))::float8 FROM skald.saga_outbox")[0]
            .as<double>() -
        std::chrono::duration<double>(outbox_start.time_since_epoch()).count();
  }
  std::vector<double> to_created_ms, to_sent_ms;
  Latencies(service, coordinator.db_uri(), "outbox-%", committed_at, to_created_ms, to_sent_ms);

  // Latency at a steady rate well under the throughput: one writer, one start per 10 ms.
  committed_at.clear();
  {
    pqxx::connection connection(*service_db);
    for (int i = 0; i < steady; ++i) {
      const std::string id = "steady-" + std::to_string(i);
      pqxx::work tx(connection);
      if (!StartSagaInTransaction(tx, "bench", {{"n", i}}, id).ok()) std::abort();
      tx.commit();
      committed_at[id] = Clock::now();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  for (int polls = 0; polls < 600; ++polls) {
    pqxx::nontransaction tx(service);
    if (tx.exec1("SELECT count(*) FROM skald.saga_outbox WHERE state = 'sent' AND saga_id LIKE "
                 "'steady-%'")[0]
            .as<int>() == steady) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::vector<double> steady_created_ms, steady_sent_ms;
  Latencies(service, coordinator.db_uri(), "steady-%", committed_at, steady_created_ms,
            steady_sent_ms);
  OutboxRelayStats sum;
  for (auto& relay : running) {
    OutboxRelayStats stats = relay->stats();
    sum.sent += stats.sent;
    sum.created += stats.created;
  }
  running.clear();

  std::printf("sagas %d, writers %d, relays %d\n", total, writers, relays);
  std::printf("direct StartSaga:  %.0f starts/s (%.2f s)\n", total / direct_seconds,
              direct_seconds);
  std::printf(
      "through the outbox: %.0f starts/s (%.2f s from first commit to last sent; "
      "commits alone %.2f s = %.0f/s)\n",
      total / outbox_seconds, outbox_seconds, commit_seconds, total / commit_seconds);
  std::printf("outbox / direct: %.2f\n", direct_seconds / outbox_seconds);
  std::printf("at saturation (the writers outrun the relays; queueing included):\n");
  std::printf("  commit -> saga created_at: p50 %.1f ms, p99 %.1f ms (%zu sagas)\n",
              Percentile(to_created_ms, 0.5), Percentile(to_created_ms, 0.99),
              to_created_ms.size());
  std::printf("  commit -> row marked sent: p50 %.1f ms, p99 %.1f ms\n",
              Percentile(to_sent_ms, 0.5), Percentile(to_sent_ms, 0.99));
  std::printf("at a steady 100 starts/s (one writer):\n");
  std::printf("  commit -> saga created_at: p50 %.1f ms, p99 %.1f ms (%zu sagas)\n",
              Percentile(steady_created_ms, 0.5), Percentile(steady_created_ms, 0.99),
              steady_created_ms.size());
  std::printf("  commit -> row marked sent: p50 %.1f ms, p99 %.1f ms\n",
              Percentile(steady_sent_ms, 0.5), Percentile(steady_sent_ms, 0.99));
  std::printf("relays sent %lld, created %lld\n", static_cast<long long>(sum.sent),
              static_cast<long long>(sum.created));
  return to_created_ms.size() == static_cast<std::size_t>(total) &&
                 steady_created_ms.size() == static_cast<std::size_t>(steady)
             ? 0
             : 1;
}

}  // namespace
}  // namespace skald::testing

int main(int argc, char** argv) {
  int sagas = 2000, writers = 8, relays = 1, steady = 300;
  for (int i = 1; i + 1 < argc; i += 2) {
    const int value = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--sagas") == 0)
      sagas = value;
    else if (std::strcmp(argv[i], "--writers") == 0)
      writers = value;
    else if (std::strcmp(argv[i], "--relays") == 0)
      relays = value;
    else if (std::strcmp(argv[i], "--steady") == 0)
      steady = value;
  }
  if (sagas < 1 || writers < 1 || relays < 1 || writers > 64 || relays > 16 || sagas > 1000000 ||
      steady < 1 || steady > 100000) {
    std::fprintf(stderr,
                 "usage: outbox-bench [--sagas N] [--writers 1..64] [--relays 1..16] "
                 "[--steady N]\n");
    return 2;
  }
  return skald::testing::Run(sagas, writers, relays, steady);
}
