// The operator's actions on a saga — abort, retry, skip a step — each asking who acts and
// why in a small form, then showing what the coordinator answered.

import { operatorAction } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { formatTime, sagaStateName, stateBadge } from "./format.js";

const OPERATOR_KEY = "skald.operator";

const ACTIONS = {
  abort: {
    title: "Abort saga",
    button: "Abort",
    explain: "Stops the saga from going forward: it compensates the steps it has done. " +
             "Refused once the saga has passed its pivot.",
  },
  retry: {
    title: "Retry saga",
    button: "Retry",
    explain: "Resumes what the saga could not finish, with fresh attempts: the compensations " +
             "that failed, or the failed step after the pivot. Fix what made them fail first " +
             "(e.g. bring the participant back).",
  },
  skip: {
    title: "Skip step",
    button: "Skip",
    explain: "Marks this step's compensation as done by hand, so the saga's compensation " +
             "goes on without it. Only when its effect has really been undone some other way.",
  },
};

// Skip of a failed step after the pivot: the operator completed it by hand.
const SKIP_FORWARD_EXPLAIN = "Marks this step, which failed after the pivot, as completed by hand, " +
  "so the saga goes forward without it. Only when you really did what it should have done.";

function rememberedOperator() {
  try {
    return localStorage.getItem(OPERATOR_KEY) || "";
  } catch {
    return "";
  }
}

function rememberOperator(name) {
  try {
    localStorage.setItem(OPERATOR_KEY, name);
  } catch {
    // Storage may be off: the name is then asked again next time.
  }
}

// The "Actions" panel of a saga page. `onDone` is called after an action was recorded.
export class AdminActions {
  constructor(sagaId, onDone) {
    this.sagaId = sagaId;
    this.onDone = onDone;
    this.saga = null;
    this.shownFor = null;  // the saga state the buttons were made for
    this.buttons = h("div", { class: "action-buttons" });
    this.formSlot = h("div", { class: "action-form-slot" });
    this.result = h("div", { class: "action-result", role: "status", "aria-live": "polite" });
    this.element = h("div", { class: "admin-actions" }, this.buttons, this.formSlot, this.result);
  }

  // Shows the actions that apply to `saga` now: Abort while RUNNING (disabled, saying why,
  // when `abortRefusal` is set), Retry once FAILED; Skip buttons sit in the steps table. An
  // open form stays open.
  update(saga, abortRefusal = "") {
    this.saga = saga;
    const state = sagaStateName(saga.state);
    const key = `${state}/${abortRefusal}`;
    if (key === this.shownFor) return;
    this.shownFor = key;
    const buttons = [];
    if (state === "RUNNING" && abortRefusal) {
      buttons.push(h("button", { type: "button", class: "button action-abort", disabled: true,
                                 "aria-describedby": "abort-refusal" }, "Abort…"),
                   h("p", { class: "muted", id: "abort-refusal" }, abortRefusal));
    } else if (state === "RUNNING") {
      buttons.push(this.actionButton("abort"));
    }
    if (state === "FAILED") buttons.push(this.actionButton("retry"));
    if (buttons.length === 0) {
      buttons.push(h("p", { class: "muted" },
        state === "COMPENSATING"
          ? "The saga is compensating. A step whose compensation keeps failing can be skipped from the steps table."
          : "No action applies to a saga in this state."));
    }
    replaceChildren(this.buttons, buttons);
  }

  actionButton(action) {
    return h("button", { type: "button", class: `button action-${action}`, dataset: { action },
                         onclick: () => this.open(action) }, `${ACTIONS[action].button}…`);
  }

  // Opens the form for `action` ("abort", "retry", or "skip" with `step`; `forward` for a
  // failed step after the pivot).
  open(action, step = "", forward = false) {
    const spec = ACTIONS[action];
    const explain = action === "skip" && forward ? SKIP_FORWARD_EXPLAIN : spec.explain;
    const headingId = `action-form-title`;
    const operator = h("input", { id: "action-operator", name: "operator", type: "text", required: true,
                                  autocomplete: "username", maxlength: 200, value: rememberedOperator() });
    const reason = h("textarea", { id: "action-reason", name: "reason", required: true, rows: 2, maxlength: 1000 });
    const submit = h("button", { type: "submit", class: `button primary action-${action}-submit` },
                     step ? `${spec.button} ${step}` : spec.button);
    const form = h("form", { class: "action-form", "aria-labelledby": headingId, dataset: { action, step } },
      h("h3", { id: headingId }, step ? `${spec.title} ${step}` : spec.title),
      h("p", { class: "muted" }, explain),
      h("div", { class: "form-row" }, h("label", { for: "action-operator" }, "Operator"), operator),
      h("div", { class: "form-row" }, h("label", { for: "action-reason" }, "Reason"), reason),
      h("div", { class: "form-buttons" }, submit,
        h("button", { type: "button", class: "button", onclick: () => this.close() }, "Cancel")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const who = operator.value.trim();
      const why = reason.value.trim();
      if (!who || !why) {
        this.show("error", "Give your name and the reason: both are recorded in the saga's history.");
        return;
      }
      rememberOperator(who);
      submit.disabled = true;
      await this.submit(action, step, who, why);
      submit.disabled = false;
    });
    replaceChildren(this.formSlot, form);
    replaceChildren(this.result);
    (operator.value ? reason : operator).focus();
  }

  close() {
    replaceChildren(this.formSlot);
  }

  async submit(action, step, operator, reason) {
    const what = step ? `${ACTIONS[action].button} of step ${step}` : ACTIONS[action].button;
    try {
      const response = await operatorAction(this.sagaId, action, { operator, reason, step });
      this.close();
      const state = response.saga ? sagaStateName(response.saga.state) : "";
      this.show("ok", `${what} recorded by ${operator} at ${formatTime(new Date().toISOString())}`,
                state ? [" (the saga was then ", stateBadge(state), "; it moves on by itself)."] : ".");
      if (this.onDone) this.onDone(response.saga);
    } catch (error) {
      this.show("error", `${what} refused: ${error.describe ? error.describe() : error.message}`);
    }
  }

  show(kind, ...content) {
    replaceChildren(this.result, h("p", { class: `notice notice-${kind}`, dataset: { kind } }, ...content));
  }
}
