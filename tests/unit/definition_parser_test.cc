#include "coordinator/core/definition_parser.h"

#include <gtest/gtest.h>

namespace skald::core {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

json MinimalDefinition() {
  return json::parse(R"({
    "name": "order", "version": 1,
    "steps": [
      {"name": "create-order", "participant": "127.0.0.1:7801", "action": "create",
       "compensation": "cancel"},
      {"name": "charge", "participant": "localhost:7803", "action": "charge"}
    ]})");
}

// Returns the error message ParseDefinition gives for `document`, or "" if it parsed.
std::string ErrorFor(const json& document) {
  auto parsed = ParseDefinition(document.dump());
  return parsed.ok() ? "" : std::string(parsed.status().message());
}

TEST(ParseDefinition, ReadsTheMinimalFormat) {
  auto parsed = ParseDefinition(MinimalDefinition().dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->name, "order");
  EXPECT_EQ(parsed->version, 1);
  ASSERT_EQ(parsed->steps.size(), 2u);
  EXPECT_EQ(parsed->steps[0].name, "create-order");
  EXPECT_EQ(parsed->steps[0].participant, "127.0.0.1:7801");
  EXPECT_EQ(parsed->steps[0].action, "create");
  EXPECT_EQ(parsed->steps[0].compensation, "cancel");
  EXPECT_TRUE(parsed->steps[0].has_compensation());
  EXPECT_FALSE(parsed->steps[1].has_compensation());
  EXPECT_EQ(parsed->steps[0].retry, DefaultActionRetryPolicy());
  EXPECT_EQ(parsed->steps[0].compensation_retry, DefaultCompensationRetryPolicy());
  EXPECT_EQ(parsed->document, MinimalDefinition());
}

TEST(ParseDefinition, EachStepDependsOnThePreviousOne) {
  auto parsed = ParseDefinition(MinimalDefinition().dump());
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->steps[0].after.empty());
  EXPECT_EQ(parsed->steps[1].after, std::vector<int>{0});
  EXPECT_EQ(parsed->Dependents(0), std::vector<int>{1});
  EXPECT_TRUE(parsed->Dependents(1).empty());
  EXPECT_EQ(parsed->StepIndex("charge"), 1);
  EXPECT_EQ(parsed->StepIndex("nope"), std::nullopt);
}

TEST(ParseDefinition, ReadsRetryPoliciesAndTimeouts) {
  json document = MinimalDefinition();
  document["steps"][0]["retry"] = {{"max_attempts", 3},
                                   {"initial_interval", "50ms"},
                                   {"backoff_coefficient", 1.5},
                                   {"max_interval", "2s"}};
  document["steps"][0]["compensation_retry"] = {{"max_attempts", 7}};
  document["steps"][0]["attempt_timeout"] = "750ms";
  auto parsed = ParseDefinition(document.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const StepDefinition& step = parsed->steps[0];
  EXPECT_EQ(step.retry.max_attempts, 3);
  EXPECT_EQ(step.retry.initial_interval, milliseconds(50));
  EXPECT_DOUBLE_EQ(step.retry.backoff_coefficient, 1.5);
  EXPECT_EQ(step.retry.max_interval, milliseconds(2000));
  EXPECT_EQ(step.compensation_retry.max_attempts, 7);
  EXPECT_EQ(step.compensation_retry.initial_interval,
            DefaultCompensationRetryPolicy().initial_interval);
  EXPECT_EQ(step.attempt_timeout, milliseconds(750));
}

TEST(ParseDefinition, MalformedJsonNamesLineAndColumn) {
  auto parsed = ParseDefinition("{\n  \"name\": \"order\",\n  \"version\": 1,,\n}");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("not valid JSON: line 3, column 16"),
            absl::string_view::npos)
      << parsed.status().message();
}

TEST(ParseDefinition, RejectsADocumentThatIsNotAnObject) {
  EXPECT_EQ(ErrorFor(json::array()), "definition: must be a JSON object, got array");
}

struct BadDefinitionCase {
  std::string label;
  std::function<void(json&)> spoil;
  std::string expected_error;
};

class RejectsBadDefinition : public ::testing::TestWithParam<BadDefinitionCase> {};

