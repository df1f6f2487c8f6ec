"""Undo, statically and with bounded work, the tricks miners use to hide their strings and code.

Nothing here executes JavaScript. We evaluate only expressions made entirely of literals
(strings, concatenations, atob/unescape/fromCharCode of literals, the classic p,a,c,k,e,d
packer), because that is what packers leave behind, and because anything that needs a real
interpreter could also loop forever. Every result remembers where it came from so a finding
inside decoded text still points at a place in the original file.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tree_sitter import Node

MAX_DECODED = 4 * 1024 * 1024
"""Largest decoded string or payload kept; larger ones are truncated (and noted by the engine)."""
MAX_EVAL_DEPTH = 24
"""How deep a literal expression is evaluated; packers need a handful of levels."""
MAX_STRING_ARRAYS = 200
MAX_ESCAPED_STRINGS = 20000
MAX_BASE64_LITERALS = 2000
MAX_ARRAY_ENTRIES = 5000
# an entry worth trying as base64: only base64 characters, at least one digit or a case mix
_B64_ENTRY = re.compile(r"^(?=[^a-z]*[a-z])(?=[^A-Z0-9]*[A-Z0-9])[A-Za-z0-9+/]+={0,2}$")


@dataclass
class Decoded:
    """A string or payload recovered from the source.

    `start` is the byte offset in the analysed source of the literal or expression it came
    from, so findings can point there. `payload` marks JavaScript to analyse again; otherwise
    the text is only searched for tokens, domains and embedded Wasm.
    """

    text: str
    start: int
    how: str
    payload: bool = False
    raw: bytes | None = None  # binary result (atob of non-text), for embedded Wasm
    origin: list[tuple[int, int, int, int]] | None = None
    """For a rewrite of the whole source: (new start, new end, old start, old end) of each
    replaced range, so findings in the rewrite point at the same code in the original."""


# --- string literals -----------------------------------------------------------------------

_ESCAPE = re.compile(
    r"\\(?:x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|u\{([0-9A-Fa-f]{1,6})\}|([0-7]{1,3})|(\r\n|[\s\S]))"
)
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0",
           "\n": "", "\r\n": "", "\u2028": "", "\u2029": ""}


def _escape_sub(m: re.Match) -> str:
    hx, u4, ub, octal, other = m.groups()
    try:
        if hx:
            return chr(int(hx, 16))
        if u4:
            return chr(int(u4, 16))
        if ub:
            return chr(min(int(ub, 16), 0x10FFFF))
        if octal:
            return chr(int(octal, 8))
    except ValueError:
        return m.group(0)
    return _SIMPLE.get(other, other)


def unescape_js(body: str) -> str:
    """The value of a JS string literal's body (between the quotes)."""
    if "\\" not in body:
        return body
    s = _ESCAPE.sub(_escape_sub, body)
    # join UTF-16 surrogate pairs written as two \u escapes
    if any("\ud800" <= c <= "\udfff" for c in s):
        s = s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return s


def literal_text(node: Node) -> str | None:
    """The value of a string literal or a template without substitutions, else None."""
    t = node.type
    if t == "string":
        raw = node.text or b""
        return unescape_js(raw[1:-1].decode("utf-8", "replace")) if len(raw) >= 2 else None
    if t == "template_string":
        for c in node.named_children:
            if c.type == "template_substitution":
                return None
        raw = node.text or b""
        return unescape_js(raw[1:-1].decode("utf-8", "replace")) if len(raw) >= 2 else None
    return None


_LINE_SPACE = str.maketrans("\n\r\t", "   ")


def printable_share(s: str) -> float:
    """Share of printable characters (line breaks and tabs count). Text that is all printable
    (the usual case) is settled in one C pass: a script of thousands of small decoded strings
    must not pay a Python step per character."""
    if not s:
        return 0.0
    if s.translate(_LINE_SPACE).isprintable():
        return 1.0
    good = sum(1 for c in s if c.isprintable() or c in "\n\r\t")
    return good / len(s)


