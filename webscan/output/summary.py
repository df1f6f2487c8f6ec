"""Counting verdicts, shared by every output format and the exit code."""

from __future__ import annotations

from collections import Counter

from webscan.model import Report, VerdictLabel


def verdict_counts(reports: list[Report]) -> dict[str, int]:
    c = Counter(r.verdict.value for r in reports)
    return {v.value: c.get(v.value, 0) for v in VerdictLabel}


def summary_line(reports: list[Report], seconds: float, total_bytes: int) -> str:
    counts = verdict_counts(reports)
    rate = total_bytes / seconds / 1e6 if seconds > 0 else 0.0
    return (f"Scanned {len(reports)} file{'s' if len(reports) != 1 else ''} "
            f"({total_bytes / 1e6:.1f} MB) in {seconds:.1f} s ({rate:.1f} MB/s): "
            + ", ".join(f"{n} {v}" for v, n in counts.items()))
