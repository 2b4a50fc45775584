// The PostgreSQL cluster of a test binary, and a fresh database per test.
#ifndef SKALD_TESTS_SUPPORT_TEST_POSTGRES_H_
#define SKALD_TESTS_SUPPORT_TEST_POSTGRES_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "coordinator/devdb/local_postgres.h"

namespace skald::testing {

// Returns the cluster shared by every test in this process, starting it on first use in a
// fresh directory /tmp/skald-testpg-XXXXXX (fsync off). It is stopped and its directory
// removed when the process exits normally. If the process is killed instead, the next test
// binary to start a cluster stops that server and removes its directory. An error (e.g.
// initdb failed) is returned to every caller. Thread-safe.
absl::StatusOr<devdb::LocalPostgres*> SharedTestPostgres();

// Creates a new database in the shared cluster, named <prefix>_<n>, and returns its
// connection URI, so that tests do not see each other's rows. REQUIRES: prefix matches
// [a-z0-9_]{1,40}. Thread-safe.
absl::StatusOr<std::string> FreshDatabase(std::string_view prefix = "test");

}  // namespace skald::testing

#endif  // SKALD_TESTS_SUPPORT_TEST_POSTGRES_H_
