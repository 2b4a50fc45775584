#include "coordinator/core/definition_parser.h"

#include <gtest/gtest.h>

#include <chrono>

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

TEST(ParseDefinition, ANumberTooLargeForAnyTypeIsAnErrorNotACrash) {
  // Found by the definition fuzzer: the JSON library throws out_of_range, not parse_error.
  auto parsed = ParseDefinition(R"({"name": "x", "version": 127e001111111111111111111111})");
  ASSERT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("number overflow"), absl::string_view::npos)
      << parsed.status();
}

TEST(ParseDefinition, RejectsADocumentThatIsNotAnObject) {
  EXPECT_EQ(ErrorFor(json::array()), "definition: must be a JSON object, got array");
}

struct BadDefinitionCase {
  std::string label;
  std::function<void(json&)> spoil;
  std::string expected_error;
};

void PrintTo(const BadDefinitionCase& c, std::ostream* out) { *out << c.label; }

// A definition with a pivot: reserve (compensable) -> confirm (pivot) -> notify (retriable).
json PivotDefinition() {
  return json::parse(R"({
    "name": "pivoted", "version": 1,
    "steps": [
      {"name": "reserve", "participant": "h:1", "action": "reserve", "compensation": "release"},
      {"name": "confirm", "participant": "h:1", "action": "confirm", "pivot": true},
      {"name": "notify", "participant": "h:1", "action": "notify"}
    ]})");
}

class RejectsBadDefinition : public ::testing::TestWithParam<BadDefinitionCase> {};

TEST_P(RejectsBadDefinition, WithAnErrorNamingThePlace) {
  json document = MinimalDefinition();
  GetParam().spoil(document);
  auto parsed = ParseDefinition(document.dump());
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(parsed.status().message()), "definition: " + GetParam().expected_error);
}

#define CASE(label, error, ...)                \
  BadDefinitionCase {                          \
    label, [](json& d) { __VA_ARGS__; }, error \
  }

