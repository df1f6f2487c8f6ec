"""The Wasm engine judged through the real verdict: miners (named or not) are `miner`, the
benign look-alikes are not, and the miner fixture really computes a proof-of-work."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest
import wasmtime

from webscan.model import VerdictLabel
from webscan.rules.constants import ConstantMatcher, normalise
from webscan.verdict import judge
from webscan.wasm.decoder import WasmDecodeError, decode
from webscan.wasm.engine import WasmEngine

ROOT = Path(__file__).resolve().parent.parent
WASM = ROOT / "site_fixtures" / "wasm"
MINERS = ["miner.wasm", "worker.wasm", "worker-lite.wasm", "rxlike.wasm"]
HASH_LIBRARIES = ["sha3lib.wasm", "blake2b.wasm", "wallet.wasm", "multihash.wasm"]
WORKLOADS = ["nbody.wasm", "blur.wasm", "features.wasm"]


@pytest.fixture(scope="module")
def engine(sigs):
    return WasmEngine(sigs, ConstantMatcher(sigs.constants))


def _report(engine, sigs, name: str, data: bytes | None = None, context: str | None = None):
    path = WASM / name
    analysis = engine.analyse(path.read_bytes() if data is None else data, str(path),
                              context=context)
    return analysis, judge(analysis, sigs.verdict, path=str(path))


@pytest.mark.parametrize("name", MINERS)
def test_miners_are_miners_whatever_their_names(engine, sigs, name):
    _, report = _report(engine, sigs, name)
    assert report.verdict is VerdictLabel.miner, report.explanation
    assert report.technique == "T1496"
    assert any(f.category == "wasm-miner" for f in report.findings)


def test_named_miner_also_shows_kit_names_and_where(engine, sigs):
    _, report = _report(engine, sigs, "miner.wasm")
    rules = {f.rule: f for f in report.findings}
    assert "wasm.kit.cryptonight-exports" in rules
    pow_finding = rules["wasm.pow.cryptonight"]
    assert pow_finding.location.wasm_function is not None
    assert pow_finding.location.wasm_offset is not None
    # The function holding most of the primitives' constants, named from the name section.
    assert f"function {pow_finding.location.wasm_function} (" in pow_finding.message
    summary = report.wasm_modules[0]
    assert {"keccak-f1600", "aes", "blake-256", "cryptonight-scratchpad"} <= set(summary.primitives)
    assert summary.xor_share >= 0.014 and summary.rotates_per_1000 >= 8
    assert "cryptonight_hash" in summary.exports


@pytest.mark.parametrize("name", HASH_LIBRARIES)
def test_hashing_libraries_and_wallets_stay_clean(engine, sigs, name):
    _, report = _report(engine, sigs, name)
    assert report.verdict is VerdictLabel.clean, report.explanation
    assert report.wasm_modules[0].primitives  # the primitive is seen, and only weighs little
    assert not any(f.category == "wasm-miner" for f in report.findings)


@pytest.mark.parametrize("name", WORKLOADS)
def test_workloads_have_no_findings(engine, sigs, name):
    _, report = _report(engine, sigs, name)
    assert report.verdict is VerdictLabel.clean
    assert report.findings == []


def test_import_names_of_a_kit(engine, sigs):
    _, report = _report(engine, sigs, "kitimport.wasm")
    assert report.verdict is VerdictLabel.suspicious
    assert [f.rule for f in report.findings] == ["wasm.kit.cryptonight-imports"]


def test_malformed_module_is_an_error_or_a_note(engine, sigs):
    junk = b"\x00asm\x01\x00\x00\x00\x0a\xff\xff\xff\xff\x0f"
    analysis, report = _report(engine, sigs, "junk.wasm", data=junk)
    assert report.verdict is VerdictLabel.error and "truncated" in report.error
    # Inside a script, Wasm-looking bytes that do not decode are usually feature probes.
    analysis, report = _report(engine, sigs, "page.js", data=junk, context="base64 at line 3")
    assert analysis.fatal is None and report.findings == [] and report.verdict is VerdictLabel.clean
    assert any(n.startswith("base64 at line 3: Not a well-formed") for n in analysis.notes)


@pytest.mark.parametrize("seed", range(30))
def test_analyse_never_raises(engine, sigs, seed):
    rng = random.Random(seed)
    data = bytearray((WASM / "worker.wasm").read_bytes())
    for _ in range(seed % 7 + 1):
        data[rng.randrange(len(data))] = rng.randrange(256)
    for blob in (bytes(data[: rng.randrange(len(data))]), bytes(data), rng.randbytes(500)):
        try:
            decode(blob)
            decodes = True
        except WasmDecodeError:
            decodes = False
        analysis = engine.analyse(blob, "x.wasm")
        if decodes:  # what the decoder reads is judged, what it refuses is an error
            assert analysis.fatal is None and len(analysis.wasm_modules) == 1
            assert judge(analysis, sigs.verdict).verdict is not VerdictLabel.error
        else:
            assert analysis.fatal.startswith("Not a well-formed WebAssembly module")
            assert judge(analysis, sigs.verdict).verdict is VerdictLabel.error


def test_my_rule_samples(engine, sigs):
    """The same check the lead's sample runner does, for the wasm and constants rules."""
    failures = []
    for rule in [*sigs.wasm, *sigs.constants]:
        for sample, expect in [(s, True) for s in rule.samples.match] + \
                              [(s, False) for s in rule.samples.no_match]:
            analysis = engine.analyse((ROOT / sample).read_bytes(), sample)
            hit = any(f.rule == rule.id for f in analysis.findings)
            if hasattr(rule, "primitive"):
                hit = hit or any(rule.primitive in m.primitives for m in analysis.wasm_modules)
            if hit != expect:
                failures.append(f"{rule.id} {'missed' if expect else 'matched'} {sample}")
    assert failures == []


