"""Compile a signature set into what the extension's background scorer reads (rules.json)
and into declarativeNetRequest rules (known mining domains blocked before they load).

Only data crosses here, never logic: the scorer (extension/src/scorer.js) ports the verdict
arithmetic, the protocol shapes and the Wasm constant matching, and reads every weight,
threshold, shape and constant from this output. JavaScript rules are left out: they need a
parser the extension does not have (the service and `webscan scan` apply them).

The same document can also come from the service's `GET /v1/signatures` feed; scorer.js's
`fromFeed` converts the feed into this form (the tests check both agree).
"""

from __future__ import annotations

import re

from webscan.browser.evidence import (CPU_SHARE_THRESHOLD, CPU_WINDOW_S, HOT_CALLS_PER_S, LOOP_SUSTAIN,
                                      MIN_CPU_SPAN_S, MIN_NONCE_PAIRS, MULTICORE_SHARE, NONCE_SHARE,
                                      RUNTIME_RULES)
from webscan.net import jobshare
from webscan.rules.loader import SignatureSet
from webscan.wasm import decoder, mining
from webscan.wasm.engine import MINING_MAX_CODE_BYTES, ROTATE_OPCODES, XOR_OPCODES

FORMAT = 1
SHAPE_NAMES = ("NONE", "U32", "U32X2", "I32", "I64", "F32", "F64", "MEMARG", "BLOCK", "HEAP",
               "V128", "LANE", "MEMARG_LANE", "FENCE", "BR_ON_CAST", "BR_TABLE", "SELECT_T",
               "TRY_TABLE")
DNR_RESOURCE_EXCLUDED = ["main_frame"]
"""Subresources only: a user who types a mining service's address still reaches it."""
_GLOBAL_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")
_PLAIN_HOST = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")


class RuleCompileError(ValueError):
    """A rule cannot be expressed for the extension; the message names the rule."""


def js_regex(pattern: str, *, ignore_case: bool, rule_id: str) -> list[str]:
    """A Python regex as [source, flags] for JavaScript's RegExp (the same translation as
    scorer.js's pyRegex). Raises RuleCompileError for constructs JavaScript lacks."""
    flags = "i" if ignore_case else ""
    m = _GLOBAL_FLAGS.match(pattern)
    if m:
        pattern = pattern[m.end():]
        for f in m.group(1):
            if f in "ism" and f not in flags:
                flags += f
    src = re.sub(r"\(\?P=(\w+)\)", r"\\k<\1>", pattern.replace("(?P<", "(?<")).replace("\\Z", "$")
    for bad in ("(?#", "\\A", "(?("):
        if bad in src:
            raise RuleCompileError(f"rule {rule_id}: pattern {pattern!r} uses {bad}, which "
                                   "JavaScript regexes lack; rewrite it without")
    return [src, flags]


def _base(rule) -> dict:
    return {"id": rule.id, "description": rule.description, "severity": rule.severity.value,
            "category": rule.category, "references": list(rule.references)}


def _hex(v: int) -> str:
    return f"0x{v:X}"


def opcode_tables() -> dict:
    """The decoder's immediate shapes by opcode, so the JS decoder walks exactly the same
    instruction set as webscan.wasm.decoder."""
    name = {getattr(decoder, n): n for n in SHAPE_NAMES}
    return {
        "core": {str(op): name[s] for op, s in sorted(decoder._CORE_SHAPES.items())},
        "prefixed": {str(p): {str(op): name[s] for op, s in sorted(t.items())}
                     for p, t in sorted(decoder._PREFIXED_SHAPES.items())},
        "xor": list(XOR_OPCODES),
        "rotate": list(ROTATE_OPCODES),
    }


