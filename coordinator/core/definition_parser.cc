#include "coordinator/core/definition_parser.h"

#include <algorithm>
#include <initializer_list>
#include <map>

#include "absl/status/status.h"
#include "coordinator/core/bounded_json.h"
#include "coordinator/core/duration.h"
#include "coordinator/core/notification.h"
#include "coordinator/core/template.h"

namespace skald::core {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

std::string Join(std::initializer_list<std::string_view> words) {
  std::string joined;
  for (std::string_view word : words) joined += (joined.empty() ? "" : ", ") + std::string(word);
  return joined;
}

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

// Settings a step inherits from the definition's `defaults`.
struct StepDefaults {
  RetryPolicy retry = DefaultActionRetryPolicy();
  RetryPolicy compensation_retry = DefaultCompensationRetryPolicy();
  milliseconds attempt_timeout{10'000};
  std::optional<milliseconds> step_timeout;
  milliseconds completion_timeout = kDefaultCompletionTimeout;
  std::optional<milliseconds> heartbeat_timeout;
};

// Reads a definition document, collecting every problem rather than stopping at the first.
class DefinitionReader {
 public:
  explicit DefinitionReader(const DefinitionLimits& limits) : limits_(limits) {}

  absl::StatusOr<SagaDefinition> Read(json document) {
    if (!document.is_object()) {
      return absl::InvalidArgumentError("definition: must be a JSON object, got " +
                                        std::string(document.type_name()));
    }
    RejectUnknownFields(document, "",
                        {"name", "version", "steps", "defaults", "timeout", "output", "notify"});
    ReadName(document, "", "name", definition_.name);
    ReadVersion(document);
    ReadDefaults(document);
    if (auto it = document.find("timeout"); it != document.end()) {
      definition_.timeout = Duration(*it, "timeout", /*positive=*/true);
    }
    if (auto it = document.find("output"); it != document.end()) definition_.output = *it;
    ReadNotify(document);
    ReadSteps(document);
    if (errors_.empty()) CheckGraph();
    if (errors_.empty()) CheckReferences();
    if (errors_.empty()) CheckPivot();
    if (!errors_.empty()) {
      std::string message;
      for (const std::string& error : errors_) {
        message += (message.empty() ? "" : "\n") + std::string("definition: ") + error;
      }
      return absl::InvalidArgumentError(message);
    }
    definition_.document = std::move(document);
    return std::move(definition_);
  }

 private:
  void Error(const std::string& path, absl::string_view problem) {
    errors_.push_back(path + ": " + std::string(problem));
  }

