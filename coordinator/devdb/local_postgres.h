// A PostgreSQL cluster that Skald runs itself, in a local data directory: the database of
// `skald dev` and of the integration and end-to-end tests.
#ifndef SKALD_COORDINATOR_DEVDB_LOCAL_POSTGRES_H_
#define SKALD_COORDINATOR_DEVDB_LOCAL_POSTGRES_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace skald::devdb {

struct LocalPostgresOptions {
  // Where the cluster lives. Created if missing; initdb runs only if it holds no cluster yet,
  // so a later Start on the same directory reuses the data. Relative paths are made absolute.
  // Must not contain `"`, `$`, backquote, backslash or control characters (pg_ctl passes
  // the path through /bin/sh).
  std::string data_dir;
  // The number in the socket file's name (<socket dir>/.s.PGSQL.<port>). The server listens
  // on no TCP port at all, so this never collides with anything else on the machine.
  int port = 5432;
  // Where the unix socket goes; empty means data_dir. The socket's path must fit in 107
  // bytes: "<socket_dir>/.s.PGSQL.<port>", and may not contain a comma (libpq's host list).
  std::string socket_dir;
  // Directory holding initdb, pg_ctl and postgres; empty means the highest version in
  // /usr/lib/postgresql/<version>/bin, else `pg_config --bindir`.
  std::string bin_dir;
  // Turns off fsync, synchronous_commit and full_page_writes: faster, but a machine crash
  // can lose or corrupt the cluster. For tests only.
  bool fsync_off = false;
  // Further server settings (name, value), applied after Skald's own, so they win.
  // Names must match [a-z0-9_.]+; values are quoted for you.
  std::vector<std::pair<std::string, std::string>> settings;
};

// One local cluster. When the process runs as root, initdb and the server run as the
// `postgres` user (through runuser) and the data directory is chowned to it; the server is
// reached over a unix socket only (listen_addresses = ''), as database user `postgres`
// with trust authentication. Not thread-safe, except ConnectionUri and the accessors.
class LocalPostgres {
 public:
  // Returns a running cluster in options.data_dir: starts it (running initdb first if there
  // is no cluster yet), or reuses a server already running there, e.g. a `skald dev` still
  // up. When reusing, options.port/socket_dir/settings are not applied: ConnectionUri
  // reflects the running server. Takes about 1 s with initdb, 0.1 s without, on 2 cores.
  // Errors name the directory or command, its exit code and the tail of its output or of
  // the server log.
  static absl::StatusOr<std::unique_ptr<LocalPostgres>> Start(const LocalPostgresOptions& options);

  LocalPostgres(const LocalPostgres&) = delete;
  LocalPostgres& operator=(const LocalPostgres&) = delete;
  // Stops the server if this object started it and Stop was not called.
  ~LocalPostgres();

  // Returns a libpq URI for `database`, e.g.
  // postgresql://postgres@/skald?host=/tmp/x/data&port=5432 (both parts percent-encoded).
  std::string ConnectionUri(std::string_view database = "postgres") const;

  // Creates the database unless it exists. REQUIRES: name matches [a-z0-9_]{1,63}
  // (anything else is INVALID_ARGUMENT). Safe to call concurrently for the same name.
  absl::Status CreateDatabase(std::string_view name);

  // Stops the server (pg_ctl stop -m fast), whether or not this object started it. OK if it
  // is not running.
  absl::Status Stop();

  // True if this object started the server (rather than reusing a running one).
  bool started_server() const { return started_server_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& socket_dir() const { return socket_dir_; }
  int port() const { return port_; }
  // The server's log (its stdout and stderr), inside the data directory.
  const std::string& log_path() const { return log_path_; }

 private:
  LocalPostgres() = default;

  // Runs a server program, as the postgres user when we are root.
  std::vector<std::string> ServerCommand(std::string_view program,
                                         std::vector<std::string> args) const;

  std::string data_dir_;
  std::string socket_dir_;
  std::string log_path_;
  std::string bin_dir_;
  int port_ = 0;
  bool run_as_postgres_ = false;
  bool started_server_ = false;
  bool stop_on_destruction_ = false;
};

}  // namespace skald::devdb

#endif  // SKALD_COORDINATOR_DEVDB_LOCAL_POSTGRES_H_
