// Who the PostgreSQL server runs as, and whether that account can reach a path.
#ifndef SKALD_COORDINATOR_DEVDB_SYSTEM_ACCOUNT_H_
#define SKALD_COORDINATOR_DEVDB_SYSTEM_ACCOUNT_H_

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace skald::devdb {

struct SystemAccount {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  // Every group the account is in, its primary group included.
  std::vector<gid_t> groups;
};

// Returns the account called `name`, or NOT_FOUND.
absl::StatusOr<SystemAccount> LookUpAccount(std::string_view name);

// Returns OK if `account` may enter (search) every directory from "/" down to and including
// `dir`. Otherwise FAILED_PRECONDITION naming the first directory it cannot enter, with its
// mode and owner. Looks at mode bits only (not ACLs). REQUIRES: dir is absolute.
absl::Status CheckCanEnter(const std::string& dir, const SystemAccount& account);

// Changes the owner of `path` (not recursively) to the account.
absl::Status ChownTo(const std::string& path, const SystemAccount& account);

}  // namespace skald::devdb

#endif  // SKALD_COORDINATOR_DEVDB_SYSTEM_ACCOUNT_H_
