"""Analysis in worker processes that are killed and replaced when they overrun.

The hard layer of the time budget (webscan.budget is the cooperative one): C code such as a
parse or a regex never reaches a budget check, so the only sure way to stop it is to run it in
a process of its own and kill that process. `Workers.run` sends one job to an idle worker and
waits at most `limit` seconds; past that the worker is killed (SIGKILL), a fresh one is
started in its place, and the caller gets `Overran`. A worker that dies by itself (a native
crash, the OOM killer) gives `WorkerDied`; the next job gets a fresh worker either way.

`run` blocks its calling thread only (the wait is on a pipe, without the GIL), so the CLI calls
it from a few threads to keep every worker busy and the service from a thread pool, leaving its
event loop free. Start methods: "fork" when the caller has built what the job needs (the CLI's
Scanner: workers start in milliseconds and share its memory), "forkserver" in a process that
holds threads, sockets or a browser's pipes (the service, the crawler), which a forked child
would inherit.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

START_TIMEOUT_S = 120.0
"""How long a new worker may take to start (load signatures and build the engines)."""


class Overran(Exception):
    """The job did not finish within its limit; its worker was killed."""


class WorkerDied(Exception):
    """The worker exited during the job (a crash, out of memory) or the workers were closed."""


class WorkerError(Exception):
    """The job raised in the worker; the message names the exception."""


def _serve(conn: Connection, init: Callable[..., None] | None, initargs: tuple) -> None:
    """A worker's life: start, then answer jobs until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is for the parent to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the handler of a forked server
    try:
        if init is not None:
            init(*initargs)
    except BaseException as e:  # noqa: BLE001 - say why, then leave
        conn.send(("init-error", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply = ("ok", fn(*args))
        except BaseException as e:  # noqa: BLE001 - one job's failure is its own
            reply = ("error", f"{type(e).__name__}: {e}")
        try:
            conn.send(reply)
        except Exception as e:  # noqa: BLE001 - e.g. an unpicklable result
            conn.send(("error", f"cannot send the result back: {type(e).__name__}: {e}"))


class _Slot:
    """One worker process and its pipe; used by one thread at a time."""

    def __init__(self, owner: "Workers") -> None:
        self.owner = owner
        self.proc: Any = None
        self.conn: Connection | None = None
        self.ready = False

    def start(self) -> None:
        o = self.owner
        parent, child = o.ctx.Pipe()
        proc = o.ctx.Process(target=_serve, args=(child, o.init, o.initargs), daemon=True,
                             name="webscan-analysis")
        proc.start()
        child.close()
        self.proc, self.conn, self.ready = proc, parent, False

    def stop(self) -> None:
        """Kill the process (SIGKILL also stops a process stuck in C code) and reap it."""
        proc, conn = self.proc, self.conn
        self.proc, self.conn, self.ready = None, None, False
        if proc is not None:
            if proc.is_alive():
                proc.kill()
            proc.join(10)
        if conn is not None:
            conn.close()

    def died(self) -> WorkerDied:
        proc = self.proc
        code = None
        if proc is not None:
            proc.join(5)
            code = proc.exitcode
        self.stop()
        if self.owner.closed:
            return WorkerDied("the analysis workers were shut down")
        how = (f"killed by signal {-code}" if code is not None and code < 0
               else f"exit status {code}")
        return WorkerDied(f"the analyser process died ({how}: a crash, or out of memory)")

    def call(self, fn: Callable, args: tuple, limit: float) -> Any:
        if self.owner.closed:
            raise WorkerDied("the analysis workers were shut down")
        if self.proc is None:
            self.start()
        if not self.ready:
            self._await_ready()
        try:
            self.conn.send((fn, args))
        except (OSError, EOFError):
            raise self.died() from None
        if not self.conn.poll(limit):
            self.stop()
            if not self.owner.closed:
                self.start()  # the replacement gets ready while nothing waits on it
            raise Overran(f"no answer within {limit:g} s; the worker was killed")
        try:
            status, value = self.conn.recv()
        except (OSError, EOFError):
            raise self.died() from None
        if status == "error":
            raise WorkerError(value)
        return value

    def _await_ready(self) -> None:
        try:
            if not self.conn.poll(START_TIMEOUT_S):
                self.stop()
                raise WorkerDied(f"the analyser process did not start within "
                                 f"{START_TIMEOUT_S:g} s")
            status, value = self.conn.recv()
        except (OSError, EOFError):
            raise self.died() from None
        if status != "ready":
            self.stop()
            raise WorkerError(f"the analyser process could not start: {value}")
        self.ready = True


class Workers:
    """`size` worker processes, each started with `init(*initargs)`, running one job at a time."""

    def __init__(self, size: int, init: Callable[..., None] | None = None,
                 initargs: tuple = (), *, method: str = "fork",
                 preload: tuple[str, ...] = ()) -> None:
        if method not in mp.get_all_start_methods():
            method = "spawn"
        self.ctx = mp.get_context(method)
        if method == "forkserver" and preload:
            self.ctx.set_forkserver_preload(list(preload))
        self.init, self.initargs = init, initargs
        self.closed = False
        self._slots = [_Slot(self) for _ in range(max(1, size))]
        self._idle: queue.SimpleQueue[_Slot] = queue.SimpleQueue()
        for s in self._slots:
            self._idle.put(s)

    @property
    def size(self) -> int:
        return len(self._slots)

    def start(self, *, wait: bool = False) -> "Workers":
        """Start every worker now, so that the first jobs do not wait for them; with `wait`,
        also until each is ready (a worker that cannot start raises WorkerError here)."""
        for s in self._slots:
            if s.proc is None and not self.closed:
                s.start()
        if wait:
            for s in self._slots:
                if s.proc is not None and not s.ready:
                    s._await_ready()
        return self

    def pids(self) -> list[int]:
        """The live workers' process ids (for operators and tests)."""
        return [s.proc.pid for s in self._slots if s.proc is not None and s.proc.pid]

    def run(self, fn: Callable, *args: Any, limit: float) -> Any:
        """`fn(*args)` in a worker, waiting at most `limit` seconds once the worker has it.

        Raises Overran, WorkerDied or WorkerError; `fn` and its result must pickle (with
        "fork" only the arguments and the result are pickled)."""
        slot = self._idle.get()
        try:
            return slot.call(fn, args, limit)
        finally:
            self._idle.put(slot)

    def abort(self) -> None:
        """Kill every worker at once; running jobs end with WorkerDied. Safe in a signal handler
        (no lock, no wait)."""
        self.closed = True
        for s in list(self._slots):
            proc = s.proc
            if proc is not None and proc.pid:
                try:
                    os.kill(proc.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
                except OSError:
                    pass

    def close(self) -> None:
        """Stop every worker; a job still running ends with WorkerDied."""
        self.abort()
        for s in self._slots:
            proc = s.proc
            if proc is not None:
                proc.join(10)

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
