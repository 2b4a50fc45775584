#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coordinator/core/definition.h"

// The step graph of a definition, for `skald definition graph`: pure text rendering.
namespace skald::cli {

enum class GraphFormat { kDot, kMermaid };

// Returns the format named "dot" or "mermaid", or nullopt.
std::optional<GraphFormat> ParseGraphFormat(std::string_view name);

// Returns the order in which the steps that have a compensation are compensated, as pairs
// (first, then): `then` is compensated only after `first` has been, because `first`
// depends on it (directly, or through steps without a compensation). Pairs implied by
// others (a chain a -> b -> c gives (c, b) and (b, a), not (c, a)) are left out. Sorted by
// `first`, then `then`.
std::vector<std::pair<int, int>> CompensationOrder(const core::SagaDefinition& definition);

// Returns the graph in `format`: a node per step (name, action / compensation, and the
// marks "pivot", "forward only" and "when ..."), a solid edge from each step to the steps
// that run after it, and a dashed edge for each pair of CompensationOrder. The pivot is
// drawn thick and red (DOT) or as a hexagon (Mermaid); steps with a `when`
// have a dashed border.
std::string RenderGraph(const core::SagaDefinition& definition, GraphFormat format);

}  // namespace skald::cli
