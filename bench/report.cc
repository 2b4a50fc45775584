#include "bench/report.h"

#include <cstdio>

namespace skald::bench {

nlohmann::json ToJson(const BenchReport& report) {
  nlohmann::json ceilings = nlohmann::json::array();
  for (const Ceiling& c : report.ceilings) {
    ceilings.push_back({{"steps", c.steps},
                        {"clients", c.clients},
                        {"commits_per_saga", c.commits_per_saga},
                        {"sagas_per_second", c.sagas_per_second}});
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
                    {"completed", r.completed},
                    {"compensated", r.compensated},
                    {"failed", r.failed},
                    {"errors", r.errors},
                    {"first_error", r.first_error}});
  }
  nlohmann::json out = {
      {"quick", report.quick}, {"ceilings", ceilings}, {"runs", runs}, {"scale", report.scale}};
  if (report.ratio_3_step) out["ratio_3_step_linear_vs_ceiling"] = *report.ratio_3_step;
  return out;
}

std::string ToTable(const BenchReport& report) {
  std::string out;
  char line[512];
  out += "PostgreSQL ceiling (pgbench, one commit per state change, same database cluster):\n";
  for (const Ceiling& c : report.ceilings) {
    std::snprintf(line, sizeof line, "  %2d steps  %2d clients  %2d commits/saga  %8.0f sagas/s\n",
                  c.steps, c.clients, c.commits_per_saga, c.sagas_per_second);
    out += line;
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
  if (!report.scale.empty()) out += "\nScale:\n" + report.scale.dump(2) + "\n";
  if (report.ratio_3_step) {
    std::snprintf(line, sizeof line,
                  "\nSkald / ceiling, 3-step linear saga: %.2fx (target >= 1.0, stretch 1.5)\n",
                  *report.ratio_3_step);
    out += line;
  }
  return out;
}

}  // namespace skald::bench
