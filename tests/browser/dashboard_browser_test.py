#!/usr/bin/env python3
"""The dashboard end to end, in headless Chromium (ctest label `browser`).

Starts `skald dev` (its own PostgreSQL) with its HTTP port and the example participants,
applies examples/order-saga/order-saga.json and runs known sagas through the JSON API:

  web-completed        v1, 2 widgets for 150                 -> COMPLETED
  web-compensated      v1, 1 widget for 5000 (over the limit) -> COMPENSATED
  web-failed-retry     v2 (few attempts), inventory stopped   -> FAILED
  web-failed-skip      the same                               -> FAILED
  web-aborted          v3 (retries for long), payment stopped -> RUNNING

then, in the browser: the list (counts, rows, a state chip, the filter form, paging), each
saga's page (state, steps, timeline bars, step graph, history), Abort on the RUNNING saga
(payment is started again once the abort is recorded), Retry on one FAILED saga and Skip on
the other, each with an operator's name and reason (all three end COMPENSATED, the history
shows who and why), the list again, and the participants page. Screenshots of each page go
to --screenshots; the processes' logs to --logs.
"""

import copy
import json
import os
import shutil
import sys
import tempfile
import time
import traceback

# The helpers beside this file are imported from the source tree: no __pycache__ there.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    from selenium.webdriver.common.by import By  # noqa: F401 (checks selenium is there)
except ImportError:
    print(f"python3-selenium is missing for {sys.executable}: run scripts/install-deps.sh "
          "(Debian's package is for /usr/bin/python3)", file=sys.stderr)
    sys.exit(1)

from browser import Browser  # noqa: E402
from order_system import OrderSystem, TestFailure  # noqa: E402
from test_main import (arm_deadline, disarm_deadline, keep_failure_page, keep_logs,  # noqa: E402
                       parse_arguments)

# The whole run must end (cleanup included) before ctest's TIMEOUT of 300 s.
DEADLINE_S = 250

COMPLETED = "web-completed"
COMPENSATED = "web-compensated"
FAILED_RETRY = "web-failed-retry"
FAILED_SKIP = "web-failed-skip"
ABORTED = "web-aborted"
ALL = {COMPLETED, COMPENSATED, FAILED_RETRY, FAILED_SKIP, ABORTED}
OPERATOR = "ada"


def order(order_id, amount, quantity=1):
    return {"order_id": order_id, "customer": "ada", "sku": "widget", "quantity": quantity,
            "amount": amount}


def check(condition, message):
    if not condition:
        raise TestFailure(message)


def fragile_version(document):
    """Version 2 of the order definition: two action attempts and three compensation attempts,
    quickly, so that a saga whose inventory service is down ends FAILED within a second or
    two."""
    v2 = copy.deepcopy(document)
    v2["version"] = 2
    v2["defaults"]["retry"] = {"max_attempts": 2, "initial_interval": "100ms"}
    v2["defaults"]["compensation_retry"] = {"max_attempts": 3, "initial_interval": "200ms"}
    v2["defaults"]["attempt_timeout"] = "2s"
    return v2


def patient_version(document):
    """Version 3 of the order definition: actions retried every second for a quarter of an
    hour, so that a saga whose payment service is down stays RUNNING until it is aborted;
    compensations retried quickly."""
    v3 = copy.deepcopy(document)
    v3["version"] = 3
    v3["defaults"]["retry"] = {"max_attempts": 1000, "initial_interval": "1s", "max_interval": "1s"}
    v3["defaults"]["compensation_retry"] = {"max_attempts": 100, "initial_interval": "200ms",
                                            "max_interval": "500ms"}
    return v3