def is_texty(data: bytes, *, min_share: float = 0.95) -> str | None:
    """Decoded bytes as text when they look like text (UTF-8, mostly printable), else None."""
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return s if len(s) >= 2 and printable_share(s[:4096]) >= min_share else None


_B64_STD = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
# javascript-obfuscator encodes its string array with the base64 alphabet in swapped case
_SWAP = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def b64decode_loose(s: str, max_bytes: int = MAX_DECODED) -> bytes | None:
    """Base64 (standard or URL-safe, padding optional) to bytes, or None (also when it would
    decode to more than `max_bytes`)."""
    s = s.strip()
    if len(s) < 4 or len(s) > max_bytes * 4 // 3 + 4:
        return None
    s = s.replace("-", "+").replace("_", "/")
    if not _B64_STD.match(s):
        return None
    s = s.rstrip("=")
    s += "=" * (-len(s) % 4)
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return None


def b64_text(s: str, *, min_len: int = 8) -> str | None:
    """Text hidden in a base64 string, trying the obfuscator's swapped alphabet as well."""
    if len(s) < min_len:
        return None
    for cand in (s, s.translate(_SWAP)):
        data = b64decode_loose(cand)
        if data is not None:
            text = is_texty(data)
            if text is not None and any(c.isalpha() for c in text):
                return text
    return None


# --- evaluating literal expressions (packers) ------------------------------------------------

_DECODERS = {"atob", "unescape", "decodeURIComponent", "decodeURI", "escape"}


def _callee_name(fn: Node) -> str | None:
    if fn.type == "identifier":
        return (fn.text or b"").decode("utf-8", "replace")
    if fn.type == "member_expression":
        prop = fn.child_by_field_name("property")
        obj = fn.child_by_field_name("object")
        if prop is not None and obj is not None:
            o = (obj.text or b"")[:32].decode("utf-8", "replace")
            return f"{o}.{(prop.text or b'').decode('utf-8', 'replace')}"
    return None


def unparen(node: Node) -> Node:
    while node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_children[0]
    return node


MAX_FOLD_VISITS = 4_000_000
"""Expression nodes one script may fold, all expressions together. Folding is memoised per node
(each node costs one visit however many enclosing calls or chains contain it), so this is only
reached by a script of millions of literal terms; past it, folding stops and the engine notes
that the bound was hit instead of spending unbounded time on one file."""


