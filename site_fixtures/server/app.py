"""The fixture server: pages on two origins plus a stub pool, on loopback, in a background thread.

One asyncio loop runs three listeners built from the same app (websockets serves the plain
HTTP pages through its `process_request` hook and the WebSocket endpoints through its handler):
  origin A  http://127.0.0.1:<port>       first-party pages
  origin B  http://<other_host>:<port_b>  the same files, used as a third-party/cross-origin host
  pool      ws://127.0.0.1:<pool_port>/pool/<coinhive|stratum|wmp|btc|bin|sio>
  origin P  http://127.0.0.2:<port_p>     a "private" address the egress pages try to reach; it
            records every request and every UDP datagram (same port) it receives, so a test of
            the egress policy can show that nothing got there
Every listener answers every route, so a page may also open a same-origin "first-party pool
proxy" (ws://<its origin>/pool/...), a chat (ws://<its origin>/chat) and a chat with hex
message ids (ws://<its origin>/rooms).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import http
import ipaddress
import itertools
import json
import logging
import threading
import time
from collections import deque
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from site_fixtures.server import pages
from site_fixtures.server.pool import (MAX_JUNK_PER_CONNECTION, PoolSession, PoolStats,
                                       ShareVerifier, decode_frame, path_protocol)

MAX_FRAME = 64 * 1024           # pool and chat frames are tiny; bigger ones close that socket
MAX_WEBSOCKETS = 256            # concurrent sockets over all listeners
MAX_VERIFY_BACKLOG = 4          # shares queued for wasmtime re-hashing; the rest are skipped
SLOW_CAP_MS = 120_000
HUGE_BYTES = 40 * 1024 * 1024
log = logging.getLogger("site_fixtures.server")


def check_loopback(host: str) -> str:
    """Refuse to bind anything but loopback: the pool and the miners must never be reachable."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError(f"refusing to listen on {host!r}: the fixture server serves working miners "
                     "and binds loopback only (use 127.0.0.1, ::1 or localhost)")


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class FixtureServer:
    """Start with `with FixtureServer() as srv:`; ports default to free ones (0).

    `other_host` names origin B in URLs (default: the bind host). Passing e.g. "thirdparty.test"
    gives a different site, not just a different port; the browser then needs
    `--host-resolver-rules=MAP thirdparty.test 127.0.0.1`.
    `verify_shares` re-hashes a sample of accepted shares with the real fixture Wasm (wasmtime)
    and counts matches in `pool_stats()[protocol]["verified"]`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, port_b: int = 0,
                 pool_port: int = 0, *, other_host: str | None = None,
                 verify_shares: bool = False, max_sockets: int = MAX_WEBSOCKETS,
                 private_host: str = "127.0.0.2", port_p: int = 0) -> None:
        self.host = check_loopback(host)
        self._want = (port, port_b, pool_port)
        self.private_host = check_loopback(private_host)
        self._want_p = port_p
        self._udp: Any = None
        self.other_host = other_host or self.host
        self.stats = PoolStats()
        self.ports: tuple[int, int, int] | None = None
        self.port_p: int | None = None
        self._verifier = ShareVerifier([str(pages.WASM / "worker.wasm"),
                                        str(pages.WASM / "worker-lite.wasm")]) if verify_shares else None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._verify_pending = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[Server] = []
        self._stop: asyncio.Event | None = None
        self._jobs = itertools.count(1)
        self._active = 0
        self.max_sockets = max_sockets
        self.origins: pages.Origins | None = None
        self._requests: deque[tuple[str, str]] = deque(maxlen=5000)
        self._private: list[tuple[str, str]] = []

    # --- public API -------------------------------------------------------------------------
    def url(self, path: str = "/", origin: str = "a") -> str:
        """Absolute URL of a page on origin "a" (first party), "b" (the other origin) or "p"
        (the "private" address of the egress pages)."""
        o = self._origins()
        return {"a": o.a, "b": o.b, "p": o.p}[origin] + "/" + path.lstrip("/")

    def pool_url(self, protocol: str = "coinhive") -> str:
        return f"{self._origins().pool}/pool/{protocol}"

    def chat_url(self) -> str:
        return self._origins().a.replace("http://", "ws://", 1) + "/chat"

    def pool_stats(self) -> dict[str, Any]:
        """Counters per protocol (connections, logins, jobs, submits, accepted, rejected,
        verified, keepalives), their `total`, and junk/oversized/refused/chat counts."""
        return self.stats.snapshot()

    def pool_sessions(self, login: str | None = None) -> list[dict[str, Any]]:
        """One record per pool connection (protocol, path, Origin header, login, counts)."""
        return [s for s in self.stats.sessions() if login is None or s["login"] == login]

    def addresses(self) -> list[tuple[str, int]]:
        """(host, port) of every listening socket, to check nothing listens beyond loopback."""
        return [s.getsockname()[:2] for server in self._servers for s in server.sockets]

    def requests(self) -> list[tuple[str, str]]:
        """(listener, path) of recent HTTP requests and socket upgrades; listener is "a", "b",
        "pool" or "p" (origin P). Shows, e.g., that a
        third-party kit really came from origin B, or that nothing reached origin P."""
        return list(self._requests)

    def private_requests(self) -> list[tuple[str, str]]:
        """Everything origin P received, never cleared by reset_stats: ("p-tcp", "connection")
        per TCP connection (HTTP or not), ("p", path) per HTTP request or socket upgrade,
        ("p-udp", first bytes in hex) per datagram."""
        return list(self._private)

    def reset_stats(self) -> None:
        """Zero the pool counters and forget sessions and the request log (between pages)."""
        self.stats.reset()
        self._requests.clear()

    def pages(self) -> list[dict[str, Any]]:
        """The page catalogue (site_fixtures/pages/pages.json) with absolute URLs."""
        entries = json.loads((pages.PAGES / "pages.json").read_text())
        return [{**e, "url": self.url(e["path"])} for e in entries]

    def start(self) -> FixtureServer:
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(ready, failure),
                                        name="fixture-server", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        if self.ports is None:
            raise RuntimeError("the fixture server did not start within 30 s")
        return self

    def stop(self) -> None:
        if self._loop and self._stop and self._thread and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
        if self._executor:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> FixtureServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Foreground mode for the CLI: runs until the thread is interrupted."""
        assert self._thread
        while self._thread.is_alive():
            self._thread.join(0.5)

    # --- the loop ---------------------------------------------------------------------------
    def _origins(self) -> pages.Origins:
        if self.origins is None:
            raise RuntimeError("the fixture server is not started; use `with FixtureServer() as srv`")
        return self.origins

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        try:
            asyncio.run(self._main(ready))
        except BaseException as e:  # surfaced to start() in the caller's thread
            failure.append(e)
            ready.set()

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        quiet = logging.getLogger("site_fixtures.server.ws")
        quiet.setLevel(logging.CRITICAL)  # handshake errors from junk clients are expected
        for want in self._want:
            server = await serve(self._ws_handler, self.host, want,
                                 process_request=self._process_request, max_size=MAX_FRAME,
                                 max_queue=16, ping_interval=None, close_timeout=2,
                                 server_header="webscan-fixtures", logger=quiet)
            self._servers.append(server)
        a, b, p = (s.sockets[0].getsockname()[1] for s in self._servers)
        self.ports = (a, b, p)
        origin_p = await self._start_private()
        self.origins = pages.Origins(a=f"http://{_hostport(self.host, a)}",
                                     b=f"http://{_hostport(self.other_host, b)}",
                                     pool=f"ws://{_hostport(self.host, p)}", p=origin_p)
        ready.set()
        await self._stop.wait()
        if self._udp is not None:
            self._udp.close()
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()

    async def _start_private(self) -> str:
        """Origin P: the same app on another loopback address (every request recorded), plus a
        UDP socket on the same port (WebRTC/STUN and QUIC would arrive there). Where that
        address is not configured (127.0.0.2 is not up by default on macOS), the pages point at
        a port nothing listens on."""
        loop = asyncio.get_running_loop()
        sink = self._private

        class Counted(ServerConnection):
            """Records every TCP connection, HTTP or not (a TLS hello is no request)."""

            def connection_made(self, transport: Any) -> None:
                sink.append(("p-tcp", "connection"))
                super().connection_made(transport)

        try:
            server = await serve(self._ws_handler, self.private_host, self._want_p,
                                 create_connection=Counted,
                                 process_request=self._process_request, max_size=MAX_FRAME,
                                 max_queue=16, ping_interval=None, close_timeout=2,
                                 server_header="webscan-fixtures",
                                 logger=logging.getLogger("site_fixtures.server.ws"))
        except OSError as e:
            log.warning("origin P not started on %s: %s", self.private_host, e)
            return f"http://{_hostport(self.private_host, 9)}"
        self._servers.append(server)
        self.port_p = server.sockets[0].getsockname()[1]

        class Udp(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                sink.append(("p-udp", data[:16].hex()))

        try:
            self._udp, _ = await loop.create_datagram_endpoint(
                Udp, local_addr=(self.private_host, self.port_p))
        except OSError as e:
            log.warning("origin P has no UDP socket: %s", e)
        return f"http://{_hostport(self.private_host, self.port_p)}"

    # --- HTTP -------------------------------------------------------------------------------
    @staticmethod
    def _response(status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> Response:
        headers = Headers([("Date", formatdate(usegmt=True)), ("Connection", "close"),
                           ("Content-Type", ctype), ("Content-Length", str(len(body))),
                           ("Cache-Control", "no-store"), ("Access-Control-Allow-Origin", "*")])
        for k, v in (extra or {}).items():
            headers[k] = v
        return Response(status, http.HTTPStatus(status).phrase, headers, body)

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.ports:
            host, port = connection.local_address[:2]
            listener = {self.ports[0]: "a", self.ports[1]: "b"}.get(port, "pool")
            if host == self.private_host and port == self.port_p:
                listener = "p"
                self._private.append((listener, request.path))
            self._requests.append((listener, request.path))
        if "websocket" in request.headers.get("Upgrade", "").lower():
            if self._active >= self.max_sockets:
                self.stats.add("refused")
                return self._response(503, b"too many sockets\n", "text/plain; charset=utf-8")
            return None
        path = request.path
        trap = await self._trap(path)
        if trap is not None:
            return trap
        found = pages.load(path, self._origins())
        if found is None:
            return self._response(404, b"not found\n", "text/plain; charset=utf-8")
        body, ctype = found
        return self._response(200, body, ctype)

    async def _trap(self, path: str) -> Response | None:
        """Misbehaving endpoints for the crawler's resilience tests (see pages/README.md)."""
        parts = urlsplit(path)
        if parts.path == "/favicon.ico":  # browsers ask on every visit; keep logs quiet
            return self._response(204, b"", "image/x-icon")
        if parts.path == "/egress/302":  # the egress pages' redirects: 302 to ?to=
            to = parse_qs(parts.query).get("to", ["/"])[0]
            return self._response(302, b"", "text/plain", {"Location": to})
        if not parts.path.startswith("/trap/"):
            return None
        name = parts.path[len("/trap/"):]
        if name == "redirect-loop":
            return self._response(302, b"", "text/plain", {"Location": path})
        if name == "slow":
            try:
                ms = int(parse_qs(parts.query).get("ms", ["0"])[0])
            except ValueError:
                ms = 0
            await asyncio.sleep(min(max(ms, 0), SLOW_CAP_MS) / 1000)
            return self._response(200, b"/* finally */\n", "text/javascript; charset=utf-8")
        if name == "download":
            return self._response(200, b"\x00" * 1024, "application/octet-stream",
                                  {"Content-Disposition": 'attachment; filename="report.bin"'})
        if name == "huge.html":
            row = b"<p>lorem ipsum dolor sit amet, filler row for a huge page</p>\n"
            body = b"<!doctype html><title>huge</title>" + row * (HUGE_BYTES // len(row))
            return self._response(200, body, "text/html; charset=utf-8")
        return None  # static files under /trap/ (dialogs, popups) come from pages/

    # --- WebSockets -------------------------------------------------------------------------
    async def _ws_handler(self, ws: ServerConnection) -> None:
        self._active += 1
        try:
            path = ws.request.path if ws.request else "/"
            if urlsplit(path).path == "/chat":
                await self._chat(ws)
            elif urlsplit(path).path == "/rooms":
                await self._rooms(ws)
            else:
                await self._pool(ws, path)
        finally:
            self._active -= 1

    async def _pool(self, ws: ServerConnection, path: str) -> None:
        origin = ws.request.headers.get("Origin") if ws.request else None
        record = self.stats.open_session(path, origin)
        session = PoolSession(self.stats, record, path_protocol(path), self._jobs)
        try:
            async for frame in ws:
                for reply in session.handle_frame(frame):
                    await ws.send(reply)
                self._verify(session, record)
                if record.junk > MAX_JUNK_PER_CONNECTION:
                    await ws.close(1008, "too many malformed frames")
                    break
        except ConnectionClosed:
            pass
        finally:
            sent, rcvd = ws.protocol.close_sent, ws.protocol.close_rcvd
            if 1009 in {getattr(sent, "code", None), getattr(rcvd, "code", None)}:
                self.stats.add("oversized")
            record.closed = time.time()

    def _verify(self, session: PoolSession, record: Any) -> None:
        shares, session.to_verify = session.to_verify, []
        if self._verifier is None or not shares:
            return
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="verify")
        protocol, generation = session.protocol, self.stats.generation
        for share in shares:
            if self._verify_pending >= MAX_VERIFY_BACKLOG:
                return
            self._verify_pending += 1
            future = self._loop.run_in_executor(self._executor, self._verifier.check, *share)

            def done(f: asyncio.Future[bool], protocol: str | None = protocol) -> None:
                self._verify_pending -= 1
                if not f.cancelled() and f.exception() is None and f.result() and protocol:
                    record.verified += 1
                    if self.stats.generation == generation:  # not a share from before a reset
                        self.stats.bump(protocol, "verified")
            future.add_done_callback(done)

    async def _rooms(self, ws: ServerConnection) -> None:
        """A chat room with hex message ids for the benign hex-chat page: each message is echoed
        with its id, and another user's message (a fresh 64-hex id, a timestamp, a short hex
        version) follows every second one."""
        self.stats.add("chat_connections")
        user, said = "guest", 0
        try:
            async for frame in ws:
                msg = decode_frame(frame)
                if not isinstance(msg, dict):
                    continue
                self.stats.add("chat_messages")
                stamp = {"room": str(msg.get("room", "general"))[:40], "ts": int(time.time()), "ver": "0a1b2c3d"}
                if msg.get("op") == "join":
                    user = str(msg.get("user", "guest"))[:40]
                    await ws.send(json.dumps({"op": "joined", "users": 3, **stamp}))
                elif msg.get("op") == "say":
                    said += 1
                    await ws.send(json.dumps({"op": "said", "id": str(msg.get("id"))[:64], "from": user,
                                              "text": str(msg.get("text", ""))[:500], **stamp}))
                    if said % 2:
                        other = hashlib.sha256(f"room-{said}".encode()).hexdigest()
                        await ws.send(json.dumps({"op": "said", "id": other, "from": "sam",
                                                  "text": f"+1 ({said})", **stamp}))
        except ConnectionClosed:
            pass

    async def _chat(self, ws: ServerConnection) -> None:
        """A tiny chat room endpoint for the benign chat page: welcome, echo, a bot reply."""
        self.stats.add("chat_connections")
        user = "guest"
        try:
            async for frame in ws:
                msg = decode_frame(frame)
                if not isinstance(msg, dict):
                    await ws.send(json.dumps({"type": "error", "params": {"reason": "bad frame"}}))
                    continue
                self.stats.add("chat_messages")
                params = msg.get("params") if isinstance(msg.get("params"), dict) else {}
                if msg.get("type") == "auth":
                    user = str(params.get("name", "guest"))[:40]
                    await ws.send(json.dumps({"type": "welcome",
                                              "params": {"room": "lobby", "user": user}}))
                elif msg.get("type") == "message":
                    text = str(params.get("text", ""))[:500]
                    await ws.send(json.dumps({"type": "message", "params": {"from": user, "text": text}}))
                    await ws.send(json.dumps({"type": "message",
                                              "params": {"from": "bot", "text": f"echo: {text}"}}))
                elif msg.get("type") == "typing":
                    await ws.send(json.dumps({"type": "presence", "params": {"online": 2}}))
        except ConnectionClosed:
            pass
