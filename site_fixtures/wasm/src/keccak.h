/* Keccak-f[1600] (Keccak team reference, straightforward version). */
#pragma once
#include "tables.h"
static const int KECCAK_ROTC[24] = {1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14,
                                    27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44};
static const int KECCAK_PILN[24] = {10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4,
                                    15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1};
static void keccakf(uint64_t st[25]) {
  uint64_t bc[5], t;
  for (int round = 0; round < 24; round++) {
    for (int i = 0; i < 5; i++) bc[i] = st[i] ^ st[i + 5] ^ st[i + 10] ^ st[i + 15] ^ st[i + 20];
    for (int i = 0; i < 5; i++) {
      t = bc[(i + 4) % 5] ^ rotl64(bc[(i + 1) % 5], 1);
      for (int j = 0; j < 25; j += 5) st[j + i] ^= t;
    }
    t = st[1];
    for (int i = 0; i < 24; i++) {
      int j = KECCAK_PILN[i];
      bc[0] = st[j];
      st[j] = rotl64(t, KECCAK_ROTC[i]);
      t = bc[0];
    }
    for (int j = 0; j < 25; j += 5) {
      for (int i = 0; i < 5; i++) bc[i] = st[j + i];
      for (int i = 0; i < 5; i++) st[j + i] ^= (~bc[(i + 1) % 5]) & bc[(i + 2) % 5];
    }
    st[0] ^= KECCAK_RC[round];
  }
}
/* Sponge with rate `rate` bytes and domain byte `pad` (0x01 Keccak, 0x06 SHA-3). */
static void keccak_sponge(const uint8_t *in, size_t len, uint64_t st[25], size_t rate, uint8_t pad) {
  uint8_t block[200];
  memset(st, 0, 200);
  while (len >= rate) {
    for (size_t i = 0; i < rate / 8; i++) st[i] ^= load64(in + 8 * i);
    keccakf(st);
    in += rate;
    len -= rate;
  }
  memset(block, 0, rate);
  memcpy(block, in, len);
  block[len] ^= pad;
  block[rate - 1] ^= 0x80;
  for (size_t i = 0; i < rate / 8; i++) st[i] ^= load64(block + 8 * i);
  keccakf(st);
}
