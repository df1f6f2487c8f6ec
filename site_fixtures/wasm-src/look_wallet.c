/* A benign HD-wallet-like module (BIP32/SLIP-10 style over HMAC-SHA256, a secp256k1-sized
 * group order): derives child keys along a path (the child index is written into the HMAC
 * input and, if the result is not below the group order, the next index is tried), makes a
 * deterministic signing nonce (RFC 6979 style retry loop) and an address with a SHA-256d
 * checksum. Its loops write a counter, hash and compare hash words, but against a CONSTANT
 * (the order), never against a target given to it. */
#include "sha256.h"

static uint8_t io[1024];
EXPORT("wallet_io") uint8_t *wallet_io(void) { return io; }

static const uint32_t ORDER[8] = {  /* secp256k1 n, most significant word first */
  0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFE, 0xBAAEDCE6, 0xAF48A03B, 0xBFD25E8C, 0xD0364141};

static int below_order(const uint8_t k[32]) {
  for (int i = 0; i < 8; i++) {
    uint32_t w = be32(k + 4 * i);
    if (w != ORDER[i]) return w < ORDER[i];
  }
  return 0;
}
static void add_mod(uint8_t a[32], const uint8_t b[32]) {
  uint32_t carry = 0;
  for (int i = 31; i >= 0; i--) { uint32_t t = a[i] + b[i] + carry; a[i] = t; carry = t >> 8; }
}

/* io: [0,32) key, [32,64) chain code, [64, 64+4*depth) path; the child key replaces the key. */
EXPORT("derive_key") uint32_t derive_key(uint32_t depth) {
  uint8_t data[37], I[32], chain2[32];
  for (uint32_t d = 0; d < depth; d++) {
    uint32_t index = load32(io + 64 + 4 * d);
    for (;;) {
      data[0] = 0;
      memcpy(data + 1, io, 32);
      put_be32(data + 33, index);
      hmac_sha256(io + 32, 32, data, 37, data, 0, I);
      hmac_sha256(io + 32, 32, data, 37, I, 32, chain2);
      if (I[0] < 0xFF && below_order(I)) break;
      index++;
    }
    add_mod(io, I);
    memcpy(io + 32, chain2, 32);
  }
  return depth;
}
EXPORT("sign") uint32_t sign(uint32_t msglen) {
  uint8_t h[32], k[32], v[32];
  sha256(io + 128, msglen, h);
  memset(v, 1, 32);
  uint32_t attempt = 0;
  do {
    hmac_sha256(io, 32, h, 32, v, 32, k);
    memcpy(v, k, 32);
    attempt++;
  } while (k[0] == 0xFF && !below_order(k));
  memcpy(io + 96, k, 32);
  return attempt;
}
EXPORT("address") void address(void) {
  uint8_t h1[32], h2[32];
  io[500] = 0;
  sha256(io, 33, io + 501);
  sha256(io + 500, 33, h1);
  sha256(h1, 32, h2);
  memcpy(io + 533, h2, 4);
}
