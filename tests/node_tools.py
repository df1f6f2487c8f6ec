"""Where the tests find the Node tools pinned in tools/node/package-lock.json.

`make test` (and so `.ci/run`) installs them with `npm ci` before pytest starts; a test never
downloads anything itself (nothing may need the network at run time). A missing tool is an
error that says how to install it, never a skip: CI must not go green without the check.
"""

from __future__ import annotations

from pathlib import Path

NODE_TOOLS = Path(__file__).resolve().parents[1] / "tools" / "node"
NODE_MODULES = NODE_TOOLS / "node_modules"
INSTALL_HINT = ("install the pinned Node tools first: `make test` does it, or "
                "`npm ci --prefix tools/node`")


def node_module_file(*parts: str) -> Path:
    """A file inside an installed package (e.g. axe-core's axe.min.js)."""
    path = NODE_MODULES.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: {INSTALL_HINT}")
    return path


def node_bin(name: str) -> Path:
    """An installed package's command (e.g. web-ext)."""
    return node_module_file(".bin", name)
