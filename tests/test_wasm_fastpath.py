"""The vectorised instruction path must give exactly what the sequential path gives.

The fixtures are smaller than the size at which decode() switches to the fast path, so the
threshold is lowered here to make every module (and mutated copies) take it.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from webscan.wasm import decoder, fastpath
from webscan.wasm.decoder import WasmDecodeError, decode

from conftest import FIXTURES

MODULES = sorted((FIXTURES / "wasm").glob("*.wasm"))


def _facts(m) -> tuple:
    return (dict(m.opcodes), m.instructions, [(f.index, f.instructions) for f in m.functions],
            sorted(m.constants()), [(e.name, e.kind, e.index) for e in m.exports])


@pytest.fixture
def always_fast(monkeypatch):
    monkeypatch.setattr(decoder, "FAST_PATH_MIN_BYTES", 0)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_fast_path_equals_sequential_path(always_fast, path: Path):
    data = path.read_bytes()
    fast = decoder._decode_module(data, True)
    assert _facts(fast) == _facts(decode(data, fast=False))


def test_fast_path_is_taken(always_fast):
    """Guard for the test above: the vectorised path really decoded the bodies."""
    d = decoder._Decoder((FIXTURES / "wasm" / "miner.wasm").read_bytes(), True)
    d.run()
    assert d.fast_bodies > 0


@pytest.mark.parametrize("seed", range(40))
def test_fast_path_equals_sequential_path_on_mutations(always_fast, seed: int):
    _assert_paths_agree_on_mutations(MODULES[seed % len(MODULES)].read_bytes(), seed, 8)


def _assert_paths_agree_on_mutations(module: bytes, seed: int, first: int) -> None:
    """A few bytes from `first` on changed at random: both paths give the same facts, or the
    same error."""
    rng = random.Random(seed)
    data = bytearray(module)
    for _ in range(1 + seed % 5):
        data[rng.randrange(first, len(data))] = rng.randrange(256)
    outcomes = []
    for fast in (True, False):
        try:
            outcomes.append(_facts(decode(bytes(data), fast=fast)))
        except WasmDecodeError as e:
            outcomes.append(("error", e.offset, str(e)))
    assert outcomes[0] == outcomes[1]


# --- bodies bigger than a batch: decoded window by window ------------------------------------

SMALL_BATCH = 4096
"""Small enough that the fixtures' larger bodies, and the generated ones below, span windows."""


@pytest.fixture
def small_batches(always_fast, monkeypatch):
    """Also lifts the share of chunks the fast path repairs before it gives up: a speed
    heuristic, noisy over the 32 chunks of a small window, that the proof does not rely on
    (so the repairs are exercised too instead of the body going sequential)."""
    monkeypatch.setattr(fastpath, "BATCH_BYTES", SMALL_BATCH)
    monkeypatch.setattr(fastpath, "MAX_REPAIR_SHARE", 1.0)


def _uleb(v: int) -> bytes:
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _sleb(v: int) -> bytes:
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        done = (v == 0 and not b & 0x40) or (v == -1 and b & 0x40)
        out.append(b | (0 if done else 0x80))
        if done:
            return bytes(out)


def _label(rng: random.Random) -> bytes:
    """Mostly a small depth (one byte), as in compiled code, sometimes 2 to 4 bytes (the
    longest a batch takes)."""
    if rng.randrange(8):
        return _uleb(rng.randrange(0x80))
    return _uleb(rng.choice((rng.randrange(1 << 14), rng.randrange(1 << 28))))


KINDS = [0] * 3 + [1] + [2] * 2 + [3, 4, 5, 6] + [7] * 2 + [8] * 6
"""Instruction kinds below, about as often as in compiled code (mostly short instructions):
walkers that start off the true chain re-synchronise on them as they do in real code."""


def _instruction(rng: random.Random) -> bytes:
    kind = rng.choice(KINDS)
    if kind == 0:
        return b"\x41" + _sleb(rng.randrange(-(1 << 31), 1 << 31))
    if kind == 1:
        return b"\x42" + _sleb(rng.randrange(-(1 << 63), 1 << 63))
    if kind == 2:
        return b"\x28\x02" + _uleb(rng.randrange(1 << 20))  # i32.load with a memarg
    if kind == 3:
        return b"\xfd\x0c" + rng.randbytes(16)  # v128.const: 16 raw bytes, any values
    if kind == 4:
        return b"\xfd\x9b\x01"  # a SIMD opcode with a two-byte sub-opcode
    if kind == 5:  # br_table: mostly short, some longer than a window
        count = rng.choice((rng.randrange(4), rng.randrange(300), rng.randrange(3000)))
        return b"\x0e" + _uleb(count) + b"".join(_label(rng) for _ in range(count + 1))
    if kind == 6:
        return b"\x44" + rng.randbytes(8)
    if kind == 7:
        return b"\x02\x40\x20" + _uleb(rng.randrange(1 << 16)) + b"\x1a\x0b"  # block ... end
    return bytes([rng.choice((0x6A, 0x1A, 0x45, 0x01))])


