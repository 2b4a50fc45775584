// skald_bench: Skald's throughput, latency and cost against PostgreSQL's own limit for the
// same writes, measured in one run on one machine (docs/performance.md).
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <pqxx/pqxx>
#include <thread>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "bench/call_rates.h"
#include "bench/coordinator_process.h"
#include "bench/load_driver.h"
#include "bench/noop_participants.h"
#include "bench/pgbench_ceiling.h"
#include "bench/report.h"
#include "bench/resource_usage.h"
#include "bench/scale_checks.h"
#include "bench/statement_profile.h"
#include "coordinator/core/duration.h"
#include "coordinator/devdb/local_postgres.h"
#include "coordinator/store/connection.h"
#include "coordinator/store/migrator.h"
#include "tests/support/built_files.h"

namespace skald::bench {
namespace {

struct Flags {
  bool quick = false;
  std::string json_path;
  std::string skald = SKALD_BINARY;
  int concurrency = 64;
  int ceiling_clients = 32;
  int storage_clients = 8;
  int seconds = 10;
  long long preload = 1'000'000;
  int waiting_sagas = 10'000;
  // Scale-out: 1 up to this many coordinators on one database (the full run: at least 3).
  int coordinators = 1;
  std::string work_dir;
  // Passed on to `skald serve`, e.g. "--log-level=debug".
  std::vector<std::string> coordinator_flags;
  // Ranks the coordinator's statements by PostgreSQL's time in the first closed loop.
  bool statements = false;
};

// Everything a run needs: the cluster, the participants, the coordinator.
struct Stack {
  std::unique_ptr<devdb::LocalPostgres> postgres;
  std::unique_ptr<NoopParticipants> participants;
  std::unique_ptr<CoordinatorProcess> coordinator;
  // The scale-out runs' other coordinators, on the same database.
  std::vector<std::unique_ptr<CoordinatorProcess>> more_coordinators;
  std::unique_ptr<LoadDriver> driver;
  std::string stats_uri;
  // Set by --statements until the first measured run has profiled its statements.
  bool profile_statements = false;
};

absl::Status Check(const absl::Status& status, const std::string& what) {
  if (status.ok()) return status;
  return absl::Status(status.code(), what + ": " + std::string(status.message()));
}

absl::Status PrepareCeilingDatabase(const devdb::LocalPostgres& postgres) {
  store::ConnectionPool pool(postgres.ConnectionUri("ceiling"), 1);
  if (auto applied = store::ApplyMigrations(pool, store::EmbeddedMigrations()); !applied.ok()) {
    return applied.status();
  }
  return pool.Run("insert the ceiling definition", [](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec0(
        "INSERT INTO definitions (name, version, document) VALUES ('ceiling', 1, '{}') "
        "ON CONFLICT DO NOTHING");
    tx.commit();
  });
}

constexpr const char* kStorageCeiling = "storage ceiling";

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

absl::Status AnalyzeCeilingTables(const devdb::LocalPostgres& postgres) {
  try {
    pqxx::connection c(postgres.ConnectionUri("ceiling"));
    pqxx::nontransaction tx(c);
    tx.exec0("ANALYZE sagas, saga_steps, saga_events");
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("ANALYZE of the ceiling tables: ") + e.what());
  }
}

// The storage ceiling for `steps` steps: the best of several sagas-per-commit sizes, then
// that size twice more; the median of those three runs. The tables hold rows and are
// ANALYZEd first, so that pgbench's prepared statements are planned for tables that grow.
absl::StatusOr<Ceiling> MeasureStorageCeiling(const devdb::LocalPostgres& postgres,
                                              const Flags& flags, int steps,
                                              std::chrono::seconds seconds) {
  // PostgreSQL's CPU per saga of each run at each size.
  std::map<int, std::vector<double>> cpu_per_saga;
  const auto run = [&](int per_commit, std::chrono::seconds duration) {
    const double cpu_before = ReadClusterCpuSeconds(postgres.data_dir());
    auto rate = RunPgbench(postgres.socket_dir(), postgres.port(), "ceiling",
                           StorageCeilingScript(steps, per_commit), per_commit,
                           flags.storage_clients, duration);
    if (rate.ok() && *rate > 0) {
      const double cpu = ReadClusterCpuSeconds(postgres.data_dir()) - cpu_before;
      cpu_per_saga[per_commit].push_back(cpu / (*rate * duration.count()) * 1e6);
    }
    return rate;
  };
  if (auto warm = run(10, std::chrono::seconds(2)); !warm.ok()) return warm.status();
  if (auto s = AnalyzeCeilingTables(postgres); !s.ok()) return s;
  const std::vector<int> sizes =
      flags.quick ? std::vector<int>{10, 20} : std::vector<int>{5, 10, 20, 50};
  Ceiling best;
  best.kind = kStorageCeiling;
  best.steps = steps;
  best.clients = flags.storage_clients;
  for (int size : sizes) {
    auto rate = run(size, seconds);
    if (!rate.ok()) return rate.status();
    std::cerr << "bench: storage ceiling, " << steps << " step(s), " << size
              << " sagas/commit: " << *rate << " sagas/s\n";
    if (*rate > best.sagas_per_second) {
      best.sagas_per_second = *rate;
      best.sagas_per_commit = size;
      best.samples = {*rate};
    }
  }
  for (int i = 0; i < (flags.quick ? 0 : 2); ++i) {
    auto rate = run(best.sagas_per_commit, seconds);
    if (!rate.ok()) return rate.status();
    best.samples.push_back(*rate);
  }
  best.sagas_per_second = Median(best.samples);
  best.postgres_cpu_us_per_saga = Median(cpu_per_saga[best.sagas_per_commit]);
  best.commits_per_saga = (steps + 2.0) / best.sagas_per_commit;
  std::cerr << "bench: storage ceiling, " << steps << " step(s): " << best.sagas_per_second
            << " sagas/s\n";
  return best;
}

// The naive writer: one commit per state change of one saga, many clients; median of 3.
absl::StatusOr<Ceiling> MeasureNaiveWriter(const devdb::LocalPostgres& postgres, const Flags& flags,
                                           int steps, std::chrono::seconds seconds) {
  Ceiling naive;
  naive.kind = "naive writer";
  naive.steps = steps;
  naive.clients = flags.ceiling_clients;
  naive.commits_per_saga = 2 * steps + 2;
  for (int i = 0; i < (flags.quick ? 1 : 3); ++i) {
    auto rate = RunPgbench(postgres.socket_dir(), postgres.port(), "ceiling",
                           NaiveWriterScript(steps), 1, flags.ceiling_clients, seconds);
    if (!rate.ok()) return rate.status();
    naive.samples.push_back(*rate);
  }
  naive.sagas_per_second = Median(naive.samples);
  std::cerr << "bench: naive writer, " << steps << " step(s): " << naive.sagas_per_second
            << " sagas/s\n";
  return naive;
}

absl::Status ApplyDefinition(const std::string& address, const nlohmann::json& document) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = v1::SagaService::NewStub(channel);
  v1::ApplyDefinitionRequest request;
  request.set_definition_json(document.dump());
  v1::ApplyDefinitionResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = stub->ApplyDefinition(&context, request, &response);
  if (!status.ok()) {
    return absl::InternalError("applying " + document.value("name", "") + ": " +
                               status.error_message());
  }
  return absl::OkStatus();
}