class Folder:
    """Constant folding of literal expressions for one script, memoised per node.

    Nested decoder calls and chains are reached from several places (the chain's top, every
    `eval(...)`/`atob(...)` around it); without the memo each would fold its whole subtree again,
    which is quadratic in nesting. `visits` counts nodes folded (tests assert it is linear in
    the input); `bound_hit` says which bound stopped folding, if one did.
    """

    def __init__(self, max_visits: int = MAX_FOLD_VISITS) -> None:
        self.memo: dict[int, tuple[str, list[str]] | None] = {}
        self.visits = 0
        self.max_visits = max_visits
        self.bound_hit: str | None = None

    def value(self, node: Node, depth: int = 0) -> tuple[str, list[str]] | None:
        """The string value of an expression built only from literals, with the decoders used.

        Returns (value, steps) where steps name the decoders applied (e.g. ["atob"]); None when
        the expression depends on anything not known statically or a bound stopped folding.
        """
        if depth > MAX_EVAL_DEPTH:
            self.bound_hit = self.bound_hit or f"literal expressions nested over {MAX_EVAL_DEPTH} deep"
            return None
        node = unparen(node)
        key = node.id
        if key in self.memo:
            return self.memo[key]
        self.visits += 1
        if self.visits > self.max_visits:
            self.bound_hit = f"over {self.max_visits:,} expression nodes folded"
            return None
        before = self.bound_hit
        v = self._fold(node, depth)
        if v is not None or self.bound_hit == before:  # a bound's None may fold at a lower depth
            self.memo[key] = v
        return v

    def _fold(self, node: Node, depth: int) -> tuple[str, list[str]] | None:
        lit = literal_text(node)
        if lit is not None:
            return lit, []
        t = node.type
        if t == "number":
            return (node.text or b"").decode(), []
        if t == "binary_expression":
            op = node.child_by_field_name("operator")
            if op is None or op.type != "+":
                return None
            # walk the left spine iteratively: 'a' + 'b' + 'c' nests to the left, one visit per term
            parts: list[Node] = []
            cur = node
            while cur.type == "binary_expression":
                o = cur.child_by_field_name("operator")
                if o is None or o.type != "+":
                    break
                right = cur.child_by_field_name("right")
                if right is None:
                    return None
                parts.append(right)
                self.visits += 1
                if self.visits > self.max_visits:
                    self.bound_hit = f"over {self.max_visits:,} expression nodes folded"
                    return None
                cur = unparen(cur.child_by_field_name("left") or cur)
            parts.append(cur)
            out: list[str] = []
            steps: list[str] = []
            total = 0
            for p in reversed(parts):
                v = self.value(p, depth + 1)
                if v is None:
                    return None
                out.append(v[0])
                steps += v[1]
                total += len(v[0])
                if total > MAX_DECODED:
                    self.bound_hit = self.bound_hit or f"a folded string over {MAX_DECODED >> 20} MB"
                    return None
            return "".join(out), steps
        if t == "call_expression":
            fn = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            if fn is None or args is None:
                return None
            fn = unparen(fn)
            name = _callee_name(fn)
            argv = args.named_children
            if name in _DECODERS and len(argv) >= 1:
                inner = self.value(argv[0], depth + 1)
                if inner is None:
                    return None
                value = _apply_decoder(name, inner[0])
                if value is None and len(inner[0]) > MAX_DECODED:
                    self.bound_hit = self.bound_hit or f"an input to {name}() over {MAX_DECODED >> 20} MB"
                return None if value is None else (value, inner[1] + [name])
            if name in ("String.fromCharCode", "String.fromCodePoint"):
                chars = []
                for a in argv[:MAX_DECODED]:
                    a = unparen(a)
                    if a.type != "number":
                        return None
                    try:
                        chars.append(chr(int((a.text or b"0").decode(), 0)))
                    except ValueError:
                        return None
                return "".join(chars), [name]
            if fn.type == "function_expression":
                unpacked = unpack_packer_call(fn, argv, depth, self)
                if unpacked is not None:
                    return unpacked, ["p,a,c,k,e,d packer"]
            # "...".split("").reverse().join("") and similar need an interpreter: give up
        return None


def evaluate(node: Node, depth: int = 0) -> tuple[str, list[str]] | None:
    """`Folder.value` with a memo of its own, for one expression."""
    return Folder().value(node, depth)


def _apply_decoder(name: str, value: str) -> str | None:
    try:
        if name == "atob":
            data = b64decode_loose(value)
            return None if data is None else data.decode("latin-1")
        if name == "unescape":
            s = re.sub(r"%u([0-9A-Fa-f]{4})", lambda m: chr(int(m.group(1), 16)), value)
            return urllib.parse.unquote(s, encoding="latin-1")
        if name in ("decodeURIComponent", "decodeURI"):
            return urllib.parse.unquote(value, errors="replace")
        if name == "escape":
            return value
    except (ValueError, UnicodeError):
        return None
    return None


# --- the Dean Edwards packer: eval(function(p,a,c,k,e,d){...}('payload',62,N,'k|e|y'.split('|'),0,{}))

_WORD = re.compile(r"\b\w+\b")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _base_n(n: int, radix: int) -> str:
    """The packer's own encoding of a word index (base 62, with chr(n+29) above 35)."""
    out = ""
    while True:
        d = n % radix
        out = (chr(d + 29) if d > 35 else _DIGITS[d]) + out
        n //= radix
        if n == 0:
            return out


