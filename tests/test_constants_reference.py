"""Every constant table in signatures/constants.yaml is regenerated from its definition and proved
by a real hash.

A table typed from memory can be wrong in a value or in its byte order and still match the
project's own fixtures (they are built from the same tables); it then never matches real code.
So each table is (1) rebuilt here from the specification's generation procedure, independently of
site_fixtures/wasm/gen_constants.py, and (2) fed into a plain implementation
(tests/hash_reference.py) whose digests must equal a real implementation's: hashlib and OpenSSL's
libcrypto where they have the algorithm, otherwise known-answer vectors computed with the reference
C sources (below, with where they came from). Tables without any derivation (RandomX) are held as
the reference writes them.

A new constant set in the YAML fails test_every_table_has_a_reference_check until a check is added.
The package sources named below are not dependencies: the digests were computed once with them and
are kept here, so the tests run on the locked environment.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import re
from pathlib import Path

import pytest

import hash_reference as ref
from webscan.rules.loader import load_signatures
from webscan.rules.schema import ConstantSet

MESSAGES = (b"", b"\x00", b"The quick brown fox jumps over the lazy dog", bytes(range(200)))
"""Empty, one byte, one block, and several blocks (200 bytes crosses every block size here)."""

# Digests of MESSAGES by CryptoNight's four final hashes, computed on 2026-12-07 with Monero's
# reference C sources as shipped in the PyPI package py-cryptonight 1.0.0 (src/cryptonight/
# blake256.cpp, groestl.cpp, jh.cpp, skein.cpp built with gcc, called via ctypes). The empty and
# fox digests of BLAKE-256, Groestl-256 and JH-256 are also the designers' published examples.
CRYPTONIGHT_FINAL_HASHES = {
    "blake-256": (
        "716f6e863f744b9ac22c97ec7b76ea5f5908bc5b2f67c61510bfc4751384ea7a",
        "0ce8d4ef4dd7cd8d62dfded9d4edb0a774ae6a41929a74da23109e8f11139c87",
        "7576698ee9cad30173080678e5965916adbb11cb5245d386bf1ffda1cb26c9d7",
        "c4d944c2b1c00a8ee627726b35d4cd7fe018de090bc637553cc782e25f974cba"),
    "groestl-256": (
        "1a52d11d550039be16107f9c58db9ebcc417f16f736adb2502567119f0083467",
        "df8f8538535754c4a00d36288c389d5eaa56bcddd7f1862e60175fbbcbafb4ea",
        "8c7ad62eb26a21297bc39c2d7293b4bd4d3399fa8afab29e970471739e28b301",
        "5e4874941276bacd43cf9f5078a5d620143b0b105f633f44d65ed13d27f6a849"),
    "jh-256": (
        "46e64619c18bb0a92a5e87185a47eef83ca747b8fcc8e1412921357e326df434",
        "7bc107a1097f6090297d1a010849b4dd3300f7b173838514dbd8008106c374db",
        "6a049fed5fc6874acfdc4a08b568a4f8cbac27de933496f031015b38961608a0",
        "4ae8dbb5ad87640ff66f125380d25d3c691464d9690eaa2df577e5fe11c7b76b"),
    "skein-512-256": (
        "39ccc4554a8b31853b9de7a1fe638a24cce6b35a55f2431009e18780335d2621",
        "06daf14bea6626473ce3d699241bc1d0780556f94bc6cbb0804d5cde42335484",
        "b3250457e05d3060b1a4bbc1428bc75a3f525ca389aeab96cfa34638d96e492a",
        "4469617682c766627aa08384cb41502a0288c711a6cc15c1a5f8016310e5b552"),
}

# Skein 1.3 specification, appendix C (one byte 0xFF); the same with PyPI pyskein 1.0.
SKEIN_256_256_FF = "0b98dcd198ea0e50a7a244c444e25c23da30c10fc9a1f270a6637f1f34e67ed2"
SKEIN_512_512_FF = ("71b7bce6fe6452227b9ced6014249e5bf9a9754c3ad618ccc4e0aae16b316cc8"
                    "ca698d864307ed3e80b6ef1570812ac5272dc409b5a012df2a579102f340617a")

# RandomX SuperscalarHash constants exactly as RandomX's src/dataset.cpp writes them
# (superscalarMul0, superscalarAdd1..7). They are arbitrary numbers with no derivation; checked on
# 2026-12-07 against dataset.cpp in PyPI py-cryptonight 1.0.0 and, as little-endian immediates,
# in Debian's librandomx0 1.1.10-2 shared library (each occurs there twice: C and JIT code).
RANDOMX_DATASET_CPP = (6364136223846793005, 9298411001130361340, 12065312585734608966,
                       9306329213124626780, 5281919268842080866, 10536153434571861004,
                       3398623926847679864, 9549104520008361294)

# BLAKE's message permutations (BLAKE and RFC 7693 section 2.7 print the same ten rows); proved
# below by BLAKE2b and BLAKE2s digests equal to hashlib's.
SIGMA = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    (14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3),
    (11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4),
    (7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8),
    (9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13),
    (2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9),
    (12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11),
    (13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10),
    (6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5),
    (10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0),
)

@pytest.fixture(scope="module")
def tables() -> dict[str, ConstantSet]:
    return {s.id: s for s in load_signatures().constants}


def table(tables: dict[str, ConstantSet], rule_id: str) -> ConstantSet:
    """The set a test checks; test_every_table_has_a_reference_check finds these calls."""
    return tables[rule_id]


def halves(values: list[int]) -> set[int]:
    return {v & ref.M32 for v in values} | {v >> 32 for v in values}


def words64(data: bytes, order: str) -> set[int]:
    return {int.from_bytes(data[i:i + 8], order) for i in range(0, len(data), 8)}


def bswap32(v: int) -> int:
    return int.from_bytes(v.to_bytes(4, "big"), "little")


@pytest.fixture(scope="module")
def sha2() -> dict[str, list[int]]:
    """SHA-2 constants from their definition: fractional parts of roots of the first primes."""
    p = ref.primes(80)
    return {"k256": [ref.frac_root_bits(q, 3, 32) for q in p[:64]],
            "iv256": [ref.frac_root_bits(q, 2, 32) for q in p[:8]],
            "k512": [ref.frac_root_bits(q, 3, 64) for q in p],
            "iv512": [ref.frac_root_bits(q, 2, 64) for q in p[:8]]}


@pytest.fixture(scope="module")
def sbox() -> list[int]:
    return ref.aes_sbox()


# --- Keccak ------------------------------------------------------------------------------------

def test_keccak_round_constants(tables: dict[str, ConstantSet]) -> None:
    rc = table(tables, "constants.keccak-f1600.round-constants").values
    assert rc == ref.keccak_round_constants(), "not the rc(t) LFSR's round constants, in order"
    for msg in MESSAGES:
        assert ref.sha3_256(msg, rc) == hashlib.sha3_256(msg).digest(), msg


def test_keccak_round_constant_halves(tables: dict[str, ConstantSet]) -> None:
    got = table(tables, "constants.keccak-f1600.round-constant-halves").values
    expected = {h for h in halves(ref.keccak_round_constants()) if h >= 0x100}
    assert set(got) == expected and len(got) == len(expected)


# --- AES -----------------------------------------------------------------------------------------

def openssl_encrypt(cipher: str, key: bytes, iv: bytes | None, data: bytes) -> bytes:
    """`data` through OpenSSL's libcrypto (the library behind Python's hashlib) with the EVP
    cipher named `cipher` (e.g. "aes_128_ecb", "chacha20"), no padding."""
    name = ctypes.util.find_library("crypto")
    if not name:
        pytest.skip("OpenSSL's libcrypto is not found by ctypes.util.find_library('crypto')")
    lib = ctypes.CDLL(name)
    make = getattr(lib, f"EVP_{cipher}")
    make.restype = ctypes.c_void_p
    lib.EVP_CIPHER_CTX_new.restype = ctypes.c_void_p
    lib.EVP_EncryptInit_ex.argtypes = [ctypes.c_void_p] * 5
    lib.EVP_CIPHER_CTX_set_padding.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.EVP_EncryptUpdate.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int),
                                      ctypes.c_char_p, ctypes.c_int]
    lib.EVP_CIPHER_CTX_free.argtypes = [ctypes.c_void_p]
    ctx = lib.EVP_CIPHER_CTX_new()
    try:
        out, n = ctypes.create_string_buffer(len(data) + 32), ctypes.c_int(0)
        assert lib.EVP_EncryptInit_ex(ctx, make(), None, key, iv) == 1
        lib.EVP_CIPHER_CTX_set_padding(ctx, 0)
        assert lib.EVP_EncryptUpdate(ctx, out, ctypes.byref(n), data, len(data)) == 1
        return out.raw[:n.value]
    finally:
        lib.EVP_CIPHER_CTX_free(ctx)


def openssl_aes128(key: bytes, block: bytes) -> bytes:
    """One AES-128 block with OpenSSL."""
    return openssl_encrypt("aes_128_ecb", key, None, block)


def test_aes_sbox_and_t_table_encrypt_like_openssl(sbox: list[int]) -> None:
    """The regenerated S-box and Te0, used table-driven, give AES: FIPS 197 appendix C.1 and
    OpenSSL on other keys."""
    te0 = ref.aes_te0(sbox)
    fips = ref.aes128_encrypt_ttable(bytes(range(16)), bytes.fromhex("00112233445566778899aabbccddeeff"),
                                     sbox, te0)
    assert fips.hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"
    for i in range(4):
        key, block = hashlib.sha256(b"key%d" % i).digest()[:16], hashlib.sha256(b"pt%d" % i).digest()[:16]
        assert ref.aes128_encrypt_ttable(key, block, sbox, te0) == openssl_aes128(key, block)


def test_aes_sbox_patterns(tables: dict[str, ConstantSet], sbox: list[int]) -> None:
    patterns = [bytes.fromhex(p) for p in table(tables, "constants.aes.sbox").byte_patterns]
    assert patterns and all(p in bytes(sbox) for p in patterns)


def test_aes_t_table(tables: dict[str, ConstantSet], sbox: list[int]) -> None:
    got = table(tables, "constants.aes.t-table").values
    te0 = ref.aes_te0(sbox)
    assert set(got) == set(te0) | {bswap32(v) for v in te0}


# --- SHA-2, BLAKE2 and BLAKE-256 -------------------------------------------------------------

def test_sha256_k(tables: dict[str, ConstantSet], sha2: dict[str, list[int]]) -> None:
    k = table(tables, "constants.sha-256.k").values
    assert k == sha2["k256"]
    for msg in MESSAGES:
        assert ref.sha2(msg, k, sha2["iv256"], 32) == hashlib.sha256(msg).digest()


def test_sha512_k(tables: dict[str, ConstantSet], sha2: dict[str, list[int]]) -> None:
    k = table(tables, "constants.sha512.k").values
    assert k == sha2["k512"]
    for msg in MESSAGES:
        assert ref.sha2(msg, k, sha2["iv512"], 64) == hashlib.sha512(msg).digest()


def test_sha512_iv_is_blake2b_iv(tables: dict[str, ConstantSet], sha2: dict[str, list[int]]) -> None:
    iv = table(tables, "constants.sha512-iv").values
    assert iv == sha2["iv512"]
    for msg in MESSAGES:
        assert ref.sha2(msg, sha2["k512"], iv, 64) == hashlib.sha512(msg).digest()
        assert ref.blake2(msg, iv, SIGMA, wide=True) == hashlib.blake2b(msg).digest()


def test_sha512_iv_halves(tables: dict[str, ConstantSet], sha2: dict[str, list[int]]) -> None:
    got = table(tables, "constants.sha512-iv.halves").values
    assert set(got) == halves(sha2["iv512"]) and len(got) == 16


def test_blake_sigma(tables: dict[str, ConstantSet], sha2: dict[str, list[int]]) -> None:
    """SIGMA is proved by BLAKE2b and BLAKE2s against hashlib; the YAML's patterns must be a row
    of it as bytes, or the same row's first half as little-endian 32-bit words."""
    for msg in MESSAGES:
        assert ref.blake2(msg, sha2["iv512"], SIGMA, wide=True) == hashlib.blake2b(msg).digest()
        assert ref.blake2(msg, sha2["iv256"], SIGMA, wide=False) == hashlib.blake2s(msg).digest()
    as_bytes = {bytes(row) for row in SIGMA}
    as_words = {b"".join(x.to_bytes(4, "little") for x in row[:8]) for row in SIGMA}
    patterns = [bytes.fromhex(p) for p in table(tables, "constants.blake.sigma").byte_patterns]
    assert patterns and all(p in as_bytes or p in as_words for p in patterns)


