"""Pool messages built through a sending helper: `rpc("login", {...})`, `this._send("auth", p)`.

Many miner clients never write a message as one literal. They keep one function that wraps
its arguments into the envelope (`{method: method, params: params}`, CoinHive's
`{type: type, params: params}`) and call it with the message name and body. Neither the
envelope nor the call has the whole shape, but the two together do: this module finds calls
whose first argument is a protocol message name, finds the called helper's envelope, and
rebuilds the message each call sends, so it is matched like a literal one.

Bounded for benign code: it only looks further when a call with a message name as its first
string argument exists, and then at most a few helpers, definitions and calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tree_sitter import Node

MAX_CALLS = 64
MAX_HELPERS = 8
MAX_DEFINITIONS = 4
MAX_NODES = 4000  # walked inside one helper while looking for its envelope

_FUNCTION_TYPES = ("function_declaration", "function_expression", "function", "arrow_function",
                   "method_definition", "generator_function_declaration")
_IDENT = r"[A-Za-z_$][\w$]*"
MAX_CALLEE_BYTES = 256
_CALLEE = re.compile(rf"(?<![\w$])({_IDENT})\s*\Z".encode())
"""The callee just before a call's `(`, searched in a window that ends there."""


class HelperCalls:
    """Compiled once per engine from the protocol rules' message names."""

    def __init__(self, name_values: dict[str, frozenset[str]]) -> None:
        self.name_values = name_values  # envelope key -> message names ("method" -> login...)
        names = sorted({v for vs in name_values.values() for v in vs}, key=len, reverse=True)
        self._call = None
        if names:
            alt = "|".join(re.escape(n) for n in names)
            # the message name first: a pattern that starts at every identifier costs a regex
            # attempt per identifier of a bundle; the callee is read backwards from the `(`
            self._call = re.compile(rf"\(\s*([\"'])({alt})\1\s*[,)]".encode())

    def messages(self, src: bytes, root: Node, object_shape: Callable[[Node], dict]
                 ) -> list[tuple[dict, Node]]:
        """(message shape, call node) for every helper call that sends a protocol message."""
        if self._call is None:
            return []
        calls: dict[str, list[tuple[int, str]]] = {}
        n = 0
        for m in self._call.finditer(src):
            callee = _CALLEE.search(src, max(0, m.start() - MAX_CALLEE_BYTES), m.start())
            if callee is None:
                continue
            n += 1
            if n > MAX_CALLS:
                break
            name = callee.group(1).decode("utf-8", "replace")
            if name in ("function", "if", "while", "for", "switch", "return", "typeof"):
                continue
            calls.setdefault(name, []).append((m.start(1), m.group(2).decode()))
        out: list[tuple[dict, Node]] = []
        for name in list(calls)[:MAX_HELPERS]:
            envelope = self._envelope(src, root, name)
            if envelope is None:
                continue
            obj, name_key, params = envelope
            for pos, message in calls[name]:
                if message not in self.name_values.get(name_key, ()):
                    continue
                call = _enclosing_call(root, pos)
                if call is None:
                    continue
                shape = _fill(object_shape(obj), obj, name_key, message, params, call,
                              object_shape)
                out.append((shape, call))
        return out

    def _envelope(self, src: bytes, root: Node, name: str) -> tuple[Node, str, list[str]] | None:
        """The helper's object literal whose envelope key takes a parameter's value."""
        n = re.escape(name.encode())
        # bounded gaps: `[^(]*` would scan to the end of the file from every mention of the
        # name that is not a definition (quadratic in the mentions)
        defs = re.compile(rb"(?:function\s+" + n + rb"\s*\(|(?<![\w$])" + n +
                          rb"\s*(?:[:=]\s*(?:async\s+)?(?:function\b[^(]{0,256})?\(|\([^()]{0,4096}\)\s*\{))")
        for k, m in enumerate(defs.finditer(src)):
            if k >= MAX_DEFINITIONS:
                break
            fn = _enclosing_function(root, m.end() - 1)
            if fn is None:
                continue
            params = _param_names(fn)
            if not params:
                continue
            found = self._object_in(fn, params)
            if found is not None:
                return found[0], found[1], params
        return None

    def _object_in(self, fn: Node, params: list[str]) -> tuple[Node, str] | None:
        stack, seen = [fn], 0
        while stack and seen < MAX_NODES:
            node = stack.pop()
            seen += 1
            if node.type == "object":
                for pair in node.named_children[:32]:
                    key, value = _pair(pair)
                    if key in self.name_values and value in params:
                        return node, key
            stack.extend(reversed(node.named_children))
        return None


def _pair(pair: Node) -> tuple[str | None, str | None]:
    """(key, identifier value) of `key: ident` or shorthand `key`; None when not that form."""
    if pair.type == "shorthand_property_identifier":
        t = pair.text.decode("utf-8", "replace")
        return t, t
    if pair.type != "pair":
        return None, None
    k, v = pair.child_by_field_name("key"), pair.child_by_field_name("value")
    if k is None or v is None:
        return None, None
    key = k.text.decode("utf-8", "replace").strip("\"'")
    if v.type == "binary_expression":  # `params || {}`
        v = v.child_by_field_name("left") or v
    return key, v.text.decode("utf-8", "replace") if v.type == "identifier" else None


def _param_names(fn: Node) -> list[str]:
    params = fn.child_by_field_name("parameters") or fn.child_by_field_name("parameter")
    if params is None:
        return []
    if params.type == "identifier":  # `x => ...`
        return [params.text.decode("utf-8", "replace")]
    names = []
    for p in params.named_children:
        if p.type == "assignment_pattern":  # `params = {}`
            p = p.child_by_field_name("left") or p
        names.append(p.text.decode("utf-8", "replace") if p.type == "identifier" else "")
    return names


def _enclosing(root: Node, pos: int, types: tuple[str, ...], hops: int) -> Node | None:
    """The nearest node of one of `types` around byte `pos`, at most `hops` parents up."""
    node = root.descendant_for_byte_range(pos, pos + 1)
    for _ in range(hops):
        if node is None:
            return None
        if node.type in types:
            return node
        node = node.parent
    return None


def _enclosing_function(root: Node, pos: int) -> Node | None:
    return _enclosing(root, pos, _FUNCTION_TYPES, 6)


def _enclosing_call(root: Node, pos: int) -> Node | None:
    return _enclosing(root, pos, ("call_expression",), 5)


def _fill(shape: dict, obj: Node, name_key: str, message: str, params: list[str], call: Node,
          object_shape: Callable[[Node], dict]) -> dict[str, Any]:
    """The envelope's shape as this call fills it: the message name, and each parameter
    that is passed an object literal expanded in place."""
    args = call.child_by_field_name("arguments")
    values = args.named_children if args is not None else []
    shape = dict(shape)
    shape[name_key] = message
    for pair in obj.named_children[:32]:
        key, ident = _pair(pair)
        if key is None or ident is None or ident not in params or key == name_key:
            continue
        i = params.index(ident)
        if i < len(values) and values[i].type == "object":
            shape[key] = object_shape(values[i])
    return shape
