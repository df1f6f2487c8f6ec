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
 *            {workers: true} runs dedicated workers from a Blob of this hook + their script, and
 *            relays their records over a BroadcastChannel (BROWSER.md approach 2: the extension
 *            cannot reach workers any other way; the crawler attaches to them through CDP and
 *            leaves this OFF). {cpu: true} reports thread busy time once a second.
 *            {control: true} keeps the page's workers and sockets so the returned object's
 *            stop() can terminate and close them (and any started later).
 *            {calls: true} counts calls of every Wasm export (and crypto.subtle.digest) and
 *            samples their inputs for a counting nonce (the hashing loop, see below).
 *            {lazy: true}: what the page's load does not need (the worker channel, the page's
 *            long-task observer) waits until the embedder calls ready() on the returned object
 *            (the extension does once the frame has loaded), so it costs the load nothing.
 *            All default to off: the crawler passes {frames: false, calls: true}.
 * Returns    {stop(), ready()} when options.control, else undefined.
 * Records (JSON): {t:"wasm", api, size, k, b64?, url?} | {t:"worker", kind, url, src?}
 *                 | {t:"socket", url} | {t:"frame", url, dir, data} | {t:"cpu", busy, span}
 *                 | {t:"calls", k, fn, rid, calls, span, pairs, nonce}  (k ties calls to a
 *                   module, rid to one realm)
 *                 | {t:"gpu", ev:"adapter", ok} | {t:"gpu", ev:"shader", code}
 *                 | {t:"gpu", ev:"pipeline"} | {t:"gpu", ev:"rate", dispatches, span}  (WebGPU)
 *                 each with `where`, `realm`.
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
  var self_ = webscanHook;  // our own source, to prepend to wrapped workers

  var R = Reflect, OD = Object.defineProperty, GOPD = Object.getOwnPropertyDescriptor;
  var stringify = JSON.stringify, fromCharCode = String.fromCharCode, btoa = G.btoa;
  var Uint8 = Uint8Array, AB = ArrayBuffer, isView = ArrayBuffer.isView;
  var MAX_BYTES = 64 << 20, MAX_RECORDS = 256, MAX_SRC = 2 << 20, MAX_HELD = 128 << 20, held = 0;
  var sent = 0, queue = [], seen = new Set(), blobs = new Map();
  var send = typeof sink === "function" ? sink : null;
  var timeout = G.setTimeout, pending = options.lazy && options.control ? [] : null;
  function later(f) {  // a task from now, or (options.lazy) a task after ready()
    timeout = timeout || G.setTimeout;  // undefined in a worker paused before its script: take it late
    if (pending) pending.push(f); else R.apply(timeout, G, [f, 0]);
  }

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
  function emit(rec, uncounted) {
    try {
      if (!uncounted) {
        if (sent >= MAX_RECORDS) return;
        sent++;
      }
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
  function wrapNew(obj, name, after, make) {  // make(t, args, nt): builds the instance instead
    try {
      var orig = obj && obj[name];
      if (typeof orig !== "function") return;
      var p = new Proxy(orig, {
        construct: function (t, args, nt) {
          var r = make ? make(t, args, nt) : R.construct(t, args, nt);
          try { after(args, r); } catch (e) {}
          return r;
        }
      });
      masks.set(p, orig);
      if (define(obj, name, p) && orig.prototype) define(orig.prototype, "constructor", p);
    } catch (e) {}
  }

  function swap(obj, name, handler) {  // proxy obj[name] where it is defined (own or inherited)
    try {
      var o = obj;
      while (o && !GOPD(o, name)) o = Object.getPrototypeOf(o);
      var orig = o && o[name];
      if (typeof orig !== "function") return;
      var px = new Proxy(orig, handler);
      masks.set(px, orig);
      define(o, name, px);
    } catch (e) {}
  }

  // --- WebAssembly: hand out the module bytes (no crypto.subtle on plain http) -------------
  function bytesOf(src) {
    if (src instanceof AB) return new Uint8(src);
    if (isView(src)) return new Uint8(src.buffer, src.byteOffset, src.byteLength);
    if (typeof SharedArrayBuffer !== "undefined" && src instanceof SharedArrayBuffer) return new Uint8(src);
    return null;
  }
  // What a compile hands out is encoded later (options.lazy: after ready()), from a copy taken
  // now (the page may reuse or transfer its buffer): hashing and base64 cost ~27 ms per MB on
  // the page's thread (a 20 MB game module: 584 ms inside WebAssembly.validate, against 30 ms
  // for the copy), so they run CHUNK bytes per task, each a few tens of milliseconds, and a
  // game's first frames are never held up for long at once. The key is a holder whose `k` is
  // filled in once hashed; call records, which come a second or more later, read it.
  var CHUNK = 3 << 19;  // a multiple of 3: the base64 of the pieces joins into the whole's
  function soon(f) { R.apply(timeout, G, [f, 0]); }
  function wasm(src, api, url) {  // returns the module's key holder {k} (or undefined for a non-buffer)
    var u8 = bytesOf(src);
    if (!u8) return;
    var size = u8.length, copy = size <= MAX_BYTES && held + size <= MAX_HELD ? u8.slice() : null;
    var mod = { k: copy ? "" : size + ":big" }, rec = { t: "wasm", api: api, size: size, k: mod.k };
    if (url) rec.url = String(url);
    if (!copy) { later(function () { emit(rec); }); return mod; }
    held += size;
    var h = 0x811c9dc5, at = 0, parts = [];
    function base64() {
      var end = Math.min(size, at + CHUNK), text = [];
      for (var i = at; i < end; i += 0x8000) text.push(R.apply(fromCharCode, null, copy.subarray(i, Math.min(end, i + 0x8000))));
      btoa = btoa || G.btoa;  // undefined in a worker paused before its script: take it late
      parts.push(R.apply(btoa, G, [text.join("")]));  // and bound: unbound it throws in workers
      at = end;
      if (at < size) return soon(base64);
      held -= size;
      rec.b64 = parts.join("");
      emit(rec);
    }
    later(function hash() {  // FNV-1a: dedupes within this realm; the real fingerprint is Python's
      var x = h, i = at, end = Math.min(size, at + 4 * CHUNK);  // locals: ~10x faster than the closure's
      for (; i < end; i++) { x ^= copy[i]; x = Math.imul(x, 0x01000193); }
      h = x; at = i;
      if (at < size) return soon(hash);
      rec.k = mod.k = size + ":" + (h >>> 0);
      if (seen.has(mod.k)) { held -= size; return; }
      seen.add(mod.k);
      at = 0;
      soon(base64);
    });
    return mod;
  }
  var WA = G.WebAssembly, WModule = WA && WA.Module, WInstance = WA && WA.Instance, WMemory = WA && WA.Memory;
  var modKey = new WeakMap(), instKey = new WeakMap(), instMem = new WeakMap();
  function memoryIn(imports) {  // an imported Memory (Emscripten's env.memory), if any
    try {
      if (!imports || typeof imports !== "object") return null;
      var mods = Object.keys(imports).slice(0, 16);
      for (var i = 0; i < mods.length; i++) {
        var m = imports[mods[i]];
        if (!m || typeof m !== "object") continue;
        if (m instanceof WMemory) return m;
        var names = Object.keys(m).slice(0, 64);
        for (var j = 0; j < names.length; j++) if (m[names[j]] instanceof WMemory) return m[names[j]];
      }
    } catch (e) {}
    return null;
  }
  function link(r, key, imports) {  // tie what a call produced (module, instance) to the module's key
    if (!options.calls || !WA) return;
    var mem = memoryIn(imports);
    if (!key && !mem) return;
    function tie(x) {
      if (x instanceof WModule) { if (key) modKey.set(x, key); }
      else if (x instanceof WInstance) { if (key) instKey.set(x, key); if (mem) instMem.set(x, mem); }
    }
    try {
      if (r instanceof WInstance || r instanceof WModule) { tie(r); return; }
      Promise.resolve(r).then(function (res) {
        if (!res || typeof res !== "object") return;
        tie(res);
        if (res.module) tie(res.module);
        if (res.instance) tie(res.instance);
      }, function () {});
    } catch (e) {}
  }
  function keyOf(src, api) { return (WA && src instanceof WModule) ? modKey.get(src) : wasm(src, api); }
  function streamed(api) {
    return function (args, self, r) {
      link(r, null, args[1]);
      Promise.resolve(args[0]).then(function (resp) {
        return resp.clone().arrayBuffer().then(function (buf) { link(r, wasm(buf, api, resp.url), null); });
      }).catch(function () {});
    };
  }
  if (WA) {
    wrapCall(WA, "compile", function (a, self, r) { link(r, wasm(a[0], "compile"), null); });
    wrapCall(WA, "validate", function (a) { wasm(a[0], "validate"); });
    wrapCall(WA, "instantiate", function (a, self, r) { link(r, keyOf(a[0], "instantiate"), a[1]); });
    wrapCall(WA, "compileStreaming", streamed("compileStreaming"));
    wrapCall(WA, "instantiateStreaming", streamed("instantiateStreaming"));
    wrapNew(WA, "Module", function (a, r) { link(r, wasm(a[0], "Module"), null); });
    if (options.calls) wrapNew(WA, "Instance", function (a, r) { link(r, modKey.get(a[0]), a[1]); });
  }

  // --- The hashing loop, observed (options.calls) ------------------------------------------
  // Every instance's exports are wrapped on the first read of `instance.exports` (the one getter
  // all instantiation paths share). A wrapper counts calls; every SAMPLE calls it looks at the
  // integer arguments and at the first SNAP bytes each points to in the instance's memory, and
  // compares them with the sample before: a proof-of-work search passes the same buffer with
  // only a small field that counted up since (its nonce), or the nonce itself as an argument. A busy export reports {t:"calls"} about once a second,
  // from inside the call (a worker in a tight loop never runs timers); Python judges.
  var SAMPLE = 64, MAX_PERIOD = 4096, SNAP = 128, HOT = SAMPLE * 4, MAX_COUNTERS = 4096, MAX_CALL_RECORDS = 600;
  var perf0 = G.performance, perfNow = perf0 && perf0.now ? function () { return R.apply(perf0.now, perf0, []); } : Date.now;
  var counters = 0, callRecords = 0, wrappedEx = new WeakMap();
  var rid = Math.random().toString(36).slice(2, 10);  // this realm (workers may share a URL)
  function counter(name, inst, data) {
    counters++;
    return { name: name, inst: inst, data: data, mem: null, n: 0, next: SAMPLE, nr: 0, tr: perfNow(),
             pairs: 0, nonce: 0, ph: 0, prev: [null, null], cmp0: false, hit0: false, P: SAMPLE };
  }
  // Between two samples of one phase P calls passed: a nonce advanced by P (one call per
  // nonce), P/2 or P/4 (two or four calls per nonce: SHA-256d as two calls), or a multiple of P
  // (nonces interleaved between threads). P starts at SAMPLE and grows to MAX_PERIOD while an
  // export stays busy without a nonce (a game loop then pays for a sample every 4096 calls).
  function stepOk(d, P) { return d > 0 && d <= P * 64 && (d % P === 0 || d === P / 2 || d === P / 4); }
  function counted(a, b, P) {  // b is a with one field of <= 4 bytes counted up, in a varied buffer
    var n = Math.min(a.length, b.length), lo = -1, hi = -1, i;
    if (n < 32) return false;
    for (i = 0; i < n; i++) if (a[i] !== b[i]) { if (lo < 0) lo = i; hi = i; }
    if (lo < 0 || hi - lo > 3) return false;
    for (var s = Math.max(0, hi - 3); s <= lo && s + 4 <= n; s++) {
      var le = ((b[s] | b[s + 1] << 8 | b[s + 2] << 16 | b[s + 3] << 24) - (a[s] | a[s + 1] << 8 | a[s + 2] << 16 | a[s + 3] << 24)) >>> 0;
      var be = ((b[s] << 24 | b[s + 1] << 16 | b[s + 2] << 8 | b[s + 3]) - (a[s] << 24 | a[s + 1] << 16 | a[s + 2] << 8 | a[s + 3])) >>> 0;
      if (stepOk(le, P) || stepOk(be, P)) {
        var distinct = new Set();  // a header or blob, not a mostly-empty counter struct
        for (i = 0; i < n && distinct.size < 16; i++) distinct.add(b[i]);
        return distinct.size >= 16;
      }
    }
    return false;
  }
  // Two consecutive calls are sampled each time (phases 0 and 1), each compared with its own
  // phase SAMPLE calls earlier: a loop alternating two calls per nonce (hash the header, hash
  // the hash) shows its header in one of the phases.
  function sample(c, args) {
    var ph = c.ph, last = c.prev[ph];
    c.ph = 1 - ph;
    c.next = ph ? c.n - 1 + c.P : c.n + 1;
    var k = Math.min(args.length, 4), vals = [], snaps = [], hit = false, compared = false, i, v;
    if (c.data) {  // crypto.subtle.digest(algorithm, data): the data is the buffer
      var d = bytesOf(args[1]);
      vals.push(0);
      snaps.push(d ? d.slice(0, SNAP) : null);
      k = 0;
      if (last && last.snaps[0] && snaps[0]) { compared = true; hit = counted(last.snaps[0], snaps[0], c.P); }
    }
    var mem = c.mem || (c.mem = instMem.get(c.inst) || null), u8 = null;
    if (k && mem) { try { u8 = new Uint8(mem.buffer); } catch (e) {} }
    for (i = 0; i < k; i++) {
      v = args[i];
      if (typeof v === "bigint") v = Number(v);
      vals.push(v);
      snaps.push(null);
      if (typeof v !== "number" || v % 1 !== 0) continue;
      var p = last ? last.vals[i] : undefined;
      if (typeof p === "number") { compared = true; if (v - p === c.P || v - p === c.P / 2) hit = true; }
      if (u8 && v >= 0 && v + 32 <= u8.length) {
        snaps[i] = u8.slice(v, Math.min(v + SNAP, u8.length));
        if (p === v && last.snaps[i]) { compared = true; if (!hit && counted(last.snaps[i], snaps[i], c.P)) hit = true; }
      }
    }
    c.prev[ph] = { vals: vals, snaps: snaps };
    if (!ph) { c.cmp0 = compared; c.hit0 = hit; return; }
    if (compared || c.cmp0) { c.pairs++; if (hit || c.hit0) c.nonce++; }  // one pair per sample point
    var t = perfNow();
    if (t - c.tr >= 1000) {
      if (c.n - c.nr >= HOT && callRecords < MAX_CALL_RECORDS) {
        callRecords++;
        emit({ t: "calls", k: (c.inst && (instKey.get(c.inst) || {}).k) || "", fn: c.name, rid: rid, calls: c.n - c.nr,
               span: Math.round(t - c.tr), pairs: c.pairs, nonce: c.nonce }, true);
      }
      var P = c.nonce ? SAMPLE : (c.pairs >= 8 ? Math.min(c.P * 4, MAX_PERIOD) : c.P);
      if (P !== c.P) { c.P = P; c.prev = [null, null]; c.next = c.n + P; }
      c.tr = t; c.nr = c.n; c.pairs = 0; c.nonce = 0;
    }
  }
  function take(c, args) { try { sample(c, args); } catch (e) {} }
  // One wrapper per arity: a fixed parameter list calls the export directly (no `arguments`,
  // no Reflect.apply), which keeps the added cost per call to a counter and a compare.
  function wrapExport(f, c) {
    var w;
    switch (f.length) {
      case 0: w = function () { if (++c.n >= c.next) take(c, []); return f(); }; break;
      case 1: w = function (a) { if (++c.n >= c.next) take(c, [a]); return f(a); }; break;
      case 2: w = function (a, b) { if (++c.n >= c.next) take(c, [a, b]); return f(a, b); }; break;
      case 3: w = function (a, b, d) { if (++c.n >= c.next) take(c, [a, b, d]); return f(a, b, d); }; break;
      case 4: w = function (a, b, d, e) { if (++c.n >= c.next) take(c, [a, b, d, e]); return f(a, b, d, e); }; break;
      default: w = function () { if (++c.n >= c.next) take(c, arguments); return R.apply(f, this, arguments); };
    }
    masks.set(w, f);
    try { OD(w, "name", { value: f.name }); OD(w, "length", { value: f.length }); } catch (e) {}
    return w;
  }
  function wrappedExports(inst, ex) {
    var done = wrappedEx.get(inst);
    if (done) return done;
    if (counters >= MAX_COUNTERS || !ex || typeof ex !== "object") return ex;
    var names = Object.keys(ex), out = Object.create(null), i, v;
    for (i = 0; i < names.length; i++) {
      v = ex[names[i]];
      if (v instanceof WMemory && !instMem.has(inst)) instMem.set(inst, v);
    }
    for (i = 0; i < names.length; i++) {
      v = ex[names[i]];
      out[names[i]] = typeof v === "function" ? wrapExport(v, counter(names[i], inst, false)) : v;
    }
    Object.freeze(out);
    wrappedEx.set(inst, out);
    return out;
  }
  if (options.calls && WInstance) {
    try {
      var exd = GOPD(WInstance.prototype, "exports");
      if (exd && exd.get) {
        var exGet = exd.get;
        exd.get = new Proxy(exGet, { apply: function (f, self, args) {
          var ex = R.apply(f, self, args);
          try { return wrappedExports(self, ex); } catch (e) { return ex; }
        } });
        masks.set(exd.get, exGet);
        OD(WInstance.prototype, "exports", exd);
      }
    } catch (e) {}
  }
  if (options.calls && G.SubtleCrypto) {
    var digests = new Map();
    wrapCall(G.SubtleCrypto.prototype, "digest", function (a) {
      var alg = a[0] && typeof a[0] === "object" ? a[0].name : a[0];
      var name = "crypto.subtle.digest:" + String(alg).slice(0, 16), c = digests.get(name);
      if (!c) {
        if (digests.size >= 8) return;
        digests.set(name, c = counter(name, null, true));
      }
      if (++c.n >= c.next) take(c, a);
    });
  }

  // --- Workers: URL, kind and, for Blob URLs, the source text -------------------------------
  if (G.URL) wrapCall(G.URL, "createObjectURL", function (a, self, url) {
    if (typeof Blob !== "undefined" && a[0] instanceof Blob && a[0].size <= MAX_SRC && blobs.size < 512) blobs.set(url, a[0]);
  });
  function worker(kind) {
    return function (args, w) {
      track(w);
      var url = String(args[0]), opts = args[1], k = kind;
      try { url = new URL(url, where()).href; } catch (e) {}
      if (k === "dedicated" && opts && typeof opts === "object" && opts.type === "module") k = "module";
      var blob = blobs.get(url);
      if (!blob) { emit({ t: "worker", kind: k, url: url }); return; }
      blob.text().then(function (src) { emit({ t: "worker", kind: k, url: url, src: src }); },
                       function () { emit({ t: "worker", kind: k, url: url }); });
    };
  }
  // Extension only (options.workers): a worker runs a Blob of this hook + its own script, so
  // its Wasm, sockets and frames are seen too. Blob workers get their captured Blob appended
  // (so revoking the page's URL right away is fine); same-origin script workers get
  // importScripts / import() of the absolute URL, and in there `base` makes relative URLs and
  // `location` behave as under the original URL. Anything else runs untouched.
  // The top realm opens the channel a task after its first worker starts (options.lazy: after
  // ready()), as a channel's first use costs the page milliseconds inside `new Worker()`; until the top realm has answered a
  // worker's HELLO (or announced itself) with READY, the worker holds its records.
  var HELLO = "webscan:hello", READY = "webscan:ready";
  var kids = options.workers ? childOptions() : null;
  function childOptions() {
    var c = options.child || { channel: "webscan-" + Math.random().toString(36).slice(2) + Date.now().toString(36) };
    try {
      if (options.child) {
        var out = new G.BroadcastChannel(c.channel), held = [];
        send = function (s) { if (held.length < 512) held.push(s); };
        out.onmessage = function (ev) {
          if (ev.data !== READY) return;
          out.onmessage = null;
          send = function (s) { out.postMessage(s); };
          held.splice(0).forEach(send);
        };
        out.postMessage(HELLO);
      }
    } catch (e) { return null; }
    return { frames: !!options.frames, workers: true, cpu: !!options.cpu, calls: !!options.calls, child: c };
  }
  var listening = false;
  function listen() {  // the top realm opens the channel after its first worker: no cost before
    if (listening || options.child) return;
    listening = true;
    later(function () {
      try {
        var bc = new G.BroadcastChannel(kids.child.channel);
        bc.onmessage = function (ev) {  // only the top realm listens: no duplicates
          if (ev.data === HELLO) { bc.postMessage(READY); return; }
          if (typeof ev.data !== "string" || ev.data === READY) return;
          var f = takeSink();
          if (!f) { if (queue.length < 64) queue.push(ev.data); return; }
          while (queue.length) f(queue.shift());
          f(ev.data);
        };
        bc.postMessage(READY);
      } catch (e) {}
    });
  }
  // Each Blob and each Blob URL costs the page a synchronous round trip to the browser (about a
  // millisecond each here): one Blob of hook source + script per distinct worker script, its URL
  // reused by every worker running it. (A nested Blob of the hook alone was one more round trip.)
  var hookSrc = null, made = new Map(), madeFromBlob = new WeakMap();
  function makeWorker(t, args, nt) {
    var built = null;
    try {
      var url = new URL(String(args[0]), where()), opts = args[1];
      var module = !!(opts && typeof opts === "object" && opts.type === "module");
      var blob = blobs.get(url.href);
      var same = url.protocol === "blob:" || ((url.protocol === "http:" || url.protocol === "https:")
                                             && url.origin === new URL(where()).origin);
      if (kids && same) {
        listen();
        var key = (module ? "m " : "c ") + url.href, burl = blob ? madeFromBlob.get(blob) : made.get(key);
        if (!burl) {
          var o = JSON.parse(stringify(kids));
          if (!blob) o.base = url.href;
          hookSrc = hookSrc || "(" + R.apply(nativeToString, self_, []) + ")";
          var tail = blob || (module ? "import(" + stringify(url.href) + ");" : "importScripts(" + stringify(url.href) + ");");
          burl = G.URL.createObjectURL(new Blob([hookSrc, "(null, " + stringify(o) + ");\n", tail], { type: "text/javascript" }));
          if (blob) madeFromBlob.set(blob, burl);
          else if (made.size < 64) made.set(key, burl);
        }
        built = R.construct(t, [burl, opts], nt);
      }
    } catch (e) { built = null; }
    return built || R.construct(t, args, nt);
  }
  wrapNew(G, "Worker", worker("dedicated"), kids ? makeWorker : null);
  wrapNew(G, "SharedWorker", worker("shared"));

  // Inside a script worker run from a Blob: relative URLs and `location` as under its own URL.
  var base = options.base;
  if (base && typeof G.WorkerGlobalScope !== "undefined") {
    var resolve = function (u) {
      try { return (typeof u === "string" || u instanceof G.URL) ? new G.URL(String(u), base).href : u; } catch (e) { return u; }
    };
    var loc = new G.URL(base);
    try {
      var ld = GOPD(G.WorkerGlobalScope.prototype, "location");
      if (ld && ld.get) {
        var getter = new Proxy(ld.get, { apply: function () { return loc; } });
        masks.set(getter, ld.get);
        ld.get = getter;
        OD(G.WorkerGlobalScope.prototype, "location", ld);
      }
    } catch (e) {}
    var first = function () {
      return { apply: function (f, self, args) { args = Array.prototype.slice.call(args); if (args.length) args[0] = resolve(args[0]); return R.apply(f, self, args); },
               construct: function (f, args, nt) { args = Array.prototype.slice.call(args); if (args.length) args[0] = resolve(args[0]); return R.construct(f, args, nt); } };
    };
    swap(G, "fetch", first());
    swap(G, "Request", first());
    swap(G, "EventSource", first());
    swap(G, "importScripts", { apply: function (f, self, args) { return R.apply(f, self, Array.prototype.map.call(args, resolve)); } });
    if (G.XMLHttpRequest) swap(G.XMLHttpRequest.prototype, "open", {
      apply: function (f, self, args) { args = Array.prototype.slice.call(args); if (args.length > 1) args[1] = resolve(args[1]); return R.apply(f, self, args); }
    });
  }

  // --- WebSockets: the URL; frames only when asked (see header) -----------------------------
  function text(d) {
    if (typeof d === "string") return d;
    var u8 = bytesOf(d);
    return u8 ? "[binary " + u8.length + " bytes]" : "[" + typeof d + "]";
  }
  wrapNew(G, "WebSocket", function (a, ws) {
    track(ws);
    var url = ws.url || String(a[0]);
    emit({ t: "socket", url: url });
    if (options.frames) {
      ws.addEventListener("message", function (ev) { emit({ t: "frame", url: url, dir: "received", data: text(ev.data) }); });
    }
  });
  if (options.frames && G.WebSocket) wrapCall(G.WebSocket.prototype, "send", function (a, ws) {
    emit({ t: "frame", url: ws.url, dir: "sent", data: text(a[0]) });
  });

  // --- WebGPU compute (GPU miners): adapters asked for (and whether one came), compute
  // pipelines and dispatches counted (a {t:"gpu", ev:"rate"} at most once a second, from inside
  // the calls), and the WGSL of compute shaders kept for static checks (a few, bounded).
  // From the GPU interface, never navigator.gpu: its first read builds the page's WebGPU client
  // (this part of the install took 0.6 ms instead of 0.85, in-page timing, Chromium here). The
  // device and pass are wrapped now too, not on the first requestAdapter (which took it to 0.1
  // ms): a page could take their native methods before asking for an adapter and dispatch unseen.
  var gpuProto = null;
  try { gpuProto = typeof G.GPU === "function" && G.GPU.prototype ? G.GPU.prototype : null; } catch (e) {}
  if (gpuProto) {
    var gpuUse = { pipelines: 0, dispatches: 0, tr: perfNow(), shaders: 0 };
    var gpuRate = function () {
      var t = perfNow();
      if (t - gpuUse.tr < 1000) return;
      emit({ t: "gpu", ev: "rate", dispatches: gpuUse.dispatches, span: Math.round(t - gpuUse.tr) }, true);
      gpuUse.dispatches = 0;
      gpuUse.tr = t;
    };
    wrapCall(gpuProto, "requestAdapter", function (a, self, r) {
      if (r && typeof r.then === "function") {
        r.then(function (adapter) { emit({ t: "gpu", ev: "adapter", ok: !!adapter }); }, function () { emit({ t: "gpu", ev: "adapter", ok: false }); });
      }
    });
    if (G.GPUDevice) {
      wrapCall(G.GPUDevice.prototype, "createShaderModule", function (a) {
        var code = a[0] && a[0].code;
        if (typeof code === "string" && code.indexOf("@compute") >= 0 && gpuUse.shaders < 8) {
          gpuUse.shaders++;
          emit({ t: "gpu", ev: "shader", code: code.slice(0, 1 << 16) });
        }
      });
      ["createComputePipeline", "createComputePipelineAsync"].forEach(function (n) {
        wrapCall(G.GPUDevice.prototype, n, function () { gpuUse.pipelines++; emit({ t: "gpu", ev: "pipeline" }); });
      });
    }
    if (G.GPUComputePassEncoder) ["dispatchWorkgroups", "dispatchWorkgroupsIndirect"].forEach(function (n) {
      wrapCall(G.GPUComputePassEncoder.prototype, n, function () { gpuUse.dispatches++; gpuRate(); });
    });
  }

  // --- control (extension): stop this realm's workers and sockets, and any started later ------
  var stopped = false, live = [];
  function kill(x) {
    try {
      if (typeof x.terminate === "function") x.terminate();  // a worker (its own workers die with it)
      else if (x.port && typeof x.port.close === "function") x.port.close();  // a shared worker
      else if (typeof x.close === "function") x.close(1000, "stopped by the user (webscan)");
    } catch (e) {}
  }
  function track(x) {
    if (!options.control || !x) return;
    if (stopped) { kill(x); return; }
    if (live.length >= 512) live.shift();
    live.push(x);
  }

  // --- busy time (extension): no CPU counters without the debugger, so each worker reports how
  // long its callbacks (timers, message and socket events) ran and how late a 1 s heartbeat
  // fired (a long task delays it); the page reports its long tasks. Idle realms stay silent.
  // A worker that never yields at all cannot report (nor receive jobs).
  if (options.cpu) {
    var perf = G.performance, now = function () { return perf.now(); }, timed = 0, last = now();
    var beat = G.setInterval;  // the original: the heartbeat itself is not timed
    if (typeof G.WorkerGlobalScope !== "undefined") {
      // Workers: time every callback the event loop runs (timers, message and socket events).
      var timedOf = new WeakMap(), origOf = new WeakMap();
      var timedFn = function (cb) {
        if (typeof cb !== "function") return cb;
        var w = timedOf.get(cb);
        if (!w) {
          w = function () {
            var t0 = now();
            try { return R.apply(cb, this, arguments); } finally { timed += now() - t0; }
          };
          timedOf.set(cb, w);
          origOf.set(w, cb);
        }
        return w;
      };
      var argAt = function (i, map) {
        return { apply: function (f, self, args) {
          args = Array.prototype.slice.call(args);
          if (args.length > i) args[i] = map(args[i]);
          return R.apply(f, self, args);
        } };
      };
      swap(G, "setTimeout", argAt(0, timedFn));
      swap(G, "setInterval", argAt(0, timedFn));
      swap(G.EventTarget.prototype, "addEventListener", argAt(1, timedFn));
      swap(G.EventTarget.prototype, "removeEventListener", argAt(1, function (cb) { return timedOf.get(cb) || cb; }));
      try {
        var proto = G;  // [Global] scopes may hold the accessor themselves or inherit it
        while (proto && !GOPD(proto, "onmessage")) proto = Object.getPrototypeOf(proto);
        var od = proto && GOPD(proto, "onmessage");
        if (od && od.get && od.set) {
          var get0 = od.get, set0 = od.set;
          od.get = new Proxy(get0, { apply: function (f, self) { var v = R.apply(f, self, []); return origOf.get(v) || v; } });
          od.set = new Proxy(set0, { apply: function (f, self, args) { return R.apply(f, self, [timedFn(args[0])]); } });
          masks.set(od.get, get0);
          masks.set(od.set, set0);
          OD(proto, "onmessage", od);
        }
      } catch (e) {}
    } else if (typeof G.PerformanceObserver === "function") {
      later(function () {  // observing long tasks has the renderer time every task: not during the load
        try {
          new G.PerformanceObserver(function (list) {
            list.getEntries().forEach(function (e) { timed += e.duration; });
          }).observe({ type: "longtask", buffered: true });
        } catch (e) {}
      });
    }
    R.apply(beat, G, [function () {
      var t = now(), span = t - last, busy = Math.min(span, Math.max(timed, span - 1000));
      last = t;
      timed = 0;
      if (busy >= 50) emit({ t: "cpu", busy: Math.round(busy), span: Math.round(span) }, true);
    }, 1000]);
  }

  if (options.control) return {
    stop: function () { stopped = true; live.splice(0).forEach(kill); },
    ready: function () { if (pending) pending.splice(0).forEach(function (f) { R.apply(timeout, G, [f, 0]); }); pending = null; }
  };
})