def test_blake256_pi(tables: dict[str, ConstantSet], sha2: dict[str, list[int]]) -> None:
    c = table(tables, "constants.blake-256.pi").values
    assert c == ref.pi_fraction_words(16, 32)
    for msg, digest in zip(MESSAGES, CRYPTONIGHT_FINAL_HASHES["blake-256"]):
        assert ref.blake256(msg, sha2["iv256"], c, SIGMA).hex() == digest


# --- Groestl -----------------------------------------------------------------------------------

def test_groestl_sbox_and_mds_give_groestl256(sbox: list[int]) -> None:
    for msg, digest in zip(MESSAGES, CRYPTONIGHT_FINAL_HASHES["groestl-256"]):
        assert ref.groestl256(msg, sbox).hex() == digest


def groestl_rows(sbox: list[int]) -> list[bytes]:
    """T0[x] = S[x] times column 0 of the MixBytes matrix the digests above prove."""
    column = ref.groestl_mds_column()
    return [bytes(ref.gmul(s, m) for m in column) for s in sbox]


def test_groestl_t_table_32(tables: dict[str, ConstantSet], sbox: list[int]) -> None:
    got = table(tables, "constants.groestl.t-table").values
    expected = set()
    for row in groestl_rows(sbox):
        for r in (row, row[::-1]):
            expected |= {int.from_bytes(r[0:4], "little"), int.from_bytes(r[4:8], "little")}
    assert set(got) == expected


