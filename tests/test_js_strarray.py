"""The string-array rewrite (webscan/js/strarray.py) on parentheses and long chains: which
parentheses around a folded expression go, which stay, and that a chain is folded whole."""

from __future__ import annotations

import pytest
from tree_sitter import Parser

from webscan.js import strarray
from webscan.js.engine import JS_LANGUAGE


def _normalised(src: str) -> str:
    data = src.encode()
    res = strarray.resolve(data, Parser(JS_LANGUAGE).parse(data).root_node, normalise=True)
    assert res is not None
    return res.text


@pytest.mark.parametrize("src, expected", [
    ('var a = (("ab" + "cd"));', 'var a = "abcd";'),  # nested parentheses all go
    ('f(("x" + "y"));', 'f("xy");'),  # in an argument list: the argument's own go
    ('x[("p" + "q")];', "x.pq;"),
    # where dropping them would change the parse (the object of a member, a callee), the
    # parentheses stay and only their content is folded
    ('(("a" + "b")).length;', '(("ab")).length;'),
    ('new (("A" + "B"))();', 'new (("AB"))();'),
])
def test_parentheses_around_a_folded_expression(src: str, expected: str):
    assert _normalised(src) == expected


def test_every_link_of_a_long_chain_loses_its_parentheses():
    """Thousands of parenthesised links: each one's parentheses are looked up from the walk
    that collected it (asking tree-sitter for a node's parent searches down from the root,
    which made this quadratic). The chain itself is deeper than the evaluator goes, so only
    its innermost links fold together; every other link folds on its own."""
    terms = 5000
    src = "var s = " + " + ".join('("a" + "b")' for _ in range(terms)) + ";"
    text = _normalised(src)
    assert "(" not in text
    assert text.count(' + "ab"') >= terms - strarray.MAX_EVAL_DEPTH
