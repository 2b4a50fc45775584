"""What every browser test's main() does around its scenario: its arguments, the check that
Chromium and chromedriver are there, a deadline over the whole run, and keeping the logs and
a picture of the page when it fails."""

import argparse
import os
import shutil
import signal
import sys

from order_system import TestFailure, tail


def parse_arguments(description):
    """Returns the browser test's arguments, its folders made; None (after saying what is
    missing) when Chromium or chromedriver is not installed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--skald", required=True)
    parser.add_argument("--participants-dir", required=True, help="where order-service & co. are")
    parser.add_argument("--definition", required=True, help="examples/order-saga/order-saga.json")
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--logs", required=True)
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    for tool in (args.chromedriver, args.chromium):
        if not os.access(tool, os.X_OK):
            print(f"{tool} not found: run scripts/install-deps.sh (packages chromium, chromium-driver)",
                  file=sys.stderr)
            return None
    os.makedirs(args.screenshots, exist_ok=True)
    os.makedirs(args.logs, exist_ok=True)
    return args


def arm_deadline(seconds):
    """Makes the run raise TestFailure after `seconds`, or when it gets SIGTERM."""
    def on_deadline(signum, _frame):
        raise TestFailure(f"the test took longer than {seconds} s" if signum == signal.SIGALRM
                          else f"stopped by signal {signum}")
    signal.signal(signal.SIGALRM, on_deadline)
    signal.signal(signal.SIGTERM, on_deadline)
    signal.alarm(seconds)


def disarm_deadline():
    """Ends the deadline, and lets the cleanup that follows finish whatever signal comes."""
    signal.alarm(0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def keep_failure_page(browser, logs_dir, name):
    """Saves a screenshot and the page's HTML as `name`, if the browser got that far."""
    if browser.driver is None:
        return
    try:
        browser.screenshot(name)
        with open(os.path.join(logs_dir, f"{name}.html"), "w") as f:
            f.write(browser.driver.page_source)
    except Exception as error:
        print(f"(no failure screenshot: {error})", file=sys.stderr)


def keep_logs(logs, logs_dir, prefix, failed):
    """Copies each of `logs` ({name: path}) into `logs_dir` as PREFIXname.log; prints their
    tails when the test failed."""
    for name, path in logs.items():
        if os.path.exists(path):
            shutil.copyfile(path, os.path.join(logs_dir, f"{prefix}{name}.log"))
            if failed:
                print(f"--- {name} log (tail) ---\n{tail(path)}", file=sys.stderr)
