"""Shared parts of the browser tests: tiny HTTP sites, a stub pool, and one running browser.

Everything listens on 127.0.0.1 (and `localhost` for a second, cross-site origin). The browser
lives on an event loop in a background thread for the whole test session, so each test costs
one fresh context (~0.3 s) instead of a browser start; tests submit coroutines to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
WASM = ROOT / "site_fixtures" / "wasm"

Route = tuple[str, bytes] | Callable[[BaseHTTPRequestHandler], None]


def chromium_or_skip(*, allow_module_level: bool = False) -> str:
    """The Chromium every browser test uses, or one skip with one reason for all of them
    (under CI=true the conftest turns that skip into a failure). Call it at module level with
    `allow_module_level=True` to skip a whole file."""
    from webscan.browser.launch import ChromiumNotFound, find_chromium

    try:
        return find_chromium()
    except ChromiumNotFound as e:
        pytest.skip(f"browser tests need Chromium: {e}", allow_module_level=allow_module_level)


PLAYWRIGHT_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", "--no-first-run", "--disable-quic"]
"""Chromium switches for tests that drive it through Playwright: no background traffic that
this machine's closed network would refuse (shared/BROWSER.md), no QUIC."""


@contextlib.contextmanager
def playwright_chromium(executable: str) -> Iterator[Any]:
    """A headless Playwright Browser on the given Chromium, closed after the block."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=PLAYWRIGHT_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class Site:
    """A static site on 127.0.0.1:<port>; routes map a path to (content type, body) or a handler."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.release = threading.Event()  # lets hanging handlers go at teardown
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                route = site.routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_error(404)
                    return
                if callable(route):
                    route(self)
                    return
                ctype, body = route
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def never_finishes(release: threading.Event, content_type: str, first_bytes: bytes):
    """A route whose body never ends while the test runs (it announces 100 kB, sends a few
    bytes and waits for `release`): a page that loads it never fires `load`."""
    def handler(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Type", content_type)
        req.send_header("Content-Length", "100000")
        req.end_headers()
        req.wfile.write(first_bytes)
        req.wfile.flush()
        release.wait(600)
    return handler


def html(body: str) -> tuple[str, bytes]:
    return "text/html; charset=utf-8", f"<!doctype html><html><body>{body}</body></html>".encode()


def js(src: str) -> tuple[str, bytes]:
    return "text/javascript", src.encode()


def wasm(name: str) -> tuple[str, bytes]:
    return "application/wasm", (WASM / name).read_bytes()


class StubPool:
    """A WebSocket endpoint that answers CoinHive-style auth with a job and credits submits;
    anything else is echoed back (so a chat-like page gets replies too)."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        from websockets.asyncio.server import serve

        asyncio.set_event_loop(self.loop)

        async def handler(ws) -> None:
            async for msg in ws:
                self.received.append(msg if isinstance(msg, str) else repr(msg))
                try:
                    obj = json.loads(msg)
                except (TypeError, ValueError):
                    await ws.send(msg)
                    continue
                kind = obj.get("type") if isinstance(obj, dict) else None
                if kind == "auth":
                    await ws.send(json.dumps({"type": "authed", "params": {"token": "", "hashes": 0}}))
                    await ws.send(json.dumps({"type": "job", "params": {
                        "blob": "0707f1b2" * 8, "job_id": "42", "target": "b7d10000"}}))
                elif kind == "submit":
                    await ws.send(json.dumps({"type": "hash_accepted", "params": {"hashes": 256}}))
                else:
                    await ws.send(msg)

        async def main() -> None:
            self.server = await serve(handler, "127.0.0.1", 0)
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            await self.server.serve_forever()

        try:
            self.loop.run_until_complete(main())
        except Exception:
            pass

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)


class BrowserRunner:
    """One Browser on an event loop in a thread; `run(fn)` runs `await fn(browser)` there."""

    def __init__(self) -> None:
        from webscan.browser.observe import Browser

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.browser = Browser()
        self.run(lambda b: b.ensure())

    def run(self, fn, timeout: float = 120):
        return asyncio.run_coroutine_threadsafe(fn(self.browser), self.loop).result(timeout)

    def observe(self, url: str, **kw):
        from webscan.browser.observe import observe

        return self.run(lambda b: observe(url, browser=b, **kw))

    def close(self) -> None:
        try:
            self.run(lambda b: b.close(), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


@pytest.fixture(scope="session")
def browser_runner():
    chromium_or_skip()
    runner = BrowserRunner()
    yield runner
    runner.close()


@pytest.fixture(scope="session")
def pool():
    p = StubPool()
    yield p
    p.close()


@pytest.fixture(scope="session")
def engines(sigs):
    from webscan.scanner import Engines

    return Engines(sigs)
