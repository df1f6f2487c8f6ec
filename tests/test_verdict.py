"""The verdict logic on the real weights: weak evidence never makes a miner, however much."""

from __future__ import annotations

from webscan.analysis import Analysis
from webscan.model import EvidenceKind, Finding, Location, Severity, VerdictLabel
from webscan.verdict import judge, score_findings


def _f(category: str, rule: str = "test.rule", line: int = 1) -> Finding:
    return Finding(rule=f"{rule}.{category}", kind=EvidenceKind.js, category=category,
                   severity=Severity.medium, message=f"saw {category}",
                   location=Location(target="x.js", line=line))


def _strong(sigs):
    return [c for c, v in sigs.verdict.categories.items() if v.strong]


def _weak(sigs):
    return [c for c, v in sigs.verdict.categories.items() if not v.strong]


def test_no_findings_is_clean(sigs):
    r = judge(Analysis(), sigs.verdict, path="x.js")
    assert r.verdict is VerdictLabel.clean and r.score == 0 and r.technique is None


def test_all_weak_categories_together_are_never_miner(sigs):
    findings = [_f(c) for c in _weak(sigs)]
    r = judge(Analysis(findings=findings), sigs.verdict, path="x.js")
    assert r.verdict is not VerdictLabel.miner


def test_repeating_one_weak_rule_does_not_add_up(sigs):
    one = judge(Analysis(findings=[_f("websocket")]), sigs.verdict, path="x.js")
    many = judge(Analysis(findings=[_f("websocket", line=i) for i in range(1, 200)]),
                 sigs.verdict, path="x.js")
    assert one.score == many.score
    assert many.verdict is VerdictLabel.clean


def test_strong_evidence_with_support_is_miner_with_attack_id(sigs):
    strong = _strong(sigs)
    assert strong
    for cat in strong:
        r = judge(Analysis(findings=[_f(cat), _f("worker-blob"), _f("thread-per-core")]),
                  sigs.verdict, path="x.js")
        assert r.verdict is VerdictLabel.miner, cat
        assert r.technique == "T1496"
        assert cat in r.explanation


def test_any_strong_category_is_at_least_suspicious(sigs):
    for cat in _strong(sigs):
        r = judge(Analysis(findings=[_f(cat)]), sigs.verdict, path="x.js")
        assert r.verdict in (VerdictLabel.suspicious, VerdictLabel.miner)


def test_fatal_without_evidence_is_error_with_reason(sigs):
    r = judge(Analysis(fatal="not a WebAssembly module"), sigs.verdict, path="x.wasm")
    assert r.verdict is VerdictLabel.error and "not a WebAssembly module" in r.error


def test_score_is_noisy_or_of_category_maxima(sigs):
    w = sigs.verdict.categories
    score, cats = score_findings([_f("websocket"), _f("worker-blob"), _f("websocket")], sigs.verdict)
    expected = 1 - (1 - w["websocket"].weight) * (1 - w["worker-blob"].weight)
    assert abs(score - expected) < 1e-3 and set(cats) == {"websocket", "worker-blob"}


def test_findings_are_ordered_strongest_first(sigs):
    r = judge(Analysis(findings=[_f("websocket"), _f("kit-api")]), sigs.verdict, path="x.js")
    assert r.findings[0].category == "kit-api"


def test_capabilities_of_a_heavy_web_app_stay_clean(sigs):
    """Blob workers per core, Wasm, a socket and high CPU: a physics demo as much as a miner."""
    group = sigs.verdict.groups["capabilities"]
    findings = [_f(c) for c in group.categories]
    r = judge(Analysis(findings=findings), sigs.verdict, path="x.js")
    assert r.verdict is VerdictLabel.clean and r.score <= group.cap + 1e-9


def test_capabilities_still_add_to_miner_specific_evidence(sigs):
    caps = [_f(c) for c in sigs.verdict.groups["capabilities"].categories]
    alone = judge(Analysis(findings=[_f("throttle")]), sigs.verdict, path="x.js")
    both = judge(Analysis(findings=caps + [_f("throttle")]), sigs.verdict, path="x.js")
    assert both.score > alone.score and both.verdict is VerdictLabel.suspicious


def test_a_commented_out_kit_call_never_tips_strong_code_to_miner(sigs):
    """kit-internals (0.75) alone is under the miner threshold; the 0.5 of a kit call left in a
    comment would lift it over, but a browser never runs a comment."""
    cfg = sigs.verdict
    assert not cfg.categories["kit-api-commented"].miner_evidence
    alone = judge(Analysis(findings=[_f("kit-internals")]), cfg, path="x.js")
    both = judge(Analysis(findings=[_f("kit-internals"), _f("kit-api-commented")]), cfg, path="x.js")
    assert alone.verdict is VerdictLabel.suspicious
    assert both.verdict is VerdictLabel.suspicious and both.score >= cfg.miner_threshold
    # comment evidence with every weak category: still not a miner
    weak = [_f(c) for c in _weak(sigs)]
    assert judge(Analysis(findings=weak), cfg, path="x.js").verdict is not VerdictLabel.miner


def test_strong_code_that_is_a_miner_stays_one_next_to_a_comment(sigs):
    r = judge(Analysis(findings=[_f("kit-api"), _f("kit-api-commented")]), sigs.verdict, path="x.js")
    assert r.verdict is VerdictLabel.miner