  static std::string Child(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

  void RejectUnknownFields(const json& object, const std::string& path,
                           std::initializer_list<std::string_view> known) {
    for (const auto& [key, unused] : object.items()) {
      if (std::ranges::find(known, key) == known.end()) {
        std::vector<std::string> candidates(known.begin(), known.end());
        std::string hint = ClosestName(key, candidates);
        Error(Child(path, key), "unknown field" +
                                    (hint.empty() ? "" : " (did you mean " + Quoted(hint) + "?)") +
                                    " (allowed: " + Join(known) + ")");
      }
    }
  }

  // Reads a required string field; returns false (after recording why) when it is absent
  // or not a string.
  bool ReadString(const json& object, const std::string& path, const char* field,
                  std::string& out) {
    auto it = object.find(field);
    if (it == object.end()) {
      Error(Child(path, field), "required string field is missing");
      return false;
    }
    if (!it->is_string()) {
      Error(Child(path, field), "must be a string, got " + std::string(it->type_name()));
      return false;
    }
    out = it->get<std::string>();
    return true;
  }

  void ReadName(const json& object, const std::string& path, const char* field, std::string& out) {
    if (!ReadString(object, path, field, out)) return;
    if (auto s = ValidateName(out, limits_.max_name_length); !s.ok()) {
      Error(Child(path, field), s.message());
    }
  }

  std::optional<milliseconds> Duration(const json& value, const std::string& path, bool positive) {
    if (!value.is_string()) {
      Error(path,
            "must be a duration string like \"500ms\", got " + std::string(value.type_name()));
      return std::nullopt;
    }
    auto duration = ParseDuration(value.get<std::string>());
    if (!duration.ok()) {
      Error(path, duration.status().message());
      return std::nullopt;
    }
    if (positive && duration->count() == 0) {
      Error(path, "must be longer than 0ms");
      return std::nullopt;
    }
    return *duration;
  }

  void ReadVersion(const json& document) {
    auto version = document.find("version");
    if (version == document.end()) {
      Error("version", "required integer field is missing");
    } else if (!version->is_number_integer() || version->get<long long>() < 1 ||
               version->get<long long>() > 1'000'000) {
      Error("version", "must be a whole number from 1 to 1000000");
    } else {
      definition_.version = version->get<int>();
    }
  }

  void ReadNotify(const json& document) {
    auto it = document.find("notify");
    if (it == document.end()) return;
    if (!it->is_string()) {
      Error("notify",
            "must be an http:// or https:// URL string, got " + std::string(it->type_name()));
      return;
    }
    const std::string url = it->get<std::string>();
    if (absl::Status s = ValidateWebhookUrl(url); !s.ok()) {
      Error("notify", s.message());
      return;
    }
    definition_.notify = url;
  }

  // Overrides the fields of `policy` that `value` sets.
  void ReadRetryPolicy(const json& value, const std::string& path, RetryPolicy& policy) {
    if (!value.is_object()) {
      Error(path, "must be an object, got " + std::string(value.type_name()));
      return;
    }
    RejectUnknownFields(value, path,
                        {"max_attempts", "initial_interval", "backoff_coefficient", "max_interval",
                         "jitter", "non_retryable_errors"});
    if (auto it = value.find("max_attempts"); it != value.end()) {
      if (!it->is_number_integer() || it->get<long long>() < 1 || it->get<long long>() > 10'000) {
        Error(Child(path, "max_attempts"), "must be a whole number from 1 to 10000");
      } else {
        policy.max_attempts = it->get<int>();
      }
    }
    if (auto it = value.find("initial_interval"); it != value.end()) {
      if (auto d = Duration(*it, Child(path, "initial_interval"), false)) {
        policy.initial_interval = *d;
      }
    }
    if (auto it = value.find("backoff_coefficient"); it != value.end()) {
      if (!it->is_number() || it->get<double>() < 1.0 || it->get<double>() > 100.0) {
        Error(Child(path, "backoff_coefficient"), "must be a number from 1 to 100");
      } else {
        policy.backoff_coefficient = it->get<double>();
      }
    }
    if (auto it = value.find("max_interval"); it != value.end()) {
      if (auto d = Duration(*it, Child(path, "max_interval"), false)) policy.max_interval = *d;
    }
    if (auto it = value.find("jitter"); it != value.end()) {
      if (!it->is_number() || it->get<double>() < 0.0 || it->get<double>() > 1.0) {
        Error(Child(path, "jitter"), "must be a number from 0 to 1");
      } else {
        policy.jitter = it->get<double>();
      }
    }
    if (auto it = value.find("non_retryable_errors"); it != value.end()) {
      const std::string where = Child(path, "non_retryable_errors");
      if (!it->is_array()) {
        Error(where, "must be an array of error codes, got " + std::string(it->type_name()));
      } else {
        policy.non_retryable_errors.clear();
        for (size_t i = 0; i < it->size(); ++i) {
          const json& code = (*it)[i];
          if (!code.is_string() || code.get<std::string>().empty()) {
            Error(where + "[" + std::to_string(i) + "]", "must be a non-empty string");
          } else {
            policy.non_retryable_errors.push_back(code.get<std::string>());
          }
        }
      }
    }
    if (policy.max_interval < policy.initial_interval) {
      Error(Child(path, "max_interval"), "must not be shorter than initial_interval");
    }
  }

  void ReadDefaults(const json& document) {
    auto it = document.find("defaults");
    if (it == document.end()) return;
    if (!it->is_object()) {
      Error("defaults", "must be an object, got " + std::string(it->type_name()));
      return;
    }
    RejectUnknownFields(*it, "defaults",
                        {"retry", "compensation_retry", "attempt_timeout", "step_timeout",
                         "completion_timeout", "heartbeat_timeout"});
    if (auto r = it->find("retry"); r != it->end()) {
      ReadRetryPolicy(*r, "defaults.retry", defaults_.retry);
    }
    if (auto r = it->find("compensation_retry"); r != it->end()) {
      ReadRetryPolicy(*r, "defaults.compensation_retry", defaults_.compensation_retry);
    }
    if (auto t = it->find("attempt_timeout"); t != it->end()) {
      if (auto d = Duration(*t, "defaults.attempt_timeout", true)) defaults_.attempt_timeout = *d;
    }
    if (auto t = it->find("step_timeout"); t != it->end()) {
      defaults_.step_timeout = Duration(*t, "defaults.step_timeout", true);
    }
    if (auto t = it->find("completion_timeout"); t != it->end()) {
      if (auto d = Duration(*t, "defaults.completion_timeout", true)) {
        defaults_.completion_timeout = *d;
      }
    }
    if (auto t = it->find("heartbeat_timeout"); t != it->end()) {
      defaults_.heartbeat_timeout = Duration(*t, "defaults.heartbeat_timeout", true);
    }
  }

  // A step names either a fixed `participant` address or a registered `service`.
  void ReadTarget(const json& value, const std::string& path, StepDefinition& step) {
    const bool has_participant = value.contains("participant");
    const bool has_service = value.contains("service");
    if (has_participant && has_service) {
      Error(Child(path, "service"),
            "a step names either \"participant\" (a fixed address) or \"service\" (registered "
            "instances), not both");
      return;
    }
    if (has_service) {
      ReadName(value, path, "service", step.service);
      return;
    }
    if (!has_participant) {
      Error(Child(path, "participant"),
            "required: the step's \"participant\" address (\"host:port\") or its \"service\" "
            "name is missing");
      return;
    }
    ReadParticipant(value, path, step.participant);
  }

  void ReadParticipant(const json& value, const std::string& path, std::string& out) {
    if (!ReadString(value, path, "participant", out)) return;
    const std::string where = Child(path, "participant");
    const size_t colon = out.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == out.size()) {
      Error(where, "must be \"host:port\", got " + Quoted(out));
      return;
    }
    const std::string port = out.substr(colon + 1);
    if (!std::ranges::all_of(port, [](char c) { return c >= '0' && c <= '9'; }) ||
        port.size() > 5 || std::stoi(port) == 0 || std::stoi(port) > 65535) {
      Error(where, "port must be a number from 1 to 65535, got " + Quoted(port));
    }
  }

