// webscan fixture worker (a miner): SHA-256d header search with /wasm/hdr.wasm. The module only
// hashes one 80-byte header (`h(header, out)`); the nonce loop is here, one export call per
// nonce, the nonce written little-endian at byte 76, interleaved between workers (`stride`).
// Posts {id, nonce, hash} when the hash's last 4 bytes (LE) are at most the job's target.
var ex = null, job = null, nonce = 0, stride = 1, hdr = 0, out = 0, timer = 0;
var ready = WebAssembly.instantiateStreaming(fetch("/wasm/hdr.wasm"), {}).then(function (r) {
  ex = r.instance.exports;
  hdr = ex.buf();
  out = hdr + 128;
});
onmessage = function (e) {
  ready.then(function () {
    job = e.data;
    stride = job.stride;
    nonce = job.first;
    new Uint8Array(ex.memory.buffer).set(job.header, hdr);
    if (!timer) timer = setTimeout(run, 0);
  });
};
function run() {
  timer = 0;
  var dv = new DataView(ex.memory.buffer), h = ex.h, t = job.target, id = job.id;
  for (var i = 0; i < 4096; i++) {
    dv.setUint32(hdr + 76, nonce, true);
    h(hdr, out);
    if (dv.getUint32(out + 28, true) <= t) {
      postMessage({ id: id, nonce: nonce, hash: new Uint8Array(ex.memory.buffer.slice(out, out + 32)) });
    }
    nonce = (nonce + stride) >>> 0;
  }
  timer = setTimeout(run, 0);  // yield, so a new job can arrive
}
