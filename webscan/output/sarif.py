"""SARIF 2.1.0, so code-scanning UIs (GitHub, GitLab, IDEs) show webscan findings in place.

Every finding becomes a result on its rule; every file judged `miner` or `suspicious` also gets
a result on the pseudo-rule `webscan.verdict.<label>` carrying the explanation, so a CI gate
reading SARIF sees the verdict, not only the evidence.
"""

from __future__ import annotations

from pathlib import PurePath
from urllib.parse import quote

from webscan import __version__
from webscan.model import Finding, Report, VerdictLabel
from webscan.rules.loader import SignatureSet

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/webscan/webscan"
_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
_VERDICT_RULES = {
    VerdictLabel.miner: ("error", "The file mines cryptocurrency in the browser (ATT&CK T1496)."),
    VerdictLabel.suspicious: ("warning", "The file shows signs of in-browser mining, not conclusive."),
}

_VERDICT_BY_ID = {f"webscan.verdict.{label.value}": v for label, v in _VERDICT_RULES.items()}


def _uri(target: str) -> str:
    if "://" in target:
        return target
    return quote(PurePath(target).as_posix(), safe="/:._-~")


def _region(f: Finding) -> dict | None:
    loc = f.location
    if loc.line:
        region = {"startLine": loc.line}
        if loc.column:
            region["startColumn"] = loc.column
        if f.excerpt:
            region["snippet"] = {"text": f.excerpt}
        return region
    if loc.wasm_offset is not None:
        return {"byteOffset": loc.wasm_offset}
    return None


def _location(target: str, f: Finding | None = None) -> dict:
    physical: dict = {"artifactLocation": {"uri": _uri(target)}}
    if f is not None and (region := _region(f)):
        physical["region"] = region
    loc: dict = {"physicalLocation": physical}
    if f is not None and f.location.context:
        loc["message"] = {"text": f.location.context}
    return loc


def to_sarif(reports: list[Report], sigs: SignatureSet) -> dict:
    rules: dict[str, dict] = {}
    results = []
    notifications = []

    def rule_entry(rule_id: str) -> int:
        if rule_id not in rules:
            try:
                r = sigs.rule(rule_id)
                rules[rule_id] = {
                    "id": rule_id,
                    "shortDescription": {"text": r.description.split(". ")[0][:200]},
                    "fullDescription": {"text": r.description},
                    "defaultConfiguration": {"level": _LEVEL[r.severity.value]},
                    "helpUri": r.references[0] if r.references else INFO_URI,
                    "properties": {"category": r.category, "severity": r.severity.value,
                                   "tags": ["security", "cryptojacking"]},
                }
            except KeyError:  # a verdict pseudo-rule, or evidence the engine makes itself
                level, text = _VERDICT_BY_ID.get(rule_id, ("note", rule_id))
                rules[rule_id] = {"id": rule_id, "shortDescription": {"text": text},
                                  "defaultConfiguration": {"level": level}}
        return list(rules).index(rule_id)

    for rep in reports:
        target = rep.path or rep.url or "?"
        if rep.verdict is VerdictLabel.error:
            notifications.append({"level": "error",
                                  "message": {"text": f"{target}: {rep.error or rep.explanation}"},
                                  "locations": [_location(target)]})
            continue
        if rep.verdict in _VERDICT_RULES:
            rid = f"webscan.verdict.{rep.verdict.value}"
            results.append({
                "ruleId": rid, "ruleIndex": rule_entry(rid),
                "level": _VERDICT_RULES[rep.verdict][0],
                "message": {"text": rep.explanation},
                "locations": [_location(target)],
                "properties": {"verdict": rep.verdict.value, "score": rep.score,
                               "technique": rep.technique},
            })
        for f in rep.findings:
            results.append({
                "ruleId": f.rule, "ruleIndex": rule_entry(f.rule),
                "level": _LEVEL[f.severity.value],
                "message": {"text": f.message},
                "locations": [_location(f.location.target or target, f)],
                "properties": {"category": f.category, "kind": f.kind.value,
                               "fileVerdict": rep.verdict.value},
            })
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "webscan", "version": __version__, "informationUri": INFO_URI,
                "semanticVersion": __version__,
                "properties": {"signaturesVersion": sigs.version},
                "rules": list(rules.values()),
            }},
            "invocations": [{"executionSuccessful": True,
                             "toolExecutionNotifications": notifications}],
            "results": results,
        }],
    }
