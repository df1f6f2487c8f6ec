"""Derive the hash constants from their definitions and write signatures/constants.yaml and
site_fixtures/wasm/src/tables.h.

Why derive instead of copying: a transcription error in a signature silently stops detection.
Everything that has a mathematical definition is computed here (Keccak round constants from
the LFSR, the AES S-box from GF(2^8) inversion, SHA-2 constants from prime roots, BLAKE's
constants from the digits of pi, Groestl's tables from the AES S-box and its MDS matrix).
JH, Skein and RandomX values are typed in (JH's and Skein's are regenerated and checked by
tests/test_constants_reference.py; RandomX's have no derivation) and say so in the YAML.

Run: python site_fixtures/wasm/gen_constants.py   (from the repository root)
"""

from __future__ import annotations

from math import isqrt
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def keccak_rc() -> list[int]:
    """Keccak-f[1600] round constants, from the rc(t) LFSR (Keccak reference, section 1.2)."""
    def rc(t: int) -> int:
        r = 1
        for _ in range(t % 255):
            r <<= 1
            if r & 0x100:
                r ^= 0x171
        return r & 1
    out = []
    for i in range(24):
        v = 0
        for j in range(7):
            if rc(j + 7 * i):
                v |= 1 << ((1 << j) - 1)
        out.append(v)
    return out


def gmul(a: int, b: int) -> int:
    p = 0
    while b:
        if b & 1:
            p ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
        b >>= 1
    return p


def aes_sbox() -> list[int]:
    """FIPS 197 section 5.1.1: multiplicative inverse in GF(2^8), then the affine map."""
    inv = [0] * 256
    for a in range(1, 256):
        for b in range(1, 256):
            if gmul(a, b) == 1:
                inv[a] = b
                break
    box = []
    for a in range(256):
        x = inv[a]
        s = x
        for k in range(1, 5):
            s ^= ((x << k) | (x >> (8 - k))) & 0xFF
        box.append(s ^ 0x63)
    return box


def te0(sbox: list[int]) -> list[int]:
    """The first AES encryption T-table as big-endian words: S*(02,01,01,03)."""
    return [(gmul(s, 2) << 24) | (s << 16) | (s << 8) | gmul(s, 3) for s in sbox]


def bswap32(v: int) -> int:
    return int.from_bytes(v.to_bytes(4, "big"), "little")


def groestl_rows(sbox: list[int]) -> list[bytes]:
    """Groestl T0 rows: S-box output times the circulant (02,02,03,04,05,03,05,07), in the byte
    order the Groestl reference and CryptoNight tables store (02,07,05,03,05,04,03,02)."""
    mult = (2, 7, 5, 3, 5, 4, 3, 2)
    return [bytes(gmul(s, m) for m in mult) for s in sbox]


def primes(n: int) -> list[int]:
    out = []
    k = 2
    while len(out) < n:
        if all(k % p for p in out if p * p <= k):
            out.append(k)
        k += 1
    return out


def frac_root(p: int, root: int, bits: int) -> int:
    """First `bits` bits of the fractional part of p ** (1/root) (FIPS 180-4 section 4.2)."""
    scaled = p << (root * bits)
    if root == 2:
        r = isqrt(scaled)
    else:
        r = int(round(scaled ** (1 / 3)))
        while r ** 3 > scaled:
            r -= 1
        while (r + 1) ** 3 <= scaled:
            r += 1
    return r & ((1 << bits) - 1)


