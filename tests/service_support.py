"""Starting the real service for tests: in a thread (uvicorn on 127.0.0.1, a free port) or as
the `webscan serve` process a user runs.

Either way the service resolves names from a table (TEST_NAMES, or the test's own), never
through the system's DNS: no test may send a query off the machine, and "no such host" must
not depend on someone else's DNS server. Both starters refuse a service without a table.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import uvicorn

from conftest import ROOT

TEST_NAMES: dict[str, list[str]] = {"fixtures.test": ["127.0.0.1"]}
"""The resolver table service tests run with: one name for the fixture server on loopback
(`.test` is reserved, so it exists nowhere else)."""


def resolve_args(table: dict[str, list[str]]) -> list[str]:
    """The table as `webscan serve --resolve HOST=ADDR` options."""
    return [arg for name, addresses in table.items() for a in addresses
            for arg in ("--resolve", f"{name}={a}")]


class LiveServer:
    """A uvicorn server in a thread, lifespan on (the audit queue starts and stops with it)."""

    def __init__(self, app) -> None:
        if app.state.config.resolver_table is None:
            raise ValueError("this service would resolve names with the system's DNS: give "
                             "it ServiceConfig(resolver_table=TEST_NAMES) (or a table of the "
                             "test's own)")
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """`webscan serve --host 127.0.0.1 --port P ...` as a real process in its own group,
    resolving names from TEST_NAMES unless the arguments give a `--resolve` table."""

    def __init__(self, *args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.args = args if "--resolve" in args else (*args, *resolve_args(TEST_NAMES))
        self.proc: subprocess.Popen | None = None
        self.base = f"http://127.0.0.1:{self.port}"
        self.log: list[str] = []
        """The server's stderr lines, read as they come: an unread pipe fills at 64 KiB and
        then blocks the server mid-request."""

    def _pump(self) -> None:
        try:
            for raw in self.proc.stderr:
                self.log.append(raw.decode(errors="replace"))
        except (OSError, ValueError):  # closed by stop()
            pass

    def start(self, timeout: float = 60) -> "ServeProcess":
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "webscan", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), *self.args],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        pump = threading.Thread(target=self._pump, daemon=True, name="serve-stderr")
        pump.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pump.join(timeout=5)
                raise RuntimeError("webscan serve exited: " + "".join(self.log)[-2000:])
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("webscan serve did not answer /healthz")

    def kill9(self) -> None:
        """kill -9 the whole process group (the service and any audit crawls)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()

    def __enter__(self) -> "ServeProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"
