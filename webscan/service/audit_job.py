"""One audit crawl in its own process: `python -m webscan.service.audit_job URL [options]`.

The service runs each audit here rather than in its own process so a browser crash, a hung
page or the judges' memory never touch the service, and the crawl can be killed cleanly when
it overruns. It is the crawler itself (webscan.crawl.runner.crawl), fed one site; the report
goes to stdout as one JSON line, exactly one line of `webscan crawl`.

With `--egress`, every connection the browser makes goes through the egress proxy under the
service's policy (`--allow-private`, `--deny-cidr`, and the service's `--resolve` table, or the
system's DNS without one), and the refused requests are listed in the report.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from urllib.parse import urlsplit

from webscan.crawl.runner import CrawlOptions, crawl
from webscan.crawl.sites import Site
from webscan.model import Report, VerdictLabel
from webscan.net.egress import EgressPolicy, EgressRefused
from webscan.net.resolve import resolver_for


CONNECT_TIMEOUT_S = 10.0
STAGE_PREFIX = "webscan-stage: "
"""A stderr line the service reads while the audit runs (its progress page shows it)."""


def stage(name: str) -> None:
    sys.stderr.write(STAGE_PREFIX + name + "\n")
    sys.stderr.flush()


def unreachable(url: str, egress: EgressPolicy) -> str | None:
    """Why nothing answers at the page's address (None when something does).

    Asked before the browser starts because, through the egress proxy, a plain-http page whose
    server is down does not fail in the browser: the proxy answers for it (502), and the crawl
    would watch that answer and call the page clean. Direct connections fail the navigation
    instead; this gives the audit the same error. Addresses the policy refuses are left to the
    crawl, which reports the refusal itself."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        addresses = egress.resolve(parts.hostname or "")
    except (ValueError, EgressRefused):
        return None
    why = "no address"
    for address in addresses:
        try:
            with socket.create_connection((address.split("%")[0], port),
                                          timeout=CONNECT_TIMEOUT_S):
                return None
        except OSError as e:
            why = e.strerror or type(e).__name__
    return (f"the site could not be reached: connecting to {parts.hostname}:{port} failed "
            f"({why})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m webscan.service.audit_job")
    ap.add_argument("url")
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--nav-timeout", type=float, default=20.0)
    ap.add_argument("--browser", default=None)
    ap.add_argument("--browser-arg", action="append", default=[])
    ap.add_argument("--signatures", action="append", default=[])
    ap.add_argument("--egress", action="store_true", help="apply the policy below")
    ap.add_argument("--allow-private", action="store_true")
    ap.add_argument("--deny-cidr", action="append", default=[])
    ap.add_argument("--resolve", action="append", default=[], metavar="HOST=ADDR")
    args = ap.parse_args(argv)
    egress = None
    if args.egress:
        from webscan.service.targets import audit_policy

        table: dict[str, list[str]] = {}
        for entry in args.resolve:
            host, _, address = entry.partition("=")
            table.setdefault(host, []).append(address)
        egress = audit_policy(resolver_for(table or None), allow_private=args.allow_private,
                              deny=args.deny_cidr)
    options = CrawlOptions(window_s=args.window, concurrency=1, nav_timeout_s=args.nav_timeout,
                           browser=args.browser, browser_args=tuple(args.browser_arg),
                           sig_dirs=tuple(args.signatures), egress=egress)
    reports: list[Report] = []
    down = unreachable(args.url, egress) if egress is not None else None
    if down is not None:
        sys.stdout.write(Report(url=args.url, verdict=VerdictLabel.error, score=0.0,
                                explanation=f"Could not be analysed: {down}.", error=down)
                         .model_dump_json() + "\n")
        sys.stdout.flush()
        return 0
    asyncio.run(crawl([Site(given=args.url, url=args.url)], options, reports.append,
                      on_start=lambda _site: stage("loading"),
                      on_observed=lambda _site: stage("judging")))
    if not reports:
        print("the crawl produced no report", file=sys.stderr)
        return 1
    sys.stdout.write(reports[0].model_dump_json() + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