class Scenario:
    def __init__(self, system, browser, definition_path):
        self.system = system
        self.browser = browser
        self.definition_path = definition_path
        self.console_errors = []
        self.started = time.monotonic()

    def step(self, text):
        print(f"[{time.monotonic() - self.started:6.1f} s] {text}", flush=True)

    # --- known sagas, through the JSON API ---------------------------------------------

    def prepare_sagas(self):
        system = self.system
        self.step("applying order v1; running one saga to COMPLETED and one to COMPENSATED")
        system.skald_cli("definition", "apply", self.definition_path)
        system.start_saga(COMPLETED, 1, order("web-1", 150, quantity=2))
        system.start_saga(COMPENSATED, 1, order("web-2", 5000))
        system.wait_for_state(COMPLETED, "COMPLETED")
        system.wait_for_state(COMPENSATED, "COMPENSATED")

        self.step("applying order v2 (few attempts); stopping inventory; two sagas to FAILED")
        with open(self.definition_path) as f:
            system.apply_definition(fragile_version(json.load(f)), "order-v2.json")
        system.stop_participant("inventory")
        system.start_saga(FAILED_RETRY, 2, order("web-3", 20))
        system.start_saga(FAILED_SKIP, 2, order("web-4", 20))
        for saga_id in (FAILED_RETRY, FAILED_SKIP):
            saga = system.wait_for_state(saga_id, "FAILED")
            states = {s["name"]: s.get("state", "").replace("STEP_STATE_", "") for s in saga["steps"]}
            check(states.get("reserve-stock") == "COMPENSATION_FAILED",
                  f"{saga_id}: expected reserve-stock COMPENSATION_FAILED, got {states}")

        self.step("restarting inventory")
        system.start_participant("inventory")
        system.wait_registered("inventory", True)

        self.step("applying order v3 (patient); stopping payment; one saga left RUNNING")
        with open(self.definition_path) as f:
            system.apply_definition(patient_version(json.load(f)), "order-v3.json")
        system.stop_participant("payment")
        system.start_saga(ABORTED, 3, order("web-5", 30))
        system.wait_until(ABORTED, "charge-payment to have failed once",
                          lambda saga: any(s["name"] == "charge-payment" and s.get("attempts", 0) >= 1
                                           for s in saga.get("steps", [])))

    # --- helpers on the pages ----------------------------------------------------------

    def url(self, fragment):
        return f"{self.system.http_url}/{fragment}"

    def collect_console(self, page):
        for entry in self.browser.console_errors():
            self.console_errors.append(f"{page}: {entry.get('message')}")

    # Readers return plain data, read in one script so that a page re-rendering by itself
    # (auto-refresh) cannot leave the test holding stale elements.

    def js(self, script):
        return self.browser.driver.execute_script(script)

    def chip_counts(self):
        return self.js("""return Object.fromEntries([...document.querySelectorAll('.chips a.chip')]
            .map((c) => [c.dataset.state, Number(c.dataset.count)]));""")

    def list_rows(self):
        """{saga id: {"state": ..., "text": ...}} of the rows shown."""
        return self.js("""return Object.fromEntries([...document.querySelectorAll('table.sagas tbody tr')]
            .map((r) => [r.dataset.sagaId, {state: r.dataset.state, text: r.innerText}]));""")

    def wait_counts(self, expected):
        """Waits until the chips show `expected` ({state: count}, others unchecked)."""
        def matches():
            counts = self.chip_counts()
            return counts if all(counts.get(k) == v for k, v in expected.items()) else None
        try:
            return self.browser.wait(f"counts {expected}", matches, timeout=15)
        except TestFailure:
            raise TestFailure(f"chips show {self.chip_counts()}, expected {expected}") from None

    def saga_state(self):
        return self.js("""const badge = document.querySelector('#summary .fact .badge[data-state]');
            return badge ? badge.dataset.state : null;""")

    def step_states(self):
        return self.js("""return Object.fromEntries([...document.querySelectorAll('table.steps tbody tr')]
            .map((r) => [r.dataset.step, r.dataset.state]));""")

    def bars(self, step=None, phase=None, outcome=None):
        """The timeline's bars [{step, phase, attempt, outcome, label}] matching the filters."""
        found = self.js("""return [...document.querySelectorAll('.timeline .tl-bar')].map((b) => ({
            step: b.dataset.step, phase: b.dataset.phase, attempt: Number(b.dataset.attempt),
            outcome: b.dataset.outcome, label: b.getAttribute('aria-label')}));""")
        return [bar for bar in found if (step is None or bar["step"] == step)
                and (phase is None or bar["phase"] == phase) and (outcome is None or bar["outcome"] == outcome)]

    def history_rows(self, event_type):
        """The history's rows of `event_type`: [{step, text}]."""
        return self.js(f"""return [...document.querySelectorAll('table.history tbody tr[data-type="{event_type}"]')]
            .map((r) => ({{step: r.dataset.step, text: r.innerText}}));""")

    def click(self, css, what=None):
        """Clicks the first element matching `css` once it is there (again if the page
        re-rendered it in between)."""
        def attempt():
            element = self.browser.one(css)
            if element is None:
                return False
            element.click()
            return True
        self.browser.wait(what or f"{css!r} to click", attempt)

    def open_saga(self, saga_id, state):
        """Goes to the saga's page and waits until it shows `state` with its timeline, step
        graph and history."""
        self.browser.go(self.url(f"#/sagas/{saga_id}"))
        self.wait_saga_page(saga_id, state)

    def wait_saga_page(self, saga_id, state, timeout=15):
        b = self.browser
        b.wait(f"saga {saga_id} shown as {state}",
               lambda: saga_id in (b.text("h1") or "") and self.saga_state() == state, timeout)
        b.wait("the timeline", lambda: self.bars())
        b.wait("the step graph", lambda: b.all("svg.step-graph g.g-node"))
        b.wait("the event history", lambda: b.all("table.history tbody tr"))

    def check_graph(self, saga_id):
        b = self.browser
        nodes = {n.get_attribute("data-step"): n for n in b.all("svg.step-graph g.g-node")}
        check(set(nodes) == {"create-order", "reserve-stock", "charge-payment", "confirm-order"},
              f"{saga_id}: graph nodes {sorted(nodes)}")
        check("pivot" in nodes["confirm-order"].get_attribute("class"),
              f"{saga_id}: confirm-order is not marked as the pivot in the graph")
        edges = {(e.get_attribute("data-from"), e.get_attribute("data-to")) for e in b.all("svg.step-graph path.g-edge")}
        check(edges == {("create-order", "charge-payment"), ("reserve-stock", "charge-payment"),
                        ("charge-payment", "confirm-order")}, f"{saga_id}: graph edges {sorted(edges)}")
        order_text = b.text("ol.comp-order") or ""
        lines = order_text.splitlines()
        check(len(lines) == 2 and "charge-payment" in lines[0] and "create-order" in lines[1]
              and "reserve-stock" in lines[1],
              f"{saga_id}: compensation order shown as {order_text!r}")

    # --- the pages ---------------------------------------------------------------------

    def check_list(self):
        b = self.browser
        self.step("saga list: counts and rows")
        b.go(self.url(""))
        b.wait("five rows in the saga list", lambda: len(self.list_rows()) == 5)
        self.wait_counts({"ALL": 5, "RUNNING": 1, "COMPENSATING": 0, "COMPLETED": 1, "COMPENSATED": 1, "FAILED": 2})
        check(b.one('.chips a.chip.needs-operator[data-state="FAILED"]') is not None,
              "the FAILED chip is not highlighted although two sagas need an operator")
        rows = self.list_rows()
        expected = {COMPLETED: ("COMPLETED", "order v1"), COMPENSATED: ("COMPENSATED", "order v1"),
                    FAILED_RETRY: ("FAILED", "order v2"), FAILED_SKIP: ("FAILED", "order v2"),
                    ABORTED: ("RUNNING", "order v3")}
        for saga_id, (state, definition) in expected.items():
            row = rows.get(saga_id)
            check(row is not None, f"no row for {saga_id}")
            check(row["state"] == state, f"{saga_id}: row state {row['state']}, expected {state}")
            check(definition in row["text"], f"{saga_id}: row {row['text']!r} lacks {definition!r}")
        check("charge-payment failed" in rows[COMPENSATED]["text"],
              f"{COMPENSATED}: the row does not show why it compensated: {rows[COMPENSATED]['text']!r}")
        b.screenshot("01-saga-list")
        self.collect_console("saga list")

        self.step("saga list: the FAILED chip filters")
        self.click('.chips a.chip[data-state="FAILED"]')
        b.wait("only the FAILED sagas listed",
               lambda: "state=FAILED" in b.driver.current_url and set(self.list_rows()) == {FAILED_RETRY, FAILED_SKIP})
        check(b.one('.chips a.chip.current[data-state="FAILED"]') is not None, "the FAILED chip is not shown as current")
        b.screenshot("02-saga-list-failed")

        self.step("saga list: the filter form (state and definition)")
        b.go(self.url("#/sagas"))
        b.wait("the unfiltered list", lambda: set(self.list_rows()) == ALL and "state=" not in b.driver.current_url)
        self.click('#filter-state option[value="COMPENSATED"]')
        definition = b.one("#filter-definition")
        definition.clear()
        definition.send_keys("order")
        b.one("form.filters button[type=submit]").click()
        b.wait("only the COMPENSATED saga listed", lambda: set(self.list_rows()) == {COMPENSATED})
        check("definition=order" in b.driver.current_url, f"filters not in the address: {b.driver.current_url}")
        definition = b.one("#filter-definition")
        definition.clear()
        definition.send_keys("no-such-definition")
        b.one("form.filters button[type=submit]").click()
        b.wait("the empty list", lambda: "No sagas match" in (b.text(".empty") or ""))

        self.step("saga list: the creation time filters, from the address")
        future = "2999-06-01T00:00:00Z"
        b.go(self.url(f"#/sagas?created_before={future}"))
        b.wait("every saga created before 2999", lambda: set(self.list_rows()) == ALL)
        b.go(self.url(f"#/sagas?created_after={future}"))
        b.wait("no saga created after 2999", lambda: "No sagas match" in (b.text(".empty") or ""))
        check((b.js_value("#filter-after") or "").startswith("2999-"),
              f"the created-after field shows {b.js_value('#filter-after')!r}")

        self.step("saga list: paging two at a time")
        b.go(self.url("#/sagas?page_size=2"))
        seen = []
        for page, rows in ((1, 2), (2, 2), (3, 1)):
            b.wait(f"page {page} with {rows} rows", lambda: f"Page {page}" in (b.text(".page-info") or "")
                   and len(self.list_rows()) == rows and not set(self.list_rows()) & set(seen))
            seen += list(self.list_rows())
            newer, older = b.all(".pager button")
            check(newer.is_enabled() == (page > 1) and older.is_enabled() == (page < 3),
                  f"page {page}: Newer enabled {newer.is_enabled()}, Older enabled {older.is_enabled()}")
            if page < 3:
                older.click()
        check(set(seen) == ALL, f"the three pages hold {sorted(seen)}")
        b.all(".pager button")[0].click()
        b.wait("back on page 2", lambda: "Page 2" in (b.text(".page-info") or "") and len(self.list_rows()) == 2)
        self.collect_console("saga list filters")

    def check_completed(self):
        b = self.browser
        self.step(f"saga page: {COMPLETED}, reached from the list")
        b.go(self.url("#/sagas"))
        self.click(f'tr[data-saga-id="{COMPLETED}"] a.saga-link', f"the link to {COMPLETED}")
        self.wait_saga_page(COMPLETED, "COMPLETED")
        check(b.text('[data-field="definition"]') == "order v1", f"definition shown as {b.text('[data-field=definition]')!r}")
        check(b.one("code.traceparent") is not None and (b.text("code.traceparent") or "").startswith("00-"),
              "no traceparent in the header")
        states = self.step_states()
        check(states == {s: "SUCCEEDED" for s in ("create-order", "reserve-stock", "charge-payment", "confirm-order")},
              f"{COMPLETED}: step states {states}")
        for step in states:
            check(len(self.bars(step, "action", "succeeded")) == 1, f"{COMPLETED}: expected one succeeded bar for {step}")
        check(not self.bars(phase="compensation"), f"{COMPLETED}: compensation bars on a completed saga")
        check(b.one('.tl-marker-label[data-type="saga_completed"]') is not None, "no saga_completed marker")
        check(self.history_rows("saga_completed"), "no saga_completed in the history")
        check(not b.all(".action-buttons button"), "an action is offered on a COMPLETED saga")
        self.check_graph(COMPLETED)
        # Unfold a step's output: the JSON is pretty-printed.
        self.click('table.steps tr[data-step="create-order"] details.json[data-key="create-order-output"] summary')
        output = b.wait("the unfolded output", lambda: b.one('details[data-key="create-order-output"][open] pre'))
        check('"order_id"' in output.text and "\n" in output.text, f"output not pretty-printed: {output.text!r}")
        b.screenshot("03-saga-completed")
        b.screenshot("03-saga-completed-full", full_page=True)
        self.collect_console(COMPLETED)

    def check_compensated(self):
        b = self.browser
        self.step(f"saga page: {COMPENSATED}")
        self.open_saga(COMPENSATED, "COMPENSATED")
        states = self.step_states()
        check(states == {"create-order": "COMPENSATED", "reserve-stock": "COMPENSATED",
                         "charge-payment": "FAILED", "confirm-order": "PENDING"}, f"{COMPENSATED}: step states {states}")
        check(len(self.bars("charge-payment", "action", "failed")) == 1,
              f"{COMPENSATED}: expected one failed (business failure) bar for charge-payment")
        for step in ("create-order", "reserve-stock"):
            check(len(self.bars(step, "action", "succeeded")) == 1, f"{COMPENSATED}: {step} action bar")
            check(len(self.bars(step, "compensation", "succeeded")) == 1, f"{COMPENSATED}: {step} compensation bar")
        check(not self.bars("confirm-order"), f"{COMPENSATED}: confirm-order has bars but never ran")
        for marker in ("saga_compensating", "saga_compensated"):
            check(b.one(f'.tl-marker-label[data-type="{marker}"]') is not None, f"{COMPENSATED}: no {marker} marker")
        error = b.text('table.steps tr[data-step="charge-payment"] .error-cell') or ""
        check(error.strip() not in ("", "—"), f"{COMPENSATED}: no error shown for charge-payment")
        check(b.one(".saga-error") is not None, f"{COMPENSATED}: the saga's error is not in the header")
        b.screenshot("04-saga-compensated")
        b.screenshot("04-saga-compensated-full", full_page=True)
        self.collect_console(COMPENSATED)

    def check_running_then_abort(self):
        b = self.browser
        self.step(f"saga page: {ABORTED} (RUNNING, payment down)")
        self.open_saga(ABORTED, "RUNNING")
        b.wait("the page to say it refreshes", lambda: b.one('[data-role="refresh"][data-following="yes"]'))
        b.wait("retryable charge-payment bars", lambda: self.bars("charge-payment", "action", "retryable"))
        check(self.step_states().get("charge-payment") == "RUNNING",
              f"{ABORTED}: step states {self.step_states()}")
        check(b.one("button.action-retry") is None, "Retry offered on a RUNNING saga")
        before = len(self.bars("charge-payment", "action"))
        b.wait("a new attempt to appear by itself (auto-refresh)",
               lambda: len(self.bars("charge-payment", "action")) > before, timeout=10)
        b.screenshot("05-saga-running")

        self.step(f"{ABORTED}: Abort with an operator's name and reason, then payment comes back")
        self.click("button.action-abort")
        b.wait("the abort form", lambda: b.one('form.action-form[data-action="abort"]'))
        operator = b.one("#action-operator")
        operator.clear()
        operator.send_keys(OPERATOR)
        b.one("#action-reason").send_keys("customer cancelled by phone")
        b.one('form.action-form button[type="submit"]').click()
        notice = b.wait("the action's result", lambda: b.one(".action-result .notice"))
        check(notice.get_attribute("data-kind") == "ok", f"Abort was not accepted: {notice.text}")
        self.system.start_participant("payment")
        b.wait(f"{ABORTED} to end COMPENSATED", lambda: self.saga_state() == "COMPENSATED", timeout=40)
        rows = b.wait("operator_abort in the history", lambda: self.history_rows("operator_abort"))
        check(OPERATOR in rows[0]["text"] and "customer cancelled by phone" in rows[0]["text"],
              f"the history's operator_abort row: {rows[0]['text']!r}")
        check(b.one('.tl-marker-label[data-type="operator_abort"]') is not None, "no operator_abort marker")
        check(not self.bars(outcome="running"), f"{ABORTED}: bars still in progress on a compensated saga")
        b.wait("the page to stop refreshing", lambda: b.one('[data-role="refresh"][data-following="no"]'), timeout=10)
        b.driver.execute_script("window.scrollTo(0, 0)")
        b.screenshot("06-saga-aborted-full", full_page=True)
        self.collect_console(ABORTED)

    def check_failed_then_retry(self):
        b = self.browser
        self.step(f"saga page: {FAILED_RETRY} (FAILED)")
        self.open_saga(FAILED_RETRY, "FAILED")
        check(b.text('[data-field="definition"]') == "order v2", "definition version not shown as v2")
        check(b.one(".saga-error.needs-operator") is not None, "a FAILED saga is not flagged as needing an operator")
        states = self.step_states()
        check(states.get("reserve-stock") == "COMPENSATION_FAILED" and states.get("create-order") == "COMPENSATED",
              f"{FAILED_RETRY}: step states {states}")
        check(len(self.bars("reserve-stock", "action", "retryable")) == 2,
              f"{FAILED_RETRY}: expected two retryable action bars for reserve-stock, got "
              f"{[x['label'] for x in self.bars('reserve-stock')]}")
        check(len(self.bars("reserve-stock", "compensation", "retryable")) == 3,
              f"{FAILED_RETRY}: expected three failed compensation bars for reserve-stock")
        check(len(self.bars("create-order", "compensation", "succeeded")) == 1,
              f"{FAILED_RETRY}: create-order's compensation bar")
        check(b.one('.tl-marker-label[data-type="saga_failed"]') is not None, "no saga_failed marker")
        check(b.one("button.action-abort") is None, "Abort offered on a FAILED saga")
        check(b.one('button.action-skip[data-step="reserve-stock"]') is not None, "no Skip for reserve-stock")
        b.screenshot("07-saga-failed")
        b.screenshot("07-saga-failed-full", full_page=True)

        self.step(f"{FAILED_RETRY}: Retry with an operator's name and reason")
        self.click("button.action-retry")
        b.wait("the retry form", lambda: b.one('form.action-form[data-action="retry"]'))
        operator = b.one("#action-operator")
        operator.clear()
        operator.send_keys(OPERATOR)
        b.one("#action-reason").send_keys("inventory service is back")
        b.screenshot("08-saga-failed-retry-form")
        b.one('form.action-form button[type="submit"]').click()
        notice = b.wait("the action's result", lambda: b.one(".action-result .notice"))
        check(notice.get_attribute("data-kind") == "ok", f"Retry was not accepted: {notice.text}")
        b.wait(f"{FAILED_RETRY} to end COMPENSATED", lambda: self.saga_state() == "COMPENSATED", timeout=30)
        rows = b.wait("operator_retry in the history", lambda: self.history_rows("operator_retry"))
        check(OPERATOR in rows[0]["text"] and "inventory service is back" in rows[0]["text"],
              f"the history's operator_retry row does not say who and why: {rows[0]['text']!r}")
        b.wait("reserve-stock COMPENSATED", lambda: self.step_states().get("reserve-stock") == "COMPENSATED")
        b.wait("a succeeded compensation bar for reserve-stock",
               lambda: self.bars("reserve-stock", "compensation", "succeeded"))
        check(b.one('.tl-marker-label[data-type="operator_retry"]') is not None, "no operator_retry marker on the timeline")
        b.wait("the page to stop refreshing", lambda: b.one('[data-role="refresh"][data-following="no"]'), timeout=10)
        b.driver.execute_script("window.scrollTo(0, 0)")
        b.screenshot("09-saga-retried")
        b.screenshot("09-saga-retried-full", full_page=True)
        self.collect_console(FAILED_RETRY)

    def check_failed_then_skip(self):
        b = self.browser
        self.step(f"saga page: {FAILED_SKIP}: Skip reserve-stock")
        self.open_saga(FAILED_SKIP, "FAILED")
        self.click('button.action-skip[data-step="reserve-stock"]')
        b.wait("the skip form", lambda: b.one('form.action-form[data-action="skip"][data-step="reserve-stock"]'))
        check(b.one("#action-operator").get_attribute("value") == OPERATOR,
              "the operator's name is not remembered from the last action")
        b.one("#action-reason").send_keys("released the widget by hand")
        b.one('form.action-form button[type="submit"]').click()
        notice = b.wait("the action's result", lambda: b.one(".action-result .notice"))
        check(notice.get_attribute("data-kind") == "ok", f"Skip was not accepted: {notice.text}")
        b.wait(f"{FAILED_SKIP} to end COMPENSATED", lambda: self.saga_state() == "COMPENSATED", timeout=30)
        rows = b.wait("operator_skip in the history", lambda: self.history_rows("operator_skip"))
        check(OPERATOR in rows[0]["text"] and "released the widget by hand" in rows[0]["text"]
              and rows[0]["step"] == "reserve-stock",
              f"the history's operator_skip row: {rows[0]['text']!r}")
        b.screenshot("10-saga-skipped-full", full_page=True)
        self.collect_console(FAILED_SKIP)

    def check_list_after(self):
        b = self.browser
        self.step("saga list after the operator's actions")
        b.go(self.url("#/sagas"))
        b.wait("five rows", lambda: len(self.list_rows()) == 5)
        self.wait_counts({"ALL": 5, "RUNNING": 0, "COMPLETED": 1, "COMPENSATED": 4, "FAILED": 0})
        check(b.one('.chips a.chip.needs-operator[data-state="FAILED"]') is None,
              "the FAILED chip is still highlighted with no FAILED saga")
        b.screenshot("11-saga-list-after")
        self.collect_console("saga list after")

    def check_participants(self):
        b = self.browser
        self.step("participants page")
        self.click('nav.top a[data-section="participants"]')
        b.wait("three services", lambda: len(b.all("section.service")) == 3)
        instances = self.js("""return [...document.querySelectorAll('section.service tbody tr')].map((r) => ({
            service: r.closest('section.service').dataset.service, health: r.dataset.health, text: r.innerText}));""")
        for service, handler in (("order", "create"), ("inventory", "reserve"), ("payment", "charge")):
            rows = [row for row in instances if row["service"] == service]
            check(len(rows) == 1, f"service {service}: {len(rows)} instances listed, expected 1")
            check(handler in rows[0]["text"], f"service {service}: handler {handler} not listed in {rows[0]['text']!r}")
            # Both were restarted and then called (release, refund): their last call was answered.
            expected = ("healthy",) if service in ("inventory", "payment") else ("healthy", "unknown")
            check(rows[0]["health"] in expected, f"service {service}: health {rows[0]['health']!r}, expected {expected}")
        b.screenshot("12-participants")
        self.collect_console("participants")

    def run(self):
        self.prepare_sagas()
        self.check_list()
        self.check_completed()
        self.check_compensated()
        self.check_running_then_abort()
        self.check_failed_then_retry()
        self.check_failed_then_skip()
        self.check_list_after()
        self.check_participants()
        check(not self.console_errors, "errors in the browser console:\n" + "\n".join(self.console_errors))


