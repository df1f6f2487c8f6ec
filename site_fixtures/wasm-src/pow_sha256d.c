/* A Bitcoin-style SHA-256d miner: an 80-byte header whose nonce (byte 76) is written,
 * double-hashed and compared with a 256-bit target, nonce after nonce. Bland export names,
 * as packed kits ship them: `b()` is the I/O buffer (header, target, result), `s(first, n)`
 * scans n nonces and returns the winning one or 0xFFFFFFFF. */
#include "sha256.h"

static uint8_t io[256];
EXPORT("b") uint8_t *b(void) { return io; }

static int below(const uint8_t *hash, const uint32_t *target) {
  for (int i = 7; i >= 0; i--) {
    uint32_t h = load32(hash + 4 * i);
    if (h != target[i]) return h < target[i];
  }
  return 1;
}

EXPORT("s") uint32_t s(uint32_t first, uint32_t count) {
  uint8_t *header = io;
  const uint32_t *target = (const uint32_t *)(io + 80);  /* little-endian words, like cpuminer */
  uint8_t h1[32], h2[32];
  for (uint32_t nonce = first; nonce != first + count; nonce++) {
    store32(header + 76, nonce);
    sha256(header, 80, h1);
    sha256(h1, 32, h2);
    if (load32(h2 + 28) <= target[7] && below(h2, target)) {
      memcpy(io + 112, h2, 32);
      return nonce;
    }
  }
  return 0xFFFFFFFFu;
}
