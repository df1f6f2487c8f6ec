/* A benign wallet-like module: Keccak-256 (CryptoNote's cn_fast_hash) for key derivation and
 * checksums, and arithmetic modulo 2^255-19 (ref10-style 10 limbs) as ed25519 wallets use.
 * No scratchpad, no AES, no nonce loop: a wallet never mines. */
#include "types.h"
#include "keccak.h"

typedef int64_t fe[10];
static uint8_t io[1024];
EXPORT("wallet_buffer") uint8_t *wallet_buffer(void) { return io; }

static void fe_frombytes(fe h, const uint8_t *s) {
  uint64_t lo = load64(s), mid = load64(s + 8), hi = load64(s + 16), top = load64(s + 24);
  uint64_t words[4] = {lo, mid, hi, top & 0x7fffffffffffffffull};
  int shift = 0;
  for (int i = 0; i < 10; i++) {
    int bits = (i & 1) ? 25 : 26, w = shift / 64, o = shift % 64;
    uint64_t v = words[w] >> o;
    if (o + bits > 64 && w < 3) v |= words[w + 1] << (64 - o);
    h[i] = (int64_t)(v & ((1ull << bits) - 1));
    shift += bits;
  }
}
static void fe_carry(fe h) {
  for (int r = 0; r < 2; r++)
    for (int i = 0; i < 10; i++) {
      int bits = (i & 1) ? 25 : 26;
      int64_t c = h[i] >> bits;
      h[i] -= c << bits;
      if (i == 9) h[0] += 19 * c; else h[i + 1] += c;
    }
}
static void fe_mul(fe h, const fe f, const fe g) {
  int64_t t[19] = {0};
  for (int i = 0; i < 10; i++)
    for (int j = 0; j < 10; j++) {
      int64_t m = (i & 1) && (j & 1) ? 2 : 1;
      t[i + j] += f[i] * g[j] * m;
    }
  for (int i = 10; i < 19; i++) t[i - 10] += 19 * t[i];
  for (int i = 0; i < 10; i++) h[i] = t[i];
  fe_carry(h);
}
static void fe_sq_n(fe h, const fe f, int n) {
  fe t;
  for (int i = 0; i < 10; i++) t[i] = f[i];
  for (int k = 0; k < n; k++) fe_mul(t, t, t);
  for (int i = 0; i < 10; i++) h[i] = t[i];
}

EXPORT("cn_fast_hash") void cn_fast_hash(const uint8_t *in, uint32_t len, uint8_t *out) {
  uint64_t st[25];
  keccak_sponge(in, len, st, 136, 0x01);
  memcpy(out, st, 32);
}

/* Derive a view-key-like value: Keccak of the spend key, then some field arithmetic. */
EXPORT("derive_keys") void derive_keys(const uint8_t *seed, uint8_t *out) {
  uint8_t h[32];
  fe a, b;
  cn_fast_hash(seed, 32, h);
  fe_frombytes(a, h);
  fe_frombytes(b, seed);
  fe_mul(a, a, b);
  fe_sq_n(b, a, 5);
  for (int i = 0; i < 10; i++) store32(out + 4 * i, (uint32_t)b[i]);
  cn_fast_hash(out, 40, out);
}
/* A 4-byte address checksum as CryptoNote addresses carry it. */
EXPORT("address_checksum") uint32_t address_checksum(const uint8_t *addr, uint32_t len) {
  uint8_t h[32];
  cn_fast_hash(addr, len, h);
  return load32(h);
}