def unpack_packer_call(fn: Node, argv: list[Node], depth: int, folder: Folder | None = None) -> str | None:
    """Unpack the p,a,c,k,e,d packer when its arguments are literals; bounded work."""
    folder = folder or Folder()
    params = fn.child_by_field_name("parameters")
    if params is None or params.named_child_count < 4 or len(argv) < 4:
        return None
    payload = folder.value(argv[0], depth + 1)
    if payload is None:
        return None
    try:
        radix = int((unparen(argv[1]).text or b"").decode(), 0)
        count = int((unparen(argv[2]).text or b"").decode(), 0)
    except ValueError:
        return None
    kw_node = unparen(argv[3])
    keywords: list[str] | None = None
    # 'a|b|c'.split('|')
    if kw_node.type == "call_expression":
        f = kw_node.child_by_field_name("function")
        a = kw_node.child_by_field_name("arguments")
        if f is not None and f.type == "member_expression" and a is not None:
            obj = f.child_by_field_name("object")
            prop = f.child_by_field_name("property")
            if obj is not None and prop is not None and prop.text == b"split" and a.named_child_count == 1:
                words = folder.value(obj, depth + 1)
                sep = folder.value(a.named_children[0], depth + 1)
                if words is not None and sep is not None and sep[0]:
                    keywords = words[0].split(sep[0])
    if keywords is None or not 2 <= radix <= 95 or count > 1_000_000:
        return None
    table: dict[str, str] = {}
    for i in range(min(count, len(keywords))):
        if keywords[i]:
            table[_base_n(i, radix)] = keywords[i]
    text = payload[0]
    if len(text) > MAX_DECODED:
        return None
    return _WORD.sub(lambda m: table.get(m.group(0), m.group(0)), text)


# --- raw-text scans (cheap, then confirmed with the tree) ------------------------------------

_STR = rb"(?:'(?:[^'\\\n]|\\.)*+'|\"(?:[^\"\\\n]|\\.)*+\")"
_STRING_ARRAY = re.compile(rb"\[\s*+" + _STR + rb"(?:\s*+,\s*+" + _STR + rb"){7,}+\s*+,?\s*+\]")
_ONE_STR = re.compile(_STR)
_ESCAPE_HIT = re.compile(rb"\\(?:x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|u\{[0-9A-Fa-f]{1,6}\})")
# escapes of printable ASCII: what hiding a word needs (benign code escapes other characters)
_ASCII_ESCAPE_HIT = re.compile(rb"\\(?:x[2-7][0-9A-Fa-f]|u00[2-7][0-9A-Fa-f]|u\{0*[2-7][0-9A-Fa-f]\})")
_LONG_B64 = re.compile(rb"['\"`]([A-Za-z0-9+/]{64,}+={0,2})['\"`]")
_DATA_JS = re.compile(rb"data:(?:text|application)/(?:x-)?(?:javascript|ecmascript)(?:;charset=[\w-]+)?;base64,([A-Za-z0-9+/=]{16,}+)")
_JSISH = re.compile(r"\bfunction\b|=>|\bvar\s|\blet\s|\bconst\s|\breturn\b|[;{}]")


def looks_like_js(text: str) -> bool:
    """Enough code punctuation and keywords that analysing it as JavaScript is worth it."""
    return len(text) >= 24 and len(_JSISH.findall(text[:4096])) >= 3


@dataclass
class StringArrayInfo:
    start: int
    entries: int
    base64_entries: int
    escaped_entries: int


def string_arrays(src: bytes) -> tuple[list[Decoded], list[StringArrayInfo]]:
    """Entries of big string-literal arrays (javascript-obfuscator style), decoded.

    The rotation and index arithmetic need execution; the strings do not: they are the
    evidence. Entries that are plain text are already visible to the token scan, so only
    escaped or base64-encoded entries are returned.
    """
    out: list[Decoded] = []
    infos: list[StringArrayInfo] = []
    for n, m in enumerate(_STRING_ARRAY.finditer(src)):
        if n >= MAX_STRING_ARRAYS:
            break
        entries = _ONE_STR.findall(m.group(0))
        b64 = esc = 0
        for e in entries[:MAX_ARRAY_ENTRIES]:
            body = e[1:-1].decode("utf-8", "replace")
            value = unescape_js(body)
            if value != body:
                esc += 1
                out.append(Decoded(value, m.start(), "escaped string-array entry"))
            text = b64_text(value) if len(value) >= 8 and _B64_ENTRY.match(value) else None
            if text is not None:
                b64 += 1
                out.append(Decoded(text, m.start(), "base64 string-array entry"))
        infos.append(StringArrayInfo(m.start(), len(entries), b64, esc))
    return out, infos