def main():
    args = parse_arguments(__doc__.splitlines()[0])
    if args is None:
        return 1
    for directory in (args.screenshots, args.logs):
        for name in os.listdir(directory):
            if name.endswith((".png", ".log", ".html")):
                os.remove(os.path.join(directory, name))
    arm_deadline(DEADLINE_S)

    workdir = tempfile.mkdtemp(prefix="skald-browser-")
    system = OrderSystem(args.skald, args.participants_dir, workdir)
    browser = Browser(workdir, args.screenshots, args.chromedriver, args.chromium)
    scenario = None
    failed = False
    begin = time.monotonic()
    try:
        system.start()
        browser.start()
        scenario = Scenario(system, browser, args.definition)
        scenario.run()
    except Exception:
        failed = True
        traceback.print_exc()
        keep_failure_page(browser, args.logs, "failure")
    finally:
        disarm_deadline()
        browser.stop()
        problems = system.stop()
        logs = dict(system.logs())
        logs["chromedriver"] = os.path.join(workdir, "chromedriver.log")
        keep_logs(logs, args.logs, "", failed)
        shutil.rmtree(workdir, ignore_errors=True)
        if problems:
            print("cleanup problems: " + "; ".join(problems), file=sys.stderr)
    print(f"{'FAILED' if failed else 'passed'} in {time.monotonic() - begin:.1f} s; "
          f"screenshots in {args.screenshots}:")
    for path in browser.screenshots:
        print(f"  {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
