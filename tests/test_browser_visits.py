"""Whole visits with the real Chromium: CPU series, hostile pages that must end with an error
record (not a hang), and the evidence mapping judged by the one verdict module."""

from __future__ import annotations

import asyncio

import pytest

from test_browser_support import (Site, browser_runner, engines, html, js,  # noqa: F401
                                  never_finishes, pool, wasm)

BUSY_WORKER = "onmessage = () => {}; let x = 0; for (;;) { x = (x * 1103515245 + 12345) | 0; }"


@pytest.fixture(scope="module")
def site(pool):  # noqa: F811
    holder = {}
    s = Site({
        "/idle.html": html("<p>nothing to see</p>"),
        "/busy.html": html("<script>for (let i = 0; i < 2; i++) new Worker('/spin.js');</script>"),
        "/spin.js": js(BUSY_WORKER),
        "/physics.html": html(
            "<script>WebAssembly.instantiateStreaming(fetch('/nbody.wasm'), {});"
            "for (let i = 0; i < 2; i++) new Worker(URL.createObjectURL(new Blob(["
            + repr(BUSY_WORKER) + "])));"
            "const ws = new WebSocket(" + repr(pool.url) + "); ws.onopen = () => ws.send('hi there');</script>"),
        "/nbody.wasm": wasm("nbody.wasm"),
        "/worker.wasm": wasm("worker.wasm"),
        "/miner.html": html(
            "<script>const POOL = " + repr(pool.url) + ", ORIGIN = location.origin;"
            "const code = atob(" + repr(__import__("base64").b64encode(MINER_WORKER.encode()).decode()) + ");"
            "const w = new Worker(URL.createObjectURL(new Blob([code])));"
            "w.postMessage({pool: POOL, origin: ORIGIN});</script>"),
        "/never.html": html("<p>loading forever</p><img src='/hang.png'>"),
        "/dialogs.html": html("<script>for (let i = 0; i < 1000; i++) alert('hello ' + i);</script>"),
        "/crash.html": html("<p>about to crash</p>"),
        "/popup.html": html("<script>window.open('/idle.html'); window.open('/idle.html');</script>"),
        "/file.bin": lambda req: _attachment(req),
        "/to-download.html": html("<script>location.href = '/file.bin';</script>"),
    })
    s.routes["/hang.png"] = never_finishes(s.release, "image/png", b"\x89PNG")
    holder["site"] = s
    yield s
    s.close()


def _attachment(req):
    body = b"x" * 1000
    req.send_response(200)
    req.send_header("Content-Type", "application/octet-stream")
    req.send_header("Content-Disposition", "attachment; filename=file.bin")
    req.send_header("Content-Length", str(len(body)))
    req.end_headers()
    req.wfile.write(body)


# The worker of a throttled-looking miner: the pool messages are built from parts so that a
# static read of the page finds no protocol; only the running page reveals it.
MINER_WORKER = """
onmessage = async (e) => {
  const {pool, origin} = e.data;
  const bytes = await (await fetch(origin + '/worker.wasm')).arrayBuffer();
  await WebAssembly.instantiate(bytes, {});
  const k = (a) => a.join('');
  const ws = new WebSocket(pool);
  ws.onopen = () => ws.send(JSON.stringify({[k(['ty','pe'])]: k(['au','th']),
      params: {[k(['site','_key'])]: 'SK8xq1Jm3pL0aZtY', type: 'anonymous', user: null}}));
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.params && msg.params.job_id) ws.send(JSON.stringify({[k(['ty','pe'])]: k(['sub','mit']),
        params: {job_id: msg.params.job_id, nonce: 'a1b2c3d4', result: '00ff'}}));
  };
};
"""


def test_cpu_series_grows_for_busy_page_and_stays_low_when_idle(browser_runner, site):  # noqa: F811
    busy = browser_runner.observe(site.url("/busy.html"), window_s=3, activity=False)
    idle = browser_runner.observe(site.url("/idle.html"), window_s=3, activity=False)
    assert busy.fatal is None and idle.fatal is None, (busy.errors, idle.errors)
    assert len(busy.cpu) >= 3 and len(idle.cpu) >= 3
    values = [c.process_time_s for c in busy.cpu]
    assert values == sorted(values)  # a cumulative series never goes backwards
    assert busy.cpu_seconds > idle.cpu_seconds + 0.5
    assert busy.cpu_share > 0.5 > idle.cpu_share


def test_page_that_never_finishes_loading_ends_with_an_error(browser_runner, site):  # noqa: F811
    """How long it takes to end is a figure: bench/bench_visit_endings.py."""
    obs = browser_runner.observe(site.url("/never.html"), window_s=1, nav_timeout_s=2)
    assert obs.fatal is not None and obs.fatal.kind == "load-timeout"
    assert obs.cpu  # the page committed, so it was still watched


