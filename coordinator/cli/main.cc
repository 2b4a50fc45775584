#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "coordinator/cli/commands.h"
#include "coordinator/cli/config_file.h"
#include "coordinator/cli/tls_flags.h"
#include "coordinator/observability/logging.h"

namespace {

std::string DefaultDevDir() {
  if (const char* dir = std::getenv("SKALD_DEV_DIR"); dir && *dir) return dir;
  // Under /var/tmp rather than $HOME: when run as root, the postgres user that owns the
  // cluster must be able to reach the directory.
  return "/var/tmp/skald-dev-" + std::to_string(getuid());
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{"Skald: a saga coordinator for distributed transactions"};
  app.require_subcommand(1);
  // Global flags may also follow the subcommand: `skald serve --log-format json ...`.
  app.fallthrough();
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  std::string log_format = "text";
  app.add_option("--log-format", log_format,
                 "text, or json: one object per line with ts, level, logger, msg and, on lines "
                 "about a saga, saga_id (step, attempt)")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  skald::cli::AddConfigFile(app);

  skald::cli::ClientFlags client;
  if (const char* address = std::getenv("SKALD_ADDRESS"); address && *address) {
    client.address = address;
  }
  if (const char* token = std::getenv("SKALD_TOKEN"); token && *token) client.token = token;
  auto add_client_flags = [&](CLI::App* command) {
    command->add_option("--address", client.address, "coordinator address (env SKALD_ADDRESS)")
        ->capture_default_str();
    command->add_flag("--json", client.json, "print JSON instead of a table");
    skald::cli::AddClientTlsFlags(*command, client);
    // The token is never echoed: no capture_default_str().
    command->add_option("--token", client.token,
                        "API token, sent as a bearer token (env SKALD_TOKEN; prefer it: a flag "
                        "shows in the process list)");
  };

  auto add_shutdown_flag = [](CLI::App* command, std::string& grace) {
    command
        ->add_option("--shutdown-grace", grace,
                     "on SIGTERM, how long calls in flight may take to answer")
        ->capture_default_str();
  };
  auto add_notify_flags = [](CLI::App* command, skald::cli::NotifyFlags& notify) {
    command->add_option("--notify-secret", notify.secret,
                        "sign notifications and alerts with this secret (env "
                        "SKALD_NOTIFY_SECRET; unsigned when neither is set)");
    command->add_option("--alert-url", notify.alert_url,
                        "POST alerts here (http:// or https://): a saga FAILED, a compensation "
                        "failing repeatedly, a saga unfinished too long; off when empty");
    command
        ->add_option("--alert-compensation-failures", notify.alert_compensation_failures,
                     "alert once per saga and step after this many failed compensation attempts")
        ->capture_default_str()
        ->check(CLI::Range(1, 10000));
    command
        ->add_option("--alert-stuck-after", notify.alert_stuck_after,
                     "alert once per saga RUNNING, COMPENSATING or FAILED for longer than this")
        ->capture_default_str();
    command->add_option(
        "--notify-allow", notify.notify_allow,
        "allow notifications, callbacks and alerts to these hosts, IPs or CIDRs although they "
        "are on loopback, link-local or private addresses (refused otherwise; `dev` allows "
        "loopback); repeatable, comma-separated");
    command
        ->add_option("--notify-workers", notify.notify_workers,
                     "deliver this many notifications at once")
        ->capture_default_str()
        ->check(CLI::Range(1, 256));
    command
        ->add_option("--notify-timeout", notify.notify_timeout,
                     "the whole time one delivery may take (resolve, connect, send, answer)")
        ->capture_default_str();
  };
  auto add_limit_flags = [](CLI::App* command, skald::cli::LimitFlags& limits) {
    command->add_option("--max-input-bytes", limits.max_input_bytes, "largest saga input")
        ->capture_default_str();
    command
        ->add_option("--max-definition-bytes", limits.max_definition_bytes,
                     "largest definition document")
        ->capture_default_str();
    command->add_option("--max-steps", limits.max_steps, "most steps in a definition")
        ->capture_default_str();
    command
        ->add_option("--max-request-bytes", limits.max_request_bytes,
                     "largest gRPC message or HTTP body a client may send")
        ->capture_default_str();
    command
        ->add_option("--max-output-bytes", limits.max_output_bytes,
                     "largest step output a participant may return (larger: a retryable error)")
        ->capture_default_str();
    command
        ->add_option("--max-name-length", limits.max_name_length,
                     "longest saga id, definition name or step name")
        ->capture_default_str();
    command
        ->add_option("--max-text-length", limits.max_text_length,
                     "longest operator, reason or step of an operator action")
        ->capture_default_str();
    command->add_option("--max-page-size", limits.max_page_size, "largest page of a saga list")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    command
        ->add_option("--max-watch-streams", limits.max_watch_streams,
                     "WatchSaga streams open at once per caller (token, or peer without auth)")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
  };
  auto add_security_flags = [](CLI::App* command, skald::cli::SecurityFlags& security) {
    command->add_option("--auth-tokens", security.auth_tokens,
                        "JSON file of API tokens (SHA-256 hashes, roles, namespaces); "
                        "without it the API is unauthenticated (docs/security.md)");
    command
        ->add_option("--redact-fields", security.redact_fields,
                     "payload fields shown as \"[redacted]\" in log lines (comma-separated)")
        ->capture_default_str();
  };

  skald::cli::ServeFlags serve;
  auto* serve_cmd =
      app.add_subcommand("serve", "run the coordinator against a PostgreSQL database");
  serve_cmd->add_option("--db", serve.database_uri, "libpq connection URI")->required();
  serve_cmd->add_option("--listen", serve.listen_address, "host:port for the client API")
      ->capture_default_str();
  serve_cmd->add_option("--ready-file", serve.ready_file,
                        "write the bound address here once serving");
  serve_cmd->add_option("--http-listen", serve.http_listen,
                        "host:port for HTTP: /healthz, /readyz, /metrics, the JSON API "
                        "(/api/v1) and the dashboard (default: off; port 0 picks one)");
  serve_cmd->add_option("--http-ready-file", serve.http_ready_file,
                        "write the bound HTTP address here once serving");
  serve_cmd
      ->add_option("--http-allowed-hosts", serve.http_allowed_hosts,
                   "host names clients reach the HTTP port by, besides localhost, IP addresses "
                   "and the --http-listen host (comma-separated; \"*\": any); other Host "
                   "headers are refused (DNS rebinding)")
      ->delimiter(',');
  add_limit_flags(serve_cmd, serve.limits);
  add_security_flags(serve_cmd, serve.security);
  add_notify_flags(serve_cmd, serve.notify);
  add_shutdown_flag(serve_cmd, serve.shutdown_grace);
  skald::cli::AddTlsFlags(*serve_cmd, serve.tls);
  serve_cmd->add_option("--node-id", serve.node_id,
                        "this coordinator's name in lease records, unique among running "
                        "coordinators (default: host/pid/random)");
  serve_cmd
      ->add_option("--lease-ttl", serve.lease_ttl,
                   "how long a saga's lease lasts without renewal; a dead coordinator's "
                   "sagas are taken over within about this plus 1s")
      ->capture_default_str();
  serve_cmd->add_option("--retention", serve.retention,
                        "delete sagas that finished (COMPLETED or COMPENSATED) longer ago than "
                        "this, e.g. 30d, in small batches (default: keep them; FAILED sagas are "
                        "always kept)");
  // Test switches, hidden from --help (an empty group name hides an option).
  serve_cmd
      ->add_flag("--test-duplicate-calls", serve.test_duplicate_calls,
                 "TEST ONLY: send every participant call twice")
      ->group("");
  serve_cmd
      ->add_option("--test-late-action", serve.test_late_action,
                   "TEST ONLY: STEP:DURATION, deliver that step's actions late")
      ->group("");
  serve_cmd
      ->add_option("--test-unstorable-output", serve.test_unstorable_output,
                   "TEST ONLY: STEP, give that step's successes an output PostgreSQL refuses")
      ->group("");
  serve_cmd
      ->add_option("--test-lost-reply", serve.test_lost_reply,
                   "TEST ONLY: STEP, never report the outcome of that step's first attempt")
      ->group("");

  skald::cli::DevFlags dev;
  dev.data_dir = DefaultDevDir();
  auto* dev_cmd = app.add_subcommand(
      "dev", "run the coordinator on its own local PostgreSQL cluster (for trying Skald out)");
  dev_cmd->add_option("--data-dir", dev.data_dir, "where the cluster lives (env SKALD_DEV_DIR)")
      ->capture_default_str();
  dev_cmd->add_option("--listen", dev.listen_address, "host:port for the client API")
      ->capture_default_str();
  dev_cmd->add_option("--ready-file", dev.ready_file, "write the bound address here once serving");
  dev_cmd
      ->add_option("--http-listen", dev.http_listen,
                   "host:port for HTTP: health, metrics, JSON API, dashboard (empty: off)")
      ->capture_default_str();
  dev_cmd->add_option("--http-ready-file", dev.http_ready_file,
                      "write the bound HTTP address here once serving");
  dev_cmd
      ->add_option("--http-allowed-hosts", dev.http_allowed_hosts,
                   "host names clients reach the HTTP port by, besides localhost, IP addresses "
                   "and the --http-listen host (comma-separated; \"*\": any)")
      ->delimiter(',');
  add_limit_flags(dev_cmd, dev.limits);
  add_security_flags(dev_cmd, dev.security);
  add_notify_flags(dev_cmd, dev.notify);
  add_shutdown_flag(dev_cmd, dev.shutdown_grace);
  skald::cli::AddTlsFlags(*dev_cmd, dev.tls);

  auto* definition_cmd = app.add_subcommand("definition", "manage saga definitions");
  definition_cmd->require_subcommand(1);
  std::string definition_file;
  auto* apply_cmd = definition_cmd->add_subcommand("apply", "apply a definition JSON file");
  apply_cmd->add_option("file", definition_file, "definition file, or - for stdin")->required();
  add_client_flags(apply_cmd);

  auto* validate_cmd = definition_cmd->add_subcommand(
      "validate", "check a definition file offline and print every error in it");
  validate_cmd->add_option("file", definition_file, "definition file, or - for stdin")->required();

  std::string shown_definition;
  int shown_version = 0;
  auto* show_cmd =
      definition_cmd->add_subcommand("show", "show a stored definition and a table of its steps");
  show_cmd->add_option("name", shown_definition, "definition name")->required();
  show_cmd->add_option("--version", shown_version, "definition version (default: the latest)");
  add_client_flags(show_cmd);

  skald::cli::DefinitionSource definition_source;
  auto add_definition_source = [&](CLI::App* command) {
    auto* name = command->add_option("name", definition_source.name,
                                     "definition name, fetched from the coordinator");
    auto* file = command->add_option("--file", definition_source.file,
                                     "read this definition file instead (offline; - for stdin)");
    auto* version = command->add_option("--version", definition_source.version,
                                        "definition version (default: the latest)");
    name->excludes(file);
    version->excludes(file);
    command->add_option("--address", client.address, "coordinator address (env SKALD_ADDRESS)")
        ->capture_default_str();
    skald::cli::AddClientTlsFlags(*command, client);
  };
  std::string graph_format;
  auto* graph_cmd = definition_cmd->add_subcommand(
      "graph", "print the step graph: dependencies, compensation order, pivot, conditions");
  add_definition_source(graph_cmd);
  graph_cmd->add_option("--format", graph_format, "dot (Graphviz) or mermaid")
      ->required()
      ->check(CLI::IsMember({"dot", "mermaid"}));
  auto* simulate_cmd = definition_cmd->add_subcommand(
      "simulate", "what happens on the happy path, when each step fails and when time runs out");
  add_definition_source(simulate_cmd);
  simulate_cmd->add_flag("--json", client.json, "print JSON instead of text");

  auto* saga_cmd = app.add_subcommand("saga", "start and inspect sagas");
  saga_cmd->require_subcommand(1);

  std::string definition_name, input_json = "{}", saga_id;
  int version = 0;
  auto* start_cmd = saga_cmd->add_subcommand("start", "start a saga; prints its id");
  start_cmd->add_option("definition", definition_name, "definition name")->required();
  start_cmd
      ->add_option("--input", input_json,
                   "saga input, a JSON object; @FILE reads it from FILE, - from stdin")
      ->capture_default_str();
  start_cmd->add_option("--id", saga_id, "client-chosen id: starting twice returns the first");
  start_cmd->add_option("--version", version, "definition version (default: the latest)");
  std::string traceparent, callback_url;
  start_cmd->add_option("--traceparent", traceparent,
                        "W3C trace context every participant call continues "
                        "(00-<trace id>-<span id>-<flags>; default: a new trace)");
  start_cmd->add_option("--callback-url", callback_url,
                        "POST the saga's outcome here once it ends (http:// or https://)");
  add_client_flags(start_cmd);

  auto* get_cmd = saga_cmd->add_subcommand("get", "show a saga and its steps");
  get_cmd->add_option("id", saga_id, "saga id")->required();
  add_client_flags(get_cmd);

  skald::cli::SagaListFlags list_flags;
  auto* list_cmd = saga_cmd->add_subcommand("list", "list sagas, newest first");
  list_cmd->add_option("--state", list_flags.state, "only sagas in this state, e.g. FAILED");
  list_cmd->add_option("--definition", list_flags.definition, "only sagas of this definition");
  list_cmd->add_option("--since", list_flags.created_after,
                       "only sagas created at or after this time (RFC 3339 or a date)");
  list_cmd->add_option("--until", list_flags.created_before,
                       "only sagas created before this time (RFC 3339 or a date)");
  list_cmd->add_option("--limit", list_flags.limit, "at most this many per page (1-1000)")
      ->capture_default_str();
  list_cmd->add_option("--page-token", list_flags.page_token,
                       "the next page, from the previous listing's last line");
  add_client_flags(list_cmd);

  auto* history_cmd = saga_cmd->add_subcommand(
      "history", "every transition, attempt and error of a saga, in order");
  history_cmd->add_option("id", saga_id, "saga id")->required();
  add_client_flags(history_cmd);

  auto* watch_cmd =
      saga_cmd->add_subcommand("watch", "print a saga's events as they happen, until it ends");
  watch_cmd->add_option("id", saga_id, "saga id")->required();
  add_client_flags(watch_cmd);

  skald::cli::OperatorFlags operator_flags;
  if (const char* user =
          std::getenv("SKALD_OPERATOR") ? std::getenv("SKALD_OPERATOR") : std::getenv("USER")) {
    operator_flags.operator_name = user;
  }
  auto add_operator_flags = [&](CLI::App* command) {
    command->add_option("id", saga_id, "saga id")->required();
    command->add_option("--reason", operator_flags.reason, "why; recorded in the history")
        ->required();
    command
        ->add_option("--operator", operator_flags.operator_name,
                     "who; recorded in the history (default: $SKALD_OPERATOR, else $USER)")
        ->capture_default_str();
    add_client_flags(command);
  };
  auto* abort_cmd = saga_cmd->add_subcommand(
      "abort", "stop a RUNNING saga from going forward: it compensates what it has done");
  add_operator_flags(abort_cmd);
  auto* retry_cmd = saga_cmd->add_subcommand(
      "retry", "resume a FAILED saga's failed compensations (or after-pivot steps) afresh");
  add_operator_flags(retry_cmd);
  auto* skip_cmd = saga_cmd->add_subcommand(
      "skip", "count a step's stuck compensation as done (undone by hand), so the saga goes on");
  add_operator_flags(skip_cmd);  // the saga id first, then the step
  skip_cmd->add_option("step", operator_flags.step, "the step")->required();

  std::string wait_timeout = "60s";
  auto* wait_cmd =
      saga_cmd->add_subcommand("wait", "wait until a saga reaches a terminal state, then show it");
  wait_cmd->add_option("id", saga_id, "saga id")->required();
  wait_cmd->add_option("--timeout", wait_timeout, "give up after this long (exit code 3)")
      ->capture_default_str();
  add_client_flags(wait_cmd);

  auto* participant_cmd =
      app.add_subcommand("participant", "inspect the participant instances registered");
  participant_cmd->require_subcommand(1);
  std::string service_filter;
  auto* participant_list_cmd = participant_cmd->add_subcommand(
      "list", "list registered services, their instances and their health");
  participant_list_cmd->add_option("--service", service_filter, "only this service");
  add_client_flags(participant_list_cmd);

  auto* token_cmd = app.add_subcommand("token", "make API tokens for --auth-tokens");
  token_cmd->require_subcommand(1);
  auto* token_hash_cmd = token_cmd->add_subcommand(
      "hash", "read a token on stdin and print its SHA-256 (the sha256 of a tokens file entry)");
  auto* token_new_cmd =
      token_cmd->add_subcommand("new", "print a new random token and its SHA-256");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2, as documented.
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto level = spdlog::level::from_str(log_level);
  if (level == spdlog::level::off && log_level != "off") {
    std::cerr << "--log-level: unknown level \"" << log_level << "\"\n";
    return 2;
  }
  skald::observability::ConfigureLogging(*skald::observability::ParseLogFormat(log_format), level);

  if (*serve_cmd) {
    return skald::cli::RunServe(serve);
  }
  if (*token_hash_cmd) return skald::cli::HashToken();
  if (*token_new_cmd) return skald::cli::NewToken();
  if (*dev_cmd) {
    return skald::cli::RunDev(dev);
  }
  if (*apply_cmd) {
    return skald::cli::ApplyDefinition(client, definition_file);
  }
  if (*validate_cmd) {
    return skald::cli::ValidateDefinition(definition_file);
  }
  if (*show_cmd) {
    return skald::cli::ShowDefinition(client, shown_definition, shown_version);
  }
  if (*graph_cmd) {
    return skald::cli::GraphDefinition(client, definition_source, graph_format);
  }
  if (*simulate_cmd) {
    return skald::cli::SimulateDefinition(client, definition_source);
  }
  if (*start_cmd) {
    return skald::cli::StartSaga(client, definition_name, version, input_json, saga_id, traceparent,
                                 callback_url);
  }
  if (*participant_list_cmd) {
    return skald::cli::ListParticipants(client, service_filter);
  }
  if (*history_cmd) return skald::cli::SagaHistory(client, saga_id);
  if (*watch_cmd) return skald::cli::WatchSaga(client, saga_id);
  if (*abort_cmd) return skald::cli::OperatorAction(client, "abort", saga_id, operator_flags);
  if (*retry_cmd) return skald::cli::OperatorAction(client, "retry", saga_id, operator_flags);
  if (*skip_cmd) return skald::cli::OperatorAction(client, "skip", saga_id, operator_flags);
  if (*get_cmd) {
    return skald::cli::GetSaga(client, saga_id);
  }
  if (*list_cmd) {
    return skald::cli::ListSagas(client, list_flags);
  }
  if (*wait_cmd) {
    return skald::cli::WaitSaga(client, saga_id, wait_timeout);
  }
  return 2;
}
