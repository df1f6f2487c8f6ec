"""Distributed crawl figures: pages/min with one `webscan worker` process versus two on this
machine, and the queue's own cost per site.

Everything runs on 127.0.0.1: a redis-server (no persistence) on a free port, the fixture
server, real workers with real Chromium. Pages/min is measured from submission to the last
result (workers already started and warmed by one visit). The queue's cost per site is measured
with a stub worker whose task only stores a fixed report: N sites submitted and followed to the
last result, minus the same N results stored directly; that is enqueue + delivery + ack +
result write + the submitter reading it back, per site.

    .venv/bin/python bench/bench_scale.py [--sites 16] [--window 3] [--concurrency 4] [--noop 500]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    from webscan.scale.state import connect

    for _ in range(200):
        try:
            connect(url, timeout_s=1).ping()
            return proc, url
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def spawn(cmd: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=ENV, cwd=ROOT, stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(log: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 180
    while b" ready." not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"worker did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def follow(broker: str, sites: dict[str, str], payload: dict) -> float:
    """Submit the sites and wait for every result; seconds from submission to the last one."""
    from webscan.crawl.sites import Site
    from webscan.scale.submit import Submitter

    sub = Submitter(broker)
    t0 = time.perf_counter()
    crawl = sub.start([Site(g, u) for g, u in sites.items()], payload, "bench")
    sub.follow(crawl, set(), lambda r, new: None, lambda t: None, poll_s=0.01)
    return time.perf_counter() - t0


def pages_per_min(broker: str, workdir: Path, urls: list[str], processes: int,
                  concurrency: int, window: float) -> float:
    from webscan.crawl.runner import CrawlOptions
    from webscan.scale.app import task_options

    procs = []
    try:
        for n in range(processes):
            log = workdir / f"worker-{processes}-{n}.log"
            procs.append(spawn([sys.executable, "-m", "webscan", "worker", "--broker", broker,
                                "--concurrency", str(concurrency)],
                               log))
        for n, p in enumerate(procs):
            wait_ready(workdir / f"worker-{processes}-{n}.log", p)
        payload = task_options(CrawlOptions(window_s=window), max_deliveries=3)
        # warm every worker's browser and judges (one visit each), then measure
        follow(broker, {f"{urls[0]}?warm={processes}-{i}": f"{urls[0]}?warm={processes}-{i}"
                        for i in range(processes * concurrency)}, payload)
        sites = {f"{u}?p={processes}": f"{u}?p={processes}" for u in urls}
        return len(sites) * 60.0 / follow(broker, sites, payload)
    finally:
        stop(procs)


STUB = """
import sys
sys.path.insert(0, {root!r})
from webscan.model import Report, VerdictLabel
from webscan.scale.app import QUEUE, VISIT_TASK, make_app
from webscan.scale.state import CrawlState, connect
broker = {broker!r}
app = make_app(broker)
client = connect(broker)

@app.task(name=VISIT_TASK)
def visit(crawl, site, url, options):
    state = CrawlState(client, crawl)
    if state.has_result(site):
        return
    state.count_delivery(site)
    state.record(site, Report(url=site, verdict=VerdictLabel.clean, score=0.0,
                              explanation="stub"))

app.worker_main(["worker", "--pool=threads", "--concurrency=1", "-Q", QUEUE, "--without-gossip",
                 "--without-mingle", "--without-heartbeat", "--loglevel=WARNING", "-n", "stub@%h"])
"""


def queue_overhead_ms(broker: str, workdir: Path, n: int) -> tuple[float, float]:
    """(ms per site through the queue, ms per site stored directly) with a no-op visit."""
    from webscan.model import Report, VerdictLabel
    from webscan.scale.state import CrawlState, connect

    log = workdir / "stub.log"
    proc = spawn([sys.executable, "-c", STUB.format(root=str(ROOT), broker=broker)], log)
    try:
        deadline = time.monotonic() + 60
        while b"ready" not in log.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        follow(broker, {f"warm{i}": "http://warm.invalid/" for i in range(20)}, {})
        sites = {f"s{i}.invalid": f"http://s{i}.invalid/" for i in range(n)}
        queued = follow(broker, sites, {})
    finally:
        stop([proc])
    state = CrawlState(connect(broker), "direct")
    t0 = time.perf_counter()
    for site in sites:
        if not state.has_result(site):
            state.count_delivery(site)
            state.record(site, Report(url=site, verdict=VerdictLabel.clean, score=0.0,
                                      explanation="stub"))
    direct = time.perf_counter() - t0
    return queued * 1000 / n, direct * 1000 / n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sites", type=int, default=16, help="fixture pages per measurement")
    ap.add_argument("--window", type=float, default=3.0)
    ap.add_argument("--concurrency", type=int, default=4, help="visits at once per worker")
    ap.add_argument("--noop", type=int, default=500, help="no-op sites for the queue overhead")
    args = ap.parse_args()
    from site_fixtures.server import FixtureServer

    pages = json.loads((ROOT / "site_fixtures" / "pages" / "pages.json").read_text())
    with tempfile.TemporaryDirectory() as tmp, FixtureServer() as srv:
        workdir = Path(tmp)
        redis_proc, broker = start_redis(workdir)
        try:
            per_site, direct = queue_overhead_ms(broker, workdir, args.noop)
            print(f"queue overhead, no-op visit, {args.noop} sites, 1 stub worker thread: "
                  f"{per_site:.2f} ms/site through Celery+Redis (enqueue, deliver, ack, result, "
                  f"read back) vs {direct:.2f} ms/site storing the result directly: "
                  f"{per_site - direct:.2f} ms/site for the queue")
            urls = [srv.url(pages[i % len(pages)]["path"]) + f"?n={i}" for i in range(args.sites)]
            for processes in (1, 2):
                rate = pages_per_min(broker, workdir, urls, processes, args.concurrency,
                                     args.window)
                print(f"{processes} worker process(es) x {args.concurrency} visits at once, "
                      f"window {args.window:g} s, {args.sites} fixture pages: "
                      f"{rate:.1f} pages/min")
        finally:
            redis_proc.terminate()
            redis_proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