def escaped_strings(src: bytes, root: Node | None,
                    deep: Callable[[int], bool] | None = None) -> tuple[list[Decoded], int]:
    """String literals written with \\xNN / \\uNNNN escapes, decoded.

    `deep(pos)` says a position is too deep in the tree to look up (O(depth) per look-up);
    those literals are found on their line of text instead, as when there is no tree.

    Returns the decoded strings and how many of them escape plain ASCII letters or digits,
    which legitimate code has no reason to do (it escapes control or non-ASCII characters).
    """
    out: list[Decoded] = []
    hidden = 0
    last_end = -1
    seen = 0
    lines = _LineStrings(src)
    for m in _ASCII_ESCAPE_HIT.finditer(src):
        if m.start() < last_end:
            continue
        if root is None or (deep is not None and deep(m.start())):
            # no tree (file too large to parse, or too deep here): the enclosing quotes on the line
            s = lines.string_at(m.start())
            if s is None:
                last_end = m.end()
                continue
            start, end, body = s.start(), s.end(), s.group(0)[1:-1].decode("utf-8", "replace")
        else:
            node = root.descendant_for_byte_range(m.start(), m.end())
            hops = 0
            while node is not None and node.type not in ("string", "template_string") and hops < 3:
                node = node.parent
                hops += 1
            if node is None or node.type not in ("string", "template_string"):
                last_end = m.end()
                continue
            start, end = node.start_byte, node.end_byte
            body = src[start + 1:end - 1].decode("utf-8", "replace")
        last_end = end
        seen += 1
        if seen > MAX_ESCAPED_STRINGS:
            break
        value = unescape_js(body[:MAX_DECODED])
        if value == body:
            continue
        escapes = _ESCAPE_HIT.findall(body.encode("utf-8", "replace"))
        plain = sum(1 for e in escapes if _plain_ascii(e))
        if escapes and plain * 2 >= len(escapes) and plain >= 3:
            hidden += 1
        out.append(Decoded(value, start, "\\x/\\u escapes"))
    return out, hidden


class _LineStrings:
    """The string literal around a position, by the quotes on its line, for positions asked in
    increasing order: each line is scanned once, whatever the number of positions on it (a
    minified file is one line, and a scan from the line start per position is quadratic)."""

    def __init__(self, src: bytes) -> None:
        self.src = src
        self.line_end = -1
        self.strings: Iterator[re.Match[bytes]] = iter(())
        self.current: re.Match[bytes] | None = None

    def string_at(self, pos: int) -> re.Match[bytes] | None:
        src = self.src
        if pos >= self.line_end:
            ls = src.rfind(b"\n", 0, pos) + 1
            le = src.find(b"\n", pos)
            self.line_end = len(src) if le < 0 else le
            self.strings = _ONE_STR.finditer(src, ls, self.line_end)
            self.current = next(self.strings, None)
        while self.current is not None and self.current.end() <= pos:
            self.current = next(self.strings, None)
        cur = self.current
        return cur if cur is not None and cur.start() <= pos else None


def _plain_ascii(esc: bytes) -> bool:
    try:
        cp = int(esc[2:].strip(b"{}"), 16)
    except ValueError:
        return False
    return 0x30 <= cp <= 0x7A and chr(cp).isalnum()