# --- the constant matcher on its own (shared with the JS analyser) ------------------------


def test_constant_matcher_ints_and_data(sigs):
    cm = ConstantMatcher(sigs.constants)
    keccak = next(c for c in sigs.constants if c.primitive == "keccak-f1600" and c.width == 64)
    assert "keccak-f1600" in cm.match(ints=keccak.values)
    # As JS would write the 32-bit halves: signed, via `|0`.
    halves = next(c for c in sigs.constants if c.id.endswith("round-constant-halves"))
    signed = [v - (1 << 32) if v >= 1 << 31 else v for v in halves.values]
    assert "keccak-f1600" in cm.match(ints=signed)
    # 64-bit table stored little-endian at an odd offset inside 2 MB of noise.
    rng = random.Random(7)
    table = b"".join(v.to_bytes(8, "little") for v in keccak.values)
    noise = rng.randbytes(1 << 21)
    hits = cm.match(data=noise[:12345] + b"\x01" + table + noise)
    assert set(hits) == {"keccak-f1600"} and hits["keccak-f1600"].hits == len(set(keccak.values))
    assert cm.match(data=noise) == {}
    assert normalise(-1) == 0xFFFFFFFF and normalise(-(1 << 40)) == (1 << 64) - (1 << 40)


# --- the fixtures really compute what they claim -----------------------------------------


def _instance(name: str):
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, wasmtime.Module.from_file(engine, str(WASM / name)), [])
    return store, instance.exports(store)


def test_miner_fixture_runs_and_is_stable():
    store, ex = _instance("worker.wasm")  # bland names: a=mine, b=hash, c=blob, d=result
    mem = ex["memory"]
    blob, out = ex["c"](store), ex["d"](store)
    mem.write(store, bytes(range(76)), blob)
    ex["b"](store)
    first = bytes(mem.read(store, out, out + 32)).hex()
    assert first == "512db98dfc377771bdd619a48ec48de508059dcf5a2f4e7fcbe222b8ee03907c"
    nonce = ex["a"](store, 1000, 2)
    assert nonce in (1000, 1001)
    assert bytes(mem.read(store, out, out + 32)).hex() != first


def test_miner_final_hash_is_real_blake256():
    store, ex = _instance("miner.wasm")
    mem = ex["memory"]
    top = mem.data_len(store) - 8192
    vectors = {b"": "716f6e863f744b9ac22c97ec7b76ea5f5908bc5b2f67c61510bfc4751384ea7a",
               b"\x00": "0ce8d4ef4dd7cd8d62dfded9d4edb0a774ae6a41929a74da23109e8f11139c87",
               b"\x00" * 72: "d419bad32d504fb7d44d460c42c5593fe544fa4c135dec31e21bd9abdcc22d41"}
    for msg, digest in vectors.items():
        mem.write(store, msg, top)
        ex["blake256_digest"](store, top, len(msg), top + 4096)
        assert bytes(mem.read(store, top + 4096, top + 4128)).hex() == digest


@pytest.mark.parametrize("name, func, reference", [
    ("sha3lib.wasm", "sha3_256", lambda m: hashlib.sha3_256(m).digest()),
    ("blake2b.wasm", "blake2b", lambda m: hashlib.blake2b(m).digest()),
    ("multihash.wasm", "sha256", lambda m: hashlib.sha256(m).digest()),
])
def test_benign_libraries_are_real_hashes(name, func, reference):
    store, ex = _instance(name)
    mem = ex["memory"]
    buf = ex["buffer"](store)
    for msg in (b"", b"abc", bytes(range(256)) * 2):
        expected = reference(msg)
        mem.write(store, msg, buf)
        args = (buf, len(msg), buf + 2048) + ((len(expected),) if func == "blake2b" else ())
        ex[func](store, *args)
        assert bytes(mem.read(store, buf + 2048, buf + 2048 + len(expected))) == expected
