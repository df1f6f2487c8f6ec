/* A benign hashing library (hash-wasm-like): streaming SHA-256 and BLAKE2b with
 * init/update/final over a shared buffer, and one-shot HMAC. Hashes whatever it is given;
 * no header, no nonce, no target. */
#include "blake2b.h"
#include "sha256.h"

static uint8_t io[1 << 16];
static sha256_ctx s;
static blake2b_ctx b;
EXPORT("buffer") uint8_t *buffer(void) { return io; }
EXPORT("sha256_init") void sha256_init_x(void) { sha256_init(&s); }
EXPORT("sha256_update") void sha256_update_x(uint32_t len) { sha256_update(&s, io, len); }
EXPORT("sha256_final") void sha256_final_x(void) { sha256_final(&s, io); }
EXPORT("blake2b_init") void blake2b_init_x(uint32_t outlen) { blake2b_init(&b, outlen, 0); }
EXPORT("blake2b_update") void blake2b_update_x(uint32_t len) { blake2b_update(&b, io, len); }
EXPORT("blake2b_final") void blake2b_final_x(void) { blake2b_final(&b, io); }
EXPORT("hmac_sha256") void hmac_x(uint32_t klen, uint32_t mlen) {
  hmac_sha256(io, klen, io + klen, mlen, io, 0, io + klen + mlen);
}
/* Hash many small records (a Merkle leaf layer): a counter loop calling the hash. */
EXPORT("leaves") void leaves(uint32_t count, uint32_t size) {
  uint8_t out[32];
  for (uint32_t i = 0; i < count; i++) {
    sha256(io + i * size, size, out);
    memcpy(io + i * 32, out, 32);
  }
}
