// The data behind a saga's timeline, derived from its event history alone (no DOM): one bar
// per attempt of each step and phase, from `attempt_started` to its outcome; the waits
// between attempts (`retry_scheduled`); saga-wide moments (compensation began, an operator
// acted, the saga ended); and a time scale that squeezes long idle gaps, so that attempts a
// few milliseconds long stay visible in a saga that waited an hour for an operator.

import { parseJson, parseTime } from "./format.js";

// What became of an attempt, and the class its bar gets.
export const OUTCOMES = {
  succeeded: "succeeded",
  retryable: "retryable",   // failed; retried, or its retries ran out
  failed: "failed",         // refused: a business failure or a non-retryable error
  running: "running",       // no outcome yet, and the saga goes on
  abandoned: "abandoned",   // no outcome recorded: timed out, skipped by an operator, saga over
};

// Saga-wide events shown as vertical markers across the timeline.
const MARKER_LABELS = {
  saga_compensating: "compensating",
  saga_completed: "completed",
  saga_compensated: "compensated",
  saga_failed: "failed",
  operator_abort: "abort",
  operator_retry: "retry",
  operator_skip: "skip",
};

const key = (step, phase) => `${step}\u0000${phase}`;

// Returns the event with its fields normalized: numbers for id, attempt and time (ms), the
// parsed detail object, "" for missing strings (proto3 JSON leaves defaults out).
export function normalizeEvent(event) {
  return {
    id: Number(event.id || 0),
    at: parseTime(event.at),
    atText: event.at || "",
    type: event.type || "",
    step: event.step || "",
    phase: event.phase || "",
    attempt: Number(event.attempt || 0),
    detail: parseJson(event.detail_json, {}) || {},
  };
}

// Returns {start, end, attempts, waits, markers} for `events` (normalized, oldest first).
// `now` (ms) ends what is still open while the saga is not `terminal`.
export function buildTimeline(events, { now, terminal }) {
  const attempts = [];
  const waits = [];
  const markers = [];
  const openAttempt = new Map();
  const openWait = new Map();

  const closeWait = (k, at) => {
    const wait = openWait.get(k);
    if (!wait) return;
    wait.end = at;
    openWait.delete(k);
  };
  const closeAttempt = (k, at, outcome, error = "") => {
    const bar = openAttempt.get(k);
    if (!bar) return null;
    bar.end = at;
    bar.outcome = outcome;
    bar.error = error;
    openAttempt.delete(k);
    return bar;
  };
  const newBar = (e, start) => {
    const bar = { step: e.step, phase: e.phase, attempt: e.attempt, start, end: null,
                  outcome: null, error: "", resent: false };
    attempts.push(bar);
    return bar;
  };

  for (const e of events) {
    const k = key(e.step, e.phase);
    switch (e.type) {
      case "attempt_started":
        closeWait(k, e.at);
        closeAttempt(k, e.at, OUTCOMES.abandoned);
        openAttempt.set(k, newBar(e, e.at));
        break;
      case "attempt_resent": {
        // The same attempt sent again after a coordinator restart: one bar, marked.
        const bar = openAttempt.get(k);
        if (bar && bar.attempt === e.attempt) {
          bar.resent = true;
        } else {
          closeAttempt(k, e.at, OUTCOMES.abandoned);
          const fresh = newBar(e, e.at);
          fresh.resent = true;
          openAttempt.set(k, fresh);
        }
        break;
      }
      case "attempt_succeeded":
      case "attempt_failed": {
        const outcome = e.type === "attempt_succeeded" ? OUTCOMES.succeeded
                      : e.detail.retryable ? OUTCOMES.retryable : OUTCOMES.failed;
        const error = e.detail.error || "";
        if (!closeAttempt(k, e.at, outcome, error)) {
          // Its start is not in this history: show the outcome as a sliver.
          Object.assign(newBar(e, e.at), { end: e.at, outcome, error });
        }
        break;
      }
      case "retry_scheduled": {
        const delay = Number(e.detail.delay_ms || 0);
        const wait = { step: e.step, phase: e.phase, attempt: e.attempt, start: e.at, end: null,
                       due: e.at + delay };
        waits.push(wait);
        openWait.set(k, wait);
        break;
      }
      case "step_failed":
        // A step timeout, the saga's timeout or the saga compensating ends an attempt (or a
        // wait) without an outcome from the participant.
        closeWait(k, e.at);
        closeAttempt(k, e.at, OUTCOMES.abandoned, e.detail.error || "");
        break;
      case "operator_skip": {
        const ck = key(e.step, "compensation");
        closeWait(ck, e.at);
        closeAttempt(ck, e.at, OUTCOMES.abandoned, "skipped by an operator");
        break;
      }
      default:
        break;
    }
    if (MARKER_LABELS[e.type]) {
      markers.push({ at: e.at, type: e.type, label: MARKER_LABELS[e.type], step: e.step,
                     detail: e.detail, atText: e.atText });
    }
  }

  const first = events.length ? events[0].at : now;
  const last = events.length ? events[events.length - 1].at : now;
  const end = terminal ? last : Math.max(now, last);
  for (const bar of openAttempt.values()) {
    bar.end = end;
    bar.outcome = terminal ? OUTCOMES.abandoned : OUTCOMES.running;
  }
  for (const wait of openWait.values()) wait.end = end;
  return { start: first, end, attempts, waits, markers };
}

