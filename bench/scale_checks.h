#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace skald::bench {

// Stores `count` finished 3-step sagas of definition `definition` (applied already), with
// their steps and eight events each, finished 40 days ago: a database that has run for a
// while. Commits every 50,000 sagas, then VACUUM ANALYZE.
absl::Status PreloadFinishedSagas(const std::string& database_uri, const std::string& definition,
                                  long long count);

// Returns how many finished sagas older than 30 days are still stored.
absl::StatusOr<long long> CountOldFinishedSagas(const std::string& database_uri);

// Starts `count` sagas of `definition` with input {"wait": true}: each one's first attempt
// answers retryable and the saga then waits out its backoff.
absl::Status StartWaitingSagas(const std::string& coordinator_address,
                               const std::string& definition, int count);

}  // namespace skald::bench
