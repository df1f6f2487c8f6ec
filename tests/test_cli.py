"""`webscan scan` end to end, as a user runs it: formats, exit codes, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli

MINER_SNIPPET = (
    "var miner = new CoinHive.Anonymous('Sx5ZbP3yY1PxbTIZ8fcJ9zNuTvDhOA3R', {throttle: 0.3});\n"
    "miner.start();\n"
)
CLEAN_SNIPPET = "export function add(a, b) { return a + b; }\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "miner.js").write_text(MINER_SNIPPET)
    (tmp_path / "site" / "util.mjs").write_text(CLEAN_SNIPPET)
    (tmp_path / "site" / "notes.txt").write_text(MINER_SNIPPET)  # not a scanned suffix
    return tmp_path


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_jsonl_one_object_per_file_with_required_fields(tree):
    r = run_cli("scan", "site", "--format", "jsonl", cwd=tree)
    rows = _jsonl(r.stdout)
    assert sorted(x["path"] for x in rows) == [os.path.join("site", "miner.js"),
                                                os.path.join("site", "util.mjs")]
    by = {x["path"]: x for x in rows}
    miner = by[os.path.join("site", "miner.js")]
    assert miner["verdict"] == "miner" and miner["technique"] == "T1496"
    assert miner["score"] > 0.5
    f = miner["findings"][0]
    assert {"rule", "message", "location"} <= f.keys() and f["location"]["line"] >= 1
    assert by[os.path.join("site", "util.mjs")]["verdict"] == "clean"
    assert r.returncode == 1  # default --fail-on miner


@pytest.mark.parametrize("fail_on, files, code", [
    ("miner", ["site/util.mjs"], 0),
    ("never", ["site/miner.js"], 0),
    ("suspicious", ["site/miner.js"], 1),
    ("miner", ["site/miner.js", "site/util.mjs"], 1),
])
def test_fail_on_exit_codes(tree, fail_on, files, code):
    r = run_cli("scan", *files, "--fail-on", fail_on, "-q", cwd=tree)
    assert r.returncode == code, r.stderr


def test_usage_errors_exit_2_without_traceback(tree):
    for args in (["scan", "site", "--format", "xml"], ["scan"], ["scan", "site", "--jobs", "-3"],
                 ["scan", "empty-dir-that-has-nothing"]):
        if args[-1] == "empty-dir-that-has-nothing":
            (tree / args[-1]).mkdir()
        r = run_cli(*args, cwd=tree)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr


def test_sarif_is_2_1_0_with_locations(tree):
    out = tree / "out" / "report.sarif"
    r = run_cli("scan", "site", "--format", "sarif", "-o", str(out), cwd=tree)
    doc = json.loads(out.read_text())
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    rule_ids = [x["id"] for x in run["tool"]["driver"]["rules"]]
    assert "webscan.verdict.miner" in rule_ids
    for res in run["results"]:
        assert rule_ids[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] in {"error", "warning", "note"}
        assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("site/")
    assert any(res["ruleId"] == "webscan.verdict.miner" for res in run["results"])
    assert r.returncode == 1


def test_json_document_and_table(tree):
    r = run_cli("scan", "site", "--format", "json", "--fail-on", "never", cwd=tree)
    doc = json.loads(r.stdout)
    assert doc["summary"]["miner"] == 1 and doc["summary"]["clean"] == 1
    r = run_cli("scan", "site", "--fail-on", "never", cwd=tree)
    assert "miner" in r.stdout and "T1496" in r.stdout
    assert "Scanned 2 files" in r.stderr


def test_bad_inputs_get_error_or_verdict_and_run_goes_on(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "empty.js").write_bytes(b"")
    (d / "junk.js").write_bytes(os.urandom(4096) + b"\x00" * 100)
    (d / "latin1.js").write_bytes(b"var s = '\xff\xfe\xe9t\xe9';\n" + MINER_SNIPPET.encode())
    (d / "trunc.wasm").write_bytes(b"\x00asm\x01\x00\x00\x00\x01\x7f")
    (d / "notwasm.wasm").write_bytes(b"hello")
    (d / "nested.js").write_text("x = " + "(" * 50000 + "1" + ")" * 50000 + ";\n")
    (d / "unterminated.js").write_text("var a = 'never closed\n function (")
    (d / "dangling.js").symlink_to(d / "missing-target.js")
    os.mkfifo(d / "pipe.js")  # reading it would block forever
    (d / "ok.js").write_text(CLEAN_SNIPPET)
    r = run_cli("scan", str(d), str(tmp_path / "does-not-exist.js"), "--format", "jsonl",
                "--fail-on", "never")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    rows = {Path(x["path"]).name: x for x in _jsonl(r.stdout)}
    assert len(rows) == 11
    assert rows["pipe.js"]["verdict"] == "error" and "regular file" in rows["pipe.js"]["error"]
    assert rows["does-not-exist.js"]["verdict"] == "error"
    assert "no such file" in rows["does-not-exist.js"]["error"]
    assert rows["dangling.js"]["verdict"] == "error"
    assert rows["junk.js"]["verdict"] == "error"
    assert rows["notwasm.wasm"]["verdict"] == "error"
    assert rows["trunc.wasm"]["verdict"] == "error" and "truncated" in rows["trunc.wasm"]["error"]
    assert rows["empty.js"]["verdict"] == "clean"
    assert rows["latin1.js"]["verdict"] == "miner"  # invalid UTF-8 elsewhere hides nothing
    assert rows["ok.js"]["verdict"] == "clean"
    for row in rows.values():
        if row["verdict"] == "error":
            assert row["error"] and row["explanation"]


def test_oversized_file_is_an_error_not_a_crash(tmp_path):
    big = tmp_path / "big.js"
    big.write_bytes(b"var x = 1;\n" * 200_000)  # 2.2 MB
    r = run_cli("scan", str(big), "--max-size", "1", "--format", "jsonl")
    row = _jsonl(r.stdout)[0]
    assert row["verdict"] == "error" and "--max-size" in row["error"]


def test_large_file_scans(tmp_path):
    """A 50 MB bundle is parsed in windows cut at line ends: the miner at its end is found,
    at its true line, and judged exactly as it would be in a small file."""
    big = tmp_path / "huge.js"
    with open(big, "w") as f:
        chunk = "function f%d(a){return a*%d+1;}\n"
        for i in range(1_300_000):
            f.write(chunk % (i, i))
        f.write(MINER_SNIPPET)
    assert big.stat().st_size > 50_000_000
    r = run_cli("scan", str(big), "--format", "jsonl", "--fail-on", "never")
    row = _jsonl(r.stdout)[0]
    assert row["verdict"] == "miner", row["explanation"]
    ctor = next(f for f in row["findings"] if f["rule"] == "js.coinhive.anonymous-ctor")
    assert ctor["location"]["line"] == 1_300_001
    assert "parse window" in row["explanation"]  # the note says how it was read


def test_ten_thousand_small_files_all_reported(tmp_path):
    d = tmp_path / "many"
    for i in range(100):
        sub = d / f"d{i:03}"
        sub.mkdir(parents=True)
        for j in range(100):
            (sub / f"m{j:03}.js").write_text(f"export const v{j} = {i * j};\n")
    (d / "d050" / "m050.js").write_text(MINER_SNIPPET)
    r = run_cli("scan", str(d), "--format", "jsonl", "--jobs", "2")
    rows = _jsonl(r.stdout)
    assert len(rows) == 10_000
    assert len({x["path"] for x in rows}) == 10_000
    flagged = [x["path"] for x in rows if x["verdict"] == "miner"]
    assert flagged == [str(d / "d050" / "m050.js")]
    assert r.returncode == 1


def test_schema_command_prints_report_schema():
    r = run_cli("schema")
    schema = json.loads(r.stdout)
    assert {"verdict", "score", "findings"} <= set(schema["properties"])
    assert "miner" in json.dumps(schema)


def _fixture_expectations() -> dict[str, str]:
    """The verdict each script, page and module fixture must get, from the engine tests'
    tables (one set of cases: the CLI with its process pool must agree with the engines)."""
    from test_html_engine import EXPECTED as HTML
    from test_js_engine import EXPECTED as JS
    from test_js_engine import EXPECTED_OBFUSCATED as OBFUSCATED
    from test_wasm_engine import HASH_LIBRARIES, MINERS, WORKLOADS
    from test_wasm_pow import LOOKALIKES
    from test_wasm_pow import MINERS as POW_MINERS

    wasm = {**{n: "clean" for n in HASH_LIBRARIES + WORKLOADS + LOOKALIKES},
            **{n: "miner" for n in MINERS + POW_MINERS}, "kitimport.wasm": "suspicious"}
    return {**{f"js/{n}": v for n, v in JS.items()},
            **{f"js/obfuscated/{n}": v for n, v in OBFUSCATED.items()},
            **{f"html/{n}": v.value for n, v in HTML.items()},
            **{f"wasm/{n}": v for n, v in wasm.items()}}


def test_fixtures_scan_gives_each_fixture_its_verdict():
    expected = _fixture_expectations()
    dirs = sorted({str(FIXTURES / k.split("/")[0]) for k in expected})
    r = run_cli("scan", *dirs, "--format", "jsonl", "--fail-on", "never")
    assert r.returncode == 0, r.stderr
    got = {Path(x["path"]).relative_to(FIXTURES).as_posix(): x["verdict"] for x in _jsonl(r.stdout)}
    assert got == expected


def test_signatures_check_and_list():
    r = run_cli("signatures", "check")
    assert r.returncode == 0, r.stderr
    r = run_cli("signatures", "list")
    assert r.returncode == 0 and "kit-api" in r.stdout


def test_signatures_import_writes_a_loadable_file(tmp_path):
    lst = tmp_path / "nocoin.txt"
    lst.write_text("! a list\n||evil-miner-test.net^\n||other-pool-test.net^$third-party\n"
                   "example.com##.ad\n0.0.0.0 third-miner-test.org\n")
    out = tmp_path / "extra" / "nocoin.yaml"
    r = run_cli("signatures", "import", str(lst), "-o", str(out))
    assert r.returncode == 0, r.stderr
    page = tmp_path / "p.html"
    page.write_text('<html><script src="https://cdn.evil-miner-test.net/lib.js"></script></html>')
    from conftest import ROOT

    r = run_cli("scan", str(page), "-s", str(ROOT / "signatures"), "-s", str(out.parent),
                "--format", "jsonl", "--fail-on", "never")
    row = _jsonl(r.stdout)[0]
    assert row["verdict"] == "miner", row["explanation"]  # a listed host loaded as a script
    (f,) = [f for f in row["findings"] if f["rule"] == "imported.nocoin"]
    assert f["category"] == "miner-domain-load" and "evil-miner-test.net" in f["message"]


def test_html_report_escapes_and_shows_evidence(tree):
    hostile = tree / "site" / "<img src=x onerror=alert(1)>.js"
    hostile.write_text(MINER_SNIPPET)
    r = run_cli("scan", "site", "--report", "out/report.html", "-q", "--fail-on", "never", cwd=tree)
    assert r.returncode == 0, r.stderr
    html = (tree / "out" / "report.html").read_text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;.js" in html
    assert "js.coinhive.anonymous-ctor" in html and ">miner<" in html
    assert "<script" not in html  # self-contained and inert


def test_cpu_chart_is_inline_svg():
    from webscan.model import CpuPoint
    from webscan.output.html_report import cpu_chart

    svg = cpu_chart([CpuPoint(t=i, share=s) for i, s in enumerate([0.1, 1.9, 2.0, 0.2])])
    assert svg.startswith("<svg") and "polyline" in svg and "peak 2.00" in svg
    assert "no CPU samples" in cpu_chart([])
