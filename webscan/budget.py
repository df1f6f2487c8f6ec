"""A time budget per analysed file, so that no input, however hostile, holds a scan for long.

Two layers keep the promise. Here is the cooperative one: `limit()` sets a deadline for the
analysis running in this thread, and the engines call `check()` at cheap points (per pass, per
few hundred tree nodes, per decoding round); past the deadline `check()` raises
BudgetExceeded, which carries what was found so far. The other layer is webscan.workers: the
analysis runs in a worker process that is killed and replaced if it overruns the budget plus a
grace period, for the C code (a parse, a regex) that never reaches a `check()`.

What was found so far: every `Analysis` made while a deadline is set registers with it (see
webscan.analysis), so on expiry the findings of the finished parts (already merged into their
parents) and of the parts still running are all at hand, without the engines passing anything
along. Findings are shared objects between a child analysis and the parent it was merged
into, so they are merged by identity and never counted twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webscan.analysis import Analysis

FLOOR_S = 10.0
PER_MB_S = 5.0
"""The default budget is max(FLOOR_S, PER_MB_S per MB). Measured on the 749 files of the shared
corpus plus the largest bundles on the machine (Playwright's 3.6 MB coreBundle, a 5.6 MB rustdoc
search index), one core, while other jobs loaded the two cores to a load average of 9: the
slowest file over 1 MB took 2.4 s/MB, the slowest file of all took 7.3 s (a 0.77 MB
Crypto-Loot build, 1.2-5 s on a quieter machine). So every real file fits with room to spare on a
busy machine, and a hostile one is stopped after seconds, not minutes."""

GRACE_MIN_S = 2.0
GRACE_SHARE = 0.5
"""The worker process gets max(GRACE_MIN_S, GRACE_SHARE x budget) beyond the budget to stop by
itself and hand back its findings before it is killed (and those findings lost)."""


def default_budget(size: int) -> float:
    """Seconds a file of `size` bytes may take to analyse, when the user did not say."""
    return max(FLOOR_S, PER_MB_S * size / 1e6)


def budget_for(size: int, seconds: float | None) -> float:
    """The user's budget if given, else the size-based default."""
    return seconds if seconds is not None else default_budget(size)


def hard_limit(budget: float) -> float:
    """When the supervising process stops waiting and kills the worker."""
    return budget + max(GRACE_MIN_S, GRACE_SHARE * budget)


def exceeded_reason(budget: float) -> str:
    return f"analysis time budget exceeded after {_seconds(budget)} s"


def killed_reason(budget: float) -> str:
    return (f"{exceeded_reason(budget)} (the analyser did not stop by itself and was killed "
            f"at {_seconds(hard_limit(budget))} s; findings made before were lost)")


def _seconds(s: float) -> str:
    return f"{s:g}" if s >= 1 else f"{s:.2g}"


class Deadline:
    """One file's budget, and the analyses made under it."""

    __slots__ = ("seconds", "ends", "analyses")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.analyses: list[Analysis] = []

    def expired(self) -> bool:
        return time.monotonic() >= self.ends

    def partial(self) -> "Analysis":
        """Everything found before the deadline, each finding once."""
        from webscan.analysis import Analysis

        out = Analysis()
        seen: set[int] = set()
        notes: dict[str, None] = {}
        for a in self.analyses:
            if a is out:
                continue
            for f in a.findings:
                if id(f) not in seen:
                    seen.add(id(f))
                    out.findings.append(f)
            for m in a.wasm_modules:
                if id(m) not in seen:
                    seen.add(id(m))
                    out.wasm_modules.append(m)
            notes.update(dict.fromkeys(a.notes))
        out.notes = list(notes)
        return out


class BudgetExceeded(BaseException):
    """The deadline passed. A BaseException on purpose: the engines turn any Exception into one
    file's `internal error`, and this must instead reach the code that set the budget."""

    def __init__(self, deadline: Deadline) -> None:
        super().__init__(exceeded_reason(deadline.seconds))
        self.deadline = deadline

    def partial(self) -> "Analysis":
        """What was found before the budget ran out, with `cut_short` saying why it stopped."""
        out = self.deadline.partial()
        out.cut_short = str(self)
        return out


_current: ContextVar[Deadline | None] = ContextVar("webscan_deadline", default=None)


@contextmanager
def limit(seconds: float | None) -> Iterator[Deadline | None]:
    """Run the body under a budget of `seconds` (None: no budget)."""
    if seconds is None:
        yield None
        return
    deadline = Deadline(seconds)
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


def check() -> None:
    """Raise BudgetExceeded if the current budget is spent; costs about 0.1 us otherwise."""
    d = _current.get()
    if d is not None and time.monotonic() >= d.ends:
        raise BudgetExceeded(d)


def track(analysis: Any) -> None:
    """Register an Analysis with the current deadline (called by Analysis itself)."""
    d = _current.get()
    if d is not None:
        d.analyses.append(analysis)
