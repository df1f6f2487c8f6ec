/* BLAKE-256 (SHA-3 finalist, 14 rounds), after the reference implementation. */
#pragma once
#include "tables.h"
typedef struct { uint32_t h[8], s[4], t[2]; uint8_t buf[64]; size_t buflen; int nullt; } blake256_state;
static inline uint32_t load32be(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void store32be(uint8_t *p, uint32_t v) {
  p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}
#define BLAKE_G(a, b, c, d, e)                                                 \
  v[a] += (m[BLAKE_SIGMA[i][e]] ^ BLAKE256_C[BLAKE_SIGMA[i][e + 1]]) + v[b];   \
  v[d] = rotr32(v[d] ^ v[a], 16); v[c] += v[d]; v[b] = rotr32(v[b] ^ v[c], 12); \
  v[a] += (m[BLAKE_SIGMA[i][e + 1]] ^ BLAKE256_C[BLAKE_SIGMA[i][e]]) + v[b];   \
  v[d] = rotr32(v[d] ^ v[a], 8); v[c] += v[d]; v[b] = rotr32(v[b] ^ v[c], 7);
static void blake256_compress(blake256_state *S, const uint8_t *block) {
  uint32_t v[16], m[16];
  for (int i = 0; i < 16; i++) m[i] = load32be(block + 4 * i);
  for (int i = 0; i < 8; i++) v[i] = S->h[i];
  for (int i = 0; i < 4; i++) v[8 + i] = S->s[i] ^ BLAKE256_C[i];
  v[12] = BLAKE256_C[4]; v[13] = BLAKE256_C[5]; v[14] = BLAKE256_C[6]; v[15] = BLAKE256_C[7];
  if (!S->nullt) { v[12] ^= S->t[0]; v[13] ^= S->t[0]; v[14] ^= S->t[1]; v[15] ^= S->t[1]; }
  for (int r = 0; r < 14; r++) {
    int i = r % 10;
    BLAKE_G(0, 4, 8, 12, 0) BLAKE_G(1, 5, 9, 13, 2) BLAKE_G(2, 6, 10, 14, 4) BLAKE_G(3, 7, 11, 15, 6)
    BLAKE_G(0, 5, 10, 15, 8) BLAKE_G(1, 6, 11, 12, 10) BLAKE_G(2, 7, 8, 13, 12) BLAKE_G(3, 4, 9, 14, 14)
  }
  for (int i = 0; i < 16; i++) S->h[i % 8] ^= v[i];
  for (int i = 0; i < 8; i++) S->h[i] ^= S->s[i % 4];
}
static void blake256_init(blake256_state *S) {
  for (int i = 0; i < 8; i++) S->h[i] = BLAKE256_IV[i];
  S->t[0] = S->t[1] = 0; S->buflen = 0; S->nullt = 0;
  S->s[0] = S->s[1] = S->s[2] = S->s[3] = 0;
}
static void blake256_update(blake256_state *S, const uint8_t *data, size_t len) {
  while (len) {
    size_t take = 64 - S->buflen;
    if (take > len) take = len;
    memcpy(S->buf + S->buflen, data, take);
    S->buflen += take; data += take; len -= take;
    if (S->buflen == 64 && len) {
      S->t[0] += 512; if (S->t[0] == 0) S->t[1]++;
      blake256_compress(S, S->buf);
      S->buflen = 0;
    }
  }
}
static void blake256_final(blake256_state *S, uint8_t out[32]) {
  uint8_t block[64];
  uint32_t lo = S->t[0] + (uint32_t)(S->buflen * 8), hi = S->t[1] + (lo < S->t[0]);
  size_t n = S->buflen;
  memset(block, 0, 64);
  memcpy(block, S->buf, n);
  if (n == 64) {  /* full last block, padding goes into an extra block */
    S->t[0] = lo; S->t[1] = hi;
    blake256_compress(S, block);
    memset(block, 0, 64); n = 0; S->nullt = 1;
    block[0] = 0x80; block[55] |= 1;
  } else if (n <= 55) {
    block[n] = 0x80; block[55] |= 1;
    if (n == 0) S->nullt = 1; else { S->t[0] = lo; S->t[1] = hi; }
  } else {
    block[n] = 0x80;
    S->t[0] = lo; S->t[1] = hi;
    blake256_compress(S, block);
    memset(block, 0, 64); block[55] = 1; S->nullt = 1;
  }
  store32be(block + 56, hi); store32be(block + 60, lo);
  if (S->nullt) { S->t[0] = S->t[1] = 0; }
  blake256_compress(S, block);
  for (int i = 0; i < 8; i++) store32be(out + 4 * i, S->h[i]);
}