INSTANTIATE_TEST_SUITE_P(
    Cases, RejectsBadDefinition,
    ::testing::Values(
        CASE("missing_name", "name: required string field is missing", d.erase("name")),
        CASE("name_not_string", "name: must be a string, got number", d["name"] = 7),
        CASE("name_bad_chars", "name: \"or der\" may hold only letters, digits, '-', '_' and '.'",
             d["name"] = "or der"),
        CASE("name_starts_with_dash", "name: \"-order\" must start with a letter or digit",
             d["name"] = "-order"),
        CASE("name_too_long", "name: longer than 128 characters, the limit (--max-name-length)",
             d["name"] = std::string(129, 'a')),
        CASE("missing_version", "version: required integer field is missing", d.erase("version")),
        CASE("version_zero", "version: must be a whole number from 1 to 1000000", d["version"] = 0),
        CASE("version_string", "version: must be a whole number from 1 to 1000000",
             d["version"] = "1"),
        CASE("missing_steps", "steps: required array field is missing", d.erase("steps")),
        CASE("empty_steps", "steps: must list at least one step", d["steps"] = json::array()),
        CASE("steps_object", "steps: must be an array, got object", d["steps"] = json::object()),
        CASE("unknown_top_field",
             "stpes: unknown field (did you mean \"steps\"?) (allowed: name, version, steps, "
             "defaults, timeout, output, notify)",
             d["stpes"] = 1),
        CASE("notify_not_string", "notify: must be an http:// or https:// URL string, got number",
             d["notify"] = 7),
        CASE("notify_other_scheme",
             "notify: must start with http:// or https://, got \"ftp://hooks.example.com/x\"",
             d["notify"] = "ftp://hooks.example.com/x"),
        CASE("notify_no_host", "notify: has no host: \"https:///done\"",
             d["notify"] = "https:///done"),
        CASE("notify_bad_port", "notify: port must be a number from 1 to 65535, got \"99999\"",
             d["notify"] = "http://hooks.example.com:99999/done"),
        CASE("notify_with_space",
             "notify: must not hold spaces or control characters: \"http://hooks.example.com/a "
             "b\"",
             d["notify"] = "http://hooks.example.com/a b"),
        CASE("notify_too_long", "notify: is 2049 characters, over the limit of 2048",
             d["notify"] = "https://hooks.example.com/" + std::string(2049 - 26, 'a')),
        CASE("step_not_object", "steps[1]: must be an object, got string",
             d["steps"][1] = "charge"),
        CASE("step_missing_action", "steps[1].action: required string field is missing",
             d["steps"][1].erase("action")),
        CASE("step_missing_participant",
             "steps[0].participant: required: the step's \"participant\" address "
             "(\"host:port\") or its \"service\" name is missing",
             d["steps"][0].erase("participant")),
        CASE("step_participant_and_service",
             "steps[0].service: a step names either \"participant\" (a fixed address) or "
             "\"service\" (registered instances), not both",
             d["steps"][0]["service"] = "orders"),
        CASE("step_bad_service",
             "steps[0].service: \"my orders\" may hold only letters, digits, '-', '_' and '.'",
             (d["steps"][0].erase("participant"), d["steps"][0]["service"] = "my orders")),
        CASE("step_bad_participant",
             "steps[0].participant: must be \"host:port\", got \"localhost\"",
             d["steps"][0]["participant"] = "localhost"),
        CASE("step_bad_port",
             "steps[0].participant: port must be a number from 1 to 65535, got \"99999\"",
             d["steps"][0]["participant"] = "localhost:99999"),
        CASE("step_unknown_field",
             "steps[0].compensaton: unknown field (did you mean \"compensation\"?) (allowed: "
             "name, participant, service, action, compensation, after, input, when, pivot, retry, "
             "compensation_retry, attempt_timeout, step_timeout, completion_timeout, "
             "heartbeat_timeout)",
             d["steps"][0]["compensaton"] = "cancel"),
        CASE("step_empty_compensation", "steps[0].compensation: must not be empty",
             d["steps"][0]["compensation"] = ""),
        CASE("duplicate_step",
             "steps[1].name: duplicate step name \"create-order\" (also steps[0])",
             d["steps"][1]["name"] = "create-order"),
        CASE("retry_zero_attempts",
             "steps[0].retry.max_attempts: must be a whole number from 1 to 10000",
             d["steps"][0]["retry"] = {{"max_attempts", 0}}),
        CASE("retry_bad_interval",
             "steps[0].retry.initial_interval: invalid duration \"fast\": missing or unknown "
             "unit (expected a whole number with a unit: ms, s, m or h, e.g. \"250ms\" or "
             "\"30s\")",
             d["steps"][0]["retry"] = {{"initial_interval", "fast"}}),
        CASE("retry_max_below_initial",
             "steps[0].retry.max_interval: must not be shorter than initial_interval",
             d["steps"][0]["retry"] = {{"initial_interval", "2s"}, {"max_interval", "1s"}}),
        CASE("retry_unknown_field",
             "steps[0].retry.attempts: unknown field (did you mean \"max_attempts\"?) (allowed: "
             "max_attempts, initial_interval, "
             "backoff_coefficient, max_interval, jitter, non_retryable_errors)",
             d["steps"][0]["retry"] = {{"attempts", 3}}),
        CASE("retry_not_object", "steps[1].retry: must be an object, got number",
             d["steps"][1]["retry"] = 3),
        CASE("jitter_out_of_range", "steps[0].retry.jitter: must be a number from 0 to 1",
             d["steps"][0]["retry"] = {{"jitter", 1.5}}),
        CASE("coefficient_below_one",
             "steps[0].retry.backoff_coefficient: must be a number from 1 to 100",
             d["steps"][0]["retry"] = {{"backoff_coefficient", 0.5}}),
        CASE("non_retryable_not_array",
             "steps[0].retry.non_retryable_errors: must be an array of error codes, got string",
             d["steps"][0]["retry"] = {{"non_retryable_errors", "declined"}}),
        CASE("non_retryable_empty_code",
             "steps[0].compensation_retry.non_retryable_errors[1]: must be a non-empty string",
             d["steps"][0]["compensation_retry"] = {{"non_retryable_errors", {"ok", ""}}}),
        CASE("timeout_number",
             "steps[1].attempt_timeout: must be a duration string like \"500ms\", got number",
             d["steps"][1]["attempt_timeout"] = 5),
        CASE("timeout_zero", "steps[1].attempt_timeout: must be longer than 0ms",
             d["steps"][1]["attempt_timeout"] = "0ms"),
        CASE("step_timeout_bad",
             "steps[1].step_timeout: invalid duration \"1 minute\": missing or unknown unit "
             "(expected a whole number with a unit: ms, s, m or h, e.g. \"250ms\" or \"30s\")",
             d["steps"][1]["step_timeout"] = "1 minute"),
        CASE("saga_timeout_zero", "timeout: must be longer than 0ms", d["timeout"] = "0s"),
        CASE("defaults_not_object", "defaults: must be an object, got array",
             d["defaults"] = json::array()),
        CASE("defaults_unknown_field",
             "defaults.retries: unknown field (did you mean \"retry\"?) (allowed: retry, "
             "compensation_retry, attempt_timeout, step_timeout, completion_timeout, "
             "heartbeat_timeout)",
             d["defaults"] = {{"retries", json::object()}}),
        CASE("defaults_retry_bad",
             "defaults.retry.max_attempts: must be a whole number from 1 to 10000",
             d["defaults"] = {{"retry", {{"max_attempts", -1}}}}),
        CASE("after_not_array", "steps[1].after: must be an array of step names, got string",
             d["steps"][1]["after"] = "create-order"),
        CASE("after_entry_not_string", "steps[1].after[0]: must be a step name, got number",
             d["steps"][1]["after"] = {1}),
        CASE("after_unknown_step",
             "steps[1].after[0]: unknown step \"create-ordr\" (did you mean \"create-order\"?)",
             d["steps"][1]["after"] = {"create-ordr"}),
        CASE("after_unknown_far_name", "steps[1].after[0]: unknown step \"shipping\"",
             d["steps"][1]["after"] = {"shipping"}),
        CASE("after_self", "steps[1].after[0]: a step cannot run after itself",
             d["steps"][1]["after"] = {"charge"}),
        CASE("after_twice", "steps[1].after[1]: lists \"create-order\" twice",
             (d["steps"][1]["after"] = {"create-order", "create-order"})),
        CASE("cycle",
             "steps[1].after: dependency cycle: create-order -> charge -> create-order (each "
             "step runs after the next)",
             d["steps"][0]["after"] = {"charge"}),
        CASE("input_refers_to_a_later_step",
             "steps[0].input.charge: step \"charge\" is not an ancestor of \"create-order\", so "
             "its output may not exist yet (add it to \"after\")",
             d["steps"][0]["input"] = {{"charge", "${steps.charge.output}/id"}}),
        CASE("input_refers_to_an_unknown_step",
             "steps[1].input.order: unknown step \"create-ordr\" (did you mean "
             "\"create-order\"?)",
             d["steps"][1]["input"] = {{"order", "${steps.create-ordr.output}"}}),
        CASE("input_bad_reference",
             "steps[1].input.x[0]: unknown reference \"${stepz.a}\" (expected ${input} or "
             "${steps.NAME.output})",
             d["steps"][1]["input"] = {{"x", {"${stepz.a}"}}}),
        CASE("input_unclosed_reference",
             "steps[1].input: reference \"${input\" has no closing '}' (write $${ for a literal "
             "${)",
             d["steps"][1]["input"] = "${input"),
        CASE("input_pointer_without_slash",
             "steps[1].input.id: reference \"${input}id\": what follows the '}' must be a JSON "
             "Pointer starting with '/'",
             d["steps"][1]["input"] = {{"id", "${input}id"}}),
        CASE("input_sibling_step",
             "steps[1].input.o: step \"create-order\" is not an ancestor of \"charge\", so its "
             "output may not exist yet (add it to \"after\")",
             (d["steps"][1]["after"] = json::array(),
              d["steps"][1]["input"] = {{"o", "${steps.create-order.output}"}})),
        CASE("when_not_object",
             "steps[1].when: must be an object like {\"value\": \"${input}/x\", \"equals\": 1}, "
             "got boolean",
             d["steps"][1]["when"] = true),
        CASE("when_without_value", "steps[1].when.value: required string field is missing",
             d["steps"][1]["when"] = {{"equals", 1}}),
        CASE("when_value_not_reference",
             "steps[1].when.value: must be a reference like \"${input}/amount\", got "
             "\"amount\"",
             (d["steps"][1]["when"] = {{"value", "amount"}, {"gt", 1}})),
        CASE("when_no_comparison",
             "steps[1].when: must hold exactly one comparison (equals, not_equals, exists, gt, "
             "gte, lt, lte), got 0",
             d["steps"][1]["when"] = {{"value", "${input}/amount"}}),
        CASE("when_two_comparisons",
             "steps[1].when: must hold exactly one comparison (equals, not_equals, exists, gt, "
             "gte, lt, lte), got 2",
             (d["steps"][1]["when"] = {{"value", "${input}/a"}, {"gt", 1}, {"lt", 5}})),
        CASE("when_gt_not_number", "steps[1].when.gt: must be a number, got string",
             (d["steps"][1]["when"] = {{"value", "${input}/a"}, {"gt", "1"}})),
        CASE("when_exists_not_boolean", "steps[1].when.exists: must be true or false",
             (d["steps"][1]["when"] = {{"value", "${input}/a"}, {"exists", 1}})),
        CASE("when_refers_to_itself",
             "steps[1].when.value: step \"charge\" is not an ancestor of \"charge\", so its "
             "output may not exist yet (add it to \"after\")",
             (d["steps"][1]["when"] = {{"value", "${steps.charge.output}/a"}, {"exists", true}})),
        CASE("when_unknown_operator",
             "steps[1].when.equal: unknown field (did you mean \"equals\"?) (allowed: value, "
             "equals, not_equals, exists, gt, gte, lt, lte)\n"
             "definition: steps[1].when: must hold exactly one comparison (equals, not_equals, "
             "exists, gt, gte, lt, lte), got 0",
             (d["steps"][1]["when"] = {{"value", "${input}/a"}, {"equal", 1}})),
        CASE("output_unknown_step", "output.x: unknown step \"nope\"",
             d["output"] = {{"x", "${steps.nope.output}"}}),
        CASE("pivot_not_boolean", "steps[1].pivot: must be true or false",
             d["steps"][1]["pivot"] = "yes"),
        CASE("pivot_with_compensation",
             "steps[1].compensation: the pivot cannot be compensated: it is the point of no "
             "return",
             (d = PivotDefinition(), d["steps"][1]["compensation"] = "x")),
        CASE("two_pivots",
             "steps[2].pivot: a definition has at most one pivot; \"confirm\" is one already",
             (d = PivotDefinition(), d["steps"][2]["pivot"] = true)),
        CASE("before_pivot_without_compensation",
             "steps[0].compensation: required: \"reserve\" runs before the pivot \"confirm\", "
             "so it must be undoable",
             (d = PivotDefinition(), d["steps"][0].erase("compensation"))),
        CASE("after_pivot_with_compensation",
             "steps[2].compensation: not allowed: \"notify\" runs after the pivot \"confirm\" and "
             "is retried until it succeeds",
             (d = PivotDefinition(), d["steps"][2]["compensation"] = "unnotify")),
        CASE("beside_the_pivot",
             "steps[2]: \"notify\" is neither before nor after the pivot \"confirm\": with a "
             "pivot, every step must be an ancestor or a descendant of it",
             (d = PivotDefinition(), d["steps"][2]["after"] = json::array()))),
    [](const auto& info) { return info.param.label; });

