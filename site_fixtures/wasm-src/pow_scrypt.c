/* A Litecoin-style scrypt miner: scrypt(N=1024, r=1, p=1) of an 80-byte header
 * (PBKDF2-HMAC-SHA256 around Salsa20/8 BlockMix and ROMix), nonce at byte 76, the hash
 * compared with the target, nonce after nonce. Exports: `io()`, `scan(first, n, htarg)`. */
#include "sha256.h"
#include "scrypt.h"

#define N 1024
static uint32_t V[N * 32];
static uint8_t io[256];
EXPORT("io") uint8_t *io_ptr(void) { return io; }

static __attribute__((noinline)) void scrypt_1024_1_1(const uint8_t *in, uint8_t out[32]) {
  uint8_t B[128];
  pbkdf2_sha256_1(in, 80, in, 80, B, 128);
  romix(B, N, V);
  pbkdf2_sha256_1(in, 80, B, 128, out, 32);
}

EXPORT("scan") uint32_t scan(uint32_t first, uint32_t count, uint32_t htarg) {
  uint8_t hash[32];
  for (uint32_t nonce = first; nonce < first + count; nonce++) {
    store32(io + 76, nonce);
    scrypt_1024_1_1(io, hash);
    if (load32(hash + 28) <= htarg) {
      memcpy(io + 80, hash, 32);
      return nonce;
    }
  }
  return 0xFFFFFFFFu;
}
