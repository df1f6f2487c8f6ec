"""Reach every worker before its code runs: our own CDP client beside Playwright.

Init scripts never run in workers, and miners hash in workers. A second DevTools client that
auto-attaches with `waitForDebuggerOnStart` holds each new worker paused, installs the hook,
and lets it go (shared/BROWSER.md, approach 1; doing the same through Playwright's own CDP
session hung or raced). Auto-attach is set again on every attached session, so nested workers
and workers inside cross-site iframes (their own targets) are reached the same way. Shared and
service workers are nobody's children: BrowserWideWorkers attaches them browser-wide and hands
each to the visit whose browser context runs it.

Never touch `self.location` in a paused worker: reading it before the script loads crashes
the renderer. hook.js reads it only when it emits, after the worker's code has started.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import websockets

from webscan.browser.hook import SINK_NAME, hook_script

EventHandler = Callable[[str, dict], None]

WORKER_TYPES = frozenset({"worker", "shared_worker", "service_worker"})
"""Target types that run worker code: hooked the same way (the hook tells their realms apart)."""
PAGELESS_WORKERS = frozenset({"shared_worker", "service_worker"})
"""Workers that belong to no page: attached browser-wide, hooked at their first script."""


class CdpError(RuntimeError):
    pass


class CdpConnection:
    """One DevTools websocket, flattened sessions, events dispatched per session id."""

    def __init__(self) -> None:
        self._ws: Any = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._handlers: dict[str, EventHandler] = {}
        self._reader: asyncio.Task | None = None
        self.closed = asyncio.Event()

    async def connect(self, ws_url: str) -> "CdpConnection":
        # Wasm modules and worker sources arrive as binding payloads: no message size limit.
        self._ws = await websockets.connect(ws_url, max_size=None, ping_interval=None,
                                            open_timeout=10, compression=None)
        self._reader = asyncio.create_task(self._read(), name="cdp-reader")
        return self

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                msg = json.loads(raw)
                if "id" in msg:
                    fut = self._pending.pop(msg["id"], None)
                    if fut is not None and not fut.done():
                        if "error" in msg:
                            fut.set_exception(CdpError(f"{msg['error'].get('message')} "
                                                       f"({msg['error'].get('code')})"))
                        else:
                            fut.set_result(msg.get("result", {}))
                    continue
                handler = self._handlers.get(msg.get("sessionId", ""))
                if handler is not None:
                    try:
                        handler(msg.get("method", ""), msg.get("params", {}))
                    except Exception:
                        pass  # one bad handler must not stop the connection
        except (websockets.ConnectionClosed, OSError):
            pass
        finally:
            self.closed.set()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(CdpError("DevTools connection closed (did the browser exit?)"))
                    fut.exception()  # its sender may be gone (Ctrl-C): no "never retrieved"
            self._pending.clear()

    async def post(self, method: str, params: dict | None = None, *,
                   session: str | None = None) -> asyncio.Future:
        """Write one command and return the future of its answer: commands posted one after
        another reach the target in that order, whatever order their answers come in."""
        if self.closed.is_set():
            raise CdpError("DevTools connection closed (did the browser exit?)")
        mid = next(self._ids)
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        fut = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f, mid=mid: self._pending.pop(mid, None))
        self._pending[mid] = fut
        try:
            await self._ws.send(json.dumps(msg))
        except BaseException:
            self._pending.pop(mid, None)
            raise
        return fut

    async def send(self, method: str, params: dict | None = None, *, session: str | None = None,
                   timeout: float = 10.0) -> dict:
        fut = await self.post(method, params, session=session)
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            fut.cancel()

    def on(self, session: str, handler: EventHandler) -> None:
        self._handlers[session] = handler

    def off(self, session: str) -> None:
        self._handlers.pop(session, None)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


@dataclass
class AttachedTarget:
    session: str
    target_id: str
    type: str
    url: str
    parent: str | None
    hold_ms: float = 0.0
    hooked: bool = False


RecordSink = Callable[[dict, AttachedTarget], None]
"""Receives every hook record from a worker (decoded JSON) with the target it came from."""

CdpEventSink = Callable[[str, dict, AttachedTarget], None]
"""Receives the other CDP events of attached sessions (Network.*, Target.*, Inspector.*)."""


@dataclass
class Instrumenter:
    """Hooks one page's target tree: its cross-site iframes, its workers and theirs.

    Scoped to one page (we attach to it, not to the whole browser) so concurrent visits never
    pause each other's targets and every record belongs to exactly one visit.
    """

    conn: CdpConnection
    on_record: RecordSink
    on_event: CdpEventSink
    user_agent: str | None = None
    calls: bool = True
    """Count Wasm export calls in workers (the hashing-loop evidence); see hook_script."""
    targets: dict[str, AttachedTarget] = field(default_factory=dict)
    tasks: set[asyncio.Task] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    holds_ms: list[float] = field(default_factory=list)
    """How long each worker was held paused while we instrumented it."""
    reached: dict[str, int] = field(default_factory=dict)
    """Worker targets attached, by CDP type (worker, shared_worker, service_worker)."""
    missed: list[str] = field(default_factory=list)
    """Workers attached whose hook could not be installed: their code ran unobserved."""

    def __post_init__(self) -> None:
        self._script = hook_script(SINK_NAME, calls=self.calls)

    async def attach_page(self, target_id: str) -> AttachedTarget:
        res = await self.conn.send("Target.attachToTarget", {"targetId": target_id, "flatten": True})
        t = AttachedTarget(res["sessionId"], target_id, "page", "", None)
        self._track(t)
        s = t.session
        await asyncio.gather(
            self.conn.send("Performance.enable", session=s),
            self.conn.send("Network.enable", {"maxTotalBufferSize": 0, "maxResourceBufferSize": 0}, session=s),
            self.conn.send("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True,
                                                    "flatten": True}, session=s))
        return t

    def _track(self, t: AttachedTarget) -> None:
        self.targets[t.session] = t
        self.conn.on(t.session, lambda method, params, t=t: self._event(t, method, params))

    def adopt(self, params: dict, parent: str | None = None) -> None:
        """Take a target attached under one of our sessions, or (parent None) a shared or
        service worker of this visit's context attached browser-wide (see BrowserWideWorkers)."""
        info = params["targetInfo"]
        if any(t.target_id == info["targetId"] for t in self.targets.values()):
            # a service worker comes both ways: hooked once, the second session only resumed
            if params.get("waitingForDebugger", False):
                self._spawn(self.conn.send("Runtime.runIfWaitingForDebugger",
                                           session=params["sessionId"]))
            return
        child = AttachedTarget(params["sessionId"], info["targetId"], info.get("type", ""),
                               info.get("url", ""), parent)
        if child.type in WORKER_TYPES:
            self.reached[child.type] = self.reached.get(child.type, 0) + 1
        self._track(child)  # before any await: its first events must find a handler
        self._spawn(self._prepare(child, params.get("waitingForDebugger", False)))

    def _spawn(self, coro: Awaitable) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(lambda f: self.tasks.discard(f) or f.cancelled() or f.exception())

    def _event(self, t: AttachedTarget, method: str, params: dict) -> None:
        if method == "Target.attachedToTarget":
            self.adopt(params, t.session)
        elif method == "Target.detachedFromTarget":
            gone = self.targets.pop(params.get("sessionId", ""), None)
            if gone is not None:
                self.conn.off(gone.session)
        elif method == "Debugger.paused" and t.type in PAGELESS_WORKERS:
            self._spawn(self._hook_paused(t))
            return
        elif method == "Runtime.bindingCalled" and params.get("name") == SINK_NAME:
            try:
                rec = json.loads(params.get("payload", ""))
            except ValueError:
                return
            if isinstance(rec, dict):
                self.on_record(rec, t)
            return
        self.on_event(method, params, t)

    async def _prepare(self, t: AttachedTarget, waiting: bool) -> None:
        """Instrument a freshly attached target, then let it run (always, even on errors).

        A dedicated worker gets the hook while it is held paused. A shared or service worker
        may not have its real global yet when it is attached (a service worker answers nothing
        until it runs), so it gets a breakpoint before its first script instead, posted in
        order before the resume; the hook goes in when it stops there (_hook_paused)."""
        start = time.perf_counter()
        s = t.session
        steps: list[tuple[str, dict]] = [
            ("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True})]
        net = ("Network.enable", {"maxTotalBufferSize": 0, "maxResourceBufferSize": 0})
        if t.type in WORKER_TYPES:
            steps += [net, ("Runtime.enable", {}), ("Runtime.addBinding", {"name": SINK_NAME})]
            if self.user_agent:
                steps.append(("Network.setUserAgentOverride", {"userAgent": self.user_agent}))
        elif t.type in ("iframe", "page"):
            steps += [("Performance.enable", {}), net]
        pageless = t.type in PAGELESS_WORKERS
        try:
            if pageless:
                steps += [("Debugger.enable", {}), ("Debugger.setInstrumentationBreakpoint",
                                                    {"instrumentation": "beforeScriptExecution"})]
                futs = [await self.conn.post(m, p, session=s) for m, p in steps]
                if waiting:
                    waiting = False
                    futs.append(await self.conn.post("Runtime.runIfWaitingForDebugger", session=s))
                await asyncio.wait_for(asyncio.gather(*futs), 10.0)
            else:
                await asyncio.gather(*(self.conn.send(m, p, session=s) for m, p in steps))
                if t.type in WORKER_TYPES:
                    self._hooked(t, await self.conn.send("Runtime.evaluate", {
                        "expression": self._script, "silent": True}, session=s))
        except Exception as e:  # a worker that died while paused, a closed context
            self.errors.append(f"could not instrument {t.type} {t.url}: {e}")
            if t.type in WORKER_TYPES:
                self.missed.append(f"{t.type} {t.url}")
        finally:
            if waiting:
                try:
                    await self.conn.send("Runtime.runIfWaitingForDebugger", session=s)
                except Exception:
                    pass
            t.hold_ms = (time.perf_counter() - start) * 1000
            if t.type in WORKER_TYPES and not pageless:
                self.holds_ms.append(round(t.hold_ms, 1))

    async def _hook_paused(self, t: AttachedTarget) -> None:
        """A shared or service worker stopped before its first script: hook it, let it go,
        and stop debugging it (later scripts run at full speed)."""
        s = t.session
        try:
            if not t.hooked:
                t.hooked = True
                self._hooked(t, await self.conn.send("Runtime.evaluate", {
                    "expression": self._script, "silent": True}, session=s))
        except Exception as e:
            self.errors.append(f"could not instrument {t.type} {t.url}: {e}")
            self.missed.append(f"{t.type} {t.url}")
        finally:
            for method in ("Debugger.resume", "Debugger.disable"):
                try:
                    await self.conn.send(method, session=s, timeout=3)
                except Exception:
                    pass

    def _hooked(self, t: AttachedTarget, res: dict) -> None:
        if "exceptionDetails" in res:
            self.errors.append(f"hook failed in worker {t.url}: {res['exceptionDetails'].get('text')}")
            self.missed.append(f"{t.type} {t.url}")

    async def detach(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for s in list(self.targets):
            self.conn.off(s)
        roots = [t for t in self.targets.values() if t.parent is None]
        self.targets.clear()
        for t in roots:
            try:
                await self.conn.send("Target.detachFromTarget", {"sessionId": t.session}, timeout=2)
            except Exception:
                pass


class BrowserWideWorkers:
    """Shared and service workers belong to no page: a page's auto-attach never reaches them.

    One browser-wide auto-attach (filtered to those two types, paused on start) on our own
    DevTools client hands each to the Instrumenter of the visit whose browser context runs it
    (every visit has its own context); a worker of no visit is let go and left alone."""

    FILTER = [{"type": "shared_worker"}, {"type": "service_worker"}]

    def __init__(self, conn: CdpConnection) -> None:
        self.conn = conn
        self.claims: dict[str, Instrumenter] = {}
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        self.conn.on("", self._event)
        await self.conn.send("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True,
                                                      "flatten": True, "filter": self.FILTER})

    def claim(self, context_id: str, inst: Instrumenter) -> None:
        self.claims[context_id] = inst

    def release(self, context_id: str) -> None:
        self.claims.pop(context_id, None)

    def _event(self, method: str, params: dict) -> None:
        if method != "Target.attachedToTarget":
            return
        info = params["targetInfo"]
        if info.get("type") not in ("shared_worker", "service_worker"):
            return  # our own Target.attachToTarget of a visit's page is announced here too
        inst = self.claims.get(info.get("browserContextId", ""))
        if inst is not None:
            inst.adopt(params)
            return
        task = asyncio.create_task(self._let_go(params["sessionId"], params.get("waitingForDebugger", False)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _let_go(self, session: str, waiting: bool) -> None:
        try:
            if waiting:
                await self.conn.send("Runtime.runIfWaitingForDebugger", session=session, timeout=3)
            await self.conn.send("Target.detachFromTarget", {"sessionId": session}, timeout=3)
        except Exception:
            pass  # gone already, or the browser is closing
