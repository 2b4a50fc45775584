// One saga (#/sagas/<id>): its header, the operator's actions, the timeline of its attempts,
// its steps with inputs, outputs and errors, its definition's step graph and its event
// history. Refreshes every second while the saga is not terminal.

import { AdminActions } from "./admin_actions.js";
import { ApiError, getDefinition, getSaga, getSagaHistory } from "./api.js";
import { h, keepingOpenDetails, replaceChildren } from "./dom.js";
import {
  formatDuration, isTerminal, parseJson, parseTime, sagaStateName, stateBadge, stepStateName, timeElement,
} from "./format.js";
import { jsonDetails } from "./json_view.js";
import { graphModel, renderStepGraph } from "./step_graph.js";
import { renderTimeline } from "./timeline.js";
import { normalizeEvent } from "./timeline_model.js";

const REFRESH_MS = 1000;
// After an operator's action the page follows the saga until its state changes, at most this
// long (the saga moves on asynchronously, so it may still look FAILED for a moment).
const FOLLOW_AFTER_ACTION_MS = 15_000;

const OPERATOR_EVENTS = new Set(["operator_abort", "operator_retry", "operator_skip"]);
const BAD_EVENTS = new Set(["attempt_failed", "step_failed", "compensation_failed", "saga_failed"]);

