"""Ctrl-C on `webscan scan` and `webscan crawl`, as a user presses it: the real CLI runs in its
own process group on enough input to be busy, the test waits until results have reached the
output, then sends SIGINT to the whole group (what a terminal does, so the scan's worker
processes and the crawl's Chromium get it too). The README promises exit code 130 and an
output that keeps what was done: JSONL line by line with no torn line, the other formats
written atomically (complete and valid, or absent).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT

JS_SOURCES = sorted((FIXTURES / "js").glob("*.js"))
COPIES = 1500  # measured: 15-20 s of scanning on 2 cores, so the run is still busy when signalled


def start_cli(*args: str, cwd: Path) -> subprocess.Popen:
    """`python -m webscan ...` in a new session: its own process group, as a terminal job."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    env.pop("WEBSCAN_SIGNATURES_DIR", None)
    return subprocess.Popen([sys.executable, "-m", "webscan", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def complete_lines(path: Path) -> list[str]:
    """The newline-terminated lines of the file so far (a line being written does not count)."""
    if not path.exists():
        return []
    data = path.read_text(encoding="utf-8")
    return data.split("\n")[:-1]


def wait_until(what: str, check, proc: subprocess.Popen, timeout: float):
    """Poll check() while the process runs; fail naming what never happened (no timing asserts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        if proc.poll() is not None:
            out, errs = proc.communicate()
            pytest.fail(f"the CLI exited ({proc.returncode}) before {what}: {errs[-2000:]}")
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail(f"{what} did not happen within {timeout:.0f} s")


def interrupt(proc: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    """Ctrl-C: SIGINT to the whole process group; returns (exit code, stderr)."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, errs = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, errs = proc.communicate()
        pytest.fail(f"the CLI did not exit within {timeout:.0f} s of Ctrl-C: {errs[-2000:]}")
    return proc.returncode, errs


# --- scan ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus(tmp_path_factory, scanner) -> tuple[Path, dict[str, str]]:
    """COPIES JavaScript files made from the fixture scripts (each with its own first line), and
    the verdict each must get: its source's, from the real scanner."""
    d = tmp_path_factory.mktemp("corpus")
    verdict_of = {s.name: scanner.scan_path(str(s)).verdict for s in JS_SOURCES}
    expected = {}
    for i in range(COPIES):
        src = JS_SOURCES[i % len(JS_SOURCES)]
        path = d / f"d{i // 100:02}" / f"f{i:05}-{src.name}"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"// copy {i}\n" + src.read_text(encoding="utf-8"), encoding="utf-8")
        expected[str(path)] = verdict_of[src.name]
    assert {"miner", "clean"} <= set(expected.values())
    return d, expected


def test_ctrl_c_on_scan_keeps_a_valid_jsonl_of_what_was_scanned(corpus, tmp_path):
    d, expected = corpus
    out = tmp_path / "out.jsonl"
    proc = start_cli("scan", str(d), "--format", "jsonl", "-o", str(out), "--jobs", "2",
                     cwd=tmp_path)
    wait_until("a first complete result line", lambda: complete_lines(out), proc, timeout=120)
    code, errs = interrupt(proc)
    assert code == 130, errs[-2000:]
    assert "Traceback" not in errs, errs[-3000:]
    assert "interrupted" in errs
    data = out.read_text(encoding="utf-8")
    assert data.endswith("\n")  # no torn last line
    rows = [json.loads(line) for line in data.splitlines()]
    assert 1 <= len(rows) < COPIES  # it was still scanning when interrupted
    paths = [r["path"] for r in rows]
    assert len(set(paths)) == len(paths)
    # each kept line is the real verdict of its file, not an error made by the interruption
    wrong = {p: r["verdict"] for p, r in zip(paths, rows) if expected.get(p) != r["verdict"]}
    assert not wrong, list(wrong.items())[:5]


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_ctrl_c_on_scan_leaves_a_whole_report_or_none(corpus, tmp_path, fmt):
    """Written atomically: whatever the moment of the interrupt, the file is complete and valid
    (holding the files scanned so far) or absent, and no temporary file is left behind."""
    d, expected = corpus
    out = tmp_path / f"out.{fmt}"
    proc = start_cli("scan", str(d), "--format", fmt, "-o", str(out), "--jobs", "2",
                     cwd=tmp_path)
    # the output is opened (as a temporary file beside it) once the files are listed
    wait_until("the report's temporary file", lambda: list(tmp_path.glob(f".{out.name}.*")),
               proc, timeout=120)
    code, errs = interrupt(proc)
    assert code == 130, errs[-2000:]
    assert "Traceback" not in errs, errs[-3000:]
    assert [p.name for p in tmp_path.iterdir()] in ([out.name], [])
    if not out.exists():
        return
    doc = json.loads(out.read_text(encoding="utf-8"))
    if fmt == "json":
        got = {r["path"]: r["verdict"] for r in doc["reports"]}
        assert sum(doc["summary"].values()) == len(got)
    else:  # SARIF lists the findings of flagged files, each with its file's verdict
        assert doc["version"] == "2.1.0"
        got = {res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]:
               res["properties"]["fileVerdict"] for res in doc["runs"][0]["results"]}
    assert len(got) < COPIES
    wrong = {p: v for p, v in got.items() if expected.get(p) != v}
    assert not wrong, list(wrong.items())[:5]


