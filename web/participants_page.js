// The registered participants (#/participants): each live instance of each service, its
// address and handlers, its registration's times, and its health as this coordinator sees
// it. Refreshes every 5 seconds.

import { listAllParticipants } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { timeElement } from "./format.js";

const REFRESH_MS = 5000;

const HEALTH_TEXT = {
  healthy: "its last call was answered",
  ejected: "recent calls failed: skipped while another instance is healthy",
  failing: "its last call failed; it gets the next call to see whether it is back",
  unknown: "not called yet",
};

function healthBadge(health) {
  const name = health || "unknown";
  return h("span", { class: `badge health-${name}`, title: HEALTH_TEXT[name] || "", dataset: { health: name } }, name);
}

function handlerList(names) {
  return (names || []).length ? h("span", { class: "handlers" }, names.map((n) => h("code", {}, n))) : h("span", { class: "muted" }, "—");
}

const COLUMNS = ["Instance", "Address", "Health", "Actions", "Compensations", "Registered", "Renewed", "Expires", "Last error"];

function instanceRow(instance) {
  const failures = Number(instance.consecutive_failures || 0);
  return h("tr", { dataset: { instance: instance.instance_id, health: instance.health || "unknown" } },
    h("th", { scope: "row" }, h("code", { class: "instance-id" }, instance.instance_id)),
    h("td", {}, h("code", {}, instance.address)),
    h("td", {}, healthBadge(instance.health),
      failures > 0 ? h("div", { class: "muted small" }, `${failures} failed in a row`) : null,
      instance.ejected_until ? h("div", { class: "muted small" }, "ejected until ", timeElement(instance.ejected_until)) : null),
    h("td", {}, handlerList(instance.actions)),
    h("td", {}, handlerList(instance.compensations)),
    h("td", { class: "nowrap" }, timeElement(instance.registered_at)),
    h("td", { class: "nowrap" }, timeElement(instance.renewed_at)),
    h("td", { class: "nowrap" }, timeElement(instance.expires_at)),
    h("td", { class: "error-cell" },
      instance.last_error ? h("span", { class: "error-text" }, instance.last_error) : h("span", { class: "muted" }, "—")));
}

function serviceSection(service, instances) {
  const count = `${instances.length} instance${instances.length === 1 ? "" : "s"}`;
  return h("section", { class: "panel service", dataset: { service } },
    h("h2", {}, "Service ", h("code", {}, service), h("span", { class: "muted" }, ` · ${count}`)),
    h("div", { class: "table-scroll" }, h("table", { class: "participants" },
      h("thead", {}, h("tr", {}, COLUMNS.map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, instances.map(instanceRow)))));
}

// Renders the participants page into `root`; returns {dispose}.
export function participantsPage(root) {
  let timer = null;
  let disposed = false;
  let shown = "";
  const heading = h("h1", { tabindex: "-1" }, "Participants");
  const summary = h("p", { class: "muted" }, "Loading…");
  const problem = h("div", { role: "alert" });
  const body = h("div", {});
  replaceChildren(root, h("div", { class: "page-title" }, heading), summary, problem, body);
  heading.focus();
  document.title = "Participants · Skald";

  async function refresh() {
    try {
      const reply = await listAllParticipants();
      if (disposed) return;
      replaceChildren(problem);
      render(reply.instances || []);
    } catch (error) {
      if (disposed) return;
      replaceChildren(problem, h("p", { class: "notice notice-error" },
        `Cannot load participants: ${error.describe ? error.describe() : error.message}`));
    }
    if (!disposed) timer = setTimeout(refresh, REFRESH_MS);
  }

  function render(instances) {
    const key = JSON.stringify(instances);
    if (key === shown) return;
    shown = key;
    const services = new Map();
    for (const instance of instances) {
      if (!services.has(instance.service)) services.set(instance.service, []);
      services.get(instance.service).push(instance);
    }
    summary.textContent = instances.length
      ? `${instances.length} live instance${instances.length === 1 ? "" : "s"} of ${services.size} service${services.size === 1 ? "" : "s"}. ` +
        "Steps that name a service are sent to its live instances; those at a fixed address are not listed here."
      : "No participant is registered. Steps that name a fixed participant address do not need to be.";
    replaceChildren(body, [...services.entries()].map(([service, list]) => serviceSection(service, list)));
  }

  refresh();
  return {
    dispose() {
      disposed = true;
      clearTimeout(timer);
    },
  };
}
