"""Find the shape of MINING in a module's code, whatever the proof-of-work.

Hashing libraries, password hashers, wallets and miners share their primitives (SHA-256,
BLAKE2b, Salsa20, Argon2, Keccak...), so a primitive says nothing about mining. What a miner
adds is a search: a header or blob whose nonce field is written, hashed, the hash compared with
a target, the nonce incremented, again. Compiled to Wasm that is one loop which

1. calls hashing code: a function within MAX_HASH_DEPTH calls of one that holds a primitive's
   constants (as literals, or by addressing its table in memory) or is a dense round function;
   or holds a nested loop dense in xor/rotate (the hash inlined);
2. increments a local by one (`local.get n; const 1; add; local.set n`) and writes that local
   to memory before a hash call (the nonce into the header), in a body that does little else
   (MAX_SEARCH_LOOP instructions of its own);
3. after the hash call, compares UNSIGNED (`lt_u, le_u, gt_u, ge_u`, 32 or 64 bits) a word
   loaded through a pointer the loop never moves (the hash output) with a loop-invariant
   local or global, or with a word loaded through ANOTHER fixed pointer (the target), and
   branches FORWARD on it (found / not found), not back to the loop head.

Point 3 separates the look-alikes: a password hasher's loop over lanes or blocks compares its
counter with a bound (and usually branches back to the loop head); a wallet's key derivation
compares hash words with a CONSTANT (the group order); C++ containers compare two fields of one
object (`end < capacity`); loops over arrays of records read through a pointer that walks.

Cost: one `findall` per function body (the decoder's C-level tokeniser) and a `Counter` of its
tokens (C code), so the Python work per function is over its distinct tokens; then a Python
step per instruction for the functions with a loop, an unsigned comparison and a +/-1 constant
that reach hashing code, closest to the hashing first, up to WALK_BUDGET instructions. The pass
runs only when a rule asks for it after its cheaper conditions held (a hashing primitive is
present; engine.py), only up to engine.MINING_MAX_CODE_BYTES of code, and checks the scan
budget between functions. bench/bench_wasm_mining.py measures it against decoding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from webscan.budget import check as check_budget
from webscan.rules.constants import PrimitiveHit
from webscan.wasm.decoder import TOKEN_RE, Module

LOOP, BLOCK, IF, END, BR_IF, CALL = 0x03, 0x02, 0x04, 0x0B, 0x0D, 0x10
LOCAL_GET, LOCAL_SET, LOCAL_TEE = 0x20, 0x21, 0x22
I32_CONST, I64_CONST = 0x41, 0x42
I32_ADD, I64_ADD = 0x6A, 0x7C
LOADS = frozenset(range(0x28, 0x36))
STORES = frozenset(range(0x36, 0x3F))
UNSIGNED_COMPARES = frozenset((0x49, 0x4B, 0x4D, 0x4F, 0x54, 0x56, 0x58, 0x5A))
XORS_ROTATES = frozenset((0x73, 0x85, 0x77, 0x78, 0x89, 0x8A))
BRANCHES = frozenset((0x0C, 0x0D, 0x0E, 0x0F))
HASH_DENSE_SHARE = 0.08
"""xor+rotate share of a function's instructions from which it counts as a hash kernel. A
SHA-2, BLAKE2 or Salsa20 core measures 0.15-0.30 (rolled loops included); general code well
under 0.01."""
HASH_KERNEL_MIXES = 200
"""...and at least this many xor/rotate instructions: a cryptographic round function unrolled
or not has hundreds; the hash of a hash map (a multiply, a few xors and shifts) has a dozen, and
general code calls those everywhere."""
HASH_DENSE_MIN = 64
"""xor+rotate instructions a nested loop needs to count as an inlined hash."""
MAX_HASH_DEPTH = 5
"""Calls between a nonce loop's hash call and the hashing code: a proof-of-work's own stack is
shallow (scanhash -> pow hash -> kdf -> pbkdf2 -> hmac -> compress, 3 to 5 levels in the miners
measured); in a general module almost everything reaches a hash map or a PRNG through deeper
application layers, and those loops are not a search."""
MAX_SEARCH_LOOP = 400
"""Instructions of a search loop's own body (nested loops excluded). Writing the nonce, calling
the hash, comparing and incrementing takes 24-121 in the miners measured (121 with the 256-bit
target comparison unrolled over eight words); loops of general code that happen to reach a hash
and compare two fields are far bigger (a SQL query planner's: 687)."""
SEARCH_OPS = frozenset(bytes((o,)) for o in UNSIGNED_COMPARES)
"""A function without an unsigned comparison or an increment by one holds no search: it is
not walked (the test is on its distinct tokens, at C speed)."""
INCREMENTS = frozenset((b"\x41\x01", b"\x42\x01", b"\x41\x7f", b"\x42\x7f"))
WALK_BUDGET = 250_000
"""Instructions walked step by step per module, closest-to-hashing functions first. A search
loop's function is near its hash (levels 0-3 in the miners measured) and walked early; in a
multi-megabyte module most candidates are far from it (a Monero wallet has ~600 candidate
functions, ~1 M instructions), so the walk stops here and the cost stays about one decode."""
STORE_LOOKBACK = 12
"""Tokens before a store searched for the local it writes (byte-swapping takes ~10)."""


@dataclass
class _Loop:
    start: int
    size: int = 0
    """Instructions of the loop itself, nested loops excluded."""
    calls_hash: bool = False
    hash_seen: bool = False
    """A hash call or nested hash loop has been passed (comparisons after it count)."""
    mixes: int = 0
    incremented: set[int] = field(default_factory=set)
    pending: set[int] = field(default_factory=set)
    """Locals written to memory since the last call."""
    stored: set[int] = field(default_factory=set)
    """Locals written to memory and then hashed (the nonce into the header)."""
    written: set[int] = field(default_factory=set)
    """Locals assigned inside the loop (those not assigned are loop-invariant pointers)."""
    compares: list[tuple] = field(default_factory=list)
    """Unsigned comparisons deciding a forward branch after a hash call: their two operands."""


@dataclass(frozen=True)
class MiningLoop:
    function: int
    offset: int
    """File offset of the `loop` instruction."""
    nonce_local: int
    size: int = 0
    """Instructions of the loop's own body (nested loops excluded)."""


def _leb(tok: bytes, at: int) -> int:
    value = shift = 0
    for b in tok[at:]:
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
    return value


def _sleb(tok: bytes, at: int) -> int:
    value = shift = 0
    b = 0
    for b in tok[at:]:
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
    return value - (1 << shift) if b & 0x40 else value


def _tokens(m: Module, fn) -> list[bytes] | None:
    data = m._raw
    end = fn.offset + fn.size
    toks = TOKEN_RE.findall(data, fn.code_offset, end)
    if sum(map(len, toks)) != end - fn.code_offset:
        return None  # a long br_table or something unusual: not a kernel loop in practice
    return toks


LOOP_LIMIT = 4
"""Loops reported per module: one proves the shape, a few name where it is."""


def find_mining_loops(m: Module, primitives: Iterable[PrimitiveHit] = (),
                      limit: int = LOOP_LIMIT) -> list[MiningLoop]:
    """Loops with the mining shape (see the module docstring), at most `limit` of them.

    `primitives` (the constant matcher's hits on this module) name the hashing code: the
    functions holding a primitive's constants as literals, or reaching its table in memory.
    """
    primitives = list(primitives)
    literals = _literal_tokens(frozenset().union(*(h.values for h in primitives)))
    table_refs = _table_tokens(m, primitives)
    marks = literals | table_refs
    mix_tokens = [bytes((o,)) for o in XORS_ROTATES]
    calls: dict[int, set[int]] = {}
    hashing: set[int] = set()
    looping: list = []
    for fn in m.functions:
        check_budget()
        toks = _tokens(m, fn)
        if toks is None:
            continue
        # Counter is C code: the Python work per function is over its DISTINCT tokens.
        counts = Counter(toks)
        mixes = sum(counts[t] for t in mix_tokens)
        if (mixes >= HASH_KERNEL_MIXES and mixes >= HASH_DENSE_SHARE * len(toks)) \
                or (marks and not marks.isdisjoint(counts)):
            hashing.add(fn.index)
        targets = {_leb(t, 1) for t in counts if t[0] == CALL}
        if targets:
            calls[fn.index] = targets
        if (targets or mixes >= HASH_DENSE_MIN) and any(t[0] == LOOP for t in counts) \
                and not SEARCH_OPS.isdisjoint(counts) and not INCREMENTS.isdisjoint(counts):
            looping.append((fn, targets, mixes))
    levels = _reaching(hashing, calls)
    # Closest to the hashing code first (an inlined hash counts as level 0): a search calls its
    # hash directly or through a few wrappers, so when a huge module spends the walk budget it
    # is on the loops least likely to be a search.
    ranked = []
    for fn, targets, mixes in looping:
        near = min((levels[t] for t in targets if t in levels), default=None)
        if mixes >= HASH_DENSE_MIN:
            near = 0
        if near is not None:
            ranked.append((near, fn.index, fn))
    ranked.sort(key=lambda r: (r[0], r[1]))
    found: list[MiningLoop] = []
    walked = 0
    for _, _, fn in ranked:
        if walked >= WALK_BUDGET or len(found) >= limit:
            break
        check_budget()
        walked += fn.instructions
        found.extend(_scan(fn, _tokens(m, fn), levels))
    return found[:limit]


def _literal_tokens(values: frozenset[int]) -> frozenset[bytes]:
    """`i32.const` / `i64.const` tokens of the primitives' constants (canonical LEB128)."""
    out: set[bytes] = set()
    for v in values:
        if v < DISTINCTIVE_MIN:
            continue  # Keccak's round constant 1, small masks: every function has those
        for op, bits in ((I32_CONST, 32), (I64_CONST, 64)):
            if v >> bits:
                continue
            signed = v - (1 << bits) if v >> (bits - 1) else v
            out.add(bytes((op,)) + _sleb_bytes(signed))
    return frozenset(out)


def _sleb_bytes(v: int) -> bytes:
    b = bytearray()
    while True:
        byte = v & 0x7F
        v >>= 7
        if (v == 0 and not byte & 0x40) or (v == -1 and byte & 0x40):
            b.append(byte)
            return bytes(b)
        b.append(byte | 0x80)


TABLE_ADDRESSES = 64
"""Addresses per table (from its start, one per entry) whose use marks a function as hashing:
code reaches a table through its base (plus an index) or, unrolled, through its first entries."""
DISTINCTIVE_MIN = 1 << 16
"""Literals below this say nothing about the function that holds them."""
MAX_TABLES = 32
"""Tables located per module (one per primitive is the norm; a cap against crafted data)."""
_TABLE_OPS = (0x28, 0x29, 0x2D, 0x35)  # i32.load, i64.load, i32.load8_u, i64.load32_u


def _uleb_forms(v: int, signed: bool) -> list[bytes]:
    """The canonical LEB128 of `v` and the 5-byte padded form linkers leave for relocations."""
    out = []
    for width in (None, 5):
        b = bytearray()
        x = v
        while True:
            byte = x & 0x7F
            x >>= 7
            done = (x == 0 and not (signed and byte & 0x40)) if width is None else len(b) == width - 1
            if done:
                b.append(byte)
                break
            b.append(byte | 0x80)
        out.append(bytes(b))
    return out


def _table_tokens(m: Module, primitives: list[PrimitiveHit]) -> frozenset[bytes]:
    """Instruction tokens (an i32.const or a load) that address a primitive's table in memory."""
    starts: set[tuple[int, int]] = set()
    for hit in primitives:
        rule = hit.rule
        width = rule.width // 8
        needles = [(bytes.fromhex(p), 4) for p in rule.byte_patterns]
        needles += [((v & ((1 << rule.width) - 1)).to_bytes(width, "little"), max(width, 4))
                    for v in rule.values[:1]]
        for seg in m.data_segments:
            if seg.address is None or len(starts) >= MAX_TABLES:
                continue
            for needle, step in needles:
                at = seg.data.find(needle)
                if at >= 0:
                    starts.add((seg.address + at, step))
    tokens: set[bytes] = set()
    for start, step in starts:
        for address in range(start, start + TABLE_ADDRESSES * step, step):
            for form in _uleb_forms(address, True):
                tokens.add(bytes((I32_CONST,)) + form)
            for form in _uleb_forms(address, False):
                for op in _TABLE_OPS:
                    for align in range(4):
                        tokens.add(bytes((op, align)) + form)
    return frozenset(tokens)


def _reaching(hashing: set[int], calls: dict[int, set[int]]) -> dict[int, int]:
    """Functions that hash (level 0), or reach one that does in `level` calls, up to
    MAX_HASH_DEPTH."""
    callers: dict[int, set[int]] = {}
    for f, targets in calls.items():
        for t in targets:
            callers.setdefault(t, set()).add(f)
    out = dict.fromkeys(hashing, 0)
    level = list(hashing)
    for depth in range(1, MAX_HASH_DEPTH + 1):
        nxt = []
        for f in level:
            for c in callers.get(f, ()):
                if c not in out:
                    out[c] = depth
                    nxt.append(c)
        level = nxt
    return out


def _scan(fn, toks: list[bytes], reaches: dict[int, int]) -> list[MiningLoop]:
    stack: list[_Loop | None] = []  # one entry per open block: a _Loop for `loop`, else None
    loops: list[_Loop] = []  # the open loops, innermost last
    out: list[MiningLoop] = []
    offset = fn.code_offset
    for i, tok in enumerate(toks):
        op = tok[0]
        pos = offset
        offset += len(tok)
        if op in (BLOCK, IF) or op == 0x06:
            stack.append(None)
            continue
        if op == LOOP:
            lp = _Loop(pos)
            stack.append(lp)
            loops.append(lp)
            continue
        if op == END:
            if not stack:
                continue
            top = stack.pop()
            if top is not None:
                loops.pop()
                hit = top.incremented & top.stored
                # A comparison reading the counter is the loop's bound, not a target check.
                if top.calls_hash and hit and top.size <= MAX_SEARCH_LOOP \
                        and any(_is_target(c, top) for c in top.compares):
                    out.append(MiningLoop(fn.index, top.start, min(hit), top.size))
                if loops:
                    parent = loops[-1]
                    parent.mixes += top.mixes
                    parent.incremented |= top.incremented
                    parent.written |= top.written
                    if top.mixes >= HASH_DENSE_MIN or top.calls_hash:
                        parent.calls_hash = parent.hash_seen = True
            continue
        if not loops:
            continue
        lp = loops[-1]
        lp.size += 1
        if op in XORS_ROTATES:
            lp.mixes += 1
        elif op == CALL:
            if _leb(tok, 1) in reaches:
                lp.calls_hash = lp.hash_seen = True
                lp.stored |= lp.pending
            lp.pending.clear()
        elif op == LOCAL_SET or op == LOCAL_TEE:
            lp.written.add(_leb(tok, 1))
            if i >= 3 and toks[i - 1][0] in (I32_ADD, I64_ADD) \
                    and toks[i - 2][0] in (I32_CONST, I64_CONST) and abs(_sleb(toks[i - 2], 1)) == 1 \
                    and toks[i - 3][0] == LOCAL_GET and toks[i - 3][1:] == tok[1:]:
                lp.incremented.add(_leb(tok, 1))
        elif op in STORES:
            for j in range(i - 1, max(-1, i - 1 - STORE_LOOKBACK), -1):
                o = toks[j][0]
                if o in (LOCAL_GET, LOCAL_TEE):
                    lp.pending.add(_leb(toks[j], 1))
                elif o in BRANCHES or o in STORES or o in (CALL, BLOCK, LOOP, IF, END):
                    break
        elif op in UNSIGNED_COMPARES and lp.hash_seen and _branches_forward(toks, i, stack):
            compare = _operands(toks, i)
            if compare is not None:
                lp.compares.append(compare)
    return out


Operand = tuple[str, int]
"""('load', base local or -1 for an absolute address), ('local', n) or ('global', n)."""


def _operand(toks: list[bytes], j: int) -> tuple[Operand, int] | None:
    """The simple operand ending at token j (a local, a global, or a load through a local or
    an absolute address, optionally kept with local.tee), and where it starts."""
    if j >= 0 and toks[j][0] == LOCAL_TEE:
        j -= 1
    if j < 0:
        return None
    o = toks[j][0]
    if o == LOCAL_GET:
        return ("local", _leb(toks[j], 1)), j
    if o == 0x23:
        return ("global", _leb(toks[j], 1)), j
    if o in LOADS and j >= 1:
        p = toks[j - 1][0]
        if p in (LOCAL_GET, LOCAL_TEE):
            return ("load", _leb(toks[j - 1], 1)), j - 1
        if p == I32_CONST:
            return ("load", -1), j - 1
    return None


def _operands(toks: list[bytes], i: int) -> tuple[Operand, Operand] | None:
    second = _operand(toks, i - 1)
    if second is None:
        return None
    first = _operand(toks, second[1] - 1)
    return None if first is None else (first[0], second[0])


def _is_target(compare: tuple[Operand, Operand], lp: _Loop) -> bool:
    """A hash word against a target, not the loop's counter against its bound nor two fields of
    one object: one side is loaded through the buffer handed to the hash (or a pointer the loop
    never moves), the other is a loop-invariant local or global, or a load through ANOTHER
    pointer (the target's words)."""
    a, b = compare
    if a[0] != "load":
        a, b = b, a
    if a[0] != "load":
        return False
    if any(kind != "global" and n in lp.incremented for kind, n in (a, b)):
        return False
    base = a[1]
    if base != -1 and base in lp.written:
        return False  # read through a pointer that walks: records of an array, not one hash
    if b[0] == "load":
        return b[1] != base and (b[1] == -1 or b[1] not in lp.written)
    return b[0] == "global" or b[1] not in lp.written


def _branches_forward(toks: list[bytes], i: int, stack: list) -> bool:
    """The comparison at `i` decides an `if` or a branch out of the loop body, not the loop's
    own back edge (which is how its bound is tested)."""
    for t in toks[i + 1:i + 4]:
        o = t[0]
        if o == IF:
            return True
        if o == BR_IF:
            # label 0..k counts outward from the innermost block; the innermost loop's label is
            # the number of blocks opened inside it. A branch there is the loop condition.
            inner = 0
            for entry in reversed(stack):
                if entry is not None:
                    break
                inner += 1
            return _leb(t, 1) != inner
        if o in STORES or o == CALL or o in BRANCHES:
            return False
    return False