def compile_rules(sigs: SignatureSet) -> dict:
    """rules.json: the verdict config and the domain, protocol, constant and Wasm rules."""
    v = sigs.verdict
    return {
        "format": FORMAT,
        "version": sigs.version,
        "digest": sigs.digest,
        "source": "bundled",
        "verdict": {
            "miner_threshold": v.miner_threshold, "suspicious_threshold": v.suspicious_threshold,
            "miner_min_strong": v.miner_min_strong, "miner_min_categories": v.miner_min_categories,
            "groups": {n: {"categories": list(g.categories), "cap": g.cap} for n, g in v.groups.items()},
            "categories": {n: {"weight": c.weight, "strong": bool(c.strong), "miner_evidence": bool(c.miner_evidence)}
                           for n, c in v.categories.items()},
        },
        "domains": [{**_base(r), "domains": list(r.domains),
                     "url_patterns": [js_regex(p, ignore_case=True, rule_id=r.id) for p in r.url_patterns]}
                    for r in sigs.domains],
        "protocol": [{**_base(r), "message": r.message or "", "shape": r.shape, "all_of": list(r.all_of)}
                     for r in sigs.protocol],
        "constants": [{"id": c.id, "primitive": c.primitive, "width": c.width, "min_hits": c.min_hits,
                       "values": [_hex(x) for x in c.values], "byte_patterns": list(c.byte_patterns)}
                      for c in sigs.constants],
        "wasm": [{**_base(r), "primitives_all": list(r.primitives_all), "primitives_any": list(r.primitives_any),
                  "primitives_min": r.primitives_min, "min_instructions": r.min_instructions,
                  "min_xor_share": r.min_xor_share, "min_rotates_per_1000": r.min_rotates_per_1000,
                  "export_patterns": [js_regex(p, ignore_case=False, rule_id=r.id) for p in r.export_patterns],
                  "import_patterns": [js_regex(p, ignore_case=False, rule_id=r.id) for p in r.import_patterns],
                  "mining_loop": r.mining_loop}
                 for r in sigs.wasm],
        "runtime": {
            "rules": {r.id: {"category": r.category, "severity": r.severity.value, "description": r.description}
                      for r in RUNTIME_RULES.values()},
            "cpu_share_threshold": CPU_SHARE_THRESHOLD,
            "min_cpu_span_s": MIN_CPU_SPAN_S,
            "cpu_window_s": CPU_WINDOW_S,
            "hot_calls_per_s": HOT_CALLS_PER_S, "loop_sustain": LOOP_SUSTAIN, "min_nonce_pairs": MIN_NONCE_PAIRS,
            "nonce_share": NONCE_SHARE, "multicore_share": MULTICORE_SHARE,
            "jobshare": {"max_frames": jobshare.MAX_FRAMES, "max_leaves": jobshare.MAX_LEAVES,
                         "max_depth": jobshare.MAX_DEPTH, "min_shares": jobshare.MIN_SHARES,
                         "recent_jobs": jobshare.RECENT_JOBS, "hash_hex": jobshare.HASH_HEX,
                         "nonce_hex": list(jobshare.NONCE_HEX),
                         "target_hex": [min(jobshare.TARGET_HEX), max(jobshare.TARGET_HEX)]},
        },
        "opcodes": opcode_tables(),
        "mining": mining_params(),
    }


def mining_params() -> dict:
    """The nonce-loop search's bounds and thresholds (webscan/wasm/mining.py), so wasm.js's port
    of it runs on the same numbers; the Wasm opcodes it tests are the spec's and stay in code."""
    return {"hash_dense_share": mining.HASH_DENSE_SHARE, "hash_kernel_mixes": mining.HASH_KERNEL_MIXES,
            "hash_dense_min": mining.HASH_DENSE_MIN, "max_hash_depth": mining.MAX_HASH_DEPTH,
            "max_search_loop": mining.MAX_SEARCH_LOOP, "walk_budget": mining.WALK_BUDGET,
            "store_lookback": mining.STORE_LOOKBACK, "table_addresses": mining.TABLE_ADDRESSES,
            "distinctive_min": mining.DISTINCTIVE_MIN, "max_tables": mining.MAX_TABLES,
            "limit": mining.LOOP_LIMIT, "max_code_bytes": MINING_MAX_CODE_BYTES}


def dnr_rules(sigs: SignatureSet, first_id: int = 1) -> tuple[list[dict], list[str]]:
    """One block rule per domain rule (its plain hosts, every subdomain included); and the
    hosts left out because DNR's requestDomains takes no wildcards (the scorer still sees them)."""
    rules: list[dict] = []
    skipped: list[str] = []
    for r in sigs.domains:
        hosts = []
        for d in r.domains:
            if _PLAIN_HOST.fullmatch(d) and "." in d:
                hosts.append(d)
            else:
                skipped.append(d)
        if hosts:
            rules.append({"id": first_id + len(rules), "priority": 1, "action": {"type": "block"},
                          "condition": {"requestDomains": hosts,
                                        "excludedResourceTypes": DNR_RESOURCE_EXCLUDED}})
    return rules, skipped