#undef CASE

TEST(ParseDefinition, ReadsANotifyUrl) {
  json document = MinimalDefinition();
  EXPECT_EQ(ParseDefinition(document.dump())->notify, "") << "none by default";
  document["notify"] = "https://hooks.example.com:8443/sagas/done?team=shop";
  auto parsed = ParseDefinition(document.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->notify, "https://hooks.example.com:8443/sagas/done?team=shop");
}

TEST(ParseDefinition, ReportsEveryErrorAtOnce) {
  json document = MinimalDefinition();
  document.erase("version");
  document["steps"][0]["participant"] = "nowhere";
  document["steps"][1]["retry"] = {{"max_attempts", 0}, {"jitter", 2}};
  auto parsed = ParseDefinition(document.dump());
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(std::string(parsed.status().message()),
            "definition: version: required integer field is missing\n"
            "definition: steps[0].participant: must be \"host:port\", got \"nowhere\"\n"
            "definition: steps[1].retry.max_attempts: must be a whole number from 1 to 10000\n"
            "definition: steps[1].retry.jitter: must be a number from 0 to 1");
}

TEST(ParseDefinition, ReadsDependenciesTemplatesConditionsAndPivot) {
  json document = json::parse(R"({
    "name": "order", "version": 2, "timeout": "10m",
    "defaults": {"retry": {"max_attempts": 7, "jitter": 0.5,
                           "non_retryable_errors": ["invalid_input"]},
                 "attempt_timeout": "3s", "step_timeout": "1m"},
    "steps": [
      {"name": "create", "participant": "h:1", "action": "create", "compensation": "cancel"},
      {"name": "reserve", "participant": "h:2", "action": "reserve", "compensation": "release",
       "after": ["create"], "retry": {"initial_interval": "1s"},
       "input": {"order": "${steps.create.output}/id", "sku": "${input}/sku"}},
      {"name": "charge", "participant": "h:3", "action": "charge", "compensation": "refund",
       "after": ["create"], "when": {"value": "${input}/amount", "gt": 0}},
      {"name": "confirm", "participant": "h:1", "action": "confirm", "pivot": true,
       "after": ["reserve", "charge"]},
      {"name": "notify", "participant": "h:1", "action": "notify", "step_timeout": "5s"}
    ],
    "output": {"order": "${steps.create.output}/id"}})");
  auto parsed = ParseDefinition(document.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->timeout, std::chrono::minutes(10));
  EXPECT_TRUE(parsed->output.has_value());
  const auto& steps = parsed->steps;
  EXPECT_EQ(steps[1].after, std::vector<int>{0});
  EXPECT_EQ(steps[2].after, std::vector<int>{0});
  EXPECT_EQ(steps[3].after, (std::vector<int>{1, 2}));
  EXPECT_EQ(steps[4].after, std::vector<int>{3}) << "no `after`: the step listed before";
  EXPECT_EQ(steps[0].retry.max_attempts, 7);
  EXPECT_DOUBLE_EQ(steps[0].retry.jitter, 0.5);
  EXPECT_EQ(steps[0].retry.non_retryable_errors, std::vector<std::string>{"invalid_input"});
  EXPECT_EQ(steps[1].retry.max_attempts, 7) << "a step's policy starts from the defaults";
  EXPECT_EQ(steps[1].retry.initial_interval, milliseconds(1000));
  EXPECT_EQ(steps[0].attempt_timeout, milliseconds(3000));
  EXPECT_EQ(steps[0].step_timeout, milliseconds(60'000));
  EXPECT_EQ(steps[4].step_timeout, milliseconds(5000));
  ASSERT_TRUE(steps[1].input.has_value());
  ASSERT_TRUE(steps[2].when.has_value());
  EXPECT_EQ(steps[2].when->op, Condition::Op::kGt);
  EXPECT_EQ(steps[2].when->operand, 0);
  EXPECT_EQ(parsed->Pivot(), 3);
  EXPECT_TRUE(steps[3].forward_only());
  EXPECT_TRUE(steps[4].after_pivot);
  EXPECT_FALSE(steps[0].forward_only());
  EXPECT_TRUE(parsed->IsAncestor(0, 3));
  EXPECT_FALSE(parsed->IsAncestor(1, 2));
  EXPECT_EQ(parsed->Dependents(0), (std::vector<int>{1, 2}));
}

TEST(ParseDefinition, AStepMayNameAServiceInsteadOfAnAddress) {
  auto parsed = ParseDefinition(R"({"name": "order", "version": 1, "steps": [
      {"name": "reserve", "service": "inventory", "action": "reserve"},
      {"name": "charge", "participant": "10.0.0.3:7803", "action": "charge"}]})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->steps[0].service, "inventory");
  EXPECT_EQ(parsed->steps[0].participant, "");
  EXPECT_EQ(parsed->steps[1].service, "");
  EXPECT_EQ(parsed->steps[1].participant, "10.0.0.3:7803");
}

