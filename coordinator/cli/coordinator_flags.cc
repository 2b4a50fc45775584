#include "coordinator/cli/coordinator_flags.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>

#include "coordinator/cli/serve_command.h"
#include "coordinator/cli/tls_flags.h"
#include "coordinator/core/destination_allowlist.h"
#include "coordinator/core/duration.h"
#include "coordinator/core/notification.h"

namespace skald::cli {
namespace {

void AddAddressFlags(CLI::App& command, CoordinatorFlags& flags) {
  command.add_option("--listen", flags.listen_address, "host:port for the client API")
      ->capture_default_str();
  command.add_option("--ready-file", flags.ready_file, "write the bound address here once serving");
  command
      .add_option("--http-listen", flags.http_listen,
                  "host:port for HTTP: /healthz, /readyz, /metrics, the JSON API (/api/v1) and "
                  "the dashboard (empty: off; port 0 picks one)")
      ->capture_default_str();
  command.add_option("--http-ready-file", flags.http_ready_file,
                     "write the bound HTTP address here once serving");
  command
      .add_option("--http-allowed-hosts", flags.http_allowed_hosts,
                  "host names clients reach the HTTP port by, besides localhost, IP addresses "
                  "and the --http-listen host (comma-separated; \"*\": any); other Host "
                  "headers are refused (DNS rebinding)")
      ->delimiter(',');
}

void AddLimitFlags(CLI::App& command, LimitFlags& limits) {
  command.add_option("--max-input-bytes", limits.max_input_bytes, "largest saga input")
      ->capture_default_str();
  command
      .add_option("--max-definition-bytes", limits.max_definition_bytes,
                  "largest definition document")
      ->capture_default_str();
  command.add_option("--max-steps", limits.max_steps, "most steps in a definition")
      ->capture_default_str();
  command
      .add_option("--max-request-bytes", limits.max_request_bytes,
                  "largest gRPC message or HTTP body a client may send")
      ->capture_default_str();
  command
      .add_option("--max-output-bytes", limits.max_output_bytes,
                  "largest step output a participant may return (larger: a retryable error)")
      ->capture_default_str();
  command
      .add_option("--max-name-length", limits.max_name_length,
                  "longest saga id, definition name or step name")
      ->capture_default_str();
  command
      .add_option("--max-text-length", limits.max_text_length,
                  "longest operator, reason or step of an operator action")
      ->capture_default_str();
  command.add_option("--max-page-size", limits.max_page_size, "largest page of a saga list")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  command
      .add_option("--max-watch-streams", limits.max_watch_streams,
                  "WatchSaga streams open at once per caller (token, or peer without auth)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
}

void AddSecurityFlags(CLI::App& command, SecurityFlags& security) {
  command.add_option("--auth-tokens", security.auth_tokens,
                     "JSON file of API tokens (SHA-256 hashes, roles, namespaces); "
                     "without it the API is unauthenticated (docs/security.md)");
  command
      .add_option("--redact-fields", security.redact_fields,
                  "payload fields shown as \"[redacted]\" in log lines (comma-separated)")
      ->capture_default_str();
}

void AddNotifyFlags(CLI::App& command, NotifyFlags& notify) {
  command.add_option("--notify-secret", notify.secret,
                     "sign notifications and alerts with this secret (env "
                     "SKALD_NOTIFY_SECRET; unsigned when neither is set)");
  command.add_option("--alert-url", notify.alert_url,
                     "POST alerts here (http:// or https://): a saga FAILED, a compensation "
                     "failing repeatedly, a saga unfinished too long; off when empty");
  command
      .add_option("--alert-compensation-failures", notify.alert_compensation_failures,
                  "alert once per saga and step after this many failed compensation attempts")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  command
      .add_option("--alert-stuck-after", notify.alert_stuck_after,
                  "alert once per saga RUNNING, COMPENSATING or FAILED for longer than this")
      ->capture_default_str();
  command.add_option(
      "--notify-allow", notify.notify_allow,
      "allow notifications, callbacks and alerts to these hosts, IPs or CIDRs although they "
      "are on loopback, link-local or private addresses (refused otherwise; `dev` allows "
      "loopback); repeatable, comma-separated");
  command
      .add_option("--notify-workers", notify.notify_workers,
                  "deliver this many notifications at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  command
      .add_option("--notify-timeout", notify.notify_timeout,
                  "the whole time one delivery may take (resolve, connect, send, answer)")
      ->capture_default_str();
}

}  // namespace

void AddCoordinatorFlags(CLI::App& command, CoordinatorFlags& flags) {
  AddAddressFlags(command, flags);
  AddLimitFlags(command, flags.limits);
  AddSecurityFlags(command, flags.security);
  AddNotifyFlags(command, flags.notify);
  command
      .add_option("--shutdown-grace", flags.shutdown_grace,
                  "on SIGTERM, how long calls in flight may take to answer")
      ->capture_default_str();
  AddTlsFlags(command, flags.tls);
}

absl::Status ApplyCoordinatorFlags(const CoordinatorFlags& flags, server::ServerOptions& options) {
  options.limits = ToApiLimits(flags.limits);
  if (absl::Status notify = ApplyNotifyFlags(flags.notify, options); !notify.ok()) return notify;
  if (absl::Status security = ApplySecurityFlags(flags.security, options); !security.ok()) {
    return security;
  }
  if (absl::Status tls = ApplyTlsFlags(flags.tls, options); !tls.ok()) return tls;
  options.listen_address = flags.listen_address;
  options.http_listen_address = flags.http_listen;
  options.http_allowed_hosts = flags.http_allowed_hosts;
  return absl::OkStatus();
}

api::ApiLimits ToApiLimits(const LimitFlags& flags) {
  api::ApiLimits limits;
  limits.max_input_bytes = flags.max_input_bytes;
  limits.definition.max_document_bytes = flags.max_definition_bytes;
  limits.definition.max_steps = flags.max_steps;
  limits.max_request_bytes = flags.max_request_bytes;
  limits.max_output_bytes = flags.max_output_bytes;
  limits.definition.max_name_length = flags.max_name_length;
  limits.max_saga_id_length = flags.max_name_length;
  limits.max_operator_text = flags.max_text_length;
  limits.max_page_size = flags.max_page_size;
  limits.default_page_size = std::min(limits.default_page_size, flags.max_page_size);
  limits.max_watch_streams = flags.max_watch_streams;
  return limits;
}

absl::Status ApplyNotifyFlags(const NotifyFlags& flags, server::ServerOptions& options) {
  options.notifier.secret = flags.secret;
  if (const char* secret = std::getenv("SKALD_NOTIFY_SECRET"); flags.secret.empty() && secret) {
    options.notifier.secret = secret;
  }
  if (!flags.alert_url.empty()) {
    if (absl::Status valid = core::ValidateWebhookUrl(flags.alert_url); !valid.ok()) {
      return absl::InvalidArgumentError("--alert-url: " + std::string(valid.message()));
    }
  }
  options.notifier.alert_url = flags.alert_url;
  if (flags.alert_compensation_failures < 1) {
    return absl::InvalidArgumentError("--alert-compensation-failures: must be at least 1");
  }
  options.alert_compensation_failures = flags.alert_compensation_failures;
  auto stuck_after = core::ParseDuration(flags.alert_stuck_after);
  if (!stuck_after.ok() || stuck_after->count() == 0) {
    return absl::InvalidArgumentError(
        "--alert-stuck-after: must be a duration like \"30m\" or \"1h\", got \"" +
        flags.alert_stuck_after + "\"");
  }
  options.notifier.alert_stuck_after = *stuck_after;
  auto allow = core::DestinationAllowlist::Parse(flags.notify_allow);
  if (!allow.ok()) return allow.status();
  options.notify_allow = std::move(*allow);
  options.notifier.workers = flags.notify_workers;
  auto timeout = core::ParseDuration(flags.notify_timeout);
  if (!timeout.ok() || timeout->count() == 0 || *timeout > std::chrono::minutes(5)) {
    return absl::InvalidArgumentError(
        "--notify-timeout: must be a duration from 1ms to 5m like \"10s\", got \"" +
        flags.notify_timeout + "\"");
  }
  options.notifier.request_timeout = *timeout;
  return absl::OkStatus();
}

}  // namespace skald::cli
