// Small helpers for building the DOM without a framework.

const SVG_NS = "http://www.w3.org/2000/svg";

// Sets `attrs` on `node`: "class", "text" (textContent), "dataset" (an object), functions
// under "on<event>" names as listeners, `false`/`null`/`undefined` values are left out, and
// everything else as an attribute.
function applyAttributes(node, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "text") {
      node.textContent = String(value);
    } else if (name === "dataset") {
      for (const [key, v] of Object.entries(value)) node.dataset[key] = String(v);
    } else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2).toLowerCase(), value);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

// Appends children: nodes, strings (as text), arrays of either; null/false are skipped.
function appendChildren(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// Returns a new HTML element: h("a", {href: "#/", class: "x"}, "text", otherNode).
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  applyAttributes(node, attrs);
  appendChildren(node, children);
  return node;
}

// Returns a new SVG element, like h().
export function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  applyAttributes(node, attrs);
  appendChildren(node, children);
  return node;
}

// Replaces the children of `node` with `children`.
export function replaceChildren(node, ...children) {
  node.replaceChildren();
  appendChildren(node, children);
}

// Runs `render` (which rebuilds part of `container`) and keeps every <details data-key=...>
// that was open before open after, so auto-refresh does not fold what a reader unfolded.
export function keepingOpenDetails(container, render) {
  const open = new Set(
    [...container.querySelectorAll("details[data-key]")].filter((d) => d.open).map((d) => d.dataset.key),
  );
  render();
  for (const details of container.querySelectorAll("details[data-key]")) {
    if (open.has(details.dataset.key)) details.open = true;
  }
}
