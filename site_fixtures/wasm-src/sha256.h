/* SHA-256 (FIPS 180-4) and HMAC/PBKDF2 over it, shared by the fixtures here. */
#pragma once
#include "types.h"
#include "tables.h"

typedef struct { uint32_t h[8]; uint8_t b[64]; uint32_t n; uint64_t len; } sha256_ctx;

static inline uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void put_be32(uint8_t *p, uint32_t v) {
  p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}
static __attribute__((noinline)) void sha256_block(uint32_t h[8], const uint8_t *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++) w[i] = be32(p + 4 * i);
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = rotr32(w[i - 15], 7) ^ rotr32(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotr32(w[i - 2], 17) ^ rotr32(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = k + (rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25)) + ((e & f) ^ (~e & g))
                  + SHA256_K[i] + w[i];
    uint32_t t2 = (rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}
static void sha256_init(sha256_ctx *c) {
  for (int i = 0; i < 8; i++) c->h[i] = SHA256_IV[i];
  c->n = 0; c->len = 0;
}
static void sha256_update(sha256_ctx *c, const uint8_t *p, uint32_t len) {
  c->len += len;
  while (len--) {
    c->b[c->n++] = *p++;
    if (c->n == 64) { sha256_block(c->h, c->b); c->n = 0; }
  }
}
static void sha256_final(sha256_ctx *c, uint8_t out[32]) {
  uint64_t bits = c->len * 8;
  uint8_t pad = 0x80;
  sha256_update(c, &pad, 1);
  pad = 0;
  while (c->n != 56) sha256_update(c, &pad, 1);
  for (int i = 7; i >= 0; i--) { uint8_t x = bits >> (8 * i); sha256_update(c, &x, 1); }
  for (int i = 0; i < 8; i++) put_be32(out + 4 * i, c->h[i]);
}
static void sha256(const uint8_t *p, uint32_t len, uint8_t out[32]) {
  sha256_ctx c;
  sha256_init(&c); sha256_update(&c, p, len); sha256_final(&c, out);
}
static void hmac_sha256(const uint8_t *key, uint32_t klen, const uint8_t *m, uint32_t mlen,
                        const uint8_t *m2, uint32_t m2len, uint8_t out[32]) {
  uint8_t k[64], ipad[64], opad[64], inner[32];
  memset(k, 0, 64);
  if (klen > 64) sha256(key, klen, k); else memcpy(k, key, klen);
  for (int i = 0; i < 64; i++) { ipad[i] = k[i] ^ 0x36; opad[i] = k[i] ^ 0x5c; }
  sha256_ctx c;
  sha256_init(&c); sha256_update(&c, ipad, 64); sha256_update(&c, m, mlen);
  sha256_update(&c, m2, m2len); sha256_final(&c, inner);
  sha256_init(&c); sha256_update(&c, opad, 64); sha256_update(&c, inner, 32); sha256_final(&c, out);
}
/* PBKDF2-HMAC-SHA256 with one iteration per block, as scrypt uses it (c = 1). */
static void pbkdf2_sha256_1(const uint8_t *pw, uint32_t pwlen, const uint8_t *salt,
                            uint32_t saltlen, uint8_t *out, uint32_t outlen) {
  uint8_t idx[4], t[32];
  for (uint32_t i = 0; i * 32 < outlen; i++) {
    put_be32(idx, i + 1);
    hmac_sha256(pw, pwlen, salt, saltlen, idx, 4, t);
    uint32_t n = outlen - i * 32 < 32 ? outlen - i * 32 : 32;
    memcpy(out + i * 32, t, n);
  }
}
