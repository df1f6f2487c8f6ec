"""Vectorised (numpy) instruction decoding of many function bodies at once, for large modules.

Why: the regex tokeniser in `decoder.py` spends ~300 ns per instruction inside sre and
`Counter`, which caps decoding at ~4-5 MB/s; the project's bar is >= 10 MB/s. A sequential walk
in Python is no faster (~150 ns per step here), so the sequential part is made parallel:

1. For EVERY byte position of a batch of bodies, compute where the instruction that would start
   there ends (`nxt`), with whole-array operations: one opcode table lookup, plus LEB128
   lengths for every position at once (runs of bytes >= 0x80). Anything unusual or malformed
   (unknown opcode, over-long LEB, `try_table`, a non-canonical sub-opcode, ...) is a "sink".
2. The true instructions of a body are the positions reached from its first instruction by
   following `nxt`. Bodies are cut into CHUNK-byte chunks and one walker per chunk follows
   `nxt` in lock step with all the others (one numpy gather per step, CHUNK + LEAD steps). A
   walker that does not start a body starts at an arbitrary byte: it is trusted from where it
   meets the exit of the previous chunk's trusted walker (a misaligned decode merges into the
   true one within a few instructions); the rare chunk where it does not is walked again
   from the right entry in plain Python (`_repair`).
3. Each body's positions are then VERIFIED: its start, then each position's `nxt` is the next
   position, the last one ends exactly at the body end, and none is a sink. That is a proof
   the body was decoded exactly as the sequential decoder would; nothing in steps 1-2 has to
   be trusted for the result to be exact. A body that fails (a sink on its true chain such as
   `try_table`, a body overrunning its end, ...) is returned for the caller's sequential path.

The acceptance rules mirror `decoder.TOKEN_RE` (a subset of it): wherever this module accepts
an instruction, the regex matches the same bytes, so the histogram, instruction counts and
constants are identical to the regex path (`bench/bench_wasm.py --check` compares the two).

Cost notes (measured on the 2-core bench machine): whole-array uint8 arithmetic is ~0.5 ms per
3 MB, a per-byte table lookup ~3 ms with `bytes.translate` (numpy's `take` ~6 ms), boolean
masking and `np.where` on whole arrays ~20 ms, and `np.unique` far more (sort instead); so the
per-byte work is one lookup plus uint8 arithmetic, and everything irregular runs on subsets.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from webscan.budget import check as check_budget
from webscan.wasm import decoder as d

PAD = 64
"""Zero bytes after a batch: every look-ahead (at most ~40 bytes past a position) stays inside."""
BATCH_BYTES = 256 << 10
"""Bodies are decoded in batches of about this many bytes: scattered reads stay mostly in
cache, numpy's per-call overhead is spread over enough bytes, and memory stays bounded (~30
bytes of arrays per byte of code). On the corpus's five largest modules (44 MB) 256 KiB decodes
as fast as 1 MiB (28-30 against 23-28 MB/s on the shared machine) with a lower peak (89 against
109 MB RSS): a batch's ~8 MB of arrays is reused by the next batch, where 1 MiB batches are
handed back to the OS and page-faulted in afresh each time (that was a 2.7x step from 256 KiB
to 512 KiB in bench_adversarial's wasm-br-table). A single body bigger than this is decoded
in windows of this size, one after the other (`_decode_long`), so neither memory nor the cost
per byte depend on how big one body is."""
CHUNK = 128
"""Bytes per lock-step walker: the walk takes at most CHUNK + LEAD steps over all chunks."""
LEAD = 16
"""A walker that does not start a body starts this many bytes before its chunk."""
MAX_REPAIR_SHARE = 0.25
"""When more chunks than this need a Python walk (code built to defeat re-synchronisation,
e.g. back-to-back `v128.const` whose immediates decode as more of them), the batch goes the
sequential regex way, which is then faster."""

# One table lookup per byte says how the instruction starting there is measured:
# 1..9 = a fixed total length; _LEB5/_LEB10 = one LEB128 immediate of at most 5/10 bytes;
# _BLOCK = a block type (an s33, or a reference type that we leave to the sequential path);
# _MEMARG = a memarg whose alignment is one byte < 0x40 (no memory index; any other form is
# left to the sequential path); _SPARSE = measured separately on the few positions concerned;
# 0 = not an instruction we accept (unknown opcode, try_table, ...).
_LEB5, _LEB10, _BLOCK, _MEMARG, _SPARSE = 64, 65, 66, 67, 128
_PREFIX_SHAPE = -2
_PREFIX_INDEX = {p: k for k, p in enumerate(d.PREFIXES)}
_SUB_LIMIT = 0x4000
"""Sub-opcodes are taken in their canonical one- or two-byte LEB128 form, like the regex."""
_SHAPE_FIXED = {d.NONE: 0, d.F32: 4, d.F64: 8}
_SHAPE_DENSE = {d.U32: _LEB5, d.HEAP: _LEB5, d.I32: _LEB5, d.I64: _LEB10, d.BLOCK: _BLOCK,
                d.MEMARG: _MEMARG}


def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    measure = np.zeros(256, np.uint8)
    shape = np.full(256, -1, np.int16)
    for code, s in d._CORE_SHAPES.items():
        shape[code] = s
        if s in _SHAPE_FIXED:
            measure[code] = 1 + _SHAPE_FIXED[s]
        else:
            measure[code] = _SHAPE_DENSE.get(s, _SPARSE)
    for p in d.PREFIXES:
        measure[p] = _SPARSE
        shape[p] = _PREFIX_SHAPE
    pshape = np.full((len(d.PREFIXES), _SUB_LIMIT), -1, np.int16)
    for p, table in d._PREFIXED_SHAPES.items():
        for code, s in table.items():
            if code < _SUB_LIMIT:
                pshape[_PREFIX_INDEX[p], code] = s
    return measure, shape, pshape


_MEASURE, _SHAPE, _PSHAPE = _tables()
_MEASURE_BYTES = _MEASURE.tobytes()


@dataclass
class BatchResult:
    """What the vectorised path established for the bodies it could prove."""

    counts: dict[int, int] = field(default_factory=dict)
    """Body number (index into the caller's lists) -> instruction count, for proven bodies."""
    opcodes: Counter = field(default_factory=Counter)
    i32: set[int] = field(default_factory=set)
    i64: set[int] = field(default_factory=set)
    failed: list[int] = field(default_factory=list)
    """Body numbers the caller must decode sequentially."""
    windows: int = 0
    """Windows decoded for bodies bigger than a batch (`_decode_long`)."""
    largest: int = 0
    """Bytes of the largest window (its arrays take ~30 bytes per byte)."""


class _Batch:
    """One contiguous byte range [base, base + n) of the code section holding some bodies.

    Positions are batch-relative; the bytes are followed by PAD zero bytes so that look-aheads
    need no bounds checks. While measuring immediates, `sink` (n + 1, past any body end) stands
    for "no instruction here"; `successors` turns it into the sink flags.
    """

    def __init__(self, data: bytes, base: int, n: int) -> None:
        self.n = n
        self.sink = n + 1
        self.raw = data[base:base + n]
        ap = np.zeros(n + PAD, np.uint8)
        ap[:n] = np.frombuffer(self.raw, np.uint8)
        self.ap = ap
        # ll[i]: length of the LEB128 starting at i, capped at 11 (anything > 10 is invalid).
        cont = ap >= 0x80
        run = cont.copy()
        ll = run.view(np.uint8) + np.uint8(1)
        for k in range(1, 11):
            run[:-k] &= cont[k:]
            ll += run.view(np.uint8)
        self.ll = ll
        self._ti: np.ndarray | None = None

    @property
    def ti(self) -> np.ndarray:
        """Positions of all LEB128 terminators (bytes < 0x80); only br_table needs them."""
        if self._ti is None:
            self._ti = np.flatnonzero(self.ap < 0x80)
        return self._ti

    def leb(self, q: np.ndarray, limit: int) -> np.ndarray:
        """End of the LEB128 at each `q` (an index subset), or sink when longer than `limit`."""
        q = np.minimum(q, self.sink)
        length = self.ll[q]
        return np.where(length <= limit, q + length, self.sink)

    def successors(self) -> tuple[np.ndarray, np.ndarray]:
        """`nxt` (int32, n + 1 entries) for every position: where an instruction starting there
        would end. A position where we accept no instruction is flagged in `sink` and points
        to the next byte (so a speculative walk carries on and can still meet the true chain);
        position n points to itself."""
        n, ap, ll = self.n, self.ap, self.ll
        op = ap[:n]
        m = np.frombuffer(self.raw.translate(_MEASURE_BYTES), np.uint8)  # 2x numpy's take
        a1, ll1, ll2 = ap[1:n + 1], ll[1:n + 1], ll[2:n + 2]
        one = np.uint8(1)
        length = m * (m < _LEB5)
        leb5 = (ll1 + one) * (ll1 <= 5)
        block = (m == _BLOCK) & ((a1 - np.uint8(0x63)) > 1)  # not 0x63/0x64 (a ref type)
        length += leb5 * ((m == _LEB5) | block)
        length += (ll1 + one) * (ll1 <= 10) * (m == _LEB10)
        length += (ll2 + np.uint8(2)) * (ll2 <= 10) * (a1 < 0x40) * (m == _MEMARG)
        sparse = np.flatnonzero(m == _SPARSE)
        tail = max(n - PAD, 0)  # dense lengths are < PAD: only the tail can run past the end
        length[tail:] *= np.arange(tail, n) + length[tail:] <= n
        sink = length == 0
        nxt = np.arange(n + 1, dtype=np.int32)
        nxt[:n] += length
        nxt[:n] += sink
        if sparse.size:
            ends = self._sparse_ends(sparse, op[sparse])
            ok = ends <= n
            nxt[sparse] = np.where(ok, ends, sparse + 1)
            sink[sparse] = ~ok
        return nxt, sink

    def _sparse_ends(self, pos: np.ndarray, op: np.ndarray) -> np.ndarray:
        """Instruction ends at the few positions whose opcode needs more than arithmetic on
        neighbouring bytes (prefixed opcodes, call_indirect, br_table, typed select, ...),
        grouped by immediate shape."""
        ap = self.ap
        shape = _SHAPE[op].astype(np.int32)
        q = pos + 1
        pref = np.flatnonzero(shape == _PREFIX_SHAPE)
        if pref.size:
            pp = pos[pref]
            b1 = ap[pp + 1].astype(np.int64)
            b2 = ap[pp + 2].astype(np.int64)
            one = b1 < 0x80
            ok = one | ((b2 > 0) & (b2 < 0x80))  # a canonical two-byte sub-opcode
            sub = np.where(one, b1, (b1 & 0x7F) | (b2 << 7)) * ok
            ps = _PSHAPE[op[pref].astype(np.int64) - 0xFB, sub]
            ps[~ok] = -1
            shape[pref] = ps
            q[pref] = pp + np.where(one, 2, 3)
        out = np.full(pos.size, self.sink, np.int64)
        present = np.flatnonzero(np.bincount(shape + 2)) - 2
        for s in present.tolist():
            if s >= 0:
                m = np.flatnonzero(shape == s)
                out[m] = self._shape_end(s, q[m])
        return out

    def _shape_end(self, s: int, q: np.ndarray) -> np.ndarray:
        """End of the immediates of shape `s` starting at `q` (sink where the regex would not
        match, or where we leave the instruction to the sequential decoder)."""
        ap, sink, leb = self.ap, self.sink, self.leb
        if s == d.NONE:
            return q
        if s in (d.U32, d.HEAP, d.I32):
            return leb(q, 5)
        if s == d.I64:
            return leb(q, 10)
        if s == d.U32X2:
            return leb(leb(q, 5), 5)
        if s in (d.F32, d.F64, d.V128, d.LANE):
            return q + {d.F32: 4, d.F64: 8, d.V128: 16, d.LANE: 1}[s]
        if s == d.FENCE:
            return np.where(ap[q] == 0, q + 1, sink)
        if s in (d.MEMARG, d.MEMARG_LANE):
            align = leb(q, 5)
            mem = np.where(ap[q] & 0x40 != 0, leb(align, 5), align)  # multi-memory index
            return leb(mem, 10) + (1 if s == d.MEMARG_LANE else 0)
        if s == d.BLOCK:
            ref = (ap[q] == 0x63) | (ap[q] == 0x64)  # (ref null? ht): the heap type follows
            return leb(q + ref, 5)
        if s == d.SELECT_T:
            t = ap[q + 1]
            one_byte = (t >= 0x69) & (t <= 0x7F)
            ref = (t == 0x63) | (t == 0x64)
            end = np.where(one_byte, q + 2, np.where(ref, leb(q + 2, 5), sink))
            return np.where(ap[q] == 1, end, sink)  # the one-type form, like the regex
        if s == d.BR_ON_CAST:
            end = leb(leb(leb(q + 1, 5), 5), 5)
            return np.where(ap[q] <= 3, end, sink)
        if s == d.BR_TABLE:
            return self._br_table_end(q)
        return np.full(q.size, sink, np.int64)  # try_table and anything new: sequential path

    def _br_table_end(self, q: np.ndarray) -> np.ndarray:
        """A label count, then count + 1 labels: the (count + 1)-th LEB terminator after the
        count. A 5-byte count is left to the sequential decoder; 5-byte labels are rejected
        afterwards, on the few br_tables that turn out to be real (`_long_labels`)."""
        ap, sink, n, ti = self.ap, self.sink, self.n, self.ti
        c_end = self.leb(q, 4)
        length = np.minimum(c_end - q, 4)
        count = np.zeros(q.size, np.int64)
        for k in range(4):
            b = ap[np.minimum(q + k, n + PAD - 1)].astype(np.int64)
            count |= ((b & 0x7F) << (7 * k)) * (k < length)
        valid = (c_end < sink) & (count < n)
        c_end = np.where(valid, c_end, 0)
        k = np.searchsorted(ti, c_end) + count * valid
        valid &= k < ti.size
        return np.where(valid, ti[np.where(valid, k, 0)] + 1, sink)


def _chunks(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cut every body into CHUNK-byte pieces: (chunk start, chunk limit, is a body start)."""
    per = (ends - starts + CHUNK - 1) // CHUNK
    body = np.repeat(np.arange(starts.size), per)
    k = np.arange(body.size) - np.repeat(np.cumsum(per) - per, per)
    a = starts[body] + k * CHUNK
    return a, np.minimum(a + CHUNK, ends[body]), k == 0


def _reachable(nxt: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """The positions (ascending) on the chain from each body start, following `nxt`, up to the
    body end. Lock-step walkers, one per chunk; a walker that does not begin at a body start
    begins at an arbitrary byte and is trusted only from where it meets the exit of the
    previous chunk's (trusted) walker. It begins LEAD bytes early, inside the previous chunk,
    so that it has usually merged into the true chain before its own chunk starts (merging
    later would skip the true positions before the merge). Chunks whose walker misses the
    entry are walked again, from the right entry, in plain Python (rare, ~0.5% of chunks: a
    misaligned decode re-synchronises within a few instructions unless the code repeats with
    a period that keeps it off by a byte). None when too many chunks need that."""
    a, lim, anchored = _chunks(starts, ends)
    w = a.size
    lim = lim.astype(np.int32)
    steps = CHUNK + LEAD
    rec = np.empty((steps + 1, w), np.int32)
    cur = (a - LEAD * ~anchored).astype(np.int32)
    rec[0] = cur
    rows = steps + 1
    for k in range(1, steps + 1):
        cur = nxt.take(cur)
        rec[k] = cur
        if not k & 15 and (cur >= lim).all():
            rows = k + 1
            break
    rec = rec[:rows]
    cols = np.arange(w)
    # Each column ascends, so rows are found by a binary search run on all columns at once.
    exit_row = _first_row_at_least(rec, lim)
    exit_at = rec[exit_row, cols]
    entry = np.empty(w, np.int32)
    entry[0] = a[0]
    entry[1:] = exit_at[:-1]
    entry_row = _first_row_at_least(rec, entry)
    ok = anchored | ((rec[np.minimum(entry_row, rows - 1), cols] == entry)
                     & (entry_row < exit_row))
    entry_row[anchored] = 0
    extra: list[int] = []
    if not ok.all():
        if np.count_nonzero(~ok) > w * MAX_REPAIR_SHARE:
            return None
        repaired, extra = _repair(nxt, ok, anchored, lim, exit_at)
        ok[repaired] = False  # their speculative walks contribute nothing
    span = (exit_row - entry_row) * ok
    offset = (np.arange(rows, dtype=np.int32)[:, None] - entry_row.astype(np.int32))
    take = offset.view(np.uint32) < span.astype(np.uint32)  # entry_row <= row < exit_row
    live = rec.T[take.T]  # chunk by chunk: ascending
    if extra:
        walked = np.array(extra, np.int32)  # ascending too (walked in chunk order)
        live = np.insert(live, np.searchsorted(live, walked), walked)
    return live.astype(np.int64)


def _first_row_at_least(rec: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Per column of the column-wise ascending `rec`, the first row with rec >= value
    (rec.shape[0] when there is none)."""
    cols = np.arange(rec.shape[1])
    lo = np.zeros(rec.shape[1], np.int64)
    hi = np.full(rec.shape[1], rec.shape[0], np.int64)
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) >> 1
        below = (rec[np.minimum(mid, rec.shape[0] - 1), cols] < value) & active
        lo = np.where(below, mid + 1, lo)
        hi = np.where(below | ~active, hi, mid)


def _repair(nxt: np.ndarray, ok: np.ndarray, anchored: np.ndarray, lim: np.ndarray,
            exit_at: np.ndarray) -> tuple[list[int], list[int]]:
    """Walk the chunks whose speculative walker missed the true chain, in order, from the true
    exit of the chunk before. When such a walk leaves its chunk somewhere else than the
    speculative walker did, the next chunk's check no longer holds and it is walked too, until
    the exits agree again. Plain Python on purpose: per chunk this costs ~1 us plus ~0.2 us per
    instruction, where any numpy call would cost ~10 us. Returns (chunks walked, positions)."""
    step = memoryview(nxt)
    limits = lim.tolist()
    exits = exit_at.tolist()
    first = anchored.tolist()
    settled = ok.tolist()
    walked: list[int] = []
    path: list[int] = []
    add = path.append
    for c in np.flatnonzero(~ok).tolist():
        if settled[c]:  # walked while repairing its predecessor
            continue
        x = exits[c - 1]
        while True:
            end = limits[c]
            while x < end:
                add(x)
                x = step[x]
            walked.append(c)
            settled[c] = True
            changed = x != exits[c]
            exits[c] = x
            c += 1
            if c >= len(limits) or first[c] or not changed:
                break
    return walked, path


def _long_labels(batch: _Batch, at: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """For real br_tables (sorted, disjoint): does a label or the count take 5+ bytes? The
    regex path accepts those without a range check but the hand decoder checks them, so such a
    body goes the sequential way. A LEB128 of 5+ bytes starting at k shows as ll[k] >= 5."""
    bounds = np.empty(2 * at.size, np.int64)
    bounds[0::2] = at + 1
    bounds[1::2] = ends
    longest = np.maximum.reduceat(batch.ll, bounds)[0::2]
    return longest >= 5


def _decode_batch(data: bytes, base: int, n: int, starts: np.ndarray, ends: np.ndarray,
                  first: int, out: BatchResult) -> None:
    batch = _Batch(data, base, n)
    nxt, sink = batch.successors()
    live = _reachable(nxt, starts, ends)
    if live is None:
        out.failed.extend(range(first, first + starts.size))
        return
    # Verify (this is the proof; nothing above needs to be trusted): in each body, the live
    # positions are its start, then each one's successor, up to its end; none is a sink.
    at = np.searchsorted(live, starts)
    ok_body = live[np.minimum(at, live.size - 1)] == starts
    succ = nxt[live]
    wrong = np.flatnonzero(succ[:-1] != live[1:])  # includes each step into the next body,
    if succ[-1] != ends[-1]:
        wrong = np.append(wrong, live.size - 1)
    body = np.minimum(np.searchsorted(at, wrong + 1), starts.size - 1)
    into_next = (at[body] == wrong + 1) & (body > 0) & ok_body[body]
    wrong = wrong[~(into_next & (succ[wrong] == ends[body - 1]))]  # fine if it ends that body
    wrong = np.concatenate((wrong, np.flatnonzero(sink[live])))
    ap = batch.ap
    op = ap[live]
    tables = live[op == 0x0E]
    if tables.size:
        long_ = _long_labels(batch, tables, nxt[tables])
        wrong = np.concatenate((wrong, np.searchsorted(live, tables[long_])))
    if wrong.size:
        ok_body[np.searchsorted(starts, live[wrong], side="right") - 1] = False
    if not ok_body.all():
        keep = np.repeat(ok_body, np.diff(at, append=live.size))
        live = live[keep]
        op = op[keep]
        at = np.searchsorted(live, starts)
    counts = np.diff(at, append=live.size)
    for k in np.flatnonzero(ok_body).tolist():
        out.counts[first + k] = int(counts[k])
    out.failed.extend((first + np.flatnonzero(~ok_body)).tolist())
    _tally(ap, live, op, nxt, out)


def _tally(ap: np.ndarray, live: np.ndarray, op: np.ndarray, nxt: np.ndarray,
           out: BatchResult) -> None:
    """Add the proven instructions at `live` (opcodes `op`) to the histogram and constants."""
    # Histogram: plain opcodes by byte, prefixed ones by (prefix, sub-opcode).
    hist = np.bincount(op, minlength=256)
    pref = live[op >= 0xFB]
    if pref.size:
        b1 = ap[pref + 1].astype(np.int64)
        sub = np.where(b1 < 0x80, b1, (b1 & 0x7F) | (ap[pref + 2].astype(np.int64) << 7))
        dense = (ap[pref].astype(np.int64) - 0xFB) * _SUB_LIMIT + sub
        phist = np.bincount(dense)
        for k in np.flatnonzero(phist).tolist():
            out.opcodes[d.opcode_key(0xFB + k // _SUB_LIMIT, k % _SUB_LIMIT)] += int(phist[k])
    for k in np.flatnonzero(hist[:0xFB]).tolist():
        out.opcodes[k] += int(hist[k])
    for code, width, target in ((0x41, 32, out.i32), (0x42, 64, out.i64)):
        at = live[op == code]
        if at.size:
            values = _leb_values(ap, at + 1, nxt[at], width)
            values.sort()
            distinct = np.empty(values.size, bool)
            distinct[0] = True
            np.not_equal(values[1:], values[:-1], out=distinct[1:])
            target.update(values[distinct].tolist())  # (np.unique is ~10x slower here)


def _decode_long(data: bytes, start: int, end: int, index: int, out: BatchResult) -> None:
    """Decode one body bigger than a batch in windows of BATCH_BYTES, each from the true
    instruction start where the previous one left off, so the arrays never exceed a batch.

    A window's bytes run PAD past its end, which holds any instruction starting inside it
    except a br_table whose label vector goes on further: that one is measured by
    `_br_table_span` (a count of LEB terminators, chunk by chunk) and the next window starts
    after it, so every window moves at least its own length on. A window is verified like a
    batch (its start, each successor, no sink); the body is proven when its last window ends
    exactly at the body end. Anything else sends the whole body to the sequential path, and
    nothing of it is added to `out` before it is proven."""
    part = BatchResult()
    count = 0
    x = start
    while x < end:
        check_budget()
        stop = min(x + BATCH_BYTES, end) - x  # window-relative, like everything below
        batch = _Batch(data, x, min(x + BATCH_BYTES + PAD, end) - x)
        part.windows += 1
        part.largest = max(part.largest, batch.n)
        nxt, sink = batch.successors()
        live = _reachable(nxt, np.zeros(1, np.int64), np.full(1, stop, np.int64))
        if live is None or live[0] != 0:
            out.failed.append(index)
            return
        succ = nxt[live]
        op = batch.ap[live]
        wrong = np.flatnonzero(succ[:-1] != live[1:])
        wrong = np.concatenate((wrong, np.flatnonzero(sink[live])))
        tables = np.flatnonzero((op == 0x0E) & ~sink[live])
        if tables.size:
            long_ = _long_labels(batch, live[tables], succ[tables])
            wrong = np.concatenate((wrong, tables[long_]))
        if wrong.size:
            f = int(wrong.min())
            after = None
            if op[f] == 0x0E and sink[live[f]]:  # a br_table longer than the window?
                after = _br_table_span(data, x + int(live[f]), end)
            if after is None or after <= x + stop:  # (the latter cannot be; it would stall)
                out.failed.append(index)
                return
            live, op = live[:f + 1], op[:f + 1]
            _tally(batch.ap, live[:-1], op[:-1], nxt, part)
            part.opcodes[0x0E] += 1
            x = after
        else:
            _tally(batch.ap, live, op, nxt, part)
            x += int(succ[-1])
        count += live.size
    out.counts[index] = count
    out.opcodes.update(part.opcodes)
    out.i32 |= part.i32
    out.i64 |= part.i64
    out.windows += part.windows
    out.largest = max(out.largest, part.largest)


def _br_table_span(data: bytes, at: int, end: int) -> int | None:
    """End of the br_table at `at` by the batch's rules (a count of at most 4 bytes, then
    count + 1 labels of at most 4 bytes each, all before `end`), reading BATCH_BYTES at a time;
    None when it breaks one of them."""
    q = at + 1
    head = data[q:min(q + 4, end)]
    size = next((k + 1 for k, b in enumerate(head) if b < 0x80), 0)
    if not size:
        return None
    c_end = q + size
    count = sum((b & 0x7F) << (7 * k) for k, b in enumerate(head[:size]))
    need = count + 1
    pos = c_end
    while pos < end:
        check_budget()
        # From 3 bytes back (never before the count's last byte, a terminator): a run of 4
        # continuation bytes, i.e. a label of 5+ bytes, is seen across the seam too.
        back = max(c_end, pos - 3)
        window = np.frombuffer(data, np.uint8, min(BATCH_BYTES, end - pos) + pos - back, back)
        cont = window >= 0x80
        stops = np.flatnonzero(~cont[pos - back:])
        last = window.size if stops.size < need else pos - back + int(stops[need - 1]) + 1
        c = cont[:last]
        if c.size >= 4 and (c[:-3] & c[1:-2] & c[2:-1] & c[3:]).any():
            return None
        if stops.size >= need:
            return back + last
        need -= stops.size
        pos = back + window.size
    return None


def _leb_values(ap: np.ndarray, q: np.ndarray, e: np.ndarray, width: int) -> np.ndarray:
    """Signed LEB128 immediates [q, e) as unsigned `width`-bit integers (uint64), exactly as
    the regex path computes them: all bits accumulated, sign-extended, then truncated.
    Each immediate is read as one or two unaligned little-endian 8-byte words (a byte-strided
    uint64 view), then its 7-bit groups are gathered with whole-array shifts."""
    words = np.ndarray((ap.size - 8,), "<u8", ap, 0, (1,))
    length = (e - q).astype(np.uint64)
    value = np.zeros(q.size, np.uint64)
    seven = np.uint64(0x7F)
    most = int(length.max())
    for part in range(2 if most > 8 else 1):
        w = words[q + 8 * part]
        for k in range(8):
            byte = 8 * part + k
            if byte >= most:
                break
            group = (w >> np.uint64(8 * k)) & seven
            value |= (group << np.uint64(7 * byte)) * (length > byte)
    last = ap[e - 1].astype(np.uint64)
    shift = np.uint64(7) * length
    small = shift < 64
    sign = (np.uint64(1) << np.where(small, shift, np.uint64(0))) * small
    value -= sign * ((last & np.uint64(0x40)) != 0)
    if width == 32:
        value &= np.uint64(0xFFFFFFFF)
    return value


def decode_bodies(data: bytes, starts: list[int], ends: list[int]) -> BatchResult:
    """Decode the instructions of bodies [starts[k], ends[k]) (file offsets, ascending, each
    ending with `end` already checked by the caller). Bodies that cannot be proven exact (or
    are too big to be worth the memory) are listed in `failed`; nothing here raises on
    malformed code."""
    out = BatchResult()
    k = 0
    total = len(starts)
    while k < total:
        j = k + 1
        base = starts[k]
        while j < total and ends[j] - base <= BATCH_BYTES:
            j += 1
        n = ends[j - 1] - base
        if n > BATCH_BYTES:  # one body alone, bigger than a batch: window by window
            _decode_long(data, starts[k], ends[k], k, out)
        else:
            s = np.array(starts[k:j], np.int64) - base
            e = np.array(ends[k:j], np.int64) - base
            _decode_batch(data, base, n, s, e, k, out)
        k = j
    return out
