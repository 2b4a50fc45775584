#include "coordinator/core/definition_parser.h"

#include <algorithm>
#include <initializer_list>
#include <map>

#include "absl/status/status.h"
#include "coordinator/core/duration.h"

namespace skald::core {
namespace {

using nlohmann::json;

absl::Status FieldError(const std::string& path, absl::string_view problem) {
  return absl::InvalidArgumentError("definition: " + path + ": " + std::string(problem));
}

std::string TypeName(const json& value) { return value.type_name(); }

// Rejects any member of `object` not in `known`, so a misspelt field is reported instead of
// silently ignored.
absl::Status RejectUnknownFields(const json& object, const std::string& path,
                                 std::initializer_list<std::string_view> known) {
  for (const auto& [key, unused] : object.items()) {
    if (std::ranges::find(known, key) == known.end()) {
      std::string allowed;
      for (std::string_view k : known) allowed += (allowed.empty() ? "" : ", ") + std::string(k);
      return FieldError(path.empty() ? key : path + "." + key,
                        "unknown field (allowed: " + allowed + ")");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RequiredString(const json& object, const std::string& path,
                                           const char* field) {
  const std::string where = path.empty() ? field : path + "." + field;
  auto it = object.find(field);
  if (it == object.end()) return FieldError(where, "required string field is missing");
  if (!it->is_string()) return FieldError(where, "must be a string, got " + TypeName(*it));
  return it->get<std::string>();
}

absl::StatusOr<std::chrono::milliseconds> DurationField(const json& value,
                                                        const std::string& where) {
  if (!value.is_string()) {
    return FieldError(where, "must be a duration string like \"500ms\", got " + TypeName(value));
  }
  auto duration = ParseDuration(value.get<std::string>());
  if (!duration.ok()) return FieldError(where, duration.status().message());
  return *duration;
}

absl::Status ParseRetryPolicy(const json& value, const std::string& path, RetryPolicy& policy) {
  if (!value.is_object()) return FieldError(path, "must be an object, got " + TypeName(value));
  if (auto s = RejectUnknownFields(
          value, path,
          {"max_attempts", "initial_interval", "backoff_coefficient", "max_interval"});
      !s.ok()) {
    return s;
  }
  if (auto it = value.find("max_attempts"); it != value.end()) {
    if (!it->is_number_integer() || it->get<long long>() < 1 || it->get<long long>() > 10'000) {
      return FieldError(path + ".max_attempts", "must be a whole number from 1 to 10000");
    }
    policy.max_attempts = it->get<int>();
  }
  if (auto it = value.find("initial_interval"); it != value.end()) {
    auto d = DurationField(*it, path + ".initial_interval");
    if (!d.ok()) return d.status();
    policy.initial_interval = *d;
  }
  if (auto it = value.find("backoff_coefficient"); it != value.end()) {
    if (!it->is_number() || it->get<double>() < 1.0 || it->get<double>() > 100.0) {
      return FieldError(path + ".backoff_coefficient", "must be a number from 1 to 100");
    }
    policy.backoff_coefficient = it->get<double>();
  }
  if (auto it = value.find("max_interval"); it != value.end()) {
    auto d = DurationField(*it, path + ".max_interval");
    if (!d.ok()) return d.status();
    policy.max_interval = *d;
  }
  if (policy.max_interval < policy.initial_interval) {
    return FieldError(path + ".max_interval", "must not be shorter than initial_interval");
  }
  return absl::OkStatus();
}

absl::Status ValidateParticipantAddress(const std::string& address, const std::string& where) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return FieldError(where, "must be \"host:port\", got \"" + address + "\"");
  }
  const std::string port = address.substr(colon + 1);
  if (!std::ranges::all_of(port, [](char c) { return c >= '0' && c <= '9'; }) ||
      port.size() > 5 || std::stoi(port) == 0 || std::stoi(port) > 65535) {
    return FieldError(where, "port must be a number from 1 to 65535, got \"" + port + "\"");
  }
  return absl::OkStatus();
}

absl::StatusOr<StepDefinition> ParseStep(const json& value, const std::string& path,
                                         const DefinitionLimits& limits) {
  if (!value.is_object()) return FieldError(path, "must be an object, got " + TypeName(value));
  if (auto s = RejectUnknownFields(value, path,
                                   {"name", "participant", "action", "compensation", "retry",
                                    "compensation_retry", "attempt_timeout"});
      !s.ok()) {
    return s;
  }
  StepDefinition step;
  for (auto [field, target] : {std::pair{"name", &step.name},
                               std::pair{"participant", &step.participant},
                               std::pair{"action", &step.action}}) {
    auto text = RequiredString(value, path, field);
    if (!text.ok()) return text.status();
    *target = *text;
  }
  if (auto s = ValidateName(step.name, limits.max_name_length); !s.ok()) {
    return FieldError(path + ".name", s.message());
  }
  if (auto s = ValidateParticipantAddress(step.participant, path + ".participant"); !s.ok()) {
    return s;
  }
  if (auto s = ValidateName(step.action, limits.max_name_length); !s.ok()) {
    return FieldError(path + ".action", s.message());
  }
  if (value.contains("compensation")) {
    auto text = RequiredString(value, path, "compensation");
    if (!text.ok()) return text.status();
    if (auto s = ValidateName(*text, limits.max_name_length); !s.ok()) {
      return FieldError(path + ".compensation", s.message());
    }
    step.compensation = *text;
  }
  if (auto it = value.find("retry"); it != value.end()) {
    if (auto s = ParseRetryPolicy(*it, path + ".retry", step.retry); !s.ok()) return s;
  }
  if (auto it = value.find("compensation_retry"); it != value.end()) {
    if (auto s = ParseRetryPolicy(*it, path + ".compensation_retry", step.compensation_retry);
        !s.ok()) {
      return s;
    }
  }
  if (auto it = value.find("attempt_timeout"); it != value.end()) {
    auto d = DurationField(*it, path + ".attempt_timeout");
    if (!d.ok()) return d.status();
    if (d->count() == 0) return FieldError(path + ".attempt_timeout", "must be longer than 0ms");
    step.attempt_timeout = *d;
  }
  return step;
}

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

}  // namespace

absl::Status ValidateName(std::string_view name, size_t max_length) {
  if (name.empty()) return absl::InvalidArgumentError("must not be empty");
  if (name.size() > max_length) {
    return absl::InvalidArgumentError("longer than " + std::to_string(max_length) +
                                      " characters");
  }
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name.front())) {
    return absl::InvalidArgumentError("\"" + std::string(name) +
                                      "\" must start with a letter or digit");
  }
  for (char c : name) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') {
      return absl::InvalidArgumentError("\"" + std::string(name) +
                                        "\" may hold only letters, digits, '-', '_' and '.'");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SagaDefinition> ParseDefinition(std::string_view json_text,
                                               const DefinitionLimits& limits) {
  if (json_text.size() > limits.max_document_bytes) {
    return absl::InvalidArgumentError("definition: document is " +
                                      std::to_string(json_text.size()) +
                                      " bytes, over the limit of " +
                                      std::to_string(limits.max_document_bytes));
  }
  json document;
  try {
    document = json::parse(json_text);
  } catch (const json::parse_error& error) {
    return absl::InvalidArgumentError(DescribeParseError(error, json_text));
  }
  if (!document.is_object()) {
    return absl::InvalidArgumentError("definition: must be a JSON object, got " +
                                      TypeName(document));
  }
  if (auto s = RejectUnknownFields(document, "", {"name", "version", "steps"}); !s.ok()) {
    return s;
  }
  SagaDefinition definition;
  auto name = RequiredString(document, "", "name");
  if (!name.ok()) return name.status();
  if (auto s = ValidateName(*name, limits.max_name_length); !s.ok()) {
    return FieldError("name", s.message());
  }
  definition.name = *name;

  auto version = document.find("version");
  if (version == document.end()) return FieldError("version", "required integer field is missing");
  if (!version->is_number_integer() || version->get<long long>() < 1 ||
      version->get<long long>() > 1'000'000) {
    return FieldError("version", "must be a whole number from 1 to 1000000");
  }
  definition.version = version->get<int>();

  auto steps = document.find("steps");
  if (steps == document.end()) return FieldError("steps", "required array field is missing");
  if (!steps->is_array()) return FieldError("steps", "must be an array, got " + TypeName(*steps));
  if (steps->empty()) return FieldError("steps", "must list at least one step");
  if (steps->size() > limits.max_steps) {
    return FieldError("steps", "has " + std::to_string(steps->size()) +
                                   " steps, over the limit of " +
                                   std::to_string(limits.max_steps));
  }

  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < steps->size(); ++i) {
    const std::string path = "steps[" + std::to_string(i) + "]";
    auto step = ParseStep((*steps)[i], path, limits);
    if (!step.ok()) return step.status();
    if (auto [it, inserted] = seen.emplace(step->name, i); !inserted) {
      return FieldError(path + ".name", "duplicate step name \"" + step->name +
                                            "\" (also steps[" + std::to_string(it->second) +
                                            "])");
    }
    // Steps run in the order listed: each depends on the one before it.
    if (i > 0) step->after.push_back(static_cast<int>(i) - 1);
    definition.steps.push_back(std::move(*step));
  }
  definition.document = std::move(document);
  return definition;
}

}  // namespace skald::core