def test_dialog_storm_ends_the_visit(browser_runner, site):  # noqa: F811
    obs = browser_runner.observe(site.url("/dialogs.html"), window_s=2, nav_timeout_s=20, max_dialogs=10)
    assert obs.fatal is not None and obs.fatal.kind == "dialog-storm", obs.errors
    assert obs.dialogs > 10


def test_renderer_crash_ends_the_visit_and_the_browser_goes_on(browser_runner, site):  # noqa: F811
    async def crash(visit):
        asyncio.ensure_future(visit.cdp("Page.crash", timeout=3))

    # A window far longer than the runner waits (120 s): only the crash can end this visit in
    # time. How soon it ends is a figure: bench/bench_visit_endings.py.
    obs = browser_runner.observe(site.url("/crash.html"), window_s=600, after_load=crash)
    assert obs.fatal is not None and obs.fatal.kind == "crash", obs.errors
    after = browser_runner.observe(site.url("/idle.html"), window_s=1)
    assert after.fatal is None, after.errors


def test_popups_are_closed_and_downloads_refused(browser_runner, site):  # noqa: F811
    obs = browser_runner.observe(site.url("/popup.html"), window_s=1)
    assert obs.popups == 2 and obs.fatal is None, obs.errors
    obs = browser_runner.observe(site.url("/file.bin"), window_s=1, nav_timeout_s=5)
    assert obs.fatal is not None and obs.fatal.kind == "download", obs.errors
    # a page that sends itself to a download keeps its loaded document, which is watched
    obs = browser_runner.observe(site.url("/to-download.html"), window_s=1, nav_timeout_s=5)
    assert obs.fatal is None and obs.downloads == 1, obs.errors
    assert obs.cpu and obs.final_url == site.url("/to-download.html")


def test_browser_is_restarted_after_it_dies(browser_runner, site):  # noqa: F811
    old = browser_runner.browser.process
    old.process.kill()  # the Chromium this test session started
    old.process.wait(10)
    obs = browser_runner.observe(site.url("/idle.html"), window_s=1)
    assert obs.fatal is None, obs.errors
    assert browser_runner.browser.process is not old and browser_runner.browser.restarts >= 1


def test_unreachable_site_is_a_navigation_error(browser_runner):  # noqa: F811
    obs = browser_runner.observe("http://127.0.0.1:9/", window_s=1, nav_timeout_s=5)
    assert obs.fatal is not None and obs.fatal.kind == "navigation"


def test_runtime_evidence_makes_a_blob_worker_miner_a_miner(browser_runner, site, engines, sigs):  # noqa: F811
    from webscan.browser.evidence import observation_to_analysis
    from webscan.verdict import judge

    obs = browser_runner.observe(site.url("/miner.html"), window_s=3)
    analysis = observation_to_analysis(obs, engines, static=False)  # runtime evidence only
    report = judge(analysis, sigs.verdict, url=obs.url)
    cats = {f.category for f in report.findings}
    assert report.verdict.value == "miner", report.explanation
    assert {"wasm-miner", "pool-session", "pool-protocol", "worker-blob"} <= cats
    session = next(f for f in report.findings if f.category == "pool-session")
    assert session.location.target.startswith("ws://127.0.0.1:")
    full = judge(observation_to_analysis(obs, engines), sigs.verdict, url=obs.url)
    assert full.verdict.value == "miner"


def test_busy_benign_page_is_not_a_miner(browser_runner, site, engines, sigs):  # noqa: F811
    from webscan.browser.evidence import observation_to_analysis
    from webscan.verdict import judge

    obs = browser_runner.observe(site.url("/physics.html"), window_s=3)
    report = judge(observation_to_analysis(obs, engines), sigs.verdict, url=obs.url)
    cats = {f.category for f in report.findings}
    assert "runtime-cpu" in cats and "wasm-load" in cats  # it was busy, it did run Wasm
    assert report.verdict.value == "clean", report.explanation  # a physics page must stay clean


def test_fatal_error_without_evidence_is_an_error_verdict(browser_runner, engines, sigs):  # noqa: F811
    from webscan.browser.evidence import observation_to_analysis
    from webscan.verdict import judge

    obs = browser_runner.observe("http://127.0.0.1:9/", window_s=1, nav_timeout_s=5)
    report = judge(observation_to_analysis(obs, engines), sigs.verdict, url=obs.url)
    assert report.verdict.value == "error" and "navigation failed" in report.error
