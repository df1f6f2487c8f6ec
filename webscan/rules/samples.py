"""Run every rule's must-match and must-not-match samples (YARA/Semgrep habit).

One runner serves `webscan signatures check` and the test suite, so a rule that stops
matching its own sample names itself, and adding a rule never means touching a test.
"""

from __future__ import annotations

import json
from pathlib import Path

from webscan.rules.loader import SignatureSet


def _scanner(sigs: SignatureSet):
    from webscan.scanner import Scanner

    return Scanner(sigs)


def run_samples(sigs: SignatureSet, base: Path) -> list[str]:
    """Return one line per failing sample; `base` resolves the file paths Wasm samples name."""
    scanner = _scanner(sigs)
    failures: list[str] = []

    def check(rule, sample: str, expect: bool, hit: bool | None) -> None:
        if hit is None:
            return  # sample not available here (e.g. fixtures not installed)
        if hit != expect:
            what = "did not match its must-match" if expect else "matched its must-not-match"
            failures.append(f"{sigs.sources.get(rule.id, '?')}: rule {rule.id} {what} sample "
                            f"{sample[:80]!r}")

    for rule in sigs.domains:
        for sample, expect in _pairs(rule):
            hits = scanner.engines.domains.match_url(sample)
            check(rule, sample, expect, any(h.rule.id == rule.id for h in hits))
    for rule in sigs.protocol:
        for sample, expect in _pairs(rule):
            try:
                msg = json.loads(sample)
            except ValueError:
                failures.append(f"{sigs.sources[rule.id]}: rule {rule.id}: sample is not JSON: "
                                f"{sample[:80]!r}")
                continue
            hits = scanner.engines.protocol.match_message(msg)
            check(rule, sample, expect, any(r.id == rule.id for r in hits))
    for rule in sigs.js:
        for sample, expect in _pairs(rule):
            report = scanner.scan_bytes(sample.encode(), "sample.js", kind="js")
            check(rule, sample, expect, any(f.rule == rule.id for f in report.findings))
    for rule in [*sigs.wasm, *sigs.constants]:
        for sample, expect in _pairs(rule):
            path = base / sample
            if not path.is_file():
                continue
            report = scanner.scan_path(str(path))
            hit = any(f.rule == rule.id for f in report.findings)
            if hasattr(rule, "primitive"):
                hit = hit or any(rule.primitive in m.primitives for m in report.wasm_modules)
            check(rule, sample, expect, hit)
    return failures


def _pairs(rule):
    return [(s, True) for s in rule.samples.match] + [(s, False) for s in rule.samples.no_match]
