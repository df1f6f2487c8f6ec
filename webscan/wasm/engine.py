"""Judge WebAssembly modules by what they compute, not by what they are called.

One module in, observations out: hashing primitives (by their constants, in code and in
data segments), instruction density (xor share, rotates per 1,000 instructions), import and
export names, matched against the `wasm` rules. The rules carry the judgement (which
combination makes a proof-of-work); this module knows no rule by name.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from webscan.analysis import Analysis
from webscan.evidence import excerpt_of, finding
from webscan.model import EvidenceKind, Finding, Location, WasmSummary
from webscan.rules.constants import ConstantMatcher, PrimitiveHit
from webscan.rules.loader import SignatureSet
from webscan.rules.schema import WasmRule
from webscan.wasm.decoder import Module, WasmDecodeError, decode
from webscan.wasm.mining import MiningLoop, find_mining_loops

XOR_OPCODES = (0x73, 0x85, 0xFD0051)  # i32.xor, i64.xor, v128.xor
ROTATE_OPCODES = (0x77, 0x78, 0x89, 0x8A)  # i32.rotl/rotr, i64.rotl/rotr
LOCATE_MAX_CODE_BYTES = 8 << 20
"""Locating the function that holds a primitive re-reads the code; past this size we name
the module only (the finding stays, the function index is left out)."""
MINING_MAX_CODE_BYTES = 8 << 20
"""The nonce-loop search re-reads the code with the regex tokeniser (~4-5 MB/s, on top of the
decode); past this much code it is skipped and the report says so. Browser miners' modules
are well under 1 MB of code; the largest benign ones (codecs, compilers) are several times this."""


class _AnyOf:
    """Several name regexes compiled once; kept apart so each may carry its own inline flags."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns = [re.compile(p) for p in patterns]

    def search(self, text: str) -> bool:
        return any(p.search(text) for p in self.patterns)


@dataclass(frozen=True)
class _CompiledRule:
    rule: WasmRule
    exports: _AnyOf | None
    imports: _AnyOf | None


def _combined(patterns: list[str]) -> _AnyOf | None:
    return _AnyOf(patterns) if patterns else None


@dataclass
class ModuleFacts:
    """What the rules are evaluated on; also handy for tests and the bench."""

    module: Module
    primitives: dict[str, PrimitiveHit]
    xor_share: float
    rotates_per_1000: float
    _mining_loops: list[MiningLoop] | None = None
    mining_skipped: bool = False
    """The module's code was too large for the nonce-loop search (see MINING_MAX_CODE_BYTES)."""

    @property
    def mining_loops(self) -> list[MiningLoop]:
        """Nonce loops around a hash call (see webscan/wasm/mining.py), found on first use:
        the code walk costs about one more decode, so only a rule whose other conditions held
        pays for it, and only up to MINING_MAX_CODE_BYTES of code."""
        if self._mining_loops is None:
            if sum(f.size for f in self.module.functions) > MINING_MAX_CODE_BYTES:
                self.mining_skipped = True
                self._mining_loops = []
            else:
                self._mining_loops = find_mining_loops(self.module, self.primitives.values())
        return self._mining_loops


