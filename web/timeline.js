// Draws a saga's timeline: a row per step and phase, a bar per attempt over time, coloured by
// its outcome; dashed lines for the waits between attempts; vertical markers for saga-wide
// moments. The data comes from timeline_model.js.

import { h } from "./dom.js";
import { formatDuration, formatTime, stepStateName } from "./format.js";
import { OUTCOMES, buildTimeline, makeScale } from "./timeline_model.js";

const OUTCOME_TEXT = {
  [OUTCOMES.succeeded]: "succeeded",
  [OUTCOMES.retryable]: "retryable error",
  [OUTCOMES.failed]: "failed",
  [OUTCOMES.running]: "in progress",
  [OUTCOMES.abandoned]: "no outcome",
};

const percent = (fraction) => `${(fraction * 100).toFixed(3)}%`;

function clockTime(ms) {
  return formatTime(new Date(ms).toISOString(), { millis: true }).slice(11);
}

// Returns one attempt's bar.
function attemptBar(bar, scale) {
  const left = scale.position(bar.start);
  const width = Math.max(scale.position(bar.end) - left, 0);
  const phaseText = bar.phase === "compensation" ? "compensation" : "action";
  const description = `${bar.step} ${phaseText} attempt ${bar.attempt}: ${OUTCOME_TEXT[bar.outcome]}, ` +
                      `${formatDuration(bar.end - bar.start)} (${clockTime(bar.start)} to ${clockTime(bar.end)})` +
                      (bar.resent ? ", resent after a coordinator restart" : "") +
                      (bar.error ? `; ${bar.error}` : "");
  return h("div", {
    class: `tl-bar outcome-${bar.outcome}${bar.resent ? " resent" : ""}`,
    style: `left:${percent(left)};width:${percent(width)}`,
    role: "img",
    "aria-label": description,
    title: description,
    dataset: { step: bar.step, phase: phaseText, attempt: bar.attempt, outcome: bar.outcome },
  }, h("span", { class: "tl-bar-label", "aria-hidden": "true" }, `#${bar.attempt}`));
}

// Returns the dashed line of a wait before a retry.
function waitLine(wait, scale) {
  const left = scale.position(wait.start);
  const width = Math.max(scale.position(wait.end) - left, 0);
  const text = `waiting ${formatDuration(wait.end - wait.start)} before attempt ${wait.attempt}`;
  return h("div", { class: "tl-wait", style: `left:${percent(left)};width:${percent(width)}`, title: text });
}

// Returns the header row: elapsed-time ticks and the squeezed gaps' lengths.
function axis(scale) {
  const track = h("div", { class: "tl-track tl-axis", "aria-hidden": "true" });
  for (const tick of scale.ticks) {
    track.append(h("span", { class: `tl-tick${tick.position > 0.92 ? " flip" : ""}`, style: `left:${percent(tick.position)}` },
                   tick.elapsed === 0 ? "0" : `+${formatDuration(tick.elapsed)}`));
  }
  for (const gap of scale.gaps) {
    track.append(h("span", {
      class: "tl-gap-label",
      style: `left:${percent(gap.fromPosition)};width:${percent(gap.toPosition - gap.fromPosition)}`,
      title: `${formatDuration(gap.to - gap.from)} with nothing in progress, not to scale`,
    }, `≈${formatDuration(gap.to - gap.from)}`));
  }
  return h("div", { class: "tl-row tl-head" }, h("div", { class: "tl-label" }, "elapsed"), track);
}

// Rough width of a marker label as a share of the track (about 1000 px at 1280 px wide).
function labelWidth(text) {
  return (text.length * 6.6 + 14) / 1000;
}

