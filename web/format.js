// Names, times, durations and JSON as the dashboard shows them.

import { h } from "./dom.js";

export const SAGA_STATES = ["RUNNING", "COMPENSATING", "COMPLETED", "COMPENSATED", "FAILED"];
const TERMINAL_SAGA_STATES = new Set(["COMPLETED", "COMPENSATED", "FAILED"]);
const SAGA_STATE_NUMBERS = ["UNSPECIFIED", ...SAGA_STATES];
const STEP_STATE_NUMBERS = [
  "UNSPECIFIED", "PENDING", "RUNNING", "SUCCEEDED", "FAILED",
  "COMPENSATING", "COMPENSATED", "COMPENSATION_FAILED", "SKIPPED",
  "WAITING", "COMPENSATION_WAITING",
];

// Returns a saga state without its prefix ("SAGA_STATE_FAILED" -> "FAILED"). Accepts the
// short name too, and the enum's number; a missing value (proto3 JSON leaves out the
// default) is "UNSPECIFIED".
export function sagaStateName(value) {
  if (typeof value === "number") return SAGA_STATE_NUMBERS[value] || String(value);
  if (!value) return "UNSPECIFIED";
  return String(value).replace(/^SAGA_STATE_/, "");
}

// Returns a step state without its prefix ("STEP_STATE_COMPENSATION_FAILED" ->
// "COMPENSATION_FAILED"), like sagaStateName.
export function stepStateName(value) {
  if (typeof value === "number") return STEP_STATE_NUMBERS[value] || String(value);
  if (!value) return "UNSPECIFIED";
  return String(value).replace(/^STEP_STATE_/, "");
}

// True once a saga can change no more without an operator (COMPLETED, COMPENSATED, FAILED).
export function isTerminal(sagaState) {
  return TERMINAL_SAGA_STATES.has(sagaStateName(sagaState));
}

// Returns a badge for a saga or step state (short name); the text says the state, the colour
// only repeats it.
export function stateBadge(name, extraClass = "") {
  const label = name.replaceAll("_", " ");
  return h("span", { class: `badge state-${name.toLowerCase().replaceAll("_", "-")} ${extraClass}`.trim(),
                     dataset: { state: name } }, label);
}

// Returns milliseconds since the epoch of an RFC 3339 time, or NaN.
export function parseTime(rfc3339) {
  return rfc3339 ? Date.parse(rfc3339) : NaN;
}

function pad(n, width = 2) {
  return String(n).padStart(width, "0");
}

// Returns "2025-06-01 14:03:07" in the browser's time zone (".123" with `millis`), or "—".
export function formatTime(rfc3339, { millis = false } = {}) {
  const ms = parseTime(rfc3339);
  if (Number.isNaN(ms)) return "—";
  const d = new Date(ms);
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
               `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return millis ? `${text}.${pad(d.getMilliseconds(), 3)}` : text;
}

// Returns a <time> element showing formatTime(), with the exact UTC time as its tooltip.
export function timeElement(rfc3339, options = {}) {
  if (Number.isNaN(parseTime(rfc3339))) return "—";
  return h("time", { datetime: rfc3339, title: rfc3339 }, formatTime(rfc3339, options));
}

// Returns a short human duration: "850 ms", "2.4 s", "3 min 5 s", "2 h 10 min".
export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const totalSeconds = Math.round(ms / 1000);
  if (totalSeconds < 3600) return `${Math.floor(totalSeconds / 60)} min ${totalSeconds % 60} s`;
  const totalMinutes = Math.round(totalSeconds / 60);
  if (totalMinutes < 48 * 60) return `${Math.floor(totalMinutes / 60)} h ${totalMinutes % 60} min`;
  return `${Math.floor(totalMinutes / 1440)} d ${Math.floor((totalMinutes % 1440) / 60)} h`;
}

// Parses a JSON text; returns `fallback` when it is empty or not JSON.
export function parseJson(text, fallback = null) {
  if (text === undefined || text === null || text === "") return fallback;
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

// Returns the JSON text pretty-printed with two spaces; text that is not JSON as it is.
export function prettyJson(text) {
  const value = parseJson(text, undefined);
  return value === undefined ? String(text ?? "") : JSON.stringify(value, null, 2);
}

// Returns an RFC 3339 UTC time for the value of an <input type="datetime-local"> (the
// browser's time zone), or "" when it is empty or invalid.
export function localInputToRfc3339(value) {
  if (!value) return "";
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? "" : new Date(ms).toISOString();
}

// The reverse of localInputToRfc3339: "2025-06-01T14:03" in the browser's time zone.
export function rfc3339ToLocalInput(rfc3339) {
  const ms = parseTime(rfc3339);
  if (Number.isNaN(ms)) return "";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
