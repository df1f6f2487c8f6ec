/* SHA-256 for the runtime proof-of-work fixtures, two builds from one source:
 *   -DPOW=1    hdr.wasm: `h(ptr, out)` hashes an 80-byte header twice (SHA-256d, Bitcoin-style);
 *              the page's JavaScript owns the nonce loop, so each nonce is one export call on
 *              the same buffer (the shape the runtime hook watches for), and nothing in the
 *              module itself is a miner: statically it is a hashing library.
 *   -DPOW=0    filehash.wasm: hash-wasm-like streaming `init` / `update(ptr, len)` / `final(out)`
 *              over a file's chunks (benign: every call sees new data, no nonce).
 * Exports have bland names, as packed kits and libraries ship them. */
#include "types.h"
#include "tables.h"

static uint8_t io[1 << 16];
EXPORT("buf") uint8_t *buf(void) { return io; }

static inline uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void put_be32(uint8_t *p, uint32_t v) {
  p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}
static void block(uint32_t h[8], const uint8_t *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++) w[i] = be32(p + 4 * i);
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = rotr32(w[i - 15], 7) ^ rotr32(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotr32(w[i - 2], 17) ^ rotr32(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = k + (rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25)) + ((e & f) ^ (~e & g)) +
                  SHA256_K[i] + w[i];
    uint32_t t2 = (rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

typedef struct { uint32_t h[8]; uint8_t tail[64]; uint32_t fill; uint64_t total; } ctx_t;
static void ctx_init(ctx_t *c) { memcpy(c->h, SHA256_IV, 32); c->fill = 0; c->total = 0; }
static void ctx_update(ctx_t *c, const uint8_t *p, uint32_t n) {
  c->total += n;
  while (n) {
    uint32_t take = 64 - c->fill < n ? 64 - c->fill : n;
    memcpy(c->tail + c->fill, p, take);
    c->fill += take; p += take; n -= take;
    if (c->fill == 64) { block(c->h, c->tail); c->fill = 0; }
  }
}
static void ctx_final(ctx_t *c, uint8_t *out) {
  uint64_t bits = c->total * 8;
  uint8_t pad = 0x80, zero = 0, len[8];
  ctx_update(c, &pad, 1);
  while (c->fill != 56) ctx_update(c, &zero, 1);
  for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
  ctx_update(c, len, 8);
  for (int i = 0; i < 8; i++) put_be32(out + 4 * i, c->h[i]);
}

#if POW
EXPORT("h") void h(const uint8_t *hdr, uint8_t *out) {
  ctx_t c;
  uint8_t first[32];
  ctx_init(&c); ctx_update(&c, hdr, 80); ctx_final(&c, first);
  ctx_init(&c); ctx_update(&c, first, 32); ctx_final(&c, out);
}
#else
static ctx_t state;
EXPORT("init") void init(void) { ctx_init(&state); }
EXPORT("update") void update(const uint8_t *p, uint32_t n) { ctx_update(&state, p, n); }
EXPORT("final") void final(uint8_t *out) { ctx_final(&state, out); }
#endif
