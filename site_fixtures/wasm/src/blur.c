/* A benign image workload: separable Gaussian blur and a 3x3 sharpen on RGBA pixels. */
#include "types.h"
#define MAX_PIXELS (1024 * 1024)
static uint8_t image[MAX_PIXELS * 4], scratch[MAX_PIXELS * 4];
static const int KERNEL[7] = {1, 6, 15, 20, 15, 6, 1};

EXPORT("pixels") uint8_t *pixels(void) { return image; }

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

EXPORT("blur") void blur(int w, int h, int passes) {
  if ((long long)w * h > MAX_PIXELS) return;
  for (int p = 0; p < passes; p++) {
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        for (int c = 0; c < 4; c++) {
          int acc = 0;
          for (int k = -3; k <= 3; k++) acc += KERNEL[k + 3] * image[4 * (y * w + clampi(x + k, 0, w - 1)) + c];
          scratch[4 * (y * w + x) + c] = (uint8_t)(acc >> 6);
        }
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        for (int c = 0; c < 4; c++) {
          int acc = 0;
          for (int k = -3; k <= 3; k++) acc += KERNEL[k + 3] * scratch[4 * (clampi(y + k, 0, h - 1) * w + x) + c];
          image[4 * (y * w + x) + c] = (uint8_t)(acc >> 6);
        }
  }
}
EXPORT("sharpen") void sharpen(int w, int h) {
  if ((long long)w * h > MAX_PIXELS) return;
  for (int y = 1; y < h - 1; y++)
    for (int x = 1; x < w - 1; x++)
      for (int c = 0; c < 3; c++) {
        int i = 4 * (y * w + x) + c;
        int v = 5 * image[i] - image[i - 4] - image[i + 4] - image[i - 4 * w] - image[i + 4 * w];
        scratch[i] = (uint8_t)clampi(v, 0, 255);
      }
  for (int i = 0; i < w * h * 4; i++) if ((i & 3) != 3 && i >= 4 * w && i < 4 * w * (h - 1)) image[i] = scratch[i];
}
EXPORT("grayscale") void grayscale(int w, int h) {
  for (int i = 0; i < w * h; i++) {
    uint8_t *p = image + 4 * i;
    uint8_t g = (uint8_t)((77 * p[0] + 150 * p[1] + 29 * p[2]) >> 8);
    p[0] = p[1] = p[2] = g;
  }
}
