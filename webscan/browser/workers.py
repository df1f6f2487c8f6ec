"""Reach every dedicated worker before its code runs: our own CDP client beside Playwright.

Init scripts never run in workers, and miners hash in workers. A second DevTools client that
auto-attaches with `waitForDebuggerOnStart` holds each new worker paused, installs the hook,
and lets it go (shared/BROWSER.md, approach 1; doing the same through Playwright's own CDP
session hung or raced). Auto-attach is set again on every attached session, so nested workers
and workers inside cross-site iframes (their own targets) are reached the same way.

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

    async def send(self, method: str, params: dict | None = None, *, session: str | None = None,
                   timeout: float = 10.0) -> dict:
        if self.closed.is_set():
            raise CdpError("DevTools connection closed (did the browser exit?)")
        mid = next(self._ids)
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        fut = asyncio.get_running_loop().create_future()
        self._pending[mid] = fut
        try:
            await self._ws.send(json.dumps(msg))
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(mid, None)

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

    def _event(self, t: AttachedTarget, method: str, params: dict) -> None:
        if method == "Target.attachedToTarget":
            info = params["targetInfo"]
            child = AttachedTarget(params["sessionId"], info["targetId"], info.get("type", ""),
                                   info.get("url", ""), t.session)
            self._track(child)  # before any await: its first events must find a handler
            task = asyncio.create_task(self._prepare(child, params.get("waitingForDebugger", False)))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif method == "Target.detachedFromTarget":
            gone = self.targets.pop(params.get("sessionId", ""), None)
            if gone is not None:
                self.conn.off(gone.session)
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
        """Instrument a freshly attached target, then let it run (always, even on errors)."""
        start = time.perf_counter()
        s = t.session
        send = self.conn.send
        try:
            steps: list[Awaitable] = [
                send("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True,
                                              "flatten": True}, session=s)]
            if t.type == "worker":
                steps += [send("Network.enable", {"maxTotalBufferSize": 0,
                                                  "maxResourceBufferSize": 0}, session=s),
                          send("Runtime.enable", session=s),
                          send("Runtime.addBinding", {"name": SINK_NAME}, session=s)]
                if self.user_agent:
                    steps.append(send("Network.setUserAgentOverride",
                                      {"userAgent": self.user_agent}, session=s))
            elif t.type in ("iframe", "page"):
                steps += [send("Performance.enable", session=s),
                          send("Network.enable", {"maxTotalBufferSize": 0,
                                                  "maxResourceBufferSize": 0}, session=s)]
            await asyncio.gather(*steps)
            if t.type == "worker":
                res = await send("Runtime.evaluate", {"expression": self._script, "silent": True},
                                 session=s)
                if "exceptionDetails" in res:
                    self.errors.append(f"hook failed in worker {t.url}: "
                                       f"{res['exceptionDetails'].get('text')}")
        except Exception as e:  # a worker that died while paused, a closed context
            self.errors.append(f"could not instrument {t.type} {t.url}: {e}")
        finally:
            if waiting:
                try:
                    await send("Runtime.runIfWaitingForDebugger", session=s)
                except Exception:
                    pass
            t.hold_ms = (time.perf_counter() - start) * 1000
            if t.type == "worker":
                self.holds_ms.append(round(t.hold_ms, 1))

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
