"""Shared fixtures: the real signature set and a real Scanner, built once per test session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "site_fixtures"


@pytest.fixture(scope="session")
def sigs():
    from webscan.rules.loader import load_signatures

    return load_signatures([ROOT / "signatures"])


@pytest.fixture(scope="session")
def scanner(sigs):
    from webscan.scanner import Scanner

    return Scanner(sigs)


def run_cli(*args: str, cwd: Path = ROOT, timeout: float = 600, input: str | None = None):
    """Run `python -m webscan` from the source tree, as a user would run `webscan`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    env.pop("WEBSCAN_SIGNATURES", None)
    return subprocess.run([sys.executable, "-m", "webscan", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, input=input)


# --- Under CI a skip is a failure --------------------------------------------------------------
# Outside CI a suite may skip where a tool is missing (no Chromium on a laptop), and says why.
# In CI `.ci/run` installs every tool the tests need, so a skip there means a suite silently did
# not run: it fails instead, with the skip's own reason, so a green CI means every suite ran.

def _skips_fail() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _as_failure(report: pytest.TestReport | pytest.CollectReport) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (f"skipped under CI={os.environ.get('CI')}, where every tool the tests need "
                       f"is installed by .ci/run: {reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if _skips_fail() and report.skipped and not hasattr(report, "wasxfail"):
        _as_failure(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    outcome = yield
    report = outcome.get_result()
    if _skips_fail() and report.skipped:
        _as_failure(report)
