"""Headless Chromium driven through Debian's chromedriver, for the dashboard's browser test.

chromedriver is started here, in a process group of its own (Chromium runs inside it), and
driven over its WebDriver port with Selenium's remote client, so that stopping the group
stops the browser too, whatever happened to the session.
"""

import os
import socket
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By

from order_system import Process, TestFailure

WINDOW = (1280, 800)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    def __init__(self, workdir, screenshots_dir, chromedriver="/usr/bin/chromedriver",
                 chromium="/usr/bin/chromium", extra_arguments=()):
        self.workdir = workdir
        self.extra_arguments = list(extra_arguments)
        self.screenshots_dir = screenshots_dir
        self.chromedriver_path = chromedriver
        self.chromium_path = chromium
        self.driver = None
        self.process = None
        self.screenshots = []

    def start(self):
        port = free_port()
        self.process = Process("chromedriver", [self.chromedriver_path, f"--port={port}"],
                               os.path.join(self.workdir, "chromedriver.log"))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/status", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if not self.process.running() or time.monotonic() > deadline:
                raise TestFailure("chromedriver did not start; see chromedriver.log")
            time.sleep(0.1)
        options = webdriver.ChromeOptions()
        options.binary_location = self.chromium_path
        for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         f"--window-size={WINDOW[0]},{WINDOW[1]}", "--no-first-run",
                         "--no-default-browser-check", "--disable-extensions", "--lang=en-US",
                         "--disable-background-networking", "--disable-component-update",
                         "--hide-scrollbars", f"--user-data-dir={os.path.join(self.workdir, 'chromium')}",
                         *self.extra_arguments]:
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Remote(command_executor=url, options=options)
        self.driver.set_window_size(*WINDOW)
        self.driver.set_page_load_timeout(30)
        self.driver.set_script_timeout(30)

    def stop(self):
        """Ends the session and stops chromedriver's process group; never raises."""
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception:  # the group is stopped below anyway
                pass
        if self.process is not None:
            self.process.stop(timeout=10)

    # --- waiting and finding -----------------------------------------------------------

    def wait(self, what, predicate, timeout=15):
        """Polls `predicate` (no argument) until it returns a truthy value, which is
        returned. Stale elements (the page re-rendered) count as not yet."""
        deadline = time.monotonic() + timeout
        last_error = None
        while True:
            try:
                value = predicate()
                if value:
                    return value
            except StaleElementReferenceException as error:
                last_error = error
            if time.monotonic() > deadline:
                raise TestFailure(f"timed out after {timeout} s waiting for {what}" +
                                  (f" ({last_error.__class__.__name__})" if last_error else ""))
            time.sleep(0.1)

    def all(self, css, within=None):
        return (within or self.driver).find_elements(By.CSS_SELECTOR, css)

    def one(self, css, within=None):
        found = self.all(css, within)
        return found[0] if found else None

    def wait_one(self, css, timeout=15):
        return self.wait(f"an element {css!r}", lambda: self.one(css), timeout)

    def text(self, css):
        """The visible text of the first element matching `css`, or None (read in one script,
        so a re-render in between cannot make it stale)."""
        return self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", css)

    def js_value(self, css):
        """The current value of the form field matching `css`, or None."""
        return self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.value : null;", css)

    # --- pages -------------------------------------------------------------------------

    def go(self, url):
        self.driver.get(url)

    def screenshot(self, name, full_page=False):
        """Saves the window (or, with `full_page`, the whole page at the window's width) as
        screenshots_dir/name.png and returns the path."""
        path = os.path.join(self.screenshots_dir, f"{name}.png")
        if full_page:
            height = self.driver.execute_script(
                "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)")
            self.driver.set_window_size(WINDOW[0], max(WINDOW[1], min(int(height) + 40, 8000)))
            time.sleep(0.2)
        try:
            if not self.driver.save_screenshot(path):
                raise TestFailure(f"could not save {path}")
        finally:
            if full_page:
                self.driver.set_window_size(*WINDOW)
        self.screenshots.append(path)
        return path

    def console_errors(self):
        """The browser console's SEVERE entries since the last call."""
        try:
            return [entry for entry in self.driver.get_log("browser") if entry.get("level") == "SEVERE"]
        except WebDriverException:
            return []
