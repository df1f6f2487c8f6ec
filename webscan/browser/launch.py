"""Find Chromium and start it lean, with a DevTools port that Playwright and our own CDP client share.

We start the browser process ourselves (instead of `playwright.chromium.launch`) for two
reasons measured on the target machines (see shared/BROWSER.md): we need the DevTools port of
the browser for a second CDP client (Playwright's launch hides it behind a pipe), and we must
control the ONE `--disable-features` switch Chromium honours (Playwright adds its own, and a
second switch silently replaces the first). Playwright then attaches with `connect_over_cdp`.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ENV_CHROMIUM = "WEBSCAN_CHROMIUM"
SYSTEM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome",
                     "/usr/bin/google-chrome-stable")
PATH_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

OUR_DISABLED_FEATURES = (
    # The headless omnibox popup renderer costs 75-150 MB per context (BROWSER.md).
    "WebUIOmniboxPopup", "AimEnabled", "WebUIOmniboxAimPopup",
    # From Playwright's own list: keep http on http (replays on 127.0.0.1 with mapped hosts),
    # no first paint holding, no startup chatter on a closed network.
    "HttpsUpgrades", "HttpsFirstBalancedModeAutoEnable", "PaintHolding", "MediaRouter",
    "OptimizationHints", "NetworkTimeServiceQuerying", "PreconnectToSearch", "Translate",
    "LensOverlay", "InterestFeedContentSuggestions", "AvoidCorsURLLoaderRestartOnRedirect",
)

LEAN_SWITCHES = (
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--disable-quic", "--no-default-browser-check", "--disable-default-apps",
    "--disable-extensions", "--disable-breakpad", "--disable-dev-shm-usage",
    "--disable-field-trial-config", "--disable-back-forward-cache",
    # Miners must run at full speed while we watch, focused or not.
    "--disable-background-timer-throttling", "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding", "--disable-hang-monitor", "--disable-ipc-flooding-protection",
    "--disable-popup-blocking", "--disable-prompt-on-repost", "--metrics-recording-only",
    "--password-store=basic", "--use-mock-keychain", "--no-service-autorun",
    "--disable-search-engine-choice-screen", "--mute-audio", "--hide-scrollbars",
    # No automation tells: navigator.webdriver stays false.
    "--disable-blink-features=AutomationControlled",
)


CONTEXT_PROXY: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "webscan_context_proxy", default=None)
"""The egress proxy (a webscan.net.proxy channel URL) for browser contexts made in the current
task: the crawler sets it around each visit, so each visit's traffic reaches the proxy on a
listener of its own and a refusal is recorded against the visit that caused it."""


def proxy_switches(proxy_url: str) -> list[str]:
    """Switches that send ALL of the browser's traffic through the egress proxy at `proxy_url`
    (webscan.net.proxy says why a proxy): loopback too (Chromium bypasses proxies for loopback
    unless told `<-loopback>`), no QUIC (HTTP/3 is UDP, beside any HTTP proxy), WebRTC without
    non-proxied UDP, no DNS prefetching and no DNS-over-HTTPS (the browser resolves nothing
    itself: the proxy does, once, and connects to what it checked)."""
    return [f"--proxy-server={proxy_url}", "--proxy-bypass-list=<-loopback>", "--disable-quic",
            "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
            "--webrtc-ip-handling-policy=disable_non_proxied_udp",
            "--dns-prefetch-disable",
            "--disable-features=DnsOverHttps,NetworkPrediction,PreconnectToSearch"]


class ChromiumNotFound(RuntimeError):
    """No usable Chromium: the message says where we looked and how to install one."""


def find_chromium(option: str | None = None) -> str:
    """The Chromium to use: option > $WEBSCAN_CHROMIUM > system install > Playwright's browser."""
    for source, value in (("--chromium", option), (ENV_CHROMIUM, os.environ.get(ENV_CHROMIUM))):
        if value:
            path = shutil.which(value) or value
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                raise ChromiumNotFound(f"{source} points at {value!r}, which is not an executable "
                                       "file; give the full path of chromium or google-chrome")
            return path
    for cand in SYSTEM_CANDIDATES:
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    for name in PATH_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    managed = _playwright_chromium()
    if managed:
        return managed
    raise ChromiumNotFound(
        "no Chromium found (looked at --chromium, $WEBSCAN_CHROMIUM, "
        + ", ".join(SYSTEM_CANDIDATES) + " and Playwright's browsers). Install one with "
        "`apt-get install chromium` (Debian/Ubuntu) or `playwright install chromium`, or point "
        f"${ENV_CHROMIUM} at a Chromium or Chrome executable.")


