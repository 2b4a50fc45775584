#pragma once

#include <cstdint>
#include <string>
#include <string_view>

// How a receiver can trust a notification: the HMAC-SHA256 of the timestamp and the body
// under a secret shared with the coordinator (see docs/notifications.md).
namespace skald::notify {

// Returns HMAC-SHA256(key, data) as 64 lowercase hex digits.
std::string HmacSha256Hex(std::string_view key, std::string_view data);

// Returns the X-Skald-Signature header value of a notification sent at `timestamp` (Unix
// seconds, as in X-Skald-Timestamp) with `body`:
// "sha256=" + hex(HMAC-SHA256(secret, "<timestamp>.<body>")).
std::string SignatureHeader(std::string_view secret, int64_t timestamp, std::string_view body);

}  // namespace skald::notify
