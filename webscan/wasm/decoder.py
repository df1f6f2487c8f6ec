"""Our own decoder of the WebAssembly binary format (core modules, MVP plus the 0xFB GC,
0xFC bulk-memory/saturating, 0xFD SIMD and 0xFE atomics prefixes).

Why our own: the detector needs a handful of facts per module (sections, imports, exports,
names, data segments, an opcode histogram, the integer constants) for every file it scans,
from untrusted bytes, in pure Python, at >=10 MB/s. General-purpose decoders build one Python
object per instruction and run at a fraction of that.

How it stays fast: every instruction whose length is fixed by its opcode and LEB128 immediates
is described by ONE compiled bytes regex (an alternation by immediate shape, generated from
the same shape tables the hand decoder uses). A function body is tokenised by `findall` (C
speed) and the tokens are counted by `Counter` (C speed); only the distinct tokens are mapped
back to opcodes in Python. When the tokens do not tile the body exactly (a `br_table`, whose
label vector no regex can count, or something unusual such as a non-canonical sub-opcode) the
body is walked again: maximal runs of regex-decodable instructions, and the odd instruction
decoded by hand. That sequential path tops out at ~4-5 MB/s (~300 ns per instruction in sre
and Counter), so for code sections of FAST_PATH_MIN_BYTES or more the instructions of all
bodies are first decoded at once by `fastpath` (numpy, ~15-30 MB/s), which proves each body it
reports exact (a subset of the regex's rules, verified chain by chain); the regex path then
only decodes the bodies it could not prove. `decode(data, fast=False)` is the reference.

How it stays safe: every read is bounds-checked against the enclosing section or body, every
count is checked against the bytes that remain, nothing recurses, and every problem is raised
as one `WasmDecodeError` carrying the byte offset and what was expected there.

Integer constants: `i32.const` values are kept as unsigned 32-bit (two's complement of the
signed immediate, so -1 is 0xFFFFFFFF) and `i64.const` values as unsigned 64-bit; see
`Module.constants()` for the normalised set handed to the constant matcher.
"""

from __future__ import annotations

import gc
import re
from collections import Counter
from dataclasses import dataclass, field

from webscan.budget import check as check_budget

MAGIC = b"\x00asm"
SUPPORTED_VERSION = 1
MAX_LOCALS = 50_000
"""Engines reject more locals per function (V8, SpiderMonkey, wasmtime all use 50,000)."""
FAST_PATH_MIN_BYTES = 16 << 10
"""Below this much code the regex path is as fast as the vectorised one (numpy's fixed costs)."""

SECTION_NAMES = {
    0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global",
    7: "export", 8: "start", 9: "element", 10: "code", 11: "data", 12: "datacount", 13: "tag",
}
EXTERNAL_KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}

# Opcode keys in histograms: a plain opcode is its byte (0x00-0xFA); a prefixed one is
# (prefix << 16) | sub-opcode, e.g. v128.xor (0xFD 0x51) is 0xFD0051.
PREFIXES = (0xFB, 0xFC, 0xFD, 0xFE)


def opcode_key(prefix: int, code: int) -> int:
    """The histogram key of an opcode; `prefix` is 0 for unprefixed opcodes."""
    return (prefix << 16) | code if prefix else code


