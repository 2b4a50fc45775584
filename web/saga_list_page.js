// The saga list (#/sagas?state=&definition=&created_after=&created_before=&page_size=):
// counts by state as chips (a click filters by that state; FAILED sagas need an operator),
// the filters, and one page of sagas, newest first, with paging. The filters live in the
// address, so a filtered list can be bookmarked or shared.

import { countSagas, listSagas } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import {
  SAGA_STATES, formatDuration, isTerminal, localInputToRfc3339, parseTime, rfc3339ToLocalInput,
  sagaStateName, stateBadge, timeElement,
} from "./format.js";

const REFRESH_MS = 5000;
const PAGE_SIZES = [20, 50, 100, 200];

// Returns the list's address for `filter` (empty values left out).
export function listHref(filter) {
  const params = new URLSearchParams();
  for (const name of ["state", "definition", "created_after", "created_before", "page_size"]) {
    if (!filter[name] || (name === "page_size" && Number(filter[name]) === 50)) continue;
    params.set(name, filter[name]);
  }
  const query = params.toString();
  return `#/sagas${query ? `?${query}` : ""}`;
}

// Returns the page size asked for in the address: 1 to 1000 (the API's limit), else 50.
function pageSizeFrom(text) {
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : 50;
}

function filterFrom(params) {
  const state = (params.get("state") || "").toUpperCase();
  return {
    state: SAGA_STATES.includes(state) ? state : "",
    definition: params.get("definition") || "",
    created_after: params.get("created_after") || "",
    created_before: params.get("created_before") || "",
    page_size: pageSizeFrom(params.get("page_size")),
  };
}

// Renders the list into `root` for the filters in `params` (URLSearchParams); returns
// {dispose} to stop its refreshing.
export function sagaListPage(root, params) {
  const filter = filterFrom(params);
  const tokens = [""];  // page_token of each page visited; the last is the current page
  let nextToken = "";
  let timer = null;
  let disposed = false;
  let shownCounts = "";
  let shownPage = "";

  const heading = h("h1", { tabindex: "-1" }, "Sagas");
  const chips = h("div", { class: "chips", role: "group", "aria-label": "Sagas by state" });
  const problem = h("div", { role: "alert" });
  const tableSlot = h("div", { class: "table-scroll" }, h("p", { class: "muted" }, "Loading…"));
  const pageInfo = h("span", { class: "page-info muted" });
  const previous = h("button", { type: "button", class: "button", disabled: true, onclick: () => turnPage(-1) }, "← Newer");
  const next = h("button", { type: "button", class: "button", disabled: true, onclick: () => turnPage(1) }, "Older →");
  const autoRefresh = h("input", { type: "checkbox", id: "auto-refresh", checked: true,
                                   onchange: () => (autoRefresh.checked ? schedule(0) : clearTimeout(timer)) });

  replaceChildren(root,
    h("div", { class: "page-title" }, heading,
      h("div", { class: "title-tools" },
        h("label", { class: "inline", for: "auto-refresh" }, autoRefresh, " Refresh every 5 s"),
        h("button", { type: "button", class: "button", onclick: () => refresh() }, "Refresh now"))),
    h("section", { class: "panel", "aria-label": "Counts by state" }, chips),
    filterForm(filter),
    problem,
    h("section", { class: "panel", "aria-labelledby": "list-title" },
      h("h2", { id: "list-title", class: "visually-hidden" }, "Matching sagas"),
      tableSlot,
      h("div", { class: "pager" }, previous, pageInfo, next)));
  heading.focus();
  document.title = "Sagas · Skald";

  function schedule(delay) {
    clearTimeout(timer);
    if (!disposed && autoRefresh.checked) timer = setTimeout(refresh, delay);
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const [counts, page] = await Promise.all([
        countSagas(filter.definition),
        listSagas({ ...filter, page_token: tokens[tokens.length - 1] }),
      ]);
      if (disposed) return;
      replaceChildren(problem);
      renderCounts(counts.by_state || {});
      renderPage(page);
    } catch (error) {
      if (disposed) return;
      replaceChildren(problem, h("p", { class: "notice notice-error" },
        `Cannot load sagas: ${error.describe ? error.describe() : error.message}`));
    }
    schedule(REFRESH_MS);
  }

  function turnPage(direction) {
    if (direction > 0 && nextToken) tokens.push(nextToken);
    if (direction < 0 && tokens.length > 1) tokens.pop();
    shownPage = "";
    refresh();
  }

  function renderCounts(byState) {
    const key = JSON.stringify(byState);
    if (key === shownCounts) return;
    shownCounts = key;
    const count = (state) => Number(byState[state] || 0);
    const total = SAGA_STATES.reduce((sum, state) => sum + count(state), 0);
    const chip = (state, label, n) => {
      const current = filter.state === state;
      const classes = ["chip", state ? `state-${state.toLowerCase()}` : "chip-all",
                       state === "FAILED" && n > 0 ? "needs-operator" : "", current ? "current" : ""];
      return h("a", {
        class: classes.filter(Boolean).join(" "),
        href: listHref({ ...filter, state: current ? "" : state }),
        "aria-current": current ? "true" : false,
        title: state === "FAILED" ? "Sagas whose compensation could not finish: an operator must act" : `Show ${label.toLowerCase()} sagas`,
        dataset: { state: state || "ALL", count: n },
      }, h("span", { class: "chip-label" }, label), h("span", { class: "chip-count" }, String(n)));
    };
    replaceChildren(chips,
      chip("", "All", total),
      SAGA_STATES.map((state) => chip(state, state.charAt(0) + state.slice(1).toLowerCase(), count(state))),
      count("FAILED") > 0 && filter.state !== "FAILED"
        ? h("p", { class: "chips-note" }, h("a", { href: listHref({ ...filter, state: "FAILED" }) },
            `${count("FAILED")} saga${count("FAILED") === 1 ? "" : "s"} need${count("FAILED") === 1 ? "s" : ""} an operator`))
        : null);
  }

  function renderPage(page) {
    const sagas = page.sagas || [];
    nextToken = page.next_page_token || "";
    previous.disabled = tokens.length <= 1;
    next.disabled = !nextToken;
    pageInfo.textContent = `Page ${tokens.length} · ${sagas.length} saga${sagas.length === 1 ? "" : "s"}`;
    const key = JSON.stringify(sagas);
    if (key === shownPage) return;
    shownPage = key;
    if (!sagas.length) {
      replaceChildren(tableSlot, h("p", { class: "empty" }, tokens.length > 1 ? "No more sagas." : "No sagas match these filters."));
      return;
    }
    const now = Date.now();
    replaceChildren(tableSlot, h("table", { class: "sagas" },
      h("thead", {}, h("tr", {}, ["Saga", "State", "Definition", "Created", "Updated", "Duration", "Error"].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, sagas.map((saga) => {
        const state = sagaStateName(saga.state);
        const ended = isTerminal(state) ? parseTime(saga.updated_at) : now;
        return h("tr", { dataset: { sagaId: saga.id, state }, class: state === "FAILED" ? "needs-operator" : "" },
          h("th", { scope: "row" }, h("a", { href: `#/sagas/${encodeURIComponent(saga.id)}`, class: "saga-link" }, saga.id)),
          h("td", {}, stateBadge(state)),
          h("td", { class: "nowrap" }, `${saga.definition} v${saga.definition_version || "?"}`),
          h("td", { class: "nowrap" }, timeElement(saga.created_at)),
          h("td", { class: "nowrap" }, timeElement(saga.updated_at)),
          h("td", { class: "nowrap num" }, formatDuration(ended - parseTime(saga.created_at))),
          h("td", { class: "error-cell" }, saga.error ? h("span", { class: "error-text clamp", title: saga.error }, saga.error) : ""));
      }))));
  }

  refresh();
  return {
    dispose() {
      disposed = true;
      clearTimeout(timer);
    },
  };
}