def test_groestl_t_table_64(tables: dict[str, ConstantSet], sbox: list[int]) -> None:
    got = table(tables, "constants.groestl.t-table-64").values
    rows = groestl_rows(sbox)
    assert set(got) == {int.from_bytes(r, "big") for r in rows} | {int.from_bytes(r, "little") for r in rows}


# --- JH ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def jh() -> dict:
    constants = ref.jh_round_constants()
    return {"constants": constants, "h0": ref.jh_h0(256, constants),
            "bitslice": ref.jh_bitslice_constants(constants)}


def test_jh_constants_give_jh256(jh: dict) -> None:
    for msg, digest in zip(MESSAGES, CRYPTONIGHT_FINAL_HASHES["jh-256"]):
        assert ref.jh256(msg, jh["constants"], jh["h0"]).hex() == digest


def test_jh_iv_and_round_constants(tables: dict[str, ConstantSet], jh: dict) -> None:
    """H(0) and bit-sliced constants 0 and 1, little-endian as compiled code loads the byte
    tables (required), plus the big-endian spelling of the specification (allowed)."""
    got = set(table(tables, "constants.jh.iv-and-round-constants").values)
    data = jh["h0"] + jh["bitslice"][0] + jh["bitslice"][1]
    little, big = words64(data, "little"), words64(data, "big")
    assert little <= got, f"missing the little-endian words real code has: {sorted(map(hex, little - got))}"
    assert got <= little | big, f"not JH constants: {sorted(map(hex, got - little - big))}"
    assert jh["bitslice"][0][:8].hex() == "72d5dea2df15f867"  # the table's well-known first row


