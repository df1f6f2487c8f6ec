"""Resolve javascript-obfuscator string arrays statically, and rewrite the script with the
strings put back, so structure rules see `new X.Anonymous('key', ...)` again.

javascript-obfuscator moves every string into one array and replaces each use with a call to
a decoder, `_0x5580(0x79)` or `_0x5580(0x1a5, 'KeY1')`, often through wrapper functions
(`function w(a, b) { return _0x5580(b - -0x27d, a); }`) and local constant objects
(`var c = {O: 0x201}`). The array is rotated at start-up until an arithmetic checksum of
`parseInt(decoded entries)` equals a constant. All of this is a standard shape with a closed
semantics, so we evaluate exactly that shape and nothing else:

- numbers, strings, unary/binary arithmetic, `parseInt`, member reads of local object
  literals, calls of the decoder, of its aliases and of single-return wrapper functions;
- the decoder's index offset, and its encoding: none, base64 (the obfuscator's lowercase-first
  alphabet, or the standard one of its `atob` polyfill in builds before 2.0, the 2017-2019
  builds that miner kits shipped; then UTF-8), or RC4 (base64, then RC4 with the call site's
  key);
- the rotation, found by trying every rotation against the checksum (each try stops at the
  first entry that is not a number, so wrong rotations cost one decode).

Nothing is executed; every loop is bounded by the array size and a work budget, and any
construct outside the shape makes that one expression unknown (the rest still resolves).
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_right
from dataclasses import dataclass, field

from tree_sitter import Node

from webscan.js.deobfuscate import b64decode_loose, literal_text

MAX_ENTRIES = 50_000
MAX_NODES = 3_000_000
MAX_EVAL_DEPTH = 48
MAX_WORK = 400_000  # evaluation steps per script, all expressions together
MAX_EDITS = 200_000
_SWAP = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_B64_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/="
_B64_STANDARD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
# the decoder's first statement subtracts the index offset: `function D(i, k) { i = i - 0x76;`
# and the next reads the array: `var a = arrFn();` or `var v = ARR[i];`
_DECODER_HINT = re.compile(
    rb"function\s*[\w$]*\s*\(\s*([\w$]+)\s*(?:,\s*[\w$]+\s*)?\)\s*\{\s*"
    rb"(?:var\s+)?\1\s*=\s*\1\s*-[^;{}]{1,200};\s*(?:var|let|const)\s+[\w$]+\s*=\s*[\w$]+\s*"
    rb"(?:\(\s*\)|\[\s*\1\s*\])")
_IDENT = re.compile(r"^[A-Za-z_$][\w$]*$")
_INDEX_STRING = re.compile(r"^\s*(0[xX][0-9A-Fa-f]{1,8}|\d{1,9})\s*$")
_PARSE_INT = re.compile(r"^\s*([+-]?)(0[xX][0-9A-Fa-f]+|\d+)")
_FUNCS = ("function_declaration", "function_expression", "arrow_function", "method_definition",
          "generator_function_declaration", "function")


_CANDIDATES = frozenset(("call_expression", "new_expression", "binary_expression",
                         "subscript_expression", "member_expression"))


class _Unknown(Exception):
    """The expression depends on something outside the evaluated shape."""


def looks_obfuscated(src: bytes) -> bool:
    """Cheap check (one regex in C) that a javascript-obfuscator decoder may be present."""
    return _DECODER_HINT.search(src) is not None


@dataclass
class _Decoder:
    name: str
    offset: int
    array: list[str]
    encoding: str  # "none" | "base64" | "rc4"
    rotation: int = 0
    swapped: bool = True
    """The alphabet is lowercase-first (javascript-obfuscator 2.x on), not the standard one."""


@dataclass
class Resolved:
    """The script with resolved strings put back, and the strings themselves."""

    text: str
    strings: list[str]
    calls: int  # decoder calls resolved
    rotation: int
    encodings: list[str]
    edits: list[tuple[int, int, int, int]] = field(default_factory=list)
    """(new start, new end, old start, old end) of every replaced range, in order."""


def _js_number(text: str) -> float | int:
    t = text.replace("_", "")
    try:
        if t[:2] in ("0x", "0X"):
            return int(t, 16)
        if t[:2] in ("0o", "0O"):
            return int(t[2:], 8)
        if t[:2] in ("0b", "0B"):
            return int(t[2:], 2)
        if t.endswith("n"):
            return int(t[:-1])
        v = float(t)
        return int(v) if v.is_integer() and "." not in t and "e" not in t.lower() else v
    except ValueError:
        raise _Unknown from None


def _parse_int(s: object) -> float | int:
    if not isinstance(s, str):
        s = _to_str(s)
    m = _PARSE_INT.match(s)
    if m is None:
        return math.nan
    sign = -1 if m.group(1) == "-" else 1
    digits = m.group(2)
    return sign * (int(digits, 16) if digits[:2].lower() == "0x" else int(digits))


def _to_str(v: object) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if v.is_integer() and abs(v) < 1e21:
            return str(int(v))
        return repr(v)
    return str(v)


def _rc4(data: str, key: str) -> str:
    s = list(range(256))
    j = 0
    kl = len(key)
    for i in range(256):
        j = (j + s[i] + ord(key[i % kl])) % 256
        s[i], s[j] = s[j], s[i]
    i = j = 0
    out = []
    for ch in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(chr(ord(ch) ^ s[(s[i] + s[j]) % 256]))
    return "".join(out)


def _b64(entry: str, swapped: bool = True) -> str | None:
    """The obfuscator's base64 (lowercase-first alphabet where `swapped`), then
    decodeURIComponent (UTF-8)."""
    data = b64decode_loose(entry.translate(_SWAP) if swapped else entry) if len(entry) >= 2 else b""
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class _Resolver:
    def __init__(self, src: bytes, root: Node):
        self.src = src
        self.root = root
        # name -> [(scope start, scope end, kind, node)]
        self.defs: dict[str, list[tuple[int, int, str, Node]]] = {}
        self.candidates: list[Node] = []
        # id of a node alone in parentheses -> (the outermost of those parentheses, the type of
        # what holds them): tree-sitter's `Node.parent` searches down from the root, O(depth)
        # per call, so asking it for every link of a long `+` chain was quadratic.
        self.wraps: dict[int, tuple[Node, str]] = {}
        self.decoders: dict[int, _Decoder] = {}  # by definition node id
        self.arrays: dict[int, list[str] | None] = {}
        self.rotation = 0
        self.cache: dict[tuple, str | None] = {}
        self.work = 0
        self.calls = 0

    # --- symbol table ------------------------------------------------------------------------

    def collect(self) -> bool:
        stack: list[tuple[Node, int, int, str]] = [(self.root, 0, len(self.src), "")]
        seen = 0
        while stack:
            node, s, e, above = stack.pop()
            seen += 1
            if seen > MAX_NODES:
                return False
            t = node.type
            if t == "function_declaration":
                name = node.child_by_field_name("name")
                if name is not None:
                    self._define(name.text.decode("utf-8", "replace"), s, e, "func", node)
            elif t == "variable_declarator":
                name = node.child_by_field_name("name")
                value = node.child_by_field_name("value")
                if name is not None and name.type == "identifier" and value is not None:
                    v = value
                    while v.type == "parenthesized_expression" and v.named_child_count == 1:
                        v = v.named_children[0]
                    kind = {"identifier": "alias", "object": "obj", "function_expression": "func",
                            "array": "array", "member_expression": "member"}.get(v.type)
                    if kind:
                        self._define(name.text.decode("utf-8", "replace"), s, e, kind, v)
            elif t in _CANDIDATES or (t == "string" and b"\\" in node.text):
                self.candidates.append(node)
            elif t == "parenthesized_expression" and node.named_child_count == 1:
                self.wraps[node.named_children[0].id] = self.wraps.get(node.id, (node, above))
            if t in _FUNCS:
                s, e = node.start_byte, node.end_byte
            for c in reversed(node.named_children):
                stack.append((c, s, e, t))
        return True

    def _define(self, name: str, s: int, e: int, kind: str, node: Node) -> None:
        self.defs.setdefault(name, []).append((s, e, kind, node))

    def lookup(self, name: str, pos: int) -> tuple[str, Node] | None:
        """The innermost definition of `name` visible at `pos`. Each definition looked at is
        charged to the work budget: a name defined thousands of times (hostile input) would
        otherwise make every look-up of it cost the whole list, quadratic in the script."""
        defs = self.defs.get(name, ())
        self.work += len(defs)
        best = None
        for s, e, kind, node in defs:
            if s <= pos < e and (best is None or e - s < best[1] - best[0]):
                best = (s, e, kind, node)
        return None if best is None else (best[2], best[3])

    # --- decoders ----------------------------------------------------------------------------

    def find_decoders(self) -> None:
        for name, defs in self.defs.items():
            for _, _, kind, node in defs:
                if kind != "func":
                    continue
                dec = self._decoder_of(name, node)
                if dec is not None:
                    self.decoders[node.id] = dec

    def _decoder_of(self, name: str, fn: Node) -> _Decoder | None:
        params = fn.child_by_field_name("parameters")
        body = fn.child_by_field_name("body")
        if params is None or body is None or not 1 <= params.named_child_count <= 2:
            return None
        stmts = body.named_children
        if not stmts:
            return None
        p = params.named_children[0].text.decode("utf-8", "replace")
        first = stmts[0]
        expr = first.named_children[0] if first.type == "expression_statement" and first.named_children else None
        if expr is None and first.type in ("variable_declaration", "lexical_declaration"):
            expr = first.named_children[0] if first.named_children else None
        if expr is None:
            return None
        if expr.type == "assignment_expression":
            left, right = expr.child_by_field_name("left"), expr.child_by_field_name("right")
        elif expr.type == "variable_declarator":
            left, right = expr.child_by_field_name("name"), expr.child_by_field_name("value")
        else:
            return None
        if left is None or right is None or left.text.decode("utf-8", "replace") != p:
            return None
        if right.type != "binary_expression" or right.child_by_field_name("operator").type != "-":
            return None
        rl = right.child_by_field_name("left")
        if rl is None or rl.text.decode("utf-8", "replace") != p:
            return None
        try:
            offset = self.ev(right.child_by_field_name("right"), {}, fn.start_byte, 0)
        except _Unknown:
            return None
        if not isinstance(offset, (int, float)) or not float(offset).is_integer():
            return None
        array = self._array_for(body, fn.start_byte)
        if array is None:
            return None
        text = body.text.decode("utf-8", "replace")
        encoding = "none"
        swapped = _B64_ALPHABET in text
        if swapped or _B64_STANDARD in text:
            encoding = "base64"
            if params.named_child_count == 2:
                key = params.named_children[1].text.decode("utf-8", "replace")
                if len(re.findall(r"(?<![\w$])" + re.escape(key) + r"(?![\w$])", text)) > 0:
                    encoding = "rc4"
        return _Decoder(name, int(offset), array, encoding, swapped=swapped)

    def _array_for(self, body: Node, pos: int) -> list[str] | None:
        """The string array a decoder reads: `var A = arrFn();` or `ARR[i]` in its body."""
        stack = [body]
        n = 0
        while stack and n < 400:
            node = stack.pop()
            n += 1
            if node.type == "call_expression":
                fn = node.child_by_field_name("function")
                args = node.child_by_field_name("arguments")
                if fn is not None and fn.type == "identifier" and args is not None and args.named_child_count == 0:
                    arr = self._array_named(fn.text.decode("utf-8", "replace"), pos)
                    if arr is not None:
                        return arr
            elif node.type == "subscript_expression":
                obj = node.child_by_field_name("object")
                if obj is not None and obj.type == "identifier":
                    arr = self._array_named(obj.text.decode("utf-8", "replace"), pos)
                    if arr is not None:
                        return arr
            if node.type not in _FUNCS or node is body:
                stack.extend(reversed(node.named_children))
        return None

    def _array_named(self, name: str, pos: int) -> list[str] | None:
        d = self.lookup(name, pos)
        if d is None:
            return None
        if d[1].id not in self.arrays:  # one list per definition: decoders share it by identity
            self.arrays[d[1].id] = self._array_of(*d)
        return self.arrays[d[1].id]

    def _array_of(self, kind: str, node: Node) -> list[str] | None:
        if kind == "func":  # function A() { var x = [...]; A = function () { return x; }; return A(); }
            stack = [node.child_by_field_name("body")]
            while stack:
                cur = stack.pop()
                if cur is None:
                    continue
                if cur.type == "array":
                    return self._strings_of(cur)
                if cur.type in ("statement_block", "variable_declaration", "lexical_declaration",
                                "variable_declarator", "expression_statement", "assignment_expression"):
                    stack.extend(reversed(cur.named_children))
            return None
        if kind == "array":
            return self._strings_of(node)
        return None

    @staticmethod
    def _strings_of(arr: Node) -> list[str] | None:
        out = []
        for c in arr.named_children[:MAX_ENTRIES]:
            v = literal_text(c)
            if v is None:
                return None
            out.append(v)
        return out if len(out) >= 2 else None

    # --- rotation ----------------------------------------------------------------------------

    def solve_rotation(self) -> None:
        """Find `(function (arrFn, target) { ... parseInt(...) ... === target ... }(arrFn, K))`."""
        for node in self.candidates:
            if node.type != "call_expression":
                continue
            fn = node.child_by_field_name("function")
            while fn is not None and fn.type == "parenthesized_expression" and fn.named_child_count == 1:
                fn = fn.named_children[0]
            args = node.child_by_field_name("arguments")
            if fn is None or fn.type != "function_expression" or args is None or args.named_child_count != 2:
                continue
            a0 = args.named_children[0]
            if a0.type != "identifier":
                continue
            arr = self._array_named(a0.text.decode("utf-8", "replace"), node.start_byte)
            if arr is None:
                continue
            dec = next((d for d in self.decoders.values() if d.array is arr), None)
            if dec is None:
                continue
            try:
                target = self.ev(args.named_children[1], {}, node.start_byte, 0)
            except _Unknown:
                continue
            params = fn.child_by_field_name("parameters")
            if params is None or params.named_child_count != 2:
                continue
            tname = params.named_children[1].text.decode("utf-8", "replace")
            check = self._checksum_expr(fn, tname)
            if check is None:
                # older builds: rotate by the literal count, `while (--n) push(shift())` after `++n`
                if b"push" in fn.text and b"shift" in fn.text and isinstance(target, int):
                    self._set_rotation(dec, target % len(arr))
                return
            n = len(arr)
            for r in range(n):
                self._set_rotation(dec, r)
                try:
                    v = self.ev(check, {}, check.start_byte, 0)
                except _Unknown:
                    continue
                if isinstance(v, (int, float)) and v == target:
                    return
                if self.work > MAX_WORK:
                    break
            self._set_rotation(dec, 0)
            return

    def _set_rotation(self, dec: _Decoder, r: int) -> None:
        for d in self.decoders.values():
            if d.array is dec.array:
                d.rotation = r
        self.rotation = r

    def _checksum_expr(self, fn: Node, tname: str) -> Node | None:
        """The expression compared with the target: `var v = <expr>; if (v === target) ...`."""
        body = fn.child_by_field_name("body")
        stack = [body] if body is not None else []
        var_of_check: str | None = None
        decls: dict[str, Node] = {}
        n = 0
        while stack and n < 5000:
            node = stack.pop()
            n += 1
            if node.type == "binary_expression" and node.child_by_field_name("operator").type in ("===", "=="):
                l, r = node.child_by_field_name("left"), node.child_by_field_name("right")
                if r is not None and r.text.decode("utf-8", "replace") == tname and l is not None:
                    if l.type == "identifier":
                        var_of_check = l.text.decode("utf-8", "replace")
                    else:
                        return l
            elif node.type == "variable_declarator":
                nm, val = node.child_by_field_name("name"), node.child_by_field_name("value")
                if nm is not None and val is not None:
                    decls[nm.text.decode("utf-8", "replace")] = val
            stack.extend(reversed(node.named_children))
        return decls.get(var_of_check) if var_of_check else None

    # --- evaluation --------------------------------------------------------------------------

    def ev(self, node: Node | None, env: dict[str, object], pos: int, depth: int) -> object:
        self.work += 1
        if node is None or depth > MAX_EVAL_DEPTH or self.work > MAX_WORK:
            raise _Unknown
        t = node.type
        if t == "number":
            return _js_number(node.text.decode("ascii", "replace"))
        if t == "string":
            v = literal_text(node)
            if v is None:
                raise _Unknown
            return v
        if t == "parenthesized_expression" and node.named_child_count == 1:
            return self.ev(node.named_children[0], env, pos, depth + 1)
        if t == "unary_expression":
            op = node.child_by_field_name("operator").type
            v = self.ev(node.child_by_field_name("argument"), env, pos, depth + 1)
            if op == "-" and isinstance(v, (int, float)):
                return -v
            if op == "+" and isinstance(v, (int, float)):
                return v
            raise _Unknown
        if t == "binary_expression":
            op = node.child_by_field_name("operator").type
            a = self.ev(node.child_by_field_name("left"), env, pos, depth + 1)
            b = self.ev(node.child_by_field_name("right"), env, pos, depth + 1)
            return _binop(op, a, b)
        if t == "identifier":
            name = node.text.decode("utf-8", "replace")
            if name in env:
                return env[name]
            raise _Unknown
        if t in ("member_expression", "subscript_expression"):
            obj = node.child_by_field_name("object")
            if obj is None or obj.type != "identifier":
                raise _Unknown
            if t == "member_expression":
                prop = node.child_by_field_name("property").text.decode("utf-8", "replace")
            else:
                prop = _to_str(self.ev(node.child_by_field_name("index"), env, pos, depth + 1))
            d = self.lookup(obj.text.decode("utf-8", "replace"), pos)
            if d is None or d[0] != "obj":
                raise _Unknown
            for pair in d[1].named_children:
                if pair.type != "pair":
                    continue
                k = pair.child_by_field_name("key")
                key = literal_text(k) if k.type == "string" else k.text.decode("utf-8", "replace")
                if key == prop:
                    return self.ev(pair.child_by_field_name("value"), {}, pair.start_byte, depth + 1)
            raise _Unknown
        if t == "call_expression":
            return self.call(node, env, pos, depth)
        raise _Unknown

    def call(self, node: Node, env: dict[str, object], pos: int, depth: int) -> object:
        fn = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        if fn is None or args is None or fn.type != "identifier":
            raise _Unknown
        name = fn.text.decode("utf-8", "replace")
        argv = [self.ev(a, env, pos, depth + 1) for a in args.named_children]
        return self.apply(name, argv, pos, depth)

    def apply(self, name: str, argv: list[object], pos: int, depth: int) -> object:
        if depth > MAX_EVAL_DEPTH:
            raise _Unknown
        d = self.lookup(name, pos)
        if d is None:
            if name == "parseInt" and argv:
                return _parse_int(argv[0])
            raise _Unknown
        kind, node = d
        if kind == "alias":
            return self.apply(node.text.decode("utf-8", "replace"), argv, node.start_byte, depth + 1)
        if kind != "func":
            raise _Unknown
        dec = self.decoders.get(node.id)
        if dec is not None:
            return self.decode(dec, argv)
        # a wrapper: optional local constant objects, then `return callee(args...)`
        params = node.child_by_field_name("parameters")
        body = node.child_by_field_name("body")
        if params is None or body is None:
            raise _Unknown
        stmts = body.named_children
        if not stmts or stmts[-1].type != "return_statement" or len(stmts) > 3:
            raise _Unknown
        ret = stmts[-1].named_children[0] if stmts[-1].named_children else None
        if ret is None or ret.type != "call_expression":
            raise _Unknown
        names = [p.text.decode("utf-8", "replace") for p in params.named_children if p.type == "identifier"]
        if len(names) != params.named_child_count:
            raise _Unknown
        env = {n: (argv[i] if i < len(argv) else None) for i, n in enumerate(names)}
        return self.call(ret, env, ret.start_byte, depth + 1)

    def decode(self, dec: _Decoder, argv: list[object]) -> str:
        index = argv[0] if argv else None
        if isinstance(index, str):
            # builds before 2.0 pass the index as a hex string ('0x1f'); the decoder's first
            # statement, `i = i - 0x0`, makes it a number as JavaScript's Number() would
            m = _INDEX_STRING.match(index)
            if m is None:
                raise _Unknown
            index = int(m.group(1), 0) if m.group(1)[:2].lower() == "0x" else int(m.group(1))
        if not isinstance(index, (int, float)) or not float(index).is_integer():
            raise _Unknown
        n = len(dec.array)
        i = int(index) - dec.offset
        if not 0 <= i < n:
            raise _Unknown
        j = (i + dec.rotation) % n
        key = argv[1] if len(argv) > 1 and isinstance(argv[1], str) else None
        ck = (id(dec.array), j, dec.encoding, dec.swapped, key if dec.encoding == "rc4" else None)
        if ck in self.cache:
            v = self.cache[ck]
        else:
            entry = dec.array[j]
            self.work += len(entry) // 8 + (40 if dec.encoding == "rc4" else 1)
            if dec.encoding == "none":
                v = entry
            elif dec.encoding == "base64":
                v = _b64(entry, dec.swapped)
            else:
                raw = _b64(entry, dec.swapped)
                v = None if raw is None or not key else _rc4(raw, key)
            self.cache[ck] = v
        if v is None:
            raise _Unknown
        return v

    # --- the rewrite -------------------------------------------------------------------------

    def rewrite(self) -> Resolved | None:
        """Replace what evaluates to a string with a literal, `X['name']` with `X.name`, and
        a callee that is an alias of a member (`var A = NS.Anonymous; new A()`) with it."""
        edits: list[tuple[int, int, str]] = []
        strings: list[str] = []
        calls = 0
        for node in self.candidates:
            if self.work > MAX_WORK * 4 or len(edits) > MAX_EDITS:
                break
            t = node.type
            if t == "subscript_expression":
                obj, idx = node.child_by_field_name("object"), node.child_by_field_name("index")
                if obj is None or idx is None or idx.type == "number":
                    continue
                v = self._value(idx)
                if isinstance(v, str) and _IDENT.match(v):
                    if obj.type == "identifier" and obj.text in (b"window", b"self", b"globalThis"):
                        edits.append((node.start_byte, node.end_byte, v))  # window['X'] is X
                    else:
                        edits.append((obj.end_byte, node.end_byte, "." + v))
                continue
            if t == "string":  # escapes spelling plain text: write the text
                v = literal_text(node)
                if v is not None and v.isascii() and v.isprintable():
                    edits.append((node.start_byte, node.end_byte, json.dumps(v)))
                continue
            if t == "binary_expression" and node.child_by_field_name("operator").type != "+":
                continue
            if t == "member_expression":
                obj = node.child_by_field_name("object")
                if obj is None or obj.type != "identifier" or obj.text.decode("utf-8", "replace") not in self.defs:
                    continue
            if t in ("call_expression", "new_expression"):
                fn = node.child_by_field_name("function") or node.child_by_field_name("constructor")
                if fn is None or fn.type != "identifier":
                    continue
                name = fn.text.decode("utf-8", "replace")
                if name not in self.defs:
                    continue
                d = self.lookup(name, node.start_byte)
                if d is not None and d[0] == "member":
                    edits.append((fn.start_byte, fn.end_byte, d[1].text.decode("utf-8", "replace")))
                    continue
                if t == "new_expression":
                    continue
            v = self._value(node)
            if isinstance(v, str):
                # ('a' + 'b') becomes "ab", without the parentheses
                outer, above = self.wraps.get(node.id, (node, ""))
                if above in ("call_expression", "new_expression", "member_expression"):
                    outer = node  # keep `(x)` where dropping it would change the parse
                edits.append((outer.start_byte, outer.end_byte, json.dumps(v)))
                strings.append(v)
                if t == "call_expression":
                    calls += 1
        if not edits:
            return None
        edits.sort(key=lambda e: (e[0], -e[1]))
        out: list[bytes] = []
        mapping: list[tuple[int, int, int]] = []
        pos = 0
        size = 0
        for s, e, rep in edits:
            if s < pos:
                continue
            chunk = self.src[pos:s]
            out.append(chunk)
            size += len(chunk)
            r = rep.encode("utf-8", "surrogatepass")
            mapping.append((size, size + len(r), s, e))
            out.append(r)
            size += len(r)
            pos = e
        out.append(self.src[pos:])
        encs = sorted({d.encoding for d in self.decoders.values()})
        return Resolved(b"".join(out).decode("utf-8", "replace"), strings, calls, self.rotation,
                        encs, mapping)

    def _value(self, node: Node) -> object:
        try:
            return self.ev(node, {}, node.start_byte, 0)
        except (_Unknown, RecursionError, ZeroDivisionError, OverflowError, ValueError, TypeError):
            return None


def _binop(op: str, a: object, b: object) -> object:
    if op == "+":
        if isinstance(a, str) or isinstance(b, str):
            return _to_str(a) + _to_str(b)
        return a + b  # type: ignore[operator]
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        raise _Unknown
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            raise _Unknown
        r = a / b
        return int(r) if isinstance(a, int) and isinstance(b, int) and a % b == 0 else r
    if op == "%" and b:
        return math.fmod(a, b)
    raise _Unknown


def resolve(src: bytes, root: Node, *, normalise: bool = False) -> Resolved | None:
    """The script with its javascript-obfuscator strings resolved, or None when nothing
    resolved. With `normalise`, also rewrite scripts without a decoder (bracket access with
    literal names, literal concatenations, aliased constructors). Bounded; never raises."""
    decoder = looks_obfuscated(src)
    if not decoder and not normalise:
        return None
    r = _Resolver(src, root)
    if not r.collect():
        return None
    if decoder:
        r.find_decoders()
        if r.decoders:
            r.solve_rotation()
    if not r.decoders and not normalise:
        return None
    return r.rewrite()


def map_back(edits: list[tuple[int, int, int, int]], b: int) -> int:
    """A byte offset in the rewritten text as the offset of the same code in the original."""
    k = bisect_right(edits, (b, float("inf"))) - 1
    if k < 0:
        return b
    ns, ne, os_, oe = edits[k]
    return os_ if b < ne else oe + (b - ne)
