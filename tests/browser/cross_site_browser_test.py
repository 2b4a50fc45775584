#!/usr/bin/env python3
"""Cross-site requests to the coordinator's HTTP port, in headless Chromium (ctest label
`browser`; issue 13, symptom 6).

Starts `skald dev` (its own PostgreSQL; authentication off, as `skald dev` runs by default)
with its HTTP port on loopback, applies the order definition, and serves an attacker's pages
from another loopback port (another origin, and "same-site" to the browser). Then, in the
browser:

  cross-site-form    a page auto-submitting a text/plain form whose body is a StartSaga request
  cross-site-fetch   a page sending the same with fetch(), mode no-cors, Content-Type text/plain
  cross-site-url     a page auto-submitting an application/x-www-form-urlencoded form
  rebinding          the API read through a host name that resolves to 127.0.0.1 (what DNS
                     rebinding does): refused for its Host
  same-origin        the dashboard's own way, fetch() of JSON from the coordinator's page:
                     still starts its saga

None of the cross-site requests may start a saga; the same-origin one must.
"""

import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    from selenium.webdriver.common.by import By  # noqa: F401 (checks selenium is there)
except ImportError:
    print(f"python3-selenium is missing for {sys.executable}: run scripts/install-deps.sh "
          "(Debian's package is for /usr/bin/python3)", file=sys.stderr)
    sys.exit(1)

from browser import Browser  # noqa: E402
from order_system import ApiError, OrderSystem, TestFailure  # noqa: E402
from test_main import (arm_deadline, disarm_deadline, keep_failure_page, keep_logs,  # noqa: E402
                       parse_arguments)

DEADLINE_S = 150
REBOUND_HOST = "rebound.skald.test"
INPUT = {"order_id": "x", "customer": "mallory", "sku": "widget", "quantity": 1, "amount": 1}


def check(condition, message):
    if not condition:
        raise TestFailure(message)


def start_request(saga_id):
    return {"definition": "order", "saga_id": saga_id, "input_json": json.dumps(INPUT)}


def attacker_pages(api_url):
    """The attacker's pages: {path: html}."""
    # A text/plain form sends "name=value\r\n": the name carries the JSON up to a string that
    # absorbs the "=", as an attacker writes it.
    body = json.dumps(start_request("cross-site-form"))
    cut = body.index('"customer\\": \\"') + len('"customer\\": \\"')
    name, value = body[:cut] + "mall", "ory" + body[cut:]
    escape = lambda text: text.replace("&", "&amp;").replace("'", "&#39;")  # noqa: E731
    form = (f"<form method=POST action='{api_url}/sagas' enctype='text/plain'>"
            f"<input type=hidden name='{escape(name)}' value='{escape(value)}'></form>"
            "<script>document.forms[0].submit()</script>")
    fetch = ("<script>fetch(" + json.dumps(api_url + "/sagas") + ", {method: 'POST', mode: 'no-cors', "
             "headers: {'Content-Type': 'text/plain'}, body: "
             + json.dumps(json.dumps(start_request("cross-site-fetch"))) + "})"
             ".then(() => { document.title = 'sent'; }, () => { document.title = 'sent'; });"
             "</script>")
    urlencoded = (f"<form method=POST action='{api_url}/sagas'>"
                  f"<input type=hidden name='definition' value='order'>"
                  f"<input type=hidden name='saga_id' value='cross-site-url'></form>"
                  "<script>document.forms[0].submit()</script>")
    return {"/form.html": form, "/fetch.html": fetch, "/urlencoded.html": urlencoded}


