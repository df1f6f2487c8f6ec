"""Miners that hide from crawlers (issue 13), crawled in real Chromium against the fixture server.

Each hiding miner in site_fixtures/pages/pages.json (`hides`) must be `miner`; each benign
look-alike must not. The report's `coverage` says what the window saw and what it may have
missed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from test_browser_support import browser_runner, engines  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from site_fixtures.server import FixtureServer  # noqa: E402
from test_runtime_pow import WINDOW, judged  # noqa: E402  (the same 6 s window and judging)
from test_runtime_pow import visit as visit_page  # noqa: E402


@pytest.fixture(scope="module")
def srv():
    with FixtureServer() as server:
        yield server


def visit(browser_runner, engines, sigs, url: str):  # noqa: F811
    return visit_page(browser_runner, engines, sigs, url, static=False)


LATE = ("/miner/late-start.html", "/benign/late-game.html")
"""The miner and its look-alike that start their work 25 s after load."""


@pytest.fixture(scope="module")
def late_visits(srv, browser_runner, engines, sigs):  # noqa: F811
    """Both late pages visited at once, in two contexts of one browser as a crawl visits pages:
    each visit waits out the 25 s before the work, so together they wait it once. Path ->
    (observation, report, the pool's sessions once both visits are done)."""
    import asyncio

    from webscan.browser.observe import observe

    async def both(browser):
        return await asyncio.gather(*(observe(srv.url(p), browser=browser, window_s=WINDOW)
                                      for p in LATE))

    srv.reset_stats()
    seen = browser_runner.run(both, timeout=300)
    sessions = srv.pool_sessions()
    return {p: (obs, judged(obs, engines, sigs, static=False), sessions)
            for p, obs in zip(LATE, seen)}


@pytest.mark.parametrize("path, realm", [("/miner/shared-worker.html", "shared-worker"),
                                         ("/miner/service-worker.html", "service-worker")])
def test_miner_in_a_shared_or_service_worker_is_caught(srv, browser_runner, engines, sigs,  # noqa: F811
                                                       path, realm):
    srv.reset_stats()
    obs, report = visit(browser_runner, engines, sigs, srv.url(path))
    sessions = srv.pool_sessions()
    assert sessions and sum(s["accepted"] for s in sessions) >= 1, sessions  # it really mined
    assert report.verdict.value == "miner", report.explanation
    worker = srv.url("/lib/pool-worker.js")
    # the hook ran inside the worker: its Wasm and its socket are attributed to that realm
    assert {(m.realm, m.where) for m in obs.wasm} == {(realm, worker)}
    assert any(s.where == worker for s in obs.sockets), obs.sockets
    assert len({s.url for s in obs.sockets}) == len(obs.sockets)  # one socket, recorded once
    kind = realm.replace("-", "_")
    assert obs.coverage.workers_reached.get(kind) == 1, obs.coverage


CASES = {  # page -> what the visit must show besides the verdict
    "/miner/late-start.html": lambda obs: obs.coverage.extended and obs.coverage.observed_s > 25,
    "/miner/focus-only.html": lambda obs: obs.coverage.visible and obs.coverage.focused,
    "/miner/automation-shy.html": lambda obs: True,
    "/miner/consent.html": lambda obs: obs.coverage.consent == "Accept all" and obs.downloads == 0,
}


@pytest.mark.parametrize("path", sorted(CASES))
def test_hiding_miner_is_caught(srv, browser_runner, engines, sigs, path, request):  # noqa: F811
    if path in LATE:
        obs, report, sessions = request.getfixturevalue("late_visits")[path]
    else:
        srv.reset_stats()
        obs, report = visit(browser_runner, engines, sigs, srv.url(path))
        sessions = srv.pool_sessions()
    assert report.verdict.value == "miner", (report.explanation, obs.coverage)
    assert sessions and {s["protocol"] for s in sessions} == {"bin"}
    assert CASES[path](obs), obs.coverage


@pytest.mark.parametrize("path, consent", [("/benign/late-game.html", None),
                                           ("/benign/consent-game.html", "OK")])
def test_look_alikes_get_the_same_treatment_and_stay_clean(srv, browser_runner, engines, sigs,  # noqa: F811
                                                           path, consent, request):
    if path in LATE:
        obs, report, _ = request.getfixturevalue("late_visits")[path]
    else:
        obs, report = visit(browser_runner, engines, sigs, srv.url(path))
    assert report.verdict.value == "clean", report.explanation
    assert "hot-export" in {f.category for f in report.findings}  # the game did run
    # the banner's OK was the one click ("I agree" in the text is no banner)
    assert obs.coverage.consent == consent
    if path == "/benign/late-game.html":
        assert obs.coverage.extended and obs.coverage.observed_s > 25


def test_a_quiet_page_keeps_its_window(srv, browser_runner, engines, sigs):  # noqa: F811
    obs, report = visit(browser_runner, engines, sigs, srv.url("/benign/chat.html"))
    assert report.verdict.value == "clean"
    assert obs.coverage.extended == [] and obs.coverage.rising_at_cap is None
    assert obs.coverage.consent is None and obs.coverage.loading_at_end is False


# --- the window's decisions on recorded activity ------------------------------------------------

def _decide(obs, now: float, timers=()):
    from webscan.browser.window import extension

    return extension(obs, window_start=0.5, now=now, window_s=10.0, timers_left_s=list(timers))


def test_window_extends_for_late_activity_and_timers_only():
    from webscan.browser.records import CpuSample, Observation, WorkerSeen

    quiet = Observation(url="http://x.test/", cpu=[CpuSample(t * 0.5, 0.0) for t in range(22)])
    assert _decide(quiet, 10.5) is None
    busy = Observation(url="http://x.test/", cpu=[CpuSample(t * 0.5, t * 0.45) for t in range(22)],
                       workers=[WorkerSeen("blob:x", "dedicated", "http://x.test/", 0.3)])
    assert _decide(busy, 10.5) is None  # busy from the start: judged on its window
    blip = [CpuSample(t * 0.5, 0.4 if t >= 13 else 0.0) for t in range(22)]  # one busy interval at 6 s
    assert _decide(Observation(url="http://x.test/", cpu=blip), 10.5) is None
    work = [CpuSample(t * 0.5, max(0.0, (t - 12) * 0.45)) for t in range(22)]  # busy from 6 s on
    ext = _decide(Observation(url="http://x.test/", cpu=work), 10.5)
    assert ext is not None and ext.until == 16.0
    late = Observation(url="http://x.test/", workers=[WorkerSeen("blob:x", "dedicated", "http://x.test/", 8.0)])
    ext = _decide(late, 10.5)
    assert ext is not None and ext.until == 18.0 and "began" in ext.reason
    assert _decide(late, 18.0) is None  # watched for a whole window: done
    grew = Observation(url="http://x.test/", workers=[WorkerSeen("a", "dedicated", "p", 0.3),
                                                      WorkerSeen("b", "dedicated", "p", 9.0)])
    ext = _decide(grew, 10.5)
    assert ext is not None and ext.until == 14.0  # a new thing late: half a window more
    ext = _decide(quiet, 10.5, timers=[14.0])
    assert ext is not None and ext.until == 26.5 and "timer" in ext.reason


def test_coverage_says_what_may_have_been_missed_in_json_html_and_text():
    import io

    from rich.console import Console

    from webscan.browser.records import Coverage as Seen
    from webscan.browser.records import Observation
    from webscan.crawl.runner import runtime_summary
    from webscan.model import Report, VerdictLabel
    from webscan.output.html_report import render_html
    from webscan.output.table import render

    obs = Observation(url="http://x.test/", window_s=10.0, coverage=Seen(
        window_s=10.0, observed_s=40.0, cap_s=40.0, extended=["activity began at 12 s"],
        rising_at_cap="new activity at 38 s", loading_at_end=True, visible=True, focused=True,
        workers_reached={"worker": 2, "service_worker": 1},
        workers_missed=["shared_worker http://x.test/s.js"], gpu="unavailable (no adapter)"))
    rt = runtime_summary(obs)
    cov = rt.coverage
    assert cov is not None and cov.workers == {"dedicated": 2, "service": 1}
    assert len(cov.missed) == 4, cov.missed  # cap, loading, unreached worker, no WebGPU
    assert any("40 s cap" in m for m in cov.missed) and any("WebGPU unavailable" in m for m in cov.missed)
    report = Report(url="http://x.test/", verdict=VerdictLabel.clean, score=0.0, explanation="-",
                    runtime=rt)
    again = Report.model_validate_json(report.model_dump_json())
    assert again.runtime.coverage == cov
    old = json.loads(report.model_dump_json())
    del old["runtime"]["coverage"]  # a report stored before coverage existed still reads
    assert Report.model_validate(old).runtime.coverage is None
    html = render_html([report])
    assert "Coverage" in html and "shared_worker http://x.test/s.js" in html
    assert "extended: activity began at 12 s" in html
    text = io.StringIO()
    render([report], Console(file=text, width=200))
    assert "may have missed: the page was still loading" in text.getvalue()


def test_webgpu_miner_is_measured_or_reported_as_unseen(srv, browser_runner, engines, sigs):  # noqa: F811
    """Measured, not assumed: where this browser gives no WebGPU adapter, the GPU miner never
    starts and the report says the window could not have seen it; where it does, the
    pipelines, the dispatches and the WGSL are recorded."""
    from webscan.crawl.runner import runtime_summary

    obs, report = visit(browser_runner, engines, sigs, srv.url("/gpu/webgpu-miner.html"))
    gpu = obs.gpu
    assert gpu.adapters_asked == 1
    missed = runtime_summary(obs).coverage.missed
    if gpu.adapters_given == 0:
        assert obs.coverage.gpu.startswith("unavailable")
        assert any("WebGPU unavailable" in m for m in missed), missed
        assert report.verdict.value != "miner"
    else:
        assert gpu.pipelines >= 1 and gpu.dispatches > 0 and "@compute" in gpu.shaders[0]
        assert any("WebGPU compute seen but not judged" in m for m in missed), missed


SHADOW_BANNER = """
<p>Story.</p><cmp-banner></cmp-banner>
<script>
customElements.define("cmp-banner", class extends HTMLElement {
  connectedCallback() {
    const root = this.attachShadow({mode: "open"});
    root.innerHTML = '<div style="position:fixed;bottom:0;left:0;right:0;padding:10px">'
      + 'Cookies? <button>Customize</button> <button id="yes">Accept all</button></div>';
    root.getElementById("yes").onclick = () => new Worker(URL.createObjectURL(new Blob(["1"])));
  }
});
</script>"""

DECOYS = """
<p>Terms. <button onclick="new Worker(URL.createObjectURL(new Blob(['1'])))">OK</button></p>
<div style="position:fixed;top:0;right:0;width:300px">
  <a href="/elsewhere" role="button">Accept</a>
  <form action="/subscribe"><button>I agree</button></form>
</div>"""


@pytest.fixture(scope="module")
def consent_site():
    from test_browser_support import Site, html

    s = Site({"/shadow.html": html(SHADOW_BANNER), "/decoys.html": html(DECOYS)})
    yield s
    s.close()


def test_consent_click_reaches_shadow_roots_and_never_links_forms_or_text(consent_site, browser_runner):  # noqa: F811
    obs = browser_runner.observe(consent_site.url("/shadow.html"), window_s=3.0)
    assert obs.coverage.consent == "Accept all" and len(obs.workers) == 1
    obs = browser_runner.observe(consent_site.url("/decoys.html"), window_s=3.0)
    assert obs.coverage.consent is None and obs.workers == []
    assert obs.final_url == consent_site.url("/decoys.html")  # no link followed, no form sent
