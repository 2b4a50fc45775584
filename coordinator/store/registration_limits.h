// How many participant registrations RegistryStore (registry_store.h) keeps live: a plain
// struct, so that the flags that fill it compile no libpqxx.
#pragma once

#include <cstddef>

namespace skald::store {

// Live registrations are bounded so that a runaway or hostile registrar cannot fill the
// table, every coordinator's directory and every listing (500 registrations in 3 s once
// broke `skald participant list`).
struct RegistrationLimits {
  size_t max_per_service = 200;
  size_t max_total = 2000;
};

}  // namespace skald::store
