/* webscan fixture (synthetic): webminerpool-style hashing worker; compiles the real light Wasm
 * miner and loops over nonces. Static verdict on its own: clean (a Wasm loader without a socket);
 * crawled as part of miner/webminerpool.html: miner (the captured Wasm is a miner). */
var inst = null, job = null, nonce = 0, throttle = 0, running = false;
function hex(b) { var s = ""; for (var i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16); return s; }
function bytes(h) { var o = new Uint8Array(h.length / 2); for (var i = 0; i < o.length; i++) o[i] = parseInt(h.substr(2 * i, 2), 16); return o; }
function loop() {
  if (!inst || !job) { running = false; return; }
  running = true;
  var t0 = performance.now(), ex = inst.exports;
  var n = ex.a(nonce, 1) >>> 0, h = new Uint8Array(ex.memory.buffer, ex.d(), 32);
  var t = bytes(job.target), hv = 0, tv = 0;
  for (var i = 3; i >= 0; i--) { hv = hv * 256 + h[28 + i]; tv = tv * 256 + t[i]; }
  postMessage("hash");
  if (hv < tv) postMessage({ job_id: job.job_id, nonce: hex([n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24]), result: hex(h) });
  nonce = (nonce + 1) >>> 0;
  var spent = performance.now() - t0;
  setTimeout(loop, throttle > 0 ? spent * throttle / (1 - throttle) : 0);
}
function load() { new Uint8Array(inst.exports.memory.buffer, inst.exports.c(), 76).set(bytes(job.blob)); }
onmessage = function (e) {
  var d = e.data;
  if (d.wasm) {
    fetch(d.wasm).then(function (r) { return r.arrayBuffer(); })
      .then(function (b) { return WebAssembly.compile(b); })
      .then(function (m) { inst = new WebAssembly.Instance(m, {}); if (job) { load(); if (!running) loop(); } });
  } else if (d.job) {
    job = d.job; nonce = d.start; throttle = d.throttle || 0;
    if (inst) { load(); if (!running) loop(); }
  }
};
