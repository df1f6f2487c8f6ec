/*
 * webscan page-world entry (world MAIN, every frame, document_start). The hook below is
 * webscan/browser/hook.js, the crawler's own instrumentation, inserted verbatim by
 * `webscan extension build` (never edit it here). It runs with workers (Blob wrapper, BROWSER.md
 * approach 2), busy time, control and Wasm call counting (the hashing loop) on; records go to
 * relay.js as DOM events carrying JSON strings, the only thing both worlds can read. They wait
 * here until the relay says "ready", which it does once the frame has loaded: no call crosses
 * the worlds during a page load. The hook is lazy: its worker channel and the page's long-task
 * observer start only then too (workers hold their records until the channel answers).
 */
(function () {
  "use strict";
  var hook = /*@webscan-hook@*/;
  var doc = document, CE = CustomEvent, dispatch = EventTarget.prototype.dispatchEvent;
  var listen = EventTarget.prototype.addEventListener, ready = false, queue = [], ctl = null;
  function post(s) {
    if (!ready) { if (queue.length < 2000) queue.push(s); return; }
    dispatch.call(doc, new CE("webscan:record", { detail: s }));
  }
  listen.call(doc, "webscan:relay", function (e) {
    if (e.detail === "ready" && !ready) { ready = true; queue.splice(0).forEach(post); if (ctl) ctl.ready(); }
    else if (e.detail === "stop" && ctl) ctl.stop();
  });
  ctl = hook(post, { frames: true, workers: true, cpu: true, control: true, calls: true, lazy: true });
})();
