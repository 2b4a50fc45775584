#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace skald::bench {

// What PostgreSQL spent on one statement shape of the coordinator's during a window
// (pg_stat_statements): where the database's share of a saga's cost goes.
struct StatementCost {
  std::string query;  // normalized by PostgreSQL, cut to a line
  long long calls = 0;
  long long rows = 0;
  double plan_ms = 0;
  double exec_ms = 0;
};

// The settings a cluster needs for pg_stat_statements to count (planning too).
std::vector<std::pair<std::string, std::string>> StatementStatsSettings();

// Creates the extension in the database `uri` reaches if needed and forgets what was counted.
absl::Status ResetStatementStats(const std::string& uri);

// The `top` statements of the database `uri` reaches by planning + execution time.
absl::StatusOr<std::vector<StatementCost>> ReadStatementStats(const std::string& uri, int top);

// A table of `costs` per saga: calls, rows, µs of planning and execution.
std::string StatementTable(const std::vector<StatementCost>& costs, double sagas);

}  // namespace skald::bench
