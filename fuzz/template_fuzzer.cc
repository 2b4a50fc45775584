// Fuzzes the reference parser and the template renderer (coordinator/core/template.h): a
// definition's `input`, `output` and `when` come from the wire, and a step's rendered input
// is built from participants' outputs.
//
// The input is JSON: {"template": T, "input": I, "output": O, "text": S}; anything else is
// used as the template itself, and the raw bytes are always tried as a reference string.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "coordinator/core/definition.h"
#include "coordinator/core/saga_state.h"
#include "coordinator/core/template.h"
#include "fuzz/fuzz_check.h"

namespace {

using nlohmann::json;
using skald::core::Condition;
using skald::core::ParseReference;
using skald::core::Reference;

// A parsed reference, written back in the canonical syntax, must parse to itself.
void CheckReference(std::string_view text) {
  auto reference = ParseReference(text);
  if (!reference.ok()) {
    FUZZ_CHECK(reference.status().code() == absl::StatusCode::kInvalidArgument,
               "ParseReference error other than INVALID_ARGUMENT");
    FUZZ_CHECK(text.starts_with("${"), "a literal was reported as a malformed reference");
    return;
  }
  if (!*reference) {
    FUZZ_CHECK(!text.starts_with("${"), "a \"${\" string was taken for a literal");
    return;
  }
  const Reference& parsed = **reference;
  const std::string canonical =
      (parsed.step.empty() ? std::string("${input}") : "${steps." + parsed.step + ".output}") +
      parsed.pointer.to_string();
  auto again = ParseReference(canonical);
  FUZZ_CHECK(again.ok() && *again, canonical.c_str());
  FUZZ_CHECK((*again)->step == parsed.step, canonical.c_str());
  FUZZ_CHECK((*again)->pointer == parsed.pointer, canonical.c_str());
}

void CheckTemplate(const json& document) {
  const bool wrapped = document.is_object() && document.contains("template");
  const json& template_json = wrapped ? document["template"] : document;

  // A definition with two steps, so that both ${input} and ${steps.NAME.output} resolve.
  skald::core::SagaDefinition definition;
  definition.name = "fuzz";
  definition.version = 1;
  definition.steps.resize(2);
  definition.steps[0].name = "a";
  definition.steps[1].name = "b";
  skald::core::SagaState state;
  state.id = "fuzz-saga";
  state.steps.resize(2);
  if (wrapped) {
    state.input = document.value("input", json::object());
    state.steps[0].output = document.value("output", json());
  } else {
    state.input = document;
    state.steps[0].output = document;
  }
  const skald::core::TemplateData data{definition, state};

  size_t references = 0;
  const absl::Status walk = skald::core::ForEachReference(
      template_json, "input", [&](const std::string&, const Reference&) {
        ++references;
        return absl::OkStatus();
      });
  auto strict = skald::core::Render(template_json, data);
  auto lenient = skald::core::Render(template_json, data, /*missing_as_null=*/true);
  // Only a malformed reference makes the lenient render fail, and ForEachReference finds
  // every malformed reference the renderer would trip on.
  if (walk.ok()) FUZZ_CHECK(lenient.ok(), std::string(lenient.status().message()).c_str());
  if (!lenient.ok()) {
    FUZZ_CHECK(lenient.status().code() == absl::StatusCode::kInvalidArgument,
               "lenient render failed with something other than INVALID_ARGUMENT");
  }
  if (strict.ok()) {
    FUZZ_CHECK(lenient.ok() && *lenient == *strict, "strict and lenient renders differ");
  } else if (lenient.ok()) {
    FUZZ_CHECK(strict.status().code() == absl::StatusCode::kFailedPrecondition,
               "strict render failed with something other than FAILED_PRECONDITION");
  }
  // Rendering keeps the shape of the template around its references.
  if (lenient.ok() && (template_json.is_object() || template_json.is_array())) {
    FUZZ_CHECK(lenient->type() == template_json.type(), "render changed the template's type");
    FUZZ_CHECK(lenient->size() == template_json.size(), "render changed the template's size");
  }
  if (walk.ok() && references == 0 && lenient.ok() &&
      template_json.dump(-1, ' ', false, json::error_handler_t::replace).find("$${") ==
          std::string::npos) {
    FUZZ_CHECK(*lenient == template_json, "a template without references was changed");
  }

  // `when` conditions over the same data: the parser only lets through well-typed operands.
  const std::string value =
      document.is_object() && document.contains("text") && document["text"].is_string()
          ? document["text"].get<std::string>()
          : std::string("${input}/a");
  const json number = template_json.is_number() ? template_json : json(1);
  for (auto [op, operand] :
       {std::pair{Condition::Op::kExists, json(true)},
        std::pair{Condition::Op::kExists, json(false)},
        std::pair{Condition::Op::kEquals, template_json},
        std::pair{Condition::Op::kNotEquals, template_json}, std::pair{Condition::Op::kGt, number},
        std::pair{Condition::Op::kGte, number}, std::pair{Condition::Op::kLt, number},
        std::pair{Condition::Op::kLte, number}}) {
    (void)skald::core::Evaluate(Condition{value, op, operand}, data);
  }
  CheckReference(value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckReference(text);
  // allow_exceptions=false: invalid JSON is a discarded value, not an exception.
  const json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    CheckTemplate(json(std::string(text)));
    return 0;
  }
  CheckTemplate(document);
  return 0;
}
