/* Synthetic CoinHive-style miner kit for webscan's tests. It behaves like the public kits
 * described in FIELD.md (namespace, Anonymous constructor, Blob worker per core, pool socket
 * speaking the CoinHive-style protocol) but hashes nothing: the worker body is a stub. */
(function (window) {
  "use strict";
  var CoinHive = window.CoinHive || {};
  CoinHive.CONFIG = {
    LIB_URL: "https://static.example-cdn.test/lib/",
    ASMJS_NAME: "worker-asmjs.min.js",
    REQUIRES_AUTH: false,
    WEBSOCKET_SHARDS: [["wss://pool-proxy.example.test/proxy0", "wss://pool-proxy.example.test/proxy1"]]
  };
  CoinHive.IF_EXCLUSIVE_TAB = "ifExclusiveTab";
  CoinHive.FORCE_EXCLUSIVE_TAB = "forceExclusiveTab";
  CoinHive.FORCE_MULTI_TAB = "forceMultiTab";

  function workerMain() {
    self.onmessage = function (e) {
      var job = e.data;
      // a real kit would run the hash here (Wasm or asm.js)
      self.postMessage({ job_id: job.job_id, nonce: "00000000", result: "" });
    };
  }
  var WORKER_SOURCE = "(" + workerMain.toString() + ")()";

  var Miner = function (siteKey, params) {
    params = params || {};
    this._siteKey = siteKey;
    this._throttle = Math.max(0, Math.min(0.99, params.throttle || 0));
    this._autoThreads = !!params.autoThreads;
    this._threads = [];
    this._hashes = 0;
    this._targetNumThreads = params.threads || navigator.hardwareConcurrency || 4;
    this._socket = null;
  };
  Miner.prototype.start = function (mode) {
    var shards = CoinHive.CONFIG.WEBSOCKET_SHARDS;
    var url = shards[0][Math.random() * shards[0].length | 0];
    var self = this;
    this._socket = new WebSocket(url);
    this._socket.onopen = function () {
      self._send("auth", { site_key: self._siteKey, type: "anonymous", user: null, goal: 0 });
    };
    this._socket.onmessage = function (ev) {
      var msg = JSON.parse(ev.data);
      if (msg.type === "job") self._setJob(msg.params);
      else if (msg.type === "hash_accepted") self._hashes = msg.params.hashes;
      else if (msg.type === "authed") self._token = msg.params.token;
    };
    var blobUrl = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
    for (var i = 0; i < this._targetNumThreads; i++) {
      var w = new Worker(blobUrl);
      w.onmessage = function (e) { self._submit(e.data); };
      this._threads.push(w);
    }
  };
  Miner.prototype._setJob = function (job) {
    for (var i = 0; i < this._threads.length; i++) this._threads[i].postMessage(job);
  };
  Miner.prototype._submit = function (r) {
    this._socket.send(JSON.stringify({ type: "submit", params: { job_id: r.job_id, nonce: r.nonce, result: r.result } }));
  };
  Miner.prototype._send = function (type, params) {
    this._socket.send(JSON.stringify({ type: type, params: params }));
  };
  Miner.prototype.setThrottle = function (t) { this._throttle = t; };
  Miner.prototype.getThrottle = function () { return this._throttle; };
  Miner.prototype.setNumThreads = function (n) { this._targetNumThreads = n; };
  Miner.prototype.getNumThreads = function () { return this._targetNumThreads; };
  Miner.prototype.getHashesPerSecond = function () { return 0; };
  Miner.prototype.getTotalHashes = function () { return this._hashes; };
  Miner.prototype.getAcceptedHashes = function () { return this._hashes; };
  Miner.prototype.didOptOut = function () { return false; };

  CoinHive.Anonymous = function (siteKey, params) { Miner.call(this, siteKey, params); };
  CoinHive.Anonymous.prototype = Miner.prototype;
  window.CoinHive = CoinHive;
})(window);
