/* A benign Argon2-style password hasher (argon2-browser-like): one call per password with
 * salt, time cost, memory cost and lanes; BLAKE2b underneath; the fill loops walk passes,
 * slices and lanes, writing the position into a struct and calling the segment filler (the
 * shape closest to a nonce loop), but nothing is compared with a target: the tag is returned.
 * Exports: `argon2_hash(pwd, pwdlen, salt, saltlen, t_cost, m_blocks, lanes, out)`,
 * `argon2_verify(...)`, `buf()`. */
#include "blake2b.h"

#define WORDS 128
static uint64_t memory[256][WORDS];
static uint8_t io[1024];
EXPORT("buf") uint8_t *buf(void) { return io; }

typedef struct { uint32_t pass, lane, slice, index; } position;
typedef struct { uint32_t passes, lanes, lane_len, seg_len; } instance;

static void permute(uint64_t *v) {
  uint64_t *a = v;
  for (int i = 0; i < 4; i++) {
    a[i] += a[i + 4]; a[i + 12] = rotr64(a[i + 12] ^ a[i], 32);
    a[i + 8] += a[i + 12]; a[i + 4] = rotr64(a[i + 4] ^ a[i + 8], 24);
    a[i] += a[i + 4]; a[i + 12] = rotr64(a[i + 12] ^ a[i], 16);
    a[i + 8] += a[i + 12]; a[i + 4] = rotr64(a[i + 4] ^ a[i + 8], 63);
  }
}
static __attribute__((noinline)) void fill_segment(const instance *in, position pos) {
  for (uint32_t i = 0; i < in->seg_len; i++) {
    uint32_t col = pos.slice * in->seg_len + i;
    if (pos.pass == 0 && col < 2) continue;
    uint32_t cur = pos.lane * in->lane_len + col;
    uint32_t prev = col ? cur - 1 : cur + in->lane_len - 1;
    uint32_t ref = pos.lane * in->lane_len + (uint32_t)(memory[prev][0] % (col ? col : 1));
    uint64_t r[WORDS];
    for (int k = 0; k < WORDS; k++) r[k] = memory[prev][k] ^ memory[ref][k];
    for (int k = 0; k < 8; k++) permute(r + 16 * k);
    for (int k = 0; k < WORDS; k++) memory[cur][k] ^= r[k] ^ memory[prev][k];
  }
}
static void fill_memory(const instance *in) {
  for (uint32_t r = 0; r < in->passes; r++)
    for (uint32_t s = 0; s < 4; s++)
      for (uint32_t l = 0; l < in->lanes; l++) {
        position p = {r, l, s, 0};
        fill_segment(in, p);
      }
}

EXPORT("argon2_hash") int argon2_hash(const uint8_t *pwd, uint32_t pwdlen, const uint8_t *salt,
                                      uint32_t saltlen, uint32_t t_cost, uint32_t m_blocks,
                                      uint32_t lanes, uint8_t *out) {
  if (!lanes || m_blocks < 8 * lanes || m_blocks > 256 || saltlen < 8) return -1;
  instance in = {t_cost, lanes, m_blocks / lanes, m_blocks / lanes / 4};
  uint8_t h0[64], blk[64];
  blake2b_ctx c;
  blake2b_init(&c, 64, 0);
  blake2b_update(&c, pwd, pwdlen);
  blake2b_update(&c, salt, saltlen);
  blake2b_final(&c, h0);
  for (uint32_t l = 0; l < lanes; l++)
    for (uint32_t b = 0; b < 2; b++) {
      uint8_t seed[72];
      memcpy(seed, h0, 64); store32(seed + 64, b); store32(seed + 68, l);
      blake2b(seed, 72, blk, 64);
      for (int i = 0; i < WORDS; i++) memory[l * in.lane_len + b][i] = load64(blk + 8 * (i & 7));
    }
  fill_memory(&in);
  blake2b((const uint8_t *)memory[in.lane_len - 1], WORDS * 8, out, 32);
  return 0;
}
EXPORT("argon2_verify") int argon2_verify(const uint8_t *pwd, uint32_t pwdlen, const uint8_t *salt,
                                          uint32_t saltlen, const uint8_t *expected) {
  uint8_t tag[32];
  if (argon2_hash(pwd, pwdlen, salt, saltlen, 3, 64, 1, tag)) return 0;
  uint8_t diff = 0;
  for (int i = 0; i < 32; i++) diff |= tag[i] ^ expected[i];
  return diff == 0;
}
