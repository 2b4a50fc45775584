#pragma once

#include <optional>
#include <string>
#include <vector>

// The subcommands of `skald`. Each returns the process exit code.
namespace skald::cli {

// Limits on what clients send, checked before anything is stored (docs/definitions.md).
// Defaults and meaning: docs/security.md.
struct LimitFlags {
  size_t max_input_bytes = 1 << 20;
  size_t max_definition_bytes = 1 << 20;
  size_t max_steps = 100;
  size_t max_request_bytes = 4 << 20;
  size_t max_output_bytes = 1 << 20;
  size_t max_name_length = 128;
  size_t max_text_length = 1000;
  int max_page_size = 1000;
  int max_watch_streams = 8;
};

// Who may call the API, and what logs hide (docs/security.md), for `serve` and `dev`.
struct SecurityFlags {
  // The tokens file (JSON); empty: auth is off.
  std::string auth_tokens;
  // Payload fields replaced by "[redacted]" in log lines (comma-separated).
  std::string redact_fields = "password,card_number,cvv,token,secret";
};

// Completion notifications and alerts (docs/notifications.md), for `serve` and `dev`.
struct NotifyFlags {
  // Signs notifications; empty: $SKALD_NOTIFY_SECRET, else unsigned.
  std::string secret;
  // Where alerts go; empty: no alerts.
  std::string alert_url;
  int alert_compensation_failures = 3;
  std::string alert_stuck_after = "1h";
  // Destinations allowed on loopback, link-local and private addresses: IPs, CIDRs, host
  // names (repeatable, comma-separated).
  std::vector<std::string> notify_allow;
  // Deliveries at once, and the whole time one may take.
  int notify_workers = 8;
  std::string notify_timeout = "10s";
};

// The coordinator's TLS, as given on the command line or in the --config file.
struct TlsFlags {
  // The gRPC port (client API, ParticipantRegistry): server certificate and key, and the CA
  // client certificates must be signed by (mutual TLS) when set.
  std::string cert;
  std::string key;
  std::string client_ca;
  // The calls to participants: the CA their certificates are checked against, and the
  // client certificate and key presented to them.
  std::string participant_ca;
  std::string participant_cert;
  std::string participant_key;
  // The HTTP port: by default the gRPC port's certificate and key, without client
  // certificates; these override them.
  std::string http_cert;
  std::string http_key;
  std::string http_client_ca;
  // How often the gRPC ports' files are read again.
  std::string reload_interval = "1m";
};

// The flags `serve` and `dev` share (coordinator_flags.h registers and applies them).
struct CoordinatorFlags {
  std::string listen_address = "127.0.0.1:7700";
  // When set, the bound address is written here once the server accepts requests.
  std::string ready_file;
  // host:port of the HTTP port (health, metrics, JSON API, dashboard); empty: none.
  std::string http_listen;
  // When set, the bound HTTP address is written here once serving.
  std::string http_ready_file;
  // Host names the HTTP port answers to besides localhost, IP literals and its listen host.
  std::vector<std::string> http_allowed_hosts;
  LimitFlags limits;
  SecurityFlags security;
  NotifyFlags notify;
  // How long SIGTERM/SIGINT waits for participant calls in flight to answer.
  std::string shutdown_grace = "10s";
  TlsFlags tls;
};

struct ServeFlags : CoordinatorFlags {
  std::string database_uri;
  std::string node_id;
  std::string lease_ttl = "5s";
  // Batches the engine commits at once (see engine::EngineOptions::batches_in_flight).
  size_t batches_in_flight = 3;
  // Delete sagas that finished (COMPLETED, COMPENSATED) longer ago than this; empty: never.
  std::string retention;
  // TEST ONLY: simulated network faults on participant calls (see engine/delivery_faults.h).
  bool test_duplicate_calls = false;
  std::string test_late_action;        // "STEP:DURATION"
  std::string test_unstorable_output;  // STEP
  std::string test_lost_reply;         // STEP
};

struct DevFlags : CoordinatorFlags {
  DevFlags() { http_listen = "127.0.0.1:7780"; }
  std::string data_dir;
};

struct ClientFlags {
  std::string address = "127.0.0.1:7700";
  bool json = false;
  // TLS to the coordinator: the CA its certificate is checked against, and this client's
  // certificate and key for mutual TLS. All empty: plaintext.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  // Sent as "authorization: Bearer <token>" when not empty (--token, $SKALD_TOKEN).
  std::string token;
};

// Where `definition graph` and `definition simulate` take a definition from.
struct DefinitionSource {
  // Fetched from the coordinator when `file` is empty; version 0 is the latest.
  std::string name;
  int version = 0;
  // A definition file read offline ("-" for stdin).
  std::string file;
};

int RunServe(const ServeFlags& flags);
// `skald token hash`: reads a token on stdin (up to the first newline), prints its SHA-256.
int HashToken();
// `skald token new`: prints a new random token and its SHA-256, for a tokens file.
int NewToken();
int RunDev(const DevFlags& flags);

int ApplyDefinition(const ClientFlags& client, const std::string& file);
// Offline: parses the file and prints "definition NAME vN is valid (K steps)", or every
// error, one per line, on stderr (exit 1).
int ValidateDefinition(const std::string& file);
// Prints the stored document (pretty JSON) and, unless client.json, a table of its steps.
int ShowDefinition(const ClientFlags& client, const std::string& name, int version);
// Prints the step graph in `format`: "dot" or "mermaid".
int GraphDefinition(const ClientFlags& client, const DefinitionSource& source,
                    const std::string& format);
// Prints the what-if scenarios of core::Simulate, as text or (client.json) JSON.
int SimulateDefinition(const ClientFlags& client, const DefinitionSource& source);
// `traceparent` (W3C) and `callback_url` are sent when not empty.
int StartSaga(const ClientFlags& client, const std::string& definition, int version,
              const std::string& input_json, const std::string& saga_id,
              const std::string& traceparent = "", const std::string& callback_url = "");
int GetSaga(const ClientFlags& client, const std::string& saga_id);
// Filters and paging of `saga list`.
struct SagaListFlags {
  std::string state;
  std::string definition;
  std::string created_after;
  std::string created_before;
  int limit = 50;
  std::string page_token;
};
int ListSagas(const ClientFlags& client, const SagaListFlags& flags);
// Who acts and why, for `saga abort | retry | skip`.
struct OperatorFlags {
  std::string operator_name;
  std::string reason;
  std::string step;  // skip only
};

// Prints the saga's event history, oldest first.
int SagaHistory(const ClientFlags& client, const std::string& saga_id);
// Prints the saga's events as they happen until it ends.
int WatchSaga(const ClientFlags& client, const std::string& saga_id);
// `action` is "abort", "retry" or "skip"; prints the saga afterwards.
int OperatorAction(const ClientFlags& client, const std::string& action, const std::string& saga_id,
                   const OperatorFlags& flags);

// The result of `skald step complete` and `skald step resolve`: exactly one of output_json
// (a success) and fail_code (a business failure, or a retryable error with `retryable`).
struct StepResultFlags {
  std::optional<std::string> output_json;
  std::optional<std::string> fail_code;
  std::string message;
  bool retryable = false;
};

// Completes the accepted step `token` names with the result the flags give.
int CompleteStep(const ClientFlags& client, const std::string& token, const StepResultFlags& flags);
// Keeps the accepted step `token` names alive; `details_json` ("" or a JSON object) is shown
// to operators.
int HeartbeatStep(const ClientFlags& client, const std::string& token,
                  const std::string& details_json);
// An operator's resolution of a waiting step.
int ResolveStep(const ClientFlags& client, const std::string& saga_id, const std::string& step,
                const OperatorFlags& operator_flags, const StepResultFlags& flags);

// Prints the registered participant instances (all, or `service`'s) and their health.
int ListParticipants(const ClientFlags& client, const std::string& service);
int WaitSaga(const ClientFlags& client, const std::string& saga_id, const std::string& timeout);

}  // namespace skald::cli