  void ReadCondition(const json& value, const std::string& path, StepDefinition& step) {
    if (!value.is_object()) {
      Error(path, "must be an object like {\"value\": \"${input}/x\", \"equals\": 1}, got " +
                      std::string(value.type_name()));
      return;
    }
    static const std::map<std::string, Condition::Op> kOps = {
        {"equals", Condition::Op::kEquals}, {"not_equals", Condition::Op::kNotEquals},
        {"exists", Condition::Op::kExists}, {"gt", Condition::Op::kGt},
        {"gte", Condition::Op::kGte},       {"lt", Condition::Op::kLt},
        {"lte", Condition::Op::kLte}};
    RejectUnknownFields(value, path,
                        {"value", "equals", "not_equals", "exists", "gt", "gte", "lt", "lte"});
    Condition condition;
    if (!ReadString(value, path, "value", condition.value)) return;
    auto reference = ParseReference(condition.value);
    if (!reference.ok()) {
      Error(Child(path, "value"), reference.status().message());
      return;
    }
    if (!*reference) {
      Error(Child(path, "value"),
            "must be a reference like \"${input}/amount\", got " + Quoted(condition.value));
      return;
    }
    int operators = 0;
    for (const auto& [name, op] : kOps) {
      auto it = value.find(name);
      if (it == value.end()) continue;
      ++operators;
      condition.op = op;
      condition.operand = *it;
      if (op == Condition::Op::kExists && !it->is_boolean()) {
        Error(Child(path, name), "must be true or false");
      } else if (op != Condition::Op::kExists && op != Condition::Op::kEquals &&
                 op != Condition::Op::kNotEquals && !it->is_number()) {
        Error(Child(path, name), "must be a number, got " + std::string(it->type_name()));
      }
    }
    if (operators != 1) {
      Error(path,
            "must hold exactly one comparison (equals, not_equals, exists, gt, gte, lt, "
            "lte), got " +
                std::to_string(operators));
      return;
    }
    step.when = std::move(condition);
  }

