"""Static files for the fixture pages: safe path mapping, content types and URL placeholders.

Pages name the other origin and the pool with placeholders that are filled in per request,
because the ports are only known once the server is bound:
  {{ORIGIN_A}}  http://127.0.0.1:<port A>   the first origin (first-party pages)
  {{ORIGIN_B}}  http://<other host>:<port B> the second origin (third-party scripts, iframes)
  {{POOL}}      ws://127.0.0.1:<pool port>  the stub pool (append /pool/<protocol>)
  {{ORIGIN_P}}  http://127.0.0.2:<port P>   the "private" origin the egress pages try to reach
"""

from __future__ import annotations

import mimetypes
import posixpath
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent
PAGES = FIXTURES / "pages"
WASM = FIXTURES / "wasm"

# The miners fetch the real Wasm fixtures under bland names, as kits do.
ALIASES: dict[str, Path] = {
    "/assets/app-core.wasm": WASM / "worker.wasm",
    "/assets/fx.dat": WASM / "worker-lite.wasm",
}
TEXT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
              ".css": "text/css; charset=utf-8", ".json": "application/json",
              ".md": "text/markdown; charset=utf-8", ".txt": "text/plain; charset=utf-8"}
WASM_MAGIC = b"\x00asm"
MAX_FILE = 32 * 1024 * 1024


@dataclass(frozen=True)
class Origins:
    a: str
    b: str
    pool: str
    p: str = "http://127.0.0.2:9"

    def fill(self, text: str) -> str:
        return (text.replace("{{ORIGIN_A}}", self.a).replace("{{ORIGIN_B}}", self.b)
                .replace("{{POOL}}", self.pool).replace("{{ORIGIN_P}}", self.p))


def resolve(url_path: str) -> Path | None:
    """The file for a request path, or None; never a file outside the fixture folders."""
    path = posixpath.normpath(unquote(urlsplit(url_path).path))
    if path in ALIASES:
        return ALIASES[path]
    if path == "/" or path == ".":
        path = "/index.html"
    if path.startswith("/wasm/"):
        root, rel = WASM, path[len("/wasm/"):]
    else:
        root, rel = PAGES, path.lstrip("/")
    if not rel or any(part in {"..", ""} for part in rel.split("/")):
        return None
    target = (root / rel).resolve()
    if not target.is_relative_to(root.resolve()) or not target.is_file():
        return None
    return target


def content_type(path: Path, head: bytes) -> str:
    """By magic first (bland names still get application/wasm), then by suffix."""
    if head.startswith(WASM_MAGIC):
        return "application/wasm"
    suffix = path.suffix.lower()
    if suffix in TEXT_TYPES:
        return TEXT_TYPES[suffix]
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def load(url_path: str, origins: Origins) -> tuple[bytes, str] | None:
    """Body and content type for a request path, placeholders filled in text files."""
    target = resolve(url_path)
    if target is None or target.stat().st_size > MAX_FILE:
        return None
    data = target.read_bytes()
    ctype = content_type(target, data[:4])
    if ctype.startswith("text/") or ctype == "application/json":
        data = origins.fill(data.decode("utf-8")).encode("utf-8")
    return data, ctype
