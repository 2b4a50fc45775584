// The step graph of a definition: steps in columns by their depth in `after` (a step's
// column is one more than its deepest dependency), arrows for dependencies, the pivot
// marked, and each compensation's place in the order compensations run (reverse dependency
// order; one number is one wave that runs concurrently). On a saga's page the nodes are
// coloured by the saga's step states.

import { h, s } from "./dom.js";

// Returns the steps of a definition document with what the graph needs: name, after (with
// the default applied: the step listed before, none for the first), target, action,
// compensation, pivot, when, layer, row, dependents, compensation wave and after_pivot.
export function graphModel(doc) {
  const raw = Array.isArray(doc && doc.steps) ? doc.steps : [];
  const steps = raw.map((step, index) => ({
    name: String(step.name ?? `step ${index}`),
    index,
    after: Array.isArray(step.after) ? step.after.map(String) : index > 0 ? [String(raw[index - 1].name)] : [],
    target: step.service ? `${step.service}` : step.participant ? `${step.participant}` : "",
    action: step.action || "",
    compensation: step.compensation || "",
    pivot: step.pivot === true,
    when: step.when !== undefined,
    dependencies: [],
    dependents: [],
  }));
  const byName = new Map(steps.map((step) => [step.name, step]));
  for (const step of steps) {
    step.dependencies = step.after.map((name) => byName.get(name)).filter(Boolean);
    for (const dep of step.dependencies) dep.dependents.push(step);
  }

  // Depth in the dependency graph (a validated definition has no cycles; guard anyway).
  const depth = (step, seen = new Set()) => {
    if (step.layer !== undefined) return step.layer;
    if (seen.has(step)) return 0;
    seen.add(step);
    step.layer = step.dependencies.length ? 1 + Math.max(...step.dependencies.map((d) => depth(d, seen))) : 0;
    return step.layer;
  };
  steps.forEach((step) => depth(step));

  // Compensation runs once every dependent is settled; a step without a compensation settles
  // as soon as its own dependents have.
  const settled = (step, seen = new Set()) => {
    if (step.settledAt !== undefined) return step.settledAt;
    if (seen.has(step)) return 0;
    seen.add(step);
    const before = step.dependents.length ? Math.max(...step.dependents.map((d) => settled(d, seen))) : 0;
    step.settledAt = before + (step.compensation ? 1 : 0);
    return step.settledAt;
  };
  for (const step of steps) step.wave = step.compensation ? settled(step) : null;

  const pivot = steps.find((step) => step.pivot);
  const markAfterPivot = (step) => {
    for (const d of step.dependents) {
      if (!d.afterPivot) {
        d.afterPivot = true;
        markAfterPivot(d);
      }
    }
  };
  if (pivot) markAfterPivot(pivot);

  // Rows within a column: by the mean row of the dependencies (fewer crossings), then by
  // the order of the definition.
  const layers = [];
  for (const step of steps) (layers[step.layer] ||= []).push(step);
  for (const layer of layers) {
    if (!layer) continue;
    layer.sort((a, b) => barycenter(a) - barycenter(b) || a.index - b.index);
    layer.forEach((step, row) => { step.row = row; });
  }
  return { steps, layers: layers.filter(Boolean), pivot };
}

function barycenter(step) {
  if (!step.dependencies.length) return step.index / 1000;
  return step.dependencies.reduce((sum, d) => sum + (d.row ?? 0), 0) / step.dependencies.length;
}

// Returns the waves of compensation in the order they run: [[step, ...], ...].
export function compensationWaves(model) {
  const waves = [];
  for (const step of model.steps) {
    if (step.wave) (waves[step.wave - 1] ||= []).push(step);
  }
  return waves.filter(Boolean);
}

const NODE_W = 196;
const NODE_H = 80;
const COL_GAP = 64;
const ROW_GAP = 22;
const PAD = 14;

