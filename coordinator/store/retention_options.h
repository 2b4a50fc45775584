// How the RetentionSweeper (retention_sweeper.h) deletes long-finished sagas: a plain
// struct, so that the flags that fill it compile no store.
#pragma once

#include <chrono>

namespace skald::store {

struct RetentionOptions {
  // Finished (COMPLETED, COMPENSATED) sagas older than this are deleted; zero keeps them.
  std::chrono::milliseconds retention{0};
  // Sagas per delete transaction: small enough that no batch holds locks or the WAL for
  // long.
  int batch = 500;
  // The pause after a full batch, so that a backlog of millions never crowds out sagas in
  // flight; and the wait between sweeps once nothing is old enough.
  std::chrono::milliseconds pause{20};
  std::chrono::milliseconds idle_interval{60'000};
};

}  // namespace skald::store
