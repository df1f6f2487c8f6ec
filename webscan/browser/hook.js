/*
 * webscan runtime hook: the ONE instrumentation source for the crawler and the extension.
 *
 * This file is a single function expression. The embedder calls it before page (or worker)
 * code runs:  (<this file>)(sink, options)
 *   sink     a function taking one JSON string, or the NAME of a global function that does
 *            (the crawler's CDP/Playwright binding); a named global is taken and deleted so
 *            page code cannot see it. Until the sink exists, records wait in a small queue.
 *   options  {frames: true} also reports WebSocket sends/receives (the extension needs this;
 *            the crawler reads frames from the DevTools protocol instead).
 * Records (JSON): {t:"wasm", api, size, b64?, url?} | {t:"worker", kind, url, src?}
 *                 | {t:"socket", url} | {t:"frame", url, dir, data}; each with `where`, `realm`.
 * Rules: no embedder-specific code; never throw into the page; never read `location` at
 * install time (a paused worker crashes if its location is read before its script loads).
 */
(function webscanHook(sink, options) {
  "use strict";
  var G = typeof globalThis !== "undefined" ? globalThis : self;
  var KEY = Symbol.for("webscan.hook");
  try {
    if (G[KEY]) return;
    Object.defineProperty(G, KEY, { value: true });
  } catch (e) { return; }
  options = options || {};

  var R = Reflect, OD = Object.defineProperty, GOPD = Object.getOwnPropertyDescriptor;
  var stringify = JSON.stringify, fromCharCode = String.fromCharCode, btoa = G.btoa;
  var Uint8 = Uint8Array, AB = ArrayBuffer, isView = ArrayBuffer.isView;
  var MAX_BYTES = 64 << 20, MAX_RECORDS = 256, MAX_SRC = 2 << 20;
  var sent = 0, queue = [], seen = new Set(), blobs = new Map();
  var send = typeof sink === "function" ? sink : null;

  function takeSink() {
    if (!send && typeof sink === "string" && typeof G[sink] === "function") {
      send = G[sink];
      try { delete G[sink]; } catch (e) {}
    }
    return send;
  }
  function where() {
    try { return String(G.location && G.location.href); } catch (e) { return ""; }
  }
  function realm() {
    try {
      if (typeof G.WorkerGlobalScope !== "undefined") {
        if (typeof G.SharedWorkerGlobalScope !== "undefined" && G instanceof G.SharedWorkerGlobalScope) return "shared-worker";
        if (typeof G.ServiceWorkerGlobalScope !== "undefined" && G instanceof G.ServiceWorkerGlobalScope) return "service-worker";
        return "worker";
      }
      return G.top === G ? "page" : "frame";
    } catch (e) { return "frame"; }  // a cross-origin top throws: we are in a frame
  }
  function emit(rec) {
    try {
      if (sent >= MAX_RECORDS) return;
      sent++;
      rec.where = where();
      rec.realm = realm();
      var s = stringify(rec), f = takeSink();
      if (!f) { if (queue.length < 64) queue.push(s); return; }
      while (queue.length) f(queue.shift());
      f(s);
    } catch (e) {}
  }

  // Wrapped functions keep looking native: toString answers for the original.
  var nativeToString = Function.prototype.toString, masks = new WeakMap();
  function define(obj, name, value) {
    var d = GOPD(obj, name);
    if (!d || !("value" in d)) return false;
    d.value = value;
    OD(obj, name, d);
    return true;
  }
  var toStringProxy = new Proxy(nativeToString, {
    apply: function (t, self, args) { return R.apply(t, masks.has(self) ? masks.get(self) : self, args); }
  });
  masks.set(toStringProxy, nativeToString);
  try { define(Function.prototype, "toString", toStringProxy); } catch (e) {}

  function wrapCall(obj, name, after) {  // after(args, self, result): runs once the call returned
    try {
      var orig = obj && obj[name];
      if (typeof orig !== "function") return;
      var p = new Proxy(orig, {
        apply: function (t, self, args) {
          var r = R.apply(t, self, args);
          try { after(args, self, r); } catch (e) {}
          return r;
        }
      });
      masks.set(p, orig);
      define(obj, name, p);
    } catch (e) {}
  }
  function wrapNew(obj, name, after) {
    try {
      var orig = obj && obj[name];
      if (typeof orig !== "function") return;
      var p = new Proxy(orig, {
        construct: function (t, args, nt) {
          var r = R.construct(t, args, nt);
          try { after(args, r); } catch (e) {}
          return r;
        }
      });
      masks.set(p, orig);
      if (define(obj, name, p) && orig.prototype) define(orig.prototype, "constructor", p);
    } catch (e) {}
  }

  // --- WebAssembly: hand out the module bytes (no crypto.subtle on plain http) -------------
  function bytesOf(src) {
    if (src instanceof AB) return new Uint8(src);
    if (isView(src)) return new Uint8(src.buffer, src.byteOffset, src.byteLength);
    if (typeof SharedArrayBuffer !== "undefined" && src instanceof SharedArrayBuffer) return new Uint8(src);
    return null;
  }
  function fnv(u8) {  // dedupe within this realm; the real fingerprint is taken in Python
    var h = 0x811c9dc5;
    for (var i = 0; i < u8.length; i++) { h ^= u8[i]; h = Math.imul(h, 0x01000193); }
    return u8.length + ":" + (h >>> 0);
  }
  function wasm(src, api, url) {
    var u8 = bytesOf(src);
    if (!u8) return;
    var rec = { t: "wasm", api: api, size: u8.length };
    if (url) rec.url = String(url);
    if (u8.length <= MAX_BYTES) {
      var key = fnv(u8);
      if (seen.has(key)) return;
      seen.add(key);
      var parts = [];
      for (var i = 0; i < u8.length; i += 0x8000) parts.push(R.apply(fromCharCode, null, u8.subarray(i, i + 0x8000)));
      btoa = btoa || G.btoa;  // undefined in a worker paused before its script: take it late
      rec.b64 = R.apply(btoa, G, [parts.join("")]);  // and bound: unbound it throws in workers
    }
    emit(rec);
  }
  function streamed(api) {
    return function (args) {
      Promise.resolve(args[0]).then(function (resp) {
        return resp.clone().arrayBuffer().then(function (buf) { wasm(buf, api, resp.url); });
      }).catch(function () {});
    };
  }
  var WA = G.WebAssembly;
  if (WA) {
    wrapCall(WA, "compile", function (a) { wasm(a[0], "compile"); });
    wrapCall(WA, "validate", function (a) { wasm(a[0], "validate"); });
    wrapCall(WA, "instantiate", function (a) { wasm(a[0], "instantiate"); });
    wrapCall(WA, "compileStreaming", streamed("compileStreaming"));
    wrapCall(WA, "instantiateStreaming", streamed("instantiateStreaming"));
    wrapNew(WA, "Module", function (a) { wasm(a[0], "Module"); });
  }

  // --- Workers: URL, kind and, for Blob URLs, the source text -------------------------------
  if (G.URL) wrapCall(G.URL, "createObjectURL", function (a, self, url) {
    if (typeof Blob !== "undefined" && a[0] instanceof Blob && a[0].size <= MAX_SRC && blobs.size < 512) blobs.set(url, a[0]);
  });
  function worker(kind) {
    return function (args) {
      var url = String(args[0]), opts = args[1], k = kind;
      try { url = new URL(url, where()).href; } catch (e) {}
      if (k === "dedicated" && opts && typeof opts === "object" && opts.type === "module") k = "module";
      var blob = blobs.get(url);
      if (!blob) { emit({ t: "worker", kind: k, url: url }); return; }
      blob.text().then(function (src) { emit({ t: "worker", kind: k, url: url, src: src }); },
                       function () { emit({ t: "worker", kind: k, url: url }); });
    };
  }
  wrapNew(G, "Worker", worker("dedicated"));
  wrapNew(G, "SharedWorker", worker("shared"));

  // --- WebSockets: the URL; frames only when asked (see header) -----------------------------
  function text(d) {
    if (typeof d === "string") return d;
    var u8 = bytesOf(d);
    return u8 ? "[binary " + u8.length + " bytes]" : "[" + typeof d + "]";
  }
  wrapNew(G, "WebSocket", function (a, ws) {
    var url = ws.url || String(a[0]);
    emit({ t: "socket", url: url });
    if (options.frames) {
      ws.addEventListener("message", function (ev) { emit({ t: "frame", url: url, dir: "received", data: text(ev.data) }); });
    }
  });
  if (options.frames && G.WebSocket) wrapCall(G.WebSocket.prototype, "send", function (a, ws) {
    emit({ t: "frame", url: ws.url, dir: "sent", data: text(a[0]) });
  });
})
