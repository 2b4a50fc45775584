#include "coordinator/core/template.h"

#include "absl/status/status.h"

namespace skald::core {
namespace {

using nlohmann::json;

constexpr std::string_view kStepsPrefix = "steps.";
constexpr std::string_view kOutputSuffix = ".output";

std::string ChildPath(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

}  // namespace

absl::StatusOr<std::optional<Reference>> ParseReference(std::string_view text) {
  if (!text.starts_with("${")) return std::nullopt;
  const size_t close = text.find('}');
  if (close == std::string_view::npos) {
    return absl::InvalidArgumentError("reference \"" + std::string(text) +
                                      "\" has no closing '}' (write $${ for a literal ${)");
  }
  const std::string_view head = text.substr(2, close - 2);
  Reference reference;
  if (head != "input") {
    if (!head.starts_with(kStepsPrefix) || !head.ends_with(kOutputSuffix) ||
        head.size() <= kStepsPrefix.size() + kOutputSuffix.size()) {
      return absl::InvalidArgumentError("unknown reference \"${" + std::string(head) +
                                        "}\" (expected ${input} or ${steps.NAME.output})");
    }
    reference.step = std::string(
        head.substr(kStepsPrefix.size(), head.size() - kStepsPrefix.size() - kOutputSuffix.size()));
  }
  const std::string_view pointer = text.substr(close + 1);
  if (!pointer.empty() && pointer.front() != '/') {
    return absl::InvalidArgumentError("reference \"" + std::string(text) +
                                      "\": what follows the '}' must be a JSON Pointer "
                                      "starting with '/'");
  }
  try {
    reference.pointer = json::json_pointer(std::string(pointer));
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError("reference \"" + std::string(text) +
                                      "\": invalid JSON Pointer: " + e.what());
  }
  return reference;
}

absl::Status ForEachReference(
    const json& template_json, const std::string& path,
    const std::function<absl::Status(const std::string& path, const Reference&)>& visit) {
  if (template_json.is_string()) {
    auto reference = ParseReference(template_json.get_ref<const std::string&>());
    if (!reference.ok()) {
      return absl::InvalidArgumentError(path + ": " + std::string(reference.status().message()));
    }
    return *reference ? visit(path, **reference) : absl::OkStatus();
  }
  if (template_json.is_object()) {
    for (const auto& [key, value] : template_json.items()) {
      if (auto s = ForEachReference(value, ChildPath(path, key), visit); !s.ok()) return s;
    }
  } else if (template_json.is_array()) {
    for (size_t i = 0; i < template_json.size(); ++i) {
      if (auto s = ForEachReference(template_json[i], path + "[" + std::to_string(i) + "]", visit);
          !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

std::optional<json> Resolve(const Reference& reference, const TemplateData& data) {
  const json* document = &data.state.input;
  if (!reference.step.empty()) {
    auto index = data.definition.StepIndex(reference.step);
    if (!index) return std::nullopt;
    document = &data.state.steps[*index].output;
    if (document->is_null()) return std::nullopt;
  }
  // nlohmann throws, even from contains(), for an array index too large for size_t
  // ("${input}/items/99999999999999999999"): such an element cannot exist.
  try {
    if (!document->contains(reference.pointer)) return std::nullopt;
    return document->at(reference.pointer);
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

absl::StatusOr<json> Render(const json& template_json, const TemplateData& data,
                            bool missing_as_null) {
  if (template_json.is_string()) {
    const auto& text = template_json.get_ref<const std::string&>();
    if (text.starts_with("$${")) return text.substr(1);
    auto reference = ParseReference(text);
    if (!reference.ok()) return reference.status();
    if (!*reference) return template_json;
    std::optional<json> value = Resolve(**reference, data);
    if (value) return *std::move(value);
    if (missing_as_null) return nullptr;
    return absl::FailedPreconditionError("unresolved_input: \"" + text + "\" has no value");
  }
  if (template_json.is_object()) {
    json rendered = json::object();
    for (const auto& [key, value] : template_json.items()) {
      auto child = Render(value, data, missing_as_null);
      if (!child.ok()) return child.status();
      rendered[key] = *std::move(child);
    }
    return rendered;
  }
  if (template_json.is_array()) {
    json rendered = json::array();
    for (const json& value : template_json) {
      auto child = Render(value, data, missing_as_null);
      if (!child.ok()) return child.status();
      rendered.push_back(*std::move(child));
    }
    return rendered;
  }
  return template_json;
}

bool Evaluate(const Condition& condition, const TemplateData& data) {
  auto reference = ParseReference(condition.value);
  std::optional<json> value;
  if (reference.ok() && *reference) value = Resolve(**reference, data);
  using Op = Condition::Op;
  switch (condition.op) {
    case Op::kExists:
      return value.has_value() == condition.operand.get<bool>();
    case Op::kEquals:
      return value && *value == condition.operand;
    case Op::kNotEquals:
      return !value || *value != condition.operand;
    default:
      break;
  }
  if (!value || !value->is_number()) return false;
  const double left = value->get<double>();
  const double right = condition.operand.get<double>();
  switch (condition.op) {
    case Op::kGt:
      return left > right;
    case Op::kGte:
      return left >= right;
    case Op::kLt:
      return left < right;
    case Op::kLte:
      return left <= right;
    default:
      return false;
  }
}

}  // namespace skald::core
