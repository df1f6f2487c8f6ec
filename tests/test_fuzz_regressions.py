"""Every input bench/fuzz.py found (a crash or a hang) still gets a plain result from the scanner.

Inputs live in tests/fuzz_regressions/<kind>/, one file each, named after what they once did.
They go through `Scanner.analyse_bytes` with the kind forced, the path `webscan scan` takes, and
then `judge`. The scanner's catch-all turns an analyser's exception into an `internal error`,
and the engines' own catch-alls write "internal error ..." / "... analysis failed" (as `fatal`,
or as a note for a nested script or module): any of these texts is the failure guarded against
(bench/fuzz.py counts the same texts as crashes). A hang input must come back with a result
too, within the file's time budget if its pass is still slow.
"""

from __future__ import annotations

from pathlib import Path

import re

import pytest

from webscan.model import VerdictLabel
from webscan.scanner import Scanner
from webscan.verdict import judge

REGRESSIONS = Path(__file__).parent / "fuzz_regressions"
KINDS = ("js", "html", "wasm")
INTERNAL_FAILURE = re.compile(r"internal error|analysis failed|matching failed")
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
    kind, data = path.parent.name, path.read_bytes()
    analysis = scanner.analyse_bytes(data, f"fuzz.{kind}", kind=kind)
    failures = [t for t in (analysis.fatal or "", *analysis.notes) if INTERNAL_FAILURE.search(t)]
    assert not failures, failures
    report = judge(analysis, scanner.sigs.verdict, path=path.name, size=len(data))
    assert report.verdict in set(VerdictLabel)
