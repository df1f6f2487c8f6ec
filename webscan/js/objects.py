"""Object-shape rules (`match: {object: ...}`): an object judged by the set of its keys.

Miner plugins and hosted "simple miner" snippets configure a kit without a visible constructor:
an options object with a site key next to mining knobs (throttle, threads, mobile switch, pool
wallet), written as one literal or property by property (`opts = {}; opts.sitekey = ...;
opts.throttle = ...`). Key order and spelling vary, so a rule names keys by regexes, and the
engine rebuilds each candidate object's key set: from the literal, or from the assignments to
the same target in one block.

Candidates are found through the engine's single query pass, triggered by a literal every
anchor key contains, and capped per script; each costs its own pairs or one bounded walk of its
block's statements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

from webscan.rules.schema import JsObject, JsObjectMatch, JsRule

MAX_CANDIDATES = 64
"""Objects rebuilt per script; a configuration object is one of a handful per page."""
MAX_KEYS = 256
MAX_STATEMENTS = 400
MAX_PARENT_HOPS = 8

PAIR_PATTERN = "(pair key: [(property_identifier) (string)] @_okey)"
SHORTHAND_PATTERN = "(object (shorthand_property_identifier) @_okey)"
"""`{siteKey, throttle}`: options gathered from variables of the same names (Node wrappers)."""
ASSIGN_PATTERN = ("(assignment_expression left: (member_expression object: [(identifier) "
                  "(member_expression)] @_oobj property: (property_identifier) @_okey))")


@dataclass
class _Compiled:
    rule: JsRule
    all: list[re.Pattern[str]]
    any: list[re.Pattern[str]]
    min_any: int


class ObjectRules:
    """The object rules of a signature set, compiled once."""

    def __init__(self, rules: list[JsRule]):
        self.rules: list[_Compiled] = []
        anchors: list[re.Pattern[str]] = []
        for r in rules:
            m = r.match
            assert isinstance(m, JsObjectMatch)
            o: JsObject = m.object
            self.rules.append(_Compiled(r, [re.compile(x) for x in o.keys_all],
                                        [re.compile(x) for x in o.keys_any], o.min_any))
            anchors.append(re.compile(o.keys_all[0]))
        self._anchors = anchors

    def is_anchor(self, key: str) -> bool:
        return any(a.fullmatch(key) for a in self._anchors)

    def matching(self, keys: list[str]) -> list[JsRule]:
        """Rules whose every `keys_all` regex matches a key, and `min_any` other keys match
        some `keys_any` regex (a key counts once)."""
        out = []
        for c in self.rules:
            left = list(keys)
            ok = True
            for rx in c.all:
                k = next((k for k in left if rx.fullmatch(k)), None)
                if k is None:
                    ok = False
                    break
                left.remove(k)
            if ok and sum(1 for k in left if any(rx.fullmatch(k) for rx in c.any)) >= c.min_any:
                out.append(c.rule)
        return out


def pair_of(key: Node) -> Node | None:
    """What stands for a key inside its object: the pair, or a shorthand key itself."""
    return key if key.type == "shorthand_property_identifier" else key.parent


def key_text(node: Node) -> str:
    t = node.text.decode("utf-8", "replace")
    return t[1:-1] if node.type == "string" and len(t) >= 2 else t


def literal_keys(obj: Node) -> list[str]:
    keys = []
    for pair in obj.named_children[:MAX_KEYS]:
        if pair.type == "pair":
            k = pair.child_by_field_name("key")
            if k is not None and k.type in ("property_identifier", "string"):
                keys.append(key_text(k))
        elif pair.type == "shorthand_property_identifier":
            keys.append(pair.text.decode("utf-8", "replace"))
    return keys


def enclosing_block(node: Node) -> Node | None:
    hops = 0
    while node is not None and node.type not in ("statement_block", "program"):
        hops += 1
        node = node.parent if hops < MAX_PARENT_HOPS else None
    return node


def assigned_keys(target: str, block: Node) -> list[str]:
    """Keys given to `target` in one block: `target = {...}` / `var target = {...}` and
    `target.key = value`, read from the block's own statements (bounded)."""
    keys: list[str] = []
    for node in assignments_in(block):
        if len(keys) >= MAX_KEYS:
            break
        if node.type == "variable_declarator":
            n, v = node.child_by_field_name("name"), node.child_by_field_name("value")
            if n is not None and v is not None and v.type == "object" and n.text.decode(
                    "utf-8", "replace") == target:
                keys += literal_keys(v)
            continue
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None:
            continue
        if right is not None and right.type == "object" and left.text.decode("utf-8", "replace") == target:
            keys += literal_keys(right)
        elif left.type == "member_expression":
            obj, prop = left.child_by_field_name("object"), left.child_by_field_name("property")
            if obj is not None and prop is not None and obj.text.decode("utf-8", "replace") == target:
                keys.append(prop.text.decode("utf-8", "replace"))
    return keys


def assignments_in(block: Node):
    """Declarators and assignments directly in a block's statements (comma lists flattened)."""
    n = 0
    for stmt in block.named_children[:MAX_STATEMENTS]:
        stack = [stmt]
        while stack and n < MAX_STATEMENTS * 8:
            node = stack.pop()
            n += 1
            t = node.type
            if t in ("expression_statement", "sequence_expression", "variable_declaration",
                     "lexical_declaration", "parenthesized_expression"):
                stack.extend(reversed(node.named_children))
            elif t in ("variable_declarator", "assignment_expression"):
                yield node
