"""Every input bench/fuzz.py found (a crash or a hang) still gets a plain result from the scanner.

Inputs live in tests/fuzz_regressions/<kind>/, one file each, named after what they once did.
They go through `Scanner.scan_bytes` with the kind forced, the path `webscan scan` takes; the
scanner's catch-all turns an analyser's exception into an `internal error` report, so that text
in the report is the failure this guards against. A hang input, once the passes are linear and
the per-file budget exists, must also come back with a report rather than stall the test run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from webscan.scanner import Scanner

REGRESSIONS = Path(__file__).parent / "fuzz_regressions"
KINDS = ("js", "html", "wasm")
CASES = sorted(p for kind in KINDS if (REGRESSIONS / kind).is_dir()
               for p in (REGRESSIONS / kind).iterdir() if p.is_file())


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner()


def test_regression_inputs_are_filed_by_kind() -> None:
    stray = [p.name for p in REGRESSIONS.iterdir() if p.name not in KINDS]
    assert not stray, f"tests/fuzz_regressions/ holds only {KINDS} folders; found {stray}"
    assert CASES, "no fuzz regression inputs found under tests/fuzz_regressions/"


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fuzz_input_gets_a_result(scanner: Scanner, path: Path) -> None:
    kind = path.parent.name
    report = scanner.scan_bytes(path.read_bytes(), f"fuzz.{kind}", kind=kind)
    assert "internal error" not in (report.error or ""), report.error
    assert report.verdict is not None
