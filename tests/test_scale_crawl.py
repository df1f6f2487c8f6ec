"""Distributed crawling end to end: a real redis-server, two real `webscan worker` processes,
real Chromium, the fixture server on 127.0.0.1.

What must hold: every site has exactly one result and the same verdict as a local crawl; a
worker killed with SIGKILL mid-crawl loses nothing (its sites are delivered again after the
visibility timeout); Redis restarted EMPTY mid-crawl (no persistence: queue and crawl keys
gone) is recovered by the submitter, which still holds the sites and re-enqueues those without
a result; Ctrl-C detaches and `--attach` picks up without duplicating lines; a site delivered
more than the bound ends as error. Skipped outside CI when redis-server or Chromium is missing
(under CI=true a skip fails: .ci/system-deps installs both).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from test_browser_support import chromium_or_skip

chromium_or_skip(allow_module_level=True)
REDIS_SERVER = shutil.which("redis-server") or ("/usr/bin/redis-server"
                                                if Path("/usr/bin/redis-server").exists() else None)
if REDIS_SERVER is None:
    pytest.skip("distributed crawl tests need redis-server (Debian package redis-server)",
                allow_module_level=True)

from site_fixtures.server import FixtureServer  # noqa: E402

PAGES = json.loads((ROOT / "site_fixtures" / "pages" / "pages.json").read_text())
PICKED = ["/miner/first-party.html", "/miner/webminerpool.html", "/miner/iframe.html",
          "/benign/chat.html", "/benign/mdn-example.html", "/benign/busy-loop.html"]
EXPECT = {p["path"]: p["expect"] for p in PAGES}
VISIBILITY_S = 10
"""The workers' `--visibility-timeout`: how long a dead worker's visit waits before it is
delivered again. Short, so the tests do not wait it out for long; leases are renewed every
quarter of it, so a live visit is not delivered twice unless a worker stalls for seconds."""
WINDOW = "2"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """redis-server on a free loopback port, no persistence, in a temp dir; restartable."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=open(self.dir / "redis.log", "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"redis-server did not start: {(self.dir / 'redis.log').read_text()}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None


class Workers:
    def __init__(self, broker: str, logdir: Path) -> None:
        self.broker = broker
        self.logdir = logdir
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self) -> int:
        """Start one more worker without waiting for it (several start side by side)."""
        n = len(self.procs)
        log = self.logdir / f"worker{n}.log"
        self.procs.append(subprocess.Popen(
            [sys.executable, "-m", "webscan", "worker", "--broker", self.broker,
             "--concurrency", "2", "--visibility-timeout", str(VISIBILITY_S)],
            env=ENV, cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
            start_new_session=True))
        self.logs.append(log)
        return n

    def wait_ready(self) -> None:
        """Wait until every worker not killed says it is ready; fail with the log of one
        that exits or never does."""
        deadline = time.monotonic() + 120
        for n, log in enumerate(self.logs):
            while self.procs[n].returncode is None and b" ready." not in log.read_bytes():
                assert self.procs[n].poll() is None, log.read_text(errors="replace")
                if time.monotonic() > deadline:
                    raise AssertionError(f"worker {n} not ready: "
                                         f"{log.read_text(errors='replace')}")
                time.sleep(0.2)

    def kill(self, n: int) -> None:
        """SIGKILL the worker, its browser and its judges (as a machine lost would)."""
        os.killpg(self.procs[n].pid, signal.SIGKILL)
        self.procs[n].wait()

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def srv():
    with FixtureServer() as server:
        yield server