def _module(bodies: list[bytes]) -> bytes:
    def section(sid: int, payload: bytes) -> bytes:
        return bytes([sid]) + _uleb(len(payload)) + payload

    code = b"".join(_uleb(len(b) + 2) + b"\x00" + b + b"\x0b" for b in bodies)
    return (b"\x00asm\x01\x00\x00\x00" + section(1, b"\x01\x60\x00\x00")
            + section(3, _uleb(len(bodies)) + b"\x00" * len(bodies))
            + section(10, _uleb(len(bodies)) + code))


def _big_body(seed: int, size: int) -> bytes:
    rng = random.Random(seed)
    parts: list[bytes] = []
    total = 0
    while total < size:
        parts.append(_instruction(rng))
        total += len(parts[-1])
    return b"".join(parts)


def _windowed(data: bytes) -> tuple[decoder._Decoder, fastpath.BatchResult]:
    """The decoder's result, and the fast path's own account of the work (windows, their size)."""
    d = decoder._Decoder(data, True)
    m = d.run()
    work = fastpath.decode_bodies(data, [f.code_offset for f in m.functions],
                                  [f.offset + f.size for f in m.functions])
    return d, work


@pytest.mark.parametrize("seed", range(12))
def test_body_bigger_than_a_batch_decodes_as_the_sequential_path(small_batches, seed: int):
    """One body of ~20 windows among small ones: proven by the fast path window by window,
    every window no bigger than a batch (memory bounded), about one window per batch of code
    (work linear in the body), and the result exactly the sequential path's."""
    size = 20 * SMALL_BATCH
    bodies = [_big_body(seed, 40), _big_body(seed + 100, size), _big_body(seed + 200, 40)]
    data = _module(bodies)
    d, work = _windowed(data)
    assert _facts(d.m) == _facts(decode(data, fast=False))
    assert d.fast_bodies == 3
    assert work.failed == []
    assert work.largest <= SMALL_BATCH + fastpath.PAD
    assert 1 <= work.windows <= len(bodies[1]) // SMALL_BATCH + 1


def test_br_table_longer_than_many_windows(small_batches):
    """The bench's hostile shape: a label vector 50 windows long is measured, not decoded
    window by window, and the body is still proven exactly."""
    labels = 50 * SMALL_BATCH
    body = b"\x02\x40\x41\x00\x0e" + _uleb(labels) + b"\x00" * labels + b"\x00\x0b"
    data = _module([body])
    d, work = _windowed(data)
    assert _facts(d.m) == _facts(decode(data, fast=False))
    assert d.fast_bodies == 1
    assert work.windows == 2  # the one where the br_table starts, the one after its end
    assert d.m.functions[0].instructions == 5


@pytest.mark.parametrize("where", [0, SMALL_BATCH - 2, SMALL_BATCH + 1, 7 * SMALL_BATCH + 3])
def test_long_label_in_a_long_br_table_goes_sequential(small_batches, where: int):
    """A 5-byte label (the hand decoder range-checks those; the batch rules refuse them) found
    anywhere in a br_table longer than a window, across a chunk seam too: the body is left to
    the sequential path, and the result is still the sequential path's."""
    labels = [b"\x00"] * (10 * SMALL_BATCH)
    labels[where] = b"\xff\xff\xff\xff\x0f"
    body = b"\x02\x40\x41\x00\x0e" + _uleb(len(labels) - 1) + b"".join(labels) + b"\x0b"
    data = _module([body])
    d, work = _windowed(data)
    assert _facts(d.m) == _facts(decode(data, fast=False))
    assert work.failed == [0]
    assert d.fast_bodies == 0


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_windowed_path_equals_sequential_path(small_batches, path: Path):
    data = path.read_bytes()
    assert _facts(decoder._decode_module(data, True)) == _facts(decode(data, fast=False))


@pytest.mark.parametrize("seed", range(20))
def test_windowed_path_equals_sequential_path_on_mutations(small_batches, seed: int):
    _assert_paths_agree_on_mutations(_module([_big_body(seed, 8 * SMALL_BATCH)]), seed, 30)
