/* webscan fixture (synthetic): benign checksum worker. SHA3-256 and BLAKE2b-256 of whole files
 * with two Wasm hashing libraries; one digest per file, no nonce search. Static verdict: clean. */
var libs = Promise.all(["/wasm/sha3lib.wasm", "/wasm/blake2b.wasm"].map(function (u) {
  return fetch(u).then(function (r) { return r.arrayBuffer(); })
    .then(function (b) { return WebAssembly.instantiate(b, {}); })
    .then(function (r) { return r.instance.exports; });
}));
function hex(b) { var s = ""; for (var i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16); return s; }
function digest(lib, fn, data) {
  var mem = lib.memory, need = data.length + 64;
  var base = mem.buffer.byteLength;
  mem.grow(Math.ceil(need / 65536));
  new Uint8Array(mem.buffer, base, data.length).set(data);
  var outPtr = base + data.length;
  if (fn === "blake2b") lib.blake2b(base, data.length, outPtr, 32); else lib.sha3_256(base, data.length, outPtr);
  return hex(new Uint8Array(mem.buffer, outPtr, 32));
}
function sample(size, seed) {
  var d = new Uint8Array(size), x = seed >>> 0 || 1;
  for (var i = 0; i < size; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; d[i] = x & 255; }
  return d;
}
onmessage = function (e) {
  libs.then(function (l) {
    var files = e.data.samples
      ? Array.from({ length: e.data.samples }, function (_, i) { return { name: "sample-" + i + ".bin", data: sample(e.data.size, i + 1) }; })
      : [{ name: e.data.name, data: new Uint8Array(e.data.data) }];
    files.forEach(function (f) {
      postMessage({ name: f.name, sha3: digest(l[0], "sha3", f.data), blake2b: digest(l[1], "blake2b", f.data) });
    });
  });
};