TEST(ParseDefinition, AnEmptyAfterStartsAStepAtOnce) {
  json document = MinimalDefinition();
  document["steps"][1]["after"] = json::array();
  auto parsed = ParseDefinition(document.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->steps[1].after.empty());
}

TEST(ClosestName, SuggestsOnlyNearMisses) {
  EXPECT_EQ(ClosestName("reserve-stok", {"create-order", "reserve-stock"}), "reserve-stock");
  EXPECT_EQ(ClosestName("shipping", {"create-order", "reserve-stock"}), "");
  EXPECT_EQ(ClosestName("a", {"b"}), "b");
  EXPECT_EQ(ClosestName("same", {"same"}), "");
}

TEST(ParseDefinition, EnforcesLimits) {
  json document = MinimalDefinition();
  DefinitionLimits limits;
  limits.max_steps = 1;
  auto too_many = ParseDefinition(document.dump(), limits);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(std::string(too_many.status().message()),
            "definition: steps: has 2 steps, over the limit of 1 (--max-steps)");

  limits = DefinitionLimits{};
  limits.max_document_bytes = 10;
  auto too_big = ParseDefinition(document.dump(), limits);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.status().message().find("over the limit of 10 (--max-definition-bytes)"),
            absl::string_view::npos);

  limits = DefinitionLimits{};
  document["name"] = std::string(129, 'a');
  EXPECT_EQ(ErrorFor(document),
            "definition: name: longer than 128 characters, the limit (--max-name-length)");
}

