/* A benign SHA-3 / Keccak-256 hashing library (what wallets and dapps ship). */
#include "types.h"
#include "keccak.h"

static uint8_t io[4096];
EXPORT("buffer") uint8_t *buffer(void) { return io; }

static void squeeze(uint64_t st[25], uint8_t *out, size_t n) { memcpy(out, st, n); }

EXPORT("sha3_256") void sha3_256(const uint8_t *in, uint32_t len, uint8_t *out) {
  uint64_t st[25];
  keccak_sponge(in, len, st, 136, 0x06);
  squeeze(st, out, 32);
}
EXPORT("sha3_512") void sha3_512(const uint8_t *in, uint32_t len, uint8_t *out) {
  uint64_t st[25];
  keccak_sponge(in, len, st, 72, 0x06);
  squeeze(st, out, 64);
}
EXPORT("keccak256") void keccak256(const uint8_t *in, uint32_t len, uint8_t *out) {
  uint64_t st[25];
  keccak_sponge(in, len, st, 136, 0x01);
  squeeze(st, out, 32);
}
EXPORT("shake128") void shake128(const uint8_t *in, uint32_t len, uint8_t *out, uint32_t outlen) {
  uint64_t st[25];
  keccak_sponge(in, len, st, 168, 0x1f);
  while (outlen) {
    uint32_t n = outlen < 168 ? outlen : 168;
    squeeze(st, out, n);
    out += n; outlen -= n;
    if (outlen) keccakf(st);
  }
}
