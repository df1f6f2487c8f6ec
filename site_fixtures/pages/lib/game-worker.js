// webscan fixture worker (benign): the simulation half of a particle game. /wasm/game.wasm
// updates each particle with its own `tick(particle, dt, gx, gy)` call and each agent with a
// `think(...)` call, as engines that drive Wasm per entity do: thousands of calls a second on
// pointers that walk an array and inputs that change every frame. Runs until the page closes.
var ex, base, N = 3000, AGENTS = 400, frame = 0, SIZE = 32, seed = 12345;
function rnd() { seed = (seed * 1103515245 + 12345) >>> 0; return seed; }
WebAssembly.instantiateStreaming(fetch("/wasm/game.wasm"), {}).then(function (r) {
  ex = r.instance.exports;
  base = ex.particles();
  for (var i = 0; i < N; i++) ex.spawn(base + i * SIZE, rnd());
  step();
});
function step() {
  var tick = ex.tick, think = ex.think, spawn = ex.spawn, gx = Math.sin(frame / 30) * 20, gy = 98;
  for (var round = 0; round < 4; round++) {
    for (var i = 0; i < N; i++) {
      if (!tick(base + i * SIZE, 1 / 60, gx, gy)) spawn(base + i * SIZE, rnd());
    }
    for (var a = 0; a < AGENTS; a++) think(Math.random() * 800, Math.random() * 600, 400, 300, frame);
    frame++;
  }
  var f32 = new Float32Array(ex.memory.buffer, base, 64);
  postMessage({ frame: frame, sample: Array.prototype.slice.call(f32, 0, 8) });
  setTimeout(step, 0);
}
