/* Table-driven AES round (FIPS 197) in the little-endian column layout CryptoNight uses. */
#pragma once
#include "tables.h"
static inline uint32_t bswap32(uint32_t v) {
  return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}
static inline uint32_t te(int r, uint32_t x) {
  uint32_t t = bswap32(AES_TE0[x & 0xff]);
  return r ? (t << (8 * r)) | (t >> (32 - 8 * r)) : t;
}
/* One aesenc: SubBytes, ShiftRows, MixColumns, AddRoundKey. */
static void aes_round(uint32_t s[4], const uint32_t k[4]) {
  uint32_t o[4];
  for (int c = 0; c < 4; c++)
    o[c] = te(0, s[c]) ^ te(1, s[(c + 1) & 3] >> 8) ^ te(2, s[(c + 2) & 3] >> 16) ^
           te(3, s[(c + 3) & 3] >> 24) ^ k[c];
  for (int c = 0; c < 4; c++) s[c] = o[c];
}
static inline uint32_t sub_word(uint32_t w) {
  return AES_SBOX[w & 0xff] | (AES_SBOX[(w >> 8) & 0xff] << 8) |
         (AES_SBOX[(w >> 16) & 0xff] << 16) | ((uint32_t)AES_SBOX[w >> 24] << 24);
}
/* AES-256 key expansion; CryptoNight uses the first 10 round keys (40 words). */
static void aes_expand_key(const uint8_t key[32], uint32_t w[40]) {
  uint32_t rcon = 1;
  for (int i = 0; i < 8; i++) w[i] = load32(key + 4 * i);
  for (int i = 8; i < 40; i++) {
    uint32_t t = w[i - 1];
    if (i % 8 == 0) {
      t = sub_word((t >> 8) | (t << 24)) ^ rcon;
      rcon = (rcon << 1) ^ ((rcon & 0x80) ? 0x1b : 0);
    } else if (i % 8 == 4) {
      t = sub_word(t);
    }
    w[i] = w[i - 8] ^ t;
  }
}
