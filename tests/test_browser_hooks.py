"""The hook reaches pages, Blob/nested/module workers and workers in cross-site iframes, with the
real Chromium: captured Wasm bytes are the served module's, sockets and frames are seen."""

from __future__ import annotations

import hashlib

import pytest

from test_browser_support import (WASM, Site, browser_runner, html, js,  # noqa: F401
                                  pool, wasm)


def sha(name: str) -> str:
    return hashlib.sha256((WASM / name).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sites(pool):  # noqa: F811
    frame_site = Site({
        "/frame.html": html("<p>frame</p><script>new Worker('/fworker.js')</script>"),
        "/fworker.js": js("fetch('/blake2b.wasm').then(r => r.arrayBuffer())"
                          ".then(b => WebAssembly.instantiate(b, {}));"),
        "/blake2b.wasm": wasm("blake2b.wasm"),
    })
    blob_src = (
        "fetch(ORIGIN + '/miner.wasm').then(r => r.arrayBuffer()).then(b => WebAssembly.instantiate(b, {}))"
        ".then(() => { const ws = new WebSocket(POOL);"
        " ws.onopen = () => ws.send(JSON.stringify({type: 'auth', params: {site_key: 'k', type: 'anonymous', user: null}}));"
        " ws.onmessage = (e) => { const m = JSON.parse(e.data); if (m.type === 'job') ws.send(JSON.stringify("
        "{type: 'submit', params: {job_id: m.params.job_id, nonce: 'a1b2c3d4', result: '00ff'}})); }; });")
    page = f"""
<p>capture</p>
<iframe src="{frame_site.url('/frame.html', host='localhost')}"></iframe>
<script>
const ORIGIN = location.origin, POOL = {pool.url!r};
WebAssembly.instantiateStreaming(fetch('/nbody.wasm'), {{}});
const src = "const ORIGIN = " + JSON.stringify(ORIGIN) + ", POOL = " + JSON.stringify(POOL) + ";" + {blob_src!r};
new Worker(URL.createObjectURL(new Blob([src], {{type: 'text/javascript'}})));
new Worker('/outer.js');
new Worker('/mod.js', {{type: 'module'}});
const chat = new WebSocket(POOL);
chat.onopen = () => chat.send('hello from the page');
document.title = String(navigator.webdriver);
</script>"""
    main = Site({
        "/index.html": html(page),
        "/outer.js": js("new Worker('/inner.js');"),
        "/inner.js": js("fetch('/worker.wasm').then(r => r.arrayBuffer()).then(b => new WebAssembly.Module(b));"),
        "/mod.js": js("const r = await fetch('/worker-lite.wasm'); await WebAssembly.compile(await r.arrayBuffer());"),
        "/nbody.wasm": wasm("nbody.wasm"),
        "/miner.wasm": wasm("miner.wasm"),
        "/worker.wasm": wasm("worker.wasm"),
        "/worker-lite.wasm": wasm("worker-lite.wasm"),
    })
    yield main, frame_site
    main.close()
    frame_site.close()


@pytest.fixture(scope="module")
def capture(browser_runner, sites):  # noqa: F811
    main, _ = sites
    probes = {}

    async def probe(visit):
        probes["webdriver"] = await visit.page.evaluate("navigator.webdriver")
        probes["ua"] = await visit.page.evaluate("navigator.userAgent")
        probes["tostring"] = await visit.page.evaluate(
            "[WebAssembly.instantiate.toString(), WebSocket.toString(), Function.prototype.toString.toString(),"
            " String(WebSocket.prototype.constructor === WebSocket), typeof window.__webscan_sink]")

    obs = browser_runner.observe(main.url("/index.html"), window_s=3, after_load=probe)
    return obs, probes


def _seen(obs, name: str, where_has: str, realm: str):
    return [m for m in obs.wasm if m.sha256 == sha(name) and where_has in m.where and m.realm == realm]


def test_page_module_bytes_are_the_served_module(capture):
    obs, _ = capture
    assert obs.fatal is None, obs.errors
    hits = _seen(obs, "nbody.wasm", "/index.html", "page")
    assert hits and hits[0].api == "instantiateStreaming" and hits[0].url.endswith("/nbody.wasm")


def test_blob_worker_module_is_captured(capture):
    obs, _ = capture
    assert _seen(obs, "miner.wasm", "blob:", "worker")


def test_nested_worker_module_is_captured(capture):
    obs, _ = capture
    hits = _seen(obs, "worker.wasm", "/inner.js", "worker")
    assert hits and hits[0].api == "Module"


def test_module_worker_module_is_captured(capture):
    obs, _ = capture
    hits = _seen(obs, "worker-lite.wasm", "/mod.js", "worker")
    assert hits and hits[0].api == "compile"


def test_worker_in_cross_site_iframe_is_captured(capture):
    obs, _ = capture
    assert _seen(obs, "blake2b.wasm", "http://localhost:", "worker")


def test_workers_are_recorded_with_blob_source(capture):
    obs, _ = capture
    kinds = {(w.kind, w.url.rsplit("/", 1)[-1] if not w.url.startswith("blob:") else "blob") for w in obs.workers}
    assert {("dedicated", "blob"), ("dedicated", "outer.js"), ("dedicated", "inner.js"),
            ("module", "mod.js"), ("dedicated", "fworker.js")} <= kinds
    blob = next(w for w in obs.workers if w.url.startswith("blob:"))
    assert "WebAssembly.instantiate" in (blob.source or "")
    assert len(obs.worker_hold_ms) >= 5  # every dedicated worker was held and hooked


def test_sockets_and_frames_from_page_and_worker(capture, pool):  # noqa: F811
    obs, _ = capture
    assert sum(1 for s in obs.sockets if s.url.startswith(pool.url)) == 2
    wheres = {s.where.split(":")[0] for s in obs.sockets}
    assert "blob" in wheres  # the worker's socket is attributed to the worker
    sent = [f.payload for f in obs.frames if f.direction == "sent"]
    received = [f.payload for f in obs.frames if f.direction == "received"]
    assert "hello from the page" in sent
    assert any('"type":"auth"' in p for p in sent)  # as the worker's JSON.stringify wrote it
    assert any('"submit"' in p for p in sent)
    assert any('"job"' in p for p in received) and any("hash_accepted" in p for p in received)


def test_no_automation_tells(capture):
    _, probes = capture
    assert probes["webdriver"] is False
    assert "Headless" not in probes["ua"]
    wasm_ts, ws_ts, ts_ts, ctor_same, sink = probes["tostring"]
    assert wasm_ts == "function instantiate() { [native code] }"
    assert ws_ts == "function WebSocket() { [native code] }"
    assert ts_ts == "function toString() { [native code] }"
    assert ctor_same == "true"
    assert sink == "undefined"  # the hook took its sink out of the page's sight


def _big_module(size: int) -> bytes:
    """A valid module of about `size` bytes: one custom section of varied bytes (not a run of
    one value, so a piece encoded twice or out of order changes the hash)."""
    import random

    payload = b"\x01x" + random.Random(7).randbytes(size)  # name "x", then the bytes
    n, leb = len(payload), bytearray()
    while True:
        leb.append((n & 0x7F) | (0x80 if n >> 7 else 0))
        n >>= 7
        if not n:
            break
    return b"\0asm\x01\0\0\0\x00" + bytes(leb) + payload


def test_a_module_of_many_encoding_pieces_arrives_whole_and_once(browser_runner):  # noqa: F811
    """The hook hashes and base64-encodes a module a piece per task (1.5 MB of base64, 6 MB of
    hashing), so a large game module never holds the page's thread for long at once: a 7 MB
    module compiled twice must arrive byte for byte, and once."""
    big = _big_module(7 << 20)
    site = Site({
        "/index.html": html("<script>fetch('/big.wasm').then(r => r.arrayBuffer()).then(b => {"
                            " WebAssembly.validate(b); return WebAssembly.compile(b); })"
                            ".then(() => { document.title = 'compiled'; });</script>"),
        "/big.wasm": ("application/wasm", big),
    })
    try:
        obs = browser_runner.observe(site.url("/index.html"), window_s=4)
    finally:
        site.close()
    assert obs.fatal is None, obs.errors
    want = hashlib.sha256(big).hexdigest()
    hits = [m for m in obs.wasm if m.sha256 == want]
    assert len(hits) == 1 and hits[0].api == "validate" and hits[0].size == len(big), \
        [(m.api, m.size, len(m.data)) for m in obs.wasm]
    assert hits[0].key.startswith(f"{len(big)}:")


def test_module_bytes_are_the_served_module_even_if_the_page_transfers_its_buffer(browser_runner):  # noqa: F811
    """The hook encodes a module a task after the call (base64 of a large module inside the call
    cost the page ~27 ms per MB), from a copy: a page that transfers its buffer away right after
    compiling leaves it detached, and an encoder reading it then would hand out nothing."""
    site = Site({
        "/index.html": html("<script>fetch('/worker-lite.wasm').then(r => r.arrayBuffer()).then(b => {"
                            " WebAssembly.compile(b); structuredClone(b, {transfer: [b]});"
                            " document.title = 'detached ' + b.byteLength; });</script>"),
        "/worker-lite.wasm": wasm("worker-lite.wasm"),
    })
    try:
        obs = browser_runner.observe(site.url("/index.html"), window_s=2)
    finally:
        site.close()
    assert obs.fatal is None, obs.errors
    hits = _seen(obs, "worker-lite.wasm", "/index.html", "page")
    assert hits and hits[0].api == "compile" and hits[0].size == (WASM / "worker-lite.wasm").stat().st_size
