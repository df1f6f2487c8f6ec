"""Proof-of-work other than CryptoNight, in Wasm: miners of four families are `miner` by the
shape of their search (a nonce loop around a hash call with a target comparison), and the
benign modules built from the same primitives (a password hasher, a KDF, a hashing library, a
wallet, a stream cipher) are not.

The fixtures are built from site_fixtures/wasm-src/ (build.sh). The tests below also run them
with wasmtime against hashlib, so they are what they claim: a scrypt miner computes real
scrypt, the Equihash miner real personalised BLAKE2b, and so on.
"""

from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

import pytest
import wasmtime

from webscan.model import VerdictLabel
from webscan.rules.constants import ConstantMatcher
from webscan.verdict import judge
from webscan.wasm.decoder import _u32, decode
from webscan.wasm.engine import WasmEngine
from webscan.wasm.mining import _uleb_forms, find_mining_loops

ROOT = Path(__file__).resolve().parent.parent
WASM = ROOT / "site_fixtures" / "wasm"
MINERS = ["pow-sha256d.wasm", "pow-scrypt.wasm", "pow-equihash.wasm", "pow-argon2d.wasm"]
LOOKALIKES = ["look-argon2.wasm", "look-scrypt.wasm", "look-hashlib.wasm", "look-wallet.wasm",
              "look-cipher.wasm", "blake2b.wasm", "wallet.wasm", "sha3lib.wasm", "multihash.wasm",
              "nbody.wasm", "blur.wasm", "filehash.wasm", "game.wasm", "hdr.wasm"]


@pytest.fixture(scope="module")
def engine(sigs):
    return WasmEngine(sigs, ConstantMatcher(sigs.constants))


def _judge(engine, sigs, name: str):
    path = WASM / name
    return judge(engine.analyse(path.read_bytes(), str(path)), sigs.verdict, path=str(path))


@pytest.mark.parametrize("name", MINERS)
def test_non_cryptonight_miners_are_miners(engine, sigs, name):
    report = _judge(engine, sigs, name)
    assert report.verdict is VerdictLabel.miner, report.explanation
    loop = next(f for f in report.findings if f.rule == "wasm.pow.nonce-loop")
    # The finding points at the loop itself, so a person can read it in a disassembler.
    assert loop.location.wasm_function is not None and loop.location.wasm_offset is not None
    assert "nonce loop at byte" in loop.message


@pytest.mark.parametrize("name", LOOKALIKES)
def test_lookalikes_with_the_same_primitives_are_not_miners(engine, sigs, name):
    report = _judge(engine, sigs, name)
    assert report.verdict is not VerdictLabel.miner, report.explanation
    assert not any(f.category == "wasm-miner" for f in report.findings)
    assert find_mining_loops(decode((WASM / name).read_bytes()), ()) == []


@pytest.mark.parametrize("name", ["look-argon2.wasm", "look-scrypt.wasm", "look-hashlib.wasm",
                                  "look-wallet.wasm", "look-cipher.wasm"])
def test_lookalikes_do_show_their_primitives(engine, sigs, name):
    """Guard for the test above: the look-alikes are seen hashing, and still judged benign."""
    report = _judge(engine, sigs, name)
    assert report.wasm_modules[0].primitives
    assert report.verdict is VerdictLabel.clean, report.explanation


def test_equihash_personalisation_alone_is_worth_a_look(engine, sigs):
    report = _judge(engine, sigs, "pow-equihash.wasm")
    rules = {f.rule for f in report.findings}
    assert {"wasm.pow.equihash", "wasm.pow.nonce-loop"} <= rules
    assert "equihash-personalisation" in report.wasm_modules[0].primitives


def test_mining_loop_needs_the_target_comparison(engine):
    """The same scrypt core without the nonce search (look-scrypt: a KDF called once) has no
    loop; with it (pow-scrypt) it has exactly the search loop, in the exported scanner."""
    miner = decode((WASM / "pow-scrypt.wasm").read_bytes())
    facts = engine.facts((WASM / "pow-scrypt.wasm").read_bytes())
    loops = find_mining_loops(miner, facts.primitives.values())
    scan = next(e.index for e in miner.exports if e.name == "scan")
    assert [lp.function for lp in loops] == [scan]


