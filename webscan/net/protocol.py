"""Recognise mining-pool protocol messages by their shape, in live frames or in static code.

A pool protocol is the least disguisable part of a miner: whatever the kit is called and
however it is packed, it must send a login/auth, receive jobs and submit results in the shape
the pool understands. Shapes live in signatures/protocol.yaml; this module only compares.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from webscan.rules.schema import ProtocolRule

ANY = "*"
_MAX_DEPTH = 8  # shapes are shallow; a deeper template is a mistake, not a protocol


def _shape_tokens(shape: object, depth: int = 0) -> Iterator[tuple[str, bool]]:
    """(token, is_fixed_value) for every key and every fixed string value of a shape."""
    stack: list[tuple[object, int]] = [(shape, depth)]
    while stack:
        node, d = stack.pop()
        if d > _MAX_DEPTH:
            continue
        if isinstance(node, dict):
            for k, v in node.items():
                yield str(k), False
                stack.append((v, d + 1))
        elif isinstance(node, str) and node != ANY:
            yield node, True
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)


def _matches(template: object, obj: object) -> bool:
    """Does `obj` (a decoded JSON value) have the template's shape? Iterative, bounded."""
    stack: list[tuple[object, object, int]] = [(template, obj, 0)]
    while stack:
        t, o, d = stack.pop()
        if d > _MAX_DEPTH:
            return False
        if isinstance(t, str) and t == ANY:
            continue
        if isinstance(t, dict):
            if not isinstance(o, dict):
                return False
            for k, v in t.items():
                if k not in o:
                    return False
                stack.append((v, o[k], d + 1))
        elif isinstance(t, list):
            if not isinstance(o, list):
                return False
        elif isinstance(t, bool) or isinstance(o, bool):
            if t is not o:
                return False
        elif t != o:
            return False
    return True


class ProtocolMatcher:
    """Compiled once per process from the protocol rules (see ProtocolRule in rules/schema.py)."""

    def __init__(self, rules: Iterable[ProtocolRule]):
        rules = list(rules)
        self.rules: list[ProtocolRule] = [r for r in rules if r.shape is not None]
        self.session_rules: list[ProtocolRule] = [r for r in rules if r.all_of]
        self._keys: list[frozenset[str]] = []
        self._values: list[frozenset[str]] = []
        for r in self.rules:
            toks = list(_shape_tokens(r.shape))
            self._keys.append(frozenset(t for t, fixed in toks if not fixed))
            self._values.append(frozenset(t for t, fixed in toks if fixed))
        self.vocabulary: frozenset[str] = frozenset().union(*self._keys, *self._values)
        """Every key and fixed value of every shape: what a static scanner has to look for."""
        self.fixed_values: frozenset[str] = frozenset().union(*self._values)
        """The fixed string values only (message types, method names)."""
        names: dict[str, set[str]] = {}
        for r in self.rules:
            if isinstance(r.shape, dict):
                for k, v in r.shape.items():
                    if isinstance(v, str) and v != "*":
                        names.setdefault(k, set()).add(v)
        self.envelope_names: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in names.items()}
        """Top-level key -> the message names it takes ("method" -> login, submit...): what a
        sending helper is called with."""

    def match_message(self, obj: object) -> list[ProtocolRule]:
        """Rules whose shape a decoded frame (or a batch of frames) has."""
        frames = obj if isinstance(obj, list) else [obj]
        out: list[ProtocolRule] = []
        for rule in self.rules:
            if any(_matches(rule.shape, f) for f in frames[:64]):
                out.append(rule)
        return out + self.sessions({r.id for r in out})

    def sessions(self, matched_ids: set[str] | frozenset[str]) -> list[ProtocolRule]:
        """Session rules all of whose messages were seen (in one script or one connection)."""
        return [r for r in self.session_rules if set(r.all_of) <= matched_ids]

    def match_tokens(self, tokens: set[str] | frozenset[str], *,
                     strings: set[str] | frozenset[str] | None = None) -> list[ProtocolRule]:
        """Rules whose keys and fixed values all occur among a script's identifiers/strings.

        When `strings` (the tokens seen inside string literals) is given, fixed values must be
        among them: a message type is sent or compared as a string, and demanding that keeps a
        big bundle that merely uses the words `login` and `params` somewhere from matching.
        """
        out = []
        for rule, keys, values in zip(self.rules, self._keys, self._values):
            if keys <= tokens and values <= tokens and (strings is None or values <= strings):
                out.append(rule)
        return out + self.sessions({r.id for r in out})

    def tokens_of(self, rule: ProtocolRule) -> tuple[frozenset[str], frozenset[str]]:
        """(keys, fixed values) of one rule's shape, to locate a static match in the source."""
        i = self.rules.index(rule)
        return self._keys[i], self._values[i]