@pytest.fixture(scope="module")
def redis_srv(tmp_path_factory):
    r = RedisServer(tmp_path_factory.mktemp("redis"))
    r.start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def workers(redis_srv, tmp_path_factory):
    w = Workers(redis_srv.url, tmp_path_factory.mktemp("workers"))
    w.start()
    w.start()
    w.wait_ready()
    yield w
    w.close()


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def _submit(*args: str, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "webscan", "crawl", *args, "--out", str(out),
                             "--window", WINDOW], env=ENV, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_lines(path: Path, n: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError(f"no {n} results in {timeout} s")


def _one_each(rows: list[dict], urls: list[str]) -> dict[str, str]:
    got = [r["url"] for r in rows]
    assert sorted(got) == sorted(urls), (sorted(got), sorted(urls))  # every site, exactly once
    return {r["url"]: r["verdict"] for r in rows}


@pytest.fixture(scope="module")
def both_crawls(srv, workers, redis_srv, tmp_path_factory):
    d = tmp_path_factory.mktemp("both")
    urls = [srv.url(p) for p in PICKED]
    local = run_cli("crawl", *urls, "--out", str(d / "local.jsonl"), "--window", WINDOW,
                    timeout=600)
    assert local.returncode == 0, local.stderr
    dist = run_cli("crawl", *urls, "--broker", redis_srv.url, "--out", str(d / "dist.jsonl"),
                   "--window", WINDOW, "--fail-on", "miner", timeout=600)
    return d, urls, local, dist


def test_every_site_once_with_the_local_crawls_verdicts(srv, both_crawls):
    d, urls, _, dist = both_crawls
    assert "Traceback" not in dist.stderr, dist.stderr
    assert dist.returncode == 1, dist.stderr  # --fail-on miner, as a local crawl does
    assert "crawl id: " in dist.stderr
    local = _one_each(_rows(d / "local.jsonl"), urls)
    distributed = _one_each(_rows(d / "dist.jsonl"), urls)
    assert distributed == local
    assert distributed == {srv.url(p): EXPECT[p] for p in PICKED}
    first = {r["url"]: r for r in _rows(d / "dist.jsonl")}[srv.url("/miner/first-party.html")]
    assert first["runtime"]["window_s"] and first["findings"]  # the same Report, runtime and all


def test_attach_rewrites_parquet_and_fills_the_service_database(srv, both_crawls, redis_srv,
                                                                 tmp_path):
    import pyarrow.parquet as pq
    from sqlalchemy import create_engine, text

    _, urls, _, dist = both_crawls
    crawl_id = dist.stderr.split("crawl id: ", 1)[1].split()[0]
    db = tmp_path / "service.db"
    r = run_cli("crawl", "--broker", redis_srv.url, "--attach", crawl_id, "--format", "parquet",
                "--out", str(tmp_path / "r.parquet"), "--db", f"sqlite:///{db}")
    assert r.returncode == 0, r.stderr
    table = pq.read_table(tmp_path / "r.parquet").to_pylist()
    got = {row["url"]: row for row in table}
    assert sorted(got) == sorted(urls)
    assert {u: row["verdict"] for u, row in got.items()} == {srv.url(p): EXPECT[p] for p in PICKED}
    miner = got[srv.url("/miner/first-party.html")]
    assert miner["rule_ids"] and miner["cpu_seconds"] is not None
    assert json.loads(miner["report_json"])["verdict"] == "miner"
    with create_engine(f"sqlite:///{db}").connect() as c:
        audits = dict(c.execute(text("SELECT url, verdict FROM audits WHERE status='done'")).all())
    assert audits == {srv.url(p): EXPECT[p] for p in PICKED}


def test_sigkilled_worker_loses_no_site(srv, workers, redis_srv, tmp_path):
    urls = [srv.url(p) + "?kill=1" for p in PICKED]
    out = tmp_path / "r.jsonl"
    sizes = [w.stat().st_size for w in workers.logs]
    proc = _submit(*urls, "--broker", redis_srv.url, out=out)
    # Kill the first worker seen visiting a site of this crawl, while that visit runs.
    victim = taken = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        for n, log in enumerate(workers.logs):
            text = log.read_bytes()[sizes[n]:].decode(errors="replace")
            started = [ln for ln in text.splitlines() if "?kill=1: delivery 1" in ln]
            if workers.procs[n].poll() is None and started:
                victim, taken = n, started[0].split()[-4:-2]  # crawl id, site
                break
        time.sleep(0.05)
    assert victim is not None, "no worker took a visit"
    workers.kill(victim)
    workers.start()  # a replacement (the next tests have two workers), started meanwhile
    try:
        _, err = proc.communicate(timeout=VISIBILITY_S * 4 + 300)
    finally:
        workers.wait_ready()
    assert proc.returncode == 0, err
    verdicts = _one_each(_rows(out), urls)
    # the site the dead worker was visiting was delivered again, and reported once
    from webscan.scale.state import CrawlState, connect

    crawl_id, site = taken[0], taken[1].rstrip(":")
    client = connect(redis_srv.url)
    assert int(client.hget(CrawlState(client, crawl_id).deliveries, site)) >= 2
    assert verdicts == {srv.url(p) + "?kill=1": EXPECT[p] for p in PICKED}


def test_a_visit_longer_than_the_visibility_timeout_is_made_once(srv, workers, redis_srv,
                                                                   tmp_path):
    """The worker renews the lease of its running visits, so a long visit (here a window of
    1.5 visibility timeouts) is not handed to the other worker meanwhile."""
    from webscan.scale.state import CrawlState, connect

    url = srv.url("/benign/mdn-example.html") + "?long=1"
    out = tmp_path / "r.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "webscan", "crawl", url, "--broker",
                             redis_srv.url, "--out", str(out), "--window", str(VISIBILITY_S * 1.5)],
                            env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert [(r["url"], r["verdict"]) for r in _rows(out)] == [(url, "clean")]
    crawl_id = err.split("crawl id: ", 1)[1].split()[0]
    client = connect(redis_srv.url)
    assert int(client.hget(CrawlState(client, crawl_id).deliveries, url)) == 1


