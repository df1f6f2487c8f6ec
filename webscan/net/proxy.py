"""The egress proxy: every connection a browser working for someone else makes, checked.

Why a proxy, and not request interception. A page controls what our browser fetches: its
redirects, subresources, frames, workers and their `importScripts`, WebSockets, service-worker
fetches, prefetches, beacons. Playwright's `route` (and CDP `Fetch` interception) sees only
what passes through a page's or frame's request pipeline: dedicated and service workers' own
traffic and WebSockets are not routed through it, and a check made there would resolve the
host a second time while Chromium resolves it again on its own (a rebinding DNS answer wins).
A forward proxy sits below all of that: Chromium is started with `--proxy-server` pointing
here, with `--proxy-bypass-list=<-loopback>` (without it Chromium connects to loopback
directly, bypassing any proxy) and with QUIC off (HTTP/3 would go around an HTTP proxy over
UDP), so every TCP connection any renderer, worker or the browser itself opens arrives here as
an HTTP CONNECT (https, wss, ws) or an absolute-form request (plain http). Page code cannot
change the browser's proxy settings. This module resolves the host with the policy's resolver
(webscan.net.egress), refuses what the policy refuses with a 403 and a record of why, and
otherwise connects to one of the very addresses it checked: Chromium never resolves a name
itself, so there is no second answer to race. WebRTC is the one path that can use UDP beside
a proxy; webscan.browser.launch.proxy_switches turns non-proxied UDP off.

One proxy serves a whole crawl; each visit gets a `Channel` (a listener of its own, given to
its browser context), so a refusal is recorded against the visit that caused it. The browser
itself (traffic outside any visit's context) uses a channel of its own.

What a refusal can say: for plain http the proxy sees the full URL and the headers Chromium
sends (Referer, and Sec-Fetch-Dest/-Mode where Chromium sends them, which tell a script from a
frame, a worker or a WebSocket); for a tunnel (https, wss, and ws) it sees only host:port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from webscan.net.domains import normalise_host
from webscan.net.egress import EgressPolicy, EgressRefused

log = logging.getLogger("webscan.net.proxy")

MAX_HEAD = 64 * 1024  # request or response line plus headers
HEAD_TIMEOUT_S = 30.0  # for the browser's request head
RESPONSE_TIMEOUT_S = 120.0  # for the server's response head (slow pages, long polls)
CONNECT_TIMEOUT_S = 10.0
RESOLVE_CACHE_S = 60.0
MAX_REFUSALS = 200  # kept per channel; more are counted, not kept
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization",
              "proxy-authenticate", "te", "trailer", "upgrade"}


@dataclass(frozen=True)
class Refusal:
    """One request the policy refused: what, from where (when the proxy can tell), why."""

    url: str  # the full URL for plain http; host:port for a tunnel (CONNECT: https, wss, ws)
    reason: str
    method: str
    destination: str | None = None  # Sec-Fetch-Dest / websocket, when Chromium says
    initiator: str | None = None  # Referer (the document or worker that asked), when sent
    at: float = field(default_factory=time.time)


class Channel:
    """A listener of the proxy whose refusals are kept apart (one per visit)."""

    def __init__(self, proxy: EgressProxy, server: asyncio.base_events.Server) -> None:
        self.proxy = proxy
        self.server = server
        self.refused: list[Refusal] = []
        self.refused_total = 0
        sock = server.sockets[0].getsockname()
        self.address: tuple[str, int] = (sock[0], sock[1])

    @property
    def url(self) -> str:
        return f"http://{self.address[0]}:{self.address[1]}"

    def record(self, refusal: Refusal) -> None:
        self.refused_total += 1
        if len(self.refused) < MAX_REFUSALS:
            self.refused.append(refusal)
        log.info("refused %s %s: %s", refusal.method, refusal.url, refusal.reason)

    async def close(self) -> None:
        await self.proxy.close_channel(self)


class EgressProxy:
    """`async with EgressProxy(policy) as proxy: ch = await proxy.channel()`; give the browser
    `ch.url` as its proxy, read `ch.refused` after."""

    def __init__(self, policy: EgressPolicy, host: str = "127.0.0.1") -> None:
        self.policy = policy
        self.host = host
        self.channels: list[Channel] = []
        self._cache: dict[str, tuple[float, tuple[str, ...] | EgressRefused]] = {}
        self._forbidden: set[tuple[str, int]] = set()
        self._tasks: set[asyncio.Task] = set()

    async def __aenter__(self) -> EgressProxy:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def channel(self) -> Channel:
        """A new listener on a free loopback port."""
        holder: list[Channel] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._tasks.add(task)
            try:
                await self._serve(holder[0], reader, writer)
            except Exception as e:  # noqa: BLE001 - one connection's failure is its own
                log.debug("proxy connection failed: %s: %s", type(e).__name__, e)
            finally:
                writer.close()
                if task is not None:
                    self._tasks.discard(task)

        server = await asyncio.start_server(handle, self.host, 0, limit=MAX_HEAD)
        ch = Channel(self, server)
        holder.append(ch)
        self.channels.append(ch)
        return ch

    async def close_channel(self, ch: Channel) -> None:
        """Stop listening on the channel; connections it still carries are cut (the visit is
        over, its context closed)."""
        ch.server.close()
        if ch in self.channels:
            self.channels.remove(ch)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ch.server.wait_closed(), 2)

    async def close(self) -> None:
        for ch in list(self.channels):
            ch.server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for ch in list(self.channels):
            await self.close_channel(ch)

    def forbid(self, address: str, port: int) -> None:
        """Never connect to address:port, whatever the policy says (the browser's own DevTools
        port: with private addresses allowed, a page must still not reach it)."""
        self._forbidden.add((address, port))

    def own_endpoints(self) -> set[tuple[str, int]]:
        return {ch.address for ch in self.channels} | self._forbidden

    # --- checking ---------------------------------------------------------------------------

    async def _addresses(self, host: str, port: int) -> tuple[str, ...]:
        """The checked addresses for host:port, or EgressRefused (answers cached a minute, so
        a page's hundred requests to one host cost one resolution and see one answer)."""
        now = time.monotonic()
        hit = self._cache.get(host)
        if hit is None or hit[0] < now:
            try:
                value: tuple[str, ...] | EgressRefused = await asyncio.to_thread(
                    self.policy.resolve, host)
            except EgressRefused as e:
                value = e
            self._cache[host] = hit = (now + RESOLVE_CACHE_S, value)
        if isinstance(hit[1], EgressRefused):
            raise hit[1]
        for a in hit[1]:
            if (a, port) in self.own_endpoints():
                raise EgressRefused(f"{host}:{port} is this browser's own egress proxy or "
                                    f"DevTools port")
        return hit[1]

    # --- serving ----------------------------------------------------------------------------

    async def _serve(self, ch: Channel, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            return
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            await _answer(writer, 400, "not an HTTP request line")
            return
        method, target, version = parts
        headers = _headers(lines[1:])
        if method == "CONNECT":
            host, port = _authority(target)
            shown = target  # a tunnel (https, wss, ws) names only host:port
        else:
            split = urlsplit(target)
            if split.scheme.lower() not in ("http", "ws") or not split.hostname:
                await _answer(writer, 400, "this is a forward proxy: send absolute http URLs "
                                           "or CONNECT")
                return
            host = normalise_host(split.hostname) or ""
            try:
                port = split.port or 80
            except ValueError:
                port = 0
            shown = target
        try:
            if not host or not 0 < port < 65536:
                raise EgressRefused(f"{target!r} names no usable host and port")
            addresses = await self._addresses(host, port)
        except EgressRefused as e:
            ch.record(Refusal(url=shown, reason=str(e), method=method,
                              destination=_destination(headers),
                              initiator=headers.get("referer") or headers.get("origin")))
            await _answer(writer, 403, f"webscan refused this request: {e}")
            return
        upstream = await _connect(addresses, port)
        if upstream is None:
            await _answer(writer, 502, f"could not connect to {host}:{port}")
            return
        up_reader, up_writer = upstream
        try:
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                await _pipe_both(reader, writer, up_reader, up_writer)
            else:
                await self._forward(method, split, version, lines[1:], headers, reader,
                                    writer, up_reader, up_writer)
        finally:
            up_writer.close()

    async def _forward(self, method: str, split, version: str, raw: list[str],  # noqa: ANN001
                       headers: dict[str, str],
                       reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter) -> None:
        """One plain-http request, then the connection closes (no reuse: a second request on
        it could name another host); an Upgrade (ws://) becomes a tunnel once answered 101."""
        upgrade = "upgrade" in headers.get("connection", "").lower() and "upgrade" in headers
        path = split.path or "/"
        if split.query:
            path += "?" + split.query
        out = [f"{method} {path} {version}"]
        out += [ln for ln in raw  # as sent (repeated headers kept), minus hop-by-hop ones
                if ln and ln.split(":", 1)[0].strip().lower() not in HOP_BY_HOP]
        out += ["Connection: Upgrade", f"Upgrade: {headers['upgrade']}"] if upgrade \
            else ["Connection: close"]
        up_writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
        await up_writer.drain()
        body = asyncio.ensure_future(_copy(reader, up_writer))  # a request body, if any
        try:
            try:
                head = await asyncio.wait_for(up_reader.readuntil(b"\r\n\r\n"),
                                              RESPONSE_TIMEOUT_S)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                await _answer(writer, 502, "the server sent no readable response")
                return
            lines = head.decode("latin-1").split("\r\n")
            status = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else ""
            if status == "101":
                writer.write(head)
                await writer.drain()
                body.cancel()
                await _pipe_both(reader, writer, up_reader, up_writer)
                return
            rh = _headers(lines[1:])
            kept = [ln for ln in lines[1:] if ln and ln.split(":", 1)[0].strip().lower()
                    not in ("connection", "keep-alive", "proxy-connection")]
            writer.write(("\r\n".join([lines[0], *kept, "Connection: close"]) + "\r\n\r\n")
                         .encode("latin-1"))
            length = rh.get("content-length", "")
            if method == "HEAD" or status in ("204", "304") or status.startswith("1"):
                pass
            elif length.isdigit() and "chunked" not in rh.get("transfer-encoding", "").lower():
                await _copy(up_reader, writer, limit=int(length))
            else:
                await _copy(up_reader, writer)
            await writer.drain()
        finally:
            body.cancel()


def _headers(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep and name.strip():
            out[name.strip().lower()] = value.strip()
    return out


def _destination(headers: dict[str, str]) -> str | None:
    if "upgrade" in headers and headers["upgrade"].lower() == "websocket":
        return "websocket"
    dest = headers.get("sec-fetch-dest")
    return dest if dest and dest != "empty" else (headers.get("sec-fetch-mode") or dest)


def _authority(target: str) -> tuple[str, int]:
    """host and port of a CONNECT target (`host:443`, `[::1]:443`); ("", 0) when unusable."""
    host, _, port = target.rpartition(":")
    if not port.isdigit():
        return "", 0
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        host = normalise_host(host) or ""
    return host, int(port)


async def _connect(addresses: tuple[str, ...], port: int
                   ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    """A connection to the first of the CHECKED addresses that answers (never to a name)."""
    for a in addresses:
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(a.split("%")[0], port, limit=MAX_HEAD),
                CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError):
            continue
    return None


async def _answer(writer: asyncio.StreamWriter, status: int, text: str) -> None:
    body = (text + "\n").encode("utf-8", "replace")
    phrase = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
    writer.write(f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n"
                 f"X-Webscan-Egress: refused\r\n\r\n".encode() + body)
    with contextlib.suppress(ConnectionError):
        await writer.drain()


async def _copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                limit: int | None = None) -> None:
    left = limit
    try:
        while left is None or left > 0:
            data = await src.read(65536 if left is None else min(65536, left))
            if not data:
                break
            if left is not None:
                left -= len(data)
            dst.write(data)
            await dst.drain()
    except ConnectionError:
        pass


async def _pipe_both(a_reader: asyncio.StreamReader, a_writer: asyncio.StreamWriter,
                     b_reader: asyncio.StreamReader, b_writer: asyncio.StreamWriter) -> None:
    """Bytes both ways until either side closes."""
    tasks = [asyncio.ensure_future(_copy(a_reader, b_writer)),
             asyncio.ensure_future(_copy(b_reader, a_writer))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

