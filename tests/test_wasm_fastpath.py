"""The vectorised instruction path must give exactly what the sequential path gives.

The fixtures are smaller than the size at which decode() switches to the fast path, so the
threshold is lowered here to make every module (and mutated copies) take it.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from webscan.wasm import decoder
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
    rng = random.Random(seed)
    data = bytearray(MODULES[seed % len(MODULES)].read_bytes())
    for _ in range(1 + seed % 5):
        data[rng.randrange(8, len(data))] = rng.randrange(256)
    outcomes = []
    for fast in (True, False):
        try:
            outcomes.append(_facts(decode(bytes(data), fast=fast)))
        except WasmDecodeError as e:
            outcomes.append(("error", e.offset, str(e)))
    assert outcomes[0] == outcomes[1]
