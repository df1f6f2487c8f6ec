"""Request counters and latencies in Prometheus text format, without a client library.

A pure ASGI middleware (not BaseHTTPMiddleware) so streaming bodies are not buffered and the
route label is the matched route template: labelling by raw path would let any caller create
unbounded series by requesting random URLs.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "<unmatched>"


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency_sum: dict[tuple[str, str], float] = defaultdict(float)
        self.latency_count: dict[tuple[str, str], int] = defaultdict(int)
        self.verdicts: dict[str, int] = defaultdict(int)
        self.counters: dict[tuple[str, str], int] = defaultdict(int)
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(route, method, status)] += 1
            self.latency_sum[(route, method)] += seconds
            self.latency_count[(route, method)] += 1

    def count_verdict(self, verdict: str) -> None:
        with self._lock:
            self.verdicts[verdict] += 1

    def count(self, name: str, label: str) -> None:
        """Bump a labelled counter, e.g. reports by re-judged verdict."""
        with self._lock:
            self.counters[(name, label)] += 1

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """A value read when scraped, e.g. the audit queue's depth."""
        self.gauges[name] = (help_text, read)

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP webscan_http_requests_total HTTP requests by route template, method and status.",
                "# TYPE webscan_http_requests_total counter",
            ]
            for (route, method, status), n in sorted(self.requests.items()):
                lines.append(f'webscan_http_requests_total{{route="{_esc(route)}",method="{method}",'
                             f'status="{status}"}} {n}')
            lines += [
                "# HELP webscan_http_request_duration_seconds Time to answer a request, by route.",
                "# TYPE webscan_http_request_duration_seconds summary",
            ]
            for (route, method), total in sorted(self.latency_sum.items()):
                labels = f'route="{_esc(route)}",method="{method}"'
                lines.append(f"webscan_http_request_duration_seconds_sum{{{labels}}} {total:.6f}")
                lines.append(f"webscan_http_request_duration_seconds_count{{{labels}}} "
                             f"{self.latency_count[(route, method)]}")
            lines += [
                "# HELP webscan_scans_total Uploaded files scanned, by verdict.",
                "# TYPE webscan_scans_total counter",
            ]
            for verdict, n in sorted(self.verdicts.items()):
                lines.append(f'webscan_scans_total{{verdict="{_esc(verdict)}"}} {n}')
            for name in sorted({n for n, _ in self.counters}):
                lines += [f"# TYPE {name} counter"]
                for (n, label), value in sorted(self.counters.items()):
                    if n == name:
                        lines.append(f'{name}{{kind="{_esc(label)}"}} {value}')
            for name, (help_text, read) in sorted(self.gauges.items()):
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge",
                          f"{name} {read()}"]
        return "\n".join(lines) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # stays 500 if the app raises before answering

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope.get("method", "?") if route != UNMATCHED else "?"
            self.metrics.observe(route, method, status, time.perf_counter() - start)
