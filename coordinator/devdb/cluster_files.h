// The files of a PostgreSQL data directory that LocalPostgres reads and writes.
#ifndef SKALD_COORDINATOR_DEVDB_CLUSTER_FILES_H_
#define SKALD_COORDINATOR_DEVDB_CLUSTER_FILES_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace skald::devdb {

// The name of the file, next to postgresql.conf, that holds Skald's server settings.
inline constexpr char kSkaldConfigFile[] = "skald_devdb.conf";

// What a running server wrote to <data_dir>/postmaster.pid.
struct PostmasterInfo {
  pid_t pid = 0;
  int port = 0;
  std::string socket_dir;  // The first unix socket directory; empty if none.
  std::string status;      // "starting", "stopping", "ready" or "standby".
};

// Returns the contents of <data_dir>/postmaster.pid if the file exists and the process it
// names is still a live postgres; nullopt otherwise (never ran, stopped, or a stale file).
std::optional<PostmasterInfo> ReadLivePostmaster(const std::string& data_dir);

// Returns `value` as a postgresql.conf string literal, quotes included.
std::string QuoteConfigString(std::string_view value);

// Returns the value of unix_socket_directories naming exactly `dir`.
std::string SocketDirectoriesSetting(std::string_view dir);

// Writes `settings` to <data_dir>/kSkaldConfigFile (replacing it) and makes sure
// postgresql.conf includes that file. The file gets owner `owner`:`group` (-1 keeps ours).
absl::Status WriteSkaldConfig(const std::string& data_dir,
                              const std::vector<std::pair<std::string, std::string>>& settings,
                              uid_t owner, gid_t group);

// Returns true if `dir` exists and holds a PostgreSQL cluster (a PG_VERSION file).
bool HoldsCluster(const std::string& dir);

}  // namespace skald::devdb

#endif  // SKALD_COORDINATOR_DEVDB_CLUSTER_FILES_H_
