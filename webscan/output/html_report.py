"""A report a person reads in a browser: one row per site or file, evidence for flagged ones.

The evidence of one report is ONE Jinja2 macro (templates/_evidence.html) with its view model
(`sources`, `cpu_chart`) here: `webscan crawl --report` / `scan --report` render it into a
self-contained page (inline CSS and SVG, no scripts, no external URLs, so it can be mailed,
archived or opened offline), and the service's audit page (webscan.service.site_page) renders
the same macro through `environment(...)`. Autoescaping is on: crawled pages are hostile by
assumption, and only the chart, built from numbers, is marked safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from webscan import __version__
from webscan.model import CpuPoint, Report
from webscan.net.registrable import origin_of, registrable_domain
from webscan.output.summary import verdict_counts

TEMPLATES = Path(__file__).with_name("templates")
REPORT_CSS = (TEMPLATES / "report.css").read_text(encoding="utf-8")
"""The evidence's own styles (scoped under `.wr`), inlined in the file report and served
to the service's pages."""


def cpu_chart(points: list[CpuPoint], width: int = 320, height: int = 80) -> Markup:
    """An inline SVG line of CPU share over time (1.0 = one core busy)."""
    if not points:
        return Markup('<span class="small">no CPU samples</span>')
    t_max = max(p.t for p in points) or 1.0
    top = max(1.0, max(p.share for p in points))
    xy = " ".join(f"{p.t / t_max * (width - 4) + 2:.1f},{height - 2 - p.share / top * (height - 4):.1f}"
                  for p in points)
    one_core = height - 2 - 1.0 / top * (height - 4)
    return Markup(
        f'<svg width="{width}" height="{height}" role="img" aria-label="CPU over time">'
        f'<line x1="0" x2="{width}" y1="{one_core:.1f}" y2="{one_core:.1f}" stroke="#999" '
        f'stroke-dasharray="3 3"/><polyline fill="none" stroke="#b00020" stroke-width="1.5" '
        f'points="{xy}"/></svg><div class="small">CPU share of one core over {t_max:.0f} s '
        f'(dashed: one core); peak {max(p.share for p in points):.2f}</div>')


@dataclass
class Source:
    """A script, frame, worker, Wasm module or connection that evidence points at."""

    kind: str
    name: str
    party: str
    party_class: str
    rules: list[str] = field(default_factory=list)


def _party(url: str, page: str | None) -> tuple[str, str]:
    """First-party (the page's own origin), same site (another origin of its registrable
    domain) or third-party, from URLs alone."""
    url = url.removeprefix("blob:")
    if url.startswith(("ws://", "wss://")):
        url = "http" + url[2:]  # a socket's site is its host's
    origin, home = origin_of(url), origin_of(page or "")
    if origin is None or home is None:
        return "unknown", "unknown"
    if origin == home:
        return "first-party", "first"
    site = registrable_domain(origin.split("://", 1)[1].rsplit(":", 1)[0].strip("[]"))
    home_site = registrable_domain(home.split("://", 1)[1].rsplit(":", 1)[0].strip("[]"))
    if site and site == home_site:
        return "same site, other origin", "first"
    return "third-party", "third"


def _source_of(target: str, context: str, page: str | None) -> tuple[str, str]:
    """(kind, name) of what a finding's location points at."""
    if target.startswith(("ws://", "wss://")):
        return "pool connection", target
    if context.startswith("worker "):
        return "worker", context.removeprefix("worker ").split(";")[0]
    if target.startswith("blob:"):
        return "worker", target
    if target.lower().split("?")[0].endswith(".wasm") or "Wasm" in context:
        return "Wasm module", target
    if page and target == page:
        if "<script>" in context:
            return "inline script", f"{context} in {target}"
        return "the page", target
    path = target.split("?")[0].lower()
    if "iframe" in context.lower() or path.endswith((".html", ".htm", "/")):
        return "frame", target
    return "script", target


def sources(r: Report) -> list[Source]:
    """Everything the report's evidence names, grouped, the page's own items first."""
    page = (r.runtime.final_url if r.runtime and r.runtime.final_url else None) or r.url
    found: dict[tuple[str, str], Source] = {}
    for f in r.findings:
        kind, name = _source_of(f.location.target, f.location.context or "", page)
        if (kind, name) not in found:
            party, css = _party(name if kind == "worker" else f.location.target, page)
            found[(kind, name)] = Source(kind, name, party, css)
        if f.rule not in found[(kind, name)].rules:
            found[(kind, name)].rules.append(f.rule)
    order = ["the page", "inline script", "script", "frame", "worker", "Wasm module",
             "pool connection"]
    return sorted(found.values(), key=lambda s: order.index(s.kind))


def environment(*loaders: BaseLoader) -> Environment:
    """A Jinja2 environment that knows the report templates (after `loaders`, so a caller's
    pages can import `_evidence.html`)."""
    env = Environment(loader=ChoiceLoader([*loaders, FileSystemLoader(TEMPLATES)]),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(cpu_chart=cpu_chart, sources=sources)
    return env


_ENV = environment()


def render_html(reports: Iterable[Report], *, title: str = "webscan report") -> str:
    reports = list(reports)
    counts = verdict_counts(reports)
    summary = ", ".join(f"{n} {v}" for v, n in counts.items())
    return _ENV.get_template("report.html").render(
        reports=reports, title=title, summary=summary, version=__version__,
        css=Markup(REPORT_CSS)) + "\n"
