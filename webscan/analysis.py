"""What an analyser hands back: findings and module fingerprints, before any verdict.

Analysers only observe; webscan.verdict alone decides. Keeping the two apart lets the crawler
add runtime evidence to the same Analysis and get the same verdict logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from webscan.model import Finding, WasmSummary


@dataclass
class Analysis:
    findings: list[Finding] = field(default_factory=list)
    wasm_modules: list[WasmSummary] = field(default_factory=list)
    fatal: str | None = None
    """Why the target could not be analysed at all (gives an `error` verdict)."""
    notes: list[str] = field(default_factory=list)
    """Limits a reader should know about (e.g. file too large to parse fully)."""

    def extend(self, other: "Analysis") -> "Analysis":
        self.findings.extend(other.findings)
        self.wasm_modules.extend(other.wasm_modules)
        self.notes.extend(other.notes)
        return self