// Runs one load and turns what it saw into a report row.
absl::StatusOr<RunReport> Measure(Stack& stack, const std::string& label, const Scenario& scenario,
                                  const LoadSpec& spec) {
  ProcessUsage cpu_start, cpu_end;
  MachineCpu machine_start, machine_end;
  DatabaseActivity db_start, db_end;
  long long calls_start = 0, calls_end = 0;
  absl::Status sampling = absl::OkStatus();
  const bool profile_statements = std::exchange(stack.profile_statements, false);
  std::vector<StatementCost> statements;
  std::vector<pid_t> pids = {stack.coordinator->pid()};
  for (const auto& more : stack.more_coordinators) pids.push_back(more->pid());
  double postgres_cpu_start = 0, postgres_cpu_end = 0;
  auto sample = [&](ProcessUsage& cpu, MachineCpu& machine, DatabaseActivity& db,
                    double& postgres_cpu, long long& calls) {
    // Every coordinator's CPU time together; the largest of their memory peaks.
    cpu = ProcessUsage{};
    for (pid_t pid : pids) {
      auto usage = ReadProcessUsage(pid);
      if (!usage.ok()) {
        sampling = usage.status();
        continue;
      }
      cpu.cpu_seconds += usage->cpu_seconds;
      cpu.rss_bytes = std::max(cpu.rss_bytes, usage->rss_bytes);
      cpu.peak_rss_bytes = std::max(cpu.peak_rss_bytes, usage->peak_rss_bytes);
    }
    auto activity =
        ReadDatabaseActivity(stack.stats_uri, "skald", stack.postgres->ConnectionUri("skald"));
    if (!activity.ok()) sampling = activity.status();
    if (activity.ok()) db = *activity;
    machine = ReadMachineCpu();
    postgres_cpu = ReadClusterCpuSeconds(stack.postgres->data_dir());
    calls = stack.participants->calls();
  };
  const std::string skald_uri = stack.postgres->ConnectionUri("skald");
  LoadResult result = stack.driver->Run(
      scenario, spec,
      [&] {
        if (profile_statements) sampling.Update(ResetStatementStats(skald_uri));
        sample(cpu_start, machine_start, db_start, postgres_cpu_start, calls_start);
      },
      [&] {
        sample(cpu_end, machine_end, db_end, postgres_cpu_end, calls_end);
        if (!profile_statements) return;
        auto read = ReadStatementStats(skald_uri, 15);
        if (read.ok()) statements = std::move(*read);
        sampling.Update(read.status());
      });
  if (!sampling.ok()) return sampling;
  if (profile_statements) {
    std::cerr << "bench: PostgreSQL's time by statement in \"" << label << "\" (per saga):\n"
              << StatementTable(statements, std::max<long long>(result.ended(), 1));
  }
  RunReport r;
  r.label = label;
  r.definition = scenario.Name();
  r.mode = spec.mode == LoadSpec::Mode::kClosed ? "closed" : "open";
  r.steps = scenario.steps;
  r.concurrency = spec.concurrency;
  r.offered_rate = spec.rate;
  const double seconds = result.window_seconds();
  const double sagas = std::max<long long>(result.ended(), 1);
  r.sagas_per_second = result.ended() / seconds;
  r.step_calls_per_second = (calls_end - calls_start) / seconds;
  r.p50_ms = Quantile(result.latencies, 0.50) * 1e3;
  r.p90_ms = Quantile(result.latencies, 0.90) * 1e3;
  r.p99_ms = Quantile(result.latencies, 0.99) * 1e3;
  r.max_ms = result.latencies.empty() ? 0 : result.latencies.back() * 1e3;
  const double cpu = cpu_end.cpu_seconds - cpu_start.cpu_seconds;
  r.coordinator_cpu_us_per_saga = cpu / sagas * 1e6;
  r.coordinator_cpu_us_per_step =
      calls_end > calls_start ? cpu / (calls_end - calls_start) * 1e6 : 0;
  r.coordinator_cpu_share = cpu / seconds;
  r.machine_busy_share = (machine_end.busy - machine_start.busy) /
                         std::max(machine_end.total - machine_start.total, 1e-9);
  r.commits_per_saga = (db_end.commits - db_start.commits) / sagas;
  r.rows_written_per_saga = (db_end.rows_written - db_start.rows_written) / sagas;
  r.coordinator_peak_rss_mb = cpu_end.peak_rss_bytes / 1048576.0;
  r.coordinators = static_cast<int>(pids.size());
  r.coordinator_threads = 0;
  for (pid_t pid : pids) r.coordinator_threads += ReadThreadCount(pid);
  r.deadlocks = db_end.deadlocks - db_start.deadlocks;
  r.wal_bytes_per_saga = (db_end.wal_bytes - db_start.wal_bytes) / sagas;
  r.wal_syncs_per_saga = (db_end.wal_syncs - db_start.wal_syncs) / sagas;
  r.postgres_cpu_us_per_saga = (postgres_cpu_end - postgres_cpu_start) / sagas * 1e6;
  const long long updated = db_end.tuples_updated - db_start.tuples_updated;
  r.hot_update_share =
      updated > 0 ? static_cast<double>(db_end.hot_updates - db_start.hot_updates) / updated : 0;
  r.seq_scans = db_end.seq_scans - db_start.seq_scans;
  r.index_scans = db_end.index_scans - db_start.index_scans;
  r.completed = result.completed;
  r.compensated = result.compensated;
  r.failed = result.failed;
  r.errors = result.errors + result.not_started;
  r.first_error = result.first_error;
  std::cerr << "bench: " << label << ": " << static_cast<long long>(r.sagas_per_second)
            << " sagas/s, p99 " << r.p99_ms << " ms, " << r.deadlocks << " deadlocks, " << r.errors
            << " errors" << (r.first_error.empty() ? "" : " (" + r.first_error + ")") << "\n";
  return r;
}