def base64_literals(src: bytes) -> list[Decoded]:
    """Long base64 string literals and javascript: data URLs that decode to text or code."""
    out: list[Decoded] = []
    for n, m in enumerate(_LONG_B64.finditer(src)):
        if n >= MAX_BASE64_LITERALS:
            break
        lit = m.group(1)
        if lit.startswith(b"AGFzbQ"):
            continue  # Wasm: embedded.py takes it
        text = b64_text(lit.decode("ascii"), min_len=64)
        if text is not None:
            out.append(Decoded(text, m.start(), "base64 literal", payload=looks_like_js(text)))
    for m in _DATA_JS.finditer(src):
        data = b64decode_loose(m.group(1).decode("ascii"))
        text = is_texty(data) if data else None
        if text is not None:
            out.append(Decoded(text, m.start(), "data: URL of JavaScript", payload=True))
    return out


# --- packer shapes for the sandbox (sandbox.py) ----------------------------------------------

MIN_PACKED_LITERAL = 48
"""Bytes of the longest string literal (or elements of a number array) fed to a decoder for a
call to count as a packer shape: a packed kit call is ~60 characters, ordinary helper calls
inside `eval` take short arguments or none."""
MIN_PACKED_ARRAY = 32
MAX_SLICE_DEFS = 32
"""Declarations a slice may pull in (the decoder, its helpers, its tables, its input)."""
MAX_SLICE_NODES = 200_000
"""Syntax nodes walked to collect slices' names, all call sites of one script together (a
decoder is a few hundred). Per script, not per call: in `eval(eval(eval(...)))` each call's
subtree holds the next ones, so a budget per call cost 64 walks of the whole nest (an 8 KB
nest took 1.4 s, a 64 KB one 5.5 s and 336 MB in bench_adversarial's js-nest-eval)."""
MAX_SCOPE_HOPS = 64
"""Steps up the tree from the call to find the scopes it can see (each costs O(depth))."""
KNOWN_GLOBALS = frozenset((
    "String", "Math", "Array", "Object", "Number", "parseInt", "parseFloat", "RegExp", "JSON",
    "atob", "btoa", "escape", "unescape", "decodeURIComponent", "decodeURI", "encodeURIComponent",
    "encodeURI", "isNaN", "isFinite", "Uint8Array", "Uint16Array", "Uint32Array", "Int8Array",
    "Int16Array", "Int32Array", "ArrayBuffer", "DataView", "Date", "Boolean", "Symbol", "Map",
    "Set", "undefined", "NaN", "Infinity", "window", "self", "globalThis", "Function", "eval",
    "setTimeout", "setInterval", "execScript",
))
"""Names a decoder may use without a definition in the file: ECMAScript builtins and the
sandbox's whitelist. A packer-shaped call naming anything else (a DOM object, a name from
another script) is not evaluated: it would only throw."""
_DEF_TYPES = ("function_declaration", "generator_function_declaration", "class_declaration")
_DECL_TYPES = ("variable_declaration", "lexical_declaration")


@dataclass
class SliceBudget:
    """What is left of MAX_SLICE_NODES for one script's packer-shape checks."""

    nodes: int = MAX_SLICE_NODES


@dataclass
class PackerSlice:
    """The minimal program that recomputes a packed payload: the declarations the call needs,
    in source order, then the call itself (eval/Function/setTimeout, captured by the sandbox)."""

    source: str
    shape: str
    """How it was packed, for people: e.g. `new Function(lzw(...))`."""


