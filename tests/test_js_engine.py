"""The JavaScript engine on real signatures: fixture verdicts, locations, de-obfuscation,
embedded Wasm, and bad input that must never raise."""

from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path

import pytest

from webscan.analysis import Analysis
from webscan.js.engine import JsEngine
from webscan.model import VerdictLabel
from webscan.net.domains import DomainMatcher
from webscan.net.protocol import ProtocolMatcher
from webscan.rules.constants import ConstantMatcher
from webscan.rules.loader import SignatureSet, load_signatures
from webscan.rules.schema import ConstantSet, JsRule, WasmRule
from webscan.verdict import judge
from webscan.wasm.engine import WasmEngine

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "site_fixtures" / "js"

# what every fixture must get (site_fixtures/js/README.md says why)
EXPECTED = {
    "coinhive-style-kit.js": "miner",
    "coinhive-style-page.js": "miner",
    "obfuscated-renamed-miner.js": "miner",
    "webminerpool-style.js": "miner",
    "stratum-style.js": "miner",  # login + submit of one protocol: a pool session
    "sha256-nonce-loop-miner.js": "suspicious",
    "benign-sha256-file-worker.js": "clean",
    "benign-chat-websocket.js": "clean",
    "benign-anti-miner.js": "clean",
    "benign-commented-miner.js": "suspicious",  # a kit call with its key, left in a comment
    "benign-mandelbrot-workers.js": "clean",
    "benign-wasm-loader.js": "clean",
}