// Returns the filter form; submitting it moves to the list's address for the new filters.
function filterForm(filter) {
  const state = h("select", { id: "filter-state", name: "state" },
    h("option", { value: "" }, "any state"),
    SAGA_STATES.map((s) => h("option", { value: s, selected: filter.state === s }, s)));
  const definition = h("input", { id: "filter-definition", name: "definition", type: "text", value: filter.definition,
                                  placeholder: "e.g. order", autocomplete: "off", spellcheck: "false" });
  const after = h("input", { id: "filter-after", name: "created_after", type: "datetime-local",
                             value: rfc3339ToLocalInput(filter.created_after) });
  const before = h("input", { id: "filter-before", name: "created_before", type: "datetime-local",
                              value: rfc3339ToLocalInput(filter.created_before) });
  const pageSize = h("select", { id: "filter-page-size", name: "page_size" },
    [...new Set([...PAGE_SIZES, filter.page_size])].sort((a, b) => a - b)
      .map((n) => h("option", { value: n, selected: filter.page_size === n }, String(n))));
  const field = (id, label, control) => h("div", { class: "field" }, h("label", { for: id }, label), control);
  const form = h("form", { class: "panel filters", "aria-label": "Filters" },
    field("filter-state", "State", state),
    field("filter-definition", "Definition", definition),
    field("filter-after", "Created after", after),
    field("filter-before", "Created before", before),
    field("filter-page-size", "Per page", pageSize),
    h("div", { class: "field field-buttons" },
      h("button", { type: "submit", class: "button primary" }, "Apply"),
      h("a", { class: "button", href: "#/sagas" }, "Clear")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = listHref({
      state: state.value,
      definition: definition.value.trim(),
      created_after: localInputToRfc3339(after.value),
      created_before: localInputToRfc3339(before.value),
      page_size: pageSize.value,
    });
  });
  return form;
}
