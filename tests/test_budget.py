"""The per-file analysis time budget: `webscan scan --file-timeout`, the worker process killed
when it overruns, the crawler's static pass, and `POST /v1/scan` on a real uvicorn.

Inputs are large but valid and the budgets tiny, so each input overruns its budget by far
whatever the machine: the budget checks are cooperative, so what happens on expiry does not
depend on when exactly it comes. No test measures time.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from conftest import ROOT, run_cli
from service_support import TEST_NAMES, LiveServer, ServeProcess, sqlite_url

MINER_SRC = '<script src="https://coinhive.com/lib/coinhive.min.js"></script>\n'
"""Loading a mining service's script: a miner on its own (miner-domain-load)."""
MENTION = '<script type="application/ld+json">{"url": "https://coinhive.com/"}</script>\n'
"""A mining domain mentioned in a data block, not loaded: weak evidence, found by the HTML pass
itself (the first element is always read, so it is found whatever the budget)."""
TINY = "<script>var a{i} = {i} + 1;</script>\n"


MODULE = '<script type="module">var a{i} = {i} + 1;</script>\n'
"""Modules are never batched with other scripts (webscan/html/engine.py), so each costs a JS
analysis of its own: a page of many of them is slow whatever the batching does."""


def many_scripts(head: str, n: int = 10_000, script: str = MODULE) -> str:
    """An HTML page of `n` small inline scripts after `head`: each is analysed in turn, with a
    budget check after each element, so a tiny budget runs out among them. Modules by default:
    plain scripts are batched into one analysis, and 1,000 of them took 0.03 s (under the
    tests' 0.05 s budget); 10,000 modules take about 1 s here, twenty times the budget."""
    return head + "".join(script.format(i=i) for i in range(n))


def slow_upload() -> bytes:
    """A page under the service's 5 MB upload limit that takes many seconds to analyse (about
    90,000 unbatched scripts), so a scan is still running while the test acts."""
    return many_scripts(MENTION, 90_000, MODULE).encode()


def plus_chain(terms: int) -> str:
    """The issue's hostile shape: one statement concatenating string literals."""
    return "var s = " + " + ".join(['"ab"'] * terms) + ";\n"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    (d / "a_slow.html").write_text(many_scripts(MENTION))
    (d / "b_chain.js").write_text(plus_chain(200_000))  # 1.4 MB, the shape
    (d / "c_miner.js").write_text("var m = new CoinHive.Anonymous('Sx5ZbP3yY1PxbTIZ8fcJ9zNuTvD"
                                  "hOA3R', {throttle: 0.3});\nm.start();\n")
    (d / "d_clean.js").write_text("export function add(a, b) { return a + b; }\n")
    (d / "e_miner_then_slow.html").write_text(many_scripts(MINER_SRC))
    return d


def _rows(stdout: str) -> dict[str, dict]:
    rows = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return {os.path.basename(r["path"]): r for r in rows}


def test_scan_over_budget_is_error_with_findings_and_the_run_goes_on(files):
    r = run_cli("scan", str(files), "--format", "jsonl", "--file-timeout", "0.05", "-q")
    rows = _rows(r.stdout)
    assert sorted(rows) == ["a_slow.html", "b_chain.js", "c_miner.js", "d_clean.js",
                            "e_miner_then_slow.html"], r.stderr
    slow = rows["a_slow.html"]
    assert slow["verdict"] == "error"
    assert slow["error"].startswith("analysis time budget exceeded after 0.05 s")
    # the mention in the first script was found before the budget ran out, and is kept
    assert any(f["category"] == "miner-domain-mention" for f in slow["findings"]), slow
    assert rows["b_chain.js"]["verdict"] == "error"
    assert rows["b_chain.js"]["error"].startswith("analysis time budget exceeded after 0.05 s")
    # a miner found before the budget ran out still counts, with a note
    cut = rows["e_miner_then_slow.html"]
    assert cut["verdict"] == "miner", cut
    assert cut["error"].startswith("analysis time budget exceeded after 0.05 s")
    assert "analysis was cut short" in cut["explanation"]
    assert r.returncode == 1  # --fail-on miner: the page above is one


def test_error_from_the_budget_alone_does_not_fail_the_run(files):
    r = run_cli("scan", str(files / "a_slow.html"), "--format", "json", "--file-timeout", "0.05",
                "-q")
    doc = json.loads(r.stdout)
    assert [x["verdict"] for x in doc["reports"]] == ["error"]
    assert r.returncode == 0  # documented: an error file does not change the exit code