  void ReadStep(const json& value, const std::string& path) {
    StepDefinition step;
    step.retry = defaults_.retry;
    step.compensation_retry = defaults_.compensation_retry;
    step.attempt_timeout = defaults_.attempt_timeout;
    step.step_timeout = defaults_.step_timeout;
    step.completion_timeout = defaults_.completion_timeout;
    step.heartbeat_timeout = defaults_.heartbeat_timeout;
    if (!value.is_object()) {
      Error(path, "must be an object, got " + std::string(value.type_name()));
      definition_.steps.push_back(std::move(step));
      after_names_.emplace_back();
      return;
    }
    RejectUnknownFields(value, path,
                        {"name", "participant", "service", "action", "compensation", "after",
                         "input", "when", "pivot", "retry", "compensation_retry", "attempt_timeout",
                         "step_timeout", "completion_timeout", "heartbeat_timeout"});
    ReadName(value, path, "name", step.name);
    ReadTarget(value, path, step);
    ReadName(value, path, "action", step.action);
    if (value.contains("compensation")) ReadName(value, path, "compensation", step.compensation);
    if (auto it = value.find("retry"); it != value.end()) {
      ReadRetryPolicy(*it, Child(path, "retry"), step.retry);
    }
    if (auto it = value.find("compensation_retry"); it != value.end()) {
      ReadRetryPolicy(*it, Child(path, "compensation_retry"), step.compensation_retry);
    }
    if (auto it = value.find("attempt_timeout"); it != value.end()) {
      if (auto d = Duration(*it, Child(path, "attempt_timeout"), true)) step.attempt_timeout = *d;
    }
    if (auto it = value.find("step_timeout"); it != value.end()) {
      step.step_timeout = Duration(*it, Child(path, "step_timeout"), true);
    }
    if (auto it = value.find("completion_timeout"); it != value.end()) {
      if (auto d = Duration(*it, Child(path, "completion_timeout"), true)) {
        step.completion_timeout = *d;
      }
    }
    if (auto it = value.find("heartbeat_timeout"); it != value.end()) {
      step.heartbeat_timeout = Duration(*it, Child(path, "heartbeat_timeout"), true);
    }
    // A heartbeat deadline past the completion deadline would never be the one that fires.
    if (step.heartbeat_timeout && *step.heartbeat_timeout > step.completion_timeout) {
      Error(Child(path, "heartbeat_timeout"), "must not be longer than completion_timeout (" +
                                                  FormatDuration(step.completion_timeout) +
                                                  "), got " +
                                                  FormatDuration(*step.heartbeat_timeout));
    }
    if (auto it = value.find("input"); it != value.end()) step.input = *it;
    if (auto it = value.find("when"); it != value.end()) {
      ReadCondition(*it, Child(path, "when"), step);
    }
    if (auto it = value.find("pivot"); it != value.end()) {
      if (!it->is_boolean()) {
        Error(Child(path, "pivot"), "must be true or false");
      } else {
        step.pivot = it->get<bool>();
      }
    }
    std::optional<std::vector<std::pair<std::string, std::string>>> after;
    if (auto it = value.find("after"); it != value.end()) {
      after.emplace();
      if (!it->is_array()) {
        Error(Child(path, "after"),
              "must be an array of step names, got " + std::string(it->type_name()));
      } else {
        for (size_t i = 0; i < it->size(); ++i) {
          const std::string where = Child(path, "after") + "[" + std::to_string(i) + "]";
          if (!(*it)[i].is_string()) {
            Error(where, "must be a step name, got " + std::string((*it)[i].type_name()));
          } else {
            after->emplace_back(where, (*it)[i].get<std::string>());
          }
        }
      }
    }
    after_names_.push_back(std::move(after));
    definition_.steps.push_back(std::move(step));
  }

  void ReadSteps(const json& document) {
    auto steps = document.find("steps");
    if (steps == document.end()) {
      Error("steps", "required array field is missing");
      return;
    }
    if (!steps->is_array()) {
      Error("steps", "must be an array, got " + std::string(steps->type_name()));
      return;
    }
    if (steps->empty()) {
      Error("steps", "must list at least one step");
      return;
    }
    if (steps->size() > limits_.max_steps) {
      Error("steps", "has " + std::to_string(steps->size()) + " steps, over the limit of " +
                         std::to_string(limits_.max_steps) + " (--max-steps)");
      return;
    }
    for (size_t i = 0; i < steps->size(); ++i) {
      ReadStep((*steps)[i], "steps[" + std::to_string(i) + "]");
    }
    std::map<std::string, size_t> seen;
    for (size_t i = 0; i < definition_.steps.size(); ++i) {
      const std::string& name = definition_.steps[i].name;
      if (name.empty()) continue;
      if (auto [it, inserted] = seen.emplace(name, i); !inserted) {
        Error("steps[" + std::to_string(i) + "].name", "duplicate step name " + Quoted(name) +
                                                           " (also steps[" +
                                                           std::to_string(it->second) + "])");
      }
    }
    ResolveDependencies();
  }

  std::vector<std::string> StepNames() const {
    std::vector<std::string> names;
    for (const auto& step : definition_.steps) names.push_back(step.name);
    return names;
  }

