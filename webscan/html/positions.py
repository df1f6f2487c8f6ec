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
_ATTR_NAME = re.compile(r"""[^\s/>"'=]+""")
_EQUALS = re.compile(r"\s*=\s*")
_UNQUOTED = re.compile(r"[^\s>]*")
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
        pos = _attribute(text, pos, limit, tag.values)
    tag.end = limit
    return tag


def _attribute(text: str, pos: int, limit: int, values: dict[str, tuple[int, int]]) -> int:
    """Read one attribute at `pos` (not a space, `/` or `>`) into `values`; where the next one may start.

    Nothing is read at or past `limit`, and each byte is looked at a bounded number of times: a
    quoted value's end is found with str.find, not a regex that, when the quote is still open at
    the limit (a cut tag), backtracks over the whole megabyte before trying the next reading.
    That reading, kept from before, takes an unclosed quote as the start of an unquoted value;
    once a quote has been seen unclosed there is no such quote left before the limit, so the
    search for a closing quote can miss at most once per kind of quote and tag."""
    m = _ATTR_NAME.match(text, pos, limit)
    if not m:
        return pos + 1  # a stray quote or `=`: skipped, as html.parser does
    name, pos = m.group().lower(), m.end()
    eq = _EQUALS.match(text, pos, limit)
    if not eq:
        return pos  # an attribute without a value has no span
    pos = eq.end()
    if pos < limit and text[pos] in "\"'":
        close = text.find(text[pos], pos + 1, limit)
        if close >= 0:
            values.setdefault(name, (pos + 1, close))
            return close + 1
    value = _UNQUOTED.match(text, pos, limit)
    values.setdefault(name, value.span())
    return value.end()


def script_body_span(text: str, body_start: int) -> tuple[int, int]:
    """The raw script body from the end of its start tag to `</script` (or the end of the text)."""
    m = _SCRIPT_END.search(text, body_start)
    return body_start, (m.start() if m else len(text))