def test_default_budget_lets_the_same_page_finish(files):
    """The page that overran 0.05 s is an ordinary page: the default budget finishes it."""
    r = run_cli("scan", str(files / "e_miner_then_slow.html"), "--format", "json", "-q")
    report = json.loads(r.stdout)["reports"][0]
    assert report["verdict"] == "miner" and report["error"] is None, report


def test_help_explains_the_budget():
    r = run_cli("scan", "--help")
    text = " ".join(r.stdout.replace("\u2502", " ").split())  # without the table's borders
    assert "--file-timeout" in text and "Analysis time budget per file" in text
    assert "5 s per MB" in text and "budget exceeded" in text and "killed" in text


def _stop_worker_after_first_row(cli: subprocess.Popen) -> tuple[int, list[str]]:
    """Once the scan has printed its first row (so its worker started and finished a job and is
    on the next file), SIGSTOP the worker: a process that no longer answers, as one stuck in C
    code would be. Stopping it earlier would test the start timeout (120 s) instead."""
    first = cli.stdout.readline()
    assert first.strip(), "the scan printed nothing: " + cli.stderr.read()
    kids = psutil.Process(cli.pid).children()
    assert kids, "the scan has no worker process"
    os.kill(kids[0].pid, signal.SIGSTOP)
    return kids[0].pid, [first]


