#include "bench/scenario.h"

namespace skald::bench {

std::string Scenario::Name() const {
  std::string name = "bench-" + std::to_string(steps) + (parallel ? "-parallel" : "-linear");
  name += barrier ? "-barrier" : "-plain";
  return name;
}

nlohmann::json DefinitionFor(const Scenario& scenario, const std::string& address) {
  nlohmann::json steps = nlohmann::json::array();
  for (int i = 1; i <= scenario.steps; ++i) {
    nlohmann::json step = {{"name", "s" + std::to_string(i)},
                           {"participant", address},
                           {"action", "act"},
                           {"compensation", "undo"}};
    if (scenario.parallel) step["after"] = nlohmann::json::array();
    steps.push_back(std::move(step));
  }
  return {{"name", scenario.Name()},
          {"version", 1},
          {"defaults",
           {{"retry", {{"max_attempts", 3}, {"initial_interval", "100ms"}}},
            {"attempt_timeout", "5s"}}},
          {"steps", std::move(steps)}};
}

std::string FailingStep(const Scenario& scenario) { return "s" + std::to_string(scenario.steps); }

}  // namespace skald::bench
