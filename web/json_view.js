// JSON documents shown folded: a summary line, unfolded to the pretty-printed text.

import { h } from "./dom.js";
import { parseJson, prettyJson } from "./format.js";

// Returns a short preview of a JSON value for the folded line: {order_id, sku, … 3 more}.
function preview(value) {
  if (Array.isArray(value)) return `[${value.length} item${value.length === 1 ? "" : "s"}]`;
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (!keys.length) return "{}";
    const shown = keys.slice(0, 3).join(", ");
    return `{${shown}${keys.length > 3 ? `, … ${keys.length - 3} more` : ""}}`;
  }
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

// Returns a collapsible view of `jsonText` labelled `label`, or a dash when there is none.
// `key` identifies it across refreshes (see keepingOpenDetails).
export function jsonDetails(label, jsonText, key) {
  if (jsonText === undefined || jsonText === null || jsonText === "") {
    return h("span", { class: "muted", title: `no ${label}` }, "—");
  }
  const value = parseJson(jsonText, undefined);
  return h("details", { class: "json", dataset: { key } },
    h("summary", {}, h("span", { class: "json-label" }, label), " ",
      h("code", { class: "json-preview" }, value === undefined ? "(not JSON)" : preview(value))),
    h("pre", { class: "json-body", tabindex: "0" }, prettyJson(jsonText)));
}