def packer_slice(call: Node, arg: Node,
                 tables: dict[int, dict[str, tuple[Node, Node | None]]] | None = None,
                 budget: SliceBudget | None = None) -> PackerSlice | None:
    """The slice to evaluate when `call` (an eval/Function/setTimeout call site whose argument
    `arg` did not fold statically) has a packer shape, else None.

    The shape: the argument is a call (after at most one hop through a variable) of a function
    defined in the same file, of a function expression (an IIFE such as p,a,c,k,e,d) or of a
    method chain, fed data outside any function body (its arguments, the values of the
    variables it names) holding a long string literal or number array; and every name it uses
    outside function bodies is defined in the file or a builtin. Cheap: a few steps up the
    tree and a walk over the decoder's own nodes, never the whole file. `tables` keeps each
    block's declarations between the calls of one script (a block of n statements is read
    once, not once per call site in it), and `budget` the nodes its walks may still visit."""
    expr = unparen(arg)
    if expr.type not in ("identifier", "call_expression", "new_expression"):
        return None
    scopes = _Scopes(call, {} if tables is None else tables)
    if expr.type == "identifier":  # var code = decode('...'); eval(code)
        d = scopes.lookup((expr.text or b"").decode("utf-8", "replace"))
        if d is None or d[1] is None:
            return None
        expr = unparen(d[1])
    if expr.type not in ("call_expression", "new_expression"):
        return None
    fn = expr.child_by_field_name("function") or expr.child_by_field_name("constructor")
    if fn is None:
        return None
    fn = unparen(fn)
    if fn.type == "identifier" and (fn.text or b"").decode("utf-8", "replace") not in KNOWN_GLOBALS \
            and scopes.lookup((fn.text or b"").decode("utf-8", "replace")) is None:
        return None  # a function from another script: the slice could only throw (no walk needed)
    if fn.type in ("member_expression", "subscript_expression"):
        # a method chain on data ("...".split('').reverse().join('')) for eval/Function only:
        # a timer fed `this.tick.bind(this)` is a callback, not a payload
        outer = call.child_by_field_name("function") or call.child_by_field_name("constructor")
        root_obj = fn
        while root_obj.type in ("member_expression", "call_expression", "subscript_expression"):
            nxt = root_obj.child_by_field_name("object") or root_obj.child_by_field_name("function")
            if nxt is None:
                break
            root_obj = unparen(nxt)
        if root_obj.type == "this" or (outer is not None and outer.text in (b"setTimeout", b"setInterval")):
            return None
    args = expr.child_by_field_name("arguments")
    iife = fn.type in ("function_expression", "arrow_function")
    walker = _SliceWalk(SliceBudget() if budget is None else budget)
    # a zero-argument IIFE keeps its data in its own body
    if not walker.walk(call, data_in_functions=iife and (args is None or not args.named_children)):
        return None
    if any(n not in KNOWN_GLOBALS and scopes.lookup(n) is None for n in walker.strict):
        return None
    defs: dict[int, Node] = {}
    pending = list(walker.strict) + list(walker.soft)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        d = scopes.lookup(name)
        if d is None:
            continue
        node = d[0]
        if node.start_byte <= call.start_byte < node.end_byte:
            return None  # the call sits inside its own decoder: not a slice we can cut
        if node.id in defs:
            continue
        if len(defs) >= MAX_SLICE_DEFS:
            return None
        defs[node.id] = node
        ns, nf = len(walker.strict), len(walker.soft)
        if not walker.walk(node):
            return None
        pending += walker.strict[ns:] + walker.soft[nf:]
    local_decoder = iife or fn.type in ("member_expression", "subscript_expression") or any(
        n.type in _DEF_TYPES or _is_function_value(n) for n in defs.values())
    if not local_decoder or walker.longest < MIN_PACKED_LITERAL:
        return None
    parts = []
    for node in sorted(defs.values(), key=lambda n: n.start_byte):
        text = (node.text or b"").decode("utf-8", "replace")
        parts.append(text if node.type in _DEF_TYPES else f"var {text};")
    parts.append((call.text or b"").decode("utf-8", "replace") + ";")
    source = "\n".join(parts)
    if len(source) > MAX_DECODED:
        return None
    return PackerSlice(source, _shape_of(call, expr))


def _is_function_value(decl: Node) -> bool:
    v = decl.child_by_field_name("value")
    return v is not None and unparen(v).type in ("function_expression", "arrow_function")


