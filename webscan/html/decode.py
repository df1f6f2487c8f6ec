"""Bytes to text for HTML, the way a browser would, and a refusal for what is not HTML.

Line and column numbers of every finding are counted in the decoded text, so decoding must be
deterministic: BOM first, then a `<meta charset>` in the first KiB, else UTF-8 with replacement
characters (never an exception on invalid bytes).
"""

from __future__ import annotations

import codecs
import re

PRESCAN = 4096
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE
)
_MAGIC = [
    (b"\0asm", "a WebAssembly module"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x7fELF", "an ELF executable"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"MZ", "a Windows executable"),
]
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13)) + b"\x7f"
_CONTROL_TABLE = bytes.maketrans(_CONTROL, b"\0" * len(_CONTROL))


def binary_reason(data: bytes) -> str | None:
    """Why `data` is clearly not an HTML document (a known magic number, or control bytes), else None."""
    head = data[:PRESCAN]
    if head.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    for magic, what in _MAGIC:
        if head.startswith(magic):
            if magic == b"MZ" and b"<" in head[:64]:
                continue
            return f"looks like {what} (starts with {magic[:4]!r})"
    if not head:
        return None
    controls = head.translate(_CONTROL_TABLE).count(0)
    if b"\0" in head and controls * 10 > len(head):
        return f"{controls} of the first {len(head)} bytes are control characters (binary data)"
    if controls * 4 > len(head):
        return f"{controls} of the first {len(head)} bytes are control characters (binary data)"
    return None


def _whatwg_label(name: str) -> str | None:
    """Map a declared charset to a Python codec the way browsers do (latin-1 means windows-1252)."""
    try:
        codec = codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None
    if codec in ("latin-1", "iso8859-1", "ascii"):
        return "cp1252"
    if codec.startswith(("utf-16", "utf-32")):
        return "utf-8"  # a meta tag readable as ASCII cannot be UTF-16: browsers use UTF-8
    return codec


def decode_html(data: bytes) -> tuple[str, str]:
    """Decoded text and the encoding used."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "replace"), "utf-8"
    if data.startswith(codecs.BOM_UTF16_LE):
        return data[2:].decode("utf-16-le", "replace"), "utf-16-le"
    if data.startswith(codecs.BOM_UTF16_BE):
        return data[2:].decode("utf-16-be", "replace"), "utf-16-be"
    m = _META_CHARSET.search(data[:PRESCAN])
    if m:
        codec = _whatwg_label(m.group(1).decode("ascii", "replace"))
        if codec:
            try:
                return data.decode(codec, "replace"), codec
            except (LookupError, UnicodeError):
                pass
    return data.decode("utf-8", "replace"), "utf-8"