class RecordingWasm:
    """Records what the JS engine hands over to its Wasm collaborator, for the routing test
    only; every verdict here is judged with the real WasmEngine."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, str, str | None]] = []

    def analyse(self, data: bytes, target: str, *, context: str | None = None) -> Analysis:
        self.calls.append((data, target, context))
        return Analysis()


@pytest.fixture(scope="module")
def sigs() -> SignatureSet:
    return load_signatures()


@pytest.fixture(scope="module")
def constants(sigs) -> ConstantMatcher:
    return ConstantMatcher(sigs.constants)


@pytest.fixture(scope="module")
def engine(sigs, constants) -> JsEngine:
    """The stack as the scanner builds it: Wasm found in a script is judged by the real engine."""
    return JsEngine(sigs, domains=DomainMatcher(sigs.domains), constants=constants,
                    protocol=ProtocolMatcher(sigs.protocol), wasm=WasmEngine(sigs, constants))


def rules_of(analysis: Analysis) -> set[str]:
    return {f.rule for f in analysis.findings}


def verdict(engine, sigs, src: bytes | str, **kw) -> VerdictLabel:
    src = src.encode() if isinstance(src, str) else src
    return judge(engine.analyse(src, "t.js", **kw), sigs.verdict, path="t.js").verdict


# --- fixtures ----------------------------------------------------------------------------------


def test_every_fixture_has_an_expectation():
    assert {p.name for p in FIXTURES.glob("*.js")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_verdict(engine, sigs, name):
    path = FIXTURES / name
    report = judge(engine.analyse(path.read_bytes(), str(path)), sigs.verdict, path=str(path))
    assert report.verdict.value == EXPECTED[name], report.explanation


def test_commented_out_miner_is_only_its_own_weak_rule(engine, sigs):
    """Code in comments never counts as code; a whole kit call with a site key there is
    worth a look under a rule of its own, whose category is not strong (never a miner)."""
    a = engine.analyse((FIXTURES / "benign-commented-miner.js").read_bytes(), "c.js")
    assert [f.rule for f in a.findings] == ["js.kit.commented-out-call"]
    f = a.findings[0]
    assert not sigs.verdict.categories[f.category].strong
    assert f.location.line == 4 and "inside a comment" in (f.location.context or "")


@pytest.mark.parametrize("src", [
    "var k = 1; // var miner = new CoinHive.Anonymous('SK8xq1Jm3pL0aZtYv9cWnR2bD4eF6gHk'); miner.start();\n"
    "setInterval(function(){ show(m.getHashesPerSecond()); }, 1000);",
    "<!--var miner = new CoinHive.Anonymous('SK8xq1Jm3pL0aZtYv9cWnR2bD4eF6gHk');miner.start();-->",
    "/* new Kit.User('SK8xq1Jm3pL0aZtYv9cWnR2bD4eF6gHk', 'u'); */ WebAssembly.instantiate(b); new Worker(u);",
])
def test_code_in_comments_never_makes_a_miner(engine, sigs, src):
    assert verdict(engine, sigs, src) is VerdictLabel.suspicious


def test_anti_miner_mentions_are_weak_only(engine, sigs):
    a = engine.analyse((FIXTURES / "benign-anti-miner.js").read_bytes(), "a.js")
    cats = {f.category for f in a.findings}
    assert "kit-name" in cats and "miner-domain-mention" in cats
    assert not any(sigs.verdict.categories[c].strong for c in cats)


# --- locations ---------------------------------------------------------------------------------


def test_location_of_a_known_construct(engine):
    a = engine.analyse((FIXTURES / "coinhive-style-page.js").read_bytes(), "page.js")
    f = next(f for f in a.findings if f.rule == "js.coinhive.anonymous-ctor")
    assert (f.location.target, f.location.line, f.location.column) == ("page.js", 2, 13)
    assert f.excerpt.startswith("new CoinHive.Anonymous(")


def test_line_and_column_offsets_place_inline_scripts(engine):
    src = b"new CoinHive.Anonymous('k1', {throttle: 0.5});\n  miner.start(CH.FORCE_MULTI_TAB);"
    a = engine.analyse(src, "page.html", line_offset=10, column_offset=8)
    ctor = next(f for f in a.findings if f.rule == "js.coinhive.anonymous-ctor")
    start = next(f for f in a.findings if f.rule == "js.coinhive.start-mode")
    assert (ctor.location.line, ctor.location.column) == (11, 9)  # first line: column shifted
    assert (start.location.line, start.location.column) == (12, 3)  # later lines: not


def test_columns_count_characters_not_bytes(engine):
    a = engine.analyse("var é = 'ü'; new X.Anonymous('k');".encode(), "u.js")
    f = next(f for f in a.findings if f.rule == "js.coinhive.anonymous-ctor")
    assert f.location.column == 14


# --- de-obfuscation ----------------------------------------------------------------------------

PAYLOAD = "var m = new Zq.Anonymous('SK8xq1Jm3pL0aZtYv9cWnR2bD4eF6gHk', {threads: 2}); m.start();"
B64 = base64.b64encode(PAYLOAD.encode()).decode()


@pytest.mark.parametrize("src, how", [
    (f"eval(atob('{B64}'));", "eval(atob(...))"),
    (f"new Function(atob('{B64}'))();", "new Function(atob(...))"),
    (f"eval(unescape('{urllib.parse.quote(PAYLOAD)}'));", "eval(unescape(...))"),
    (f"Function({PAYLOAD!r})();", "Function(...)"),
    (f"eval({json.dumps(PAYLOAD[:30])} + {json.dumps(PAYLOAD[30:])});", "eval(...)"),
    ("eval(function(p,a,c,k,e,d){e=function(c){return c.toString(36)};if(!''.replace(/^/,String))"
     "{while(c--){d[c.toString(a)]=k[c]||c.toString(a)}k=[function(e){return d[e]}];e=function()"
     "{return'\\\\w+'};c=1};while(c--){if(k[c]){p=p.replace(new RegExp('\\\\b'+e(c)+'\\\\b','g'),k[c])}}"
     "return p}('0 1=2 3.4(\\'5\\',{6:7});1.8();',9,9,'var|m|new|Zq|Anonymous|SK8xq1Jm3pL0aZtYv9cWnR2bD4eF6gHk|threads|2|start'.split('|'),0,{}))",
     "p,a,c,k,e,d packer"),
])
def test_packed_payloads_are_analysed_with_context(engine, src, how):
    a = engine.analyse(src.encode(), "p.js")
    f = next((f for f in a.findings if f.rule == "js.coinhive.anonymous-ctor"), None)
    assert f is not None, [x.rule for x in a.findings]
    assert f.location.line == 1 and how in f.location.context
    assert "JavaScript decoded from" in f.location.context


def test_a_long_base64_literal_of_code_is_analysed(engine):
    a = engine.analyse(f"var code = '{B64}'; run(code);".encode(), "b.js")
    f = next(f for f in a.findings if f.rule == "js.coinhive.anonymous-ctor")
    assert "base64 literal" in f.location.context


@pytest.mark.parametrize("src, how", [
    ("var n = window['\\x43\\x6f\\x69\\x6e\\x48\\x69\\x76\\x65'];", "escapes"),
    ("var n = window['\\u0043\\u006f\\u0069\\u006eHive'];", "escapes"),
    ("var n = window['Coin' + 'H' + 'ive'];", "string concatenation"),
    ("var n = window[atob('Q29pbkhpdmU=')];", "atob() of a literal"),
])
def test_hidden_strings_are_decoded(engine, src, how):
    a = engine.analyse(src.encode(), "s.js")
    f = next((f for f in a.findings if f.rule == "js.kit.name-mention"), None)
    assert f is not None and how in (f.location.context or "")


def test_obfuscator_string_array_with_swapped_base64_is_decoded(engine):
    swap = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    words = ["WEBSOCKET_SHARDS", "ASMJS_NAME", "prototype", "constructor", "length", "push",
             "shift", "toString", "apply", "window"]
    arr = ", ".join("'" + base64.b64encode(w.encode()).decode().translate(swap) + "'" for w in words)
    a = engine.analyse(f"var _0x1a2b = [{arr}]; (function(a, b){{ a.push(a.shift()); }})(_0x1a2b, 0x1f);".encode(), "o.js")
    assert "js.kit.config-internals" in rules_of(a)
    assert "js.deobfuscate.string-array" in rules_of(a)


def test_escape_heavy_text_alone_is_not_proof(engine, sigs):
    src = "var msgs = [" + ", ".join(
        "'" + "".join(f"\\x{ord(c):02x}" for c in w) + "'" for w in
        ["hello", "world", "please", "wait", "loading", "done", "error", "retry"]) + "];"
    assert verdict(engine, sigs, src) is VerdictLabel.clean


# --- embedded Wasm -----------------------------------------------------------------------------

MODULE = bytes.fromhex("0061736d0100000001070160027f7f017f030201000707010361646400000a09010700200020016a0b")


@pytest.mark.parametrize("src, how", [
    (f"var w = '{base64.b64encode(MODULE).decode()}';", "base64 literal"),
    (f"fetch('data:application/wasm;base64,{base64.b64encode(MODULE).decode()}');", "data: URL"),
    ("var w = new Uint8Array([" + ", ".join(map(str, MODULE)) + "]);", "numeric byte array"),
    ("var w = [" + ",".join(f"0x{b:02x}" for b in MODULE) + "];", "numeric byte array"),
    (f"var w = '{MODULE.hex()}';", "hex string"),
    (f"var w = '{base64.b64encode(MODULE).decode()[:20]}' + '{base64.b64encode(MODULE).decode()[20:]}';",
     "string concatenation"),
])
def test_embedded_wasm_reaches_the_wasm_engine(sigs, src, how):
    rec = RecordingWasm()
    eng = JsEngine(sigs, domains=None, constants=None, protocol=ProtocolMatcher(sigs.protocol), wasm=rec)
    eng.analyse(("\n" + src).encode(), "e.js")
    assert len(rec.calls) == 1
    data, target, context = rec.calls[0]
    assert data == MODULE and target == "e.js"
    assert context.startswith("Wasm decoded from") and "at line 2" in context and how in context


def test_embedded_wasm_with_the_real_wasm_engine(engine):
    a = engine.analyse((FIXTURES / "benign-wasm-loader.js").read_bytes(), "w.js")
    assert len(a.wasm_modules) == 1
    assert a.wasm_modules[0].location.context.startswith("Wasm decoded from numeric byte array")


# --- asm.js constants --------------------------------------------------------------------------


def _mini_sigs(sigs, js=(), constants=(), wasm=()) -> SignatureSet:
    return SignatureSet(version="t", digest="t", verdict=sigs.verdict, js=list(js),
                        constants=list(constants), wasm=list(wasm), protocol=[])


def _constset(primitive, values, width=32):
    """A set present only when all its values occur, so one missed literal shows."""
    return ConstantSet(id=f"const.{primitive}", description=f"{primitive} constants for a test",
                       severity="low", category="hash-primitive", primitive=primitive, values=values,
                       width=width, min_hits=len(values), samples={"match": ["x"], "no_match": ["y"]})


def test_asmjs_constants_reach_the_constant_matcher_and_combine_as_data(sigs):
    keccak = _constset("keccak", [0x80000000000080AA, 0x800000000000808A], width=64)
    aes = _constset("aes", [0xC66363A5, 0xF87C7C84])
    combo = WasmRule(id="wasm.test.combo", description="keccak and aes together in one module",
                     severity="high", category="wasm-miner", primitives_all=["keccak", "aes"],
                     samples={"match": ["x"], "no_match": ["y"]})
    eng = JsEngine(_mini_sigs(sigs, constants=[keccak, aes], wasm=[combo]), domains=None,
                   constants=ConstantMatcher([keccak, aes]), protocol=None, wasm=None)
    # asm.js writes uint32 as int32: -966564955 is 0xC66363A5 (both aes values are needed)
    src = b"var RC = [0x80000000000080AA, 0x800000000000808A];\nvar T = [-966564955, 0xF87C7C84];"
    a = eng.analyse(src, "asm.js")
    assert {"const.keccak", "const.aes", "wasm.test.combo"} <= rules_of(a)
    aes_hit = next(f for f in a.findings if f.rule == "const.aes")
    assert aes_hit.location.line == 2
    only_aes = eng.analyse(b"var T = [-966564955, 0xF87C7C84];", "a.js")
    assert rules_of(only_aes) == {"const.aes"}
    assert "const.aes" not in rules_of(eng.analyse(b"var T = [0xF87C7C84];", "a.js"))


# --- rule semantics ----------------------------------------------------------------------------


def _jsrule(rid, match, requires=()):
    return JsRule(id=rid, description="a rule for an engine test", severity="low", category="kit-name",
                  match=match, requires=list(requires), samples={"match": ["x"], "no_match": ["y"]})


def test_requires_and_token_semantics(sigs):
    a_rule = _jsrule("t.alpha", {"all": ["alphaToken"]})
    b_rule = _jsrule("t.beta", {"any": ["b1", "b2", "b3"], "min_any": 2}, requires=["t.alpha"])
    c_rule = _jsrule("t.gamma", {"query": '(call_expression function: (identifier) @f (#eq? @f "gammaCall")) @hit'},
                     requires=["t.beta"])
    eng = JsEngine(_mini_sigs(sigs, js=[a_rule, b_rule, c_rule]), domains=None, constants=None,
                   protocol=None, wasm=None)
    assert rules_of(eng.analyse(b"alphaToken; b1; b2; gammaCall();", "r.js")) == {"t.alpha", "t.beta", "t.gamma"}
    assert rules_of(eng.analyse(b"b1; b2; gammaCall();", "r.js")) == set()  # chain broken at alpha
    assert rules_of(eng.analyse(b"alphaToken; b1; gammaCall();", "r.js")) == {"t.alpha"}  # min_any
    assert rules_of(eng.analyse(b"alphaToken; b1; // b2\n gammaCall();", "r.js")) == {"t.alpha"}
    assert rules_of(eng.analyse(b"alphaToken; xb1; b2x;", "r.js")) == {"t.alpha"}  # whole tokens only


def test_protocol_object_literal_is_located(engine):
    src = b"function go(s, w) {\n  s.send(JSON.stringify({method: 'login', params: {login: w, pass: 'x', agent: 'a'}}));\n}"
    a = engine.analyse(src, "s.js")
    f = next(f for f in a.findings if f.rule == "protocol.stratum.login")
    assert (f.location.line, f.location.column) == (2, 25)
    assert f.kind.value == "protocol"


def test_domain_loaded_versus_mentioned(engine):
    loaded = engine.analyse(b"var s = document.createElement('script'); s.src = 'https://coinhive.com/lib/c.min.js';", "d.js")
    mentioned = engine.analyse(b"var hosts = ['coinhive.com'];", "d.js")
    via_var = engine.analyse(b"var u = 'https://coinhive.com/lib/c.min.js'; importScripts(u);", "d.js")
    cats = lambda a: {f.category for f in a.findings if f.kind.value == "domain"}  # noqa: E731
    assert cats(loaded) == {"miner-domain-load"}
    assert cats(mentioned) == {"miner-domain-mention"}
    assert cats(via_var) == {"miner-domain-load"}


def test_wallet_address_is_found(engine):
    a = engine.analyse(b"var addr = '4AMASi45ub7Qe4ZE36UT5G6cU4ud8Fhhe4deS4F3cw9KTAb8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCmrG6dLaYyNoVK';", "w.js")
    assert "js.behaviour.monero-wallet" in rules_of(a)


# --- bad input ---------------------------------------------------------------------------------


def test_empty_input_is_clean_with_a_note(engine, sigs):
    a = engine.analyse(b"", "e.js")
    assert not a.findings and a.fatal is None and a.notes
    assert judge(a, sigs.verdict).verdict is VerdictLabel.clean
    assert not engine.analyse(b"  \n\t\n", "e.js").findings


def test_binary_junk_is_an_error(engine, sigs):
    a = engine.analyse(b"\0" * 4096 + bytes(range(256)) * 8, "junk.js")
    assert a.fatal and a.fatal.startswith("not JavaScript text")
    assert judge(a, sigs.verdict).verdict is VerdictLabel.error


def test_invalid_utf8_is_parsed_as_bytes(engine):
    src = b"var s = '\xff\xfe\xc3'; var m = new CoinHive.Anonymous('k', {threads: 2});"
    a = engine.analyse(src, "u.js")
    assert a.fatal is None and "js.coinhive.anonymous-ctor" in rules_of(a)


def test_deep_nesting_does_not_crash(engine):
    depth = 100_000
    a = engine.analyse(b"x = " + b"(" * depth + b"1" + b")" * depth + b";", "deep.js")
    assert a.fatal is None
    b = engine.analyse(b"x = " + b"[" * depth + b"'a' + 'b'" + b"]" * depth + b";", "deep.js")
    assert b.fatal is None


def test_unterminated_string_is_a_parse_finding_and_still_scanned(engine):
    a = engine.analyse(b"var a = 'unterminated;\nvar m = new CoinHive.Anonymous('k', {threads: 2});\n", "t.js")
    parse = [f for f in a.findings if f.category == "parse"]
    assert parse and parse[0].location.line >= 1
    assert "js.kit.name-mention" in rules_of(a)


def test_huge_file_is_parsed_in_windows_with_true_lines(sigs):
    eng = JsEngine(sigs, domains=DomainMatcher(sigs.domains), constants=None,
                   protocol=ProtocolMatcher(sigs.protocol), wasm=None, max_parse_bytes=1 << 20)
    line = b"var a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]; function f(x) { return x * 2; }\n"
    n = 3 * (1 << 20) // len(line)
    big = line * n + b"var m = new CoinHive.Anonymous('Sx5ZbP3yY1PxbTIZ8fcJ9zNuTvDhOA3R');\n"
    assert len(big) > eng.max_parse_bytes
    a = eng.analyse(big, "big.js")
    assert a.fatal is None
    assert any("windows" in note for note in a.notes)
    kit = [f for f in a.findings if f.category == "kit-api"]
    assert kit and kit[0].location.line == n + 1  # structure rules ran in the last window


@pytest.mark.parametrize("src", [
    b"\xef\xbb\xbf", b"'", b"`${", b"/*", b"eval(", b"eval(atob('!!!'))", b"new Function(",
    b"atob('" + b"A" * 100 + b"')", b"[0,97,115,109", b"'AGFzbQ'", "var \u2028 x".encode(),
    b"'\\u{110000}'", b"'\\uD800'"])
def test_odd_text_is_scanned_and_clean(engine, sigs, src):
    a = engine.analyse(src, "odd.js")
    assert a.fatal is None
    assert judge(a, sigs.verdict).verdict is VerdictLabel.clean


def test_a_wasm_module_given_as_javascript_is_an_error_that_says_what_to_do(engine, sigs):
    a = engine.analyse(b"\x00asm\x01\x00\x00\x00", "odd.js")
    assert a.fatal.startswith("not JavaScript text") and "scan it as .wasm" in a.fatal
    assert judge(a, sigs.verdict).verdict is VerdictLabel.error


# --- javascript-obfuscator string arrays, normalisation (webscan/js/strarray.py) ----------------

OBFUSCATED = FIXTURES / "obfuscated"
EXPECTED_OBFUSCATED = {
    "coinhive-embed.rc4.js": "miner",
    "coinimp-embed.fnwrap.js": "miner",
    "proxy-client.object-keys.js": "miner",
    "coinhive-embed.escapes-object-keys.js": "miner",
    "benign-chat.rc4.js": "clean",
}


def test_every_obfuscated_fixture_has_an_expectation():
    assert {p.name for p in OBFUSCATED.glob("*.js")} == set(EXPECTED_OBFUSCATED)


@pytest.mark.parametrize("name", sorted(EXPECTED_OBFUSCATED))
def test_obfuscated_fixture_verdict(engine, sigs, name):
    path = OBFUSCATED / name
    report = judge(engine.analyse(path.read_bytes(), str(path)), sigs.verdict, path=str(path))
    assert report.verdict.value == EXPECTED_OBFUSCATED[name], report.explanation


def test_rc4_string_array_is_resolved_with_rotation_and_keys():
    from tree_sitter import Parser

    from webscan.js import strarray
    from webscan.js.engine import JS_LANGUAGE

    src = (OBFUSCATED / "coinhive-embed.rc4.js").read_bytes()
    res = strarray.resolve(src, Parser(JS_LANGUAGE).parse(src).root_node)
    assert res is not None and res.encodings == ["rc4"]
    # the checksum only holds at the right rotation, so recovering the key proves both
    assert "k8Jz1vWq0aXc3yPn5Rt7Gu9Ie2Ho4Ls6" in res.strings
    assert 'new CoinHive.Anonymous("k8Jz1vWq0aXc3yPn5Rt7Gu9Ie2Ho4Ls6",' in res.text


def test_finding_in_the_rewrite_points_at_the_original_code(engine):
    src = (OBFUSCATED / "coinhive-embed.rc4.js").read_bytes()
    a = engine.analyse(src, "t.js")
    f = next(f for f in a.findings if f.rule == "js.coinhive.anonymous-ctor")
    col = src.index(b"new CoinHive[") + 1
    assert (f.location.line, f.location.column) == (1, col)
    assert "string array resolved" in (f.location.context or "")
    assert any("javascript-obfuscator string array" in n for n in a.notes)


@pytest.mark.parametrize("src", [
    "var A = CoinHive.Anonymous; var m = new A('k8Jz1vWq0aXc3yPn5Rt7Gu9Ie2Ho4Ls6'); m.start();",
    "var m = new window['Coin' + 'Hive']['Anonymous']('k8Jz1vWq0aXc3yPn5Rt7Gu9Ie2Ho4Ls6', {throttle: 0.3});",
    "var m = new Qx['\\x41\\x6e\\x6f\\x6e\\x79\\x6d\\x6f\\x75\\x73']('\\x6b\\x38\\x4a\\x7a\\x31\\x76\\x57\\x71', {threads: 2});",
    "startMining('pool.example.test', '4AMASi45ub7Qe4ZE' + '36UT5G6cU4ud8Fhhe4deS4F3cw9KTAb8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCmrG6dLaYyNoVK', '', 4);",
])
def test_hidden_names_and_aliases_are_normalised_for_the_rules(engine, sigs, src):
    a = engine.analyse(src.encode(), "t.js")
    kit = [f for f in a.findings if f.category == "kit-api"]
    assert kit and "rewritten" in (kit[0].location.context or "")
    assert verdict(engine, sigs, src) is VerdictLabel.miner


def test_plain_bracket_access_without_miner_names_is_not_rewritten(engine):
    a = engine.analyse(b"var x = obj['value']; var f = a.b; f(x['other']);", "t.js")
    assert not any("rewritten" in (f.location.context or "") for f in a.findings)
    assert a.findings == []


def test_message_assembled_by_assignments_is_a_built_protocol_object(engine, sigs):
    src = ("function send(ws, r) { var p = {}; p.job_id = r.id; p.nonce = r.nonce; p.result = r.hash;"
           " var m = {}; m.type = 'submit'; m.params = p; ws.send(JSON.stringify(m)); }")
    a = engine.analyse(src.encode(), "t.js")
    sub = [f for f in a.findings if f.rule == "protocol.coinhive.submit"]
    assert sub and sub[0].category == "pool-protocol"
    # the same words without the assembled shape stay weak
    b = engine.analyse(b"var m = {}; m.type = 'submit'; m.body = form; var job_id, nonce, result, params;", "t.js")
    assert all(f.category != "pool-protocol" for f in b.findings)


def test_decoder_shaped_garbage_never_raises(engine):
    bad = [
        b"function d(i,k){i=i-0x1;var a=b();return a[i];}function b(){var x=['a','b'];b=function(){return x;};return b();}"
        b"(function(f,t){var a=f();while(!![]){try{var v=parseInt(d(0x1))/0x0;if(v===t)break;else a.push(a.shift());}"
        b"catch(e){a.push(a.shift());}}}(b,0x1));d(0x9);d('x');d(0x2,'k');",
        b"function d(i){i=i-",
        b"function d(i,k){i=i-k;return d(i,k);}d(1,2);d(d(1,2),3);",
    ]
    for src in bad:
        a = engine.analyse(src, "t.js")
        assert a.fatal is None


# --- messages sent through a helper (webscan/js/helper_calls.py) ---------------------------

HELPER_MINERS = {
    "coinhive-send": """
        var M = function () {};
        M.prototype._send = function (type, params) {
          var msg = { type: type, params: params || {} };
          this._socket.send(JSON.stringify(msg));
        };
        M.prototype.auth = function () {
          this._send("auth", { site_key: this.key, type: "anonymous", user: null, goal: 0 }); };
        M.prototype.found = function (r) {
          this._send("submit", { job_id: r.job_id, nonce: r.nonce, result: r.result }); };
    """,
    "stratum-arrow": """
        const rpc = (method, params = {}) => ws.send(JSON.stringify({ id: n++, method, params }));
        ws.onopen = () => rpc("login", { login: wallet, pass: "x", agent: "a/1" });
        onShare = s => rpc("submit", { id: sid, job_id: s.j, nonce: s.n, result: s.r });
    """,
    "webminerpool-method": """
        class C { out(identifier, extra) { this.s.send(JSON.stringify(Object.assign(
            { identifier: identifier }, extra))); } }
        class D { send(identifier, o) { const m = { identifier, pool: o.pool, login: o.login,
            password: o.password }; this.s.send(JSON.stringify(m)); } }
        d.send("handshake", cfg);
    """,
}


def test_helper_sent_pool_sessions_are_miners(engine, sigs):
    for name in ("coinhive-send", "stratum-arrow"):
        a = engine.analyse(HELPER_MINERS[name].encode(), "t.js")
        report = judge(a, sigs.verdict, path="t.js")
        assert report.verdict is VerdictLabel.miner, (name, report.explanation)
        assert any(f.category == "pool-session" for f in report.findings), name


def test_a_helper_message_is_located_at_its_call(engine):
    a = engine.analyse(HELPER_MINERS["coinhive-send"].encode(), "t.js")
    auth = next(f for f in a.findings if f.rule == "protocol.coinhive.auth")
    assert auth.category == "pool-protocol" and auth.location.line == 8


def test_helper_with_envelope_from_a_shorthand_property(engine):
    """{identifier, pool: o.pool, ...}: the name comes from a parameter, the rest is fixed."""
    a = engine.analyse(HELPER_MINERS["webminerpool-method"].encode(), "t.js")
    assert "protocol.webminerpool.handshake" in rules_of(a)


@pytest.mark.parametrize("src", [
    # Redux action creators and a JSON-RPC API client: the names collide, the shapes do not
    'function action(type, payload) { return { type: type, payload: payload }; }\n'
    'dispatch(action("submit", { form: "contact", values: v }));\n'
    'dispatch(action("login", { user: u, password: p }));',
    'function rpc(method, params) { return post("/api", { method: method, params: params }); }\n'
    'rpc("login", { username: u, password: p }); rpc("submit", { form: 1 });',
    # a call with a message name but no envelope anywhere
    'log("submit", { job_id: 1, nonce: 2, result: 3 }); log("login", {login: 1, pass: 2, agent: 3});',
])
def test_helper_lookalikes_stay_clean(engine, sigs, src):
    assert verdict(engine, sigs, src) is VerdictLabel.clean


def test_protocol_words_count_only_when_they_occur_together(engine):
    """A message whose parts are built apart (a params helper next to the send) is weak
    evidence; the same words hundreds of lines apart, as in a wallet's bundle, are none."""
    helper = "function mk(w, p) { return {login: w, pass: p, agent: 'web/1'}; }\n"
    send = "function go(ws, w, p) { ws.send(JSON.stringify({method: 'login', params: mk(w, p)})); }\n"
    filler = "".join(f"function f{i}(a) {{ return a * {i} + 1; }}\n" for i in range(200))
    near = engine.analyse((helper + send + filler).encode(), "near.js")
    far = engine.analyse((helper + filler + send).encode(), "far.js")
    assert any(f.rule == "protocol.stratum.login" and f.category == "pool-protocol-words"
               for f in near.findings)
    assert not any(f.rule == "protocol.stratum.login" for f in far.findings)


