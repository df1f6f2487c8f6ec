"""What an analyser hands back: findings and module fingerprints, before any verdict.

Analysers only observe; webscan.verdict alone decides. Keeping the two apart lets the crawler
add runtime evidence to the same Analysis and get the same verdict logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from webscan import budget
from webscan.model import Finding, WasmSummary


@dataclass
class Analysis:
    findings: list[Finding] = field(default_factory=list)
    wasm_modules: list[WasmSummary] = field(default_factory=list)
    fatal: str | None = None
    """Why the target could not be analysed at all (gives an `error` verdict)."""
    notes: list[str] = field(default_factory=list)
    """Limits a reader should know about (e.g. file too large to parse fully)."""
    cut_short: str | None = None
    """Why analysis stopped before the end (its time budget ran out): the findings are those
    made until then. The verdict is `error` unless they already make a `miner`."""

    def __post_init__(self) -> None:
        budget.track(self)  # under a time budget, what was found so far is kept on expiry

    def extend(self, other: "Analysis") -> "Analysis":
        self.findings.extend(other.findings)
        self.wasm_modules.extend(other.wasm_modules)
        self.notes.extend(other.notes)
        self.cut_short = self.cut_short or other.cut_short
        return self
