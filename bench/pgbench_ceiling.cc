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

std::string CeilingScript(int steps) {
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

absl::StatusOr<Ceiling> MeasureCeiling(const std::string& socket_dir, int port,
                                       const std::string& database, int steps, int clients,
                                       std::chrono::seconds duration) {
  char path[] = "/tmp/skald-bench-ceiling-XXXXXX.sql";
  const int fd = mkstemps(path, 4);
  if (fd < 0) return absl::InternalError("cannot create the pgbench script file");
  close(fd);
  std::ofstream(path) << CeilingScript(steps);
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
  return Ceiling{steps, clients, std::stod(match[1].str()), 2 * steps + 2};
}

}  // namespace skald::bench