function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// Returns the SVG of the graph and, below it, the compensation order in words.
// `stepStates` maps step names to short state names (optional).
export function renderStepGraph(doc, stepStates = new Map()) {
  const model = graphModel(doc);
  const maxRows = Math.max(1, ...model.layers.map((layer) => layer.length));
  const width = PAD * 2 + model.layers.length * NODE_W + Math.max(0, model.layers.length - 1) * COL_GAP;
  const height = PAD * 2 + 12 + maxRows * NODE_H + (maxRows - 1) * ROW_GAP;
  const position = (step) => {
    const rows = model.layers[step.layer].length;
    const offset = ((maxRows - rows) * (NODE_H + ROW_GAP)) / 2;
    return { x: PAD + step.layer * (NODE_W + COL_GAP), y: PAD + 12 + offset + step.row * (NODE_H + ROW_GAP) };
  };

  const edges = [];
  for (const step of model.steps) {
    const to = position(step);
    for (const dep of step.dependencies) {
      const from = position(dep);
      const x1 = from.x + NODE_W;
      const y1 = from.y + NODE_H / 2;
      const x2 = to.x - 2;
      const y2 = to.y + NODE_H / 2;
      const mid = (x1 + x2) / 2;
      edges.push(s("path", {
        class: "g-edge", d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`,
        "marker-end": "url(#g-arrow)", dataset: { from: dep.name, to: step.name },
      }));
    }
  }

  const nodes = model.steps.map((step) => {
    const { x, y } = position(step);
    const state = stepStates.get(step.name);
    const classes = ["g-node", state ? `state-${state.toLowerCase().replaceAll("_", "-")}` : "",
                     step.pivot ? "pivot" : "", step.when ? "conditional" : "", step.afterPivot ? "after-pivot" : ""];
    const compensationText = step.compensation ? `↶ ${step.compensation}  · undo #${step.wave}`
                           : step.pivot || step.afterPivot ? "forward only" : "no compensation";
    const tooltip = [
      `${step.name}${step.pivot ? " (pivot)" : ""}${state ? `: ${state}` : ""}`,
      `action ${step.action}${step.target ? ` on ${step.target}` : ""}`,
      step.compensation ? `compensation ${step.compensation}, in wave ${step.wave} of the compensation order` : compensationText,
      step.after.length ? `after ${step.after.join(", ")}` : "starts at once",
      step.when ? "runs only when its condition holds" : "",
    ].filter(Boolean).join("\n");
    return s("g", { class: classes.filter(Boolean).join(" "), transform: `translate(${x},${y})`,
                    dataset: { step: step.name, pivot: step.pivot, state: state || "" } },
      s("title", {}, tooltip),
      s("rect", { class: "g-box", width: NODE_W, height: NODE_H, rx: 6 }),
      step.pivot ? s("g", { class: "g-pivot-tag", transform: `translate(${NODE_W - 52},-9)` },
                     s("rect", { width: 46, height: 18, rx: 9 }),
                     s("text", { x: 23, y: 13, "text-anchor": "middle" }, "PIVOT")) : null,
      s("text", { class: "g-name", x: 10, y: 20 }, truncate(step.name, 24)),
      s("text", { class: "g-line", x: 10, y: 38 }, truncate(`${step.action}${step.target ? ` @ ${step.target}` : ""}`, 30)),
      s("text", { class: "g-line g-comp", x: 10, y: 55 }, truncate(compensationText, 30)),
      state ? s("text", { class: "g-state", x: 10, y: 72 }, state.replaceAll("_", " ").toLowerCase()) : null);
  });

  const description = model.steps.map((step) =>
    `${step.name}${step.pivot ? " (pivot)" : ""} after ${step.after.length ? step.after.join(" and ") : "nothing"}`).join("; ");
  const svg = s("svg", {
    class: "step-graph", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Step graph: ${description}`,
  },
    s("defs", {}, s("marker", { id: "g-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      s("path", { d: "M0,0 L10,5 L0,10 z", class: "g-arrowhead" }))),
    edges, nodes);

  const waves = compensationWaves(model);
  const order = waves.length
    ? h("ol", { class: "comp-order" }, waves.map((wave) => h("li", {},
        wave.map((step, i) => [i ? ", " : "", h("strong", {}, step.name), ` (${step.compensation})`]),
        wave.length > 1 ? " — together" : "")))
    : h("p", {}, "No step has a compensation.");
  return h("div", { class: "graph" },
    h("div", { class: "graph-scroll" }, svg),
    h("div", { class: "graph-notes" },
      h("p", {}, "Arrows point from a step to the steps that wait for it. ",
        model.pivot ? ["The pivot, ", h("strong", {}, model.pivot.name), ", is the point of no return: once it succeeds the saga only goes forward. "] : "",
        "Dashed boxes run only when their condition holds."),
      h("p", { class: "comp-order-title" }, "When a saga compensates, what had succeeded is undone in this order (a step only after every step that waits for it):"),
      order));
}
