// `skald definition validate | show | graph | simulate`.
#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "absl/status/status.h"
#include "coordinator/cli/commands.h"
#include "coordinator/cli/definition_graph.h"
#include "coordinator/cli/definition_printer.h"
#include "coordinator/cli/rpc_support.h"
#include "coordinator/core/definition_parser.h"
#include "coordinator/core/simulation.h"
#include "grpcpp/grpcpp.h"
#include "skald/v1/saga_service.grpc.pb.h"

namespace skald::cli {
namespace {

// Returns the file's contents ("-" reads stdin), or nullopt when it cannot be read.
std::optional<std::string> ReadText(const std::string& file) {
  std::stringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(file);
  if (!in) return std::nullopt;
  text << in.rdbuf();
  return text.str();
}

// Writes the parser's errors to stderr, one per line.
void PrintErrors(const absl::Status& status) { std::cerr << std::string(status.message()) << "\n"; }

grpc::Status Fetch(const ClientFlags& client, const std::string& name, int version,
                   v1::GetDefinitionResponse& response) {
  auto stub = Connect(client);
  v1::GetDefinitionRequest request;
  request.set_name(name);
  request.set_version(version);
  grpc::ClientContext context;
  SetDeadline(context);
  return stub->GetDefinition(&context, request, &response);
}

// Parses a definition document that the coordinator already accepted; prints why not on
// failure (a coordinator and a CLI of different versions may disagree).
std::optional<core::SagaDefinition> ParseStored(const std::string& json_text) {
  auto definition = core::ParseDefinition(json_text);
  if (definition.ok()) return std::move(*definition);
  std::cerr << "error: the stored definition does not parse with this skald:\n";
  PrintErrors(definition.status());
  return std::nullopt;
}

// Loads the definition `source` names into `out`; on failure prints why and returns the
// exit code, else 0.
int Load(const ClientFlags& client, const DefinitionSource& source, core::SagaDefinition& out) {
  if (source.file.empty() == source.name.empty()) {
    std::cerr << "error: give either a definition NAME (fetched from the coordinator) or "
                 "--file FILE\n";
    return kExitUsage;
  }
  if (!source.file.empty()) {
    std::optional<std::string> text = ReadText(source.file);
    if (!text) {
      std::cerr << "error: cannot read " << source.file << "\n";
      return kExitUsage;
    }
    auto definition = core::ParseDefinition(*text);
    if (!definition.ok()) {
      PrintErrors(definition.status());
      return kExitError;
    }
    out = std::move(*definition);
    return 0;
  }
  v1::GetDefinitionResponse response;
  grpc::Status status = Fetch(client, source.name, source.version, response);
  if (!status.ok()) return ReportRpcError(status, client);
  std::optional<core::SagaDefinition> definition = ParseStored(response.definition_json());
  if (!definition) return kExitError;
  out = std::move(*definition);
  return 0;
}

}  // namespace

int ValidateDefinition(const std::string& file) {
  std::optional<std::string> text = ReadText(file);
  if (!text) {
    std::cerr << "error: cannot read " << file << "\n";
    return kExitUsage;
  }
  auto definition = core::ParseDefinition(*text);
  if (!definition.ok()) {
    PrintErrors(definition.status());
    return kExitError;
  }
  const size_t steps = definition->steps.size();
  std::cout << "definition " << definition->name << " v" << definition->version << " is valid ("
            << steps << (steps == 1 ? " step)" : " steps)") << "\n";
  return 0;
}

int ShowDefinition(const ClientFlags& client, const std::string& name, int version) {
  v1::GetDefinitionResponse response;
  grpc::Status status = Fetch(client, name, version, response);
  if (!status.ok()) return ReportRpcError(status, client);
  const nlohmann::json document =
      nlohmann::json::parse(response.definition_json(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    std::cerr << "error: the coordinator sent a definition that is not valid JSON\n";
    return kExitError;
  }
  if (client.json) {
    std::cout << document.dump(2) << "\n";
    return 0;
  }
  std::optional<core::SagaDefinition> definition = ParseStored(response.definition_json());
  if (!definition) return kExitError;
  std::cout << "definition " << response.name() << " v" << response.version();
  if (response.has_created_at()) std::cout << " (applied " << response.created_at() << ")";
  std::cout << "\n\n" << document.dump(2) << "\n\n";
  PrintStepTable(*definition, std::cout);
  return 0;
}

int GraphDefinition(const ClientFlags& client, const DefinitionSource& source,
                    const std::string& format) {
  std::optional<GraphFormat> graph_format = ParseGraphFormat(format);
  if (!graph_format) {
    std::cerr << "error: --format: unknown format \"" << format << "\" (dot, mermaid)\n";
    return kExitUsage;
  }
  core::SagaDefinition definition;
  if (int code = Load(client, source, definition); code != 0) return code;
  std::cout << RenderGraph(definition, *graph_format);
  return 0;
}

int SimulateDefinition(const ClientFlags& client, const DefinitionSource& source) {
  core::SagaDefinition definition;
  if (int code = Load(client, source, definition); code != 0) return code;
  const std::vector<core::ScenarioResult> scenarios = core::Simulate(definition);
  if (client.json) {
    std::cout << SimulationToJson(definition, scenarios).dump(2) << "\n";
  } else {
    PrintSimulation(definition, scenarios, std::cout);
  }
  return 0;
}

}  // namespace skald::cli
