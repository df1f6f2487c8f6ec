/* A synthetic CryptoNight-style proof-of-work, for detector tests ONLY.
 *
 * It really runs what a browser miner runs: Keccak-f[1600] over the blob, an AES-256 key
 * schedule, the scratchpad filled by 10 AES rounds per block, the memory-hard loop of AES
 * rounds and 64x64 multiplications at data-dependent addresses, the scratchpad folded back,
 * Keccak again and a final hash chosen by the state's low bits, as CryptoNight picks one of
 * BLAKE-256, Groestl, JH and Skein. Only BLAKE-256 is the real algorithm here; the other three
 * branches are stand-ins (finalmix.h) that carry those functions' real constants. It is not bit-compatible with Monero and
 * is useless for mining; its only job is to look, to a static analyser, like what it is.
 *
 * Build parameters: -DSCRATCHPAD=bytes (default 2 MiB as in CryptoNight; 1 MiB / 256 KiB for
 * the light variants), -DNAMED=1 for kit-like export names, else bland ones.
 */
#include "types.h"
#include "tables.h"
#include "keccak.h"
#include "aes.h"
#include "blake256.h"
#include "finalmix.h"

#ifndef SCRATCHPAD
#define SCRATCHPAD (1 << 21)
#endif
#define ITERATIONS (SCRATCHPAD / 4)
#define MASK ((SCRATCHPAD - 1) & ~15u)

#if NAMED
#define E_MINE "mine"
#define E_HASH "cryptonight_hash"
#define E_BLOB "blob_ptr"
#define E_OUT "result_ptr"
#define E_DIGEST "blake256_digest"
#else
#define E_MINE "a"
#define E_HASH "b"
#define E_BLOB "c"
#define E_OUT "d"
#define E_DIGEST "e"
#endif

static uint8_t scratchpad[SCRATCHPAD] __attribute__((aligned(16)));
static uint8_t blob[128];
static uint8_t result[32];
static uint8_t best[32];

static uint64_t mul128(uint64_t a, uint64_t b, uint64_t *hi) {
  uint64_t al = (uint32_t)a, ah = a >> 32, bl = (uint32_t)b, bh = b >> 32;
  uint64_t p0 = al * bl, p1 = al * bh, p2 = ah * bl, p3 = ah * bh;
  uint64_t mid = (p0 >> 32) + (uint32_t)p1 + (uint32_t)p2;
  *hi = p3 + (p1 >> 32) + (p2 >> 32) + (mid >> 32);
  return (mid << 32) | (uint32_t)p0;
}

static void pow_hash(const uint8_t *in, size_t len, uint8_t out[32]) {
  uint64_t st[25];
  uint32_t keys[40], text[32], a[4], b[4], c[4];
  uint8_t *bytes = (uint8_t *)st;
  keccak_sponge(in, len, st, 136, 0x01);

  aes_expand_key(bytes, keys);
  memcpy(text, bytes + 64, 128);
  for (uint32_t off = 0; off < SCRATCHPAD; off += 128) {
    for (int blk = 0; blk < 8; blk++)
      for (int r = 0; r < 10; r++) aes_round(text + 4 * blk, keys + 4 * r);
    memcpy(scratchpad + off, text, 128);
  }

  for (int i = 0; i < 4; i++) {
    a[i] = load32(bytes + 4 * i) ^ load32(bytes + 32 + 4 * i);
    b[i] = load32(bytes + 16 + 4 * i) ^ load32(bytes + 48 + 4 * i);
  }
  for (uint32_t i = 0; i < ITERATIONS / 2; i++) {
    uint32_t j = a[0] & MASK;
    memcpy(c, scratchpad + j, 16);
    aes_round(c, a);
    for (int k = 0; k < 4; k++) b[k] ^= c[k];
    memcpy(scratchpad + j, b, 16);
    memcpy(b, c, 16);
    j = c[0] & MASK;
    uint64_t d0 = load64(scratchpad + j), d1 = load64(scratchpad + j + 8), hi;
    uint64_t lo = mul128(((uint64_t)c[1] << 32) | c[0], d0, &hi);
    uint64_t a0 = (((uint64_t)a[1] << 32) | a[0]) + hi, a1 = (((uint64_t)a[3] << 32) | a[2]) + lo;
    store64(scratchpad + j, a0);
    store64(scratchpad + j + 8, a1);
    a0 ^= d0; a1 ^= d1;
    a[0] = (uint32_t)a0; a[1] = a0 >> 32; a[2] = (uint32_t)a1; a[3] = a1 >> 32;
  }

  aes_expand_key(bytes + 32, keys);
  memcpy(text, bytes + 64, 128);
  for (uint32_t off = 0; off < SCRATCHPAD; off += 128) {
    for (int w = 0; w < 32; w++) text[w] ^= load32(scratchpad + off + 4 * w);
    for (int blk = 0; blk < 8; blk++)
      for (int r = 0; r < 10; r++) aes_round(text + 4 * blk, keys + 4 * r);
  }
  memcpy(bytes + 64, text, 128);
  keccakf(st);

  switch (bytes[0] & 3) {
    case 0: {
      blake256_state S;
      blake256_init(&S);
      blake256_update(&S, bytes, 200);
      blake256_final(&S, out);
      break;
    }
    case 1: mix_columns(bytes, (uint32_t *)out); break;  /* stand-in for Groestl-256 */
    case 2: {  /* stand-in for JH-256 */
      uint64_t h[16];
      jh_init(h, bytes[1]);
      for (int i = 0; i < 4; i++) store64(out + 8 * i, h[i] ^ st[i] ^ h[i + 8]);
      break;
    }
    default: {  /* stand-in for Skein-512-256 */
      uint64_t ks[11];
      skein_schedule(ks, st[0]);
      for (int i = 0; i < 4; i++) store64(out + 8 * i, ks[i] + st[i] + ks[i + 4]);
      break;
    }
  }
}

EXPORT(E_BLOB) uint8_t *blob_ptr(void) { return blob; }
EXPORT(E_OUT) uint8_t *result_ptr(void) { return result; }

/* Hash the 76-byte blob as it is. */
EXPORT(E_HASH) void hash_blob(void) { pow_hash(blob, 76, result); }

/* Try `count` nonces from `nonce_start` (little-endian at blob offset 39, as Monero blobs
 * have it); keep the lowest hash in `result`; return the nonce that produced it. */
EXPORT(E_MINE) uint32_t mine(uint32_t nonce_start, uint32_t count) {
  uint32_t best_nonce = nonce_start;
  for (uint32_t n = 0; n < count; n++) {
    uint32_t nonce = nonce_start + n;
    store32(blob + 39, nonce);
    pow_hash(blob, 76, best);
    if (n == 0 || load64(best + 24) < load64(result + 24)) {
      memcpy(result, best, 32);
      best_nonce = nonce;
    }
  }
  return best_nonce;
}

EXPORT(E_DIGEST) void blake256_digest(const uint8_t *in, uint32_t len, uint8_t *out) {
  blake256_state S;
  blake256_init(&S);
  blake256_update(&S, in, len);
  blake256_final(&S, out);
}