  std::string UnknownStep(std::string_view name) const {
    std::string hint = ClosestName(name, StepNames());
    return "unknown step " + Quoted(name) +
           (hint.empty() ? "" : " (did you mean " + Quoted(hint) + "?)");
  }

  void ResolveDependencies() {
    for (size_t i = 0; i < definition_.steps.size(); ++i) {
      StepDefinition& step = definition_.steps[i];
      if (!after_names_[i]) {
        // Without `after`, a step follows the one listed before it.
        if (i > 0) step.after.push_back(static_cast<int>(i) - 1);
        continue;
      }
      for (const auto& [where, name] : *after_names_[i]) {
        auto index = definition_.StepIndex(name);
        if (!index) {
          Error(where, UnknownStep(name));
        } else if (*index == static_cast<int>(i)) {
          Error(where, "a step cannot run after itself");
        } else if (std::ranges::find(step.after, *index) != step.after.end()) {
          Error(where, "lists " + Quoted(name) + " twice");
        } else {
          step.after.push_back(*index);
        }
      }
    }
  }

  // Reports a cycle, if any, as "a -> b -> a" at the `after` of the step that closes it.
  void CheckGraph() {
    const size_t n = definition_.steps.size();
    enum class Mark { kNew, kActive, kDone };
    std::vector<Mark> mark(n, Mark::kNew);
    std::vector<int> trail;
    std::function<bool(int)> visit = [&](int step) {
      mark[step] = Mark::kActive;
      trail.push_back(step);
      for (int dependency : definition_.steps[step].after) {
        if (mark[dependency] == Mark::kActive) {
          std::string cycle;
          auto start = std::ranges::find(trail, dependency);
          for (auto it = start; it != trail.end(); ++it) {
            cycle += definition_.steps[*it].name + " -> ";
          }
          cycle += definition_.steps[dependency].name;
          Error("steps[" + std::to_string(step) + "].after",
                "dependency cycle: " + cycle + " (each step runs after the next)");
          return true;
        }
        if (mark[dependency] == Mark::kNew && visit(dependency)) return true;
      }
      trail.pop_back();
      mark[step] = Mark::kDone;
      return false;
    };
    for (size_t i = 0; i < n; ++i) {
      if (mark[i] == Mark::kNew && visit(static_cast<int>(i))) return;
    }
  }

  // Each step may read only what is certain to exist when it starts: the saga input and
  // the outputs of its ancestors.
  void CheckReferences() {
    for (size_t i = 0; i < definition_.steps.size(); ++i) {
      const StepDefinition& step = definition_.steps[i];
      const std::string path = "steps[" + std::to_string(i) + "]";
      auto check = [&](const std::string& where, const Reference& reference) {
        if (reference.step.empty()) return absl::OkStatus();
        auto index = definition_.StepIndex(reference.step);
        if (!index) {
          Error(where, UnknownStep(reference.step));
        } else if (!definition_.IsAncestor(*index, static_cast<int>(i))) {
          Error(where, "step " + Quoted(reference.step) + " is not an ancestor of " +
                           Quoted(step.name) + ", so its output may not exist yet (add it to " +
                           "\"after\")");
        }
        return absl::OkStatus();
      };
      if (step.input) {
        if (auto s = ForEachReference(*step.input, Child(path, "input"), check); !s.ok()) {
          errors_.push_back(std::string(s.message()));
        }
      }
      if (step.when) {
        auto reference = ParseReference(step.when->value);
        if (reference.ok() && *reference) {
          (void)check(Child(path, "when.value"), **reference);
        }
      }
    }
    if (definition_.output) {
      auto check = [&](const std::string& where, const Reference& reference) {
        if (!reference.step.empty() && !definition_.StepIndex(reference.step)) {
          Error(where, UnknownStep(reference.step));
        }
        return absl::OkStatus();
      };
      if (auto s = ForEachReference(*definition_.output, "output", check); !s.ok()) {
        errors_.push_back(std::string(s.message()));
      }
    }
  }

