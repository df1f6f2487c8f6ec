"""One audit crawl in its own process: `python -m webscan.service.audit_job URL [options]`.

The service runs each audit here rather than in its own process so a browser crash, a hung
page or the judges' memory never touch the service, and the crawl can be killed cleanly when
it overruns. It is the crawler itself (webscan.crawl.runner.crawl), fed one site; the report
goes to stdout as one JSON line, exactly one line of `webscan crawl`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from webscan.crawl.runner import CrawlOptions, crawl
from webscan.crawl.sites import Site
from webscan.model import Report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m webscan.service.audit_job")
    ap.add_argument("url")
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--nav-timeout", type=float, default=20.0)
    ap.add_argument("--browser", default=None)
    ap.add_argument("--browser-arg", action="append", default=[])
    ap.add_argument("--signatures", action="append", default=[])
    args = ap.parse_args(argv)
    options = CrawlOptions(window_s=args.window, concurrency=1, nav_timeout_s=args.nav_timeout,
                           browser=args.browser, browser_args=tuple(args.browser_arg),
                           sig_dirs=tuple(args.signatures))
    reports: list[Report] = []
    asyncio.run(crawl([Site(given=args.url, url=args.url)], options, reports.append))
    if not reports:
        print("the crawl produced no report", file=sys.stderr)
        return 1
    sys.stdout.write(reports[0].model_dump_json() + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
