// Fuzzes ParseDefinition (coordinator/core/definition_parser.h): parsing and validation of
// a definition document, which arrives over the wire (`skald definition apply`, the JSON
// API). Besides crashes and sanitizer reports, it checks what the rest of the coordinator
// relies on once a definition was accepted.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "coordinator/core/definition_parser.h"
#include "fuzz/fuzz_check.h"

namespace {

using skald::core::SagaDefinition;

// Kahn's algorithm: true when every step can be ordered after its `after` steps.
bool Acyclic(const SagaDefinition& definition) {
  const size_t n = definition.steps.size();
  std::vector<size_t> waiting(n, 0);
  for (size_t i = 0; i < n; ++i) waiting[i] = definition.steps[i].after.size();
  std::vector<int> ready;
  for (size_t i = 0; i < n; ++i) {
    if (waiting[i] == 0) ready.push_back(static_cast<int>(i));
  }
  size_t ordered = 0;
  while (!ready.empty()) {
    const int step = ready.back();
    ready.pop_back();
    ++ordered;
    for (int dependent : definition.Dependents(step)) {
      if (--waiting[dependent] == 0) ready.push_back(dependent);
    }
  }
  return ordered == n;
}

void CheckAccepted(const SagaDefinition& definition) {
  const skald::core::DefinitionLimits limits;
  FUZZ_CHECK(skald::core::ValidateName(definition.name, limits.max_name_length).ok(),
             "accepted an invalid definition name");
  FUZZ_CHECK(definition.version >= 1 && definition.version <= 1'000'000, "version out of range");
  FUZZ_CHECK(!definition.steps.empty(), "accepted a definition without steps");
  FUZZ_CHECK(definition.steps.size() <= limits.max_steps, "more steps than the limit");
  std::set<std::string> names;
  int pivots = 0;
  for (size_t i = 0; i < definition.steps.size(); ++i) {
    const auto& step = definition.steps[i];
    FUZZ_CHECK(names.insert(step.name).second, "two steps with the same name");
    FUZZ_CHECK(skald::core::ValidateName(step.name, limits.max_name_length).ok(),
               "accepted an invalid step name");
    FUZZ_CHECK(step.participant.empty() != step.service.empty(),
               "a step needs exactly one of participant and service");
    FUZZ_CHECK(!step.action.empty(), "a step without an action");
    FUZZ_CHECK(step.attempt_timeout.count() > 0, "a step with a zero attempt timeout");
    FUZZ_CHECK(definition.StepIndex(step.name) == static_cast<int>(i), "StepIndex disagrees");
    for (int dependency : step.after) {
      FUZZ_CHECK(dependency >= 0 && static_cast<size_t>(dependency) < definition.steps.size(),
                 "an `after` index out of range");
      FUZZ_CHECK(dependency != static_cast<int>(i), "a step runs after itself");
      FUZZ_CHECK(definition.IsAncestor(dependency, static_cast<int>(i)),
                 "IsAncestor misses a direct dependency");
    }
    if (step.pivot) ++pivots;
  }
  FUZZ_CHECK(pivots <= 1, "more than one pivot");
  FUZZ_CHECK(Acyclic(definition), "accepted a dependency cycle");

  // The stored document is what was sent: parsing it again gives the same definition
  // (the coordinator re-reads stored definitions after every restart).
  const std::string stored = definition.document.dump();
  auto again = skald::core::ParseDefinition(stored);
  FUZZ_CHECK(again.ok(), std::string(again.status().message()).c_str());
  FUZZ_CHECK(again->name == definition.name && again->version == definition.version,
             "re-parsing the stored document changed its name or version");
  FUZZ_CHECK(again->steps.size() == definition.steps.size(), "re-parsing changed the steps");
  for (size_t i = 0; i < definition.steps.size(); ++i) {
    FUZZ_CHECK(again->steps[i].name == definition.steps[i].name &&
                   again->steps[i].after == definition.steps[i].after &&
                   again->steps[i].after_pivot == definition.steps[i].after_pivot,
               "re-parsing changed a step");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto definition = skald::core::ParseDefinition(text);
  if (definition.ok()) {
    CheckAccepted(*definition);
  } else {
    // Every refusal is INVALID_ARGUMENT with at least one line naming the definition.
    FUZZ_CHECK(definition.status().code() == absl::StatusCode::kInvalidArgument,
               "error other than INVALID_ARGUMENT");
    FUZZ_CHECK(absl::StartsWith(definition.status().message(), "definition"),
               "error message does not start with \"definition\"");
  }
  return 0;
}
