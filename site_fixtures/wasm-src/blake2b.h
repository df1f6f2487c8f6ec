/* BLAKE2b (RFC 7693) with an optional 16-byte personalisation, shared by the fixtures here. */
#pragma once
#include "types.h"
#include "tables.h"

typedef struct { uint64_t h[8], t[2]; uint8_t b[128]; uint32_t c, outlen; } blake2b_ctx;

#define B2B_G(a, b, c, d, x, y)                                 \
  v[a] = v[a] + v[b] + x; v[d] = rotr64(v[d] ^ v[a], 32);       \
  v[c] = v[c] + v[d]; v[b] = rotr64(v[b] ^ v[c], 24);           \
  v[a] = v[a] + v[b] + y; v[d] = rotr64(v[d] ^ v[a], 16);       \
  v[c] = v[c] + v[d]; v[b] = rotr64(v[b] ^ v[c], 63);

static __attribute__((noinline)) void blake2b_compress(blake2b_ctx *ctx, int last) {
  uint64_t v[16], m[16];
  for (int i = 0; i < 8; i++) { v[i] = ctx->h[i]; v[i + 8] = BLAKE2B_IV[i]; }
  v[12] ^= ctx->t[0]; v[13] ^= ctx->t[1];
  if (last) v[14] = ~v[14];
  for (int i = 0; i < 16; i++) m[i] = load64(ctx->b + 8 * i);
  for (int i = 0; i < 12; i++) {
    const uint8_t *s = BLAKE_SIGMA[i % 10];
    B2B_G(0, 4, 8, 12, m[s[0]], m[s[1]]) B2B_G(1, 5, 9, 13, m[s[2]], m[s[3]])
    B2B_G(2, 6, 10, 14, m[s[4]], m[s[5]]) B2B_G(3, 7, 11, 15, m[s[6]], m[s[7]])
    B2B_G(0, 5, 10, 15, m[s[8]], m[s[9]]) B2B_G(1, 6, 11, 12, m[s[10]], m[s[11]])
    B2B_G(2, 7, 8, 13, m[s[12]], m[s[13]]) B2B_G(3, 4, 9, 14, m[s[14]], m[s[15]])
  }
  for (int i = 0; i < 8; i++) ctx->h[i] ^= v[i] ^ v[i + 8];
}
static void blake2b_init(blake2b_ctx *ctx, uint32_t outlen, const uint8_t *personal) {
  for (int i = 0; i < 8; i++) ctx->h[i] = BLAKE2B_IV[i];
  ctx->h[0] ^= 0x01010000 ^ outlen;
  if (personal) { ctx->h[6] ^= load64(personal); ctx->h[7] ^= load64(personal + 8); }
  ctx->t[0] = ctx->t[1] = 0; ctx->c = 0; ctx->outlen = outlen;
}
static void blake2b_update(blake2b_ctx *ctx, const uint8_t *in, uint32_t len) {
  for (uint32_t i = 0; i < len; i++) {
    if (ctx->c == 128) {
      ctx->t[0] += ctx->c; if (ctx->t[0] < ctx->c) ctx->t[1]++;
      blake2b_compress(ctx, 0); ctx->c = 0;
    }
    ctx->b[ctx->c++] = in[i];
  }
}
static void blake2b_final(blake2b_ctx *ctx, uint8_t *out) {
  ctx->t[0] += ctx->c; if (ctx->t[0] < ctx->c) ctx->t[1]++;
  while (ctx->c < 128) ctx->b[ctx->c++] = 0;
  blake2b_compress(ctx, 1);
  for (uint32_t i = 0; i < ctx->outlen; i++) out[i] = (ctx->h[i >> 3] >> (8 * (i & 7))) & 0xFF;
}
static void blake2b(const uint8_t *in, uint32_t len, uint8_t *out, uint32_t outlen) {
  blake2b_ctx c;
  blake2b_init(&c, outlen, 0); blake2b_update(&c, in, len); blake2b_final(&c, out);
}