# --- Skein ---------------------------------------------------------------------------------------

def skein_c240(values: list[int]) -> int:
    c240 = [v for v in values if v >> 32 == 0x1BD11BDA]
    assert len(c240) == 1, "the set must hold C240 (0x1BD11BDA...) once"
    return c240[0]


def test_skein_c240_and_ivs(tables: dict[str, ConstantSet]) -> None:
    values = table(tables, "constants.skein.threefish").values
    c240 = skein_c240(values)
    iv512 = ref.skein_iv(512, 256, c240)
    iv256 = ref.skein_iv(256, 256, c240)
    assert set(values) == {c240, *iv512, *iv256}
    for msg, digest in zip(MESSAGES, CRYPTONIGHT_FINAL_HASHES["skein-512-256"]):
        assert ref.skein(msg, 512, 256, c240, iv512).hex() == digest
    assert ref.skein(b"\xff", 256, 256, c240, iv256).hex() == SKEIN_256_256_FF
    assert ref.skein(b"\xff", 512, 512, c240).hex() == SKEIN_512_512_FF


def test_skein_c240_halves(tables: dict[str, ConstantSet]) -> None:
    c240 = skein_c240(tables["constants.skein.threefish"].values)
    assert set(table(tables, "constants.skein.threefish-halves").values) == halves([c240])


# --- RandomX and CryptoNight ----------------------------------------------------------------

def test_randomx_superscalar(tables: dict[str, ConstantSet]) -> None:
    assert tuple(table(tables, "constants.randomx.superscalar").values) == RANDOMX_DATASET_CPP


def test_cryptonight_scratchpad_masks(tables: dict[str, ConstantSet]) -> None:
    """Address masks of the 2 MiB, 1 MiB (light) and 256 KiB scratchpads, 16-byte aligned."""
    got = table(tables, "constants.cryptonight.scratchpad").values
    assert got == [(size - 1) & ~0xF for size in (2 << 20, 1 << 20, 256 << 10)]