  void CheckPivot() {
    std::optional<int> pivot;
    for (size_t i = 0; i < definition_.steps.size(); ++i) {
      if (!definition_.steps[i].pivot) continue;
      if (pivot) {
        Error("steps[" + std::to_string(i) + "].pivot", "a definition has at most one pivot; " +
                                                            Quoted(definition_.steps[*pivot].name) +
                                                            " is one already");
        return;
      }
      pivot = static_cast<int>(i);
    }
    if (!pivot) return;
    const StepDefinition& pivot_step = definition_.steps[*pivot];
    if (pivot_step.has_compensation()) {
      Error("steps[" + std::to_string(*pivot) + "].compensation",
            "the pivot cannot be compensated: it is the point of no return");
    }
    for (size_t i = 0; i < definition_.steps.size(); ++i) {
      if (static_cast<int>(i) == *pivot) continue;
      StepDefinition& step = definition_.steps[i];
      const std::string path = "steps[" + std::to_string(i) + "]";
      if (definition_.IsAncestor(static_cast<int>(i), *pivot)) {
        if (!step.has_compensation()) {
          Error(Child(path, "compensation"),
                "required: " + Quoted(step.name) + " runs before the pivot " +
                    Quoted(pivot_step.name) + ", so it must be undoable");
        }
      } else if (definition_.IsAncestor(*pivot, static_cast<int>(i))) {
        step.after_pivot = true;
        if (step.has_compensation()) {
          Error(Child(path, "compensation"),
                "not allowed: " + Quoted(step.name) + " runs after the pivot " +
                    Quoted(pivot_step.name) + " and is retried until it succeeds");
        }
      } else {
        Error(path, Quoted(step.name) + " is neither before nor after the pivot " +
                        Quoted(pivot_step.name) +
                        ": with a pivot, every step must be an ancestor or a descendant of it");
      }
    }
  }

  const DefinitionLimits& limits_;
  SagaDefinition definition_;
  StepDefaults defaults_;
  // Per step: its `after` entries (path, name) as written, or nullopt when absent.
  std::vector<std::optional<std::vector<std::pair<std::string, std::string>>>> after_names_;
  std::vector<std::string> errors_;
};

std::string DescribeParseError(const json::parse_error& error, std::string_view text) {
  // nlohmann reports a byte offset one past the offending character; people want lines.
  const size_t offset = std::min<size_t>(error.byte == 0 ? 0 : error.byte - 1, text.size());
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  std::string what = error.what();
  // Drop the library's "[json.exception.parse_error.101] parse error at line 1, column 2: "
  // prefix: the position is reported our way.
  if (size_t colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
  return "definition is not valid JSON: line " + std::to_string(line) + ", column " +
         std::to_string(column) + ": " + what;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      current[j] = std::min(
          {previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

}  // namespace

std::string ClosestName(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  // A suggestion must be within a couple of edits, or half the name for longer names.
  size_t best_distance = std::max<size_t>(2, name.size() / 2) + 1;
  for (const std::string& candidate : candidates) {
    if (candidate.empty() || candidate == name) continue;
    const size_t distance = EditDistance(name, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

absl::Status ValidateName(std::string_view name, size_t max_length) {
  if (name.empty()) return absl::InvalidArgumentError("must not be empty");
  if (name.size() > max_length) {
    return absl::InvalidArgumentError("longer than " + std::to_string(max_length) +
                                      " characters, the limit (--max-name-length)");
  }
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name.front())) {
    return absl::InvalidArgumentError(Quoted(name) + " must start with a letter or digit");
  }
  for (char c : name) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') {
      return absl::InvalidArgumentError(Quoted(name) +
                                        " may hold only letters, digits, '-', '_' and '.'");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SagaDefinition> ParseDefinition(std::string_view json_text,
                                               const DefinitionLimits& limits) {
  if (json_text.size() > limits.max_document_bytes) {
    return absl::InvalidArgumentError(
        "definition: document is " + std::to_string(json_text.size()) +
        " bytes, over the limit of " + std::to_string(limits.max_document_bytes) +
        " (--max-definition-bytes)");
  }
  // The depth is checked while parsing, which is iterative and linear: a too-deep value is
  // dropped there, before anything could recurse into it.
  json document;
  try {
    if (!ParseJsonWithinDepth(json_text, limits.max_nesting_depth, document)) {
      return absl::InvalidArgumentError("definition: objects and arrays nested deeper than " +
                                        std::to_string(limits.max_nesting_depth) + " levels");
    }
  } catch (const json::parse_error& error) {
    return absl::InvalidArgumentError(DescribeParseError(error, json_text));
  } catch (const json::exception& error) {
    // Not a syntax error: a number too large for any type (out_of_range 406), found by
    // fuzzing. It must not escape: an exception here would end the coordinator.
    return absl::InvalidArgumentError(std::string("definition: ") + error.what());
  }
  return DefinitionReader(limits).Read(std::move(document));
}

}  // namespace skald::core
