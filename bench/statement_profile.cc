#include "bench/statement_profile.h"

#include <cstdio>
#include <pqxx/pqxx>

namespace skald::bench {

std::vector<std::pair<std::string, std::string>> StatementStatsSettings() {
  return {{"shared_preload_libraries", "pg_stat_statements"},
          {"pg_stat_statements.track", "all"},
          {"pg_stat_statements.track_planning", "on"}};
}

absl::Status ResetStatementStats(const std::string& uri) {
  try {
    pqxx::connection c(uri);
    pqxx::nontransaction tx(c);
    tx.exec0("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    tx.exec("SELECT pg_stat_statements_reset()");
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("resetting pg_stat_statements: ") + e.what());
  }
}

absl::StatusOr<std::vector<StatementCost>> ReadStatementStats(const std::string& uri, int top) {
  try {
    pqxx::connection c(uri);
    pqxx::nontransaction tx(c);
    const pqxx::result rows = tx.exec_params(
        "SELECT regexp_replace(left(query, 400), '\\s+', ' ', 'g'), calls, rows, "
        "total_plan_time, total_exec_time FROM pg_stat_statements "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "ORDER BY total_plan_time + total_exec_time DESC LIMIT $1",
        top);
    std::vector<StatementCost> costs;
    for (const auto& row : rows) {
      costs.push_back({row[0].as<std::string>(), row[1].as<long long>(), row[2].as<long long>(),
                       row[3].as<double>(), row[4].as<double>()});
    }
    return costs;
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("reading pg_stat_statements: ") + e.what());
  }
}

std::string StatementTable(const std::vector<StatementCost>& costs, double sagas) {
  std::string out = "  calls/saga  rows/saga  plan us/saga  exec us/saga  statement\n";
  char line[256];
  for (const StatementCost& c : costs) {
    std::snprintf(line, sizeof line, "  %10.3f %10.2f %13.1f %13.1f  ", c.calls / sagas,
                  c.rows / sagas, c.plan_ms * 1e3 / sagas, c.exec_ms * 1e3 / sagas);
    out += line;
    out += c.query.substr(0, 160);
    out += "\n";
  }
  return out;
}

}  // namespace skald::bench