// Returns the union of [from, to] intervals, sorted and merged.
function mergeIntervals(intervals) {
  const sorted = intervals.filter(([a, b]) => b >= a).sort((x, y) => x[0] - y[0]);
  const merged = [];
  for (const [a, b] of sorted) {
    const lastInterval = merged[merged.length - 1];
    if (lastInterval && a <= lastInterval[1]) lastInterval[1] = Math.max(lastInterval[1], b);
    else merged.push([a, b]);
  }
  return merged;
}

// Share of the width one squeezed gap takes, and how many gaps may be squeezed at most.
const GAP_SHARE = 0.06;
const MAX_GAPS = 6;
// An idle gap is squeezed when longer than this and than a quarter of the rest of the span.
const MIN_GAP_MS = 1000;

// Returns a scale for [start, end]: {position(t) -> 0..1, gaps: [{from, to}], ticks:
// [{at, position}]}. `busy` is the list of [from, to] intervals where something happened;
// idle time between them longer than MIN_GAP_MS (and than a quarter of the remaining span)
// is drawn as a fixed narrow break instead of to scale.
export function makeScale(start, end, busy) {
  const span = Math.max(end - start, 1);
  const merged = mergeIntervals([[start, start], [end, end], ...busy]);
  const candidates = [];
  for (let i = 1; i < merged.length; i++) {
    candidates.push({ from: merged[i - 1][1], to: merged[i][0] });
  }
  candidates.sort((x, y) => (y.to - y.from) - (x.to - x.from));
  const gaps = [];
  let linear = span;
  for (const gap of candidates) {
    const length = gap.to - gap.from;
    if (gaps.length >= MAX_GAPS || length <= MIN_GAP_MS || length <= 0.25 * (linear - length)) break;
    gaps.push(gap);
    linear -= length;
  }
  gaps.sort((x, y) => x.from - y.from);

  // Pieces covering [start, end]: linear ones weigh their length, squeezed ones a share.
  const gapWeight = gaps.length ? (GAP_SHARE * linear) / (1 - GAP_SHARE * gaps.length) : 0;
  const pieces = [];
  let cursor = start;
  for (const gap of gaps) {
    if (gap.from > cursor) pieces.push({ from: cursor, to: gap.from, weight: gap.from - cursor });
    pieces.push({ from: gap.from, to: gap.to, weight: gapWeight, gap: true });
    cursor = gap.to;
  }
  if (end > cursor || pieces.length === 0) pieces.push({ from: cursor, to: Math.max(end, cursor + 1), weight: Math.max(end - cursor, 1) });
  const total = pieces.reduce((sum, p) => sum + p.weight, 0) || 1;

  let offset = 0;
  for (const piece of pieces) {
    piece.offset = offset;
    offset += piece.weight;
  }
  const position = (t) => {
    if (t <= start) return 0;
    for (const piece of pieces) {
      if (t <= piece.to) {
        const within = piece.to > piece.from ? (t - piece.from) / (piece.to - piece.from) : 0;
        return (piece.offset + within * piece.weight) / total;
      }
    }
    return 1;
  };

  // Ticks at round elapsed times inside the linear pieces, not closer than 8% of the width.
  const step = niceStep(linear / 6);
  const gapEdges = gaps.flatMap((g) => [position(g.from), position(g.to)]);
  const ticks = [];
  for (const piece of pieces) {
    if (piece.gap) continue;
    const firstTick = Math.ceil((piece.from - start) / step) * step;
    for (let elapsed = firstTick; start + elapsed <= piece.to; elapsed += step) {
      const p = position(start + elapsed);
      if (ticks.length && p - ticks[ticks.length - 1].position < 0.08) continue;
      if (gapEdges.some((edge) => Math.abs(edge - p) < 0.06)) continue;  // room for the gap's label
      ticks.push({ elapsed, position: p });
    }
  }
  return { position, gaps: gaps.map((g) => ({ ...g, fromPosition: position(g.from), toPosition: position(g.to) })), ticks };
}

// Returns the smallest of 1, 2, 5 times a power of ten (ms) that is at least `ms`.
function niceStep(ms) {
  const target = Math.max(ms, 1);
  const power = 10 ** Math.floor(Math.log10(target));
  for (const m of [1, 2, 5, 10]) {
    if (m * power >= target) return m * power;
  }
  return 10 * power;
}
