/* An Argon2d-style miner (the Nimiq/WebDollar construction at toy size): H0 = BLAKE2b of the
 * block header (nonce at its last 4 bytes), 64 blocks of 1 KiB filled with a BLAKE2b-round
 * compression whose reference block depends on the data (Argon2d), the last block hashed
 * again and compared with the target, nonce after nonce. Exports: `h()`, `work(first, n, t)`. */
#include "blake2b.h"

#define BLOCKS 64
#define WORDS 128
static uint64_t mem[BLOCKS][WORDS];
static uint8_t head[146];
EXPORT("h") uint8_t *h(void) { return head; }

#define GB(a, b, c, d)                                       \
  a = a + b + 2 * (a & 0xFFFFFFFF) * (b & 0xFFFFFFFF); d = rotr64(d ^ a, 32); \
  c = c + d + 2 * (c & 0xFFFFFFFF) * (d & 0xFFFFFFFF); b = rotr64(b ^ c, 24); \
  a = a + b + 2 * (a & 0xFFFFFFFF) * (b & 0xFFFFFFFF); d = rotr64(d ^ a, 16); \
  c = c + d + 2 * (c & 0xFFFFFFFF) * (d & 0xFFFFFFFF); b = rotr64(b ^ c, 63);

static void permute(uint64_t *v) {
  GB(v[0], v[4], v[8], v[12]) GB(v[1], v[5], v[9], v[13])
  GB(v[2], v[6], v[10], v[14]) GB(v[3], v[7], v[11], v[15])
  GB(v[0], v[5], v[10], v[15]) GB(v[1], v[6], v[11], v[12])
  GB(v[2], v[7], v[8], v[13]) GB(v[3], v[4], v[9], v[14])
}
static void fill_block(const uint64_t *prev, const uint64_t *ref, uint64_t *next) {
  uint64_t r[WORDS], t[WORDS];
  for (int i = 0; i < WORDS; i++) r[i] = t[i] = prev[i] ^ ref[i];
  for (int i = 0; i < 8; i++) permute(r + 16 * i);
  for (int i = 0; i < WORDS; i++) next[i] = r[i] ^ t[i];
}
static __attribute__((noinline)) void argon2d(const uint8_t *in, uint32_t len, uint8_t out[32]) {
  uint8_t h0[64], seed[72];
  blake2b(in, len, h0, 64);
  for (uint32_t b = 0; b < 2; b++) {
    memcpy(seed, h0, 64); store32(seed + 64, b); store32(seed + 68, 0);
    uint8_t blk[64];
    blake2b(seed, 72, blk, 64);
    for (int i = 0; i < WORDS; i++) mem[b][i] = load64(blk + 8 * (i & 7)) + i;
  }
  for (uint32_t i = 2; i < BLOCKS; i++) {
    uint32_t ref = (uint32_t)mem[i - 1][0] % (i - 1);  /* data-dependent: Argon2d */
    fill_block(mem[i - 1], mem[ref], mem[i]);
  }
  blake2b((const uint8_t *)mem[BLOCKS - 1], WORDS * 8, out, 32);
}

EXPORT("work") uint32_t work(uint32_t first, uint32_t count, uint32_t share_target) {
  uint8_t hash[32];
  for (uint32_t nonce = first; nonce != first + count; nonce++) {
    store32(head + 142, nonce);
    argon2d(head, sizeof head, hash);
    if (load32(hash) <= share_target) return nonce;
  }
  return 0xFFFFFFFFu;
}
