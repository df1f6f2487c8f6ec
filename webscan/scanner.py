"""Static scanning of files: pick the analyser, run it, judge, and never lose a file.

The CLI and the service call this module; they hold no detection logic themselves.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from webscan import budget
from webscan.analysis import Analysis
from webscan.model import Report, VerdictLabel
from webscan.rules.loader import SignatureSet, load_signatures
from webscan.verdict import judge

SCANNED_SUFFIXES = {".js": "js", ".mjs": "js", ".cjs": "js", ".html": "html", ".htm": "html",
                    ".wasm": "wasm"}
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
WASM_MAGIC = b"\x00asm"


class Engines:
    """Every analyser, built once from one signature set (compiling rules is the costly part)."""

    def __init__(self, sigs: SignatureSet) -> None:
        from webscan.html.engine import HtmlEngine
        from webscan.js.engine import JsEngine
        from webscan.net.domains import DomainMatcher
        from webscan.net.protocol import ProtocolMatcher
        from webscan.rules.constants import ConstantMatcher
        from webscan.wasm.engine import WasmEngine

        self.sigs = sigs
        self.domains = DomainMatcher(sigs.domains)
        self.constants = ConstantMatcher(sigs.constants)
        self.protocol = ProtocolMatcher(sigs.protocol)
        self.wasm = WasmEngine(sigs, self.constants)
        self.js = JsEngine(sigs, domains=self.domains, constants=self.constants,
                           protocol=self.protocol, wasm=self.wasm)
        self.html = HtmlEngine(sigs, js=self.js, domains=self.domains)


def sniff_kind(name: str, data: bytes) -> str:
    """The analyser for a file: Wasm by magic first (bland names hide modules), then suffix."""
    if data[:4] == WASM_MAGIC:
        return "wasm"
    kind = SCANNED_SUFFIXES.get(Path(name).suffix.lower())
    if kind and kind != "wasm":
        return kind
    if kind == "wasm":
        return "wasm"  # a .wasm without the magic: the Wasm analyser says what is wrong
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<meta")):
        return "html"
    return "js"


class Scanner:
    """Scans in this process, each file under its time budget (webscan.budget). The budget here
    is only the cooperative one: webscan.parallel adds the worker process that is killed when
    C code overruns it."""

    def __init__(self, sigs: SignatureSet | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 page_url: str | None = None, file_timeout: float | None = None) -> None:
        self.sigs = sigs or load_signatures()
        self.engines = Engines(self.sigs)
        self.max_bytes = max_bytes
        self.page_url = page_url
        self.file_timeout = file_timeout
        """Seconds per file; None: budget.default_budget of the file's size."""

    def analyse_bytes(self, data: bytes, name: str, *, kind: str | None = None) -> Analysis:
        kind = kind or sniff_kind(name, data)
        try:
            with budget.limit(budget.budget_for(len(data), self.file_timeout)):
                if kind == "wasm":
                    return self.engines.wasm.analyse(data, name)
                if kind == "html":
                    return self.engines.html.analyse(data, name, page_url=self.page_url)
                return self.engines.js.analyse(data, name)
        except budget.BudgetExceeded as e:
            return e.partial()
        except Exception as e:  # an analyser bug must cost one file, not the run
            return Analysis(fatal=f"internal error in the {kind} analyser: {type(e).__name__}: {e}"
                            " (please report this with the file)")

    def scan_bytes(self, data: bytes, name: str, *, kind: str | None = None,
                   path: str | None = None) -> Report:
        start = time.perf_counter()
        analysis = self.analyse_bytes(data, name, kind=kind)
        return judge(analysis, self.sigs.verdict, path=path if path is not None else name,
                     size=len(data), signatures_version=self.sigs.version,
                     duration_ms=round((time.perf_counter() - start) * 1000, 2))

    def scan_path(self, path: str | os.PathLike[str]) -> Report:
        """Scan one file; unreadable or oversized files get an `error` report, not an exception."""
        path = os.fspath(path)  # the report's path is a str, whatever the caller handed in
        start = time.perf_counter()
        data, problem = read_limited(path, self.max_bytes)
        if problem is not None:
            return judge(Analysis(fatal=problem), self.sigs.verdict, path=path,
                         signatures_version=self.sigs.version,
                         duration_ms=round((time.perf_counter() - start) * 1000, 2))
        return self.scan_bytes(data, path, path=path)


def read_limited(path: str, max_bytes: int) -> tuple[bytes, str | None]:
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return b"", ("not a regular file (a device, pipe or socket); webscan reads files "
                         "and folders only")
        size = st.st_size
        if size > max_bytes:
            return b"", (f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit; "
                         "raise it with --max-size if you mean to scan it")
        with open(path, "rb") as f:
            return f.read(max_bytes + 1), None
    except FileNotFoundError:
        return b"", "no such file"
    except IsADirectoryError:
        return b"", "is a directory"
    except PermissionError:
        return b"", "permission denied: cannot read the file"
    except OSError as e:
        return b"", f"cannot read the file: {e.strerror or e}"


@dataclass(frozen=True)
class Target:
    path: str
    size: int


def iter_targets(paths: Iterable[str]) -> Iterator[Target]:
    """Expand folders recursively to the files webscan understands; named files always count.

    A path that does not exist still yields a target, so its `error` report says so instead of
    the file silently vanishing from the results.
    """
    for given in paths:
        if os.path.isdir(given):
            for root, dirs, files in os.walk(given, onerror=None):
                dirs[:] = sorted(d for d in dirs if d not in {".git", "node_modules_cache"})
                for name in sorted(files):
                    if Path(name).suffix.lower() in SCANNED_SUFFIXES:
                        full = os.path.join(root, name)
                        try:
                            st = os.stat(full)
                        except OSError:
                            yield Target(full, 0)
                            continue
                        yield Target(full, st.st_size)
        else:
            try:
                size = os.stat(given).st_size
            except OSError:
                size = 0
            yield Target(given, size)


def error_report(path: str, reason: str, sigs: SignatureSet, **fields) -> Report:
    return Report(path=path, verdict=VerdictLabel.error, score=0.0, error=reason,
                  explanation=f"Could not be analysed: {reason}.",
                  signatures_version=sigs.version, **fields)