// Returns the row of saga-wide markers' labels, on up to three lines so they do not overlap.
function markerRow(model, scale) {
  const track = h("div", { class: "tl-track tl-marker-labels" });
  const lineEnds = [-1, -1, -1];
  for (const marker of model.markers) {
    const p = scale.position(marker.at);
    const flip = p > 0.8;
    const width = labelWidth(marker.label);
    const [from, to] = flip ? [p - width, p] : [p, p + width];
    let line = lineEnds.findIndex((end) => end < from);
    if (line < 0) line = lineEnds.indexOf(Math.min(...lineEnds));
    lineEnds[line] = to;
    const who = marker.detail.operator ? ` by ${marker.detail.operator}` : "";
    const title = `${marker.type}${marker.step ? ` (${marker.step})` : ""}${who} at ${clockTime(marker.at)}` +
                  (marker.detail.reason ? `: ${marker.detail.reason}` : "") +
                  (marker.detail.error ? `: ${marker.detail.error}` : "");
    track.append(h("span", {
      class: `tl-marker-label marker-${marker.type.replaceAll("_", "-")} line-${line}${flip ? " flip" : ""}`,
      style: `left:${percent(p)}`,
      title,
      dataset: { type: marker.type },
    }, marker.label));
  }
  const linesUsed = lineEnds.filter((end) => end >= 0).length;
  track.style.height = `${Math.max(1, linesUsed) * 18 + 4}px`;
  return h("div", { class: "tl-row tl-markers" }, h("div", { class: "tl-label" }, "saga"), track);
}

// Returns the timeline of `saga` (with steps) from its normalized `events`. `now` is the
// current time in ms.
export function renderTimeline(saga, events, now) {
  const terminal = ["COMPLETED", "COMPENSATED", "FAILED"].includes(saga.stateName);
  const model = buildTimeline(events, { now, terminal });
  const busy = [...model.attempts, ...model.waits].map((x) => [x.start, x.end]);
  for (const marker of model.markers) busy.push([marker.at, marker.at]);
  const scale = makeScale(model.start, model.end, busy);

  const rows = [];
  const stepNames = (saga.steps || []).map((step) => step.name);
  for (const bar of model.attempts) if (!stepNames.includes(bar.step)) stepNames.push(bar.step);
  const stepStates = new Map((saga.steps || []).map((step) => [step.name, stepStateName(step.state)]));

  for (const name of stepNames) {
    for (const phase of ["action", "compensation"]) {
      const bars = model.attempts.filter((b) => b.step === name && (b.phase || "action") === phase);
      const waits = model.waits.filter((w) => w.step === name && (w.phase || "action") === phase);
      if (phase === "compensation" && bars.length === 0 && waits.length === 0) continue;
      const track = h("div", { class: "tl-track" },
                      waits.map((w) => waitLine(w, scale)), bars.map((b) => attemptBar(b, scale)));
      if (phase === "action" && bars.length === 0) {
        const state = stepStates.get(name) || "PENDING";
        track.append(h("span", { class: "tl-empty" }, state === "SKIPPED" ? "skipped (when)" : "not run"));
      }
      rows.push(h("div", { class: `tl-row phase-${phase}`, dataset: { step: name, phase } },
        h("div", { class: "tl-label" },
          phase === "action" ? h("span", { class: "tl-step" }, name)
                             : h("span", { class: "tl-step tl-comp" }, h("span", { class: "visually-hidden" }, `${name} `), "↶ compensation")),
        track));
    }
  }

  const overlay = h("div", { class: "tl-overlay", "aria-hidden": "true" },
    scale.gaps.map((gap) => h("div", { class: "tl-gap", style: `left:${percent(gap.fromPosition)};width:${percent(gap.toPosition - gap.fromPosition)}` })),
    model.markers.map((m) => h("div", { class: `tl-marker-line marker-${m.type.replaceAll("_", "-")}`, style: `left:${percent(scale.position(m.at))}` })));

  const legend = h("ul", { class: "tl-legend", "aria-label": "Legend" },
    Object.values(OUTCOMES).map((outcome) => h("li", {}, h("span", { class: `tl-swatch outcome-${outcome}` }), OUTCOME_TEXT[outcome])),
    h("li", {}, h("span", { class: "tl-swatch tl-swatch-wait" }), "waiting to retry"),
    scale.gaps.length ? h("li", {}, h("span", { class: "tl-swatch tl-swatch-gap" }), "idle time, not to scale") : null);

  return h("div", { class: "timeline", dataset: { bars: model.attempts.length } },
    h("div", { class: "tl-grid" }, axis(scale), markerRow(model, scale), h("div", { class: "tl-body" }, rows, overlay)),
    legend);
}