// Starts `count` coordinators on the benchmark's database (node ids bench-1, bench-2, ...)
// in place of those running, and a load driver spreading sagas evenly over them.
absl::Status StartCoordinators(Stack& stack, const Flags& flags, const std::string& work_dir,
                               int count) {
  stack.driver.reset();
  stack.more_coordinators.clear();
  stack.coordinator.reset();
  std::vector<std::string> addresses;
  for (int i = 1; i <= count; ++i) {
    const std::string node = "bench-" + std::to_string(i);
    auto started = CoordinatorProcess::Start(
        flags.skald, stack.postgres->ConnectionUri("skald"),
        work_dir + "/coordinator-" + std::to_string(count) + "-" + std::to_string(i) + ".log",
        flags.coordinator_flags, node);
    if (!started.ok()) return started.status();
    addresses.push_back((*started)->address());
    if (i == 1) {
      stack.coordinator = std::move(*started);
    } else {
      stack.more_coordinators.push_back(std::move(*started));
    }
  }
  stack.driver = std::make_unique<LoadDriver>(addresses);
  return absl::OkStatus();
}

// Waits (at most `timeout`) until no saga of the benchmark's database is unfinished, so that
// a run does not share the machine with an earlier run's backlog (the start-only run leaves
// thousands of sagas for the engines to drive). Returns how many are still unfinished.
absl::StatusOr<long long> WaitForNoBacklog(const Stack& stack, std::chrono::seconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  try {
    pqxx::connection connection(stack.postgres->ConnectionUri("skald"));
    while (true) {
      const long long unfinished =
          pqxx::nontransaction(connection)
              .exec1(
                  "SELECT count(*) FROM sagas "
                  "WHERE state NOT IN ('COMPLETED', 'COMPENSATED', 'FAILED')")[0]
              .as<long long>();
      if (unfinished == 0 || std::chrono::steady_clock::now() >= give_up) return unfinished;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("counting unfinished sagas: ") + e.what());
  }
}