def _shape_of(call: Node, expr: Node) -> str:
    fn = call.child_by_field_name("function") or call.child_by_field_name("constructor")
    outer = (fn.text or b"")[:24].decode("utf-8", "replace") if fn is not None else "eval"
    if call.type == "new_expression":
        outer = "new " + outer
    callee = expr.child_by_field_name("function") or expr.child_by_field_name("constructor")
    inner = "function(...){...}" if callee is not None and unparen(callee).type in (
        "function_expression", "arrow_function") else (
        (callee.text or b"")[:32].decode("utf-8", "replace") if callee is not None else "?")
    return f"{outer}({inner}(...))"


_FUNCTION_NODES = frozenset(("function_expression", "arrow_function", "function_declaration",
                             "generator_function", "generator_function_declaration", "method_definition",
                             "class_declaration", "class"))


class _SliceWalk:
    """Names used under the nodes walked, and the longest data literal, within a node budget.

    `strict`: names used outside any function body (they must resolve, or the slice would only
    throw); `soft`: names used inside function bodies (pulled in when the file defines them,
    else taken as the function's own locals). Data literals count only outside function
    bodies, unless `data_in_functions`."""

    def __init__(self, budget: SliceBudget) -> None:
        self.strict: list[str] = []
        self.soft: list[str] = []
        self._seen: set[str] = set()
        self.longest = 0
        self.budget = budget

    def walk(self, root: Node, *, data_in_functions: bool = False) -> bool:
        stack: list[tuple[Node, bool]] = [(root, root.type in _FUNCTION_NODES)]
        while stack:
            n, in_fn = stack.pop()
            if self.budget.nodes <= 0:
                return False
            self.budget.nodes -= 1
            t = n.type
            if t in ("string", "template_string"):
                if not in_fn or data_in_functions:
                    self.longest = max(self.longest, n.end_byte - n.start_byte - 2)
                if t == "string":
                    continue
            elif t == "array" and n.named_child_count >= MIN_PACKED_ARRAY and (not in_fn or data_in_functions):
                self.longest = max(self.longest, MIN_PACKED_LITERAL)
            elif t in ("identifier", "shorthand_property_identifier"):
                name = (n.text or b"").decode("utf-8", "replace")
                key = ("s:" if in_fn else "S:") + name
                if key not in self._seen:
                    self._seen.add(key)
                    (self.soft if in_fn else self.strict).append(name)
                continue
            inner = in_fn or t in _FUNCTION_NODES
            stack.extend((c, inner) for c in reversed(n.named_children))
        return True


class _Scopes:
    """Declarations visible from a call: the direct children of each enclosing block or
    program (function and class declarations, var/let/const declarators), nearest first."""

    def __init__(self, call: Node, cache: dict[int, dict[str, tuple[Node, Node | None]]]) -> None:
        self.cache = cache
        self.blocks: list[Node] = []
        node = call.parent
        hops = 0
        while node is not None and hops < MAX_SCOPE_HOPS:
            if node.type in ("statement_block", "program"):
                self.blocks.append(node)
            node = node.parent
            hops += 1
        self._tables: list[dict[str, tuple[Node, Node | None]]] | None = None

    def lookup(self, name: str) -> tuple[Node, Node | None] | None:
        """(the declaration to copy, the value expression or None) for `name`."""
        if self._tables is None:
            self._tables = []
            for b in self.blocks:
                if b.id not in self.cache:
                    self.cache[b.id] = self._table(b)
                self._tables.append(self.cache[b.id])
        for table in self._tables:
            if name in table:
                return table[name]
        return None

    @staticmethod
    def _table(block: Node) -> dict[str, tuple[Node, Node | None]]:
        table: dict[str, tuple[Node, Node | None]] = {}
        for st in block.named_children:
            if st.type in _DEF_TYPES:
                nm = st.child_by_field_name("name")
                if nm is not None:
                    table.setdefault((nm.text or b"").decode("utf-8", "replace"), (st, None))
            elif st.type in _DECL_TYPES:
                for d in st.named_children:
                    if d.type != "variable_declarator":
                        continue
                    nm = d.child_by_field_name("name")
                    if nm is not None and nm.type == "identifier":
                        table.setdefault((nm.text or b"").decode("utf-8", "replace"),
                                         (d, d.child_by_field_name("value")))
        return table
