#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "coordinator/cli/commands.h"

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
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();

  skald::cli::ClientFlags client;
  if (const char* address = std::getenv("SKALD_ADDRESS"); address && *address) {
    client.address = address;
  }
  auto add_client_flags = [&](CLI::App* command) {
    command->add_option("--address", client.address, "coordinator address (env SKALD_ADDRESS)")
        ->capture_default_str();
    command->add_flag("--json", client.json, "print JSON instead of a table");
  };

  auto add_shutdown_flag = [](CLI::App* command, std::string& grace) {
    command
        ->add_option("--shutdown-grace", grace,
                     "on SIGTERM, how long calls in flight may take to answer")
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
  };

  skald::cli::ServeFlags serve;
  auto* serve_cmd =
      app.add_subcommand("serve", "run the coordinator against a PostgreSQL database");
  serve_cmd->add_option("--db", serve.database_uri, "libpq connection URI")->required();
  serve_cmd->add_option("--listen", serve.listen_address, "host:port for the client API")
      ->capture_default_str();
  serve_cmd->add_option("--ready-file", serve.ready_file,
                        "write the bound address here once serving");
  add_limit_flags(serve_cmd, serve.limits);
  add_shutdown_flag(serve_cmd, serve.shutdown_grace);
  serve_cmd->add_option("--node-id", serve.node_id,
                        "this coordinator's name in lease records, unique among running "
                        "coordinators (default: host/pid/random)");
  serve_cmd
      ->add_option("--lease-ttl", serve.lease_ttl,
                   "how long a saga's lease lasts without renewal; a dead coordinator's "
                   "sagas are taken over within about this plus 1s")
      ->capture_default_str();
  // Test switches, hidden from --help (an empty group name hides an option).
  serve_cmd
      ->add_flag("--test-duplicate-calls", serve.test_duplicate_calls,
                 "TEST ONLY: send every participant call twice")
      ->group("");
  serve_cmd
      ->add_option("--test-late-action", serve.test_late_action,
                   "TEST ONLY: STEP:DURATION, deliver that step's actions late")
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
  add_limit_flags(dev_cmd, dev.limits);
  add_shutdown_flag(dev_cmd, dev.shutdown_grace);

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
  start_cmd->add_option("--input", input_json, "saga input, a JSON object")->capture_default_str();
  start_cmd->add_option("--id", saga_id, "client-chosen id: starting twice returns the first");
  start_cmd->add_option("--version", version, "definition version (default: the latest)");
  add_client_flags(start_cmd);

  auto* get_cmd = saga_cmd->add_subcommand("get", "show a saga and its steps");
  get_cmd->add_option("id", saga_id, "saga id")->required();
  add_client_flags(get_cmd);

  std::string state_filter, definition_filter;
  int limit = 50;
  auto* list_cmd = saga_cmd->add_subcommand("list", "list sagas, newest first");
  list_cmd->add_option("--state", state_filter, "only sagas in this state, e.g. FAILED");
  list_cmd->add_option("--definition", definition_filter, "only sagas of this definition");
  list_cmd->add_option("--limit", limit, "at most this many (1-1000)")->capture_default_str();
  add_client_flags(list_cmd);

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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  auto level = spdlog::level::from_str(log_level);
  if (level == spdlog::level::off && log_level != "off") {
    std::cerr << "--log-level: unknown level \"" << log_level << "\"\n";
    return 2;
  }
  spdlog::set_level(level);

  if (*serve_cmd) {
    return skald::cli::RunServe(serve);
  }
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
    return skald::cli::StartSaga(client, definition_name, version, input_json, saga_id);
  }
  if (*participant_list_cmd) {
    return skald::cli::ListParticipants(client, service_filter);
  }
  if (*get_cmd) {
    return skald::cli::GetSaga(client, saga_id);
  }
  if (*list_cmd) {
    return skald::cli::ListSagas(client, state_filter, definition_filter, limit);
  }
  if (*wait_cmd) {
    return skald::cli::WaitSaga(client, saga_id, wait_timeout);
  }
  return 2;
}
