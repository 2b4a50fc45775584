#pragma once

#include <set>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

// Payloads (saga inputs, participant outputs) in log lines, with sensitive fields hidden.
namespace skald::observability {

// What a redacted value is replaced with.
inline constexpr std::string_view kRedacted = "[redacted]";

// The fields redacted when --redact-fields is not given.
inline constexpr std::string_view kDefaultRedactedFields = "password,card_number,cvv,token,secret";

// Returns the names in a comma-separated list ("a, b,c"), trimmed, lowercased, empty ones
// left out.
std::set<std::string> ParseFieldList(std::string_view list);

// Returns `payload` with the value of every object member whose name, lowercased, is in
// `fields` replaced by "[redacted]", at any depth (inside arrays too).
nlohmann::json Redact(const nlohmann::json& payload, const std::set<std::string>& fields);

// Sets the fields RedactedPayload hides, for the whole process (--redact-fields). Call
// before other threads log.
void SetRedactedFields(std::set<std::string> fields);

// Returns `json_text` as compact JSON with the configured fields redacted, for a log line;
// text that is not JSON is not shown, only its size.
std::string RedactedPayload(std::string_view json_text);

}  // namespace skald::observability
