"""Inline `<script>` bodies written inside a script, to be analysed as scripts of their own.

A script can carry another as markup: `document.write('<script>var m = new K.Anonymous(...)
<\\/script>')` on a compromised page, a Node server that answers every request with a page
pointing a kit at its own proxy (`` `<script>K.CONFIG.WEBSOCKET_SHARDS = [[...]]</script>` ``),
or a page snippet captured into a `.js` file with its tags. Inside a string or JSX text that
code is not code to the parser, so no structure rule reaches it. Each body found is handed back
as a payload (the engine's `_payloads` analyses it again, with its findings pointing here).

One regex pass, run only when `<script` occurs; bodies are bounded in number and size.
"""

from __future__ import annotations

import re

from webscan.js.deobfuscate import Decoded

MAX_BODIES = 8
MAX_BODY_BYTES = 256 * 1024
MAX_TAGS = 64
"""`<script` tags looked at per script (each costs a search of at most MAX_BODY_BYTES)."""

_OPEN = re.compile(rb"<script\b[^<>]{0,512}>", re.I)
_CLOSE = re.compile(rb"<\\?/script\s*>", re.I)
# escapes a body picks up from the string literal holding it
_ESCAPE = re.compile(rb"\\([\\'\"/`])|\\n")


def _unescape(m: re.Match[bytes]) -> bytes:
    return m.group(1) if m.group(1) is not None else b"\n"


def inline_scripts(src: bytes) -> list[Decoded]:
    """The non-empty bodies of `<script>...</script>` written in `src`, as payloads."""
    out: list[Decoded] = []
    pos = tags = 0
    while len(out) < MAX_BODIES and tags < MAX_TAGS:
        m = _OPEN.search(src, pos)
        if m is None:
            break
        tags += 1
        end = _CLOSE.search(src, m.end(), m.end() + MAX_BODY_BYTES)
        if end is None:
            pos = m.end()
            continue
        body = src[m.end():end.start()]
        pos = end.end()
        if body.strip():
            text = _ESCAPE.sub(_unescape, body).decode("utf-8", "replace")
            out.append(Decoded(text, m.end(), "an inline <script> written in the script",
                               payload=True))
    return out
