"""Code left inside comments, for rules whose scope is `comments`.

A browser never runs a comment, so nothing found there may make a `miner`; but sites leave a
whole kit call with its site key behind in a comment or an HTML comment guard (`<!--`,
`//<![CDATA[`), and snippets captured from pages often lost their line breaks, which turns the
rest of a line into one long `//` comment. Rules with `scope: comments` are matched against the
text of such comments, parsed as JavaScript once per script, under their own (weak) category.

Only comments holding a trigger word of those rules are read, found from the word's
occurrences, so a bundle full of licence headers and JSDoc costs nothing here. Every pass is
bounded: occurrences looked at, comments kept, bytes parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from tree_sitter import Node

from webscan.js.salvage import closers

MAX_OCCURRENCES = 256
"""Trigger-word occurrences looked up in the tree per script (each look-up is O(depth))."""
MAX_COMMENTS = 64
MAX_COMMENT_BYTES = 64 * 1024
MAX_TOTAL_BYTES = 512 * 1024
COMMENT_TYPES = frozenset(("comment", "html_comment"))

# Comment and guard markers become line breaks, so that each piece of a comment that was once
# its own line (`//miner.start();//}`) parses as its own statement. Same length is not needed:
# positions inside a comment are reported as the comment's own.
_MARKERS = re.compile(rb"<!\[CDATA\[|\]\]>|<!--|-->|//|/\*|\*/")
_IDENT = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")


@dataclass
class CommentText:
    """The uncommented text of the comments worth parsing, and where each came from."""

    text: bytes
    pieces: list[tuple[int, int]]  # (offset in text, byte offset of the comment in the source)

    def source_offset(self, b: int) -> int:
        """Where the comment holding byte `b` of `text` starts in the source."""
        best = self.pieces[0][1]
        for off, start in self.pieces:
            if off > b:
                break
            best = start
        return best


def collect(src: bytes, root: Node, words: set[bytes], triggers: frozenset[bytes],
            node_at: Callable[[Node, int, int], Node | None]) -> CommentText | None:
    """The comments that hold one of `triggers` (whole words), uncommented; None if none do."""
    present = [w for w in triggers if w in words]
    if not present:
        return None
    n = len(src)
    seen: set[int] = set()
    chunks: list[bytes] = []
    pieces: list[tuple[int, int]] = []
    size = looked = 0
    for w in present:
        pos = src.find(w)
        while pos >= 0 and looked < MAX_OCCURRENCES and len(pieces) < MAX_COMMENTS:
            end = pos + len(w)
            if (pos and src[pos - 1] in _IDENT) or (end < n and src[end] in _IDENT):
                pos = src.find(w, end)
                continue
            looked += 1
            node = node_at(root, pos, end)
            if node is not None and node.type in COMMENT_TYPES and node.start_byte not in seen:
                seen.add(node.start_byte)
                body = src[node.start_byte:min(node.end_byte, node.start_byte + MAX_COMMENT_BYTES)]
                if size + len(body) > MAX_TOTAL_BYTES:
                    break
                pieces.append((size, node.start_byte))
                body = _MARKERS.sub(b"\n", body)
                # a comment that ends inside a call (a lost line break) is closed, so the
                # call's head still parses (salvage.py)
                body += b"\n" + closers(body) + b"\n;\n"
                chunks.append(body)
                size += len(body)
                pos = node.end_byte
            pos = src.find(w, max(end, pos))
    if not chunks:
        return None
    order = sorted(range(len(pieces)), key=lambda i: pieces[i][1])
    text, placed, off = [], [], 0
    for i in order:
        placed.append((off, pieces[i][1]))
        text.append(chunks[i])
        off += len(chunks[i])
    return CommentText(b"".join(text), placed)
