/* A benign physics workload: n-body gravity with velocity Verlet integration. */
#include "types.h"
#define MAX_BODIES 1024
static float px[MAX_BODIES], py[MAX_BODIES], pz[MAX_BODIES];
static float vx[MAX_BODIES], vy[MAX_BODIES], vz[MAX_BODIES];
static float ax[MAX_BODIES], ay[MAX_BODIES], az[MAX_BODIES], mass[MAX_BODIES];
static int count;

static float inv_sqrt(float x) {
  float y = x;
  for (int i = 0; i < 4; i++) y = y * (1.5f - 0.5f * x * y * y) + (y == 0) * 1.0f;
  return y;
}
static float fsqrt(float x) { return __builtin_sqrtf(x); }

EXPORT("init") void init(int n, uint32_t seed) {
  count = n > MAX_BODIES ? MAX_BODIES : n;
  for (int i = 0; i < count; i++) {
    seed = seed * 1103515245u + 12345u;
    float r = 1.0f + (seed >> 16) % 1000 / 100.0f;
    float t = (seed & 0xffff) / 65536.0f * 6.2831853f;
    px[i] = r * (1 - t * t / 2); py[i] = r * t; pz[i] = 0.01f * (i % 7);
    vx[i] = -py[i] * 0.1f; vy[i] = px[i] * 0.1f; vz[i] = 0;
    mass[i] = 1.0f / count;
  }
}
static void accelerations(void) {
  for (int i = 0; i < count; i++) { ax[i] = ay[i] = az[i] = 0; }
  for (int i = 0; i < count; i++)
    for (int j = i + 1; j < count; j++) {
      float dx = px[j] - px[i], dy = py[j] - py[i], dz = pz[j] - pz[i];
      float d2 = dx * dx + dy * dy + dz * dz + 1e-3f;
      float inv = 1.0f / (d2 * fsqrt(d2));
      ax[i] += dx * inv * mass[j]; ay[i] += dy * inv * mass[j]; az[i] += dz * inv * mass[j];
      ax[j] -= dx * inv * mass[i]; ay[j] -= dy * inv * mass[i]; az[j] -= dz * inv * mass[i];
    }
}
EXPORT("step") void step(float dt, int steps) {
  for (int s = 0; s < steps; s++) {
    accelerations();
    for (int i = 0; i < count; i++) {
      vx[i] += 0.5f * dt * ax[i]; vy[i] += 0.5f * dt * ay[i]; vz[i] += 0.5f * dt * az[i];
      px[i] += dt * vx[i]; py[i] += dt * vy[i]; pz[i] += dt * vz[i];
    }
    accelerations();
    for (int i = 0; i < count; i++) {
      vx[i] += 0.5f * dt * ax[i]; vy[i] += 0.5f * dt * ay[i]; vz[i] += 0.5f * dt * az[i];
    }
  }
}
EXPORT("energy") double energy(void) {
  double e = 0;
  for (int i = 0; i < count; i++) {
    e += 0.5 * mass[i] * (vx[i] * vx[i] + vy[i] * vy[i] + vz[i] * vz[i]);
    for (int j = i + 1; j < count; j++) {
      float dx = px[j] - px[i], dy = py[j] - py[i], dz = pz[j] - pz[i];
      e -= mass[i] * mass[j] * inv_sqrt(dx * dx + dy * dy + dz * dz + 1e-3f);
    }
  }
  return e;
}
EXPORT("positions") float *positions(void) { return px; }