def _playwright_chromium() -> str | None:
    """The newest browser `playwright install chromium` left on this machine (never downloads).

    Looked up on disk rather than through Playwright's API: its sync API refuses to run
    inside an event loop, and starting its driver only to read a path costs a second.
    """
    roots = [os.environ.get("PLAYWRIGHT_BROWSERS_PATH", ""),
             os.path.expanduser("~/.cache/ms-playwright"),
             os.path.expanduser("~/Library/Caches/ms-playwright"),
             os.path.join(os.environ.get("LOCALAPPDATA", ""), "ms-playwright")]
    patterns = ("chromium-*/chrome-linux*/chrome", "chromium-*/chrome-mac*/Chromium.app/Contents/MacOS/Chromium",
                "chromium-*/chrome-win*/chrome.exe", "chromium_headless_shell-*/chrome-*/headless_shell")
    found: list[Path] = []
    for root in roots:
        if root and os.path.isdir(root) and root != "0":
            for pat in patterns:
                found.extend(p for p in Path(root).glob(pat) if os.access(p, os.X_OK))
    return str(sorted(found)[-1]) if found else None


def merge_switches(ours: Sequence[str], user: Iterable[str]) -> list[str]:
    """Our switches then the user's, with every `--disable-features` merged into one.

    Chromium honours only the last `--disable-features=`; merging keeps ours and theirs.
    The same holds for `--enable-features` and `--disable-blink-features`.
    """
    merged: dict[str, list[str]] = {}
    out: list[str] = []
    for arg in [*ours, *user]:
        key, eq, value = arg.partition("=")
        if eq and key in ("--disable-features", "--enable-features", "--disable-blink-features"):
            if key not in merged:
                merged[key] = []
                out.append(key)
            merged[key].extend(v for v in value.split(",") if v and v not in merged[key])
        else:
            out.append(arg)
    return [f"{a}={','.join(merged[a])}" if a in merged else a for a in out]


def chromium_args(user_data_dir: str, *, headless: bool = True,
                  extra_args: Iterable[str] = ()) -> list[str]:
    ours = [*LEAN_SWITCHES, "--disable-features=" + ",".join(OUR_DISABLED_FEATURES),
            "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
            f"--user-data-dir={user_data_dir}"]
    if headless:
        ours.append("--headless")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        ours.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
    return [*merge_switches(ours, extra_args), "about:blank"]


@dataclass
class ChromiumProcess:
    """A running browser: its process, its DevTools endpoint and its private profile folder."""

    executable: str
    process: subprocess.Popen
    user_data_dir: str
    port: int
    ws_path: str
    args: list[str] = field(default_factory=list)

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_endpoint(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.ws_path}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def rss_bytes(self) -> int:
        """Resident memory of the browser and all its children (renderers, GPU, network)."""
        try:
            import psutil
            root = psutil.Process(self.process.pid)
            total = root.memory_info().rss
            for child in root.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            return total
        except Exception:
            return 0

    def kill(self) -> None:
        """Stop the whole process group (renderers included) and remove the profile."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=3)
            except (ProcessLookupError, PermissionError):
                pass
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=3)
        shutil.rmtree(self.user_data_dir, ignore_errors=True)


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGKILL the browser when the thread that started it
    dies, so a crawl killed with kill -9 never leaves Chromium running. The browser is started
    from the event loop's thread, which lives as long as the crawl."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


async def start_chromium(executable: str | None = None, *, headless: bool = True,
                         extra_args: Iterable[str] = (), timeout_s: float = 20.0) -> ChromiumProcess:
    """Start Chromium and wait for its DevTools endpoint (read from DevToolsActivePort)."""
    exe = find_chromium(executable)
    profile = tempfile.mkdtemp(prefix="webscan-chromium-")
    args = chromium_args(profile, headless=headless, extra_args=extra_args)
    log = open(os.path.join(profile, "chromium.log"), "wb")
    proc = subprocess.Popen([exe, *args], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True,  # own group: killpg reaches every renderer
                            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    log.close()
    active = Path(profile) / "DevToolsActivePort"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            lines = active.read_text().split("\n")
            if len(lines) >= 2 and lines[0].strip().isdigit() and lines[1].strip():
                return ChromiumProcess(exe, proc, profile, int(lines[0]), lines[1].strip(), args)
        except OSError:
            pass
        await asyncio.sleep(0.02)
    tail = _log_tail(profile)
    cp = ChromiumProcess(exe, proc, profile, 0, "", args)
    cp.kill()
    why = (f"exited with code {proc.returncode}" if proc.poll() is not None
           else f"did not open its DevTools port within {timeout_s:.0f} s")
    raise RuntimeError(f"Chromium ({exe}) {why}. Last output: {tail or '(none)'}. Check that it "
                       "runs (`chromium --headless --dump-dom about:blank`) and that any "
                       "--browser-arg switches are valid.")


def _log_tail(profile: str, limit: int = 600) -> str:
    try:
        data = Path(profile, "chromium.log").read_bytes()[-limit:]
    except OSError:
        return ""
    return " ".join(data.decode("utf-8", "replace").split())
