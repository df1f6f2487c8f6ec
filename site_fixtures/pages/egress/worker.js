// webscan fixture: the dedicated worker of /egress/every-route.html. From inside the worker it
// tries origin P ({{ORIGIN_P}}) by importScripts, fetch and a WebSocket, and posts what happened.
var P = "{{ORIGIN_P}}", done = {}, left = 2;
function finish(route, outcome) {
  done[route] = outcome;
  if (--left === 0) { postMessage(done); }
}
try { importScripts(P + "/egress/leak.js?route=worker-import"); done["worker-import"] = "loaded"; }
catch (e) { done["worker-import"] = "failed"; }
fetch(P + "/egress/leak.js?route=worker-fetch", { mode: "no-cors" }).then(
  function () { finish("worker-fetch", "answered"); },
  function () { finish("worker-fetch", "failed"); });
try {
  var s = new WebSocket(P.replace(/^http:/, "ws:") + "/chat?route=worker-socket");
  s.onopen = function () { s.close(); finish("worker-socket", "open"); };
  s.onerror = function () { finish("worker-socket", "failed"); };
} catch (e) { finish("worker-socket", "threw"); }
