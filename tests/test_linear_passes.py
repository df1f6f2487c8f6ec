"""Every static pass does work linear in its input, and says so when an explicit bound stops it.

No timings here (they belong in bench/bench_adversarial.py): the work is counted instead, in
nodes folded (`Folder.visits`), and each bound is checked to leave a note rather than stop
silently. The shapes are the hostile ones of issue 11: long `+` chains of literals, decoder
calls nested in one another, code nested thousands of levels deep, long left-nested chains.
"""

from __future__ import annotations

import base64

import pytest
from tree_sitter import Parser

from webscan.html.engine import HtmlEngine
from webscan.js import deobfuscate as deob
from webscan.js.engine import (
    JS_LANGUAGE,
    MAX_PROTOCOL_CANDIDATES,
    MAX_QUERY_DEPTH,
    MAX_QUERY_STATES,
    JsEngine,
    _DeepZones,
    _Scan,
    _SEPARATE,
)
from webscan.net.domains import DomainMatcher
from webscan.net.protocol import ProtocolMatcher
from webscan.rules.constants import ConstantMatcher
from webscan.rules.loader import SignatureSet, load_signatures
from webscan.wasm.engine import WasmEngine


@pytest.fixture(scope="module")
def sigs() -> SignatureSet:
    return load_signatures()


@pytest.fixture(scope="module")
def engine(sigs) -> JsEngine:
    constants = ConstantMatcher(sigs.constants)
    return JsEngine(sigs, domains=DomainMatcher(sigs.domains), constants=constants,
                    protocol=ProtocolMatcher(sigs.protocol), wasm=WasmEngine(sigs, constants))


def _chain(n: int, term: str = '"ab"') -> bytes:
    return ("var s = " + " + ".join([term] * n) + ";\n").encode()


def _query_and_fold(engine: JsEngine, src: bytes) -> _Scan:
    """The engine's structural pass on one script, as `_analyse` runs it."""
    root = Parser(JS_LANGUAGE).parse(src).root_node
    scan = _Scan()
    scan.deep = _DeepZones.survey(root)
    engine._run_query(root, src, set(src.translate(_SEPARATE).split()), scan)
    return scan


