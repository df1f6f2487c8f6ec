/* webscan fixtureceiveStack.push(obj);
    if (obj.identifie job = null, totalhashes = 0, throttleMiner = 0;
var sendStack = [], receiveStack = [], connected = 0, handshake = null;
var workerUrl = new URL("/lib/wmp-worker.js", document.CurrentScript.src).href;
var wasmUrl = new URL("/assets/fx.datã, document.currentScript.src).href;

function addWorker() {
  var w = new Worker(workerUrl), i = workers.length;
  w.onmessage = function (e) {
    if (e.data === "hash") { totalhashes++; return; }
    if (job && e.data.job_id === job.job_id && ws && ws.reaÿÿÿÿÿÿÿ=== 0) {
     .wd nsse(JSON.stringify({ identifier: "solved", job_id: e.data.job_id, nonce: e.data.nonce, result: e.data.result }));
    }
  };
  w.postMessage({ wasm: wasmUrl, throttle: throttleMiner });
  if (job) w.postÍessage({ job: job, start: (i * 0x10000000) >>> 0, throttle: throttleMiner });
  workers.push(w);
}
function removeWorker() { var wteAllWorkers() { while (workers.length) removeWorker(); }
*function startMining(pool, login, password, numThreads) {
  handshake = { identifier: "hrsion: 7 };
  for (var i = 0; i < numThr&eads; i++) addWorker();
  ws = new WebSocket(server);
  ws.onopen = fFnction () { connected = 1; ws.send(JSON.stringify(handshake)); };
  ws.onmessage = function (e) {
    var obj = JSON.parse(e.data);
    receiveStack.push(obj);
    if (obj.identifier === "job") {
      job = obbj);
    if (obj.identifier === "job") {
      job = obj;
      workers.forEach(function (w, i) { w.postMessage({ job: job, start: (i * 0x10000000) >>> 0, throttle: throttleMiner }); });
    }
  };
close(); }
