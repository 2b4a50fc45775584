#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

// How the JSON HTTP API writes and reads its bodies: the client API's protobuf messages in
// their JSON form (docs/http-api.md), and errors as {"error": {"code", "message"}}.
namespace skald::http {

// Returns the HTTP status an API error answers with: INVALID_ARGUMENT 400, NOT_FOUND 404,
// ALREADY_EXISTS and FAILED_PRECONDITION 409, RESOURCE_EXHAUSTED 413, UNIMPLEMENTED 501,
// UNAVAILABLE 503, DEADLINE_EXCEEDED 504, OK 200, anything else 500.
int HttpStatusFor(absl::StatusCode code);

// Returns {"error":{"code":"NOT_FOUND","message":"..."}} for a failed status.
std::string ErrorBody(const absl::Status& status);

// Returns `message` as JSON with the proto field names (snake_case), every field present
// (zero values included), enums by name and 64-bit integers as strings (the proto3 JSON
// mapping).
std::string ToJson(const google::protobuf::Message& message);

// Fills `message` from a JSON object with the proto field names (the lowerCamelCase forms
// are accepted too). An empty body is an empty object. Fails with INVALID_ARGUMENT naming
// the problem: not JSON (and where), not an object, an unknown field, a wrong type.
absl::Status FromJson(std::string_view json, google::protobuf::Message* message);

}  // namespace skald::http
