/* Table-driven steps that carry the real constants of Groestl (T-table), JH (H(0) and E8
 * round constants) and Skein (IV and Threefish C240). They are stand-ins, NOT the real hash
 * functions: they exist so fixtures carry what real implementations carry. */
#pragma once
#include "tables.h"
/* Groestl-style column mixing through the T-table (one lookup per state byte). */
static void mix_columns(const uint8_t *in, uint32_t *out) {
  for (int c = 0; c < 8; c++) {
    uint32_t lo = 0, hi = 0;
    for (int r = 0; r < 8; r++) {
      uint32_t x = in[8 * ((c + r) & 7) + r];
      lo ^= GROESTL_T[2 * x] << r;
      hi ^= GROESTL_T[2 * x + 1] >> r;
    }
    out[2 * c] = lo; out[2 * c + 1] = hi;
  }
}

/* JH-style state initialisation and a constant-injection step. */
static void jh_init(uint64_t *state, uint32_t round) {
  for (int i = 0; i < 16; i++) state[i] = load64(JH256_H0 + 8 * i);
  for (int i = 0; i < 8; i++) state[i] ^= JH_E8_RC0[(i + round) & 7];
}

/* Threefish key schedule with the Skein-512-256 IV as key. */
static void skein_schedule(uint64_t *ks, uint64_t tweak) {
  uint64_t parity = THREEFISH_C240;
  for (int i = 0; i < 8; i++) { ks[i] = SKEIN_512_256_IV[i]; parity ^= ks[i]; }
  ks[8] = parity;
  ks[9] = tweak; ks[10] = tweak ^ 0x3ull;
}