// A step input nested 100,000 levels deep is 200 KB, well under the size limit, but copying
// it recursed once per level and overflowed the stack (found while writing the fuzz targets).
TEST(ParseDefinition, RefusesDocumentsNestedTooDeeply) {
  const std::string deep =
      R"({"name": "deep", "version": 1, "steps": [{"name": "a", "service": "s", )"
      R"("action": "x", "input": )" +
      std::string(100'000, '[') + std::string(100'000, ']') + "}]}";
  auto parsed = ParseDefinition(deep);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(parsed.status().message()),
            "definition: objects and arrays nested deeper than 64 levels");

  // The limit itself: the document, "steps", the step and its input are 4 levels, so an
  // input holding 60 more arrays is exactly 64 deep.
  auto nested_input = [](int arrays) {
    return R"({"name": "deep", "version": 1, "steps": [{"name": "a", "service": "s", )"
           R"("action": "x", "input": {"v": )" +
           std::string(arrays, '[') + std::string(arrays, ']') + "}}]}";
  };
  EXPECT_TRUE(ParseDefinition(nested_input(60)).ok());
  EXPECT_FALSE(ParseDefinition(nested_input(61)).ok());
}

// Issue 13: a definition of 1 MiB whose output is [{},{},...] took about a minute to parse
// (nlohmann's callback parser, used for the depth check, is quadratic on that shape). The
// bound is generous for a loaded machine and sanitizers; the quadratic minute is far above.
TEST(ParseDefinition, ADocumentOfManyEmptyObjectsParsesInLinearTime) {
  std::string document = R"({"name": "p", "version": 1, "steps": [{"name": "a", "service": "s", )"
                         R"("action": "x"}], "output": [{})";
  while (document.size() < (1 << 20) - 16) document += ",{}";
  document += "]}";
  const auto started = std::chrono::steady_clock::now();
  auto parsed = ParseDefinition(document);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_LT(seconds, 10.0);
}

}  // namespace
}  // namespace skald::core
