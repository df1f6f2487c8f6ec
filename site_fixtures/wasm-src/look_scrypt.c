/* A benign scrypt password KDF (RFC 7914): one call with password, salt, N, r=1, p and the
 * output length; the same PBKDF2-HMAC-SHA256 and Salsa20/8 ROMix a scrypt miner runs, no nonce,
 * no target. Exports: `scrypt(pw, pwlen, salt, saltlen, N, p, out, outlen)`, `mem()`. */
#include "sha256.h"
#include "scrypt.h"

static uint32_t V[4096 * 32];
static uint8_t io[4096];
EXPORT("mem") uint8_t *mem(void) { return io; }

EXPORT("scrypt") int scrypt(const uint8_t *pw, uint32_t pwlen, const uint8_t *salt,
                            uint32_t saltlen, uint32_t N, uint32_t p, uint8_t *out,
                            uint32_t outlen) {
  static uint8_t B[128 * 16];
  if (N < 2 || N > 4096 || (N & (N - 1)) || !p || p > 16) return -1;
  pbkdf2_sha256_1(pw, pwlen, salt, saltlen, B, 128 * p);
  for (uint32_t i = 0; i < p; i++) romix(B + 128 * i, N, V);
  pbkdf2_sha256_1(pw, pwlen, B, 128 * p, out, outlen);
  return 0;
}
