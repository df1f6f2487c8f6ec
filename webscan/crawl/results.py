"""The crawl's JSONL results file: streamed, resumable, never left with a corrupt line.

Each finished site is written as one complete line and flushed (and fsynced), so a crawl
killed with Ctrl-C or kill -9 loses at most the sites in flight. On `--resume` the file is
read back, a torn last line (the only kind a kill can leave) is cut off, and the sites already
present are skipped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from webscan.model import Report


def completed_sites(path: Path) -> set[str]:
    """The `url` of every valid line; truncates the file after its last valid line."""
    if not path.exists():
        return set()
    done: set[str] = set()
    good_end = 0
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            break  # a torn last line: no newline, so it was never completed
        line = data[pos:nl]
        try:
            obj = json.loads(line)
            if isinstance(obj, dict) and isinstance(obj.get("url"), str):
                done.add(obj["url"])
                good_end = nl + 1
            else:
                break
        except ValueError:
            break
        pos = nl + 1
    if good_end < len(data):
        with open(path, "r+b") as f:
            f.truncate(good_end)
    return done


class ResultsWriter:
    def __init__(self, path: Path, *, append: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(path, "ab" if append else "wb")

    def write(self, report: Report) -> None:
        self._f.write(report.model_dump_json().encode("utf-8") + b"\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()
