"""The example order system as real processes, for the dashboard's browser test.

`skald dev` (a coordinator with its own throwaway PostgreSQL cluster, its gRPC API and its
HTTP port) and the three example participants (examples/order-saga), which register with it
as the services "order", "inventory" and "payment". Every process runs in a process group of
its own and is stopped by signalling that group, with bounded waits; nothing is found or
killed by name.
"""

import glob
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

# How long a started process may take to write its ready file (initdb included).
READY_TIMEOUT_S = 60
# How long a stopped process may take to exit after SIGTERM before its group gets SIGKILL.
STOP_TIMEOUT_S = 20

PARTICIPANTS = {
    "order": "order-service",
    "inventory": "inventory-service",
    "payment": "payment-service",
}


class TestFailure(AssertionError):
    """A check of the test failed; the message says what was expected and what was seen."""


def tail(path, max_bytes=3000):
    """Returns the end of the file at `path`, or a line saying why it cannot be read."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            text = f.read().decode("utf-8", "replace")
        return ("..." if size > max_bytes else "") + text
    except OSError as error:
        return f"(cannot read {path}: {error})"


class Process:
    """A child process in its own process group, its output in a log file."""

    def __init__(self, name, argv, log_path):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)

    def running(self):
        """True until the process exits (without reaping it: see stop)."""
        if self.popen.returncode is not None:
            return False
        return not self._exited_unreaped(0)

    def wait_ready(self, ready_path, timeout=READY_TIMEOUT_S):
        """Returns the address the process wrote to `ready_path` once it is there."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(ready_path) as f:
                    text = f.read().strip()
                if text:
                    return text
            except FileNotFoundError:
                pass
            if not self.running():
                raise TestFailure(f"{self.name} exited with {self.popen.returncode} before writing "
                                  f"{ready_path}; its log:\n{tail(self.log_path)}")
            time.sleep(0.05)
        raise TestFailure(f"{self.name} did not write {ready_path} within {timeout} s; its log:\n"
                          f"{tail(self.log_path)}")

    def _exited_unreaped(self, timeout):
        """Waits up to `timeout` s for the process to exit, leaving it unreaped (a zombie keeps
        its process group id ours). Returns whether it exited."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if os.waitid(os.P_PID, self.popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                    return True
            except ChildProcessError:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT_S):
        """Sends `sig` to the process group and waits up to `timeout` s for the process to
        exit; then SIGKILLs whatever is left in its group (all of it, if it did not exit).
        Returns the exit code (negative: the signal that ended it)."""
        if self.popen.returncode is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass
            self._exited_unreaped(timeout)
            # Not reaped yet, so the group id cannot have been reused by anyone else.
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(timeout=10)
        self._log.close()
        return self.popen.returncode


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class OrderSystem:
    """A `skald dev` coordinator and the example participants, all under `workdir`."""

    def __init__(self, skald, participants_dir, workdir):
        self.skald = skald
        self.participants_dir = participants_dir
        self.workdir = workdir
        self.pg_dir = os.path.join(workdir, "pg")
        self.coordinator = None
        self.address = ""       # gRPC client API, host:port
        self.http_url = ""      # http://host:port
        self.participants = {}  # name -> Process
        self._starts = 0

    # --- processes ---------------------------------------------------------------------

    def start(self, participants=True):
        """Starts the coordinator, creates the participants' database, starts the participants
        and waits until all three are registered (the coordinator alone without
        `participants`)."""
        os.chmod(self.workdir, 0o755)  # the postgres user must reach the cluster inside
        ready = os.path.join(self.workdir, "skald.ready")
        http_ready = os.path.join(self.workdir, "skald.http.ready")
        self.coordinator = Process("skald dev", [
            self.skald, "dev", "--data-dir", self.pg_dir,
            "--listen", "127.0.0.1:0", "--ready-file", ready,
            "--http-listen", "127.0.0.1:0", "--http-ready-file", http_ready,
        ], os.path.join(self.workdir, "skald.log"))
        self.address = self.coordinator.wait_ready(ready)
        self.http_url = "http://" + self.coordinator.wait_ready(http_ready)
        if not participants:
            return
        self._psql("postgres", "CREATE DATABASE shop")
        for name in PARTICIPANTS:
            self.start_participant(name)
        for name in PARTICIPANTS:
            self.wait_registered(name, True)

    def start_participant(self, name):
        self._starts += 1
        ready = os.path.join(self.workdir, f"{name}.{self._starts}.ready")
        process = Process(name, [
            os.path.join(self.participants_dir, PARTICIPANTS[name]),
            "--db", self.shop_db(), "--listen", "127.0.0.1:0", "--ready-file", ready,
            "--register-with", self.address,
        ], os.path.join(self.workdir, f"{name}.log"))
        self.participants[name] = process
        process.wait_ready(ready)

    def stop_participant(self, name):
        """Stops a participant gracefully (it deregisters) and waits until it is no longer
        listed."""
        code = self.participants[name].stop()
        if code != 0:
            raise TestFailure(f"{name} exited with {code} after SIGTERM; its log:\n"
                              f"{tail(self.participants[name].log_path)}")
        self.wait_registered(name, False)

    def stop(self):
        """Stops everything this object started, participants first; never raises."""
        problems = []
        for name, process in reversed(list(self.participants.items())):
            try:
                process.stop()
            except Exception as error:  # cleanup goes on regardless
                problems.append(f"{name}: {error}")
        if self.coordinator:
            try:
                self.coordinator.stop()
            except Exception as error:
                problems.append(f"coordinator: {error}")
        self._stop_leftover_postgres()
        return problems

    def _stop_leftover_postgres(self):
        """If the coordinator could not stop its cluster (it was killed), stops it here."""
        if not os.path.exists(os.path.join(self.pg_dir, "postmaster.pid")):
            return
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                      key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
        if not bins:
            return
        argv = [bins[-1], "stop", "-D", self.pg_dir, "-m", "immediate", "-w", "-t", "20"]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
                       check=False)

    def logs(self):
        """The log files of every process: {name: path}."""
        paths = {}
        if self.coordinator:
            paths["skald"] = self.coordinator.log_path
        for name, process in self.participants.items():
            paths[name] = process.log_path
        return paths

    def shop_db(self):
        return f"postgresql://postgres@/shop?host={self.pg_dir}"

    def _psql(self, database, sql):
        result = subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1",
             f"postgresql://postgres@/{database}?host={self.pg_dir}", "-c", sql],
            capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0:
            raise TestFailure(f"psql {sql!r} failed: {result.stderr}")

    # --- the coordinator's APIs --------------------------------------------------------

    def skald_cli(self, *args):
        """Runs `skald ARGS --address ADDRESS` and returns its stdout."""
        result = subprocess.run([self.skald, *args, "--address", self.address],
                                capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0:
            raise TestFailure(f"skald {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result.stdout

    def apply_definition(self, document, name):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            json.dump(document, f, indent=1)
        return self.skald_cli("definition", "apply", path)

    def api(self, method, path, body=None):
        """Calls the JSON API; returns the parsed body. Raises ApiError for an HTTP error."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.http_url}/api/v1/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, error.read().decode("utf-8", "replace")) from None

    def start_saga(self, saga_id, version, order):
        response = self.api("POST", "sagas", {
            "definition": "order", "version": version, "saga_id": saga_id,
            "input_json": json.dumps(order),
        })
        if response.get("saga_id") != saga_id:
            raise TestFailure(f"StartSaga answered {response}, expected saga_id {saga_id}")

    def saga(self, saga_id):
        return self.api("GET", f"sagas/{saga_id}")["saga"]

    def wait_for_state(self, saga_id, state, timeout=60):
        """Polls the saga until its state is `state` (short name); returns it."""
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = self.saga(saga_id)
            if seen.get("state", "").replace("SAGA_STATE_", "") == state:
                return seen
            time.sleep(0.1)
        raise TestFailure(f"saga {saga_id} is not {state} after {timeout} s: "
                          f"{json.dumps(seen, indent=1)}\ncoordinator log:\n"
                          f"{tail(self.coordinator.log_path)}")

    def wait_until(self, saga_id, what, predicate, timeout=30):
        """Polls the saga until `predicate(saga)` holds; returns it."""
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = self.saga(saga_id)
            if predicate(seen):
                return seen
            time.sleep(0.1)
        raise TestFailure(f"saga {saga_id}: no {what} after {timeout} s: {json.dumps(seen, indent=1)}")

    def wait_registered(self, service, present, timeout=30):
        """Waits until `service` has a live instance (or none, if not `present`), then a
        little longer, so that the coordinator's routing (reloaded every second) agrees."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            instances = self.api("GET", f"participants?service={service}").get("instances", [])
            if bool(instances) == present:
                time.sleep(1.5)
                return
            time.sleep(0.1)
        raise TestFailure(f"service {service} is {'not ' if present else 'still '}registered "
                          f"after {timeout} s")