// Issue 15, point 4: 1, 2, ... `max_coordinators` coordinators sharing one database, clients
// spread evenly over them, the 3-step closed loop; adds one run per count to `report`, then
// leaves one coordinator running as before.
absl::Status RunScaleOut(Stack& stack, const Flags& flags, const std::string& work_dir,
                         const LoadSpec& closed, int max_coordinators, BenchReport& report) {
  const Scenario three{3, false};
  for (int n = 1; n <= max_coordinators; ++n) {
    std::cerr << "bench: scale-out, " << n << " coordinator(s) on one database\n";
    if (auto s = StartCoordinators(stack, flags, work_dir, n); !s.ok()) return s;
    auto backlog = WaitForNoBacklog(stack, std::chrono::seconds(120));
    if (!backlog.ok()) return backlog.status();
    if (*backlog > 0) {
      std::cerr << "bench: scale-out, " << *backlog
                << " sagas of earlier runs still unfinished after 120 s: measuring anyway\n";
    }
    auto measured =
        Measure(stack, "3 linear, " + std::to_string(n) + " coordinator(s)", three, closed);
    if (!measured.ok()) return measured.status();
    measured->scale_out = true;
    report.runs.push_back(*measured);
  }
  return StartCoordinators(stack, flags, work_dir, 1);
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Does the cost stay flat as the database grows, can old sagas be deleted while work goes
// on, and what do sagas cost while they wait? Adds runs and figures to `report`.
absl::Status RunScaleChecks(Stack& stack, const Flags& flags, const LoadSpec& closed,
                            BenchReport& report) {
  const Scenario three{3, false};
  const RunReport* baseline = nullptr;
  for (const RunReport& r : report.runs) {
    if (r.definition == three.Name() && r.mode == "closed" && r.label == "3 linear") baseline = &r;
  }
  if (!baseline) return absl::InternalError("no 3-step baseline run to compare with");
  const RunReport before = *baseline;
  nlohmann::json& figures = report.scale;

  // 1. A database that has run for a while.
  std::cerr << "bench: storing " << flags.preload << " finished sagas\n";
  const auto preload_started = std::chrono::steady_clock::now();
  const std::string skald_uri = stack.postgres->ConnectionUri("skald");
  if (auto s = PreloadFinishedSagas(skald_uri, three.Name(), flags.preload); !s.ok()) return s;
  figures["preloaded_finished_sagas"] = flags.preload;
  figures["preload_seconds"] = Seconds(std::chrono::steady_clock::now() - preload_started);
  auto after = Measure(stack, "3 linear, " + std::to_string(flags.preload) + " finished stored",
                       three, closed);
  if (!after.ok()) return after.status();
  report.runs.push_back(*after);
  figures["throughput_after_preload_vs_before"] = after->sagas_per_second / before.sagas_per_second;
  figures["cpu_per_saga_after_preload_vs_before"] =
      after->coordinator_cpu_us_per_saga / before.coordinator_cpu_us_per_saga;

  // 2. Retention deleting the old sagas while the same load runs.
  stack.coordinator.reset();
  auto restarted = CoordinatorProcess::Start(
      flags.skald, skald_uri, stack.postgres->data_dir() + "/../coordinator-retention.log",
      {"--retention", "30d"});
  if (!restarted.ok()) return restarted.status();
  stack.coordinator = std::move(*restarted);
  stack.driver = std::make_unique<LoadDriver>(stack.coordinator->address());
  auto old_before = CountOldFinishedSagas(skald_uri);
  if (!old_before.ok()) return old_before.status();
  auto during = Measure(stack, "3 linear, retention deleting", three, closed);
  if (!during.ok()) return during.status();
  report.runs.push_back(*during);
  auto old_after = CountOldFinishedSagas(skald_uri);
  if (!old_after.ok()) return old_after.status();
  figures["throughput_during_retention_vs_before"] =
      during->sagas_per_second / before.sagas_per_second;
  figures["retention_deleted_sagas_per_second"] =
      (*old_before - *old_after) /
      (std::chrono::duration<double>(closed.warmup + closed.duration).count());
  figures["old_finished_sagas_left"] = *old_after;

  // 3. Sagas waiting on backoff timers.
  const Scenario wait{1, false};
  nlohmann::json definition = DefinitionFor(wait, stack.participants->plain_address());
  definition["name"] = "bench-1-wait";
  definition["defaults"]["retry"] = {
      {"max_attempts", 2}, {"initial_interval", "10m"}, {"max_interval", "10m"}};
  if (auto s = ApplyDefinition(stack.coordinator->address(), definition); !s.ok()) return s;
  auto rss_before = ReadProcessUsage(stack.coordinator->pid());
  if (!rss_before.ok()) return rss_before.status();
  const long long calls_before = stack.participants->calls();
  std::cerr << "bench: starting " << flags.waiting_sagas << " sagas that wait on a backoff\n";
  if (auto s = StartWaitingSagas(stack.coordinator->address(), "bench-1-wait", flags.waiting_sagas);
      !s.ok()) {
    return s;
  }
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (stack.participants->calls() < calls_before + flags.waiting_sagas &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto idle_start = ReadProcessUsage(stack.coordinator->pid());
  std::this_thread::sleep_for(std::chrono::seconds(10));
  auto idle_end = ReadProcessUsage(stack.coordinator->pid());
  if (!idle_start.ok() || !idle_end.ok()) return absl::InternalError("coordinator gone");
  figures["waiting_sagas"] = flags.waiting_sagas;
  figures["waiting_sagas_attempted"] = stack.participants->calls() - calls_before;
  figures["coordinator_cpu_share_while_waiting"] =
      (idle_end->cpu_seconds - idle_start->cpu_seconds) / 10.0;
  figures["coordinator_rss_bytes_per_waiting_saga"] =
      static_cast<double>(idle_end->rss_bytes - rss_before->rss_bytes) / flags.waiting_sagas;
  return absl::OkStatus();
}

int Main(const Flags& flags) {
  BenchReport report;
  report.quick = flags.quick;
  const auto seconds = std::chrono::seconds(flags.quick ? 4 : flags.seconds);
  if (flags.quick) {
    std::cerr << "bench: QUICK MODE: 4-second runs, one run per ceiling, no median: short, "
                 "for a smoke check; run without --quick for figures\n";
  }
  std::string work_dir = flags.work_dir;
  if (work_dir.empty()) {
    char pattern[] = "/tmp/skald-bench-XXXXXX";
    if (!mkdtemp(pattern)) {
      std::cerr << "bench: cannot create a work directory in /tmp\n";
      return 1;
    }
    work_dir = pattern;
    // The cluster runs as `postgres` when we are root: it must be able to enter.
    std::filesystem::permissions(work_dir, std::filesystem::perms::others_exec,
                                 std::filesystem::perm_options::add);
  }
  std::cerr << "bench: work directory " << work_dir << "\n";
  Stack stack;
  auto fail = [&](const absl::Status& status) {
    std::cerr << "bench: " << status.message() << "\n";
    return 1;
  };

  devdb::LocalPostgresOptions pg;
  pg.data_dir = work_dir + "/pg";
  pg.port = 5432;
  // Default durability (fsync and synchronous_commit on): the cost a saga must pay.
  pg.settings = {{"max_connections", "200"}, {"shared_buffers", "256MB"}};
  if (flags.statements) {
    for (auto& setting : StatementStatsSettings()) pg.settings.push_back(setting);
    stack.profile_statements = true;
  }
  auto postgres = devdb::LocalPostgres::Start(pg);
  if (!postgres.ok()) return fail(postgres.status());
  stack.postgres = std::move(*postgres);
  for (const char* db : {"skald", "ceiling", "participant"}) {
    if (auto s = stack.postgres->CreateDatabase(db); !s.ok()) return fail(s);
  }
  stack.stats_uri = stack.postgres->ConnectionUri("postgres");
  if (auto s = PrepareCeilingDatabase(*stack.postgres); !s.ok()) {
    return fail(Check(s, "ceiling database"));
  }

  std::vector<int> ceiling_steps = flags.quick ? std::vector<int>{3} : std::vector<int>{1, 3, 10};
  for (int steps : ceiling_steps) {
    auto storage = MeasureStorageCeiling(*stack.postgres, flags, steps, seconds);
    if (!storage.ok()) return fail(storage.status());
    report.ceilings.push_back(*storage);
    auto naive = MeasureNaiveWriter(*stack.postgres, flags, steps, seconds);
    if (!naive.ok()) return fail(naive.status());
    report.ceilings.push_back(*naive);
  }

  auto participants = NoopParticipants::Start(stack.postgres->ConnectionUri("participant"));
  if (!participants.ok()) return fail(Check(participants.status(), "participants"));
  stack.participants = std::move(*participants);
  std::cerr << "bench: gRPC ceiling, no-op calls, " << flags.concurrency << " in flight\n";
  const double own_cpu_before = ReadOwnCpuSeconds();
  auto grpc_rate = NoopCallRate(stack.participants->plain_address(), flags.concurrency, seconds);
  if (!grpc_rate.ok()) return fail(Check(grpc_rate.status(), "gRPC ceiling"));
  report.grpc_calls_per_second = *grpc_rate;
  // Client and server are both this process: its CPU over the calls made (warm-up included,
  // so a little high).
  report.grpc_cpu_us_per_call =
      (ReadOwnCpuSeconds() - own_cpu_before) / std::max(*grpc_rate * seconds.count(), 1.0) * 1e6;
  report.processors = static_cast<int>(std::thread::hardware_concurrency());
  std::cerr << "bench: gRPC ceiling: " << *grpc_rate << " calls/s\n";
  auto coordinator =
      CoordinatorProcess::Start(flags.skald, stack.postgres->ConnectionUri("skald"),
                                work_dir + "/coordinator.log", flags.coordinator_flags);
  if (!coordinator.ok()) return fail(coordinator.status());
  stack.coordinator = std::move(*coordinator);
  stack.driver = std::make_unique<LoadDriver>(stack.coordinator->address());

  struct Planned {
    std::string label;
    Scenario scenario;
    LoadSpec spec;
    // Open loop at this share of the closed-loop peak of the same scenario, measured first.
    double share_of_peak = 0;
  };
  LoadSpec closed;
  closed.concurrency = flags.concurrency;
  closed.duration = seconds;
  closed.warmup = std::chrono::milliseconds(flags.quick ? 1'000 : 2'000);
  LoadSpec open = closed;
  open.mode = LoadSpec::Mode::kOpen;
  std::vector<Planned> plan = {
      {"3 linear", {3, false}, closed},
      {"3 linear, open loop at 1/2 peak", {3, false}, open, 0.5},
      {"3 linear, 20% compensate", {3, false, 0.2}, closed},
      {"3 linear, barrier", {3, false, 0, true}, closed},
  };
  if (!flags.quick) {
    plan.insert(plan.begin(), {{"1 step", {1, false}, closed},
                               {"1 step, open loop at 1/2 peak", {1, false}, open, 0.5}});
    plan.push_back({"3 parallel", {3, true}, closed});
    plan.push_back({"10 linear", {10, false}, closed});
    plan.push_back({"10 linear, open loop at 1/2 peak", {10, false}, open, 0.5});
    plan.push_back({"10 parallel", {10, true}, closed});
    plan.push_back({"10 linear, 20% compensate", {10, false, 0.2}, closed});
    plan.push_back({"10 linear, barrier", {10, false, 0, true}, closed});
  }
  std::map<std::string, double> peaks;
  for (Planned& run : plan) {
    const std::string address = run.scenario.barrier ? stack.participants->barrier_address()
                                                     : stack.participants->plain_address();
    if (auto s =
            ApplyDefinition(stack.coordinator->address(), DefinitionFor(run.scenario, address));
        !s.ok()) {
      return fail(s);
    }
    if (run.share_of_peak > 0) run.spec.rate = peaks[run.scenario.Name()] * run.share_of_peak;
    auto measured = Measure(stack, run.label, run.scenario, run.spec);
    if (!measured.ok()) return fail(measured.status());
    if (run.spec.mode == LoadSpec::Mode::kClosed && run.scenario.compensate_share == 0) {
      peaks.emplace(run.scenario.Name(), measured->sagas_per_second);
    }
    report.runs.push_back(*measured);
  }
  {
    std::cerr << "bench: start only, " << flags.concurrency << " in flight\n";
    const Scenario three{3, false};
    auto starts =
        StartOnlyRate(stack.coordinator->address(), three.Name(), flags.concurrency, seconds);
    if (!starts.ok()) return fail(Check(starts.status(), "start only"));
    report.start_only_per_second = *starts;
    std::cerr << "bench: start only: " << *starts << " sagas/s\n";
  }
  // Quick: only when asked for (--coordinators 2 or more); full: always, up to 3 at least.
  const int scale_out_up_to = flags.quick ? flags.coordinators : std::max(3, flags.coordinators);
  if (scale_out_up_to > 1) {
    if (auto s = RunScaleOut(stack, flags, work_dir, closed, scale_out_up_to, report); !s.ok()) {
      return fail(Check(s, "scale-out"));
    }
  }
  for (const Ceiling& c : report.ceilings) {
    if (c.kind == kStorageCeiling && c.steps == 3 && peaks.contains(Scenario{3, false}.Name()) &&
        c.sagas_per_second > 0) {
      report.ratio_3_step = peaks[Scenario{3, false}.Name()] / c.sagas_per_second;
    }
  }

  if (!flags.quick) {
    // A failed check is reported with the figures measured so far, not instead of them.
    if (auto s = RunScaleChecks(stack, flags, closed, report); !s.ok()) {
      std::cerr << "bench: scale checks: " << s.message() << "\n";
      report.scale["error"] = std::string(s.message());
    }
  }

  stack.driver.reset();
  stack.coordinator.reset();
  stack.participants.reset();
  if (auto s = stack.postgres->Stop(); !s.ok()) std::cerr << "bench: " << s.message() << "\n";
  std::cout << ToTable(report);
  if (!flags.json_path.empty()) {
    std::ofstream(flags.json_path) << ToJson(report).dump(2) << "\n";
    std::cerr << "bench: JSON written to " << flags.json_path << "\n";
  }
  if (flags.work_dir.empty()) std::filesystem::remove_all(work_dir);
  return 0;
}

}  // namespace
}  // namespace skald::bench

