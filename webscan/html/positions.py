"""Where things are in the raw HTML text: lines, columns, start tags and attribute values.

beautifulsoup4 (html.parser) tells where a tag starts but not where its start tag ends or where
an attribute value sits, and it drops the body of a `<script>` cut off by the end of the file.
A finding inside an inline script must point at the right line and column of the page, so the
body is sliced from the raw text here, with the browser's rules (script data ends at `</script`
followed by whitespace, `/` or `>`).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

MAX_START_TAG = 1 << 20
"""A start tag longer than this (a megabyte of attributes) is cut: bounded work on junk."""

_TAG_NAME = re.compile(r"<([a-zA-Z][^\s/>]*)")
_ATTR = re.compile(
    r"""(?P<name>[^\s/>"'=][^\s/>"'=]*)(?:\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<uq>[^\s>]*)))?"""
)
_SPACE = re.compile(r"[\s/]*")
_SCRIPT_END = re.compile(r"</script[\s/>]", re.IGNORECASE)


class LineIndex:
    """Offset <-> (line, column) in one text; lines split on "\\n" as html.parser and tree-sitter do."""

    def __init__(self, text: str):
        self._nl = [m.start() for m in re.finditer("\n", text)]

    def offset(self, line: int, col0: int) -> int:
        """Offset of 1-based `line` and 0-based column (html.parser's sourceline/sourcepos)."""
        if line <= 1:
            return col0
        idx = min(line - 2, len(self._nl) - 1)
        return (self._nl[idx] + 1 if idx >= 0 else 0) + col0

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column (in characters) of an offset."""
        i = bisect.bisect_left(self._nl, offset)
        start = self._nl[i - 1] + 1 if i > 0 else 0
        return i + 1, offset - start + 1


@dataclass
class StartTag:
    name: str
    start: int
    end: int
    """Offset just after the closing `>` (or the end of the text for a cut-off tag)."""
    values: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Lower-case attribute name -> (start, end) offsets of its raw value (first occurrence wins)."""


def read_start_tag(text: str, start: int) -> StartTag | None:
    """Parse the start tag at `start` (which must be a `<`), tolerant of junk; None if none is there."""
    m = _TAG_NAME.match(text, start)
    if not m:
        return None
    tag = StartTag(m.group(1).lower(), start, len(text))
    pos = m.end()
    limit = min(len(text), start + MAX_START_TAG)
    while pos < limit:
        pos = _SPACE.match(text, pos).end()
        if pos >= limit:
            break
        if text[pos] == ">":
            tag.end = pos + 1
            return tag
        a = _ATTR.match(text, pos, limit)  # an unclosed quote must not scan the rest of the page
        if not a or a.end() == pos:
            pos += 1
            continue
        name = a.group("name").lower()
        for g in ("dq", "sq", "uq"):
            if a.group(g) is not None:
                tag.values.setdefault(name, a.span(g))
                break
        pos = a.end()
    tag.end = limit
    return tag


def script_body_span(text: str, body_start: int) -> tuple[int, int]:
    """The raw script body from the end of its start tag to `</script` (or the end of the text)."""
    m = _SCRIPT_END.search(text, body_start)
    return body_start, (m.start() if m else len(text))
