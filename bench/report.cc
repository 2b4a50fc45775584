#include "bench/report.h"

#include <cstdio>

namespace skald::bench {

double MachineBound(const BenchReport& report, const Ceiling& ceiling) {
  if (ceiling.kind != "storage ceiling" || ceiling.postgres_cpu_us_per_saga <= 0 ||
      report.grpc_cpu_us_per_call <= 0 || report.processors <= 0) {
    return 0;
  }
  const double cpu_us_per_saga =
      ceiling.postgres_cpu_us_per_saga + (ceiling.steps + 2) * report.grpc_cpu_us_per_call;
  return report.processors * 1e6 / cpu_us_per_saga;
}

nlohmann::json ToJson(const BenchReport& report) {
  nlohmann::json ceilings = nlohmann::json::array();
  for (const Ceiling& c : report.ceilings) {
    ceilings.push_back({{"kind", c.kind},
                        {"steps", c.steps},
                        {"clients", c.clients},
                        {"sagas_per_commit", c.sagas_per_commit},
                        {"commits_per_saga", c.commits_per_saga},
                        {"sagas_per_second", c.sagas_per_second},
                        {"samples", c.samples},
                        {"postgres_cpu_us_per_saga", c.postgres_cpu_us_per_saga}});
  }
  nlohmann::json runs = nlohmann::json::array();
  for (const RunReport& r : report.runs) {
    runs.push_back({{"label", r.label},
                    {"definition", r.definition},
                    {"mode", r.mode},
                    {"steps", r.steps},
                    {"concurrency", r.concurrency},
                    {"offered_rate", r.offered_rate},
                    {"sagas_per_second", r.sagas_per_second},
                    {"step_calls_per_second", r.step_calls_per_second},
                    {"latency_ms",
                     {{"p50", r.p50_ms}, {"p90", r.p90_ms}, {"p99", r.p99_ms}, {"max", r.max_ms}}},
                    {"coordinator_cpu_us_per_saga", r.coordinator_cpu_us_per_saga},
                    {"coordinator_cpu_us_per_step", r.coordinator_cpu_us_per_step},
                    {"coordinator_cpu_share_of_one_core", r.coordinator_cpu_share},
                    {"machine_busy_share", r.machine_busy_share},
                    {"commits_per_saga", r.commits_per_saga},
                    {"rows_written_per_saga", r.rows_written_per_saga},
                    {"coordinator_peak_rss_mb", r.coordinator_peak_rss_mb},
                    {"coordinator_threads", r.coordinator_threads},
                    {"deadlocks", r.deadlocks},
                    {"wal_bytes_per_saga", r.wal_bytes_per_saga},
                    {"wal_syncs_per_saga", r.wal_syncs_per_saga},
                    {"postgres_cpu_us_per_saga", r.postgres_cpu_us_per_saga},
                    {"hot_update_share", r.hot_update_share},
                    {"seq_scans", r.seq_scans},
                    {"index_scans", r.index_scans},
                    {"completed", r.completed},
                    {"compensated", r.compensated},
                    {"failed", r.failed},
                    {"errors", r.errors},
                    {"first_error", r.first_error},
                    {"coordinators", r.coordinators},
                    {"scale_out", r.scale_out}});
  }
  nlohmann::json out = {
      {"quick", report.quick}, {"ceilings", ceilings}, {"runs", runs}, {"scale", report.scale}};
  out["grpc_noop_calls_per_second"] = report.grpc_calls_per_second;
  out["grpc_cpu_us_per_call"] = report.grpc_cpu_us_per_call;
  for (const Ceiling& c : report.ceilings) {
    if (const double bound = MachineBound(report, c); bound > 0) {
      out["machine_bound_sagas_per_second"][std::to_string(c.steps)] = bound;
    }
  }
  out["start_only_sagas_per_second"] = report.start_only_per_second;
  if (report.ratio_3_step) out["ratio_3_step_linear_vs_storage_ceiling"] = *report.ratio_3_step;
  return out;
}

std::string ToTable(const BenchReport& report) {
  std::string out;
  char line[512];
  if (report.quick) {
    out +=
        "QUICK MODE: every figure from one short run (no median of 3); for a decision, run "
        "without --quick.\n\n";
  }
  out += "PostgreSQL writing Skald's rows (pgbench, same cluster, Skald not running):\n";
  for (const Ceiling& c : report.ceilings) {
    std::string samples;
    for (double v : c.samples) samples += (samples.empty() ? "" : " ") + std::to_string(int(v));
    std::snprintf(
        line, sizeof line,
        "  %-16s %2d steps  %2d clients  %2d sagas/commit  %5.2f commits/saga  %8.0f "
        "sagas/s  (runs: %s)%s\n",
        c.kind.c_str(), c.steps, c.clients, c.sagas_per_commit, c.commits_per_saga,
        c.sagas_per_second, samples.c_str(),
        c.postgres_cpu_us_per_saga > 0
            ? ("  PostgreSQL CPU " + std::to_string(int(c.postgres_cpu_us_per_saga)) + " us/saga")
                  .c_str()
            : "");
    out += line;
  }
  std::snprintf(line, sizeof line,
                "gRPC ceiling: %.0f no-op unary calls/s on loopback (a saga of N steps makes N + "
                "2), %.0f us of CPU per call (client and server)\n",
                report.grpc_calls_per_second, report.grpc_cpu_us_per_call);
  out += line;
  for (const Ceiling& c : report.ceilings) {
    if (const double bound = MachineBound(report, c); bound > 0) {
      std::snprintf(line, sizeof line,
                    "machine bound, %2d steps: %.0f sagas/s (%d processors / (PostgreSQL's CPU "
                    "per saga at the storage ceiling + %d no-op calls' CPU): a coordinator that "
                    "cost nothing)\n",
                    c.steps, bound, report.processors, c.steps + 2);
      out += line;
    }
  }
  out += "\nSkald (coordinator, no-op participants and load generator on this machine):\n";
  std::snprintf(line, sizeof line,
                "  %-34s %-6s %5s %8s %8s %7s %7s %7s %7s %8s %7s %7s %6s %6s %5s\n", "run", "mode",
                "load", "sagas/s", "calls/s", "p50ms", "p90ms", "p99ms", "maxms", "us/saga",
                "us/step", "commits", "rows", "rss MB", "errs");
  out += line;
  for (const RunReport& r : report.runs) {
    const std::string load = r.mode == "open" ? std::to_string(static_cast<int>(r.offered_rate))
                                              : std::to_string(r.concurrency);
    std::snprintf(line, sizeof line,
                  "  %-34s %-6s %5s %8.0f %8.0f %7.1f %7.1f %7.1f %7.1f %8.0f %7.1f %7.2f %6.1f "
                  "%6.0f %5lld\n",
                  r.label.c_str(), r.mode.c_str(), load.c_str(), r.sagas_per_second,
                  r.step_calls_per_second, r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms,
                  r.coordinator_cpu_us_per_saga, r.coordinator_cpu_us_per_step, r.commits_per_saga,
                  r.rows_written_per_saga, r.coordinator_peak_rss_mb, r.errors);
    out += line;
  }
  out +=
      "  (load: sagas in flight for closed loops, sagas/s offered for open loops; us/saga, "
      "us/step: "
      "coordinator CPU time; commits, rows: PostgreSQL commits and rows written per saga)\n";
  std::snprintf(line, sizeof line, "\n  %-34s %9s %9s %9s %6s %9s %9s %7s %8s\n", "run",
                "deadlocks", "WAL B/sg", "fsync/sg", "HOT %", "seq scans", "idx scans", "threads",
                "pg us/sg");
  out += line;
  for (const RunReport& r : report.runs) {
    std::snprintf(line, sizeof line, "  %-34s %9lld %9.0f %9.3f %6.1f %9lld %9lld %7d %8.0f\n",
                  r.label.c_str(), r.deadlocks, r.wal_bytes_per_saga, r.wal_syncs_per_saga,
                  r.hot_update_share * 100, r.seq_scans, r.index_scans, r.coordinator_threads,
                  r.postgres_cpu_us_per_saga);
    out += line;
  }
  if (report.start_only_per_second > 0) {
    std::snprintf(line, sizeof line, "\nStart only (StartSaga, nobody waiting): %.0f sagas/s\n",
                  report.start_only_per_second);
    out += line;
  }
  for (const RunReport& r : report.runs) {
    if (r.mode != "closed" || r.label.find("parallel") != std::string::npos ||
        r.label.find(',') != std::string::npos) {
      continue;
    }
    for (const Ceiling& c : report.ceilings) {
      if (c.steps != r.steps || c.sagas_per_second <= 0) continue;
      std::snprintf(line, sizeof line, "Skald %s / %s: %.2fx\n", r.label.c_str(), c.kind.c_str(),
                    r.sagas_per_second / c.sagas_per_second);
      out += line;
    }
    for (const Ceiling& c : report.ceilings) {
      if (c.steps != r.steps) continue;
      if (const double bound = MachineBound(report, c); bound > 0) {
        std::snprintf(line, sizeof line, "Skald %s / machine bound: %.2fx\n", r.label.c_str(),
                      r.sagas_per_second / bound);
        out += line;
      }
    }
    if (report.grpc_calls_per_second > 0) {
      std::snprintf(line, sizeof line, "Skald %s / gRPC ceiling (%d calls/saga): %.2fx\n",
                    r.label.c_str(), r.steps + 2,
                    r.sagas_per_second / (report.grpc_calls_per_second / (r.steps + 2)));
      out += line;
    }
  }
  const RunReport* alone = nullptr;
  for (const RunReport& r : report.runs) {
    if (r.scale_out && r.coordinators == 1) alone = &r;
  }
  if (alone) {
    out += "\nScale-out (3-step closed loop, clients spread evenly, one database):\n";
    std::snprintf(line, sizeof line, "  %12s %8s %9s %9s %8s %7s %6s\n", "coordinators", "sagas/s",
                  "vs 1", "deadlocks", "us/step", "p99ms", "errs");
    out += line;
    for (const RunReport& r : report.runs) {
      if (!r.scale_out) continue;
      std::snprintf(line, sizeof line, "  %12d %8.0f %8.2fx %9lld %8.1f %7.1f %6lld\n",
                    r.coordinators, r.sagas_per_second,
                    alone->sagas_per_second > 0 ? r.sagas_per_second / alone->sagas_per_second : 0,
                    r.deadlocks, r.coordinator_cpu_us_per_step, r.p99_ms, r.errors);
      out += line;
    }
    out += "  (us/step: all coordinators' CPU time together)\n";
  }
  if (!report.scale.empty()) out += "\nScale:\n" + report.scale.dump(2) + "\n";
  if (report.ratio_3_step) {
    std::snprintf(line, sizeof line,
                  "\nHEADLINE Skald / storage ceiling, 3-step linear saga: %.2fx (target >= 0.5, "
                  "stretch 0.75)\n",
                  *report.ratio_3_step);
    out += line;
  }
  return out;
}

}  // namespace skald::bench
