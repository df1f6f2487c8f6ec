/* A RandomX-flavoured kernel, for detector tests ONLY: a BLAKE2b-seeded cache and the
 * SuperscalarHash-style mixing of a dataset item with RandomX's real superscalar constants.
 * It is not RandomX (no VM, no Argon2d cache fill); it carries what a RandomX build carries
 * besides AES. */
#include "blake2b.c"

static uint64_t cache[8192];

EXPORT("seed") void seed(const uint8_t *key, uint32_t len) {
  uint8_t h[64];
  blake2b(key, len, h, 64);
  for (int i = 0; i < 8192; i++) cache[i] = load64(h + 8 * (i & 7)) ^ (uint64_t)i * RANDOMX_SUPERSCALAR[0];
}

EXPORT("item") void item(uint32_t index, uint64_t *out) {
  uint64_t r[8];
  r[0] = (index + 1ull) * RANDOMX_SUPERSCALAR[0];
  for (int i = 1; i < 8; i++) r[i] = r[0] ^ RANDOMX_SUPERSCALAR[i];
  for (int round = 0; round < 8; round++) {
    const uint64_t *mix = cache + ((r[round & 7] & 1023) << 3);
    for (int i = 0; i < 8; i++) r[i] = rotr64(r[i] * (mix[i] | 1), 23) ^ mix[(i + 1) & 7];
  }
  for (int i = 0; i < 8; i++) out[i] = r[i];
}
