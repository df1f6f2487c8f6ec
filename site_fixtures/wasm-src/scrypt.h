/* scrypt's core (RFC 7914): Salsa20/8, BlockMix with r = 1, ROMix over a caller's V. Shared by
 * the scrypt miner and the scrypt KDF look-alike: the same code, used two ways. */
#pragma once
#include "types.h"

#define R(a, b) (((a) << (b)) | ((a) >> (32 - (b))))
static void salsa20_8(uint32_t B[16]) {
  uint32_t x[16];
  for (int i = 0; i < 16; i++) x[i] = B[i];
  for (int i = 0; i < 8; i += 2) {
    x[4] ^= R(x[0] + x[12], 7);  x[8] ^= R(x[4] + x[0], 9);
    x[12] ^= R(x[8] + x[4], 13); x[0] ^= R(x[12] + x[8], 18);
    x[9] ^= R(x[5] + x[1], 7);   x[13] ^= R(x[9] + x[5], 9);
    x[1] ^= R(x[13] + x[9], 13); x[5] ^= R(x[1] + x[13], 18);
    x[14] ^= R(x[10] + x[6], 7); x[2] ^= R(x[14] + x[10], 9);
    x[6] ^= R(x[2] + x[14], 13); x[10] ^= R(x[6] + x[2], 18);
    x[3] ^= R(x[15] + x[11], 7); x[7] ^= R(x[3] + x[15], 9);
    x[11] ^= R(x[7] + x[3], 13); x[15] ^= R(x[11] + x[7], 18);
    x[1] ^= R(x[0] + x[3], 7);   x[2] ^= R(x[1] + x[0], 9);
    x[3] ^= R(x[2] + x[1], 13);  x[0] ^= R(x[3] + x[2], 18);
    x[6] ^= R(x[5] + x[4], 7);   x[7] ^= R(x[6] + x[5], 9);
    x[4] ^= R(x[7] + x[6], 13);  x[5] ^= R(x[4] + x[7], 18);
    x[11] ^= R(x[10] + x[9], 7); x[8] ^= R(x[11] + x[10], 9);
    x[9] ^= R(x[8] + x[11], 13); x[10] ^= R(x[9] + x[8], 18);
    x[12] ^= R(x[15] + x[14], 7); x[13] ^= R(x[12] + x[15], 9);
    x[14] ^= R(x[13] + x[12], 13); x[15] ^= R(x[14] + x[13], 18);
  }
  for (int i = 0; i < 16; i++) B[i] += x[i];
}
static void blockmix(uint32_t B[32]) {
  uint32_t X[16], Y[32];
  for (int i = 0; i < 16; i++) X[i] = B[16 + i];
  for (int j = 0; j < 2; j++) {
    for (int i = 0; i < 16; i++) X[i] ^= B[16 * j + i];
    salsa20_8(X);
    for (int i = 0; i < 16; i++) Y[16 * j + i] = X[i];
  }
  for (int i = 0; i < 32; i++) B[i] = Y[i];
}
/* ROMix of one 128-byte block B in place, N a power of two, V of N * 128 bytes. */
static void romix(uint8_t *B, uint32_t N, uint32_t *V) {
  uint32_t X[32];
  for (int i = 0; i < 32; i++) X[i] = load32(B + 4 * i);
  for (uint32_t i = 0; i < N; i++) { memcpy(&V[i * 32], X, 128); blockmix(X); }
  for (uint32_t i = 0; i < N; i++) {
    uint32_t j = X[16] & (N - 1);
    for (int k = 0; k < 32; k++) X[k] ^= V[j * 32 + k];
    blockmix(X);
  }
  for (int i = 0; i < 32; i++) store32(B + 4 * i, X[i]);
}