class WasmDecodeError(ValueError):
    """The bytes are not a well-formed WebAssembly module; says where and what was expected."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at byte offset {offset})")
        self.reason = message
        self.offset = offset


# --- immediate shapes ------------------------------------------------------------------------

NONE, U32, U32X2, I32, I64, F32, F64, MEMARG, BLOCK, HEAP, V128, LANE, MEMARG_LANE, FENCE, \
    BR_ON_CAST, BR_TABLE, SELECT_T, TRY_TABLE = range(18)


def _ranges(*spans: int | tuple[int, int]) -> list[int]:
    out: list[int] = []
    for s in spans:
        if isinstance(s, tuple):
            out.extend(range(s[0], s[1] + 1))
        else:
            out.append(s)
    return out


_CORE_SHAPES: dict[int, int] = {}
for _shape, _codes in (
    (NONE, _ranges(0x00, 0x01, 0x05, 0x0A, 0x0B, 0x0F, 0x19, 0x1A, 0x1B, (0x45, 0xC4), 0xD1,
                   0xD3, 0xD4)),
    (U32, _ranges((0x07, 0x09), 0x0C, 0x0D, 0x10, 0x12, 0x14, 0x15, 0x18, (0x20, 0x26), 0x3F,
                  0x40, 0xD2, 0xD5, 0xD6)),
    (U32X2, [0x11, 0x13]),
    (I32, [0x41]), (I64, [0x42]), (F32, [0x43]), (F64, [0x44]),
    (MEMARG, _ranges((0x28, 0x3E))),
    (BLOCK, [0x02, 0x03, 0x04, 0x06]),
    (HEAP, [0xD0]),
    (BR_TABLE, [0x0E]), (SELECT_T, [0x1C]), (TRY_TABLE, [0x1F]),
):
    for _c in _codes:
        _CORE_SHAPES[_c] = _shape

_PREFIXED_SHAPES: dict[int, dict[int, int]] = {p: {} for p in PREFIXES}
for _prefix, _shape, _codes in (
    # 0xFB: GC
    (0xFB, U32, _ranges(0x00, 0x01, 0x06, 0x07, (0x0B, 0x0E), 0x10)),
    (0xFB, U32X2, _ranges((0x02, 0x05), (0x08, 0x0A), (0x11, 0x13))),
    (0xFB, NONE, _ranges(0x0F, (0x1A, 0x1E))),
    (0xFB, HEAP, _ranges((0x14, 0x17))),
    (0xFB, BR_ON_CAST, [0x18, 0x19]),
    # 0xFC: saturating truncation, bulk memory, table ops, wide arithmetic, f16 memory
    (0xFC, NONE, _ranges((0x00, 0x07), (0x13, 0x16))),
    (0xFC, U32, _ranges(0x09, 0x0B, 0x0D, (0x0F, 0x11))),
    (0xFC, U32X2, [0x08, 0x0A, 0x0C, 0x0E]),
    (0xFC, MEMARG, [0x30, 0x31]),
    # 0xFD: SIMD, relaxed SIMD, f16x8
    (0xFD, MEMARG, _ranges((0x00, 0x0B), 0x5C, 0x5D)),
    (0xFD, V128, [0x0C, 0x0D]),  # v128.const, i8x16.shuffle: 16 raw bytes each
    (0xFD, LANE, _ranges((0x15, 0x22), 0x121, 0x122)),
    (0xFD, MEMARG_LANE, _ranges((0x54, 0x5B))),
    (0xFD, NONE, _ranges((0x0E, 0x14), (0x23, 0x53), (0x5E, 0x99), (0x9B, 0xA1), 0xA3, 0xA4,
                         (0xA7, 0xAE), 0xB1, (0xB5, 0xBA), (0xBC, 0xC1), 0xC3, 0xC4,
                         (0xC7, 0xCE), 0xD1, (0xD5, 0xE1), (0xE3, 0xED), (0xEF, 0x113), 0x120,
                         (0x130, 0x13C))),
    # 0xFE: threads / atomics
    (0xFE, MEMARG, _ranges((0x00, 0x02), (0x10, 0x4E))),
    (0xFE, FENCE, [0x03]),
):
    for _c in _codes:
        _PREFIXED_SHAPES[_prefix][_c] = _shape

# --- the tokeniser regex ---------------------------------------------------------------------

_LEB32 = rb"[\x80-\xff]{0,4}[\x00-\x7f]"
_LEB64 = rb"[\x80-\xff]{0,9}[\x00-\x7f]"
# memarg: alignment (bit 6 set => a memory index follows, multi-memory), then the offset.
_MEMARG = (rb"(?:[\x00-\x3f]|[\x40-\x7f]" + _LEB32 + rb"|[\x80-\xbf][\x80-\xff]{0,3}[\x00-\x7f]"
           rb"|[\xc0-\xff][\x80-\xff]{0,3}[\x00-\x7f]" + _LEB32 + rb")" + _LEB64)
_VALTYPE = rb"(?:[\x63\x64]" + _LEB32 + rb"|[\x69-\x7f])"
_SHAPE_RE = {
    NONE: b"", U32: _LEB32, U32X2: _LEB32 + _LEB32, I32: _LEB32, I64: _LEB64,
    F32: rb".{4}", F64: rb".{8}", MEMARG: _MEMARG,
    BLOCK: rb"(?:[\x63\x64]" + _LEB32 + rb"|" + _LEB32 + rb")", HEAP: _LEB32, V128: rb".{16}",
    LANE: rb".", MEMARG_LANE: _MEMARG + rb".", FENCE: rb"\x00",
    BR_ON_CAST: rb"[\x00-\x03]" + _LEB32 + _LEB32 + _LEB32,
    SELECT_T: rb"\x01" + _VALTYPE,  # the common one-type form; longer vectors go the slow way
    # br_table with a one-byte label count (up to 127 labels, nearly all of them in practice):
    # the count is a literal, so the label vector has a fixed number of LEBs.
    BR_TABLE: b"(?:" + b"|".join(b"\\x%02x(?:" % n + _LEB32 + b"){%d}" % (n + 1)
                                 for n in range(0x80)) + b")",
}


def _byte_class(values: list[int]) -> bytes:
    return b"[" + b"".join(b"\\x%02x" % v for v in sorted(values)) + b"]"


def _sub_encodings(values: list[int]) -> bytes:
    """Canonical LEB128 encodings of a set of sub-opcodes, as one regex group."""
    one = [v for v in values if v < 0x80]
    two: dict[int, list[int]] = {}
    for v in values:
        if 0x80 <= v < 0x4000:
            two.setdefault(v >> 7, []).append((v & 0x7F) | 0x80)
    alts = [_byte_class(one)] if one else []
    alts += [_byte_class(lows) + b"\\x%02x" % high for high, lows in sorted(two.items())]
    return b"(?:" + b"|".join(alts) + b")"


def _build_token_regex() -> re.Pattern[bytes]:
    by_shape: dict[int, list[int]] = {}
    for code, shape in _CORE_SHAPES.items():
        if shape in _SHAPE_RE:
            by_shape.setdefault(shape, []).append(code)
    # Most frequent shapes first: sre tries the branches in order.
    order = [U32, NONE, MEMARG, I32, BLOCK, U32X2, I64, F64, F32, HEAP, SELECT_T, BR_TABLE]
    alts = [_byte_class(by_shape[s]) + _SHAPE_RE[s] for s in order if s in by_shape]
    for prefix, table in _PREFIXED_SHAPES.items():
        groups: dict[int, list[int]] = {}
        for code, shape in table.items():
            if shape in _SHAPE_RE:
                groups.setdefault(shape, []).append(code)
        inner = [_sub_encodings(codes) + _SHAPE_RE[shape] for shape, codes in groups.items()]
        alts.append(b"\\x%02x(?:" % prefix + b"|".join(inner) + b")")
    return re.compile(b"|".join(alts), re.DOTALL)


TOKEN_RE = _build_token_regex()
_SIMPLE_LOCALS = re.compile(rb"(?:[\x00-\x7f][\x69-\x7f])*\Z", re.DOTALL)
"""Local declarations that are all (one-byte count, one-byte value type)."""
_I32_CONST_EXPR = re.compile(rb"\x41[\x80-\xff]{0,4}[\x00-\x7f]\x0b").match
"""The usual data segment offset: `i32.const <LEB128 of at most 5 bytes> end`."""
RUN_RE = re.compile(b"(?:" + TOKEN_RE.pattern + b")*", re.DOTALL)
_findall = TOKEN_RE.findall
_run = RUN_RE.match


# --- module model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    id: int
    name: str  # the custom section's own name for id 0
    offset: int  # file offset of the payload
    size: int


@dataclass(frozen=True)
class Import:
    module: str
    name: str
    kind: str


@dataclass(frozen=True)
class Export:
    name: str
    kind: str
    index: int


@dataclass(frozen=True)
class Function:
    index: int  # in the function index space (imports first)
    offset: int  # file offset of the body (its local declarations)
    size: int
    instructions: int
    code_offset: int  # file offset of the first instruction


@dataclass(frozen=True)
class DataSegment:
    index: int
    mode: str  # "active" or "passive"
    offset: int  # file offset of the bytes
    data: bytes
    address: int | None = None
    """Where an active segment lands in linear memory, when its offset is a plain i32.const
    (what code uses to reach a table stored here); None for passive or computed offsets."""


@dataclass
class Module:
    version: int
    size: int
    sections: list[Section] = field(default_factory=list)
    types: int = 0
    imports: list[Import] = field(default_factory=list)
    exports: list[Export] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    function_names: dict[int, str] = field(default_factory=dict)
    data_segments: list[DataSegment] = field(default_factory=list)
    tables: int = 0
    memories: int = 0
    globals: int = 0
    elements: int = 0
    tags: int = 0
    start: int | None = None
    data_count: int | None = None
    opcodes: Counter = field(default_factory=Counter)
    """Opcode key (see `opcode_key`) -> number of occurrences in all function bodies."""
    i32_constants: set[int] = field(default_factory=set)
    i64_constants: set[int] = field(default_factory=set)
    instructions: int = 0
    imported_functions: int = 0
    warnings: list[str] = field(default_factory=list)
    _raw: bytes = field(default=b"", repr=False)

    @property
    def defined_functions(self) -> int:
        return len(self.functions)

    def constants(self) -> set[int]:
        """Integer constants for matching: i32 as u32, i64 as u64, plus the low 32 bits of
        every i64 that is a sign-extended 32-bit value (compilers widen i32 tables that way)."""
        out = set(self.i32_constants)
        out |= self.i64_constants
        out.update(v & 0xFFFFFFFF for v in self.i64_constants if v >> 31 == 0x1FFFFFFFF)
        return out

    def data(self) -> bytes:
        """All data segments, joined (with a gap so no pattern spans two segments by accident)."""
        return b"\0\0\0\0\0\0\0\0".join(s.data for s in self.data_segments)

    def function_constants(self, function: Function) -> set[int]:
        """The normalised integer constants of one function (re-tokenised on demand: keeping
        per-function constant sets for every module would cost memory on large modules)."""
        counter: Counter = Counter()
        _tokenise(self._raw, function.code_offset, function.offset + function.size, counter,
                  Counter())
        i32s: set[int] = set()
        i64s: set[int] = set()
        _opcodes_from_tokens(counter, Counter(), i32s, i64s)
        out = i32s | i64s
        out.update(v & 0xFFFFFFFF for v in i64s if v >> 31 == 0x1FFFFFFFF)
        return out

    def function_name(self, index: int) -> str | None:
        if index in self.function_names:
            return self.function_names[index]
        for e in self.exports:
            if e.kind == "func" and e.index == index:
                return e.name
        return None


# --- primitive readers (bounds-checked) --------------------------------------------------------


def _u32(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    if pos >= end:
        raise WasmDecodeError(f"unexpected end of data reading {what} (LEB128 u32)", pos)
    b = data[pos]
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    shift = 7
    start = pos
    pos += 1
    while True:
        if pos >= end:
            raise WasmDecodeError(f"unexpected end of data inside the LEB128 of {what}", start)
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
        if shift >= 35:
            raise WasmDecodeError(f"LEB128 of {what} is longer than 5 bytes", start)
    if result > 0xFFFFFFFF:
        raise WasmDecodeError(f"LEB128 of {what} does not fit in 32 bits", start)
    return result, pos


def _sleb(data: bytes, pos: int, end: int, bits: int, what: str) -> tuple[int, int]:
    result = 0
    shift = 0
    start = pos
    max_len = (bits + 6) // 7
    while True:
        if pos >= end:
            raise WasmDecodeError(f"unexpected end of data inside the LEB128 of {what}", start)
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
        if pos - start >= max_len:
            raise WasmDecodeError(f"LEB128 of {what} is longer than {max_len} bytes", start)
    if b & 0x40:
        result -= 1 << shift
    return result, pos


def _uleb64(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    value, pos2 = _sleb(data, pos, end, 64, what)
    return value & 0xFFFFFFFFFFFFFFFF, pos2


def _count(data: bytes, pos: int, end: int, what: str, min_size: int = 1) -> tuple[int, int]:
    """A vector length, refused when the remaining bytes cannot possibly hold it."""
    n, p = _u32(data, pos, end, f"the number of {what}")
    if n * min_size > end - p:
        raise WasmDecodeError(
            f"{n} {what} announced but only {end - p} bytes remain; the module is truncated "
            f"or hostile", pos)
    return n, p


def _name(data: bytes, pos: int, end: int, what: str) -> tuple[str, int]:
    n, p = _u32(data, pos, end, f"the length of {what}")
    if p + n > end:
        raise WasmDecodeError(f"{what} ({n} bytes) runs past the end of its section", pos)
    return data[p:p + n].decode("utf-8", "replace"), p + n


def _byte(data: bytes, pos: int, end: int, what: str) -> int:
    if pos >= end:
        raise WasmDecodeError(f"unexpected end of data reading {what}", pos)
    return data[pos]


def _valtype(data: bytes, pos: int, end: int) -> int:
    b = _byte(data, pos, end, "a value type")
    if b in (0x63, 0x64):
        return _sleb(data, pos + 1, end, 33, "a heap type")[1]
    if 0x69 <= b <= 0x7F:
        return pos + 1
    raise WasmDecodeError(f"expected a value type, found byte 0x{b:02x}", pos)


def _limits(data: bytes, pos: int, end: int) -> int:
    flags = _byte(data, pos, end, "limits flags")
    if flags > 0x0F:
        raise WasmDecodeError(f"unknown limits flags 0x{flags:02x}", pos)
    pos = _uleb64(data, pos + 1, end, "a minimum size")[1]
    if flags & 1:
        pos = _uleb64(data, pos, end, "a maximum size")[1]
    if flags & 8:
        pos = _u32(data, pos, end, "a page size")[1]
    return pos


def _const_expr(data: bytes, pos: int, end: int) -> tuple[int | None, int]:
    """A constant expression up to its `end`; returns its value when it is a plain i32/i64."""
    value = None
    first = True
    while True:
        op = _byte(data, pos, end, "a constant expression")
        if op == 0x0B:
            return value, pos + 1
        if first and op == 0x41:
            value = _sleb(data, pos + 1, end, 32, "an i32 constant")[0] & 0xFFFFFFFF
        elif first and op == 0x42:
            value = _sleb(data, pos + 1, end, 64, "an i64 constant")[0] & 0xFFFFFFFFFFFFFFFF
        else:
            value = None
        first = False
        _, pos = _decode_instruction(data, pos, end)


# --- instructions --------------------------------------------------------------------------


def _memarg(data: bytes, pos: int, end: int) -> int:
    align, pos = _u32(data, pos, end, "a memarg alignment")
    if align & 0x40:
        pos = _u32(data, pos, end, "a memory index")[1]
    return _uleb64(data, pos, end, "a memarg offset")[1]


def _skip(data: bytes, pos: int, end: int, n: int, what: str) -> int:
    if pos + n > end:
        raise WasmDecodeError(f"unexpected end of data reading {what} ({n} bytes)", pos)
    return pos + n


def _decode_instruction(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """Decode one instruction by hand; returns its opcode key and the position after it."""
    start = pos
    op = _byte(data, pos, end, "an opcode")
    pos += 1
    if op in _PREFIXED_SHAPES:
        sub, pos = _u32(data, pos, end, f"a 0x{op:02x} sub-opcode")
        shape = _PREFIXED_SHAPES[op].get(sub)
        if shape is None:
            raise WasmDecodeError(f"unknown opcode 0x{op:02x} {sub}", start)
        key = (op << 16) | sub
    else:
        shape = _CORE_SHAPES.get(op)
        if shape is None:
            raise WasmDecodeError(f"unknown opcode 0x{op:02x}", start)
        key = op
    if shape == NONE:
        pass
    elif shape in (U32, HEAP):
        pos = _sleb(data, pos, end, 33, "an index")[1]
    elif shape == U32X2:
        pos = _u32(data, pos, end, "an index")[1]
        pos = _u32(data, pos, end, "an index")[1]
    elif shape == I32:
        pos = _sleb(data, pos, end, 32, "an i32 constant")[1]
    elif shape == I64:
        pos = _sleb(data, pos, end, 64, "an i64 constant")[1]
    elif shape == F32:
        pos = _skip(data, pos, end, 4, "an f32 constant")
    elif shape == F64:
        pos = _skip(data, pos, end, 8, "an f64 constant")
    elif shape == MEMARG:
        pos = _memarg(data, pos, end)
    elif shape == BLOCK:
        b = _byte(data, pos, end, "a block type")
        if b in (0x63, 0x64):
            pos += 1
        pos = _sleb(data, pos, end, 33, "a block type")[1]
    elif shape == V128:
        pos = _skip(data, pos, end, 16, "a 16-byte SIMD immediate")
    elif shape in (LANE, FENCE):
        pos = _skip(data, pos, end, 1, "a lane index")
    elif shape == MEMARG_LANE:
        pos = _skip(data, _memarg(data, pos, end), end, 1, "a lane index")
    elif shape == BR_ON_CAST:
        pos = _skip(data, pos, end, 1, "cast flags")
        pos = _u32(data, pos, end, "a label")[1]
        pos = _sleb(data, pos, end, 33, "a heap type")[1]
        pos = _sleb(data, pos, end, 33, "a heap type")[1]
    elif shape == BR_TABLE:
        n, pos = _count(data, pos, end, "br_table labels")
        for _ in range(n + 1):
            pos = _u32(data, pos, end, "a br_table label")[1]
    elif shape == SELECT_T:
        n, pos = _count(data, pos, end, "select types")
        for _ in range(n):
            pos = _valtype(data, pos, end)
    elif shape == TRY_TABLE:
        b = _byte(data, pos, end, "a block type")
        pos = _sleb(data, pos + (1 if b in (0x63, 0x64) else 0), end, 33, "a block type")[1]
        n, pos = _count(data, pos, end, "try_table catch clauses")
        for _ in range(n):
            kind = _byte(data, pos, end, "a catch kind")
            pos += 1
            if kind in (0x00, 0x01):
                pos = _u32(data, pos, end, "a tag index")[1]
            elif kind not in (0x02, 0x03):
                raise WasmDecodeError(f"unknown catch kind 0x{kind:02x}", pos - 1)
            pos = _u32(data, pos, end, "a catch label")[1]
    return key, pos


def _tokenise(data: bytes, pos: int, end: int, tokens: Counter, extra: Counter) -> int:
    """Count the instructions of [pos, end): regex tokens into `tokens`, hand-decoded opcode
    keys into `extra`. Returns the number of instructions."""
    toks = _findall(data, pos, end)
    if sum(map(len, toks)) == end - pos:
        tokens.update(toks)
        return len(toks)
    n = 0
    while pos < end:
        run_end = _run(data, pos, end).end()
        if run_end > pos:
            toks = _findall(data, pos, run_end)
            tokens.update(toks)
            n += len(toks)
            pos = run_end
            if pos >= end:
                break
        key, pos = _decode_instruction(data, pos, end)
        extra[key] += 1
        n += 1
    return n


def _opcodes_from_tokens(tokens: Counter, opcodes: Counter, i32s: set[int],
                         i64s: set[int]) -> None:
    for tok, n in tokens.items():
        b0 = tok[0]
        if b0 >= 0xFB:
            b1 = tok[1]
            opcodes[(b0 << 16) | (b1 if b1 < 0x80 else (b1 & 0x7F) | (tok[2] << 7))] += n
            continue
        opcodes[b0] += n
        if b0 == 0x41 or b0 == 0x42:
            value = 0
            shift = 0
            for b in tok[1:]:
                value |= (b & 0x7F) << shift
                shift += 7
            if tok[-1] & 0x40:
                value -= 1 << shift
            if b0 == 0x41:
                i32s.add(value & 0xFFFFFFFF)
            else:
                i64s.add(value & 0xFFFFFFFFFFFFFFFF)


# --- sections ------------------------------------------------------------------------------


class _Decoder:
    def __init__(self, data: bytes, fast: bool = True) -> None:
        self.data = data
        self.fast = fast
        self.fast_bodies = 0
        self.m = Module(version=0, size=len(data), _raw=data)
        self.tokens: Counter = Counter()
        self.extra: Counter = Counter()
        self.function_types: list[int] = []

    def run(self) -> Module:
        # Decoding makes one object per function and per import/export, none of them in a
        # cycle; a module of tens of thousands of functions made each automatic collection
        # rescan all of them, so the cost per byte grew with the module (bench_adversarial,
        # wasm-many-functions). The collector is paused for the decode and resumed after.
        paused = gc.isenabled()
        gc.disable()
        try:
            return self._run()
        finally:
            if paused:
                gc.enable()

    def _run(self) -> Module:
        data = self.data
        m = self.m
        if len(data) < 8:
            raise WasmDecodeError(
                f"too short for a WebAssembly module ({len(data)} bytes; the header alone is 8)", 0)
        if data[:4] != MAGIC:
            raise WasmDecodeError(
                f"bad magic {data[:4].hex()} (expected 0061736d, '\\0asm'); not WebAssembly", 0)
        m.version = int.from_bytes(data[4:8], "little")
        if m.version != SUPPORTED_VERSION:
            kind = "a component or a layered binary" if data[6:8] != b"\0\0" else "unsupported"
            raise WasmDecodeError(f"version {m.version:#x} is {kind}; expected a core module "
                                  f"(version 1)", 4)
        pos = 8
        size = len(data)
        while pos < size:
            check_budget()
            sid = data[pos]
            length, p = _u32(data, pos + 1, size, "a section size")
            end = p + length
            if end > size:
                raise WasmDecodeError(
                    f"section {SECTION_NAMES.get(sid, sid)} claims {length} bytes but only "
                    f"{size - p} remain; the module is truncated", pos)
            if sid not in self.HANDLERS:
                raise WasmDecodeError(f"unknown section id {sid}", pos)
            name = SECTION_NAMES[sid]
            if sid == 0:
                name, p2 = _name(data, p, end, "a custom section name")
                m.sections.append(Section(sid, name, p, length))
                self._custom(name, p2, end)
            else:
                m.sections.append(Section(sid, name, p, length))
                after = self.HANDLERS[sid](self, p, end)
                if after != end:
                    raise WasmDecodeError(
                        f"section {name} ends at {after} but its size says {end}", after)
            pos = end
        if len(self.function_types) != len(m.functions):
            raise WasmDecodeError(
                f"{len(self.function_types)} functions declared but {len(m.functions)} bodies "
                f"given", size)
        _opcodes_from_tokens(self.tokens, m.opcodes, m.i32_constants, m.i64_constants)
        m.opcodes.update(self.extra)
        m.instructions = sum(f.instructions for f in m.functions)
        return m

    # Each handler decodes [pos, end) and returns where it stopped.

    def _type(self, pos: int, end: int) -> int:
        data = self.data
        n, pos = _count(data, pos, end, "types")
        i = 0
        pending = n
        while pending:
            pending -= 1
            form = _byte(data, pos, end, "a type form")
            if form == 0x4E:  # rec group
                k, pos = _count(data, pos + 1, end, "recursive types")
                pending += k
                continue
            pos = self._subtype(pos, end)
            i += 1
        self.m.types = i
        return pos

    def _subtype(self, pos: int, end: int) -> int:
        data = self.data
        form = _byte(data, pos, end, "a type form")
        if form in (0x50, 0x4F):
            k, pos = _count(data, pos + 1, end, "supertypes")
            for _ in range(k):
                pos = _u32(data, pos, end, "a supertype")[1]
            form = _byte(data, pos, end, "a type form")
        pos += 1
        if form == 0x60:
            for what in ("parameters", "results"):
                k, pos = _count(data, pos, end, what)
                for _ in range(k):
                    pos = _valtype(data, pos, end)
        elif form == 0x5F:
            k, pos = _count(data, pos, end, "struct fields")
            for _ in range(k):
                pos = self._fieldtype(pos, end)
        elif form == 0x5E:
            pos = self._fieldtype(pos, end)
        else:
            raise WasmDecodeError(f"unknown type form 0x{form:02x}", pos - 1)
        return pos

    def _fieldtype(self, pos: int, end: int) -> int:
        b = _byte(self.data, pos, end, "a field type")
        pos = pos + 1 if b in (0x77, 0x78) else _valtype(self.data, pos, end)
        return _skip(self.data, pos, end, 1, "a mutability flag")

    def _import(self, pos: int, end: int) -> int:
        data = self.data
        n, pos = _count(data, pos, end, "imports", 3)
        for _ in range(n):
            module, pos = _name(data, pos, end, "an import module name")
            name, pos = _name(data, pos, end, "an import name")
            kind = _byte(data, pos, end, "an import kind")
            pos += 1
            if kind == 0:
                pos = _u32(data, pos, end, "a type index")[1]
                self.m.imported_functions += 1
            elif kind == 1:
                pos = _limits(data, _valtype(data, pos, end), end)
            elif kind == 2:
                pos = _limits(data, pos, end)
            elif kind == 3:
                pos = _skip(data, _valtype(data, pos, end), end, 1, "a mutability flag")
            elif kind == 4:
                pos = _u32(data, _skip(data, pos, end, 1, "a tag attribute"), end,
                           "a type index")[1]
            else:
                raise WasmDecodeError(f"unknown import kind {kind}", pos - 1)
            self.m.imports.append(Import(module, name, EXTERNAL_KINDS[kind]))
        return pos

    def _function(self, pos: int, end: int) -> int:
        n, pos = _count(self.data, pos, end, "functions")
        if n == end - pos and max(self.data[pos:end], default=0) < 0x80:
            # Every type index is one byte (fewer than 128 types): no LEB128 loop needed.
            self.function_types.extend(self.data[pos:end])
            return end
        for _ in range(n):
            t, pos = _u32(self.data, pos, end, "a type index")
            self.function_types.append(t)
        return pos

    def _table(self, pos: int, end: int) -> int:
        data = self.data
        n, pos = _count(data, pos, end, "tables", 2)
        for _ in range(n):
            if data[pos:pos + 2] == b"\x40\x00":  # table with an initialiser expression
                pos = _limits(data, _valtype(data, pos + 2, end), end)
                pos = _const_expr(data, pos, end)[1]
            else:
                pos = _limits(data, _valtype(data, pos, end), end)
        self.m.tables = n
        return pos

    def _memory(self, pos: int, end: int) -> int:
        n, pos = _count(self.data, pos, end, "memories", 2)
        for _ in range(n):
            pos = _limits(self.data, pos, end)
        self.m.memories = n
        return pos

    def _global(self, pos: int, end: int) -> int:
        data = self.data
        n, pos = _count(data, pos, end, "globals", 3)
        for _ in range(n):
            pos = _skip(data, _valtype(data, pos, end), end, 1, "a mutability flag")
            pos = _const_expr(data, pos, end)[1]
        self.m.globals = n
        return pos

    def _export(self, pos: int, end: int) -> int:
        data = self.data
        n, pos = _count(data, pos, end, "exports", 3)
        for _ in range(n):
            k = data[pos] if pos < end else 0x80
            if k < 0x80 and pos + 1 + k <= end:  # inline `_name` for the common short name
                name = data[pos + 1:pos + 1 + k].decode("utf-8", "replace")
                pos += 1 + k
            else:
                name, pos = _name(data, pos, end, "an export name")
            kind = _byte(data, pos, end, "an export kind")
            if kind not in EXTERNAL_KINDS:
                raise WasmDecodeError(f"unknown export kind {kind}", pos)
            if pos + 1 < end and data[pos + 1] < 0x80:  # inline a one-byte index
                index, pos = data[pos + 1], pos + 2
            else:
                index, pos = _u32(data, pos + 1, end, "an export index")
            self.m.exports.append(Export(name, EXTERNAL_KINDS[kind], index))
        return pos

    def _start(self, pos: int, end: int) -> int:
        self.m.start, pos = _u32(self.data, pos, end, "the start function")
        return pos

    def _element(self, pos: int, end: int) -> int:
        data = self.data
        n, pos = _count(data, pos, end, "element segments")
        for _ in range(n):
            flags, pos = _u32(data, pos, end, "element segment flags")
            if flags > 7:
                raise WasmDecodeError(f"unknown element segment flags {flags}", pos - 1)
            if flags & 3 == 2:
                pos = _u32(data, pos, end, "a table index")[1]
            if not flags & 1:
                pos = _const_expr(data, pos, end)[1]
            if flags & 3:
                if flags & 4:
                    pos = _valtype(data, pos, end)
                else:
                    pos = _skip(data, pos, end, 1, "an element kind")
            k, pos = _count(data, pos, end, "elements")
            for _ in range(k):
                if flags & 4:
                    pos = _const_expr(data, pos, end)[1]
                else:
                    pos = _u32(data, pos, end, "a function index")[1]
        self.m.elements = n
        return pos

    def _code(self, pos: int, end: int) -> int:
        """Bodies: sizes and local declarations here (cheap, one step per body), then the
        instructions of all bodies at once by the vectorised path when the section is large
        enough to pay for it, else (and for any body it cannot prove) by the regex path."""
        data = self.data
        n, pos = _count(data, pos, end, "function bodies", 2)
        base = self.m.imported_functions
        bodies: list[tuple[int, int, int, int]] = []  # (body, size, first instruction, end)
        simple_locals = _SIMPLE_LOCALS.match
        for i in range(n):
            check_budget()
            b = data[pos] if pos < end else 0x80
            if b < 0x80:
                size, body = b, pos + 1
            elif pos + 1 < end and data[pos + 1] < 0x80:
                size, body = (b & 0x7F) | (data[pos + 1] << 7), pos + 2
            else:
                size, body = _u32(data, pos, end, "a function body size")
            body_end = body + size
            if body_end > end:
                raise WasmDecodeError(
                    f"function {base + i} body claims {size} bytes but its section has only "
                    f"{end - body} left", pos)
            p = body
            b = data[p] if p < body_end else 0x80
            if b == 0:
                p += 1
            elif b < 0x80 and simple_locals(data, p + 1, min(p + 1 + 2 * b, body_end)) \
                    and p + 1 + 2 * b < body_end:
                # All declarations are (one-byte count, one-byte value type): no LEB loop.
                # (127 declarations of at most 127 locals stay far below MAX_LOCALS.)
                p += 1 + 2 * b
            else:
                decls, p = _count(data, p, body_end, "local declarations", 2)
                total = 0
                for _ in range(decls):
                    k, p = _u32(data, p, body_end, "a local count")
                    total += k
                    if total > MAX_LOCALS:
                        raise WasmDecodeError(
                            f"function {base + i} declares more than {MAX_LOCALS} locals", p)
                    p = _valtype(data, p, body_end)
            if p >= body_end or data[body_end - 1] != 0x0B:
                raise WasmDecodeError(f"function {base + i} body does not end with `end`",
                                      body_end - 1)
            bodies.append((body, size, p, body_end))
            pos = body_end
        counts = self._fast_counts(bodies) if self.fast else {}
        tokens = self.tokens
        extra = self.extra
        findall = _findall
        update = tokens.update
        funcs = self.m.functions
        for i, (body, size, p, body_end) in enumerate(bodies):
            count = counts.get(i)
            if count is None:
                toks = findall(data, p, body_end)
                if sum(map(len, toks)) == body_end - p:
                    update(toks)
                    count = len(toks)
                else:  # something the regex does not take (e.g. a long br_table), or malformed
                    count = _tokenise(data, p, body_end, tokens, extra)
            funcs.append(Function(base + i, body, size, count, p))
        return pos

    def _fast_counts(self, bodies: list[tuple[int, int, int, int]]) -> dict[int, int]:
        """Instruction counts of the bodies the vectorised path proved (their opcodes and
        constants go straight into the module); {} when it is not worth it or unavailable."""
        code = sum(b[3] - b[2] for b in bodies)
        if code < FAST_PATH_MIN_BYTES:
            return {}
        try:
            from webscan.wasm import fastpath
        except ImportError:  # numpy missing: the regex path is exact, only slower
            return {}
        try:
            result = fastpath.decode_bodies(self.data, [b[2] for b in bodies],
                                            [b[3] for b in bodies])
        except Exception:  # noqa: BLE001 - a bug or an exhausted resource there must not
            return {}  # cost a verdict: the sequential path below decodes everything exactly
        m = self.m
        m.opcodes.update(result.opcodes)
        m.i32_constants |= result.i32
        m.i64_constants |= result.i64
        self.fast_bodies = len(result.counts)
        return result.counts

    def _data(self, pos: int, end: int) -> int:
        data = self.data
        n, pos = _count(data, pos, end, "data segments", 2)
        for i in range(n):
            flags, pos = _u32(data, pos, end, "data segment flags")
            if flags == 2:
                pos = _u32(data, pos, end, "a memory index")[1]
            elif flags > 2:
                raise WasmDecodeError(f"unknown data segment flags {flags}", pos - 1)
            address = None
            if flags != 1:
                simple = _I32_CONST_EXPR(data, pos, end)
                if simple:  # `i32.const <offset> end`, without the generic walk
                    address = _sleb(data, pos + 1, end, 32, "a data offset")[0] & 0xFFFFFFFF
                    pos = simple.end()
                else:
                    address, pos = _const_expr(data, pos, end)
            k, pos = _u32(data, pos, end, "a data segment size")
            if pos + k > end:
                raise WasmDecodeError(
                    f"data segment {i} claims {k} bytes but its section has {end - pos} left", pos)
            self.m.data_segments.append(
                DataSegment(i, "passive" if flags == 1 else "active", pos, data[pos:pos + k],
                            address))
            pos += k
        return pos

    def _datacount(self, pos: int, end: int) -> int:
        self.m.data_count, pos = _u32(self.data, pos, end, "the data count")
        return pos

    def _tag(self, pos: int, end: int) -> int:
        n, pos = _count(self.data, pos, end, "tags", 2)
        for _ in range(n):
            pos = _u32(self.data, _skip(self.data, pos, end, 1, "a tag attribute"), end,
                       "a type index")[1]
        self.m.tags = n
        return pos

    def _custom(self, name: str, pos: int, end: int) -> None:
        """Custom sections are advisory: engines ignore broken ones, and so do we (a warning)."""
        if name != "name":
            return
        data = self.data
        try:
            while pos < end:
                sub = data[pos]
                size, p = _u32(data, pos + 1, end, "a name subsection size")
                sub_end = p + size
                if sub_end > end:
                    raise WasmDecodeError("name subsection runs past its section", pos)
                if sub == 1:
                    n, p = _count(data, p, sub_end, "function names", 2)
                    names = self.m.function_names
                    for _ in range(n):
                        idx, p = _u32(data, p, sub_end, "a function index")
                        k = data[p] if p < sub_end else 0x80
                        if k < 0x80 and p + 1 + k <= sub_end:  # inline `_name`, short names
                            names[idx] = data[p + 1:p + 1 + k].decode("utf-8", "replace")
                            p += 1 + k
                        else:
                            names[idx], p = _name(data, p, sub_end, "a function name")
                pos = sub_end
        except WasmDecodeError as e:
            self.m.warnings.append(f"ignored a malformed `name` section: {e}")

    HANDLERS = {0: None, 1: _type, 2: _import, 3: _function, 4: _table, 5: _memory, 6: _global,
                7: _export, 8: _start, 9: _element, 10: _code, 11: _data, 12: _datacount,
                13: _tag}


def decode(data: bytes, *, fast: bool = True) -> Module:
    """Decode a core WebAssembly module; raises WasmDecodeError (and only that) on bad input.

    `fast=False` forces the sequential (regex) instruction path, the reference the vectorised
    path is checked against (bench/bench_wasm.py --check). Any error seen on the fast route is
    re-derived on the sequential one, so the first error reported is always the reference's.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("decode() takes bytes")
    data = bytes(data)
    if fast:
        try:
            return _decode_module(data, True)
        except WasmDecodeError:
            pass
    return _decode_module(data, False)


def _decode_module(data: bytes, fast: bool) -> Module:
    try:
        return _Decoder(data, fast).run()
    except WasmDecodeError:
        raise
    except (IndexError, ValueError, OverflowError, MemoryError, RecursionError) as e:
        # Defence in depth: a bounds check we missed must still surface as a decode error.
        raise WasmDecodeError(f"malformed module ({type(e).__name__}: {e})", 0) from None
