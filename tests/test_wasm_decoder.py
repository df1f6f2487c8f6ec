"""Our Wasm decoder against the wasm-tools package (an independent decoder), and on bad input.

The cross-check covers every committed fixture, including the WAT one that exercises SIMD
(0xFD), atomics (0xFE), bulk memory and saturating truncation (0xFC), short and long
br_tables, call_indirect, typed select and multi-value blocks.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
import wasm_tools

from webscan.wasm.decoder import WasmDecodeError, decode, opcode_key

ROOT = Path(__file__).resolve().parent.parent
WASM = ROOT / "site_fixtures" / "wasm"
FIXTURES = sorted(WASM.glob("*.wasm"))
HEADER = b"\x00asm\x01\x00\x00\x00"


def _reference(data: bytes) -> dict:
    report = wasm_tools.parse_wasm_bytes(data, include_strings=False, include_call_graph=False)
    assert report["errors"] == []
    return report


def _key_to_name() -> dict[int, str]:
    """wasm-tools names opcodes (and gives `select` and typed `select` one name), so the
    histograms are compared by name."""
    from wasm_tools.opcodes import OPCODES

    return {opcode_key(prefix, code): name for (prefix, code), (name, _) in OPCODES.items()}


def test_fixtures_exist():
    names = {p.name for p in FIXTURES}
    assert {"miner.wasm", "worker.wasm", "sha3lib.wasm", "features.wasm", "nbody.wasm"} <= names


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_matches_wasm_tools(path: Path):
    data = path.read_bytes()
    ours = decode(data)
    ref = _reference(data)
    names = _key_to_name()
    hist = Counter(ins["opcode"] for fn in ref["functions"] for ins in fn["instructions"])
    mine: Counter = Counter()
    for key, n in ours.opcodes.items():
        mine[names[key]] += n
    assert +mine == hist
    assert [f.instructions for f in ours.functions] == [f["instruction_count"] for f in ref["functions"]]
    assert [f.index for f in ours.functions] == [f["index"] for f in ref["functions"]]
    assert len(ours.functions) == ref["function_count"]
    assert [(s.id, s.size) for s in ours.sections] == [(s["id"], s["size"]) for s in ref["sections"]]
    assert [(i.module, i.name, i.kind) for i in ours.imports] == \
        [(i["module"], i["name"], i["kind"]) for i in ref["imports"]]
    assert [(e.name, e.kind, e.index) for e in ours.exports] == \
        [(e["name"], e["kind"], e["ref_index"]) for e in ref["exports"]]
    assert [len(d.data) for d in ours.data_segments] == [d["size"] for d in ref["data_segments"]]
    assert ours.instructions == sum(hist.values())


def test_prefixed_and_irregular_opcodes_are_counted():
    m = decode((WASM / "features.wasm").read_bytes())
    ops = m.opcodes
    assert ops[0x0E] == 2  # br_table: a short one and one with 160 labels (hand-decoded)
    assert ops[0x11] == 1  # call_indirect
    assert ops[0x1C] == 1  # typed select
    assert ops[opcode_key(0xFD, 0x0C)] == 1  # v128.const
    assert ops[opcode_key(0xFD, 0x0D)] == 1  # i8x16.shuffle
    assert ops[opcode_key(0xFD, 0x51)] == 1  # v128.xor
    assert ops[opcode_key(0xFD, 0xA4)] == 1  # i32x4.bitmask (two-byte sub-opcode LEB)
    assert ops[opcode_key(0xFE, 0x03)] == 1  # atomic.fence
    assert ops[opcode_key(0xFE, 0x00)] == 1  # memory.atomic.notify
    assert ops[opcode_key(0xFC, 0x0B)] == 1  # memory.fill
    assert ops[opcode_key(0xFC, 0x0A)] == 1  # memory.copy
    assert ops[opcode_key(0xFC, 0x08)] == 1  # memory.init
    assert ops[opcode_key(0xFC, 0x02)] == 1  # i32.trunc_sat_f64_s


def test_constants_are_unsigned_of_their_width():
    m = decode((WASM / "features.wasm").read_bytes())
    assert 0xFFFFFFFF in m.i32_constants  # i32.const -1
    assert 0x0123456789ABCDEF in m.i64_constants
    assert (-2147483649) & 0xFFFFFFFFFFFFFFFF in m.i64_constants
    assert 0x7FFFFFFFFFFFFFFF in m.i64_constants
    assert 0x9E3779B9 not in m.constants()  # inside a v128.const, not an integer constant


def test_names_data_and_bland_builds():
    named = decode((WASM / "miner.wasm").read_bytes())
    bland = decode((WASM / "worker.wasm").read_bytes())
    assert "pow_hash" in named.function_names.values()
    assert bland.function_names == {}
    assert {e.name for e in bland.exports} >= {"a", "b"}
    assert named.opcodes == bland.opcodes  # same code, different names
    assert any(b"\x63\x7c\x77\x7b" in d.data for d in named.data_segments)  # the AES S-box


def test_function_constants_locate_code():
    m = decode((WASM / "miner.wasm").read_bytes())
    holders = [f.index for f in m.functions if 0x1FFFF0 in m.function_constants(f)]
    assert holders and all(0x1FFFF0 not in m.function_constants(f)
                           for f in m.functions if f.index not in holders)


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("data, words", [
    (b"", "too short"),
    (b"\x00as", "too short"),
    (b"\x7fELF\x01\x00\x00\x00", "bad magic"),
    (b"\x00asm\x0d\x00\x01\x00", "component"),
    (HEADER + b"\x01" + b"\xff" * 20, "LEB128"),
    (HEADER + b"\x01\x05\xff\xff\xff\xff\x0f", "announced"),
    (HEADER + b"\x0a\x10\x01\x04\x00\x41\x00\x0b", "claims"),
    (HEADER + b"\x0a\x06\x01\x04\x00\x41\x00\x0b" + b"\x01", "section size"),
    (HEADER + b"\x2a\x00", "unknown section"),
    (HEADER + b"\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00", "bodies"),
    (HEADER + b"\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x08\x01\x06\x01\xff\xff\x03\x7f\x0b",
     "locals"),
    (HEADER + b"\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x05\x01\x03\x00\xff\x0b",
     "unknown opcode"),
    (HEADER + b"\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x05\x01\x03\x00\x01\x01", "`end`"),
    (HEADER + b"\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x09\x01\x07\x00\x0e\xff\xff\xff\x0f\x0b",
     "announced"),
])
def test_malformed_modules_raise_one_typed_error(data: bytes, words: str):
    with pytest.raises(WasmDecodeError) as err:
        decode(data)
    assert words in str(err.value)
    assert "offset" in str(err.value)


_SMALL = (WASM / "features.wasm").read_bytes()
_SECTIONS = decode(_SMALL).sections
_SECTION_ENDS = {len(HEADER)} | {s.offset + s.size for s in _SECTIONS}


def _sections_before(cut: int) -> list[tuple[int, int]]:
    return [(s.id, s.size) for s in _SECTIONS if s.offset + s.size <= cut]


def _is_a_whole_module(cut: int) -> bool:
    """A prefix is a module by itself only when it ends between sections and does not declare
    functions (section 3) without their bodies (section 10)."""
    ids = [sid for sid, _ in _sections_before(cut)]
    return cut in _SECTION_ENDS and (3 not in ids or 10 in ids)


@pytest.mark.parametrize("cut", sorted(set(range(0, len(_SMALL), 7)) | _SECTION_ENDS))
def test_truncated_anywhere(cut: int):
    if _is_a_whole_module(cut):
        assert [(s.id, s.size) for s in decode(_SMALL[:cut]).sections] == _sections_before(cut)
    else:
        with pytest.raises(WasmDecodeError):
            decode(_SMALL[:cut])


@pytest.mark.parametrize("seed", range(40))
def test_mutated_and_random_bytes(seed: int):
    rng = random.Random(seed)
    base = bytearray((WASM / ("miner.wasm" if seed % 2 else "features.wasm")).read_bytes())
    for _ in range(1 + seed % 5):
        base[rng.randrange(8, len(base))] = rng.randrange(256)
    for data in (bytes(base), HEADER + rng.randbytes(200 + seed * 37)):
        try:
            decode(data)
        except WasmDecodeError:
            pass


def test_huge_declared_sizes_do_not_allocate():
    # A data segment claiming 4 GiB and a code section claiming 2^32-1 bodies.
    with pytest.raises(WasmDecodeError):
        decode(HEADER + b"\x0b\x07\x01\x01\xff\xff\xff\xff\x0f")
    with pytest.raises(WasmDecodeError):
        decode(HEADER + b"\x0a\x05\xff\xff\xff\xff\x0f")