# --- Proof-of-work constructions beyond CryptoNight ------------------------------------------

def test_equihash_personalisation(tables: dict[str, ConstantSet], sha2: dict[str, list[int]]) -> None:
    """Zcash's Equihash personalises BLAKE2b with "ZcashPoW" || le32(n) || le32(k); the set holds
    its first 8 bytes as a little-endian word and that word XORed into BLAKE2b's IV word 6 (the
    SHA-512 IV, proved above), where a compiler folds a constant parameter block. That the folded
    form is real BLAKE2b personalisation is proved by tests/test_wasm_pow.py: the Equihash
    fixture, whose code carries the folded word, equals hashlib.blake2b(..., person=...)."""
    got = table(tables, "constants.equihash.personalisation")
    word = int.from_bytes(b"ZcashPoW", "little")
    assert sorted(got.values) == sorted({word, word ^ sha2["iv512"][6]})
    assert [bytes.fromhex(p) for p in got.byte_patterns] == [b"ZcashPoW"]
    person = b"ZcashPoW" + (200).to_bytes(4, "little") + (9).to_bytes(4, "little")
    assert hashlib.blake2b(b"", person=person).digest() != hashlib.blake2b(b"").digest()


def chacha20_block(key: bytes, counter: int, nonce: bytes, sigma: list[int]) -> bytes:
    """RFC 8439 section 2.3, with the four constant words taken from the table under test."""
    def qr(x: list[int], a: int, b: int, c: int, d: int) -> None:
        for (p, q, r, n) in ((a, b, d, 16), (c, d, b, 12), (a, b, d, 8), (c, d, b, 7)):
            x[p] = (x[p] + x[q]) & 0xFFFFFFFF
            x[r] = ref.rotl(x[r] ^ x[p], n, 32)

    state = list(sigma) + [int.from_bytes(key[i:i + 4], "little") for i in range(0, 32, 4)] \
        + [counter] + [int.from_bytes(nonce[i:i + 4], "little") for i in range(0, 12, 4)]
    x = list(state)
    for _ in range(10):
        for a, b, c, d in ((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
                           (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14)):
            qr(x, a, b, c, d)
    return b"".join(((x[i] + state[i]) & 0xFFFFFFFF).to_bytes(4, "little") for i in range(16))


def openssl_chacha20(key: bytes, counter: int, nonce: bytes, n: int) -> bytes:
    """n bytes of ChaCha20 keystream from OpenSSL (its IV is le32 counter || 12-byte nonce)."""
    return openssl_encrypt("chacha20", key, counter.to_bytes(4, "little") + nonce, bytes(n))


def test_salsa20_sigma_is_chacha20s_constant(tables: dict[str, ConstantSet]) -> None:
    """"expand 32-byte k" as four words runs ChaCha20 (Salsa20's successor, same constant) to
    OpenSSL's keystream; the 64-bit pairs are the same bytes two words at a time."""
    sigma = table(tables, "constants.salsa20.sigma").values
    text = b"expand 32-byte k"
    words = [int.from_bytes(text[i:i + 4], "little") for i in range(0, 16, 4)]
    assert sorted(sigma) == sorted(words)
    for i in range(3):
        key, nonce = hashlib.sha256(b"k%d" % i).digest(), hashlib.sha256(b"n%d" % i).digest()[:12]
        assert chacha20_block(key, i, nonce, words) == openssl_chacha20(key, i, nonce, 64)
    pairs = table(tables, "constants.salsa20.sigma-pairs").values
    assert sorted(pairs) == sorted(int.from_bytes(text[i:i + 8], "little") for i in (0, 8))


# --- Coverage ----------------------------------------------------------------------------------

def test_every_table_has_a_reference_check(tables: dict[str, ConstantSet]) -> None:
    """A set added to the YAML without a check here fails (read from this file's source, so it
    holds whatever subset of the tests runs)."""
    checked = set(re.findall(r'table\(tables, "([^"]+)"\)', Path(__file__).read_text(encoding="utf-8")))
    unchecked = sorted(set(tables) - checked)
    assert not unchecked, f"constant sets with no reference check in {Path(__file__).name}: {unchecked}"
    assert checked <= set(tables), f"checks for sets the YAML no longer has: {sorted(checked - set(tables))}"