def test_redis_restarted_empty_mid_crawl_is_recovered(srv, workers, redis_srv, tmp_path):
    urls = [srv.url(p) + "?restart=1" for p in PICKED]
    out = tmp_path / "r.jsonl"
    proc = _submit(*urls, "--broker", redis_srv.url, out=out)
    _wait_lines(out, 1, proc)
    redis_srv.stop()
    time.sleep(1.0)
    redis_srv.start()  # empty: no RDB, no AOF
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert "Redis lost crawl" in err and "enqueued again" in err
    verdicts = _one_each(_rows(out), urls)
    assert verdicts == {srv.url(p) + "?restart=1": EXPECT[p] for p in PICKED}


def test_ctrl_c_detaches_and_attach_completes_without_duplicates(srv, workers, redis_srv,
                                                                  tmp_path):
    urls = [srv.url(p) + "?attach=1" for p in PICKED]
    out = tmp_path / "r.jsonl"
    proc = _submit(*urls, "--broker", redis_srv.url, out=out)
    _wait_lines(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    crawl_id = err.split("crawl id: ", 1)[1].split()[0]
    assert f"--attach {crawl_id}" in err
    before = len(_rows(out))
    r = run_cli("crawl", "--broker", redis_srv.url, "--attach", crawl_id, "--out", str(out),
                timeout=600)
    assert r.returncode == 0, r.stderr
    rows = _rows(out)
    assert len(rows) >= before
    verdicts = _one_each(rows, urls)
    assert verdicts == {srv.url(p) + "?attach=1": EXPECT[p] for p in PICKED}


def _run_crafted(redis_srv, name: str, site: str, payload: dict, deliveries: int = 0):
    """A crawl written by hand (as any client of the queue could), run by the real workers."""
    from webscan.scale.state import CrawlState, connect
    from webscan.scale.submit import Crawl, Submitter

    client = connect(redis_srv.url)
    state = CrawlState(client, f"test-{name}-{os.getpid()}")
    crawl = Crawl(state, payload, {site: site}, "")
    state.create(crawl.sites.items(), payload, "")
    if deliveries:
        client.hset(state.deliveries, site, deliveries)
    sub = Submitter(redis_srv.url)
    sub.enqueue(crawl, crawl.sites.items())
    got = []
    sub.follow(crawl, set(), lambda r, new: got.append(r), lambda t: None)
    return got


def test_a_site_delivered_past_the_bound_is_given_up_as_error(srv, workers, redis_srv):
    """The deliveries a killed worker would have left are written first (three deaths take
    three visibility timeouts); the real worker then counts one more and gives the site up."""
    from webscan.crawl.runner import CrawlOptions
    from webscan.scale.app import task_options

    payload = task_options(CrawlOptions(window_s=2.0), max_deliveries=3)
    got = _run_crafted(redis_srv, "deadly", srv.url("/benign/chat.html") + "?deadly=1", payload,
                       deliveries=3)
    assert [r.verdict.value for r in got] == ["error"]
    assert "given up after 3 deliveries" in got[0].error


def test_a_task_cannot_make_the_worker_run_programs(srv, workers, redis_srv):
    from webscan.crawl.runner import CrawlOptions
    from webscan.scale.app import task_options

    payload = task_options(CrawlOptions(window_s=2.0, browser_args=(
        "--renderer-cmd-prefix=/bin/sh -c 'touch /tmp/owned'",)), max_deliveries=3)
    got = _run_crafted(redis_srv, "unsafe", srv.url("/benign/chat.html") + "?unsafe=1", payload)
    assert [r.verdict.value for r in got] == ["error"]
    assert "refuses the Chromium switch --renderer-cmd-prefix" in got[0].error


def test_results_are_recorded_once_per_site(redis_srv):
    from webscan.model import Report, VerdictLabel
    from webscan.scale.state import CrawlState, connect

    state = CrawlState(connect(redis_srv.url), f"test-once-{os.getpid()}")
    first = Report(url="a.example", verdict=VerdictLabel.clean, score=0.0, explanation="first")
    second = Report(url="a.example", verdict=VerdictLabel.miner, score=1.0, explanation="second")
    assert state.record("a.example", first) is True
    assert state.record("a.example", second) is False
    n, got = state.arrived(0)
    assert n == 1 and [r.explanation for _, r in got] == ["first"]


def test_unreachable_broker_and_unknown_crawl_are_plain_errors(redis_srv, tmp_path):
    dead = f"redis://127.0.0.1:{_free_port()}/0"
    for args in (["worker", "--broker", dead], ["crawl", "example.com", "--broker", dead]):
        r = run_cli(*args, timeout=120)
        assert r.returncode == 2 and "cannot reach the broker" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    r = run_cli("crawl", "--broker", redis_srv.url, "--attach", "no-such-crawl",
                "--out", str(tmp_path / "x.jsonl"))
    assert r.returncode == 2 and "no crawl 'no-such-crawl'" in r.stderr, r.stderr
    r = run_cli("crawl", "--attach", "x")
    assert r.returncode == 2 and "--attach needs --broker" in r.stderr