def test_cryptonight_final_hashes_diluted_in_a_big_module_are_weak(engine, sigs):
    """The wallet case: Keccak + AES + the final hashes with general code around them (xor
    share below a hashing library's) are hash-primitive evidence, not wasm-miner. Built here by
    padding the CryptoNight fixture with a large arithmetic function."""
    data = _padded((WASM / "worker.wasm").read_bytes())
    facts = engine.facts(data)
    assert facts.xor_share < 0.014
    rules = {r.id: r for r in sigs.wasm}
    assert engine._evaluate(_compiled(engine, "wasm.pow.cryptonight-final-hashes"), facts) is None
    assert engine._evaluate(_compiled(engine, "wasm.cryptonight-parts"), facts) is not None
    assert rules["wasm.cryptonight-parts"].category == "hash-primitive"


def _compiled(engine, rule_id: str):
    return next(c for c in engine.rules if c.rule.id == rule_id)


def _padded(module: bytes) -> bytes:
    """The module with one more function of 200,000 plain arithmetic instructions (no xor)."""
    pad = wasmtime.wat2wasm(
        "(module (func (param i32) (result i32)"
        + " (local.get 0) (i32.const 7) (i32.mul) (local.set 0)" * 50_000
        + " (local.get 0)))")
    return _merge_code(module, pad)


def _merge_code(base: bytes, extra: bytes) -> bytes:
    """Append `extra`'s single function (its type, declaration and body) to `base`."""

    def sections(data: bytes) -> list[tuple[int, bytes]]:
        out, pos = [], 8
        while pos < len(data):
            sid = data[pos]
            size, p = _uleb(data, pos + 1)
            out.append((sid, data[p:p + size]))
            pos = p + size
        return out

    b, e = sections(base), sections(extra)
    etype = dict(e)[1]
    ebody = dict(e)[10]
    _, p = _uleb(ebody, 0)
    body = ebody[p:]
    out = io.BytesIO()
    out.write(base[:8])
    types_count = None
    for sid, payload in b:
        if sid == 1:
            n, p = _uleb(payload, 0)
            m, q = _uleb(etype, 0)
            types_count = n
            payload = _leb(n + m) + payload[p:] + etype[q:]
        elif sid == 3:
            n, p = _uleb(payload, 0)
            payload = _leb(n + 1) + payload[p:] + _leb(types_count)
        elif sid == 10:
            n, p = _uleb(payload, 0)
            payload = _leb(n + 1) + payload[p:] + body
        out.write(bytes([sid]) + _leb(len(payload)) + payload)
    return out.getvalue()


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    return _u32(data, pos, len(data), "a test module's LEB128")


def _leb(value: int) -> bytes:
    return _uleb_forms(value, False)[0]


# --- the fixtures compute what they claim ----------------------------------------------------


class _Module:
    def __init__(self, name: str) -> None:
        self.store = wasmtime.Store()
        module = wasmtime.Module(self.store.engine, (WASM / name).read_bytes())
        self.instance = wasmtime.Instance(self.store, module, [])
        self.exports = self.instance.exports(self.store)
        self.memory = self.exports["memory"]

    def __call__(self, name: str, *args: int) -> int:
        return self.exports[name](self.store, *args)

    def write(self, at: int, data: bytes) -> None:
        self.memory.write(self.store, data, at)

    def read(self, at: int, n: int) -> bytes:
        return self.memory.read(self.store, at, at + n)


