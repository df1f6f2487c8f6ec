"""Build Findings from rules, the same way in every analyser."""

from __future__ import annotations

from webscan.model import EvidenceKind, Finding, Location
from webscan.rules.schema import RuleBase

EXCERPT_MAX = 200


def excerpt_of(text: str | bytes | None, limit: int = EXCERPT_MAX) -> str | None:
    """A one-line, bounded excerpt safe to print in a terminal or a SARIF file."""
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def finding(rule: RuleBase, kind: EvidenceKind, location: Location, *, message: str | None = None,
            excerpt: str | bytes | None = None, category: str | None = None) -> Finding:
    """A Finding carrying the rule's id, category, severity and references.

    `category` overrides the rule's own where the same rule means different things in
    different places (a mining domain loaded as a script versus merely mentioned).
    """
    return Finding(
        rule=rule.id,
        kind=kind,
        category=category or rule.category,
        severity=rule.severity,
        message=message or rule.description,
        location=location,
        excerpt=excerpt_of(excerpt),
        references=list(rule.references),
    )
