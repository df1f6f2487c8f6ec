/*
 * webscan relay (isolated world, every frame, document_start): carries the hook's records from
 * the page world (page.js) to the background, and the background's "stop" back to the hook.
 * It also notes what the frame loads (resource timing) and what failed to load (a miner
 * script blocked by the domain rules), so domain evidence needs no webRequest permission.
 *
 * Page loads never wait on it. At document_start it only listens: the hook's records wait in
 * page.js, and the loads it notes wait here, until the frame's load event is over (or for at
 * most WAKE_MS). Only then does it touch the extension API, whose first use costs the page a
 * few milliseconds of main thread (a browser trace showed it inside the load before this was
 * deferred), and tell page.js "ready". Nothing waits on the background.
 */
(() => {
  "use strict";
  const WAKE_MS = 1000;
  const doc = document;
  const LOAD_TYPES = new Set(["script", "iframe", "frame", "fetch", "xmlhttprequest", "other", "link", "embed", "object"]);
  let ignore = false, awake = false, items = [], loads = [], timer = 0;
  const seen = new Set();
  // Which page a message belongs to: the background starts a tab's state afresh when the top
  // frame reports a new document, and replays what subframes of that document sent before it.
  const at = performance.timeOrigin;

  function send() {
    clearTimeout(timer);  // wake() sends at once: a batch timer may be pending
    timer = 0;
    if (!awake) return;
    if (ignore) { items = []; loads = []; return; }
    if (!items.length && !loads.length) return;
    const msg = { type: "records", at, items, loads };
    items = []; loads = [];
    chrome.runtime.sendMessage(msg).then((r) => { if (r && r.ignore) ignore = true; }, () => {});
  }
  function later() { if (awake && !timer) timer = setTimeout(send, items.length > 200 ? 0 : 150); }

  doc.addEventListener("webscan:record", (e) => {
    if (typeof e.detail === "string" && items.length < 2000) { items.push(e.detail); later(); }
  });
  const tell = (detail) => doc.dispatchEvent(new CustomEvent("webscan:relay", { detail }));

  function wake() {
    if (awake) return;
    awake = true;
    chrome.runtime.sendMessage({ type: "hello", at, url: location.href, top: window === window.top }).then((r) => {
      if (r && r.ignore) ignore = true;
      if (r && r.stop) tell("stop");
    }, () => {});
    chrome.runtime.onMessage.addListener((m) => { if (m && m.type === "stop") tell("stop"); });
    tell("ready");  // the page world (installed at document_start, before us) hands over its records
    resources();
    send();
  }
  setTimeout(wake, WAKE_MS);  // a frame that never finishes loading still reports

  function note(url, context) {
    if (!url || seen.has(url) || seen.size >= 500 || !/^(https?|wss?):/i.test(url)) return;
    seen.add(url);
    loads.push({ url, context });
    later();
  }
  // The navigation entry is queued once the load event is over: waking on it, rather than in a
  // load listener, keeps even our listener out of the page's load time. What the frame loaded
  // is read then too, from the resource timing buffer (a browser keeps 250 entries unless the
  // page asks for more; later loads arrive live): no observer callback runs during the load.
  function resources() {
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          if (LOAD_TYPES.has(e.initiatorType)) note(e.name, `${e.initiatorType} loaded by ${location.href}`);
        }
      }).observe({ type: "resource", buffered: true });
    } catch (e) { /* no resource timing: sockets, workers and Wasm URLs still come from the hook */ }
  }
  try {
    new PerformanceObserver(() => setTimeout(wake, 0)).observe({ type: "navigation" });
  } catch (e) { /* the WAKE_MS timer wakes us */ }
  addEventListener("error", (e) => {
    const t = e.target;
    if (t && t !== window && t.tagName && /^(SCRIPT|IFRAME|EMBED|OBJECT|LINK)$/.test(t.tagName)) {
      note(t.src || t.href || t.data, `${t.tagName.toLowerCase()} that failed to load (blocked?) in ${location.href}`);
    }
  }, true);
})();
