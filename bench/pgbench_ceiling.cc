#include "bench/pgbench_ceiling.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>

#include "coordinator/devdb/subprocess.h"

namespace skald::bench {
namespace {

// One state change of a step: the saga row written under its lease (as Skald's fencing
// does), the step row, and an event, in one transaction.
std::string StepTransition(int position, const std::string& state, const std::string& event) {
  const std::string step = "'s" + std::to_string(position + 1) + "'";
  return "BEGIN;\n"
         "UPDATE sagas SET state = 'RUNNING', error = '', updated_at = now() "
         "WHERE id = :saga_id AND owner = 'pgbench' AND lease_token = 1;\n"
         "UPDATE saga_steps SET state = '" +
         state + "', attempts = 1, input = '{}', output = '{}', updated_at = now() " +
         "WHERE saga_id = :saga_id AND position = " + std::to_string(position) +
         ";\n"
         "INSERT INTO saga_events (saga_id, type, step, phase, attempt, detail) "
         "VALUES (:saga_id, '" +
         event + "', " + step + ", 'action', 1, '{}');\nCOMMIT;\n";
}

}  // namespace

std::string NaiveWriterScript(int steps) {
  std::string script =
      "BEGIN;\n"
      "INSERT INTO sagas (id, definition_name, definition_version, state, input, owner, "
      "lease_token, lease_expires_at) VALUES (gen_random_uuid()::text, 'ceiling', 1, "
      "'RUNNING', '{}', 'pgbench', 1, now() + interval '5 seconds') RETURNING id AS saga_id "
      "\\gset\n"
      "INSERT INTO saga_steps (saga_id, position, name, state) VALUES ";
  for (int i = 0; i < steps; ++i) {
    script += (i ? ", " : "") + std::string("(:saga_id, ") + std::to_string(i) + ", 's" +
              std::to_string(i + 1) + "', 'PENDING')";
  }
  script +=
      ";\nINSERT INTO saga_events (saga_id, type, detail) "
      "VALUES (:saga_id, 'saga_created', '{}');\nCOMMIT;\n";
  for (int i = 0; i < steps; ++i) {
    script += StepTransition(i, "RUNNING", "attempt_started");
    script += StepTransition(i, "SUCCEEDED", "attempt_succeeded");
  }
  script +=
      "BEGIN;\n"
      "UPDATE sagas SET state = 'COMPLETED', output = '{}', updated_at = now() "
      "WHERE id = :saga_id AND owner = 'pgbench' AND lease_token = 1;\n"
      "INSERT INTO saga_events (saga_id, type, detail) "
      "VALUES (:saga_id, 'saga_completed', '{}');\nCOMMIT;\n";
  return script;
}

namespace {

std::string StepName(int position) { return "'s" + std::to_string(position + 1) + "'"; }

// One commit of the storage ceiling: every saga of the run (:ids) rewritten under its lease
// as Skald's batch does, the steps that changed, and the events recorded.
std::string BatchTransition(const std::string& saga_state, bool finished,
                            const std::vector<std::pair<int, std::string>>& step_states,
                            const std::vector<std::pair<std::string, int>>& events) {
  std::string sql =
      "BEGIN;\n"
      "UPDATE sagas SET state = '" +
      saga_state + "', error = '', output = " + (finished ? "'{}'" : "NULL") +
      ", deadline_at = NULL, updated_at = now(), finished_at = " + (finished ? "now()" : "NULL") +
      " WHERE id = ANY (:ids::text[]) AND owner = 'pgbench' AND lease_token = 1;\n";
  for (const auto& [position, state] : step_states) {
    sql += "UPDATE saga_steps SET state = '" + state +
           "', attempts = 1, input = '{}', output = " + (state == "SUCCEEDED" ? "'{}'" : "NULL") +
           ", updated_at = now() WHERE saga_id = ANY (:ids::text[]) AND position = " +
           std::to_string(position) + ";\n";
  }
  sql +=
      "INSERT INTO saga_events (saga_id, type, step, phase, attempt, detail) SELECT id, e.type, "
      "e.step, e.phase, e.attempt, '{}' FROM unnest(:ids::text[]) AS id, (VALUES ";
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& [type, step] = events[i];
    sql += std::string(i ? ", " : "") + "(" + std::to_string(i) + ", '" + type + "', " +
           (step >= 0 ? StepName(step) + ", 'action', 1" : "NULL, NULL, 0") + ")";
  }
  sql += ") AS e(seq, type, step, phase, attempt) ORDER BY id, e.seq;\nCOMMIT;\n";
  return sql;
}

}  // namespace

std::string StorageCeilingScript(int steps, int sagas) {
  std::string script =
      "BEGIN;\n"
      "WITH saga AS (INSERT INTO sagas (id, definition_name, definition_version, state, input, "
      "owner, lease_token, lease_expires_at) SELECT gen_random_uuid()::text, 'ceiling', 1, "
      "'RUNNING', '{}', 'pgbench', 1, now() + interval '5 seconds' FROM generate_series(1, " +
      std::to_string(sagas) +
      ") RETURNING id), "
      "steps AS (INSERT INTO saga_steps (saga_id, position, name, state) SELECT saga.id, p, "
      "'s' || (p + 1), 'PENDING' FROM saga, generate_series(0, " +
      std::to_string(steps - 1) +
      ") AS p), "
      "created AS (INSERT INTO saga_events (saga_id, type, detail) SELECT id, 'saga_created', "
      "'{}' FROM saga) "
      "SELECT array_agg(id)::text AS ids FROM saga \\gset\n"
      "COMMIT;\n";
  script += BatchTransition("RUNNING", false, {{0, "RUNNING"}}, {{"attempt_started", 0}});
  for (int i = 0; i + 1 < steps; ++i) {
    script += BatchTransition("RUNNING", false, {{i, "SUCCEEDED"}, {i + 1, "RUNNING"}},
                              {{"attempt_succeeded", i}, {"attempt_started", i + 1}});
  }
  script += BatchTransition("COMPLETED", true, {{steps - 1, "SUCCEEDED"}},
                            {{"attempt_succeeded", steps - 1}, {"saga_completed", -1}});
  return script;
}

absl::StatusOr<double> RunPgbench(const std::string& socket_dir, int port,
                                  const std::string& database, const std::string& script,
                                  int sagas_per_run, int clients, std::chrono::seconds duration) {
  char path[] = "/tmp/skald-bench-ceiling-XXXXXX.sql";
  const int fd = mkstemps(path, 4);
  if (fd < 0) return absl::InternalError("cannot create the pgbench script file");
  close(fd);
  std::ofstream(path) << script;
  devdb::RunOptions options;
  options.timeout = absl::Seconds(duration.count() + 60);
  auto run = devdb::RunCommand({"pgbench", "-n", "-M", "prepared", "-c", std::to_string(clients),
                                "-j", "2", "-T", std::to_string(duration.count()), "-f", path, "-h",
                                socket_dir, "-p", std::to_string(port), "-U", "postgres", database},
                               options);
  std::remove(path);
  if (!run.ok()) return run.status();
  if (run->exit_code != 0) {
    return absl::InternalError("pgbench exited with " + std::to_string(run->exit_code) + ": " +
                               devdb::TailOf(run->output, 2000));
  }
  std::smatch match;
  if (!std::regex_search(run->output, match, std::regex(R"(tps = ([0-9.]+))"))) {
    return absl::InternalError("no tps in pgbench's output: " + devdb::TailOf(run->output, 2000));
  }
  return std::stod(match[1].str()) * sagas_per_run;
}

}  // namespace skald::bench