class AttackerSite:
    """Serves the attacker's pages from 127.0.0.1 on a port of its own."""

    def __init__(self, pages):

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                page = pages.get(self.path)
                body = (page or "not found").encode()
                self.send_response(200 if page else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Scenario:
    def __init__(self, system, browser, attacker, definition):
        self.system = system
        self.browser = browser
        self.attacker = attacker
        self.definition = definition

    def saga_exists(self, saga_id):
        try:
            self.system.api("GET", f"sagas/{saga_id}")
            return True
        except ApiError as error:
            check(error.status == 404, f"GET sagas/{saga_id}: {error.status} {error.body}")
            return False

    def wait_for(self, what, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TestFailure(f"timed out waiting for {what}")
            time.sleep(0.1)

    def submit_form(self, page, saga_id):
        self.browser.go(self.attacker.url + page)
        # The form navigates the tab to the API's answer.
        self.wait_for(f"{page} to be submitted",
                      lambda: self.browser.driver.current_url.startswith(self.system.http_url))
        answer = self.browser.driver.find_element("tag name", "body").text
        self.browser.screenshot(saga_id)
        print(f"{page}: the coordinator answered {answer[:200]}")
        check(not self.saga_exists(saga_id), f"{page} started saga {saga_id}: {answer}")
        check("PERMISSION_DENIED" in answer and "cross-site" in answer,
              f"{page}: expected a 403 naming the cross-site request, got {answer}")

    def run(self):
        self.system.skald_cli("definition", "apply", self.definition)
        self.submit_form("/form.html", "cross-site-form")
        self.submit_form("/urlencoded.html", "cross-site-url")

        self.browser.go(self.attacker.url + "/fetch.html")
        self.wait_for("the fetch to be sent", lambda: self.browser.driver.title == "sent")
        time.sleep(0.5)
        check(not self.saga_exists("cross-site-fetch"), "a no-cors fetch started a saga")

        port = self.system.http_url.rsplit(":", 1)[1]
        self.browser.go(f"http://{REBOUND_HOST}:{port}/api/v1/sagas")
        answer = self.browser.driver.find_element("tag name", "body").text
        self.browser.screenshot("rebinding")
        print(f"rebinding: the coordinator answered {answer[:200]}")
        check("--http-allowed-hosts" in answer and '"sagas"' not in answer,
              f"the API answered a request for Host {REBOUND_HOST}: {answer[:300]}")

        # The dashboard's own way still works: JSON from the coordinator's origin.
        self.browser.go(self.system.http_url + "/")
        status = self.browser.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch('/api/v1/sagas', {method: 'POST', headers: {'Content-Type': 'application/json'},"
            " body: JSON.stringify(arguments[0])})"
            ".then(r => r.text().then(t => done(r.status + ' ' + t)), e => done('error ' + e));",
            start_request("same-origin"))
        print(f"same-origin: {status}")
        check(status.startswith("200 "), f"the dashboard's request was refused: {status}")
        check(self.saga_exists("same-origin"), "the same-origin request started no saga")


def main():
    args = parse_arguments(__doc__.splitlines()[0])
    if args is None:
        return 1
    arm_deadline(DEADLINE_S)

    workdir = tempfile.mkdtemp(prefix="skald-cross-site-")
    system = OrderSystem(args.skald, args.participants_dir, workdir)
    browser = Browser(workdir, args.screenshots, args.chromedriver, args.chromium,
                      extra_arguments=[f"--host-resolver-rules=MAP {REBOUND_HOST} 127.0.0.1",
                                       "--disable-features=HttpsUpgrades"])
    attacker = None
    failed = False
    begin = time.monotonic()
    try:
        system.start(participants=False)
        attacker = AttackerSite(attacker_pages(system.http_url + "/api/v1"))
        attacker.start()
        browser.start()
        Scenario(system, browser, attacker, args.definition).run()
    except Exception:
        failed = True
        traceback.print_exc()
        keep_failure_page(browser, args.logs, "cross-site-failure")
    finally:
        disarm_deadline()
        browser.stop()
        if attacker is not None:
            attacker.stop()
        problems = system.stop()
        keep_logs(system.logs(), args.logs, "cross-site-", failed)
        shutil.rmtree(workdir, ignore_errors=True)
        if problems:
            print("cleanup problems: " + "; ".join(problems), file=sys.stderr)
    print(f"{'FAILED' if failed else 'passed'} in {time.monotonic() - begin:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