@pytest.mark.parametrize("src, loaded", [
    # a helper of the script that hands its parameter to a load: the usual injector
    ("function inject(u, cb) { var s = document.createElement('script'); s.src = u; s.onload = cb;"
     " document.head.appendChild(s); } inject('https://coinhive.com/lib/c.min.js', start);", True),
    ("var add = function (x) { var w = new Worker(x); }; add('https://coinhive.com/lib/w.js');", True),
    ("el.setAttribute('src', 'https://coinhive.com/lib/c.min.js');", True),
    ("document.write('<script src=\"https://coinhive.com/lib/c.min.js\"></scr' + 'ipt>');", True),
    ("$('body').append('<iframe src=\"https://coinhive.com/media/miner.html\"></iframe>');", True),
    ("box.innerHTML = '<script async src=\"https://coinhive.com/lib/c.min.js\"></script>';", True),
    # the same hosts handled, not loaded: an anti-miner's removal, a helper that only logs,
    # markup that names the host in text, an attribute other than a source
    ("html = html.replace('<script src=\"https://coinhive.com/lib/c.min.js\"></script>', '');", False),
    ("function note(u) { console.log(u); } note('https://coinhive.com/lib/c.min.js');", False),
    ("document.write('<p>coinhive.com is blocked here</p>');", False),
    ("el.setAttribute('title', 'https://coinhive.com/lib/c.min.js');", False),
])
def test_loader_shapes_make_a_domain_loaded(engine, src, loaded):
    a = engine.analyse(src.encode(), "l.js")
    cats = {f.category for f in a.findings if f.kind.value == "domain"}
    assert cats == ({"miner-domain-load"} if loaded else {"miner-domain-mention"}), cats


def test_loader_lookups_are_bounded_per_script(engine):
    """Each function a domain is handed to costs one read of the script; past a few names the
    rest count as mentions, so thousands of calls cannot make the pass quadratic."""
    defs = "".join(f"function f{i}(u) {{ importScripts(u); }}\n" for i in range(200))
    calls = "".join(f"f{i}('https://coinhive.com/lib/c{i}.js');\n" for i in range(200))
    a = engine.analyse((defs + calls).encode(), "many.js")
    assert {f.category for f in a.findings if f.kind.value == "domain"} == {"miner-domain-load", "miner-domain-mention"}