def test_worker_that_stops_answering_is_killed_and_replaced(files, tmp_path):
    """A real `webscan scan`; its worker is stopped while on the second file (a page that takes
    seconds). The supervisor kills it at the budget plus grace, reports that file as an error
    that says so, and a fresh worker scans the rest."""
    first = tmp_path / "first.html"
    first.write_text(many_scripts(MENTION, 20000))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = subprocess.Popen([sys.executable, "-m", "webscan", "scan", str(files / "d_clean.js"),
                            str(first), str(files / "c_miner.js"), "--jobs", "1",
                            "--file-timeout", "1", "--format", "jsonl", "-q"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stopped, lines = _stop_worker_after_first_row(cli)
    out, err = cli.communicate(timeout=300)
    rows = _rows("".join(lines) + out)
    assert rows["first.html"]["verdict"] == "error", err
    assert "was killed" in rows["first.html"]["error"]
    assert rows["c_miner.js"]["verdict"] == "miner"
    assert rows["d_clean.js"]["verdict"] == "clean"
    assert not psutil.pid_exists(stopped) or psutil.Process(stopped).status() == "zombie"


def test_crawler_static_pass_has_the_budget_per_script(sigs):
    """The crawler's judge, on what a visit recorded: one loaded script overruns its budget and
    is named; the mining-service load seen at runtime still makes the site a miner."""
    from webscan.browser.evidence import observation_to_analysis
    from webscan.browser.records import Observation, ScriptLoaded
    from webscan.scanner import Engines
    from webscan.verdict import judge

    engines = Engines(sigs)
    slow = many_scripts(MENTION).encode()
    obs = Observation(url="http://fixtures.test/")
    obs.scripts.append(ScriptLoaded(url="http://fixtures.test/slow.html", body=slow,
                                    resource_type="document", status=200))
    report = judge(observation_to_analysis(obs, engines, file_timeout=0.05), sigs.verdict,
                   url=obs.url)
    assert report.verdict.value == "error"
    assert report.error == ("analysis time budget exceeded after 0.05 s on "
                            "http://fixtures.test/slow.html")
    assert any(f.category == "miner-domain-mention" for f in report.findings)

    obs.scripts.append(ScriptLoaded(url="https://coinhive.com/lib/coinhive.min.js", body=b"",
                                    resource_type="script", status=200))
    report = judge(observation_to_analysis(obs, engines, file_timeout=0.05), sigs.verdict,
                   url=obs.url)
    assert report.verdict.value == "miner" and "cut short" in report.explanation


@contextlib.contextmanager
def _static_site(folder: Path) -> Iterator[str]:
    """A plain HTTP server on 127.0.0.1 for `folder`."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}"
        finally:
            httpd.shutdown()


def test_crawl_analyses_each_loaded_script_within_its_budget(tmp_path):
    """A real crawl of a page that loads a 1.3 MB script: it runs at once in the browser, but
    its static analysis cannot finish in 0.05 s, so the site is an error naming the script."""
    from test_browser_support import chromium_or_skip

    chromium_or_skip()
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text('<html><body><script src="big.js"></script></body></html>')
    (site / "big.js").write_text("".join(f"function f{i}(a){{return a*{i}+1;}}\n"
                                         for i in range(40000)))
    out = tmp_path / "r.jsonl"
    with _static_site(site) as base:
        r = run_cli("crawl", base + "/index.html", "--out", str(out), "--window", "1",
                    "--file-timeout", "0.05", timeout=600)
    row = json.loads(out.read_text())
    assert row["verdict"] == "error", (row, r.stderr)
    assert row["error"].startswith("analysis time budget exceeded after 0.05 s on ")
    assert row["error"].endswith("/big.js")
    assert r.returncode == 0


# --- the service --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_app(sigs, tmp_path_factory):
    from webscan.service.app import ServiceConfig, create_app
    from webscan.service.ratelimit import RateLimits

    db = tmp_path_factory.mktemp("budget-db") / "s.db"
    return create_app(sigs=sigs, config=ServiceConfig(
        db_url=sqlite_url(db), rate_limits=RateLimits(0, 0, 0, 0), resolver_table=TEST_NAMES,
        scan_timeout_s=3.0))


def test_service_answers_healthz_while_a_scan_runs(slow_app):
    """A page of 90,000 scripts takes far more than its 3 s budget: while its upload is being
    scanned, /healthz answers; then the scan answers `error` with the budget's reason."""
    page = slow_upload()
    result: dict[str, httpx.Response] = {}
    with LiveServer(slow_app) as base, httpx.Client(base_url=base, timeout=120) as client:
        assert client.get("/healthz").status_code == 200
        scanning = threading.Thread(target=lambda: result.update(scan=client.post(
            "/v1/scan", params={"name": "slow.html"}, content=page,
            headers={"Content-Type": "application/octet-stream"})))
        scanning.start()
        with httpx.Client(base_url=base, timeout=120) as other:
            health = [other.get("/healthz").status_code for _ in range(3)]
        answered_during_scan = scanning.is_alive()
        scanning.join(timeout=120)
    assert health == [200, 200, 200]
    assert answered_during_scan, "the scan answered before /healthz; use a slower page"
    body = result["scan"].json()
    assert result["scan"].status_code == 200, body
    assert body["verdict"] == "error"
    # (stopped by its budget check, or killed in the HTML parse: the reason starts the same)
    assert body["error"].startswith("analysis time budget exceeded after 3 s")


def _cpu_seconds(service: psutil.Process) -> float:
    """CPU time of the service's processes (its scan workers included)."""
    total = 0.0
    for p in [service, *service.children(recursive=True)]:
        try:
            total += sum(p.cpu_times()[:2])
        except psutil.NoSuchProcess:
            pass
    return total


def test_sigterm_stops_the_service_during_a_scan(tmp_path):
    """`webscan serve` gets SIGTERM while an upload is being scanned (budget 600 s): it exits,
    and the scan request gets an answer (503: the service is stopping) instead of hanging."""
    page = slow_upload()
    server = ServeProcess("--db", sqlite_url(tmp_path / "t.db"), "--file-timeout", "600",
                          "--rate-limit", "0").start()
    result: dict[str, object] = {}
    service = psutil.Process(server.proc.pid)
    idle = _cpu_seconds(service)

    def post() -> None:
        try:
            result["scan"] = httpx.post(server.base + "/v1/scan", params={"name": "slow.html"},
                                        content=page, timeout=600,
                                        headers={"Content-Type": "application/octet-stream"})
        except httpx.HTTPError as e:
            result["scan"] = e

    try:
        scanning = threading.Thread(target=post)
        scanning.start()
        # the scan worker was ready before /healthz answered: CPU it uses now is the scan's
        while _cpu_seconds(service) < idle + 0.5 and scanning.is_alive():
            time.sleep(0.05)
        assert scanning.is_alive(), "the scan answered before SIGTERM; use a slower page"
        server.proc.terminate()
        assert server.proc.wait(timeout=120) is not None
        scanning.join(timeout=120)
        assert not scanning.is_alive()
        answer = result["scan"]
        if isinstance(answer, httpx.Response):
            assert answer.status_code == 503, answer.text
    finally:
        server.kill9()
