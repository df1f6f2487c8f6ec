"""Fragments of a script that does not parse as a whole, made parseable by closing brackets.

Snippets captured from live pages often lost their line breaks: a `//` comment then swallows
the rest of its line, and the call it interrupted (`new K.Anonymous('<key>', { // threads: 2,
throttle: 0.7 }); m.start();`) is left with an open `(` and `{`. tree-sitter keeps such text
as an ERROR node, in which no call expression exists for a rule to match, although the call's
head (its callee and site key) is all there. The same happens inside a comment that ends in
the middle of a call.

`closers` says which brackets a fragment leaves open; the engine appends them to the text of
an ERROR node (or a comment) and queries the result. Appending keeps every byte offset of the
fragment equal to its offset in the source, so a hit points at the real text. Every pass is
bounded: fragments per script, bytes per fragment, bytes in all.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

MAX_FRAGMENTS = 16
MAX_FRAGMENT_BYTES = 64 * 1024
MAX_TOTAL_BYTES = 256 * 1024
MAX_DEPTH = 256
"""Open brackets tracked; deeper nesting is not closed (the fragment stays broken)."""
MAX_NODES = 20_000
"""Nodes visited looking for ERROR nodes (only subtrees holding an error are entered)."""

_PAIRS = {ord("("): b")", ord("["): b"]", ord("{"): b"}"}
_CLOSE = {ord(")"): ord("("), ord("]"): ord("["), ord("}"): ord("{")}
_QUOTES = frozenset(b"'\"`")


def closers(text: bytes) -> bytes:
    """The brackets (and a quote) that close what `text` leaves open, innermost first.

    A rough lexer: strings (a quoted string ends at a line break, as in JavaScript), `//` and
    `/* */` comments; regex literals are not told apart from division, which is harmless in
    the short fragments this serves. A closer without its opener is skipped."""
    stack: list[int] = []
    quote = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if quote:
            if c == 0x5C:  # backslash
                i += 2
                continue
            if c == quote or (c == 0x0A and quote != 0x60):
                quote = 0
            i += 1
            continue
        if c in _QUOTES:
            quote = c
        elif c == 0x2F and i + 1 < n and text[i + 1] == 0x2F:
            j = text.find(b"\n", i)
            i = n if j < 0 else j
            continue
        elif c == 0x2F and i + 1 < n and text[i + 1] == 0x2A:
            j = text.find(b"*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        elif c in _PAIRS:
            if len(stack) < MAX_DEPTH:
                stack.append(c)
        elif c in _CLOSE:
            want = _CLOSE[c]
            if want in stack:
                while stack and stack.pop() != want:
                    pass
        i += 1
    tail = bytes([quote]) if quote else b""
    return tail + b"".join(_PAIRS[o] for o in reversed(stack))


def error_fragments(root: Node, src: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset, text with its brackets closed) of the outermost ERROR nodes of a tree."""
    stack = [root]
    visited = given = total = 0
    while stack and visited < MAX_NODES and given < MAX_FRAGMENTS:
        node = stack.pop()
        visited += 1
        if node.is_error:
            size = node.end_byte - node.start_byte
            if size > MAX_FRAGMENT_BYTES or total + size > MAX_TOTAL_BYTES:
                continue
            text = src[node.start_byte:node.end_byte]
            tail = closers(text)
            if not tail:
                continue  # nothing left open: closing brackets cannot mend it
            given += 1
            total += size
            yield node.start_byte, text + tail
            continue
        stack.extend(c for c in reversed(node.children) if c.has_error)