function section(id, title, ...content) {
  return h("section", { class: "panel", id, "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title), ...content);
}

// Returns the detail of a history event as "key: value" parts; operator and reason first.
function describeDetail(detail) {
  const parts = [];
  if (detail.operator) parts.push(h("span", { class: "who" }, `by ${detail.operator}`));
  if (detail.reason) parts.push(h("q", {}, detail.reason));
  for (const [key, value] of Object.entries(detail)) {
    if (key === "operator" || key === "reason") continue;
    const text = typeof value === "string" ? value : JSON.stringify(value);
    parts.push(h("span", { class: "kv" }, h("span", { class: "k" }, `${key}:`), ` ${text}`));
  }
  return parts;
}

// Renders the saga page into `root`; returns {dispose} to stop its refreshing.
export function sagaPage(root, sagaId) {
  let saga = null;
  let events = [];
  let lastEventId = 0;
  let definition = undefined;  // the parsed document; null when it could not be loaded
  let definitionError = "";
  let pivot = "";                // the pivot step's name, if the definition has one
  let afterPivot = new Set();    // names of the steps after the pivot
  let timer = null;
  let disposed = false;
  let followAction = null;  // {state, until}: the saga's state when an operator acted
  let renderedSagaKey = "";
  let renderedEventId = -1;

  const heading = h("h1", { tabindex: "-1" }, "Saga ", h("code", {}, sagaId));
  const refreshNote = h("p", { class: "refresh-note muted", dataset: { role: "refresh" } }, "Loading…");
  const headerBody = h("div", { class: "saga-header" });
  const actions = new AdminActions(sagaId, () => {
    followAction = { state: saga.stateName, until: Date.now() + FOLLOW_AFTER_ACTION_MS };
    schedule(0);
  });
  const timelineBody = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const stepsBody = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const graphBody = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const historyBody = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const problem = h("div", { role: "alert" });

  replaceChildren(root,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/sagas" }, "Sagas"), " / ", sagaId),
    h("div", { class: "page-title" }, heading, refreshNote),
    problem,
    h("div", { class: "panel", id: "summary" }, headerBody),
    section("actions", "Actions", actions.element),
    section("timeline", "Timeline", timelineBody),
    section("steps", "Steps", stepsBody),
    section("graph", "Step graph", graphBody),
    section("history", "Event history", historyBody));
  heading.focus();

  function schedule(delay) {
    if (disposed) return;
    clearTimeout(timer);
    timer = setTimeout(refresh, delay);
  }

  async function refresh() {
    try {
      const [sagaResponse, historyResponse] = await Promise.all([getSaga(sagaId), getSagaHistory(sagaId, lastEventId)]);
      if (disposed) return;
      saga = sagaResponse.saga || {};
      saga.stateName = sagaStateName(saga.state);
      for (const raw of historyResponse.events || []) {
        const event = normalizeEvent(raw);
        if (event.id > lastEventId) {
          events.push(event);
          lastEventId = event.id;
        }
      }
      if (definition === undefined) await loadDefinition();
      replaceChildren(problem);
      render();
    } catch (error) {
      if (disposed) return;
      const notFound = error instanceof ApiError && error.status === 404;
      replaceChildren(problem, h("p", { class: "notice notice-error" },
        notFound ? `No saga with id ${sagaId}.` : `Cannot load the saga: ${error.describe ? error.describe() : error.message}`));
      if (notFound) {
        replaceChildren(root, h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/sagas" }, "Sagas")),
          h("div", { class: "page-title" }, heading), problem);
        document.title = `${sagaId}: not found · Skald`;
        return;
      }
    }
    if (saga && followAction && (saga.stateName !== followAction.state || Date.now() > followAction.until)) {
      followAction = null;
    }
    const following = saga && (!isTerminal(saga.state) || followAction !== null);
    refreshNote.textContent = following
      ? `Refreshing every second · last update ${new Date().toLocaleTimeString()}`
      : `The saga has ended; not refreshing · loaded ${new Date().toLocaleTimeString()}`;
    refreshNote.dataset.following = following ? "yes" : "no";
    if (following || !saga) schedule(saga ? REFRESH_MS : 3 * REFRESH_MS);
  }

  async function loadDefinition() {
    try {
      const response = await getDefinition(saga.definition, saga.definition_version || 0);
      definition = parseJson(response.definition_json, null);
      if (!definition) {
        definitionError = "the stored definition is not JSON";
        return;
      }
      const model = graphModel(definition);
      pivot = model.pivot ? model.pivot.name : "";
      afterPivot = new Set(model.steps.filter((step) => step.afterPivot).map((step) => step.name));
    } catch (error) {
      definition = null;
      definitionError = error.describe ? error.describe() : error.message;
    }
  }

  function render() {
    const now = Date.now();
    const sagaKey = JSON.stringify(saga);
    const sagaChanged = sagaKey !== renderedSagaKey;
    const eventsChanged = lastEventId !== renderedEventId;
    renderedSagaKey = sagaKey;
    renderedEventId = lastEventId;
    actions.update(saga, abortRefusal());
    document.title = `${sagaId} · ${saga.stateName} · Skald`;
    // While the saga runs, its duration and the bars in progress grow: redraw those.
    const moving = !isTerminal(saga.state);
    if (sagaChanged || moving) keepingOpenDetails(headerBody, () => replaceChildren(headerBody, renderHeader(now)));
    if (sagaChanged || eventsChanged || moving) {
      replaceChildren(timelineBody, events.length ? renderTimeline(saga, events, now) : h("p", { class: "muted" }, "No events yet."));
    }
    if (sagaChanged) {
      keepingOpenDetails(stepsBody, () => replaceChildren(stepsBody, renderSteps()));
      replaceChildren(graphBody, renderGraph());
    }
    if (eventsChanged || !historyBody.querySelector("table")) replaceChildren(historyBody, renderHistory());
  }

  // Why Abort would be refused now (the pivot has started), or "".
  function abortRefusal() {
    const step = (saga.steps || []).find((s) => s.name === pivot);
    if (!step || stepStateName(step.state) === "PENDING") return "";
    return `The pivot step ${pivot} has started: the saga can only go forward now, so it cannot be aborted.`;
  }

  // How a step of the saga may be skipped now: "compensation", "forward" (a failed step after
  // the pivot, completed by hand) or "" (not at all). The coordinator's rule.
  function skipKind(step) {
    const state = stepStateName(step.state);
    if ((state === "COMPENSATION_FAILED" && saga.stateName === "FAILED") ||
        (state === "COMPENSATING" && saga.stateName === "COMPENSATING")) {
      return "compensation";
    }
    if (state === "FAILED" && afterPivot.has(step.name) && saga.stateName === "FAILED") return "forward";
    return "";
  }

  function renderHeader(now) {
    const state = saga.stateName;
    const created = parseTime(saga.created_at);
    const ended = isTerminal(state) ? parseTime(saga.updated_at) : now;
    const rows = [
      ["State", stateBadge(state)],
      ["Definition", h("span", { dataset: { field: "definition" } }, `${saga.definition || "?"} v${saga.definition_version || "?"}`)],
      ["Created", timeElement(saga.created_at, { millis: true })],
      ["Updated", timeElement(saga.updated_at, { millis: true })],
      [isTerminal(state) ? "Took" : "Running for", formatDuration(ended - created)],
      ["Trace parent", saga.traceparent ? h("code", { class: "traceparent" }, saga.traceparent) : "—"],
      ["Input", jsonDetails("input", saga.input_json, "saga-input")],
      ["Output", jsonDetails("output", saga.output_json, "saga-output")],
    ];
    const header = [h("dl", { class: "facts" }, rows.map(([name, value]) => h("div", { class: "fact" }, h("dt", {}, name), h("dd", {}, value))))];
    if (saga.error) {
      header.push(h("div", { class: `saga-error${state === "FAILED" ? " needs-operator" : ""}` },
        h("strong", {}, state === "FAILED" ? "Needs an operator: " : "Last error: "),
        h("span", { class: "error-text" }, saga.error)));
    }
    if (state === "FAILED") {
      const forward = (saga.steps || []).some((step) => skipKind(step) === "forward");
      header.push(h("p", { class: "hint" }, forward
        ? ["A step after the pivot failed, and the saga can only go forward. Fix its cause, then Retry; ",
           "or, if you did what the step should have done by hand, Skip it in the steps table."]
        : ["A compensation could not finish. Fix its cause (is the participant up?), then Retry; ",
           "or, if you undid the step's effect by hand, Skip that step in the steps table."]));
    }
    return header;
  }

  function renderSteps() {
    const steps = saga.steps || [];
    if (!steps.length) return h("p", { class: "muted" }, "No steps.");
    return h("div", { class: "table-scroll" }, h("table", { class: "steps" },
      h("thead", {}, h("tr", {},
        ["Step", "State", "Action attempts", "Compensation attempts", "Input", "Output", "Error"].map((name) => h("th", { scope: "col" }, name)),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Operator action")))),
      h("tbody", {}, steps.map((step) => {
        const state = stepStateName(step.state);
        const skip = skipKind(step);
        return h("tr", { dataset: { step: step.name, state } },
          h("th", { scope: "row" }, step.name),
          h("td", {}, stateBadge(state), renderWaiting(step.waiting)),
          h("td", { class: "num" }, String(step.attempts || 0)),
          h("td", { class: "num" }, String(step.compensation_attempts || 0)),
          h("td", { class: "json-cell" }, jsonDetails("input", step.input_is_saga_input ? saga.input_json : step.input_json, `${step.name}-input`)),
          h("td", { class: "json-cell" }, jsonDetails("output", step.output_json, `${step.name}-output`)),
          h("td", { class: "error-cell" }, step.error ? h("span", { class: "error-text" }, step.error) : h("span", { class: "muted" }, "—")),
          h("td", {}, skip
            ? h("button", { type: "button", class: "button action-skip", dataset: { action: "skip", step: step.name },
                            "aria-label": `Skip step ${step.name}`,
                            onclick: () => actions.open("skip", step.name, skip === "forward") }, "Skip…")
            : ""));
      }))));
  }

  // A step its participant accepted: how long it has waited, until when, its last heartbeat.
  function renderWaiting(waiting) {
    if (!waiting || !waiting.since) return "";
    const age = formatDuration(Date.now() - parseTime(waiting.since));
    return h("div", { class: "waiting muted", dataset: { waiting: "true" } },
      h("div", {}, `waiting ${age}, since `, timeElement(waiting.since)),
      h("div", {}, "deadline ", timeElement(waiting.deadline)),
      waiting.last_heartbeat_at
        ? h("div", {}, "last heartbeat ", timeElement(waiting.last_heartbeat_at),
            waiting.heartbeat_details_json ? ` ${waiting.heartbeat_details_json}` : "")
        : "",
      waiting.heartbeat_deadline ? h("div", {}, "next heartbeat by ", timeElement(waiting.heartbeat_deadline)) : "");
  }

  function renderGraph() {
    if (definition === undefined) return h("p", { class: "muted" }, "Loading…");
    if (!definition) return h("p", { class: "notice notice-error" }, `Cannot show the definition: ${definitionError}`);
    const stepStates = new Map((saga.steps || []).map((step) => [step.name, stepStateName(step.state)]));
    return [h("p", { class: "muted" }, `Definition ${saga.definition} v${saga.definition_version}; boxes are coloured by this saga's step states.`),
            renderStepGraph(definition, stepStates)];
  }

  function renderHistory() {
    if (!events.length) return h("p", { class: "muted" }, "No events yet.");
    return h("div", { class: "table-scroll" }, h("table", { class: "history" },
      h("thead", {}, h("tr", {}, ["#", "Time", "Event", "Step", "Phase", "Attempt", "Details"].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, events.map((event) => h("tr", {
        class: OPERATOR_EVENTS.has(event.type) ? "event-operator" : BAD_EVENTS.has(event.type) ? "event-bad" : "",
        dataset: { type: event.type, step: event.step },
      },
        h("td", { class: "num" }, String(event.id)),
        h("td", { class: "nowrap" }, timeElement(event.atText, { millis: true })),
        h("td", {}, h("code", {}, event.type)),
        h("td", {}, event.step || ""),
        h("td", {}, event.phase || ""),
        h("td", { class: "num" }, event.attempt ? String(event.attempt) : ""),
        h("td", { class: "detail" }, describeDetail(event.detail)))))));
  }

  schedule(0);
  return {
    dispose() {
      disposed = true;
      clearTimeout(timer);
    },
  };
}
