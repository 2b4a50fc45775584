#pragma once

#include <string>

#include "nlohmann/json.hpp"

namespace skald::sim {

// Returns `value` as PostgreSQL prints a jsonb (`detail::text`): object keys ordered by
// length and then bytewise, ", " between items and ": " after keys, strings escaped alike.
// Numbers are printed as nlohmann::json prints them; jsonb keeps a number's decimal text
// instead, so a fraction such as 1e-07 reads "1e-07" here and "0.0000001" there (the same
// value once parsed).
std::string JsonbText(const nlohmann::json& value);

}  // namespace skald::sim
