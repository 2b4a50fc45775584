#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "coordinator/cli/build_info.h"
#include "coordinator/cli/commands.h"
#include "coordinator/cli/config_file.h"
#include "coordinator/cli/coordinator_flags.h"
#include "coordinator/cli/tls_flags.h"
#include "coordinator/observability/logging.h"

namespace skald::cli {
namespace {

// What the command line said, filled in by CLI11 while parsing; each subcommand reads its
// part.
struct Arguments {
  std::string log_level = "info";
  std::string log_format = "text";
  ClientFlags client;
  ServeFlags serve;
  DevFlags dev;
  std::string definition_file;
  std::string shown_definition;
  int shown_version = 0;
  DefinitionSource definition_source;
  std::string graph_format;
  std::string definition_name;
  std::string input_json = "{}";
  std::string saga_id;
  int version = 0;
  std::string traceparent;
  std::string callback_url;
  SagaListFlags list_flags;
  OperatorFlags operator_flags;
  std::string completion_token;
  std::string step_name;
  StepResultFlags step_result;
  std::string heartbeat_details;
  std::string wait_timeout = "60s";
  std::string service_filter;
};

// A leaf subcommand and what running it does.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};
using Commands = std::vector<Command>;

std::string DefaultDevDir() {
  if (const char* dir = std::getenv("SKALD_DEV_DIR"); dir && *dir) return dir;
  // Under /var/tmp rather than $HOME: when run as root, the postgres user that owns the
  // cluster must be able to reach the directory.
  return "/var/tmp/skald-dev-" + std::to_string(getuid());
}

void AddGlobalFlags(CLI::App& app, Arguments& args) {
  app.add_option("--log-level", args.log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  app.add_option("--log-format", args.log_format,
                 "text, or json: one object per line with ts, level, logger, msg and, on lines "
                 "about a saga, saga_id (step, attempt)")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  AddConfigFile(app);
}

void AddClientFlags(CLI::App& command, ClientFlags& client) {
  command
      .add_option("--address", client.address,
                  "coordinator address, or several: a:7700,b:7700 (env SKALD_ADDRESS)")
      ->capture_default_str();
  command.add_flag("--json", client.json, "print JSON instead of a table");
  AddClientTlsFlags(command, client);
  // The token is never echoed: no capture_default_str().
  command.add_option("--token", client.token,
                     "API token, sent as a bearer token (env SKALD_TOKEN; prefer it: a flag "
                     "shows in the process list)");
}

void AddServeCommand(CLI::App& app, Arguments& args, Commands& commands) {
  ServeFlags& serve = args.serve;
  auto* serve_cmd =
      app.add_subcommand("serve", "run the coordinator against a PostgreSQL database");
  // The URI usually carries a password: from the environment it stays out of the process
  // list (`ps`) and the unit file.
  serve_cmd
      ->add_option("--db", serve.database_uri,
                   "libpq connection URI (env SKALD_DB; prefer it when the URI holds a password)")
      ->envname("SKALD_DB");
  AddCoordinatorFlags(*serve_cmd, serve);
  serve_cmd->add_option("--node-id", serve.node_id,
                        "this coordinator's name in lease records, unique among running "
                        "coordinators (default: host/pid/random)");
  serve_cmd
      ->add_option("--lease-ttl", serve.lease_ttl,
                   "how long a saga's lease lasts without renewal; a dead coordinator's "
                   "sagas are taken over within about this plus 1s")
      ->capture_default_str();
  serve_cmd
      ->add_option("--batches-in-flight", serve.batches_in_flight,
                   "how many batches of transitions the engine commits at once, each on a "
                   "connection of its own (1: one at a time)")
      ->check(CLI::Range(1, 8))
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
  commands.push_back({serve_cmd, [&serve] { return RunServe(serve); }});
}

void AddDevCommand(CLI::App& app, Arguments& args, Commands& commands) {
  DevFlags& dev = args.dev;
  dev.data_dir = DefaultDevDir();
  auto* dev_cmd = app.add_subcommand(
      "dev", "run the coordinator on its own local PostgreSQL cluster (for trying Skald out)");
  dev_cmd->add_option("--data-dir", dev.data_dir, "where the cluster lives (env SKALD_DEV_DIR)")
      ->capture_default_str();
  AddCoordinatorFlags(*dev_cmd, dev);
  commands.push_back({dev_cmd, [&dev] { return RunDev(dev); }});
}

// `definition graph` and `definition simulate`: a stored definition or a file.
void AddDefinitionSource(CLI::App& command, Arguments& args) {
  DefinitionSource& source = args.definition_source;
  auto* name =
      command.add_option("name", source.name, "definition name, fetched from the coordinator");
  auto* file = command.add_option("--file", source.file,
                                  "read this definition file instead (offline; - for stdin)");
  auto* version =
      command.add_option("--version", source.version, "definition version (default: the latest)");
  name->excludes(file);
  version->excludes(file);
  command
      .add_option("--address", args.client.address,
                  "coordinator address, or several: a:7700,b:7700 (env SKALD_ADDRESS)")
      ->capture_default_str();
  AddClientTlsFlags(command, args.client);
}

void AddDefinitionCommands(CLI::App& app, Arguments& args, Commands& commands) {
  auto* definition_cmd = app.add_subcommand("definition", "manage saga definitions");
  definition_cmd->require_subcommand(1);
  auto* apply_cmd = definition_cmd->add_subcommand("apply", "apply a definition JSON file");
  apply_cmd->add_option("file", args.definition_file, "definition file, or - for stdin")
      ->required();
  AddClientFlags(*apply_cmd, args.client);
  commands.push_back(
      {apply_cmd, [&args] { return ApplyDefinition(args.client, args.definition_file); }});

  auto* validate_cmd = definition_cmd->add_subcommand(
      "validate", "check a definition file offline and print every error in it");
  validate_cmd->add_option("file", args.definition_file, "definition file, or - for stdin")
      ->required();
  commands.push_back({validate_cmd, [&args] { return ValidateDefinition(args.definition_file); }});

  auto* show_cmd =
      definition_cmd->add_subcommand("show", "show a stored definition and a table of its steps");
  show_cmd->add_option("name", args.shown_definition, "definition name")->required();
  show_cmd->add_option("--version", args.shown_version, "definition version (default: the latest)");
  AddClientFlags(*show_cmd, args.client);
  commands.push_back(
      {show_cmd,
       [&args] { return ShowDefinition(args.client, args.shown_definition, args.shown_version); }});

  auto* graph_cmd = definition_cmd->add_subcommand(
      "graph", "print the step graph: dependencies, compensation order, pivot, conditions");
  AddDefinitionSource(*graph_cmd, args);
  graph_cmd->add_option("--format", args.graph_format, "dot (Graphviz) or mermaid")
      ->required()
      ->check(CLI::IsMember({"dot", "mermaid"}));
  commands.push_back({graph_cmd, [&args] {
                        return GraphDefinition(args.client, args.definition_source,
                                               args.graph_format);
                      }});

  auto* simulate_cmd = definition_cmd->add_subcommand(
      "simulate", "what happens on the happy path, when each step fails and when time runs out");
  AddDefinitionSource(*simulate_cmd, args);
  simulate_cmd->add_flag("--json", args.client.json, "print JSON instead of text");
  commands.push_back(
      {simulate_cmd, [&args] { return SimulateDefinition(args.client, args.definition_source); }});
}

void AddSagaReadCommands(CLI::App& saga_cmd, Arguments& args, Commands& commands) {
  auto* start_cmd = saga_cmd.add_subcommand("start", "start a saga; prints its id");
  start_cmd->add_option("definition", args.definition_name, "definition name")->required();
  start_cmd
      ->add_option("--input", args.input_json,
                   "saga input, a JSON object; @FILE reads it from FILE, - from stdin")
      ->capture_default_str();
  start_cmd->add_option("--id", args.saga_id, "client-chosen id: starting twice returns the first");
  start_cmd->add_option("--version", args.version, "definition version (default: the latest)");
  start_cmd->add_option("--traceparent", args.traceparent,
                        "W3C trace context every participant call continues "
                        "(00-<trace id>-<span id>-<flags>; default: a new trace)");
  start_cmd->add_option("--callback-url", args.callback_url,
                        "POST the saga's outcome here once it ends (http:// or https://)");
  AddClientFlags(*start_cmd, args.client);
  commands.push_back({start_cmd, [&args] {
                        return StartSaga(args.client, args.definition_name, args.version,
                                         args.input_json, args.saga_id, args.traceparent,
                                         args.callback_url);
                      }});

  auto* get_cmd = saga_cmd.add_subcommand("get", "show a saga and its steps");
  get_cmd->add_option("id", args.saga_id, "saga id")->required();
  AddClientFlags(*get_cmd, args.client);
  commands.push_back({get_cmd, [&args] { return GetSaga(args.client, args.saga_id); }});

  SagaListFlags& list_flags = args.list_flags;
  auto* list_cmd = saga_cmd.add_subcommand("list", "list sagas, newest first");
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
  AddClientFlags(*list_cmd, args.client);
  commands.push_back({list_cmd, [&args] { return ListSagas(args.client, args.list_flags); }});

  auto* history_cmd =
      saga_cmd.add_subcommand("history", "every transition, attempt and error of a saga, in order");
  history_cmd->add_option("id", args.saga_id, "saga id")->required();
  AddClientFlags(*history_cmd, args.client);
  commands.push_back({history_cmd, [&args] { return SagaHistory(args.client, args.saga_id); }});

  auto* watch_cmd =
      saga_cmd.add_subcommand("watch", "print a saga's events as they happen, until it ends");
  watch_cmd->add_option("id", args.saga_id, "saga id")->required();
  AddClientFlags(*watch_cmd, args.client);
  commands.push_back({watch_cmd, [&args] { return WatchSaga(args.client, args.saga_id); }});
}

void AddSagaOperatorCommands(CLI::App& saga_cmd, Arguments& args, Commands& commands) {
  OperatorFlags& operator_flags = args.operator_flags;
  if (const char* user =
          std::getenv("SKALD_OPERATOR") ? std::getenv("SKALD_OPERATOR") : std::getenv("USER")) {
    operator_flags.operator_name = user;
  }
  auto add_operator_command = [&](const std::string& action, const std::string& description) {
    auto* command = saga_cmd.add_subcommand(action, description);
    command->add_option("id", args.saga_id, "saga id")->required();
    command->add_option("--reason", operator_flags.reason, "why; recorded in the history")
        ->required();
    command
        ->add_option("--operator", operator_flags.operator_name,
                     "who; recorded in the history (default: $SKALD_OPERATOR, else $USER)")
        ->capture_default_str();
    AddClientFlags(*command, args.client);
    commands.push_back({command, [&args, action] {
                          return OperatorAction(args.client, action, args.saga_id,
                                                args.operator_flags);
                        }});
    return command;
  };
  add_operator_command("abort",
                       "stop a RUNNING saga from going forward: it compensates what it has done");
  add_operator_command("retry",
                       "resume a FAILED saga's failed compensations (or after-pivot steps) afresh");
  auto* skip_cmd = add_operator_command(
      "skip", "count a step's stuck compensation as done (undone by hand), so the saga goes on");
  skip_cmd->add_option("step", operator_flags.step, "the step")->required();  // after the id
}

void AddSagaCommands(CLI::App& app, Arguments& args, Commands& commands) {
  auto* saga_cmd = app.add_subcommand("saga", "start and inspect sagas");
  saga_cmd->require_subcommand(1);
  AddSagaReadCommands(*saga_cmd, args, commands);
  AddSagaOperatorCommands(*saga_cmd, args, commands);

  auto* wait_cmd =
      saga_cmd->add_subcommand("wait", "wait until a saga reaches a terminal state, then show it");
  wait_cmd->add_option("id", args.saga_id, "saga id")->required();
  wait_cmd->add_option("--timeout", args.wait_timeout, "give up after this long (exit code 3)")
      ->capture_default_str();
  AddClientFlags(*wait_cmd, args.client);
  commands.push_back(
      {wait_cmd, [&args] { return WaitSaga(args.client, args.saga_id, args.wait_timeout); }});
}

void AddParticipantCommands(CLI::App& app, Arguments& args, Commands& commands) {
  auto* participant_cmd =
      app.add_subcommand("participant", "inspect the participant instances registered");
  participant_cmd->require_subcommand(1);
  auto* list_cmd = participant_cmd->add_subcommand(
      "list", "list registered services, their instances and their health");
  list_cmd->add_option("--service", args.service_filter, "only this service");
  AddClientFlags(*list_cmd, args.client);
  commands.push_back(
      {list_cmd, [&args] { return ListParticipants(args.client, args.service_filter); }});
}

// The flags of a step's result: --output, or --fail with --message and --retryable.
void AddStepResultFlags(CLI::App& command, StepResultFlags& flags) {
  command.add_option("--output", flags.output_json, "a success, with this output (a JSON object)");
  command.add_option("--fail", flags.fail_code, "a failure, with this error code");
  command.add_option("--message", flags.message, "the failure's message, for people");
  command.add_flag("--retryable", flags.retryable,
                   "the failure is a failed attempt: the step's retry policy applies");
}

void AddStepCommands(CLI::App& app, Arguments& args, Commands& commands) {
  auto* step_cmd = app.add_subcommand("step", "complete, keep alive or resolve long-running steps");
  step_cmd->require_subcommand(1);
  auto* complete_cmd = step_cmd->add_subcommand(
      "complete", "complete a step its participant accepted, with the call's completion token");
  complete_cmd->add_option("token", args.completion_token, "the completion token")->required();
  AddStepResultFlags(*complete_cmd, args.step_result);
  AddClientFlags(*complete_cmd, args.client);
  commands.push_back({complete_cmd, [&args] {
                        return CompleteStep(args.client, args.completion_token, args.step_result);
                      }});

  auto* heartbeat_cmd = step_cmd->add_subcommand(
      "heartbeat", "keep an accepted step alive past its heartbeat_timeout");
  heartbeat_cmd->add_option("token", args.completion_token, "the completion token")->required();
  heartbeat_cmd->add_option("--details", args.heartbeat_details,
                            "progress, a JSON object shown to operators");
  AddClientFlags(*heartbeat_cmd, args.client);
  commands.push_back({heartbeat_cmd, [&args] {
                        return HeartbeatStep(args.client, args.completion_token,
                                             args.heartbeat_details);
                      }});

  OperatorFlags& operator_flags = args.operator_flags;
  if (const char* user =
          std::getenv("SKALD_OPERATOR") ? std::getenv("SKALD_OPERATOR") : std::getenv("USER")) {
    operator_flags.operator_name = user;
  }
  auto* resolve_cmd = step_cmd->add_subcommand(
      "resolve", "complete or fail a WAITING step by hand (recorded in the saga's history)");
  resolve_cmd->add_option("saga", args.saga_id, "saga id")->required();
  resolve_cmd->add_option("step", args.step_name, "the waiting step")->required();
  resolve_cmd->add_option("--reason", operator_flags.reason, "why; recorded in the history")
      ->required();
  resolve_cmd
      ->add_option("--operator", operator_flags.operator_name,
                   "who; recorded in the history (default: $SKALD_OPERATOR, else $USER)")
      ->capture_default_str();
  AddStepResultFlags(*resolve_cmd, args.step_result);
  AddClientFlags(*resolve_cmd, args.client);
  commands.push_back({resolve_cmd, [&args] {
                        return ResolveStep(args.client, args.saga_id, args.step_name,
                                           args.operator_flags, args.step_result);
                      }});
}

void AddTokenCommands(CLI::App& app, Commands& commands) {
  auto* token_cmd = app.add_subcommand("token", "make API tokens for --auth-tokens");
  token_cmd->require_subcommand(1);
  auto* hash_cmd = token_cmd->add_subcommand(
      "hash", "read a token on stdin and print its SHA-256 (the sha256 of a tokens file entry)");
  commands.push_back({hash_cmd, [] { return HashToken(); }});
  auto* new_cmd = token_cmd->add_subcommand("new", "print a new random token and its SHA-256");
  commands.push_back({new_cmd, [] { return NewToken(); }});
}

// The client commands' defaults from the environment, before the flags override them.
void ReadClientEnvironment(ClientFlags& client) {
  if (const char* address = std::getenv("SKALD_ADDRESS"); address && *address) {
    client.address = address;
  }
  if (const char* token = std::getenv("SKALD_TOKEN"); token && *token) client.token = token;
}

// Returns false (after saying why) when the log flags name no level.
bool ConfigureLogging(const Arguments& args) {
  auto level = spdlog::level::from_str(args.log_level);
  if (level == spdlog::level::off && args.log_level != "off") {
    std::cerr << "--log-level: unknown level \"" << args.log_level << "\"\n";
    return false;
  }
  observability::ConfigureLogging(*observability::ParseLogFormat(args.log_format), level);
  return true;
}

int Main(int argc, char** argv) {
  CLI::App app{"Skald: a saga coordinator for distributed transactions"};
  app.set_version_flag("--version",
                       std::string("skald ") + BuildVersion() + " (commit " + BuildCommit() + ")");
  app.require_subcommand(1);
  // Global flags may also follow the subcommand: `skald serve --log-format json ...`.
  app.fallthrough();
  Arguments args;
  ReadClientEnvironment(args.client);
  Commands commands;
  AddGlobalFlags(app, args);
  AddServeCommand(app, args, commands);
  AddDevCommand(app, args, commands);
  AddDefinitionCommands(app, args, commands);
  AddSagaCommands(app, args, commands);
  AddParticipantCommands(app, args, commands);
  AddStepCommands(app, args, commands);
  AddTokenCommands(app, commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2, as documented.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!ConfigureLogging(args)) return 2;
  for (const Command& command : commands) {
    if (*command.app) return command.run();
  }
  return 2;
}

}  // namespace
}  // namespace skald::cli

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  // Debian builds abseil without NDEBUG, which leaves absl::Mutex's deadlock detection on:
  // every lock gRPC takes updated a lock graph (3-4 % of the coordinator's CPU under load).
  // Our own code takes no absl::Mutex, and gRPC's lock order is gRPC's to test.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return skald::cli::Main(argc, argv);
}