int main(int argc, char** argv) {
  // The no-op participants and the load's clients run here: as in `skald serve`, gRPC's
  // locks should not pay for abseil's debug-build deadlock detection (Debian's abseil has no
  // NDEBUG), or the gRPC ceiling would understate gRPC and the load take CPU from Skald.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  skald::bench::Flags flags;
  CLI::App app{"skald_bench: Skald against PostgreSQL's own limit, in one run"};
  app.add_flag("--quick", flags.quick, "a run of under a minute: 3-step sagas only");
  app.add_flag("--statements", flags.statements,
               "rank the coordinator's statements by PostgreSQL's time in the first closed loop "
               "(pg_stat_statements; costs a little throughput)");
  app.add_option("--json", flags.json_path, "also write the figures as JSON to this file");
  app.add_option("--skald", flags.skald, "the skald binary")->capture_default_str();
  app.add_option("--concurrency", flags.concurrency, "sagas in flight in closed loops")
      ->capture_default_str();
  app.add_option("--ceiling-clients", flags.ceiling_clients,
                 "pgbench's clients for the naive writer (one commit per state change)")
      ->capture_default_str();
  app.add_option("--storage-clients", flags.storage_clients,
                 "pgbench's clients for the storage ceiling (many sagas per commit)")
      ->capture_default_str();
  app.add_option("--seconds", flags.seconds, "measured seconds per run (not in --quick)")
      ->capture_default_str();
  app.add_option("--preload", flags.preload,
                 "finished sagas stored before the scale run (not in --quick)")
      ->capture_default_str();
  app.add_option("--waiting-sagas", flags.waiting_sagas,
                 "sagas left waiting on backoff timers in the idle-cost check (not in --quick)")
      ->capture_default_str();
  app.add_option("--coordinators", flags.coordinators,
                 "also measure the 3-step closed loop with 1, 2, ... up to this many "
                 "coordinators on one database (the full run: 1, 2 and 3 at least)")
      ->check(CLI::Range(1, 8))
      ->capture_default_str();
  app.add_option("--work-dir", flags.work_dir,
                 "keep the cluster and logs here (default: a "
                 "temporary directory, removed at the end)");
  app.add_option(
      "--coordinator-flag", flags.coordinator_flags,
      "a flag passed on to skald serve (repeatable), e.g. --coordinator-flag=--log-level=debug");
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  return skald::bench::Main(flags);
}
