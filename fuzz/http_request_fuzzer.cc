// Fuzzes what the JSON HTTP API reads from a request before any protobuf: the admission of
// its head (core/http_admission.h: Host, Origin, Sec-Fetch-Site, Content-Type, length), its
// query parameters and its body (core/api_request.h). The input is a request in a loose
// text form:
//   METHOD \n PATH \n (Header: value \n)* \n (name=value \n)* \n BODY
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "coordinator/core/api_request.h"
#include "coordinator/core/bounded_json.h"
#include "coordinator/core/http_admission.h"
#include "fuzz/fuzz_check.h"

namespace {

using namespace skald::core;

// Returns the next line of `text` (without its '\n') and consumes it.
std::string_view NextLine(std::string_view& text) {
  const size_t end = text.find('\n');
  const std::string_view line = text.substr(0, end);
  text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  return line;
}

bool IsStateChanging(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

void CheckHead(const HttpRequestHead& head) {
  const HostAllowlist hosts = MakeHostAllowlist("127.0.0.1", {"skald.example"});
  const std::optional<HttpRefusal> refusal = CheckRequestHead(head, hosts);
  if (refusal) {
    FUZZ_CHECK(!refusal->status.ok(), "a refusal without an error");
    FUZZ_CHECK(!refusal->status.message().empty(), "a refusal without a message");
    const int status = refusal->http_status;
    FUZZ_CHECK(status == 400 || status == 403 || status == 404 || status == 415,
               "a refusal with an unexpected HTTP status");
    FUZZ_CHECK(head.path != "/healthz" && head.path != "/readyz", "a probe refused");
    return;
  }
  // Admitted: every rule held.
  if (head.path == "/healthz" || head.path == "/readyz") return;
  if (head.host) FUZZ_CHECK(IsHostAllowed(*head.host, hosts), "an unknown Host admitted");
  if (!IsStateChanging(head.method)) return;
  FUZZ_CHECK(head.path.starts_with("/api/v1/"), "a state-changing request outside the API");
  FUZZ_CHECK(head.content_type && IsJsonContentType(*head.content_type),
             "a state-changing request that is not JSON admitted");
  FUZZ_CHECK(!head.sec_fetch_site || *head.sec_fetch_site == "same-origin" ||
                 *head.sec_fetch_site == "none",
             "a cross-site request admitted");
  FUZZ_CHECK(!head.origin || (head.host && IsSameOrigin(*head.origin, *head.host)),
             "a cross-origin request admitted");
  FUZZ_CHECK(head.has_content_length || head.chunked, "a request without a body admitted");
}

template <typename Parsed>
void CheckRefusal(const absl::StatusOr<Parsed>& parsed) {
  if (parsed.ok()) return;
  FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument,
             "a query refused with a code other than INVALID_ARGUMENT");
  FUZZ_CHECK(!parsed.status().message().empty(), "a query refused without a message");
}

void CheckQuery(const QueryParams& query) {
  const absl::StatusOr<ListSagasQuery> list = ParseListSagasQuery(query);
  CheckRefusal(list);
  if (list.ok()) {
    FUZZ_CHECK(list->state.empty() || list->state.starts_with("SAGA_STATE_"), "a state's name");
    if (!list->state.empty()) {
      auto again = ParseSagaStateName(list->state);
      FUZZ_CHECK(again.ok() && *again == list->state, "a state's name does not read back");
    }
    for (const auto& [name, value] : query) {
      FUZZ_CHECK(query.count(name) == 1, "a repeated parameter accepted");
    }
  }
  CheckRefusal(ParseCountSagasQuery(query));
  CheckRefusal(ParseSagaHistoryQuery(query));
  CheckRefusal(ParseDefinitionQuery(query));
  CheckRefusal(ParseParticipantsQuery(query));
  const absl::Status none = CheckNoQueryParams(query);
  FUZZ_CHECK(none.ok() == query.empty(), "parameters accepted by an endpoint taking none");
}

void CheckBody(std::string_view body) {
  const absl::Status checked = CheckRequestBody(body);
  if (!checked.ok()) {
    FUZZ_CHECK(checked.code() == absl::StatusCode::kInvalidArgument, "a body refused oddly");
    FUZZ_CHECK(absl::StartsWith(checked.message(), "request body: "),
               "a refusal not naming the body");
    return;
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return;
  auto parsed = ParseBoundedJson(body, kMaxRequestBodyDepth);
  FUZZ_CHECK(parsed.ok() && parsed->is_object(), "a body admitted that is not a JSON object");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  HttpRequestHead head;
  head.method = std::string(NextLine(text));
  head.path = std::string(NextLine(text));
  while (!text.empty()) {
    const std::string_view line = NextLine(text);
    if (line.empty()) break;
    const size_t colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    std::string value(colon == std::string_view::npos ? "" : line.substr(colon + 1));
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (name == "Host") head.host = value;
    if (name == "Origin") head.origin = value;
    if (name == "Sec-Fetch-Site") head.sec_fetch_site = value;
    if (name == "Content-Type") head.content_type = value;
    if (name == "Content-Length") head.has_content_length = true;
    if (name == "Transfer-Encoding") head.chunked = value.find("chunked") != std::string::npos;
  }
  CheckHead(head);
  QueryParams query;
  while (!text.empty()) {
    const std::string_view line = NextLine(text);
    if (line.empty()) break;
    const size_t equals = line.find('=');
    query.emplace(std::string(line.substr(0, equals)),
                  std::string(equals == std::string_view::npos ? "" : line.substr(equals + 1)));
  }
  CheckQuery(query);
  CheckBody(text);
  return 0;
}
