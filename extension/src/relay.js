/*
 * webscan relay (isolated world, every frame, document_start): carries the hook's records from
 * the page world (page.js) to the background, and the background's "stop" back to the hook.
 * It also notes what the frame loads (resource timing) and what failed to load (a miner
 * script blocked by the domain rules), so domain evidence needs no webRequest permission.
 * Records are batched; nothing here waits on the background, so pages never slow down.
 */
(() => {
  "use strict";
  const doc = document;
  const LOAD_TYPES = new Set(["script", "iframe", "frame", "fetch", "xmlhttprequest", "other", "link", "embed", "object"]);
  let ignore = false, items = [], loads = [], timer = 0;
  const seen = new Set();

  function send() {
    timer = 0;
    if (ignore) { items = []; loads = []; return; }
    if (!items.length && !loads.length) return;
    const msg = { type: "records", items, loads };
    items = []; loads = [];
    chrome.runtime.sendMessage(msg).then((r) => { if (r && r.ignore) ignore = true; }, () => {});
  }
  function later() { if (!timer) timer = setTimeout(send, items.length > 200 ? 0 : 150); }

  doc.addEventListener("webscan:record", (e) => {
    if (typeof e.detail === "string" && items.length < 2000) { items.push(e.detail); later(); }
  });
  const tell = (detail) => doc.dispatchEvent(new CustomEvent("webscan:relay", { detail }));
  doc.addEventListener("webscan:main-ready", () => tell("ready"));
  tell("ready");  // whichever of relay and page world starts first, the other hears "ready"

  chrome.runtime.sendMessage({ type: "hello", url: location.href, top: window === window.top }).then((r) => {
    if (r && r.ignore) ignore = true;
    if (r && r.stop) tell("stop");
  }, () => {});
  chrome.runtime.onMessage.addListener((m) => { if (m && m.type === "stop") tell("stop"); });

  function note(url, context) {
    if (!url || seen.has(url) || seen.size >= 500 || !/^(https?|wss?):/i.test(url)) return;
    seen.add(url);
    loads.push({ url, context });
    later();
  }
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (LOAD_TYPES.has(e.initiatorType)) note(e.name, `${e.initiatorType} loaded by ${location.href}`);
      }
    }).observe({ type: "resource", buffered: true });
  } catch (e) { /* no resource timing: sockets, workers and Wasm URLs still come from the hook */ }
  addEventListener("error", (e) => {
    const t = e.target;
    if (t && t !== window && t.tagName && /^(SCRIPT|IFRAME|EMBED|OBJECT|LINK)$/.test(t.tagName)) {
      note(t.src || t.href || t.data, `${t.tagName.toLowerCase()} that failed to load (blocked?) in ${location.href}`);
    }
  }, true);
})();
