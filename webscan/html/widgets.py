"""Element-shape rules (`match: {element: ...}`): kit widgets written as markup.

CoinHive-style kits shipped widgets that mine once their script loads: a miner box
(`<div class="coinhive-miner" data-key=... data-autostart>`) and a proof-of-work captcha
(`<div class="coinhive-captcha" data-key=... data-hashes=...>`); clones copied the shape with
their own class names. A rule names the tag, a regex for one of its classes and the attributes
it needs. The HTML engine matches elements of the page (not comments or inert containers); the
JS engine matches markup inside scripts: written into the page from a string, or captured into
a `.js` file, possibly re-indented (`< div class = "..."  data - key = "..."`), which this
reader tolerates.

The text scan is one regex pass for start tags, run only when a literal every class regex
requires is present, and each tag is read up to a bounded length: linear in the script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_TAG_CHARS = 1024
MAX_TAGS = 2000
"""Start tags read per script; past it the rest is not searched (a note is not worth it: real
scripts carrying kit widgets hold a handful of tags)."""

# an attribute: a name (re-indented captures put spaces around its dashes), then an optional
# value, quoted (the quote possibly escaped, inside a JS string) or bare
# value lengths are bounded so that an unclosed quote costs at most that much per attribute
_ATTR = re.compile(
    r"""([A-Za-z_:][\w:.]{0,64}(?:[ \t]{0,8}-[ \t]{0,8}[\w:.]{1,64}){0,8})"""
    r"""(?:\s{0,8}=\s{0,8}(?:(\\?")([^"]{0,256}?)\\?"|(\\?')([^']{0,256}?)\\?'|([^\s>"'\\]{1,256})))?""")


@dataclass
class _Compiled:
    rule: Any  # JsRule with an element match
    tags: frozenset[str]
    cls: re.Pattern[str]
    all: tuple[str, ...]
    any: tuple[str, ...]
    min_any: int


@dataclass
class WidgetHit:
    rule: Any
    start: int
    end: int


class ElementRules:
    """The element rules of a signature set, compiled once."""

    def __init__(self, rules: list[Any], prefilter: list[tuple[set[str], bool]]):
        self.rules = [
            _Compiled(r, frozenset(t.lower() for t in r.match.element.tags),
                      re.compile(r.match.element.class_),
                      tuple(a.lower() for a in r.match.element.attrs_all),
                      tuple(a.lower() for a in r.match.element.attrs_any),
                      r.match.element.min_any)
            for r in rules
        ]
        tags = sorted({t for c in self.rules for t in c.tags})
        self._tag = re.compile(r"<[ \t]*(" + "|".join(map(re.escape, tags)) + r")(?=[\s>/])", re.I)
        self._tag_b = re.compile(self._tag.pattern.encode(), re.I)
        # searched one by one in the lower-cased text: a case-blind regex alternation reads
        # a script ten times slower than bytes.find
        self._prefilter = sorted({w.lower().encode("utf-8") for lits, _ in prefilter for w in lits})

    def class_matches(self, value: Any) -> bool:
        """Whether a class attribute (str or list of tokens) holds a class some rule wants."""
        tokens = value.split() if isinstance(value, str) else list(value or ())
        return any(c.cls.fullmatch(t) for c in self.rules for t in tokens)

    def match(self, tag: str, attrs: dict[str, Any]) -> list[Any]:
        """Rules the element satisfies; attribute names are compared lower-cased."""
        names = {k.lower() for k in attrs}
        cls = attrs.get("class") or attrs.get("CLASS") or ""
        tokens = cls.split() if isinstance(cls, str) else list(cls)
        out = []
        for c in self.rules:
            if tag.lower() not in c.tags or not any(c.cls.fullmatch(t) for t in tokens):
                continue
            if not all(a in names for a in c.all):
                continue
            if sum(1 for a in c.any if a in names) < c.min_any:
                continue
            out.append(c.rule)
        return out

    def find_in_text(self, src: bytes) -> list[WidgetHit]:
        """Widgets written as markup anywhere in a script's text (strings or raw markup)."""
        if not self._prefilter:
            return []
        low = src.lower()
        if not any(w in low for w in self._prefilter):
            return []
        hits: list[WidgetHit] = []
        for n, m in enumerate(self._tag_b.finditer(src)):
            if n >= MAX_TAGS:
                break
            end = src.find(b">", m.end(), m.end() + MAX_TAG_CHARS)
            if end < 0:
                continue
            body = src[m.end():end].decode("utf-8", "replace")
            for rule in self.match(m.group(1).decode("ascii"), read_attrs(body)):
                hits.append(WidgetHit(rule, m.start(), end + 1))
        return hits


def read_attrs(body: str) -> dict[str, str]:
    """Attributes of a start tag's inside, as a browser would name them (dashes joined)."""
    out: dict[str, str] = {}
    for m in _ATTR.finditer(body):
        name = re.sub(r"[ \t]+", "", m.group(1)).lower()
        value = m.group(3) if m.group(2) else m.group(5) if m.group(4) else (m.group(6) or "")
        out.setdefault(name, value)
    return out


def element_rules(js_rules: list[Any]) -> ElementRules | None:
    """The element rules among a set's JS rules, compiled; None when there are none."""
    from webscan.js.engine import _required_literals as required_literals  # the JS prefilter's
    from webscan.rules.schema import JsElementMatch

    rules = [r for r in js_rules if isinstance(r.match, JsElementMatch)]
    if not rules:
        return None
    lits = []
    for r in rules:
        found = required_literals(r.match.element.class_)
        if found is None:
            raise ValueError(f"rule {r.id}: its element `class` must require a literal of 3 or "
                             "more characters")
        lits.append(found)
    return ElementRules(rules, lits)
