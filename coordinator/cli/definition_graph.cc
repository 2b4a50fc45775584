#include "coordinator/cli/definition_graph.h"

#include <sstream>

#include "coordinator/cli/definition_printer.h"

namespace skald::cli {
namespace {

// ancestors[i][j]: step j must finish before step i can start.
std::vector<std::vector<bool>> Ancestors(const core::SagaDefinition& definition) {
  const size_t n = definition.steps.size();
  std::vector<std::vector<bool>> ancestors(n, std::vector<bool>(n, false));
  for (size_t i = 0; i < n; ++i) {
    std::vector<int> pending = definition.steps[i].after;
    while (!pending.empty()) {
      const int current = pending.back();
      pending.pop_back();
      if (ancestors[i][current]) continue;
      ancestors[i][current] = true;
      for (int next : definition.steps[current].after) pending.push_back(next);
    }
  }
  return ancestors;
}

// The lines of a step's node label.
std::vector<std::string> LabelLines(const core::StepDefinition& step) {
  std::vector<std::string> lines = {
      step.name, step.has_compensation() ? step.action + " / " + step.compensation : step.action};
  if (step.pivot) lines.push_back("pivot");
  if (step.after_pivot) lines.push_back("forward only");
  if (step.when) lines.push_back("when " + DescribeCondition(*step.when));
  return lines;
}

std::string DotQuoted(std::string_view text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

std::string RenderDot(const core::SagaDefinition& definition) {
  std::ostringstream out;
  out << "digraph " << DotQuoted(definition.name + " v" + std::to_string(definition.version))
      << " {\n"
      << "  // Solid edges: a step starts after the steps pointing at it. Dashed edges: the\n"
      << "  // compensation order (the head is compensated after the tail).\n"
      << "  rankdir=LR;\n"
      << "  node [shape=box, style=rounded];\n";
  for (const core::StepDefinition& step : definition.steps) {
    std::string label;
    for (const std::string& line : LabelLines(step)) {
      for (char c : line) {
        if (c == '"' || c == '\\') label += '\\';
        label += c;
      }
      label += "\\n";
    }
    label.resize(label.size() - 2);
    out << "  " << DotQuoted(step.name) << " [label=\"" << label << "\"";
    if (step.pivot) out << ", penwidth=3, color=firebrick";
    if (step.when) out << ", style=\"rounded,dashed\"";
    out << "];\n";
  }
  for (const core::StepDefinition& step : definition.steps) {
    for (int dependency : step.after) {
      out << "  " << DotQuoted(definition.steps[dependency].name) << " -> " << DotQuoted(step.name)
          << ";\n";
    }
  }
  for (const auto& [first, then] : CompensationOrder(definition)) {
    out << "  " << DotQuoted(definition.steps[first].name) << " -> "
        << DotQuoted(definition.steps[then].name)
        << " [style=dashed, color=gray40, constraint=false];\n";
  }
  out << "}\n";
  return out.str();
}

// Text inside a quoted Mermaid label, with the characters Mermaid would read as markup
// written as entity codes.
std::string MermaidText(std::string_view text) {
  std::string escaped;
  for (char c : text) {
    switch (c) {
      case '#':
        escaped += "#35;";
        break;
      case '"':
        escaped += "#quot;";
        break;
      case '<':
        escaped += "#lt;";
        break;
      case '>':
        escaped += "#gt;";
        break;
      case '&':
        escaped += "#amp;";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::string MermaidId(int step) { return "s" + std::to_string(step); }

std::string RenderMermaid(const core::SagaDefinition& definition) {
  std::ostringstream out;
  out << "flowchart LR\n"
      << "  %% " << definition.name << " v" << definition.version
      << ". Solid arrows: a step starts after the steps pointing at it.\n"
      << "  %% Dotted arrows: the compensation order (the head is compensated after the tail).\n";
  std::vector<int> pivots, conditional;
  for (size_t i = 0; i < definition.steps.size(); ++i) {
    const core::StepDefinition& step = definition.steps[i];
    std::string label;
    for (const std::string& line : LabelLines(step)) {
      label += (label.empty() ? "" : "<br/>") + MermaidText(line);
    }
    const int index = static_cast<int>(i);
    out << "  " << MermaidId(index) << (step.pivot ? "{{\"" : "[\"") << label
        << (step.pivot ? "\"}}" : "\"]") << "\n";
    if (step.pivot) pivots.push_back(index);
    if (step.when) conditional.push_back(index);
  }
  for (size_t i = 0; i < definition.steps.size(); ++i) {
    for (int dependency : definition.steps[i].after) {
      out << "  " << MermaidId(dependency) << " --> " << MermaidId(static_cast<int>(i)) << "\n";
    }
  }
  for (const auto& [first, then] : CompensationOrder(definition)) {
    out << "  " << MermaidId(first) << " -.-> " << MermaidId(then) << "\n";
  }
  auto add_class = [&out](std::string_view name, std::string_view style,
                          const std::vector<int>& steps) {
    if (steps.empty()) return;
    out << "  classDef " << name << " " << style << "\n  class ";
    for (size_t i = 0; i < steps.size(); ++i) out << (i ? "," : "") << MermaidId(steps[i]);
    out << " " << name << "\n";
  };
  add_class("pivot", "stroke-width:4px", pivots);
  add_class("conditional", "stroke-dasharray:5 5", conditional);
  return out.str();
}

}  // namespace

std::optional<GraphFormat> ParseGraphFormat(std::string_view name) {
  if (name == "dot") return GraphFormat::kDot;
  if (name == "mermaid") return GraphFormat::kMermaid;
  return std::nullopt;
}

std::vector<std::pair<int, int>> CompensationOrder(const core::SagaDefinition& definition) {
  const auto ancestors = Ancestors(definition);
  const int n = static_cast<int>(definition.steps.size());
  auto compensable = [&](int i) { return definition.steps[i].has_compensation(); };
  std::vector<std::pair<int, int>> order;
  for (int first = 0; first < n; ++first) {
    if (!compensable(first)) continue;
    for (int then = 0; then < n; ++then) {
      if (!compensable(then) || !ancestors[first][then]) continue;
      bool implied = false;
      for (int between = 0; between < n && !implied; ++between) {
        implied = compensable(between) && ancestors[first][between] && ancestors[between][then];
      }
      if (!implied) order.emplace_back(first, then);
    }
  }
  return order;
}

std::string RenderGraph(const core::SagaDefinition& definition, GraphFormat format) {
  return format == GraphFormat::kDot ? RenderDot(definition) : RenderMermaid(definition);
}

}  // namespace skald::cli