class WasmEngine:
    def __init__(self, sigs: SignatureSet, constants: ConstantMatcher) -> None:
        self.constants = constants
        self.rules = [_CompiledRule(r, _combined(r.export_patterns), _combined(r.import_patterns))
                      for r in sigs.wasm]

    def facts(self, data: bytes) -> ModuleFacts:
        """Decode and measure one module; raises WasmDecodeError on malformed input."""
        m = decode(data)
        ops = m.opcodes
        n = m.instructions
        xor = sum(ops.get(k, 0) for k in XOR_OPCODES)
        rot = sum(ops.get(k, 0) for k in ROTATE_OPCODES)
        prims = self.constants.match(ints=m.constants(), data=m.data())
        return ModuleFacts(m, prims, round(xor / n, 5) if n else 0.0,
                           round(1000 * rot / n, 3) if n else 0.0)

    def analyse(self, data: bytes, target: str, *, context: str | None = None) -> Analysis:
        """Findings and one WasmSummary for the module; never raises on bad input."""
        out = Analysis()
        where = Location(target=target, context=context)
        digest = hashlib.sha256(data).hexdigest()
        try:
            facts = self.facts(data)
        except WasmDecodeError as e:
            message = (f"Not a well-formed WebAssembly module: {e.reason} at byte {e.offset}. "
                       "Check the file is complete; a browser would refuse it too.")
            if context is None:
                out.wasm_modules.append(WasmSummary(sha256=digest, size=len(data), location=where))
                out.fatal = message
            else:
                # Bytes found inside a script that start like Wasm but do not decode are most
                # often feature probes (`[0,97,115,109,1,0,0,0]`) or lookalike data, not a
                # hidden module: worth a note for the reader, not evidence.
                out.notes.append(f"{context}: {message}")
            return out
        m = facts.module
        out.notes.extend(f"{target}: {w}" for w in m.warnings)
        out.wasm_modules.append(WasmSummary(
            sha256=digest, size=len(data), location=where, functions=len(m.functions),
            instructions=m.instructions, xor_share=facts.xor_share,
            rotates_per_1000=facts.rotates_per_1000, primitives=sorted(facts.primitives),
            imports=[f"{i.module}.{i.name}" for i in m.imports],
            exports=[e.name for e in m.exports]))
        located: dict[frozenset[int], tuple[int, int] | None] = {}
        for compiled in self.rules:
            hit = self._evaluate(compiled, facts)
            if hit is not None:
                out.findings.append(self._finding(compiled.rule, facts, hit, where, located))
        if facts.mining_skipped:
            out.notes.append(f"{target}: more than {MINING_MAX_CODE_BYTES >> 20} MiB of code; "
                             "the search for a nonce loop was skipped (the other rules ran).")
        return out

    # --- rule evaluation -------------------------------------------------------------------

    def _evaluate(self, c: _CompiledRule, f: ModuleFacts) -> dict | None:
        """The evidence for a rule that holds (what to tell the reader), or None."""
        r = c.rule
        present = f.primitives
        if any(p not in present for p in r.primitives_all):
            return None
        any_hits = [p for p in r.primitives_any if p in present]
        if r.primitives_any and len(any_hits) < max(1, r.primitives_min):
            return None
        m = f.module
        if m.instructions < r.min_instructions:
            return None
        if r.min_xor_share is not None and f.xor_share < r.min_xor_share:
            return None
        if r.min_rotates_per_1000 is not None and f.rotates_per_1000 < r.min_rotates_per_1000:
            return None
        exports = imports = None
        if c.exports is not None:
            exports = [e for e in m.exports if c.exports.search(e.name)]
            if not exports:
                return None
        if c.imports is not None:
            imports = [i for i in m.imports
                       if c.imports.search(i.name) or c.imports.search(f"{i.module}.{i.name}")]
            if not imports:
                return None
        loops = None
        if r.mining_loop:
            loops = f.mining_loops
            if not loops:
                return None
        return {"primitives": [*r.primitives_all, *any_hits], "exports": exports,
                "imports": imports, "loops": loops}

    def _finding(self, rule: WasmRule, f: ModuleFacts, hit: dict, where: Location,
                 located: dict) -> Finding:
        m = f.module
        parts: list[str] = []
        function: int | None = None
        offset: int | None = None
        prims = hit["primitives"]
        if prims:
            parts.append("primitives: " + ", ".join(
                f"{p} ({f.primitives[p].hits} via {f.primitives[p].rule.id})" for p in prims))
            values = frozenset().union(*(f.primitives[p].values for p in prims))
            if values:
                if values not in located:
                    located[values] = self._locate(m, values)
                if located[values] is not None:
                    function, offset = located[values]
            elif m.data_segments:
                offset = m.data_segments[0].offset
        if hit["exports"]:
            e = hit["exports"][0]
            parts.append("exports: " + ", ".join(x.name for x in hit["exports"][:5]))
            if e.kind == "func" and function is None:
                function = e.index
                body = self._body(m, e.index)
                offset = body.offset if body else None
        if hit["imports"]:
            parts.append("imports: " + ", ".join(f"{i.module}.{i.name}" for i in hit["imports"][:5]))
        if hit["loops"]:
            lp = hit["loops"][0]
            parts.append(f"nonce loop at byte {lp.offset} (local {lp.nonce_local} written, "
                         "hashed, result compared with a target, incremented)")
            function, offset = lp.function, lp.offset
        if rule.min_xor_share is not None or rule.min_rotates_per_1000 is not None:
            parts.append(f"xor share {f.xor_share:.4f}, {f.rotates_per_1000:.1f} rotates per "
                         f"1,000 of {m.instructions} instructions")
        if function is not None:
            name = m.function_name(function)
            parts.append(f"function {function}" + (f" ({name})" if name else ""))
        loc = where.model_copy(update={"wasm_function": function, "wasm_offset": offset})
        detail = "; ".join(parts)
        return finding(rule, EvidenceKind.wasm, loc,
                       message=f"{rule.description} Seen: {detail}." if detail else None,
                       excerpt=excerpt_of(detail))

    @staticmethod
    def _body(m: Module, index: int):
        k = index - m.imported_functions
        return m.functions[k] if 0 <= k < len(m.functions) else None

    @staticmethod
    def _locate(m: Module, values: frozenset[int]) -> tuple[int, int] | None:
        """The function using most of `values` as constants, and its body offset."""
        if sum(f.size for f in m.functions) > LOCATE_MAX_CODE_BYTES:
            return None
        best: tuple[int, int, int] | None = None
        for fn in m.functions:
            try:
                n = len(values & m.function_constants(fn))
            except WasmDecodeError:
                continue
            if n and (best is None or n > best[0]):
                best = (n, fn.index, fn.offset)
        return (best[1], best[2]) if best else None
