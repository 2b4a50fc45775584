#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "coordinator/store/connection.h"

namespace skald::store {

// Returns the cluster's secret named `name` (raw bytes), creating it with `candidate` when
// none is stored yet. Every coordinator offers its own random candidate; the first insert
// wins (INSERT ... ON CONFLICT DO NOTHING) and everyone reads back the same stored bytes.
// REQUIRES: candidate.size() >= 32. UNAVAILABLE when the database cannot be reached.
absl::StatusOr<std::string> LoadOrCreateClusterSecret(ConnectionPool& pool, const std::string& name,
                                                      const std::string& candidate);

}  // namespace skald::store
