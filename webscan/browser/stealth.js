/* webscan crawler: a realistic browser profile, and a note of the page's long timers.
 *
 * Miners refuse to start under automation: they test navigator.webdriver, the WebGL renderer
 * (headless Chromium draws with SwiftShader, a software renderer no user has), and look for
 * patched functions through Function.prototype.toString. Chromium already runs with
 * --disable-blink-features=AutomationControlled, a real user agent and plugins; this script
 * covers what a switch cannot, and every function it installs answers toString as the native
 * one it replaces. It runs before the page (and before hook.js) in every page and frame.
 *
 * Long one-shot timers: a miner that starts 20-30 s after load shows nothing before. The
 * crawler reads the timers still pending at the end of its window (through `KEY`, a random
 * name per crawl: `window[KEY]()` lists the milliseconds each has left) and extends the window
 * up to its cap when one is due before it. A timer set from a long timer's callback is a chain
 * (a carousel, a poll), not a late start, and is not listed. Called as (KEY, LONG_MS).
 */
(function (KEY, LONG_MS) {
  "use strict";
  var G = window, OD = Object.defineProperty, GOPD = Object.getOwnPropertyDescriptor;
  var R = Reflect, masks = new WeakMap(), nativeToString = Function.prototype.toString;
  var toStringProxy = new Proxy(nativeToString, {
    apply: function (t, self, args) { return R.apply(t, masks.has(self) ? masks.get(self) : self, args); }
  });
  masks.set(toStringProxy, nativeToString);
  function replace(obj, name, make) {
    var d = obj && GOPD(obj, name);
    if (!d) return;
    var key = "value" in d ? "value" : "get";
    var orig = d[key];
    if (typeof orig !== "function") return;
    var fn = make(orig);
    masks.set(fn, orig);
    d[key] = fn;
    try { OD(obj, name, d); } catch (e) {}
  }
  try { OD(Function.prototype, "toString", { value: toStringProxy, writable: true, configurable: true }); } catch (e) {}

  // navigator.webdriver: false from the switch; only a browser started without it needs this.
  if (navigator.webdriver) {
    replace(Navigator.prototype, "webdriver", function () { return function () { return false; }; });
  }

  // WebGL: a hardware renderer's strings instead of SwiftShader's.
  var VENDOR = 0x9245, RENDERER = 0x9246;  // WEBGL_debug_renderer_info
  [G.WebGLRenderingContext, G.WebGL2RenderingContext].forEach(function (C) {
    if (!C) return;
    replace(C.prototype, "getParameter", function (orig) {
      return function getParameter(p) {
        if (p === VENDOR) return "Google Inc. (Intel)";
        if (p === RENDERER) return "ANGLE (Intel, Mesa Intel(R) UHD Graphics 620 (KBL GT2), OpenGL 4.6)";
        return R.apply(orig, this, arguments);
      };
    });
  });

  // Long one-shot timers of the page, for the crawler's adaptive window.
  var pending = new Map(), MAX = 64, now = performance.now.bind(performance);
  replace(G, "setTimeout", function (orig) {
    return function setTimeout(fn, ms) {
      var id = R.apply(orig, this, arguments), delay = Number(ms) || 0, t = now(), chained = false;
      // set from a long timer's own callback (a carousel, a poll): a chain, not a start
      pending.forEach(function (due) { if (due <= t + 2) chained = true; });
      if (delay >= LONG_MS && !chained && pending.size < MAX) {
        pending.set(id, t + delay);
        R.apply(orig, G, [function () { pending.delete(id); }, delay + 1]);
      }
      return id;
    };
  });
  replace(G, "clearTimeout", function (orig) {
    return function clearTimeout(id) { pending.delete(id); return R.apply(orig, this, arguments); };
  });
  try {
    OD(G, KEY, { value: function () {
      var t = now(), left = [];
      pending.forEach(function (due) { if (due > t) left.push(Math.round(due - t)); });
      return { left: left, state: document.readyState, visible: document.visibilityState,
               focused: document.hasFocus() };
    }, enumerable: false, configurable: false, writable: false });
  } catch (e) {}
})
