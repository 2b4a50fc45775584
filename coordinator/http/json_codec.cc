#include "coordinator/http/json_codec.h"

#include <google/protobuf/util/json_util.h>

#include "coordinator/core/api_request.h"
#include "nlohmann/json.hpp"

namespace skald::http {

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:  // E.g. a deadlock: the same request may be repeated.
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 413;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string ErrorBody(const absl::Status& status) {
  const nlohmann::json body = {
      {"error",
       {{"code", absl::StatusCodeToString(status.code())}, {"message", status.message()}}}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  // Fails only for messages holding an Any of an unknown type, which the API has none of.
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

absl::Status FromJson(std::string_view json, google::protobuf::Message* message) {
  // Checked first, bounded, for messages that say where the problem is.
  if (absl::Status checked = core::CheckRequestBody(json); !checked.ok()) return checked;
  if (json.find_first_not_of(" \t\r\n") == std::string_view::npos) json = "{}";
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError("request body: " + std::string(status.message()));
  }
  return absl::OkStatus();
}

}  // namespace skald::http
