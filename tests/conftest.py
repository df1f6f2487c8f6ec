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
