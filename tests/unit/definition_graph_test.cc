#include "coordinator/cli/definition_graph.h"

#include <gtest/gtest.h>

#include "coordinator/core/definition_parser.h"

namespace skald::cli {
namespace {

using nlohmann::json;
using Order = std::vector<std::pair<int, int>>;

json Step(const std::string& name, json after, bool compensated = true) {
  json step = {{"name", name}, {"participant", "127.0.0.1:7801"}, {"action", name}};
  if (compensated) step["compensation"] = "undo-" + name;
  if (!after.is_null()) step["after"] = after;
  return step;
}

core::SagaDefinition ParseDocument(const json& document) {
  auto definition = core::ParseDefinition(document.dump());
  EXPECT_TRUE(definition.ok()) << definition.status();
  return definition.ok() ? *definition : core::SagaDefinition{};
}

core::SagaDefinition Steps(json steps) {
  return ParseDocument({{"name", "g"}, {"version", 1}, {"steps", steps}});
}

// A pivot, a conditional step and characters that need escaping in both formats.
const char kPaymentDefinition[] = R"({
  "name": "pay", "version": 3,
  "steps": [
    {"name": "hold", "participant": "127.0.0.1:1", "action": "hold", "compensation": "release"},
    {"name": "fee", "participant": "127.0.0.1:1", "action": "fee", "compensation": "refund",
     "after": ["hold"], "when": {"value": "${input}/note", "equals": "a\"b<c>#&"}},
    {"name": "commit", "participant": "127.0.0.1:1", "action": "commit",
     "after": ["hold", "fee"], "pivot": true},
    {"name": "mail", "participant": "127.0.0.1:1", "action": "send", "after": ["commit"]}
  ]})";

TEST(DefinitionGraph, ParsesFormatNames) {
  EXPECT_EQ(ParseGraphFormat("dot"), GraphFormat::kDot);
  EXPECT_EQ(ParseGraphFormat("mermaid"), GraphFormat::kMermaid);
  EXPECT_EQ(ParseGraphFormat("svg"), std::nullopt);
  EXPECT_EQ(ParseGraphFormat("DOT"), std::nullopt);
}

TEST(DefinitionGraph, CompensationOrderFollowsDependenciesBackwards) {
  EXPECT_EQ(CompensationOrder(Steps({Step("a", nullptr), Step("b", nullptr), Step("c", nullptr)})),
            (Order{{1, 0}, {2, 1}}));
  EXPECT_EQ(CompensationOrder(Steps(
                {Step("a", nullptr), Step("b", {"a"}), Step("c", {"a"}), Step("d", {"b", "c"})})),
            (Order{{1, 0}, {2, 0}, {3, 1}, {3, 2}}));
}

TEST(DefinitionGraph, CompensationOrderLooksThroughStepsWithoutACompensation) {
  // b has nothing to undo, but a still waits for c, which depends on a through b.
  EXPECT_EQ(
      CompensationOrder(Steps({Step("a", nullptr), Step("b", nullptr, false), Step("c", nullptr)})),
      (Order{{2, 0}}));
}

TEST(DefinitionGraph, IndependentStepsHaveNoCompensationOrder) {
  EXPECT_TRUE(
      CompensationOrder(Steps({Step("a", json::array()), Step("b", json::array())})).empty());
}

TEST(DefinitionGraph, RendersDot) {
  const core::SagaDefinition definition = ParseDocument(json::parse(kPaymentDefinition));
  EXPECT_EQ(RenderGraph(definition, GraphFormat::kDot), R"(digraph "pay v3" {
  // Solid edges: a step starts after the steps pointing at it. Dashed edges: the
  // compensation order (the head is compensated after the tail).
  rankdir=LR;
  node [shape=box, style=rounded];
  "hold" [label="hold\nhold / release"];
  "fee" [label="fee\nfee / refund\nwhen ${input}/note == \"a\\\"b<c>#&\"", style="rounded,dashed"];
  "commit" [label="commit\ncommit\npivot", penwidth=3, color=firebrick];
  "mail" [label="mail\nsend\nforward only"];
  "hold" -> "fee";
  "hold" -> "commit";
  "fee" -> "commit";
  "commit" -> "mail";
  "fee" -> "hold" [style=dashed, color=gray40, constraint=false];
}
)");
}

TEST(DefinitionGraph, RendersMermaid) {
  const core::SagaDefinition definition = ParseDocument(json::parse(kPaymentDefinition));
  EXPECT_EQ(RenderGraph(definition, GraphFormat::kMermaid), R"(flowchart LR
  %% pay v3. Solid arrows: a step starts after the steps pointing at it.
  %% Dotted arrows: the compensation order (the head is compensated after the tail).
  s0["hold<br/>hold / release"]
  s1["fee<br/>fee / refund<br/>when ${input}/note == #quot;a\#quot;b#lt;c#gt;#35;#amp;#quot;"]
  s2{{"commit<br/>commit<br/>pivot"}}
  s3["mail<br/>send<br/>forward only"]
  s0 --> s1
  s0 --> s2
  s1 --> s2
  s2 --> s3
  s1 -.-> s0
  classDef pivot stroke-width:4px
  class s2 pivot
  classDef conditional stroke-dasharray:5 5
  class s1 conditional
)");
}

TEST(DefinitionGraph, LeavesOutClassesNoStepUses) {
  const std::string mermaid =
      RenderGraph(Steps({Step("a", nullptr), Step("b", nullptr)}), GraphFormat::kMermaid);
  EXPECT_EQ(mermaid.find("classDef"), std::string::npos) << mermaid;
  EXPECT_NE(mermaid.find("  s1 -.-> s0\n"), std::string::npos) << mermaid;
}

}  // namespace
}  // namespace skald::cli