def test_a_literal_chain_is_folded_once_with_work_linear_in_its_terms(engine):
    visits = {}
    for n in (500, 1000, 2000, 4000):
        scan = _query_and_fold(engine, _chain(n))
        folded = [d.text for d in scan.decoded if d.how == "string concatenation"]
        assert folded == ["ab" * n], "the chain is folded once, from its top, whole"
        visits[n] = scan.folder.visits
    for n in (1000, 2000, 4000):
        # each term costs a constant number of visits: doubling the terms doubles the work
        assert visits[n] <= 2 * visits[n // 2] + 8, visits
    assert visits[4000] <= 3 * 4000, visits


def test_chains_through_parentheses_and_mixed_chains_fold_like_before(engine):
    scan = _query_and_fold(engine, b'var a = "Co" + ("in" + "Hive"); var b = x + "Coin" + "Hive";')
    texts = [d.text for d in scan.decoded if d.how == "string concatenation"]
    # the first folds whole through its parentheses; the second depends on `x`: not folded
    assert texts == ["CoinHive"]


def test_nested_decoder_calls_fold_each_node_once(engine):
    """`eval(eval(...))`: every level is folded by its own call and by those around it; the
    memo makes that one visit per node."""
    for depth in (10, 20):
        src = ("x = " + "eval(" * depth + '"a" + "b"' + ")" * depth + ";").encode()
        scan = _query_and_fold(engine, src)
        assert scan.folder.visits <= 4 * depth + 8, (depth, scan.folder.visits)


def test_folding_past_its_depth_bound_says_so(engine):
    depth = deob.MAX_EVAL_DEPTH + 6
    src = ("eval(" + "escape(" * depth + '"a" + "b"' + ")" * depth + ");").encode()
    a = engine.analyse(src, "deep.js")
    assert any("folding of literal expressions stopped" in n and str(deob.MAX_EVAL_DEPTH) in n
               for n in a.notes), a.notes


def test_the_fold_budget_stops_with_a_reason():
    src = _chain(500)
    root = Parser(JS_LANGUAGE).parse(src).root_node
    top = root.named_children[0].named_children[0].child_by_field_name("value")
    folder = deob.Folder(max_visits=100)
    assert folder.value(top) is None
    assert folder.bound_hit and "100" in folder.bound_hit
    assert deob.Folder().value(top) == ("ab" * 500, [])


def test_code_nested_past_the_query_depth_is_noted_and_still_searched_as_text(engine):
    depth = MAX_QUERY_DEPTH + 500
    src = ("x = " + "[" * depth + '"wss://coinhive.com/proxy", new CoinHive.Anonymous("k")'
           + "]" * depth + ";").encode()
    a = engine.analyse(src, "deep.js")
    assert a.fatal is None
    assert any(f"nested deeper than {MAX_QUERY_DEPTH} syntax levels" in n for n in a.notes), a.notes
    assert any(f.rule.startswith("domains.") for f in a.findings), "text passes still see the host"


def test_the_depth_survey_expands_only_nodes_that_can_reach_the_bound():
    parser = Parser(JS_LANGUAGE)
    shallow = parser.parse(b"f(1);\n" * 20000).root_node
    assert _DeepZones.survey(shallow).zones == []
    deep = parser.parse(_chain(MAX_QUERY_DEPTH * 2)).root_node
    zones = _DeepZones.survey(deep)
    assert zones.zones and zones.size > len(_chain(MAX_QUERY_DEPTH * 2)) // 3
    assert zones.contains(10) and zones.node_at(deep, 10, 11) is None


def test_a_long_left_nested_chain_notes_the_pending_match_bound(engine):
    # a kit call (`miner.start(CoinHive.FORCE_MULTI_TAB)`) chained on itself: one pending
    # match per level until the limit drops the outermost
    src = ("m" + ".start(C.FORCE_MULTI_TAB)" * (MAX_QUERY_STATES // 3) + ";").encode()
    a = engine.analyse(src, "chain.js")
    assert any(f"over {MAX_QUERY_STATES} constructs nested" in n for n in a.notes), a.notes
    short = engine.analyse(("m" + ".start(C.FORCE_MULTI_TAB)" * 10 + ";").encode(), "short.js")
    assert "js.coinhive.start-mode" in {f.rule for f in short.findings}
    assert not any("constructs nested" in n for n in short.notes), "no note under the bound"


def test_protocol_candidates_past_their_bound_are_noted(engine):
    n = MAX_PROTOCOL_CANDIDATES + 40
    src = ("var a = [" + '{method: "login", params: {}},' * n + "0];").encode()
    a = engine.analyse(src, "many.js")
    assert a.fatal is None
    assert any(f"only the first {MAX_PROTOCOL_CANDIDATES} were rebuilt" in x for x in a.notes), a.notes


def test_escaped_literals_on_one_line_are_all_found_without_a_tree():
    n = 3000
    src = ("var a = [" + '"\\x63\\x6f\\x69\\x6e",' * n + "0];").encode()
    found, hidden = deob.escaped_strings(src, None)
    assert len(found) == n and all(d.text == "coin" for d in found)
    assert hidden == n


def test_inert_containers_hide_scripts_however_deep(sigs, engine):
    html = HtmlEngine(sigs, js=engine, domains=DomainMatcher(sigs.domains))
    page = ("<html><body><noscript>" + "<b onclick='f()'>" * 50
            + "<script>new CoinHive.Anonymous('k')</script></noscript>"
            + "<script src='https://coinhive.com/lib/coinhive.min.js'></script></body></html>")
    a = html.analyse(page.encode(), "p.html")
    rules = {f.rule for f in a.findings}
    assert "js.coinhive.anonymous-ctor" not in rules, "a script inside <noscript> never runs"
    assert any(r.startswith("domains.") for r in rules), "the script after it is still seen"


def test_an_unclosed_comment_past_the_parse_limit_hides_the_rest(sigs, engine, monkeypatch):
    """The tail scan finds comment ends with a plain find (a lazy `<!--.*?-->` rescans the
    rest of the page from every `<!--`); an unclosed comment runs to the end, as in a browser."""
    from webscan.html import engine as html_engine
    monkeypatch.setattr(html_engine, "MAX_PARSE_CHARS", 2000)
    html = HtmlEngine(sigs, js=engine, domains=DomainMatcher(sigs.domains))
    filler = "<div>" + "<p>filler</p>\n" * 400
    hidden = filler + "<!-- <!-- <script>new CoinHive.Anonymous('k')</script>"
    shown = filler + "<!-- x --><script>new CoinHive.Anonymous('k')</script>"
    assert "js.coinhive.anonymous-ctor" not in {f.rule for f in html.analyse(hidden.encode(), "h.html").findings}
    assert "js.coinhive.anonymous-ctor" in {f.rule for f in html.analyse(shown.encode(), "s.html").findings}


def test_an_unclosed_attribute_quote_is_read_only_up_to_the_tag_limit(monkeypatch):
    from webscan.html import positions
    monkeypatch.setattr(positions, "MAX_START_TAG", 64)
    text = '<a x="' + "y" * 1000 + ">"
    tag = positions.read_start_tag(text, 0)
    assert tag is not None and tag.end == 64
    assert tag.values["x"][1] <= 64, "the attribute value may not run past the tag limit"


def test_a_decoder_input_over_the_size_bound_is_noted(engine):
    big = base64.b64encode(b"x" * (deob.MAX_DECODED + 1024)).decode()
    a = engine.analyse(f'eval(atob("{big}"));'.encode(), "big.js")
    assert any("an input to atob() over" in n for n in a.notes), a.notes


def test_an_inline_module_bigger_than_a_decoded_string_is_still_decoded(engine):
    """Inline Wasm is bounded by MAX_MODULE, not by the (smaller) bound on decoded strings."""
    from webscan.js.embedded import MAX_MODULE, find_embedded_wasm
    module = b"\0asm\x01\0\0\0" + b"\0\x05\x04junk" + b"\0" * (deob.MAX_DECODED + 16)
    assert len(module) < MAX_MODULE
    src = ('var w = "' + base64.b64encode(module).decode() + '";').encode()
    (found,) = find_embedded_wasm(src)
    assert found.data == module


KIT_CALL = "var m = new Zq.Anonymous('SK8xq1Jm3pL0aZtYv9cWnR2bD4eF6gHk', {threads: 2}); m.start();"


def _eval_atob(code: str) -> str:
    return 'eval(atob("' + base64.b64encode(code.encode()).decode() + '"));\n'


def _counting_analyses(engine: JsEngine, monkeypatch) -> list[int]:
    """Count the engine's analyses (the whole script, then each payload or batch of them)."""
    calls = [0]
    real = engine._analyse

    def counted(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "_analyse", counted)
    return calls


def test_many_distinct_payloads_cost_a_few_analyses_and_a_kit_in_one_is_found(engine, monkeypatch):
    """Thousands of `eval(atob(...))`, each payload different: analysed joined in batches, not
    one analysis each, and the kit call hidden in one still points at its own eval."""
    n, at = 3000, 2100
    src = "".join(_eval_atob(KIT_CALL if i == at else f"var a = 1 + 2; f(a{i});") for i in range(n))
    calls = _counting_analyses(engine, monkeypatch)
    a = engine.analyse(src.encode(), "evals.js")
    assert calls[0] <= 4, f"{calls[0]} analyses for {n} payloads"
    f = next((f for f in a.findings if f.rule == "js.coinhive.anonymous-ctor"), None)
    assert f is not None, [x.rule for x in a.findings]
    assert f.location.line == at + 1
    assert "eval(atob(...))" in f.location.context and "payload line 1," in f.location.context


def test_payloads_that_do_not_parse_are_joined_only_past_a_cap_and_noted(engine, monkeypatch):
    from webscan.js.engine import MAX_SEPARATE_PAYLOADS
    n = MAX_SEPARATE_PAYLOADS + 20
    src = "".join(_eval_atob(f"f(a{i}, ") for i in range(n)) + _eval_atob(KIT_CALL)
    calls = _counting_analyses(engine, monkeypatch)
    a = engine.analyse(src.encode(), "broken.js")
    assert calls[0] == 1 + MAX_SEPARATE_PAYLOADS + 1 + 1, "alone up to the cap, then one batch of " \
                                                          "the broken ones, one of the clean one"
    assert any("do not parse" in note for note in a.notes), a.notes
    f = next((f for f in a.findings if f.rule == "js.coinhive.anonymous-ctor"), None)
    assert f is not None and f.location.line == n + 1


def test_identical_decoder_calls_are_folded_once(engine):
    """The same small `eval(atob("..."))` repeated: folding work does not grow with the count."""
    visits = {}
    for n in (500, 1000, 2000):
        scan = _query_and_fold(engine, _eval_atob("var a = 1 + 2; f(a);").encode() * n)
        visits[n] = scan.folder.visits
        assert len(scan.packer_payloads) == 1
    assert visits[500] == visits[1000] == visits[2000], visits


def test_a_query_pass_in_windows_gives_each_match_once(engine, monkeypatch):
    """Matches crossing a window's end are met in both windows: they must be given once, and
    the windowed pass must see what the one-window pass sees."""
    import webscan.js.engine as js_engine
    src = ("var s = 'Co' + 'in' + 'Hive';\n" + KIT_CALL + "\nfunction g() {\n" + KIT_CALL * 3
           + "\n  eval(atob('" + base64.b64encode(b"f(1);").decode() + "'));\n}\n") * 4
    src_b = src.encode()
    whole = _query_and_fold(engine, src_b)
    monkeypatch.setattr(js_engine, "QUERY_WINDOW_BYTES", 97)
    assert len(src_b) > 10 * 97
    windowed = _query_and_fold(engine, src_b)
    assert windowed.matches == whole.matches > 0
    assert {k: [h.start for h in v] for k, v in windowed.rule_hits.items()} == \
           {k: [h.start for h in v] for k, v in whole.rule_hits.items()}
    assert [d.text for d in windowed.decoded] == [d.text for d in whole.decoded]