TEST_P(RejectsBadDefinition, WithAnErrorNamingThePlace) {
  json document = MinimalDefinition();
  GetParam().spoil(document);
  auto parsed = ParseDefinition(document.dump());
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(parsed.status().message()), GetParam().expected_error);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RejectsBadDefinition,
    ::testing::Values(
        BadDefinitionCase{"missing_name", [](json& d) { d.erase("name"); },
                          "definition: name: required string field is missing"},
        BadDefinitionCase{"name_not_string", [](json& d) { d["name"] = 7; },
                          "definition: name: must be a string, got number"},
        BadDefinitionCase{"name_bad_chars", [](json& d) { d["name"] = "or der"; },
                          "definition: name: \"or der\" may hold only letters, digits, '-', "
                          "'_' and '.'"},
        BadDefinitionCase{"missing_version", [](json& d) { d.erase("version"); },
                          "definition: version: required integer field is missing"},
        BadDefinitionCase{"version_zero", [](json& d) { d["version"] = 0; },
                          "definition: version: must be a whole number from 1 to 1000000"},
        BadDefinitionCase{"version_string", [](json& d) { d["version"] = "1"; },
                          "definition: version: must be a whole number from 1 to 1000000"},
        BadDefinitionCase{"missing_steps", [](json& d) { d.erase("steps"); },
                          "definition: steps: required array field is missing"},
        BadDefinitionCase{"empty_steps", [](json& d) { d["steps"] = json::array(); },
                          "definition: steps: must list at least one step"},
        BadDefinitionCase{"steps_object", [](json& d) { d["steps"] = json::object(); },
                          "definition: steps: must be an array, got object"},
        BadDefinitionCase{"unknown_top_field", [](json& d) { d["stpes"] = 1; },
                          "definition: stpes: unknown field (allowed: name, version, steps)"},
        BadDefinitionCase{"step_not_object", [](json& d) { d["steps"][1] = "charge"; },
                          "definition: steps[1]: must be an object, got string"},
        BadDefinitionCase{"step_missing_action", [](json& d) { d["steps"][1].erase("action"); },
                          "definition: steps[1].action: required string field is missing"},
        BadDefinitionCase{"step_missing_participant",
                          [](json& d) { d["steps"][0].erase("participant"); },
                          "definition: steps[0].participant: required string field is missing"},
        BadDefinitionCase{"step_bad_participant",
                          [](json& d) { d["steps"][0]["participant"] = "localhost"; },
                          "definition: steps[0].participant: must be \"host:port\", got "
                          "\"localhost\""},
        BadDefinitionCase{"step_bad_port",
                          [](json& d) { d["steps"][0]["participant"] = "localhost:99999"; },
                          "definition: steps[0].participant: port must be a number from 1 to "
                          "65535, got \"99999\""},
        BadDefinitionCase{"step_unknown_field",
                          [](json& d) { d["steps"][0]["compensaton"] = "cancel"; },
                          "definition: steps[0].compensaton: unknown field (allowed: name, "
                          "participant, action, compensation, retry, compensation_retry, "
                          "attempt_timeout)"},
        BadDefinitionCase{"step_empty_compensation",
                          [](json& d) { d["steps"][0]["compensation"] = ""; },
                          "definition: steps[0].compensation: must not be empty"},
        BadDefinitionCase{"duplicate_step",
                          [](json& d) { d["steps"][1]["name"] = "create-order"; },
                          "definition: steps[1].name: duplicate step name \"create-order\" "
                          "(also steps[0])"},
        BadDefinitionCase{"retry_zero_attempts",
                          [](json& d) { d["steps"][0]["retry"] = {{"max_attempts", 0}}; },
                          "definition: steps[0].retry.max_attempts: must be a whole number "
                          "from 1 to 10000"},
        BadDefinitionCase{"retry_bad_interval",
                          [](json& d) {
                            d["steps"][0]["retry"] = {{"initial_interval", "fast"}};
                          },
                          "definition: steps[0].retry.initial_interval: invalid duration "
                          "\"fast\": missing or unknown unit (expected a whole number with a "
                          "unit: ms, s, m or h, e.g. \"250ms\" or \"30s\")"},
        BadDefinitionCase{"retry_max_below_initial",
                          [](json& d) {
                            d["steps"][0]["retry"] = {{"initial_interval", "2s"},
                                                      {"max_interval", "1s"}};
                          },
                          "definition: steps[0].retry.max_interval: must not be shorter than "
                          "initial_interval"},
        BadDefinitionCase{"retry_unknown_field",
                          [](json& d) { d["steps"][0]["retry"] = {{"attempts", 3}}; },
                          "definition: steps[0].retry.attempts: unknown field (allowed: "
                          "max_attempts, initial_interval, backoff_coefficient, max_interval)"},
        BadDefinitionCase{"timeout_number",
                          [](json& d) { d["steps"][1]["attempt_timeout"] = 5; },
                          "definition: steps[1].attempt_timeout: must be a duration string "
                          "like \"500ms\", got number"},
        BadDefinitionCase{"timeout_zero",
                          [](json& d) { d["steps"][1]["attempt_timeout"] = "0ms"; },
                          "definition: steps[1].attempt_timeout: must be longer than 0ms"}),
    [](const auto& info) { return info.param.label; });

TEST(ParseDefinition, EnforcesLimits) {
  json document = MinimalDefinition();
  DefinitionLimits limits;
  limits.max_steps = 1;
  auto too_many = ParseDefinition(document.dump(), limits);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(std::string(too_many.status().message()),
            "definition: steps: has 2 steps, over the limit of 1");

  limits = DefinitionLimits{};
  limits.max_document_bytes = 10;
  auto too_big = ParseDefinition(document.dump(), limits);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.status().message().find("over the limit of 10"), absl::string_view::npos);

  limits = DefinitionLimits{};
  document["name"] = std::string(129, 'a');
  EXPECT_EQ(ErrorFor(document), "definition: name: longer than 128 characters");
}

}  // namespace
}  // namespace skald::core