def _sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def test_sha256d_miner_finds_a_nonce_under_the_target():
    m = _Module("pow-sha256d.wasm")
    buf = m("b")
    header = hashlib.sha256(b"header").digest() * 2 + bytes(12)
    target = struct.pack("<8I", *([0xFFFFFFFF] * 7 + [0x00FFFFFF]))  # ~1 in 256
    m.write(buf, header[:76] + bytes(4) + target)
    nonce = m("s", 0, 5000)
    assert nonce != 0xFFFFFFFF
    digest = _sha256d(header[:76] + struct.pack("<I", nonce))
    assert int.from_bytes(digest, "little") <= int.from_bytes(target, "little")
    assert m.read(buf + 112, 32) == digest
    # ...and it is the first such nonce: the loop really searched.
    assert all(int.from_bytes(_sha256d(header[:76] + struct.pack("<I", n)), "little")
               > int.from_bytes(target, "little") for n in range(nonce))


def test_scrypt_miner_hashes_litecoin_style():
    m = _Module("pow-scrypt.wasm")
    buf = m("io")
    header = hashlib.sha256(b"ltc").digest() * 2 + bytes(16)
    m.write(buf, header[:76] + bytes(4))
    nonce = m("scan", 0, 64, 0x3FFFFFFF)
    assert nonce != 0xFFFFFFFF
    full = header[:76] + struct.pack("<I", nonce)
    digest = hashlib.scrypt(full, salt=full, n=1024, r=1, p=1, dklen=32)
    assert m.read(buf + 80, 32) == digest
    assert int.from_bytes(digest[28:], "little") <= 0x3FFFFFFF


def test_equihash_miner_hashes_with_zcash_personalisation():
    m = _Module("pow-equihash.wasm")
    header = hashlib.sha256(b"zec").digest() * 4 + bytes(12)
    m.write(m("hdr"), header[:140])
    out = m("tgt") + 32 + 64  # scratch space after the target
    person = b"ZcashPoW" + struct.pack("<II", 48, 5)
    for index in (0, 1, 511):
        m("row", index, out)
        expected = hashlib.blake2b(header[:140] + struct.pack("<I", index), digest_size=6,
                                   person=person).digest()
        assert m.read(out, 6) == expected


def test_scrypt_lookalike_is_rfc_7914_scrypt():
    m = _Module("look-scrypt.wasm")
    buf = m("mem")
    pw, salt = b"correct horse", b"NaCl-salt-1234"
    m.write(buf, pw + salt)
    assert m("scrypt", buf, len(pw), buf + len(pw), len(salt), 16, 2, buf + 512, 64) == 0
    assert m.read(buf + 512, 64) == hashlib.scrypt(pw, salt=salt, n=16, r=1, p=2, dklen=64)


def test_hashing_library_lookalike_is_sha256_and_blake2b():
    m = _Module("look-hashlib.wasm")
    buf = m("buffer")
    data = bytes(range(200))
    m("sha256_init")
    m.write(buf, data)
    m("sha256_update", len(data))
    m("sha256_final")
    assert m.read(buf, 32) == hashlib.sha256(data).digest()
    m("blake2b_init", 64)
    m.write(buf, data)
    m("blake2b_update", len(data))
    m("blake2b_final")
    assert m.read(buf, 64) == hashlib.blake2b(data).digest()


def test_cipher_lookalike_is_chacha20():
    """RFC 8439 section 2.4.2's test vector (key 00..1f, nonce 0:0:0x4a:0, counter 1)."""
    m = _Module("look-cipher.wasm")
    buf = m("buf")
    plain = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
             b"the future, sunscreen would be it.")
    m.write(buf, bytes(range(32)) + bytes.fromhex("000000000000004a00000000") + bytes(20) + plain)
    m("crypt", len(plain), 1)
    assert m.read(buf + 64, 16).hex() == "6e2e359a2568f98041ba0728dd0d6981"


def test_search_survives_hostile_nesting():
    """Thousands of nested loops, each calling a function and comparing loads: the walk keeps
    its own stack (no recursion) and finds no search where nothing is hashed."""
    depth = 3000
    body = "".join("(loop (call $f) (drop (i32.lt_u (i32.load (local.get 0)) (local.get 1)))"
                   for _ in range(depth)) + ")" * depth
    data = wasmtime.wat2wasm(
        "(module (memory 1) (func $f) (func (export \"g\") (param i32 i32) " + body + "))")
    assert find_mining_loops(decode(data), ()) == []
