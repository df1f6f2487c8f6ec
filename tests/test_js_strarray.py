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


# --- javascript-obfuscator before 2.0: standard-alphabet atob polyfill, hex-string indexes ---

def _rc4(text: str, key: str) -> str:
    """RC4 written apart from strarray._rc4 on purpose: encoding with the code under test would
    let a broken cipher decode its own output."""
    s, j = list(range(256)), 0
    for i in range(256):
        j = (j + s[i] + ord(key[i % len(key)])) % 256
        s[i], s[j] = s[j], s[i]
    i = j = 0
    out = []
    for ch in text:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(chr(ord(ch) ^ s[(s[i] + s[j]) % 256]))
    return "".join(out)


def _old_obfuscator(strings: list[str], code: str, rotation: int) -> str:
    """The shape of a 2017-2019 javascript-obfuscator build with RC4 string encoding: the array
    stored rotated right, an IIFE that rotates it back a literal number of times, a
    `var D = function (i, k)` decoder with its own atob polyfill in the STANDARD alphabet, and
    call sites `D('0x1f', 'key')` (the index a hex string). `code` names the strings {0}, {1}..."""
    import base64

    keys = [f"k{n}Q!" for n in range(len(strings))]
    enc = [base64.b64encode(_rc4(s, k).encode("utf-8")).decode() for s, k in zip(strings, keys)]
    n = len(enc)
    stored = [""] * n
    for i, e in enumerate(enc):
        stored[(i + rotation) % n] = e
    arr = ",".join("'" + e + "'" for e in stored)
    decoder = (
        "var _0xd1=function(_0xi,_0xk){_0xi=_0xi-0x0;var _0xv=_0xa0[_0xi];"
        "if(_0xd1['init']===undefined){var _0xg=window;"
        "var _0xc='ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=';"
        "_0xg['atob']||(_0xg['atob']=function(_0xs){return _0xs+_0xc;});"
        "var _0xr=function(_0xs,_0xk){var _0xt=[],_0xj=0x0,_0xo='';_0xs=atob(_0xs);"
        "for(var _0xn=0x0;_0xn<0x100;_0xn++){_0xt[_0xn]=_0xn;}"
        "for(_0xn=0x0;_0xn<_0xs['length'];_0xn++){_0xo+=String['fromCharCode'](_0xs['charCodeAt'](_0xn)^_0xk['charCodeAt'](0x0));}"
        "return decodeURIComponent(_0xo);};_0xd1['rc4']=_0xr;_0xd1['init']=!![];}"
        "return _0xd1['rc4'](_0xv,_0xk);};")
    calls = [f"_0xd1('{hex(i)}','{k}')" for i, k in enumerate(keys)]
    return (f"var _0xa0=[{arr}];(function(_0xa,_0xb){{var _0xf=function(_0xc){{while(--_0xc)"
            f"{{_0xa['push'](_0xa['shift']());}}}};_0xf(++_0xb);}}(_0xa0,{hex(rotation)}));"
            + decoder + code.format(*calls))


def test_pre_2_builds_with_standard_base64_and_string_indexes_are_resolved():
    from webscan.js.engine import JsEngine
    from webscan.net.domains import DomainMatcher
    from webscan.net.protocol import ProtocolMatcher
    from webscan.rules.constants import ConstantMatcher
    from webscan.rules.loader import load_signatures
    from webscan.verdict import judge
    from webscan.wasm.engine import WasmEngine

    strings = ["Anonymous", "Zq3vR8sLm2Xw9TbK4nPy7JcH6dFa1GuE", "throttle", "start", "FORCE_EXCLUSIVE_TAB"]
    src = _old_obfuscator(strings, "var m=new Kt[{0}]({1},{{}});m[{3}](Kt[{4}]);", rotation=3)
    data = src.encode()
    res = strarray.resolve(data, Parser(JS_LANGUAGE).parse(data).root_node)
    assert res is not None and res.encodings == ["rc4"]
    assert set(strings) - {"throttle"} <= set(res.strings)
    sigs = load_signatures()
    constants = ConstantMatcher(sigs.constants)
    engine = JsEngine(sigs, domains=DomainMatcher(sigs.domains), constants=constants,
                      protocol=ProtocolMatcher(sigs.protocol), wasm=WasmEngine(sigs, constants))
    assert judge(engine.analyse(data, "old.js"), sigs.verdict).verdict.value == "miner"
    # the same build around a chat client's strings stays clean
    benign = _old_obfuscator(["connect", "wss://chat.example/room", "send", "hello"],
                             "var s=io[{0}]({1});s[{2}]({3});", rotation=2)
    assert judge(engine.analyse(benign.encode(), "chat.js"), sigs.verdict).verdict.value == "clean"