def pi_fraction_words(n: int, bits: int) -> list[int]:
    """Words of the fractional part of pi (Machin's formula in integers)."""
    prec = n * bits + 64
    one = 1 << prec

    def arctan_inv(x: int) -> int:
        total = term = one // x
        k, sign = 1, 1
        x2 = x * x
        while term:
            term //= x2
            k += 2
            sign = -sign
            total += sign * (term // k)
        return total
    pi = 4 * (4 * arctan_inv(5) - arctan_inv(239))
    frac = pi - (3 << prec)
    frac >>= 64
    return [(frac >> (bits * (n - 1 - i))) & ((1 << bits) - 1) for i in range(n)]


# Transcribed (no short mathematical definition):
THREEFISH_C240 = 0x1BD11BDAA9FC1A22  # Skein 1.3 key-schedule parity constant
SKEIN_512_256_IV = [0xCCD044A12FDB3E13, 0xE83590301A79A9EB, 0x55AEA0614F816E6F,
                    0x2A2767A4AE9B94DB, 0xEC06025E74DD7683, 0xE7A436CDC4746251,
                    0xC36FBAF9393AD185, 0x3EEDBA1833EDFC13]
SKEIN_256_256_IV = [0xFC9DA860D048B449, 0x2FCA66479FA7D833, 0xB33BC3896656840F,
                    0x6A54E920FDE8DA69]
JH256_H0 = bytes.fromhex(
    "eb98a3412c20d3eb92cdbe7b9cb245c11c93519160d4c7fa260082d67e508a03"
    "a4239e267726b945e0fb1a48d41a9477cdb5ab26026b177a56f024420fff2fa8"
    "71a396897f2e4d751d144908f77de262277695f776248f9487d5b6574780296c"
    "5c5e272dac8e0d6c518450c657057a0f7be4d367702412ea89e3ab13d31cd769")
JH_E8_RC0 = [0x72D5DEA2DF15F867, 0x7B84150AB7231557, 0x81ABD6904D5A87F6, 0x4E9F4FC5C3D12B40,
             0xEA983AE05C45FA9C, 0x03C5D29966B2999A, 0x660296B4F2BB538A, 0xB556141A88DBA231]
RANDOMX_SUPERSCALAR = [6364136223846793005, 9298411001130361340, 12065312585734608966,
                       9306329213124626780, 5281919268842080866, 10536153434571861004,
                       3398623926847679864, 9549104520008361294]
BLAKE_SIGMA = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
]


def tables() -> dict:
    sbox = aes_sbox()
    assert sbox[:4] == [0x63, 0x7C, 0x77, 0x7B] and sbox[0x53] == 0xED
    rc = keccak_rc()
    assert rc[0] == 1 and rc[1] == 0x8082 and rc[23] == 0x8000000080008008
    t0 = te0(sbox)
    assert t0[0] == 0xC66363A5
    p = primes(80)
    sha256_k = [frac_root(q, 3, 32) for q in p[:64]]
    assert sha256_k[0] == 0x428A2F98 and sha256_k[63] == 0xC67178F2
    sha256_iv = [frac_root(q, 2, 32) for q in p[:8]]
    assert sha256_iv[0] == 0x6A09E667
    sha512_iv = [frac_root(q, 2, 64) for q in p[:8]]
    assert sha512_iv[0] == 0x6A09E667F3BCC908 and sha512_iv[7] == 0x5BE0CD19137E2179
    sha512_k = [frac_root(q, 3, 64) for q in p[:80]]
    assert sha512_k[0] == 0x428A2F98D728AE22
    pi32 = pi_fraction_words(18, 32)
    assert pi32[0] == 0x243F6A88 and pi32[1] == 0x85A308D3
    rows = groestl_rows(sbox)
    return dict(sbox=sbox, rc=rc, te0=t0, sha256_k=sha256_k, sha256_iv=sha256_iv,
                sha512_iv=sha512_iv, sha512_k=sha512_k, pi32=pi32, groestl=rows)


def hexlist(values: list[int], width: int) -> str:
    digits = width // 4
    items = [f"0x{v:0{digits}X}" for v in values]
    per = 6 if width == 32 else 3
    lines = [", ".join(items[i:i + per]) for i in range(0, len(items), per)]
    return "[\n      " + ",\n      ".join(lines) + "]"


