/* An Equihash-style miner (Zcash's construction at toy parameters n=48, k=5): BLAKE2b
 * personalised with "ZcashPoW" || le32(n) || le32(k) hashes the 140-byte header with each
 * index, a Wagner collision search pairs rows whose next 8 bits collide, k rounds, and a
 * solution's SHA-256d is compared with the target. The 32-byte nonce at byte 108 is
 * incremented between searches. Exports: `hdr()`, `tgt()`, `mine(first, tries)`, and
 * `row(index, out)`, one index's hash (the solver's first step, as solvers expose it). */
#include "blake2b.h"
#include "sha256.h"

#define EH_N 48
#define EH_K 5
#define HASH_BYTES (EH_N / 8)
#define INDICES (1 << (EH_N / (EH_K + 1) + 1))
#define MAX_ROWS 1024
#define SOL (1 << EH_K)

typedef struct { uint8_t h[HASH_BYTES]; uint16_t n; uint32_t idx[SOL]; } row;
static row rows[2][MAX_ROWS];
static uint8_t header[140 + 4 + SOL * 4];
static uint8_t target[32];
EXPORT("hdr") uint8_t *hdr(void) { return header; }
EXPORT("tgt") uint8_t *tgt(void) { return target; }

static void personal(uint8_t p[16]) {
  memcpy(p, "ZcashPoW", 8);
  store32(p + 8, EH_N);
  store32(p + 12, EH_K);
}
static void gen(uint32_t index, uint8_t out[HASH_BYTES]) {
  uint8_t p[16], le[4];
  blake2b_ctx c;
  personal(p);
  blake2b_init(&c, HASH_BYTES, p);
  blake2b_update(&c, header, 140);
  store32(le, index);
  blake2b_update(&c, le, 4);
  blake2b_final(&c, out);
}
EXPORT("row") void row_hash(uint32_t index, uint8_t *out) { gen(index, out); }

static int distinct(const row *a, const row *b) {
  for (int i = 0; i < a->n; i++)
    for (int j = 0; j < b->n; j++)
      if (a->idx[i] == b->idx[j]) return 0;
  return 1;
}
static __attribute__((noinline)) int solve(uint32_t *sol) {
  uint32_t count = 0;
  for (uint32_t i = 0; i < INDICES && count < MAX_ROWS; i++, count++) {
    gen(i, rows[0][count].h);
    rows[0][count].n = 1;
    rows[0][count].idx[0] = i;
  }
  for (int r = 0; r < EH_K; r++) {
    row *in = rows[r & 1], *out = rows[(r + 1) & 1];
    uint32_t next = 0;
    for (uint32_t a = 0; a < count; a++)
      for (uint32_t b = a + 1; b < count && next < MAX_ROWS; b++) {
        if (in[a].h[r] != in[b].h[r] || !distinct(&in[a], &in[b])) continue;
        row *o = &out[next++];
        for (int i = 0; i < HASH_BYTES; i++) o->h[i] = in[a].h[i] ^ in[b].h[i];
        o->n = in[a].n + in[b].n;
        memcpy(o->idx, in[a].idx, in[a].n * 4);
        memcpy(o->idx + in[a].n, in[b].idx, in[b].n * 4);
      }
    count = next;
  }
  row *last = rows[EH_K & 1];
  for (uint32_t a = 0; a < count; a++)
    if (last[a].h[EH_K] == 0 && last[a].n == SOL) { memcpy(sol, last[a].idx, SOL * 4); return 1; }
  return 0;
}

EXPORT("mine") uint32_t mine(uint32_t first, uint32_t tries) {
  uint8_t h1[32], h2[32];
  for (uint32_t nonce = first; nonce != first + tries; nonce++) {
    store32(header + 108, nonce);
    if (!solve((uint32_t *)(header + 144))) continue;
    sha256(header, sizeof header, h1);
    sha256(h1, 32, h2);
    if (load32(h2 + 28) <= load32(target + 28)) return nonce;
  }
  return 0xFFFFFFFFu;
}
