/* Constant-carrying kernels of several hash functions in one module, as multi-algorithm
 * hashing libraries (and X11-style coin code) ship them: a real SHA-256, and table-driven
 * mixing steps that use Groestl's T-table, JH's initial state and round constants, Skein's
 * IV and Threefish key schedule, SHA-512's round constants and RandomX's superscalar
 * constants. Only SHA-256 is a complete hash here; the rest exist so the detector's constant
 * sets have a module to match. No Keccak, no AES: it must not look like a CryptoNight miner. */
#include "types.h"
#include "tables.h"

static uint8_t io[4096];
EXPORT("buffer") uint8_t *buffer(void) { return io; }

static inline uint32_t load32be(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void sha256_block(uint32_t h[8], const uint8_t *p) {
  uint32_t w[64], a, b, c, d, e, f, g, hh;
  for (int i = 0; i < 16; i++) w[i] = load32be(p + 4 * i);
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = rotr32(w[i - 15], 7) ^ rotr32(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotr32(w[i - 2], 17) ^ rotr32(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; hh = h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = hh + (rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25)) + ((e & f) ^ (~e & g)) +
                  SHA256_K[i] + w[i];
    uint32_t t2 = (rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

EXPORT("sha256") void sha256(const uint8_t *in, uint32_t len, uint8_t *out) {
  uint32_t h[8];
  uint8_t block[64];
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++) h[i] = SHA256_IV[i];
  while (len >= 64) { sha256_block(h, in); in += 64; len -= 64; }
  memset(block, 0, 64);
  memcpy(block, in, len);
  block[len] = 0x80;
  if (len >= 56) { sha256_block(h, block); memset(block, 0, 64); }
  for (int i = 0; i < 8; i++) block[63 - i] = bits >> (8 * i);
  sha256_block(h, block);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = h[i] >> 24; out[4 * i + 1] = h[i] >> 16; out[4 * i + 2] = h[i] >> 8; out[4 * i + 3] = h[i];
  }
}

#include "finalmix.h"

EXPORT("groestl_mix") void groestl_mix(const uint8_t *in, uint32_t *out) { mix_columns(in, out); }
EXPORT("jh_start") void jh_start(uint64_t *state, uint32_t round) { jh_init(state, round); }
EXPORT("skein_keys") void skein_keys(uint64_t *ks, uint64_t tweak) { skein_schedule(ks, tweak); }

/* SHA-512 message-schedule constants and RandomX superscalar constants, mixed in. */
EXPORT("mix64") uint64_t mix64(uint64_t x, uint32_t i) {
  x += SHA512_K[i % 80];
  x = rotr64(x, 14) ^ (x * RANDOMX_SUPERSCALAR[i & 7]);
  return x;
}
