#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace skald::core {

// What PostgreSQL refuses to store, checked before a value costs a transaction: a `text`
// column takes no NUL byte and only valid UTF-8 (the cluster's encoding), and `jsonb` also
// refuses the escape \u0000 in any string. Everything that enters from outside (client
// requests, participant replies, registrations, operator actions) passes these checks at
// the boundary, so that a refusal is the sender's error and never a transition that the
// database refuses later.

// Returns OK when `text` is valid UTF-8 without NUL bytes; otherwise INVALID_ARGUMENT
// naming `what` and the byte offset, e.g. "reason: a NUL byte at byte 12 (PostgreSQL
// cannot store it)".
absl::Status CheckStorableText(std::string_view text, std::string_view what);

// Returns OK when every string of `value`, object keys included, passes CheckStorableText;
// otherwise INVALID_ARGUMENT naming `what` and the JSON pointer of the first offender,
// e.g. "output at /items/3/name: a NUL character (\u0000) at byte 4 (...)".
absl::Status CheckStorableJson(const nlohmann::json& value, std::string_view what);

// Returns `text` made storable, for text that is shown rather than refused (a participant's
// error message, a webhook receiver's answer): NUL bytes and invalid UTF-8 sequences become
// U+FFFD, and text longer than `max_bytes` is cut at a character boundary and ends with
// "... (N bytes cut)". The result is at most max_bytes + 32 bytes long.
std::string StorableText(std::string_view text, size_t max_bytes);

// Returns the length of the valid UTF-8 sequence starting at text[at], 0 when the bytes
// there are not one (overlong forms, surrogates and code points past U+10FFFF are not).
size_t Utf8SequenceLength(std::string_view text, size_t at);

}  // namespace skald::core
