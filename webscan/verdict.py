"""Turn evidence into a verdict, a score and an explanation: the only place that does.

Each finding belongs to a category with a weight (signatures/verdict.yaml). Within a category
only the strongest finding counts, so twenty hits of one weak rule never add up to a miner.
Categories combine as a noisy-OR: score = 1 - prod(1 - weight); a group of capability
categories (workers, Wasm, sockets, CPU: every heavy web app has them) first combines on its
own and is capped, so such capabilities alone stay clean. A `miner` verdict needs the
score over the miner threshold AND enough distinct *strong* categories (kit API use, pool
protocol, a Wasm PoW combination, a mining-service load): hashing libraries, wallets and
anti-miner scripts carry weak evidence only, and weak evidence alone tops out at `suspicious`.
"""

from __future__ import annotations

from collections.abc import Iterable

from webscan.analysis import Analysis
from webscan.model import ATTACK_TECHNIQUE, Finding, Report, VerdictLabel
from webscan.rules.schema import VerdictConfig

_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """Same rule at the same place twice (e.g. reached through two decodings) is one finding."""
    seen: set[tuple] = set()
    out = []
    for f in findings:
        loc = f.location
        key = (f.rule, loc.target, loc.line, loc.column, loc.wasm_function, loc.context)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def score_findings(findings: list[Finding], config: VerdictConfig) -> tuple[float, dict[str, float]]:
    """Noisy-OR of the strongest weight per category; returns the score and per-category weight."""
    return score_categories((f.category for f in findings), config)


def score_categories(categories: Iterable[str], config: VerdictConfig
                     ) -> tuple[float, dict[str, float]]:
    best: dict[str, float] = {}
    for name in categories:
        cat = config.categories.get(name)
        if cat is not None:
            best[name] = max(best.get(name, 0.0), cat.weight)
    remaining = 1.0
    grouped: set[str] = set()
    for group in config.groups.values():
        inside = 1.0
        for c in group.categories:
            if c in best:
                inside *= 1.0 - best[c]
                grouped.add(c)
        remaining *= 1.0 - min(group.cap, 1.0 - inside)
    for c, w in best.items():
        if c not in grouped:
            remaining *= 1.0 - w
    return round(1.0 - remaining, 4), best


def classify(findings: list[Finding], config: VerdictConfig
             ) -> tuple[VerdictLabel, float, dict[str, float], list[str]]:
    """The label, score, weight per category and strong categories of some findings."""
    return classify_categories([f.category for f in findings], config)


def classify_categories(categories: Iterable[str], config: VerdictConfig
                        ) -> tuple[VerdictLabel, float, dict[str, float], list[str]]:
    """The verdict from categories alone, without a report around it: the service re-judges
    every incoming report this way."""
    categories = list(categories)
    score, cats = score_categories(categories, config)
    strong = sorted(c for c in cats if config.categories[c].strong)
    # evidence a browser never runs (a miner call in a comment) may make `suspicious`, but it
    # must not tip strong code over the miner threshold: that is judged without it
    inert = {c for c in cats if not config.categories[c].miner_evidence}
    miner_score = score_categories([c for c in categories if c not in inert], config)[0] if inert else score
    if (miner_score >= config.miner_threshold and len(strong) >= config.miner_min_strong
            and len(cats) - len(inert) >= config.miner_min_categories):
        label = VerdictLabel.miner
    elif score >= config.suspicious_threshold or strong:
        label = VerdictLabel.suspicious
    else:
        label = VerdictLabel.clean
    return label, score, cats, strong


def judge(analysis: Analysis, config: VerdictConfig, **report_fields) -> Report:
    """Build the Report for one target from everything observed about it."""
    findings = sorted(
        _dedupe(analysis.findings),
        key=lambda f: (-config.categories[f.category].weight if f.category in config.categories else 0,
                       _SEVERITY_ORDER[f.severity.value]),
    )
    label, score, cats, strong = classify(findings, config)
    notes = "".join(f" Note: {n}" for n in analysis.notes)
    if analysis.fatal and not findings:
        return Report(
            verdict=VerdictLabel.error, score=0.0, error=analysis.fatal,
            explanation=f"Could not be analysed: {analysis.fatal.rstrip('.')}.{notes}",
            findings=findings, wasm_modules=analysis.wasm_modules, **report_fields,
        )
    explanation = _explain(label, score, cats, strong, findings, config) + notes
    if analysis.cut_short:
        # A miner found before the time budget ran out still counts; anything less is not a
        # verdict on the whole file, so it is an error that keeps what was found.
        if label is not VerdictLabel.miner:
            return Report(
                verdict=VerdictLabel.error, score=score, error=analysis.cut_short,
                explanation=f"Could not be analysed in full: {analysis.cut_short}. Found before "
                            f"it stopped: {explanation}",
                findings=findings, wasm_modules=analysis.wasm_modules, **report_fields,
            )
        explanation += (f" Note: analysis was cut short ({analysis.cut_short}); the evidence "
                        "above was found before it stopped.")
    return Report(
        verdict=label,
        score=score,
        technique=ATTACK_TECHNIQUE if label is VerdictLabel.miner else None,
        explanation=explanation,
        error=analysis.fatal or analysis.cut_short,
        findings=findings,
        wasm_modules=analysis.wasm_modules,
        **report_fields,
    )


def _gist(message: str, limit: int = 110) -> str:
    """The first sentence of a finding's message, on one line: the explanation is a summary,
    the findings below it carry the full text."""
    text = " ".join(message.split())
    cut = text.find(". ")
    text = text if cut < 0 else text[:cut]
    text = text.rstrip(".")
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _explain(label: VerdictLabel, score: float, cats: dict[str, float], strong: list[str],
             findings: list[Finding], config: VerdictConfig) -> str:
    if not findings:
        return "No evidence of mining found."
    ranked = sorted(cats, key=lambda c: -cats[c])
    parts = []
    for c in ranked[:4]:
        top = next(f for f in findings if f.category == c)
        parts.append(f"{c} ({top.rule}: {_gist(top.message)})")
    head = {
        VerdictLabel.miner: f"Mining (ATT&CK {ATTACK_TECHNIQUE}): strong evidence from {', '.join(strong)}",
        VerdictLabel.suspicious: "Suspicious: evidence is not conclusive for mining",
        VerdictLabel.clean: "Clean: only weak, common signals",
    }[label]
    more = f"; and {len(ranked) - 4} more categories" if len(ranked) > 4 else ""
    return f"{head}; score {score:.2f}. Evidence: " + "; ".join(parts) + more + "."
