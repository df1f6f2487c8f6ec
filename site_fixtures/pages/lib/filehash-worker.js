// webscan fixture worker (benign): hash-wasm-style streaming SHA-256 of files with
// /wasm/filehash.wasm: init, then update(buffer, length) per 1 KiB chunk (a stream reader's
// small chunks), then final. Thousands of update calls a second, each on new file data.
var ready = WebAssembly.instantiateStreaming(fetch("/wasm/filehash.wasm"), {}).then(function (r) { return r.instance.exports; });
var CHUNK = 1024;
function hashBytes(ex, bytes) {
  var buf = ex.buf(), mem = new Uint8Array(ex.memory.buffer);
  ex.init();
  for (var off = 0; off < bytes.length; off += CHUNK) {
    var part = bytes.subarray(off, Math.min(off + CHUNK, bytes.length));
    mem.set(part, buf);
    ex.update(buf, part.length);
  }
  ex.final(buf);
  return Array.prototype.map.call(mem.subarray(buf, buf + 32), function (x) { return (x < 16 ? "0" : "") + x.toString(16); }).join("");
}
function sample(i, size) {  // a "file": text lines, a zeroed region and pseudo-random bytes
  var b = new Uint8Array(size), s = 7 + i, line = new TextEncoder().encode("row " + i + ", value ");
  for (var o = 0; o < size / 4; o++) b[o] = line[o % line.length];
  for (o = size / 2; o < size; o++) { s = (s * 1103515245 + 12345) >>> 0; b[o] = s >>> 24; }
  return b;
}
onmessage = function (e) {
  ready.then(function (ex) {
    if (e.data.data) { postMessage({ name: e.data.name, sha256: hashBytes(ex, new Uint8Array(e.data.data)) }); return; }
    for (var i = 0; i < e.data.samples; i++) {
      postMessage({ name: "sample-" + i + ".bin", sha256: hashBytes(ex, sample(i, e.data.size)) });
    }
  });
};
