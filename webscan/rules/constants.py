"""Find hashing primitives by their constants, in integer literals and in raw bytes.

Shared by the Wasm analyser (i32/i64.const values, data segments) and the JS analyser
(numeric literals, decoded byte arrays), so it knows nothing about either.

Compiled once per signature set: one dict from value to the sets holding it, one set of all
32-bit words to look for in data (the 32-bit values plus both halves of every 64-bit value),
and the byte patterns. Matching data costs one C-level pass per word alignment
(`set.intersection` over a memoryview of 32-bit words: the big side is never turned into a
set), then `bytes.find` only for the few 64-bit candidates and the byte patterns.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable
from typing import NamedTuple

from webscan.rules.schema import ConstantSet

U32 = 0xFFFFFFFF
U64 = 0xFFFFFFFFFFFFFFFF


class PrimitiveHit(NamedTuple):
    primitive: str
    rule: ConstantSet
    """The matching set with the most hits (its id names the evidence)."""
    hits: int
    """Distinct values of that set found, plus byte patterns found."""
    rules: tuple[str, ...] = ()
    """Ids of every set of this primitive that matched."""
    values: frozenset[int] = frozenset()
    """The integer values found among `ints` (not data), to locate the code using them."""


def normalise(value: int) -> int:
    """Negative literals as the unsigned word a table would store: -1 -> 0xFFFFFFFF.

    A negative value within the signed 32-bit range is taken as a 32-bit word (Wasm i32 and
    JS `|0` arithmetic); below that as a 64-bit word.
    """
    if value >= 0:
        return value
    if value >= -0x80000000:
        return value & U32
    return value & U64


class ConstantMatcher:
    def __init__(self, sets: Iterable[ConstantSet]) -> None:
        self.sets: list[ConstantSet] = list(sets)
        self._index: dict[int, list[int]] = {}
        self._words32: set[int] = set()
        self._values64: list[tuple[int, int, int, int]] = []  # (set, value, low, high half)
        self._patterns: list[tuple[int, bytes]] = []
        for i, s in enumerate(self.sets):
            for v in s.values:
                v = normalise(v)
                self._index.setdefault(v, []).append(i)
                if s.width == 32 and v <= U32:
                    self._words32.add(v)
                elif v <= U64:
                    self._words32.update((v & U32, v >> 32))
                    self._values64.append((i, v, v & U32, v >> 32))
            for p in s.byte_patterns:
                self._patterns.append((i, bytes.fromhex(p)))
        self._keys = frozenset(self._index)
        self._words32_frozen = frozenset(self._words32)

    def match(self, ints: Iterable[int] = (), data: bytes = b"") -> dict[str, PrimitiveHit]:
        """Primitives whose sets are present among `ints` and/or inside `data`."""
        found: dict[int, set[int]] = {}
        from_ints: set[int] = set()
        if ints:
            values = ints if isinstance(ints, (set, frozenset)) else set(ints)
            if values and min(values) < 0:
                values = {normalise(v) for v in values}
            from_ints = self._keys.intersection(values)
            for v in from_ints:
                for i in self._index[v]:
                    found.setdefault(i, set()).add(v)
        patterns: dict[int, int] = {}
        if data:
            self._match_data(bytes(data), found, patterns)
        out: dict[str, PrimitiveHit] = {}
        matched: dict[str, list[tuple[int, int]]] = {}
        for i in set(found) | set(patterns):
            s = self.sets[i]
            n = len(found.get(i, ()))
            p = patterns.get(i, 0)
            if p or (s.values and n >= s.min_hits):
                matched.setdefault(s.primitive, []).append((n + p, i))
        for primitive, hits in matched.items():
            hits.sort(key=lambda h: (-h[0], h[1]))
            best_n, best_i = hits[0]
            ids = tuple(self.sets[i].id for _, i in hits)
            vals = frozenset(v for _, i in hits for v in found.get(i, ()) if v in from_ints)
            out[primitive] = PrimitiveHit(primitive, self.sets[best_i], best_n, ids, vals)
        return out

    def _match_data(self, data: bytes, found: dict[int, set[int]], patterns: dict[int, int]) -> None:
        words = self._words32_frozen
        n = len(data)
        for align in range(4):
            usable = (n - align) // 4 * 4
            if usable <= 0:
                continue
            if sys.byteorder == "little":
                view = memoryview(data)[align:align + usable].cast("I")
            else:  # pragma: no cover - big-endian hosts
                view = array("I", data[align:align + usable])
                view.byteswap()
            present = words.intersection(view)
            if not present:
                continue
            for v in present:
                for i in self._index.get(v, ()):
                    if self.sets[i].width == 32:
                        found.setdefault(i, set()).add(v)
            for i, v, lo, hi in self._values64:
                if lo in present and hi in present and v.to_bytes(8, "little") in data:
                    found.setdefault(i, set()).add(v)
        for i, p in self._patterns:
            if p in data:
                patterns[i] = patterns.get(i, 0) + 1
