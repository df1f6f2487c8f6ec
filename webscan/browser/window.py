"""How long to watch a page: the adaptive observation window.

A fixed window misses miners that start late (20-30 s after load), and a long one for every
site would cut the crawl's throughput. So the window keeps its length for pages that show
nothing, and extends, up to a cap, while suspicious activity begins or grows: activity that
began inside the window gets a whole window of its own, and a one-shot timer the page set that
falls due before the cap keeps the page watched until it has fired. What the window could not
cover (activity still rising at the cap, a page still loading) goes to the report's coverage.
"""

from __future__ import annotations

from dataclasses import dataclass

from webscan.browser.records import Observation
from webscan.model import WORKER_KINDS, Coverage

HOT_CALLS_PER_S = 1000.0
BUSY_SHARE = 0.5
"""A CPU interval at or above this share of a core counts as busy..."""
BUSY_RUN_S = 1.5
"""...and busy intervals make activity once they run this long without a break."""
TIMER_GRACE_S = 2.0
"""How long past a long timer's due time to keep watching before deciding again."""
DEFAULT_CAP_S = 40.0
"""A miner that starts 30 s after load still shows a few seconds of work before the cap."""


@dataclass
class Extension:
    until: float  # visit time (s) to watch to
    reason: str


def _new_things(obs: Observation) -> list[float]:
    """When each new thing that can make a page a miner first showed: a Wasm module compiled, a
    worker started, a socket opened, an export of one realm first called thousands of times a
    second. (Static facts, the scripts' text, are judged whatever the window.)"""
    marks = [m.ts for m in obs.wasm] + [w.ts for w in obs.workers] + [s.ts for s in obs.sockets]
    hot: dict[tuple[str, str], float] = {}
    for c in obs.calls:
        if c.rate >= HOT_CALLS_PER_S:
            hot.setdefault((c.realm_id, c.export), c.ts)
    return sorted(marks + list(hot.values()))


def _busy(obs: Observation) -> list[float]:
    """Starts of busy CPU runs of at least BUSY_RUN_S (a lone busy interval is a layout, a
    garbage collection, a popup opening: not work that started)."""
    starts: list[float] = []
    run_start: float | None = None
    for a, b in zip(obs.cpu, obs.cpu[1:]):
        busy = b.ts > a.ts and (b.process_time_s - a.process_time_s) / (b.ts - a.ts) >= BUSY_SHARE
        if not busy:
            run_start = None
            continue
        if run_start is None:
            run_start = a.ts
        if b.ts - run_start >= BUSY_RUN_S and (not starts or starts[-1] != run_start):
            starts.append(run_start)
    return starts


def extension(obs: Observation, *, window_start: float, now: float, window_s: float,
              timers_left_s: list[float]) -> Extension | None:
    """Where to extend the window to at `now` (its current end), or None to stop.

    A page whose activity all began after the window's first second, and has been watched for
    less than a window, gets a whole window from that start; a new thing started in the last
    half window gets half a window; a pending long timer, until just after it fires. A page
    busy from the start, or quiet throughout, keeps its window."""
    things, busy = _new_things(obs), _busy(obs)
    every = sorted(things + busy)
    if every and every[0] > window_start + 1.0 and now - every[0] < window_s:
        return Extension(every[0] + window_s, f"activity began at {every[0]:.0f} s")
    if things and things[-1] > window_start + 1.0 and now - things[-1] < window_s / 2:
        return Extension(things[-1] + window_s / 2, f"new activity at {things[-1]:.0f} s")
    due = [now + s for s in timers_left_s if s > 0]
    if due:
        first = min(due)
        return Extension(first + TIMER_GRACE_S, f"a timer of the page was due at {first:.0f} s")
    return None


def coverage_summary(obs: Observation) -> Coverage:
    """The report's coverage: what the window saw, and each way a miner could have escaped it."""
    c = obs.coverage
    missed: list[str] = []
    if c.rising_at_cap:
        missed.append(f"activity still wanted watching when the window reached its {c.cap_s:.0f} s "
                      f"cap ({c.rising_at_cap})")
    if c.pending_timers_s:
        missed.append(f"the page had a timer due {c.pending_timers_s[0]:.0f} s after the window "
                      "closed: it may start work later")
    if c.loading_at_end:
        missed.append("the page was still loading when the window closed")
    if c.visible is False or c.focused is False:
        missed.append("the page was not visible and focused at the end: a miner that waits for "
                      "the user's attention may not have started")
    missed += [f"a worker the hook could not reach: {w}" for w in c.workers_missed]
    if c.gpu and not c.gpu.startswith("not used"):
        if "unavailable" in c.gpu:
            missed.append("WebGPU unavailable in this browser: a GPU miner could not have run here")
        else:
            missed.append(f"WebGPU compute seen but not judged ({c.gpu})")
    if any(e.fatal for e in obs.errors):
        missed.append("the visit ended early: " + next(e.message for e in obs.errors if e.fatal))
    return Coverage(window_s=round(c.window_s, 2), observed_s=round(c.observed_s, 2),
                    cap_s=round(c.cap_s, 2), extended=c.extended[:10], visible=c.visible,
                    focused=c.focused, consent_clicked=c.consent,
                    workers={WORKER_KINDS.get(k, k): n for k, n in c.workers_reached.items()},
                    gpu=c.gpu, missed=missed[:20])
