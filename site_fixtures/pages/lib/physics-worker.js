/* webscan fixture (synthetic): benign n-body integrator worker around /wasm/nbody.wasm.
 * Static verdict: clean. */
onmessage = function (e) {
  var n = e.data.bodies;
  WebAssembly.instantiateStreaming(fetch("/wasm/nbody.wasm"), {}).then(function (r) {
    var ex = r.instance.exports;
    ex.init(n, e.data.seed);
    function tick() {
      ex.step(0.001, 4);
      var ptr = ex.positions(), xs = new Float32Array(ex.memory.buffer, ptr, n);
      var pos = new Float32Array(2 * n);
      // x of each body against the next body's x: a cheap 2D view that needs only the x array
      for (var i = 0; i < n; i++) { pos[2 * i] = xs[i]; pos[2 * i + 1] = xs[(i + 1) % n]; }
      postMessage({ pos: pos, energy: ex.energy() });
      setTimeout(tick, 0);
    }
    tick();
  });
};