def write_header(t: dict) -> None:
    def arr(ctype: str, name: str, values: list[int], width: int) -> str:
        digits = width // 4
        suffix = "ULL" if width == 64 else "u"
        body = ",".join(("\n  " if i % 6 == 0 else " ") + f"0x{v:0{digits}x}{suffix}"
                        for i, v in enumerate(values))
        return f"static const {ctype} {name}[{len(values)}] = {{{body}\n}};\n"
    g32 = []
    for row in t["groestl"]:
        g32 += [int.from_bytes(row[:4], "little"), int.from_bytes(row[4:], "little")]
    out = ["/* Generated by site_fixtures/wasm/gen_constants.py; do not edit. */\n",
           "#pragma once\n#include \"types.h\"\n",
           arr("uint64_t", "KECCAK_RC", t["rc"], 64),
           arr("uint8_t", "AES_SBOX", t["sbox"], 8).replace("u,", ",").replace("u\n", "\n"),
           arr("uint32_t", "AES_TE0", t["te0"], 32),
           arr("uint32_t", "BLAKE256_C", t["pi32"][:16], 32),
           arr("uint32_t", "BLAKE256_IV", t["sha256_iv"], 32),
           arr("uint32_t", "SHA256_K", t["sha256_k"], 32),
           arr("uint32_t", "SHA256_IV", t["sha256_iv"], 32),
           arr("uint64_t", "BLAKE2B_IV", t["sha512_iv"], 64),
           arr("uint64_t", "SHA512_K", t["sha512_k"], 64),
           arr("uint32_t", "GROESTL_T", g32, 32),
           arr("uint64_t", "SKEIN_512_256_IV", SKEIN_512_256_IV, 64),
           arr("uint8_t", "JH256_H0", list(JH256_H0), 8).replace("u,", ",").replace("u\n", "\n"),
           arr("uint64_t", "JH_E8_RC0", JH_E8_RC0, 64),
           arr("uint64_t", "RANDOMX_SUPERSCALAR", RANDOMX_SUPERSCALAR, 64),
           "static const uint8_t BLAKE_SIGMA[10][16] = {\n" + ",\n".join(
               "  {" + ", ".join(map(str, r)) + "}" for r in BLAKE_SIGMA) + "\n};\n",
           f"#define THREEFISH_C240 0x{THREEFISH_C240:016x}ULL\n"]
    (ROOT / "site_fixtures/wasm/src/tables.h").write_text("".join(out))


EQUIHASH_PERSONAL = b"ZcashPoW"
"""The first 8 bytes of Equihash's BLAKE2b personal field (Zcash protocol, 7.6.1)."""
SALSA20_SIGMA = sorted(int.from_bytes(b"expand 32-byte k"[i:i + 4], "little") for i in (0, 4, 8, 12))
"""Salsa20's sigma: the ASCII "expand 32-byte k" as little-endian 32-bit words."""
SALSA20_SIGMA64 = sorted(int.from_bytes(b"expand 32-byte k"[i:i + 8], "little") for i in (0, 8))


