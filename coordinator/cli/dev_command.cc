#include <spdlog/spdlog.h>

#include "coordinator/cli/commands.h"
#include "coordinator/cli/serve_command.h"
#include "coordinator/devdb/local_postgres.h"

namespace skald::cli {

int RunDev(const DevFlags& flags) {
  server::ServerOptions options;
  if (absl::Status applied = ApplyCoordinatorFlags(flags, options); !applied.ok()) {
    spdlog::error("{}", std::string(applied.message()));
    return 2;
  }
  // A development machine's receivers run on it: loopback is allowed without a flag.
  options.notify_allow.AllowLoopback();
  devdb::LocalPostgresOptions postgres_options;
  postgres_options.data_dir = flags.data_dir;
  auto postgres = devdb::LocalPostgres::Start(postgres_options);
  if (!postgres.ok()) {
    spdlog::error("cannot start the local PostgreSQL in {}: {}", flags.data_dir,
                  std::string(postgres.status().message()));
    return 1;
  }
  if (auto s = (*postgres)->CreateDatabase("skald"); !s.ok()) {
    spdlog::error("cannot create the database: {}", std::string(s.message()));
    return 1;
  }
  spdlog::info("local PostgreSQL in {}: {}", flags.data_dir, (*postgres)->ConnectionUri("skald"));
  options.database_uri = (*postgres)->ConnectionUri("skald");
  // One coordinator on its own cluster: a fixed name lets a restarted `skald dev` take its
  // unfinished sagas back at once.
  options.node_id = "skald-dev";
  return ServeUntilSignalled(options, flags.ready_file, flags.shutdown_grace,
                             flags.http_ready_file);
  // `postgres` stops the cluster it started when it goes out of scope.
}

}  // namespace skald::cli
