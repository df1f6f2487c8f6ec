"""Visit one page in a fresh context and record what runs there: Wasm, workers, sockets, CPU.

`Browser` keeps one Chromium for many visits (a fresh context per visit costs ~0.2 s, a
browser ~0.3 s plus its base memory) and restarts it when it dies. `observe()` drives one
visit: hooks installed before page code, navigation with a timeout, a watch window with light
user activity and CPU sampling, and a hard visit timeout. Everything odd a page does (dialogs,
downloads, popups, crashes, never finishing loading) ends as a PageError record, never as a
hang or an exception. Nothing here judges: evidence.py maps the Observation onto findings.

Miners hide from crawlers, so a visit looks like a visitor where a real browser can: a
realistic profile (stealth.js), a visible and focused page, one consent click (consent.py), an
adaptive window (window.py), and shared and service workers hooked like dedicated ones
(workers.py). What the window saw and may have missed is recorded in `Observation.coverage`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from functools import lru_cache
from pathlib import Path

from webscan.browser.consent import click_consent
from webscan.browser.hook import SINK_NAME, hook_script
from webscan.browser.launch import CONTEXT_PROXY, ChromiumProcess, start_chromium
from webscan.browser.records import (CallRate, CpuSample, Observation, PageError, ScriptLoaded,
                                     SocketFrame, SocketSeen, WasmModuleSeen, WorkerSeen)
from webscan.browser.window import DEFAULT_CAP_S, extension
from webscan.browser.workers import (WORKER_TYPES, AttachedTarget, BrowserWideWorkers, CdpConnection,
                                     Instrumenter)

MAX_WASM_BYTES = 64 << 20  # per visit, all modules together
MAX_SIGHTINGS = 32  # records of one module (same bytes share one object)
MAX_SCRIPT_BYTES = 5 << 20  # per script body kept for static analysis
MAX_SCRIPTS_TOTAL = 32 << 20
MAX_FRAME_CHARS = 64 << 10
MAX_CALL_RATES = 4000  # per visit: about a report per busy export per realm per second
MAX_SHADERS = 8
MAX_SHADER_CHARS = 64 << 10
LONG_TIMER_MS = 8000
"""One-shot timers of at least this delay are listed for the adaptive window (shorter ones fire
inside any window)."""


@lru_cache(maxsize=1)
def _stealth_source() -> str:
    return Path(__file__).with_name("stealth.js").read_text(encoding="utf-8").strip()


def stealth_script(key: str) -> str:
    """The realistic-profile script (stealth.js), its timer list readable as `window[key]()`."""
    return f"({_stealth_source()})({json.dumps(key)}, {LONG_TIMER_MS});"


class Browser:
    """One Chromium shared by many visits; restarted when it crashes.

    `async with Browser() as b: obs = await observe(url, browser=b)`.
    """

    def __init__(self, executable: str | None = None, *, extra_args: Iterable[str] = (),
                 headless: bool = True) -> None:
        self.executable = executable
        self.extra_args = list(extra_args)
        self.headless = headless
        self.process: ChromiumProcess | None = None
        self.cdp: CdpConnection | None = None
        self.shared_workers: BrowserWideWorkers | None = None
        self.user_agent: str | None = None
        self.restarts = 0
        self.peak_rss_bytes = 0
        self.probe_key = "_" + secrets.token_hex(5)
        """The page global that lists long timers (stealth.js): random, so pages cannot know it."""
        self._pw: Any = None
        self._pw_cm: Any = None
        self.pw_browser: Any = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> "Browser":
        await self.ensure()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def alive(self) -> bool:
        return (self.process is not None and self.process.alive() and self.cdp is not None
                and not self.cdp.closed.is_set() and self.pw_browser is not None
                and self.pw_browser.is_connected())

    async def ensure(self) -> None:
        """Start the browser, or start it again if it died (visits in flight get errors)."""
        if self.alive():
            return
        async with self._lock:
            if self.alive():
                return
            if self.process is not None:
                self.restarts += 1
                await self._shutdown()
            from playwright.async_api import async_playwright

            self.process = await start_chromium(self.executable, headless=self.headless,
                                                extra_args=self.extra_args)
            try:
                if self._pw is None:
                    self._pw_cm = async_playwright()
                    self._pw = await self._pw_cm.start()
                self.pw_browser = await self._pw.chromium.connect_over_cdp(
                    self.process.http_endpoint, timeout=20_000)
                self.cdp = await CdpConnection().connect(self.process.ws_endpoint)
                self.shared_workers = BrowserWideWorkers(self.cdp)
                await self.shared_workers.start()
                version = await self.cdp.send("Browser.getVersion")
                self.user_agent = version.get("userAgent", "").replace("HeadlessChrome", "Chrome") or None
            except BaseException:
                await self._shutdown()
                raise

    def rss_bytes(self) -> int:
        rss = self.process.rss_bytes() if self.process is not None else 0
        self.peak_rss_bytes = max(self.peak_rss_bytes, rss)
        return rss

    async def _shutdown(self) -> None:
        if self.cdp is not None:
            try:
                await asyncio.wait_for(self.cdp.close(), 3)
            except Exception:
                pass
            self.cdp = None
        if self.pw_browser is not None:
            try:
                await asyncio.wait_for(self.pw_browser.close(), 5)
            except Exception:
                pass
            self.pw_browser = None
        if self.process is not None:
            await asyncio.to_thread(self.process.kill)

    async def close(self) -> None:
        async with self._lock:
            await self._shutdown()
            self.process = None
            if self._pw_cm is not None:
                try:
                    await self._pw_cm.__aexit__(None, None, None)
                except Exception:
                    pass
                self._pw = self._pw_cm = None


AfterLoad = Callable[["Visit"], Awaitable[None]]


async def observe(url: str, *, browser: Browser | None = None, window_s: float = 10.0,
                  nav_timeout_s: float = 20.0, visit_timeout_s: float | None = None,
                  activity: bool = True, capture_scripts: bool = True,
                  cpu_interval_s: float = 0.5, max_frames: int = 2000, max_dialogs: int = 20,
                  after_load: AfterLoad | None = None, call_counting: bool = True,
                  window_cap_s: float | None = None) -> Observation:
    """Visit ONE page and record what runs there (see the module docstring).

    The window lasts `window_s` for a page that shows nothing, and extends up to
    `window_cap_s` (default: the larger of window_s and window.DEFAULT_CAP_S) while activity
    begins or grows late, or a long timer of the page is still due (webscan.browser.window).

    `url` is kept exactly as given in the Observation; a bare domain is visited over http.
    `after_load` is called with the Visit once navigation is done (tests and the crawler's
    own extra probes use it). `call_counting=False` leaves Wasm exports unwrapped (no
    hashing-loop evidence; benches compare the cost). Never raises for anything the page does.
    """
    if browser is None:
        async with Browser() as own:
            return await observe(url, browser=own, window_s=window_s, nav_timeout_s=nav_timeout_s,
                                 visit_timeout_s=visit_timeout_s, activity=activity,
                                 capture_scripts=capture_scripts, cpu_interval_s=cpu_interval_s,
                                 max_frames=max_frames, max_dialogs=max_dialogs,
                                 after_load=after_load, call_counting=call_counting,
                                 window_cap_s=window_cap_s)
    visit = Visit(browser, url, window_s=window_s, nav_timeout_s=nav_timeout_s,
                  visit_timeout_s=visit_timeout_s, activity=activity,
                  capture_scripts=capture_scripts, cpu_interval_s=cpu_interval_s,
                  max_frames=max_frames, max_dialogs=max_dialogs, after_load=after_load,
                  call_counting=call_counting, window_cap_s=window_cap_s)
    return await visit.run()


def _navigable(url: str) -> str:
    u = url.strip()
    return u if "://" in u or u.startswith(("about:", "data:", "chrome:")) else "http://" + u


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


class Visit:
    """The state of one visit; handlers append records to `obs` as events arrive."""

    def __init__(self, browser: Browser, url: str, *, window_s: float, nav_timeout_s: float,
                 visit_timeout_s: float | None, activity: bool, capture_scripts: bool,
                 cpu_interval_s: float, max_frames: int, max_dialogs: int,
                 after_load: AfterLoad | None, call_counting: bool = True,
                 window_cap_s: float | None = None) -> None:
        self.browser = browser
        self.obs = Observation(url=url, started_at=time.time(), window_s=window_s)
        self.window_s = window_s
        self.window_cap_s = max(window_s, DEFAULT_CAP_S if window_cap_s is None else window_cap_s)
        self.obs.coverage.window_s = window_s
        self.obs.coverage.cap_s = self.window_cap_s
        self.nav_timeout_s = nav_timeout_s
        self.visit_timeout_s = visit_timeout_s or (nav_timeout_s + self.window_cap_s + 20.0)
        self.activity = activity
        self.capture_scripts = capture_scripts
        self.cpu_interval_s = cpu_interval_s
        self.max_frames = max_frames
        self.max_dialogs = max_dialogs
        self.after_load = after_load
        self.call_counting = call_counting
        self.t0 = time.monotonic()
        self.stop = asyncio.Event()  # crash, dialog storm: end the window now
        self.context: Any = None
        self.page: Any = None
        self.inst: Instrumenter | None = None
        self.page_target: AttachedTarget | None = None
        self._wasm_seen: dict[str, list] = {}
        self._wasm_bytes = 0
        self._script_bytes = 0
        self._sockets: dict[str, SocketSeen] = {}
        self._hook_sockets: list[SocketSeen] = []
        self._tasks: set[asyncio.Task] = set()
        self._activity: asyncio.Future | None = None
        self._cpu_state: dict[str, float] = {}
        self._cpu_total = 0.0
        self._context_id = ""

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 3)

    def error(self, kind: str, message: str, *, fatal: bool) -> None:
        if not any(e.kind == kind and e.message == message for e in self.obs.errors):
            self.obs.errors.append(PageError(kind, message, self.now(), fatal))

    def _spawn(self, coro: Awaitable) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cdp(self, method: str, params: dict | None = None, *, timeout: float = 5.0) -> dict:
        """Send a DevTools command to the visited page's own session (for probes and tests)."""
        assert self.browser.cdp is not None and self.page_target is not None
        return await self.browser.cdp.send(method, params, session=self.page_target.session,
                                           timeout=timeout)

    # --- the visit ----------------------------------------------------------------------

    async def run(self) -> Observation:
        try:
            await self.browser.ensure()
        except Exception as e:
            self.error("browser", f"could not start Chromium: {_first_line(e)}", fatal=True)
            self.obs.duration_s = round(time.monotonic() - self.t0, 3)
            return self.obs
        try:
            async with asyncio.timeout(self.visit_timeout_s):
                await self._setup()
                if await self._navigate():
                    if self.after_load is not None:
                        await self.after_load(self)
                    await self._watch()
        except TimeoutError:
            self.error("visit-timeout", f"the visit did not finish within {self.visit_timeout_s:.0f} s "
                       "(the page kept the browser busy); raise --visit-timeout if it is just slow",
                       fatal=True)
        except Exception as e:
            if not self.browser.alive():
                self.error("browser", f"the browser died during the visit: {_first_line(e)}", fatal=True)
            elif not self.stop.is_set():
                self.error("browser", f"the visit failed: {type(e).__name__}: {_first_line(e)}",
                           fatal=True)
        finally:
            await self._finish()
        return self.obs

    async def _setup(self) -> None:
        b = self.browser
        self.context = await b.pw_browser.new_context(
            user_agent=b.user_agent, accept_downloads=False, ignore_https_errors=True,
            viewport={"width": 1280, "height": 800}, service_workers="allow",
            **({"proxy": {"server": CONTEXT_PROXY.get()}} if CONTEXT_PROXY.get() else {}))
        await self.context.expose_binding(SINK_NAME, self._page_binding)
        await self.context.add_init_script(stealth_script(b.probe_key) + "\n"
                                           + hook_script(SINK_NAME, calls=self.call_counting))
        self.page = await self.context.new_page()
        self.page.on("dialog", self._dialog)
        self.page.on("crash", lambda _p: self._crashed("the renderer process crashed"))
        self.page.on("download", self._download)
        self.page.on("pageerror", lambda e: None)
        if self.capture_scripts:
            self.page.on("response", self._response)
        self.context.on("page", self._popup)
        session = await self.context.new_cdp_session(self.page)
        try:
            info = await session.send("Target.getTargetInfo")
        finally:
            await session.detach()
        assert b.cdp is not None
        self.inst = Instrumenter(b.cdp, on_record=self._worker_record, on_event=self._cdp_event,
                                 user_agent=b.user_agent, calls=self.call_counting)
        self._context_id = info["targetInfo"].get("browserContextId", "")
        if b.shared_workers is not None and self._context_id:
            b.shared_workers.claim(self._context_id, self.inst)
        self.page_target = await self.inst.attach_page(info["targetInfo"]["targetId"])
        # Miners that start only in a visible, focused tab: every visit's page is both.
        await asyncio.gather(self.cdp("Emulation.setFocusEmulationEnabled", {"enabled": True}),
                             self.page.bring_to_front(), return_exceptions=True)

    async def _navigate(self) -> bool:
        """Go to the page; False when there is nothing to watch (it never committed, it crashed)."""
        from playwright.async_api import Error as PwError
        from playwright.async_api import TimeoutError as PwTimeout

        nav = asyncio.ensure_future(self.page.goto(_navigable(self.obs.url), wait_until="load",
                                                   timeout=self.nav_timeout_s * 1000))
        # Cancelled with the crawl (Ctrl-C), this task leaves the load behind, which then fails
        # with the closing browser: its error is retrieved here so none is printed.
        nav.add_done_callback(lambda f: f.cancelled() or f.exception())
        stopped = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({nav, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not nav.done():  # a crash or a dialog storm: the load event may never come
                nav.cancel()
                await asyncio.gather(nav, return_exceptions=True)
                return False
            nav.result()
        except PwTimeout:
            if await self._loaded_anyway():
                self.obs.final_url = self.page.url
                return not self.stop.is_set()
            self.error("load-timeout", f"the page did not finish loading within {self.nav_timeout_s:.0f} s",
                       fatal=True)
            committed = self.page.url not in ("", "about:blank")
            return committed and not self.stop.is_set()
        except PwError as e:
            if self.stop.is_set():
                return False
            msg = _first_line(e)
            if "Download is starting" in msg:
                self.error("download", "the URL is a download, not a page", fatal=True)
            else:
                self.error("navigation", f"navigation failed: {msg}", fatal=True)
            return False
        finally:
            stopped.cancel()
        self.obs.final_url = self.page.url
        return not self.stop.is_set()

    async def _loaded_anyway(self) -> bool:
        """True when the document did load though goto() never saw it: a page that starts a
        navigation which turns into a download (refused) keeps its document, loaded, while
        Playwright waits for the load of the navigation that never commits."""
        if self.obs.downloads == 0:
            return False
        try:
            state = await asyncio.wait_for(self.page.evaluate("document.readyState"), 2.0)
        except Exception:
            return False
        return state == "complete"

    async def _watch(self) -> None:
        """The observation window: CPU samples every interval, activity early on, extended
        while activity begins or grows late (webscan.browser.window), never past its cap."""
        start = time.monotonic()
        end, cap = start + self.window_s, start + self.window_cap_s
        window_start = self.now()
        await self._sample_cpu()
        if self.activity:
            self._activity = asyncio.ensure_future(self._user_activity())
        while not self.stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                end = await self._extend(end, cap, window_start)
                if end <= time.monotonic():
                    break
                continue
            try:
                await asyncio.wait_for(self.stop.wait(), min(self.cpu_interval_s, left))
            except TimeoutError:
                pass
            await self._sample_cpu()
        cov = self.obs.coverage
        cov.observed_s = round(time.monotonic() - start, 2)
        if self.page is not None and not self.stop.is_set():
            self.obs.final_url = self.page.url

    async def _page_state(self) -> dict:
        """The page's long timers still pending, its loading state, visibility and focus."""
        try:
            state = await asyncio.wait_for(self.page.evaluate(
                f"() => window[{json.dumps(self.browser.probe_key)}]()"), 2.0)
        except Exception:
            return {}  # a busy or navigating page: no extension for timers this time
        return state if isinstance(state, dict) else {}

    async def _extend(self, end: float, cap: float, window_start: float) -> float:
        """The window's new end (monotonic); `end` itself when it should stop."""
        state = await self._page_state()
        cov = self.obs.coverage
        cov.loading_at_end = state.get("state", "complete") != "complete"
        if "visible" in state:
            cov.visible, cov.focused = state["visible"] == "visible", bool(state.get("focused"))
        timers = [t / 1000.0 for t in state.get("left", []) if isinstance(t, (int, float))]
        now_m, now_v = time.monotonic(), self.now()
        ext = extension(self.obs, window_start=window_start, now=now_v, window_s=self.window_s,
                        timers_left_s=timers)
        if ext is None:
            return end
        if now_m >= cap - 0.05:
            cov.rising_at_cap = ext.reason
            cov.pending_timers_s = sorted(round(t, 1) for t in timers)[:5]
            return end
        new_end = min(cap, now_m + max(0.5, ext.until - now_v))
        if ext.reason not in cov.extended:
            cov.extended.append(ext.reason)
        return new_end

    async def _user_activity(self) -> None:
        """Mouse moves, a scroll and one click, for miners that wait for a human; a consent
        banner's "Accept" clicked (webscan.browser.consent), looked for before and after."""
        await asyncio.sleep(min(0.3, self.window_s / 4))
        await self._consent()
        m = self.page.mouse
        steps: list[Callable[[], Awaitable]] = [
            lambda: m.move(200, 150), lambda: m.move(640, 420, steps=6),
            lambda: m.wheel(0, 400), lambda: m.move(300, 500, steps=4),
            lambda: m.click(20, 780), lambda: m.wheel(0, -200)]
        for step in steps:
            if self.stop.is_set():
                return
            try:
                await asyncio.wait_for(step(), 2.0)
            except Exception:
                return  # a busy or closed page: activity is best effort
            await asyncio.sleep(0.05)
        await self._consent()  # banners drawn late by a consent manager

    async def _consent(self) -> None:
        if self.obs.coverage.consent is None and not self.stop.is_set():
            self.obs.coverage.consent = await click_consent(self.page)

    async def _sample_cpu(self) -> None:
        """Renderer CPU (workers included) summed over the page's processes.

        The page's process plus one per cross-site iframe site (each such iframe is its own
        target and process). Each counter adds its own increases, so a process swap on
        navigation or a vanished iframe never makes the series go backwards.
        """
        if self.inst is None or self.browser.cdp is None or self.stop.is_set():
            return
        from webscan.net.registrable import registrable_domain

        page_site = registrable_domain(self.page.url) if self.page else None
        keys: dict[str, str] = {}
        for t in list(self.inst.targets.values()):
            if t.type == "page" and t.parent is None:
                keys["page"] = t.session
            elif t.type == "iframe":
                site = registrable_domain(t.url) or t.url
                if site != page_site:
                    keys.setdefault("site:" + site, t.session)
        if not keys:
            return
        timeout = max(1.0, self.cpu_interval_s * 2)
        results = await asyncio.gather(*(self.browser.cdp.send("Performance.getMetrics", session=s,
                                                               timeout=timeout)
                                         for s in keys.values()), return_exceptions=True)
        got = False
        for key, res in zip(keys, results):
            if isinstance(res, BaseException):
                continue
            value = next((m["value"] for m in res.get("metrics", []) if m["name"] == "ProcessTime"), None)
            if value is None:
                continue
            got = True
            last = self._cpu_state.get(key)
            if last is None:
                self._cpu_state[key] = value
                if key != "page":
                    self._cpu_total += value  # a cross-site frame's process began in this visit
                continue
            self._cpu_total += value - last if value >= last else value
            self._cpu_state[key] = value
        if got:
            self.obs.cpu.append(CpuSample(self.now(), round(self._cpu_total, 4)))

    async def _finish(self) -> None:
        if self._activity is not None:
            self._activity.cancel()
            await asyncio.gather(self._activity, return_exceptions=True)
        if self._tasks:  # popups closing, bodies being read: a short grace, then cancel
            await asyncio.wait(list(self._tasks), timeout=3.0)
            for t in self._tasks:
                t.cancel()
        if self.browser.shared_workers is not None and self._context_id:
            self.browser.shared_workers.release(self._context_id)
        if self.inst is not None:
            self.obs.worker_hold_ms = list(self.inst.holds_ms)
            self.obs.coverage.workers_reached = dict(self.inst.reached)
            self.obs.coverage.workers_missed = self.inst.missed[:5]
            for msg in self.inst.errors[:5]:
                self.error("instrument", msg, fatal=False)
            try:
                await asyncio.wait_for(self.inst.detach(), 3.0)
            except Exception:
                pass
        if self.context is not None:
            try:
                await asyncio.wait_for(self.context.close(), 5.0)
            except Exception:
                self.error("browser", "the browser context did not close; restarting the browser",
                           fatal=False)
                if self.browser.process is not None:
                    await asyncio.to_thread(self.browser.process.kill)
        for hs in self._hook_sockets:  # the hook knows who opened a socket; CDP knows its id
            match = next((s for s in self.obs.sockets if s.url == hs.url and not s.where), None)
            if match is not None:
                match.where = hs.where
            elif not any(s.url == hs.url for s in self.obs.sockets):
                self.obs.sockets.append(hs)
        self.obs.coverage.gpu = self.obs.gpu.describe()
        self.obs.browser_rss_bytes = self.browser.rss_bytes()
        self.obs.duration_s = round(time.monotonic() - self.t0, 3)

    # --- event handlers (they only record) --------------------------------------------

    def _crashed(self, message: str) -> None:
        self.error("crash", message, fatal=True)
        self.stop.set()

    async def _dialog(self, dialog: Any) -> None:
        self.obs.dialogs += 1
        try:
            await dialog.dismiss()
        except Exception:
            pass
        if self.obs.dialogs > self.max_dialogs and not self.stop.is_set():
            self.error("dialog-storm", f"the page opened more than {self.max_dialogs} dialogs",
                       fatal=True)
            self.stop.set()

    def _download(self, download: Any) -> None:
        self.obs.downloads += 1
        self._spawn(download.cancel())

    def _popup(self, page: Any) -> None:
        if page is self.page:
            return
        self.obs.popups += 1
        self._spawn(page.close())

    def _response(self, response: Any) -> None:
        rtype = response.request.resource_type
        if rtype in ("script", "document") and self._script_bytes < MAX_SCRIPTS_TOTAL:
            self._spawn(self._keep_body(response, rtype))

    async def _keep_body(self, response: Any, rtype: str) -> None:
        try:
            body = await asyncio.wait_for(response.body(), 5.0)
        except Exception:
            return  # redirects, aborted loads, closed pages: nothing to keep
        if len(body) > MAX_SCRIPT_BYTES or self._script_bytes + len(body) > MAX_SCRIPTS_TOTAL:
            return
        self._script_bytes += len(body)
        self.obs.scripts.append(ScriptLoaded(response.url, body, rtype, response.status))

    def _page_binding(self, source: Any, payload: Any) -> None:
        try:
            rec = json.loads(payload)
        except (TypeError, ValueError):
            return
        if isinstance(rec, dict):
            self._record(rec)

    def _worker_record(self, rec: dict, target: AttachedTarget) -> None:
        self._record(rec)

    def _record(self, rec: dict) -> None:
        kind = rec.get("t")
        where = str(rec.get("where") or "")
        realm = str(rec.get("realm") or "")
        if kind == "wasm":
            b64 = rec.get("b64")
            if not isinstance(b64, str):
                return
            try:
                data = base64.b64decode(b64)
            except ValueError:
                return
            digest = hashlib.sha256(data).hexdigest()
            known = self._wasm_seen.get(digest)
            if known is None:
                if self._wasm_bytes + len(data) > MAX_WASM_BYTES:
                    return
                self._wasm_bytes += len(data)
                self._wasm_seen[digest] = known = [data, 0]
            if known[1] >= MAX_SIGHTINGS:  # one module per worker: eight workers, eight sightings
                return
            known[1] += 1
            self.obs.wasm.append(WasmModuleSeen(known[0], str(rec.get("api", "")), where, realm,
                                                self.now(), rec.get("url"), int(rec.get("size") or len(data)),
                                                str(rec.get("k") or "")))
        elif kind == "calls":
            if len(self.obs.calls) >= MAX_CALL_RATES:
                return
            try:
                rate = CallRate(str(rec.get("k") or ""), str(rec.get("fn") or "")[:100], where, realm,
                                self.now(), int(rec["calls"]), float(rec["span"]),
                                int(rec.get("pairs") or 0), int(rec.get("nonce") or 0),
                                str(rec.get("rid") or "")[:16])
            except (KeyError, TypeError, ValueError):
                return  # a malformed record (page code can call a leaked sink): dropped
            if rate.calls > 0 and rate.span_ms > 0 and 0 <= rate.nonce <= rate.pairs:
                self.obs.calls.append(rate)
        elif kind == "worker":
            src = rec.get("src")
            self.obs.workers.append(WorkerSeen(str(rec.get("url", "")), str(rec.get("kind", "")),
                                               where, self.now(),
                                               src if isinstance(src, str) else None))
        elif kind == "socket":
            self._hook_sockets.append(SocketSeen(str(rec.get("url", "")), where, self.now()))
        elif kind == "gpu":
            self._gpu_record(rec)

    def _gpu_record(self, rec: dict) -> None:
        gpu, ev = self.obs.gpu, rec.get("ev")
        if ev == "adapter":
            gpu.adapters_asked += 1
            gpu.adapters_given += bool(rec.get("ok"))
        elif ev == "pipeline":
            gpu.pipelines += 1
        elif ev == "shader" and isinstance(rec.get("code"), str) and len(gpu.shaders) < MAX_SHADERS:
            gpu.shaders.append(rec["code"][:MAX_SHADER_CHARS])
        elif ev == "rate":
            try:
                dispatches, span = int(rec["dispatches"]), float(rec["span"])
            except (KeyError, TypeError, ValueError):
                return
            if dispatches >= 0 and span > 0:
                gpu.dispatches += dispatches
                gpu.dispatch_span_ms += span

    def _cdp_event(self, method: str, params: dict, target: AttachedTarget) -> None:
        if method.startswith("Network.webSocket"):
            sid = f"{target.session}:{params.get('requestId')}"
            if method == "Network.webSocketCreated":
                where = target.url if target.type in WORKER_TYPES else ""
                sock = SocketSeen(str(params.get("url", "")), where, self.now(), sid)
                self._sockets[sid] = sock
                self.obs.sockets.append(sock)
            elif method in ("Network.webSocketFrameSent", "Network.webSocketFrameReceived"):
                if len(self.obs.frames) >= self.max_frames:
                    self.obs.frames_dropped += 1
                    return
                resp = params.get("response") or {}
                sock = self._sockets.get(sid)
                binary = resp.get("opcode") == 2
                payload = str(resp.get("payloadData", ""))[:MAX_FRAME_CHARS]
                self.obs.frames.append(SocketFrame(
                    sid, sock.url if sock else "",
                    "sent" if method.endswith("Sent") else "received", payload, self.now(), binary))
