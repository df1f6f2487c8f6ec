"""The library API (`Scanner`) as a Python caller uses it, beside the CLI that wraps it."""

from __future__ import annotations

from conftest import FIXTURES

from webscan.model import VerdictLabel
from webscan.scanner import Scanner


def test_scan_path_takes_a_pathlib_path_and_reports_a_str_path():
    kit = FIXTURES / "js" / "coinhive-style-kit.js"
    report = Scanner().scan_path(kit)
    assert report.verdict == VerdictLabel.miner
    assert report.path == str(kit)


def test_scan_path_of_a_missing_file_is_an_error_report(tmp_path):
    report = Scanner().scan_path(tmp_path / "gone.js")
    assert report.verdict == VerdictLabel.error
    assert report.error
