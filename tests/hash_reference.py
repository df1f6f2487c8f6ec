"""Slow, plain reference implementations of the hashes behind signatures/constants.yaml.

Why they exist: a constant table typed from memory looks right and silently stops detection
(or matches the project's own fixtures only). tests/test_constants_reference.py rebuilds every
table from its specification's generation procedure, then runs these implementations WITH the
rebuilt constants against digests from real implementations (hashlib/OpenSSL, or known-answer
vectors computed with the reference C sources). A wrong constant gives a wrong digest.

Written from the specifications (FIPS 180-4, FIPS 197, FIPS 202, RFC 7693, BLAKE, Groestl 2.0.3,
JH round 3, Skein 1.3); clarity over speed: each call hashes a few hundred bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from math import isqrt

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


def rotl(x: int, n: int, bits: int) -> int:
    mask = (1 << bits) - 1
    n %= bits
    return ((x << n) | (x >> (bits - n))) & mask


def rotr(x: int, n: int, bits: int) -> int:
    return rotl(x, bits - n % bits, bits)


# --- Number-theoretic constants (SHA-2 and BLAKE) ---------------------------------------------

def primes(n: int) -> list[int]:
    out: list[int] = []
    k = 2
    while len(out) < n:
        if all(k % p for p in out if p * p <= k):
            out.append(k)
        k += 1
    return out


def frac_root_bits(p: int, root: int, bits: int) -> int:
    """First `bits` bits of the fractional part of p ** (1/root), exactly (integer roots)."""
    scaled = p << (root * bits)
    lo, hi = 0, 1 << (bits + 8)
    while lo < hi:  # largest r with r ** root <= scaled
        mid = (lo + hi + 1) // 2
        if mid ** root <= scaled:
            lo = mid
        else:
            hi = mid - 1
    return lo & ((1 << bits) - 1)


def pi_fraction_words(n: int, bits: int) -> list[int]:
    """The first n words of pi's fractional part (Machin's formula with integers)."""
    prec = n * bits + 64
    one = 1 << prec

    def arctan_inv(x: int) -> int:
        total = term = one // x
        k, sign, x2 = 1, 1, x * x
        while term:
            term //= x2
            k += 2
            sign = -sign
            total += sign * (term // k)
        return total

    frac = 4 * (4 * arctan_inv(5) - arctan_inv(239)) - (3 << prec)
    frac >>= 64
    return [(frac >> (bits * (n - 1 - i))) & ((1 << bits) - 1) for i in range(n)]


# --- Keccak-f[1600] (FIPS 202) ------------------------------------------------------------------

def keccak_round_constants() -> list[int]:
    """RC[i] from the rc(t) LFSR x^8 + x^6 + x^5 + x^4 + 1 (FIPS 202, algorithms 5 and 6)."""
    def rc(t: int) -> int:
        r = 1
        for _ in range(t % 255):
            r <<= 1
            if r & 0x100:
                r ^= 0x171
        return r & 1
    return [sum(rc(j + 7 * i) << ((1 << j) - 1) for j in range(7)) for i in range(24)]


def _keccak_rho() -> list[int]:
    offsets = [0] * 25
    x, y = 1, 0
    for t in range(24):
        offsets[x + 5 * y] = ((t + 1) * (t + 2) // 2) % 64
        x, y = y, (2 * x + 3 * y) % 5
    return offsets


def keccak_f1600(lanes: list[int], rc: Sequence[int]) -> list[int]:
    rho = _keccak_rho()
    a = list(lanes)
    for r in rc:
        c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
        d = [c[(x - 1) % 5] ^ rotl(c[(x + 1) % 5], 1, 64) for x in range(5)]
        a = [a[i] ^ d[i % 5] for i in range(25)]
        b = [0] * 25
        for x in range(5):
            for y in range(5):
                b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(a[x + 5 * y], rho[x + 5 * y], 64)
        a = [b[i] ^ (~b[(i + 1) % 5 + 5 * (i // 5)] & b[(i + 2) % 5 + 5 * (i // 5)]) for i in range(25)]
        a[0] ^= r
    return a


def sha3_256(msg: bytes, rc: Sequence[int]) -> bytes:
    rate = 136
    padded = bytearray(msg) + b"\x06" + bytes(-(len(msg) + 1) % rate)
    padded[-1] |= 0x80
    state = [0] * 25
    for off in range(0, len(padded), rate):
        block = padded[off:off + rate]
        for i in range(rate // 8):
            state[i] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        state = keccak_f1600(state, rc)
    return b"".join(v.to_bytes(8, "little") for v in state[:4])


# --- AES (FIPS 197) --------------------------------------------------------------------------

def gmul(a: int, b: int, poly: int = 0x11B) -> int:
    p = 0
    while b:
        if b & 1:
            p ^= a
        a <<= 1
        if a & 0x100:
            a ^= poly
        b >>= 1
    return p


def aes_sbox() -> list[int]:
    """Inverse in GF(2^8) (a^254), then the affine map b ^ rotations(1..4) ^ 0x63."""
    def inverse(a: int) -> int:
        r, base, e = 1, a, 254
        while e:
            if e & 1:
                r = gmul(r, base)
            base = gmul(base, base)
            e >>= 1
        return r if a else 0
    out = []
    for a in range(256):
        x = inverse(a)
        out.append(x ^ rotl(x, 1, 8) ^ rotl(x, 2, 8) ^ rotl(x, 3, 8) ^ rotl(x, 4, 8) ^ 0x63)
    return out


def aes_te0(sbox: Sequence[int]) -> list[int]:
    """Te0[x] = S[x] times the MixColumns column (02, 01, 01, 03), as a big-endian word."""
    return [(gmul(s, 2) << 24) | (s << 16) | (s << 8) | gmul(s, 3) for s in sbox]


def aes128_encrypt_ttable(key: bytes, block: bytes, sbox: Sequence[int], te0: Sequence[int]) -> bytes:
    """Table-driven AES-128 (the shape CryptoNight's round function uses): Te1..Te3 are Te0
    rotated, so a wrong Te0 word gives a wrong ciphertext."""
    te = [list(te0)] + [[rotr(v, 8 * k, 32) for v in te0] for k in (1, 2, 3)]
    w = [int.from_bytes(key[4 * i:4 * i + 4], "big") for i in range(4)]
    rcon = 1
    for i in range(4, 44):
        t = w[i - 1]
        if i % 4 == 0:
            t = rotl(t, 8, 32)
            t = int.from_bytes(bytes(sbox[b] for b in t.to_bytes(4, "big")), "big") ^ (rcon << 24)
            rcon = gmul(rcon, 2)
        w.append(w[i - 4] ^ t)
    s = [int.from_bytes(block[4 * i:4 * i + 4], "big") ^ w[i] for i in range(4)]
    for rnd in range(1, 10):
        s = [te[0][s[i] >> 24] ^ te[1][(s[(i + 1) % 4] >> 16) & 0xFF] ^ te[2][(s[(i + 2) % 4] >> 8) & 0xFF]
             ^ te[3][s[(i + 3) % 4] & 0xFF] ^ w[4 * rnd + i] for i in range(4)]
    out = b""
    for i in range(4):
        v = ((sbox[s[i] >> 24] << 24) | (sbox[(s[(i + 1) % 4] >> 16) & 0xFF] << 16)
             | (sbox[(s[(i + 2) % 4] >> 8) & 0xFF] << 8) | sbox[s[(i + 3) % 4] & 0xFF]) ^ w[40 + i]
        out += v.to_bytes(4, "big")
    return out


# --- SHA-2 (FIPS 180-4) --------------------------------------------------------------------

def _md_pad(msg: bytes, block: int, length_bytes: int) -> bytes:
    pad = b"\x80" + bytes(-(len(msg) + 1 + length_bytes) % block)
    return msg + pad + (8 * len(msg)).to_bytes(length_bytes, "big")


SHA2_PARAMS = {
    # bits: (block, length bytes, rounds, Sigma0, Sigma1, sigma0, sigma1)
    32: (64, 8, 64, (2, 13, 22), (6, 11, 25), (7, 18, 3), (17, 19, 10)),
    64: (128, 16, 80, (28, 34, 39), (14, 18, 41), (1, 8, 7), (19, 61, 6)),
}


def sha2(msg: bytes, k: Sequence[int], iv: Sequence[int], bits: int) -> bytes:
    """SHA-256 (bits=32) or SHA-512 (bits=64) with the given round constants and IV."""
    block, length_bytes, rounds, big0, big1, small0, small1 = SHA2_PARAMS[bits]
    mask, wb = (1 << bits) - 1, bits // 8

    def big(x: int, r: tuple[int, int, int]) -> int:
        return rotr(x, r[0], bits) ^ rotr(x, r[1], bits) ^ rotr(x, r[2], bits)

    def small(x: int, r: tuple[int, int, int]) -> int:
        return rotr(x, r[0], bits) ^ rotr(x, r[1], bits) ^ (x >> r[2])

    h = list(iv)
    data = _md_pad(msg, block, length_bytes)
    for off in range(0, len(data), block):
        w = [int.from_bytes(data[off + wb * i:off + wb * i + wb], "big") for i in range(16)]
        for i in range(16, rounds):
            w.append((w[i - 16] + small(w[i - 15], small0) + w[i - 7] + small(w[i - 2], small1)) & mask)
        a, b, c, d, e, f, g, hh = h
        for i in range(rounds):
            t1 = (hh + big(e, big1) + ((e & f) ^ (~e & g)) + k[i] + w[i]) & mask
            t2 = (big(a, big0) + ((a & b) ^ (a & c) ^ (b & c))) & mask
            a, b, c, d, e, f, g, hh = (t1 + t2) & mask, a, b, c, (d + t1) & mask, e, f, g
        h = [(x + y) & mask for x, y in zip(h, (a, b, c, d, e, f, g, hh))]
    return b"".join(x.to_bytes(wb, "big") for x in h)


# --- BLAKE2 (RFC 7693) and BLAKE-256 ---------------------------------------------------------

def blake2(msg: bytes, iv: Sequence[int], sigma: Sequence[Sequence[int]], *, wide: bool) -> bytes:
    """Unkeyed BLAKE2b (wide) or BLAKE2s with the full digest length."""
    bits, rounds, rot, bb = (64, 12, (32, 24, 16, 63), 128) if wide else (32, 10, (16, 12, 8, 7), 64)
    mask, wb, outlen = (1 << bits) - 1, bits // 8, bb // 2
    h = list(iv)
    h[0] ^= 0x01010000 ^ outlen
    blocks = [msg[i:i + bb] for i in range(0, len(msg), bb)] or [b""]
    for n, chunk in enumerate(blocks):
        last = n == len(blocks) - 1
        t = len(msg) if last else (n + 1) * bb
        m = [int.from_bytes(chunk.ljust(bb, b"\0")[wb * i:wb * i + wb], "little") for i in range(16)]
        v = h + list(iv)
        v[12] ^= t & mask
        v[13] ^= t >> bits
        if last:
            v[14] ^= mask
        for r in range(rounds):
            s = sigma[r % 10]
            for i, (a, b, c, d) in enumerate(((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
                                              (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14))):
                for half in (0, 1):
                    v[a] = (v[a] + v[b] + m[s[2 * i + half]]) & mask
                    v[d] = rotr(v[d] ^ v[a], rot[2 * half], bits)
                    v[c] = (v[c] + v[d]) & mask
                    v[b] = rotr(v[b] ^ v[c], rot[2 * half + 1], bits)
        h = [h[i] ^ v[i] ^ v[i + 8] for i in range(8)]
    return b"".join(x.to_bytes(wb, "little") for x in h)[:outlen]


def blake256(msg: bytes, iv: Sequence[int], c: Sequence[int], sigma: Sequence[Sequence[int]]) -> bytes:
    """BLAKE-256 (the final SHA-3 submission: 14 rounds), unsalted, as CryptoNight's last step."""
    nbits = 8 * len(msg)
    data = bytearray(msg) + b"\x80"
    data += bytes(-(len(data) + 8) % 64)
    data[-1] |= 0x01
    data += nbits.to_bytes(8, "big")
    h = list(iv)
    for n in range(len(data) // 64):
        t = min(nbits, 512 * (n + 1)) if 512 * n < nbits else 0  # a padding-only block counts 0
        m = [int.from_bytes(data[64 * n + 4 * i:64 * n + 4 * i + 4], "big") for i in range(16)]
        v = h + [c[0], c[1], c[2], c[3], t & M32 ^ c[4], t & M32 ^ c[5], t >> 32 ^ c[6], t >> 32 ^ c[7]]
        for r in range(14):
            s = sigma[r % 10]
            for i, (a, b, cc, d) in enumerate(((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
                                               (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14))):
                x, y = s[2 * i], s[2 * i + 1]
                v[a] = (v[a] + v[b] + (m[x] ^ c[y])) & M32
                v[d] = rotr(v[d] ^ v[a], 16, 32)
                v[cc] = (v[cc] + v[d]) & M32
                v[b] = rotr(v[b] ^ v[cc], 12, 32)
                v[a] = (v[a] + v[b] + (m[y] ^ c[x])) & M32
                v[d] = rotr(v[d] ^ v[a], 8, 32)
                v[cc] = (v[cc] + v[d]) & M32
                v[b] = rotr(v[b] ^ v[cc], 7, 32)
        h = [h[i] ^ v[i] ^ v[i + 8] for i in range(8)]
    return b"".join(x.to_bytes(4, "big") for x in h)


# --- Groestl-256 (Groestl 2.0.3, the final tweaked version) -----------------------------------

GROESTL_B_ROW = (2, 2, 3, 4, 5, 3, 5, 7)
"""First row of Groestl's circulant MixBytes matrix B = circ(02, 02, 03, 04, 05, 03, 05, 07)."""


def groestl_mds_column(row: Sequence[int] = GROESTL_B_ROW) -> list[int]:
    """Column 0 of the circulant: B[i][0] = row[-i mod 8]. A T-table entry is S[x] times it."""
    return [row[-i % 8] for i in range(8)]


def _groestl_perm(x: list[list[int]], sbox: Sequence[int], q: bool) -> list[list[int]]:
    shifts = (1, 3, 5, 7, 0, 2, 4, 6) if q else (0, 1, 2, 3, 4, 5, 6, 7)
    for rnd in range(10):
        x = [row[:] for row in x]
        for j in range(8):
            if q:
                for r in range(7):
                    x[r][j] ^= 0xFF
                x[7][j] ^= 0xFF ^ (j << 4) ^ rnd
            else:
                x[0][j] ^= (j << 4) ^ rnd
        x = [[sbox[b] for b in row] for row in x]
        x = [[x[r][(j + shifts[r]) % 8] for j in range(8)] for r in range(8)]
        y = [[0] * 8 for _ in range(8)]
        for j in range(8):
            for i in range(8):
                acc = 0
                for k in range(8):
                    acc ^= gmul(GROESTL_B_ROW[(k - i) % 8], x[k][j])
                y[i][j] = acc
        x = y
    return x


def groestl256(msg: bytes, sbox: Sequence[int]) -> bytes:
    def to_state(b: bytes) -> list[list[int]]:
        return [[b[8 * j + r] for j in range(8)] for r in range(8)]

    def to_bytes(x: list[list[int]]) -> bytes:
        return bytes(x[r][j] for j in range(8) for r in range(8))

    def xor(*xs: bytes) -> bytes:
        return bytes(reduce(int.__xor__, column) for column in zip(*xs))

    pad = -(len(msg) + 9) % 64
    blocks = (len(msg) + 9 + pad) // 64
    data = msg + b"\x80" + bytes(pad) + blocks.to_bytes(8, "big")
    h = bytes(62) + (256).to_bytes(2, "big")
    for off in range(0, len(data), 64):
        m = data[off:off + 64]
        p = to_bytes(_groestl_perm(to_state(xor(h, m)), sbox, False))
        q = to_bytes(_groestl_perm(to_state(m), sbox, True))
        h = xor(h, p, q)
    return xor(to_bytes(_groestl_perm(to_state(h), sbox, False)), h)[32:]


# --- JH (round-3 specification, the reference implementation's algorithm) --------------------

JH_S = ((9, 0, 4, 11, 13, 12, 3, 15, 1, 10, 2, 6, 7, 5, 8, 14),
        (3, 12, 6, 13, 5, 7, 1, 9, 15, 2, 0, 4, 11, 10, 14, 8))


def jh_c0() -> list[int]:
    """Round constant 0 of E8: the integer part of (sqrt(2) - 1) * 2^256, as 64 nibbles."""
    v = isqrt(2 << 512) - (1 << 256)
    return [(v >> (4 * (63 - i))) & 0xF for i in range(64)]


def _jh_l(a: int, b: int) -> tuple[int, int]:
    b ^= ((a << 1) ^ (a >> 3) ^ ((a >> 2) & 2)) & 0xF
    a ^= ((b << 1) ^ (b >> 3) ^ ((b >> 2) & 2)) & 0xF
    return a, b


def jh_permute(tem: list[int]) -> list[int]:
    """P_d: the swap Pi, the permutation P', the swap Phi (d from the list's length)."""
    n = len(tem)
    t = list(tem)
    for i in range(0, n, 4):
        t[i + 2], t[i + 3] = t[i + 3], t[i + 2]
    a = [0] * n
    for i in range(n // 2):
        a[i], a[i + n // 2] = t[2 * i], t[2 * i + 1]
    for i in range(n // 2, n, 2):
        a[i], a[i + 1] = a[i + 1], a[i]
    return a


def jh_round_constants() -> list[list[int]]:
    """C_0 .. C_41: C_{r+1} = R_6(C_r) with all-zero round-constant bits (S0 everywhere)."""
    c = jh_c0()
    out = [c]
    for _ in range(41):
        tem = [JH_S[0][x] for x in c]
        for i in range(0, 64, 2):
            tem[i], tem[i + 1] = _jh_l(tem[i], tem[i + 1])
        c = jh_permute(tem)
        out.append(c)
    return out


def _jh_e8(h: bytes, constants: list[list[int]]) -> bytes:
    def bit(i: int) -> int:
        return (h[i >> 3] >> (7 - (i & 7))) & 1
    tem = [(bit(i) << 3) | (bit(i + 256) << 2) | (bit(i + 512) << 1) | bit(i + 768) for i in range(256)]
    a = [0] * 256
    for i in range(128):
        a[2 * i], a[2 * i + 1] = tem[i], tem[i + 128]
    for c in constants:
        expanded = [(c[i >> 2] >> (3 - (i & 3))) & 1 for i in range(256)]
        tem = [JH_S[expanded[i]][a[i]] for i in range(256)]
        for i in range(0, 256, 2):
            tem[i], tem[i + 1] = _jh_l(tem[i], tem[i + 1])
        a = jh_permute(tem)
    tem = [0] * 256
    for i in range(128):
        tem[i], tem[i + 128] = a[2 * i], a[2 * i + 1]
    out = bytearray(128)
    for i in range(256):
        for k in range(4):
            out[(i + 256 * k) >> 3] |= ((tem[i] >> (3 - k)) & 1) << (7 - (i & 7))
    return bytes(out)


def jh_compress(h: bytes, block: bytes, constants: list[list[int]]) -> bytes:
    h = bytes(x ^ y for x, y in zip(h, block + bytes(64)))
    h = _jh_e8(h, constants)
    return h[:64] + bytes(x ^ y for x, y in zip(h[64:], block))


def jh_h0(bits: int, constants: list[list[int]]) -> bytes:
    """H(0): compress H(-1) = the digest size in the first two bytes, with an all-zero block."""
    return jh_compress(bits.to_bytes(2, "big") + bytes(126), bytes(64), constants)


def jh256(msg: bytes, constants: list[list[int]], h0: bytes) -> bytes:
    length = (8 * len(msg)).to_bytes(16, "big")
    if len(msg) % 64 == 0:
        data = msg + b"\x80" + bytes(47) + length
    else:
        data = msg + b"\x80" + bytes(-(len(msg) + 1) % 64) + bytes(48) + length
    h = h0
    for off in range(0, len(data), 64):
        h = jh_compress(h, data[off:off + 64], constants)
    return h[96:]


def jh_bitslice_constants(constants: list[list[int]]) -> list[bytes]:
    """The same 42 constants in the layout of the bit-sliced implementations (jh_ansi_opt64.h,
    CryptoNote's jh.c), found by tracking where each 4-bit element sits in both layouts.

    The bit-sliced state keeps even elements in one group and odd elements in the other, each
    at a bit position p (byte p >> 3, MSB first); instead of P', round r swaps positions
    p <-> p ^ (1 << (r % 7)) in the odd group only.
    """
    ref = list(range(256))                       # element label at each reference position
    slots = {(0, p): 2 * p for p in range(128)}  # (group, position) -> label
    slots.update({(1, p): 2 * p + 1 for p in range(128)})
    out = []
    for r, c in enumerate(constants):
        where = {label: i for i, label in enumerate(ref)}
        expanded = [(c[i >> 2] >> (3 - (i & 3))) & 1 for i in range(256)]
        table = bytearray(32)
        for (g, p), label in slots.items():
            i = where[label]
            assert i % 2 == g, "the MDS pairs must stay (even, odd) in both layouts"
            table[16 * g + (p >> 3)] |= expanded[i] << (7 - (p & 7))
        out.append(bytes(table))
        ref = jh_permute(ref)
        step = 1 << (r % 7)
        slots = {(g, p ^ step if g else p): label for (g, p), label in slots.items()}
    return out


# --- Skein 1.3 (Threefish-256/512, UBI) -------------------------------------------------------

THREEFISH_ROTATIONS = {
    4: ((14, 16), (52, 57), (23, 40), (5, 37), (25, 33), (46, 12), (58, 22), (32, 32)),
    8: ((46, 36, 19, 37), (33, 27, 14, 42), (17, 49, 36, 39), (44, 9, 54, 56),
        (39, 30, 34, 24), (13, 50, 10, 17), (25, 29, 39, 43), (8, 35, 56, 22)),
}
THREEFISH_PERMUTATION = {4: (0, 3, 2, 1), 8: (2, 1, 4, 7, 6, 5, 0, 3)}


def threefish(key: Sequence[int], tweak: Sequence[int], words: Sequence[int], c240: int) -> list[int]:
    nw = len(words)
    rounds = 72
    k = list(key) + [c240]
    for x in key:
        k[nw] ^= x
    t = [tweak[0], tweak[1], tweak[0] ^ tweak[1]]

    def subkey(s: int) -> list[int]:
        sk = [k[(s + i) % (nw + 1)] for i in range(nw)]
        sk[nw - 3] = (sk[nw - 3] + t[s % 3]) & M64
        sk[nw - 2] = (sk[nw - 2] + t[(s + 1) % 3]) & M64
        sk[nw - 1] = (sk[nw - 1] + s) & M64
        return sk

    v = list(words)
    for d in range(rounds):
        if d % 4 == 0:
            v = [(x + y) & M64 for x, y in zip(v, subkey(d // 4))]
        rot = THREEFISH_ROTATIONS[nw][d % 8]
        for j in range(nw // 2):
            x0, x1 = v[2 * j], v[2 * j + 1]
            y0 = (x0 + x1) & M64
            v[2 * j], v[2 * j + 1] = y0, rotl(x1, rot[j], 64) ^ y0
        v = [v[THREEFISH_PERMUTATION[nw][i]] for i in range(nw)]
    return [(x + y) & M64 for x, y in zip(v, subkey(rounds // 4))]


def _ubi(g: list[int], msg: bytes, type_code: int, c240: int) -> list[int]:
    nb = 8 * len(g)
    blocks = [msg[i:i + nb] for i in range(0, len(msg), nb)] or [b""]
    done = 0
    for n, chunk in enumerate(blocks):
        done += len(chunk)
        tweak = done | (type_code << 120) | ((n == 0) << 126) | ((n == len(blocks) - 1) << 127)
        words = [int.from_bytes(chunk.ljust(nb, b"\0")[8 * i:8 * i + 8], "little") for i in range(len(g))]
        out = threefish(g, (tweak & M64, tweak >> 64), words, c240)
        g = [x ^ y for x, y in zip(out, words)]
    return g


def skein_iv(state_bits: int, out_bits: int, c240: int) -> list[int]:
    """The chaining value after the configuration block ("SHA3", version 1, output length,
    no tree): what the specification tabulates as the IV."""
    config = b"SHA3" + (1).to_bytes(2, "little") + bytes(2) + out_bits.to_bytes(8, "little") + bytes(16)
    return _ubi([0] * (state_bits // 64), config, 4, c240)


def skein(msg: bytes, state_bits: int, out_bits: int, c240: int, iv: Sequence[int] | None = None) -> bytes:
    g = list(iv) if iv is not None else skein_iv(state_bits, out_bits, c240)
    g = _ubi(g, msg, 48, c240)
    out = b""
    counter = 0
    while len(out) * 8 < out_bits:
        g_out = _ubi(g, counter.to_bytes(8, "little"), 63, c240)
        out += b"".join(x.to_bytes(8, "little") for x in g_out)
        counter += 1
    return out[:out_bits // 8]
