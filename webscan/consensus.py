"""Shared verdicts from many browsers' reports and the service's own audits.

Reports come from clients the service cannot trust: a modified extension can claim anything,
and a rival can flood reports to smear a site. So, to resist report poisoning:

1. A report's own verdict and categories are ignored. Each finding is re-judged by rule id
   against OUR signatures (category and severity come from our rule, unknown ids are
   dropped), and webscan.verdict scores what is left exactly as for a scanned file.
2. Reports alone make a site at most `suspicious`. `miner` needs either an audit crawl by
   the service that says `miner`, or `confirm_reporters` independent reporters whose
   re-judged reports say `miner` within `window`.
3. Independent means distinct client networks (IPv4 /24, IPv6 /48), not distinct install ids:
   ids are free to mint, addresses are not. Per-client rate limits in the service bound the
   rest.

This module is pure logic over facts the service's store gathered; it knows no database.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from webscan.browser.evidence import RUNTIME_RULES
from webscan.model import (ATTACK_TECHNIQUE, AuditSummary, Finding, PageReport,
                           SiteVerdict, VerdictLabel)
from webscan.rules.loader import SignatureSet
from webscan.verdict import classify_categories


@dataclass(frozen=True)
class ConsensusPolicy:
    confirm_reporters: int = 3
    """Independent reporters whose re-judged reports say `miner` before reports alone make a
    site `miner`."""
    window: timedelta = timedelta(days=30)
    """Reports older than this no longer count towards a verdict."""


class RuleCatalog:
    """Rule id -> (category, severity) for every rule a client may cite: the signature set's
    rules and the browser-only runtime rules."""

    def __init__(self, sigs: SignatureSet) -> None:
        self.sigs = sigs
        self._rules = {r.id: (r.category, r.severity) for r in sigs.all_rules()}
        self._rules.update({r.id: (r.category, r.severity) for r in RUNTIME_RULES.values()})

    def rejudge(self, report: PageReport) -> Rejudged:
        """Score a client's findings with our own rule table; the client's labels never count.
        Only a flagged report's findings are kept (relabelled), as evidence to show."""
        known = [(f, self._rules[f.rule]) for f in report.findings if f.rule in self._rules]
        label, score, _, _ = classify_categories((rule[0] for _, rule in known),
                                                 self.sigs.verdict)
        evidence: list[Finding] = []
        if label in (VerdictLabel.miner, VerdictLabel.suspicious):
            weights = self.sigs.verdict.categories
            relabelled = [f.model_copy(update={"category": cat, "severity": sev})
                          for f, (cat, sev) in known]
            evidence = sorted(relabelled, key=lambda f: -weights[f.category].weight
                              if f.category in weights else 0.0)
        return Rejudged(verdict=label, score=score, evidence=evidence)


@dataclass(frozen=True)
class Rejudged:
    verdict: VerdictLabel
    score: float
    evidence: list[Finding]


@functools.lru_cache(maxsize=65536)
def network_of(address: str | None) -> str:
    """The client network a report counts for: /24 for IPv4, /48 for IPv6 (IPv4-mapped IPv6
    counts as IPv4). Unknown or unparsable peers share one bucket, so they count once."""
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@dataclass
class ScopeFacts:
    """What the store knows about one origin or registrable domain."""

    reports: int = 0
    reporters: int = 0  # distinct networks that reported at all
    miner_reporters: int = 0  # distinct networks whose re-judged report said miner, in window
    flagging_reporters: int = 0  # ... said miner or suspicious, in window
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    report_evidence: str = "[]"  # findings of the latest flagged report, as stored (JSON)
    last_audit: AuditSummary | None = None
    audit_evidence: str = "[]"
    miner_audit: AuditSummary | None = None  # latest audit that found mining, not since cleared
    miner_audit_evidence: str = "[]"


def shared_verdict(scope: str, key: str, facts: ScopeFacts, policy: ConsensusPolicy
                   ) -> tuple[SiteVerdict, str]:
    """Decide one scope's verdict from audits and reports (rules in the module docstring).

    Returns the verdict with its `evidence` left empty, and the evidence that goes with it as
    the JSON list the store kept: lookups splice it in rather than parse and re-serialise
    twenty findings per answer."""
    verdict, evidence = _decide(scope, key, facts, policy)
    return verdict, evidence or "[]"


def _decide(scope: str, key: str, facts: ScopeFacts, policy: ConsensusPolicy
            ) -> tuple[SiteVerdict, str | None]:
    audit = facts.last_audit
    audited = audit is not None and audit.verdict not in (None, VerdictLabel.error)
    common = dict(scope=scope, key=key, reports=facts.reports, reporters=facts.reporters,
                  flagging_reporters=facts.flagging_reporters, first_seen=facts.first_seen,
                  last_seen=facts.last_seen, last_audit=audit)
    if facts.miner_audit is not None:
        verdict = SiteVerdict(**common, verdict=VerdictLabel.miner, technique=ATTACK_TECHNIQUE,
                              source="audit",
                              explanation=f"An audit crawl by this service found mining "
                                          f"(audit {facts.miner_audit.id}).")
        return verdict, facts.miner_audit_evidence
    if facts.miner_reporters >= policy.confirm_reporters:
        verdict = SiteVerdict(**common, verdict=VerdictLabel.miner, technique=ATTACK_TECHNIQUE,
                              source="reporters",
                              explanation=f"{facts.miner_reporters} independent reporters saw "
                                          f"mining (the service needs "
                                          f"{policy.confirm_reporters}).")
        return verdict, facts.report_evidence
    if facts.flagging_reporters:
        verdict = SiteVerdict(**common, verdict=VerdictLabel.suspicious,
                              source="unconfirmed-reports",
                              explanation=f"{facts.flagging_reporters} independent reporter(s) "
                                          f"saw signs of mining, not yet confirmed by an audit "
                                          f"or by {policy.confirm_reporters} independent "
                                          f"reporters.")
        return verdict, facts.report_evidence
    if audited:
        label, note = audit.verdict, ""
        if label is VerdictLabel.miner:  # older than the window: no longer enough on its own
            label, note = VerdictLabel.suspicious, " long ago; audit again to confirm"
        verdict = SiteVerdict(**common, verdict=label, source="audit",
                              explanation=f"The last audit crawl (audit {audit.id}) found "
                                          f"{audit.verdict.value}{note}; no recent reports say "
                                          f"otherwise.")
        return verdict, facts.audit_evidence
    if facts.reports:
        return SiteVerdict(**common, verdict=VerdictLabel.clean, source="unconfirmed-reports",
                           explanation="Reporters saw no sign of mining."), None
    return SiteVerdict(**common, verdict=None, source="none",
                       explanation="Nothing is known about this site: no reports, no audit."), None


def worse(a: VerdictLabel | None, b: VerdictLabel | None) -> VerdictLabel | None:
    """The more alarming of two verdicts (None < clean < suspicious < miner)."""
    order = {None: -1, VerdictLabel.error: -1, VerdictLabel.clean: 0,
             VerdictLabel.suspicious: 1, VerdictLabel.miner: 2}
    return a if order[a] >= order[b] else b
