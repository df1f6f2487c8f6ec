"""Load hook.js and bind it to a sink, the same way for pages, frames and workers."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

SINK_NAME = "__webscan_sink"
"""Name of the global function the embedder provides; the hook takes it and deletes it."""


@lru_cache(maxsize=1)
def hook_source() -> str:
    """hook.js as shipped: one function expression, shared with the browser extension."""
    return (Path(__file__).with_name("hook.js")).read_text(encoding="utf-8")


def hook_script(sink_name: str = SINK_NAME, *, frames: bool = False, calls: bool = False) -> str:
    """A script that installs the hook reporting to the global function `sink_name`.

    `calls` turns on the Wasm export call counting (the hashing-loop evidence); it is the one
    option with a cost on busy pages, so benches run with and without it."""
    opts = {"frames": frames, "calls": True} if calls else {"frames": frames}
    return f"({hook_source().strip()})({json.dumps(sink_name)}, {json.dumps(opts)});"
