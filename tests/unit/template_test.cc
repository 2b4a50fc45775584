#include "coordinator/core/template.h"

#include <gtest/gtest.h>

#include "coordinator/core/definition_parser.h"

namespace skald::core {
namespace {

using nlohmann::json;

SagaDefinition TwoSteps() {
  auto definition = ParseDefinition(R"({"name": "t", "version": 1, "steps": [
      {"name": "a", "service": "s", "action": "x"},
      {"name": "b", "service": "s", "action": "x"}]})");
  EXPECT_TRUE(definition.ok()) << definition.status();
  return *definition;
}

TEST(Template, RendersReferencesIntoInputAndOutputs) {
  const SagaDefinition definition = TwoSteps();
  SagaState state;
  state.input = json{{"items", json::array({10, 20})}};
  state.steps.resize(2);
  state.steps[0].output = json{{"id", "o-1"}};
  auto rendered = Render(json{{"first", "${input}/items/1"},
                              {"order", "${steps.a.output}/id"},
                              {"literal", "$${input}"}},
                         TemplateData{definition, state});
  ASSERT_TRUE(rendered.ok()) << rendered.status();
  EXPECT_EQ(*rendered, (json{{"first", 20}, {"order", "o-1"}, {"literal", "${input}"}}));
}

// nlohmann::json throws out_of_range from contains() for an array index that does not fit
// in size_t; it escaped Render and Evaluate (and would have ended the engine's thread).
// Found while writing fuzz/template_fuzzer.cc.
TEST(Template, AnArrayIndexTooLargeForSizeTResolvesToNothing) {
  const SagaDefinition definition = TwoSteps();
  SagaState state;
  state.input = json{{"items", json::array({1, 2})}};
  state.steps.resize(2);
  const TemplateData data{definition, state};
  for (const char* text :
       {"${input}/items/99999999999999999999999", "${input}/items/18446744073709551615"}) {
    auto reference = ParseReference(text);
    ASSERT_TRUE(reference.ok() && *reference) << text;
    EXPECT_EQ(Resolve(**reference, data), std::nullopt) << text;

    auto strict = Render(json(text), data);
    ASSERT_FALSE(strict.ok()) << text;
    EXPECT_EQ(strict.status().code(), absl::StatusCode::kFailedPrecondition) << text;
    auto lenient = Render(json(text), data, /*missing_as_null=*/true);
    ASSERT_TRUE(lenient.ok()) << text;
    EXPECT_EQ(*lenient, nullptr) << text;

    EXPECT_FALSE(Evaluate(Condition{text, Condition::Op::kExists, true}, data)) << text;
    EXPECT_TRUE(Evaluate(Condition{text, Condition::Op::kNotEquals, 1}, data)) << text;
  }
}

}  // namespace
}  // namespace skald::core
