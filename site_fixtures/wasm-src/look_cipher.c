/* A benign ChaCha20 stream cipher (RFC 8439), as chat and storage apps ship it: the block
 * counter is written into the state, the block function run, the keystream XORed in, counter
 * after counter; a loop that looks like a nonce loop except that nothing is compared with a
 * target. Exports: `buf()`, `crypt(len, counter)` (key at 0, nonce at 32, data from 64). */
#include "types.h"

static uint8_t io[1 << 16];
EXPORT("buf") uint8_t *buf(void) { return io; }

#define QR(a, b, c, d)                                   \
  a += b; d ^= a; d = (d << 16) | (d >> 16);             \
  c += d; b ^= c; b = (b << 12) | (b >> 20);             \
  a += b; d ^= a; d = (d << 8) | (d >> 24);              \
  c += d; b ^= c; b = (b << 7) | (b >> 25);

static __attribute__((noinline)) void chacha_block(const uint32_t in[16], uint8_t out[64]) {
  uint32_t x[16];
  for (int i = 0; i < 16; i++) x[i] = in[i];
  for (int i = 0; i < 10; i++) {
    QR(x[0], x[4], x[8], x[12]) QR(x[1], x[5], x[9], x[13])
    QR(x[2], x[6], x[10], x[14]) QR(x[3], x[7], x[11], x[15])
    QR(x[0], x[5], x[10], x[15]) QR(x[1], x[6], x[11], x[12])
    QR(x[2], x[7], x[8], x[13]) QR(x[3], x[4], x[9], x[14])
  }
  for (int i = 0; i < 16; i++) store32(out + 4 * i, x[i] + in[i]);
}

EXPORT("crypt") void crypt(uint32_t len, uint32_t counter) {
  uint32_t state[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
  uint8_t ks[64];
  for (int i = 0; i < 8; i++) state[4 + i] = load32(io + 4 * i);
  for (int i = 0; i < 3; i++) state[13 + i] = load32(io + 32 + 4 * i);
  for (uint32_t off = 0; off < len; off += 64, counter++) {
    state[12] = counter;
    chacha_block(state, ks);
    for (uint32_t i = 0; i < 64 && off + i < len; i++) io[64 + off + i] ^= ks[i];
  }
}