def write_yaml(t: dict) -> None:
    sbox = bytes(t["sbox"])
    te_be = t["te0"]
    te_le = [bswap32(v) for v in te_be]
    g = t["groestl"]
    g32 = sorted({int.from_bytes(r[i:i + 4], "little") for r in g for i in (0, 4)}
                 | {int.from_bytes(r[::-1][i:i + 4], "little") for r in g for i in (0, 4)})
    g64 = sorted({int.from_bytes(r, "big") for r in g} | {int.from_bytes(r, "little") for r in g})
    rc = t["rc"]
    rc32 = sorted({v & 0xFFFFFFFF for v in rc} | {v >> 32 for v in rc})
    rc32 = [v for v in rc32 if v >= 0x100]  # 0, 1, 0x8a, 0x88... say nothing on their own
    # Real JH code keeps H(0) and the round constants as byte tables and loads them
    # little-endian; the specification prints them big-endian. Both orders, as for Groestl.
    jh_bytes = JH256_H0 + b"".join(v.to_bytes(8, "big") for v in JH_E8_RC0)
    jh64 = sorted({int.from_bytes(jh_bytes[i:i + 8], order)
                   for i in range(0, len(jh_bytes), 8) for order in ("little", "big")})
    sigma_u8 = bytes(BLAKE_SIGMA[1]).hex()
    sigma_u32 = b"".join(x.to_bytes(4, "little") for x in BLAKE_SIGMA[1][:8]).hex()
    skein32 = sorted({v >> 32 for v in [THREEFISH_C240]} | {v & 0xFFFFFFFF for v in [THREEFISH_C240]})
    sha512_iv32 = sorted({v >> 32 for v in t["sha512_iv"]} | {v & 0xFFFFFFFF for v in t["sha512_iv"]})

    def rule(rid, desc, primitive, values, width, min_hits, refs, match, no_match, family=(),
             patterns=(), severity="low", note=None):
        lines = [f"  - id: {rid}"]
        if note:
            lines += [f"    # {line}" for line in note]
        lines += [f"    description: >-\n      {desc}",
                  f"    severity: {severity}",
                  "    category: hash-primitive",
                  f"    primitive: {primitive}"]
        if family:
            lines.append(f"    family: [{', '.join(family)}]")
        lines.append(f"    width: {width}")
        if values:
            lines.append(f"    min_hits: {min_hits}")
            lines.append(f"    values: {hexlist(values, width)}")
        if patterns:
            lines.append("    byte_patterns:")
            lines += [f"      - \"{p}\"" for p in patterns]
        lines.append("    references:")
        lines += [f"      - {r}" for r in refs]
        lines.append("    samples:")
        lines.append("      match: [" + ", ".join(match) + "]")
        lines.append("      no_match: [" + ", ".join(no_match) + "]")
        return "\n".join(lines) + "\n"

    W = "site_fixtures/wasm/"
    benign = [W + "nbody.wasm", W + "blur.wasm"]
    rules = [
        rule("constants.keccak-f1600.round-constants",
             "Keccak-f[1600] round constants (SHA-3, Keccak-256, CryptoNight's first and last "
             "step). Any Keccak or SHA-3 code has them; alone they mean a hash, not a miner.",
             "keccak-f1600", rc, 64, 8,
             ["https://keccak.team/keccak_specs_summary.html",
              "https://nvlpubs.nist.gov/nistpubs/FIPS/NIST.FIPS.202.pdf"],
             [W + "sha3lib.wasm", W + "miner.wasm"], benign, family=["cryptonight"]),
        rule("constants.keccak-f1600.round-constant-halves",
             "Keccak-f[1600] round constants split into 32-bit halves, as 32-bit and JavaScript "
             "implementations keep them (tiny halves such as 0 and 1 are left out).",
             "keccak-f1600", rc32, 32, 10,
             ["https://keccak.team/keccak_specs_summary.html"],
             [W + "sha3lib.wasm"], benign, family=["cryptonight"]),
        rule("constants.aes.sbox",
             "The AES S-box (FIPS 197), as bytes. AES code has it; so does Groestl, which reuses it.",
             "aes", [], 32, 1,
             ["https://nvlpubs.nist.gov/nistpubs/FIPS/NIST.FIPS.197-upd1.pdf"],
             [W + "miner.wasm"], benign, family=["cryptonight", "randomx"],
             patterns=[sbox[:16].hex(), sbox[128:144].hex()]),
        rule("constants.aes.t-table",
             "AES encryption T-table words (Te0, in both byte orders), used by table-driven AES "
             "such as CryptoNight's round function.",
             "aes", sorted(set(te_be) | set(te_le)), 32, 16,
             ["https://nvlpubs.nist.gov/nistpubs/FIPS/NIST.FIPS.197-upd1.pdf",
              "https://cryptonote.org/cns/cns008.txt"],
             [W + "miner.wasm"], benign, family=["cryptonight", "randomx"]),
        rule("constants.blake-256.pi",
             "BLAKE-256 round constants c0..c15 (the first 512 bits of pi). Note: Blowfish's "
             "P-array starts with the same 16 words, so bcrypt/Blowfish code has them too.",
             "blake-256", t["pi32"][:16], 32, 12,
             ["https://www.aumasson.jp/blake/blake.pdf", "https://cryptonote.org/cns/cns008.txt"],
             [W + "miner.wasm"], benign, family=["cryptonight"]),
        rule("constants.blake.sigma",
             "The BLAKE message permutation table sigma (shared by BLAKE-256/512 and BLAKE2s/2b), "
             "as bytes or 32-bit words.",
             "blake-sigma", [], 32, 1,
             ["https://www.rfc-editor.org/rfc/rfc7693", "https://www.aumasson.jp/blake/blake.pdf"],
             [W + "blake2b.wasm", W + "miner.wasm"], benign, family=["cryptonight", "randomx"],
             patterns=[sigma_u8, sigma_u32]),
        rule("constants.sha512-iv",
             "The SHA-512 initial hash value. BLAKE2b and Argon2 use the same words as their IV, "
             "so this says 'SHA-512, BLAKE2b or Argon2', nothing more.",
             "sha512-iv", t["sha512_iv"], 64, 6,
             ["https://nvlpubs.nist.gov/nistpubs/FIPS/NIST.FIPS.180-4.pdf",
              "https://www.rfc-editor.org/rfc/rfc7693", "https://www.rfc-editor.org/rfc/rfc9106"],
             [W + "blake2b.wasm"], benign, family=["randomx"]),
        rule("constants.sha512-iv.halves",
             "The SHA-512 / BLAKE2b / Argon2 initial value split into 32-bit halves (32-bit and "
             "JavaScript implementations).",
             "sha512-iv", sha512_iv32, 32, 12,
             ["https://www.rfc-editor.org/rfc/rfc7693"],
             [W + "blake2b.wasm"], benign, family=["randomx"]),
        rule("constants.sha512.k",
             "SHA-512 round constants (FIPS 180-4): a SHA-384/512 implementation.",
             "sha512-k", t["sha512_k"], 64, 16,
             ["https://nvlpubs.nist.gov/nistpubs/FIPS/NIST.FIPS.180-4.pdf"],
             [W + "multihash.wasm"], benign),
        rule("constants.sha-256.k",
             "SHA-256 round constants (FIPS 180-4). Bitcoin-style miners, JSEcoin and countless "
             "benign libraries share them.",
             "sha-256", t["sha256_k"], 32, 16,
             ["https://nvlpubs.nist.gov/nistpubs/FIPS/NIST.FIPS.180-4.pdf"],
             [W + "multihash.wasm"], benign),
        rule("constants.groestl.t-table",
             "Groestl T-table words (AES S-box times Groestl's MDS matrix), as 32-bit halves in "
             "both byte orders: Groestl-256 is one of CryptoNight's four final hashes.",
             "groestl", g32, 32, 16,
             ["https://www.groestl.info/Groestl.pdf", "https://cryptonote.org/cns/cns008.txt"],
             [W + "multihash.wasm"], benign, family=["cryptonight"]),
        rule("constants.groestl.t-table-64",
             "Groestl T-table rows as 64-bit words (both byte orders), as 64-bit implementations "
             "(sphlib) keep them.",
             "groestl", g64, 64, 16,
             ["https://www.groestl.info/Groestl.pdf"],
             [W + "multihash.wasm"], benign, family=["cryptonight"]),
        rule("constants.jh.iv-and-round-constants",
             "JH-256 initial hash value H(0) and E8 round constants 0 and 1 in the bit-sliced "
             "layout (jh_ansi_opt64.h, CryptoNote's jh.c), as 64-bit words in both byte orders: "
             "compiled code loads these byte tables little-endian. JH-256 is one of "
             "CryptoNight's four final hashes.",
             "jh", jh64, 64, 3,
             ["https://www3.ntu.edu.sg/home/wuhj/research/jh/jh_round3.pdf",
              "https://cryptonote.org/cns/cns008.txt"],
             [W + "multihash.wasm"], benign, family=["cryptonight"],
             note=["Regenerated in tests/test_constants_reference.py from the JH specification",
                   "(C0 from sqrt(2), R6 updates, H(0) = F8(H(-1), 0)) and checked by JH-256 digests."]),
        rule("constants.skein.threefish",
             "Threefish key-schedule constant C240 and the Skein-512-256 / Skein-256-256 IVs: "
             "Skein is one of CryptoNight's four final hashes.",
             "skein", sorted({THREEFISH_C240, *SKEIN_512_256_IV, *SKEIN_256_256_IV}), 64, 1,
             ["https://www.schneier.com/wp-content/uploads/2015/01/skein.pdf",
              "https://cryptonote.org/cns/cns008.txt"],
             [W + "multihash.wasm"], benign, family=["cryptonight"],
             note=["Checked in tests/test_constants_reference.py: the IVs recomputed from the",
                   "configuration block with Threefish, and Skein digests with C240 and the IV."]),
        rule("constants.skein.threefish-halves",
             "The Threefish C240 constant as 32-bit halves (32-bit implementations).",
             "skein", skein32, 32, 2,
             ["https://www.schneier.com/wp-content/uploads/2015/01/skein.pdf"],
             [W + "multihash.wasm"], benign, family=["cryptonight"]),
        rule("constants.randomx.superscalar",
             "RandomX SuperscalarHash constants (the multiplier and the seven add constants used "
             "to derive dataset items); the first is also a common LCG multiplier, hence min_hits.",
             "randomx", RANDOMX_SUPERSCALAR, 64, 4,
             ["https://github.com/tevador/RandomX/blob/master/doc/specs.md"],
             [W + "multihash.wasm", W + "rxlike.wasm"], benign, family=["randomx"],
             note=["Arbitrary numbers with no derivation: the values of RandomX's dataset.cpp",
                   "(checked against the reference sources and the Debian librandomx0 binary;",
                   "tests/test_constants_reference.py holds them as the reference writes them)."]),
        rule("constants.cryptonight.scratchpad",
             "CryptoNight scratchpad address masks (2 MiB / 1 MiB / 256 KiB scratchpads, 16-byte "
             "aligned: 0x1FFFF0, 0xFFFF0, 0x3FFF0). The sizes and iteration counts themselves "
             "(0x200000, 0x80000...) are in most large modules and are left out; even the masks "
             "are supporting evidence only.",
             "cryptonight-scratchpad",
             [0x1FFFF0, 0xFFFF0, 0x3FFF0], 32, 1,
             ["https://cryptonote.org/cns/cns008.txt"],
             [W + "miner.wasm", W + "worker-lite.wasm"], benign + [W + "sha3lib.wasm"],
             family=["cryptonight"]),
        rule("constants.equihash.personalisation",
             "The BLAKE2b personalisation of Zcash's Equihash, the ASCII bytes \"ZcashPoW\" (the "
             "16-byte personal field continues with n and k as little-endian words), as a 64-bit "
             "literal, in data, or already XORed into BLAKE2b's IV word 6 (compilers fold the "
             "parameter block when it is a constant). Equihash verifiers in full nodes have it "
             "too; a miner adds the "
             "nonce loop (wasm.pow.nonce-loop).",
             "equihash-personalisation",
             [int.from_bytes(EQUIHASH_PERSONAL, "little"),
              int.from_bytes(EQUIHASH_PERSONAL, "little") ^ t["sha512_iv"][6]], 64, 1,
             ["https://zips.z.cash/protocol/protocol.pdf",
              "https://github.com/zcash/zcash/blob/master/src/crypto/equihash.cpp"],
             [W + "pow-equihash.wasm"], benign + [W + "blake2b.wasm", W + "look-hashlib.wasm"],
             family=["equihash"], patterns=[EQUIHASH_PERSONAL.hex()]),
        rule("constants.salsa20.sigma",
             "The Salsa20/ChaCha constant \"expand 32-byte k\" as four little-endian words (stream "
             "ciphers, libsodium, yescrypt's and scrypt's cousins). A cipher constant: weak alone.",
             "salsa20-sigma", SALSA20_SIGMA, 32, 4,
             ["https://cr.yp.to/snuffle/spec.pdf", "https://www.rfc-editor.org/rfc/rfc7914"],
             [W + "look-cipher.wasm"], benign + [W + "look-scrypt.wasm"],
             family=["scrypt", "yescrypt"]),
        rule("constants.salsa20.sigma-pairs",
             "The Salsa20/ChaCha constant \"expand 32-byte k\" as two little-endian 64-bit words, "
             "as compilers write the four 32-bit words into the state two at a time.",
             "salsa20-sigma", SALSA20_SIGMA64, 64, 2,
             ["https://cr.yp.to/snuffle/spec.pdf", "https://www.rfc-editor.org/rfc/rfc8439"],
             [W + "look-cipher.wasm"], benign + [W + "look-scrypt.wasm"],
             family=["scrypt", "yescrypt"]),
    ]
    header = (
        "# Generated by site_fixtures/wasm/gen_constants.py (derives the constants from their\n"
        "# definitions); edit the generator, not this file.\n"
        "format: 1\nkind: constants\n"
        "description: >-\n  Constants that identify hashing primitives, for the Wasm and JS analysers.\n"
        "  A primitive alone is weak evidence (hash-primitive); the Wasm rules combine them.\n"
        "rules:\n")
    text = header + "\n".join(rules)
    # dedupe the scratchpad list literal (0xFFFF0 listed once)
    (ROOT / "signatures/constants.yaml").write_text(text)


if __name__ == "__main__":
    t = tables()
    write_header(t)
    write_yaml(t)
    print("wrote signatures/constants.yaml and site_fixtures/wasm/src/tables.h")
