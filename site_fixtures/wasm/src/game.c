/* A benign game loop: particles bounce in a box, each updated by its own export call, and an
 * AI "think" call per agent per frame with the frame's inputs. Thousands of calls a second on
 * pointers that walk an array and on state that changes everywhere: busy, but no nonce. */
#include "types.h"
#define MAX_P 4096
typedef struct { float x, y, vx, vy, r, hue, life, spin; } particle_t;
static particle_t parts[MAX_P];
EXPORT("particles") particle_t *particles(void) { return parts; }
EXPORT("spawn") void spawn(particle_t *p, uint32_t seed) {
  seed = seed * 1103515245u + 12345u; p->x = (seed >> 8) % 800;
  seed = seed * 1103515245u + 12345u; p->y = (seed >> 8) % 600;
  seed = seed * 1103515245u + 12345u; p->vx = (float)((int)((seed >> 8) % 200) - 100);
  seed = seed * 1103515245u + 12345u; p->vy = (float)((int)((seed >> 8) % 200) - 100);
  p->r = 2 + (seed % 5); p->hue = (seed >> 3) % 360; p->life = 5 + (seed % 7); p->spin = 0;
}
EXPORT("tick") int tick(particle_t *p, float dt, float gx, float gy) {
  p->vx += gx * dt; p->vy += gy * dt;
  p->x += p->vx * dt; p->y += p->vy * dt;
  if (p->x < 0 || p->x > 800) { p->vx = -p->vx * 0.9f; p->x = p->x < 0 ? 0 : 800; }
  if (p->y < 0 || p->y > 600) { p->vy = -p->vy * 0.9f; p->y = p->y < 0 ? 0 : 600; }
  p->spin += dt * p->vx * 0.01f; p->hue += dt * 30; if (p->hue > 360) p->hue -= 360;
  p->life -= dt;
  return p->life > 0;
}
EXPORT("think") float think(float ax, float ay, float tx, float ty, int frame) {
  float dx = tx - ax, dy = ty - ay, best = dx * dx + dy * dy;
  for (int i = 0; i < 24; i++) {
    float cx = ax + (i % 5 - 2) * 3.0f + (frame % 7), cy = ay + (i / 5 - 2) * 3.0f;
    float d = (tx - cx) * (tx - cx) + (ty - cy) * (ty - cy);
    if (d < best) best = d;
  }
  return best;
}