# --- crawl --------------------------------------------------------------------------------------

PAGES = json.loads((FIXTURES / "pages" / "pages.json").read_text())
CRAWL_PATHS = ["/benign/mdn-example.html", "/miner/first-party.html", "/benign/chat.html",
               "/miner/throttled.html", "/benign/hash-file.html", "/miner/webminerpool.html"]


@pytest.fixture(scope="module")
def srv():
    from test_browser_support import chromium_or_skip

    chromium_or_skip()
    from site_fixtures.server import FixtureServer

    with FixtureServer() as server:
        yield server


def finished(out: Path) -> dict[str, str]:
    """url -> verdict of the sites in the output so far (JSONL, or CSV after its header)."""
    lines = complete_lines(out)
    if out.suffix == ".csv":
        return {row[0]: row[1] for row in csv.reader(lines[1:])}
    return {row["url"]: row["verdict"] for row in map(json.loads, lines)}


def site_in_flight(srv, out: Path) -> bool:
    """A site is finished and another is loading: a Ctrl-C now cuts a visit short."""
    done = finished(out)
    asked = {path for _, path in srv.requests()}
    return bool(done) and any(p in asked and srv.url(p) not in done for p in CRAWL_PATHS)


def crawl_until_interrupted(srv, tmp_path: Path, out: Path, *more: str) -> str:
    """Crawl CRAWL_PATHS one at a time, Ctrl-C in the middle of a visit; returns stderr."""
    sites = tmp_path / "sites.txt"
    sites.write_text("".join(srv.url(p) + "\n" for p in CRAWL_PATHS))
    srv.reset_stats()
    proc = start_cli("crawl", str(sites), "--window", "3", "--concurrency", "1", "--out", str(out),
                     *more, cwd=tmp_path)
    wait_until("a site finished and the next one loading", lambda: site_in_flight(srv, out), proc,
               timeout=180)
    code, errs = interrupt(proc)
    assert code == 130, errs[-2000:]
    # a Ctrl-C is no error: a summary and the advice to resume, no traceback or asyncio noise
    assert "Traceback" not in errs and "never retrieved" not in errs, errs[-3000:]
    assert "interrupted after" in errs
    return errs


def expected_verdicts(srv, urls) -> dict[str, str]:
    want = {srv.url(p["path"]): p["expect"] for p in PAGES}
    return {u: want[u] for u in urls}


def test_ctrl_c_on_crawl_keeps_the_finished_sites_and_resume_completes(srv, tmp_path):
    out = tmp_path / "results.jsonl"
    crawl_until_interrupted(srv, tmp_path, out)
    data = out.read_text(encoding="utf-8")
    assert data.endswith("\n")  # no torn last line
    urls = [json.loads(line)["url"] for line in data.splitlines()]
    assert 1 <= len(urls) < len(CRAWL_PATHS) and len(set(urls)) == len(urls)
    # the visit cut short is not written as done (say, as an error), which --resume would skip:
    # each kept line is its page's real verdict
    kept = finished(out)
    assert kept == expected_verdicts(srv, urls)

    # the rest at once: one at a time mattered only for where the Ctrl-C landed
    r = subprocess.run([sys.executable, "-m", "webscan", "crawl", str(tmp_path / "sites.txt"),
                        "--window", "3", "--out", str(out), "--resume"],
                       cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(x["url"] for x in rows) == sorted(srv.url(p) for p in CRAWL_PATHS)
    assert {x["url"]: x["verdict"] for x in rows[:len(urls)]} == kept  # kept as they were


def test_ctrl_c_on_crawl_to_csv_keeps_whole_rows(srv, tmp_path):
    out = tmp_path / "summary.csv"
    crawl_until_interrupted(srv, tmp_path, out, "--format", "csv")
    text = out.read_text(encoding="utf-8")
    assert text.endswith("\n")
    rows = list(csv.reader(text.splitlines()))
    assert rows[0][:2] == ["url", "verdict"]
    assert all(len(row) == len(rows[0]) for row in rows)
    kept = finished(out)
    assert 1 <= len(kept) == len(rows) - 1 < len(CRAWL_PATHS)
    assert kept == expected_verdicts(srv, kept)
