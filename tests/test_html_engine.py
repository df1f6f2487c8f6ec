"""HtmlEngine: what a page runs and loads, at the right line and column; verdicts on the HTML
fixtures; and no input that makes it raise.

Routing and offsets are checked with a recording JS collaborator (it records what the HTML
engine hands over; the HTML engine is the thing under test). Verdicts use the real engines
(JS, constants, Wasm) as the scanner builds them.
"""

from __future__ import annotations

import codecs

import pytest

from webscan.analysis import Analysis
from webscan.html import engine as html_engine
from webscan.html.engine import HtmlEngine
from webscan.js.engine import JsEngine
from webscan.model import VerdictLabel
from webscan.net.domains import DomainMatcher
from webscan.net.protocol import ProtocolMatcher
from webscan.rules.constants import ConstantMatcher
from webscan.verdict import judge
from webscan.wasm.engine import WasmEngine

from conftest import FIXTURES

HTML = FIXTURES / "html"


class RecordingJs:
    """Stands in for the JS engine: records every call, observes nothing."""

    def __init__(self):
        self.calls: list[dict] = []

    def analyse(self, source: bytes, target: str, *, line_offset: int = 0, column_offset: int = 0,
                context: str | None = None) -> Analysis:
        self.calls.append(dict(source=source, target=target, line=line_offset + 1,
                               column=column_offset + 1, context=context))
        return Analysis()


@pytest.fixture(scope="module")
def domains(sigs):
    return DomainMatcher(sigs.domains)


@pytest.fixture()
def rec(sigs, domains):
    js = RecordingJs()
    return HtmlEngine(sigs, js=js, domains=domains), js


@pytest.fixture(scope="module")
def real(sigs, domains):
    """The real engine stack as the scanner builds it: JS, constants, Wasm."""
    constants = ConstantMatcher(sigs.constants)
    js = JsEngine(sigs, domains=domains, constants=constants, protocol=ProtocolMatcher(sigs.protocol),
                  wasm=WasmEngine(sigs, constants))
    return HtmlEngine(sigs, js=js, domains=domains)


def body_at(src: str, call: dict) -> str:
    """The text of the file at the line/column the engine claims the snippet starts."""
    lines = src.split("\n")
    return lines[call["line"] - 1][call["column"] - 1:]


# --- routing and offsets -------------------------------------------------------------------


def test_inline_script_offsets_same_line_multiline_tag_and_several(rec):
    eng, js = rec
    src = ('<html><head><script>one()</script><script>two()</script>\n'
           '<script\n   type="module"\n   data-x=">"\n>three();\nfour()</script>\n'
           '<p>text</p>     <script>  five()</script>\n')
    eng.analyse(src.encode(), "page.html")
    got = [(c["source"].decode(), c["line"], c["column"], c["context"]) for c in js.calls]
    assert got == [
        ("one()", 1, 21, "inline <script> #1"),
        ("two()", 1, 43, "inline <script> #2"),
        ("three();\nfour()", 5, 2, "inline <script> #3"),
        ("  five()", 7, 25, "inline <script> #4"),
    ]
    for c in js.calls:
        assert body_at(src, c).startswith(c["source"].decode().split("\n")[0])


def test_crlf_offsets(rec):
    eng, js = rec
    data = (HTML / "crlf_offsets.html").read_bytes()
    assert b"\r\n" in data
    eng.analyse(data, "crlf_offsets.html")
    src = data.decode()
    assert [(c["line"], c["column"]) for c in js.calls] == [(6, 9), (10, 32), (14, 18)]
    for c in js.calls:
        assert body_at(src, c).startswith(c["source"].decode().split("\r\n")[0])


def test_unicode_before_a_script_counts_characters_not_bytes(rec):
    eng, js = rec
    src = "<p>größe €</p><script>x()</script>"
    eng.analyse(src.encode("utf-8"), "u.html")
    assert (js.calls[0]["line"], js.calls[0]["column"]) == (1, src.index("x()") + 1)


def test_script_types(rec):
    eng, js = rec
    src = """
<script type="application/ld+json">{"a": 1}</script>
<script type="application/json">{"b": 2}</script>
<script type="text/template"><div>{{x}}</div></script>
<script type="text/x-handlebars-template">{{y}}</script>
<script type="importmap">{"imports": {}}</script>
<script type="module">mod()</script>
<script type="text/javascript">tj()</script>
<script type="TEXT/JAVASCRIPT; charset=utf-8">params()</script>
<script type="application/x-javascript">legacy()</script>
<script language="JavaScript1.2">lang()</script>
<script language="vbscript">vb</script>
<script type="">empty()</script>
<script>plain()</script>
<script type="text/plain" data-cookieconsent="statistics">consented()</script>
<script type="text/plain">notes</script>
"""
    eng.analyse(src.encode(), "types.html")
    assert [c["source"].decode() for c in js.calls] == [
        "mod()", "tj()", "params()", "legacy()", "lang()", "empty()", "plain()", "consented()"]


def test_inert_markup_is_not_run(rec):
    eng, js = rec
    src = """<!-- <script>commented()</script> -->
<noscript><script>noscript()</script><img src="x" onerror="inert()"></noscript>
<textarea><script>textarea()</script></textarea>
<title><script>title()</script></title>
<script src="/app.js">ignored_body_of_src_script()</script>
<script>runs()</script>"""
    eng.analyse(src.encode(), "inert.html")
    assert [c["source"].decode() for c in js.calls] == ["runs()"]


def test_handlers_and_javascript_urls(rec):
    eng, js = rec
    src = ('<body onload="init()">\n'
           '  <button class="b" onclick="go(&quot;x&quot;, 1)">Go</button>\n'
           "  <a href='  javascript:start(%22m%22)'>s</a> <form action=javascript:f()></form>\n"
           '  <img src=x onerror=fail()>\n')
    eng.analyse(src.encode(), "h.html")
    got = [(c["source"].decode(), c["line"], c["column"], c["context"]) for c in js.calls]
    assert got == [
        ("init()", 1, 15, "onload handler on <body>"),
        ('go("x", 1)', 2, 30, "onclick handler on <button>"),
        ('start("m")', 3, 25, "javascript: URL in <a href>"),
        ("f()", 3, 71, "javascript: URL in <form action>"),
        ("fail()", 4, 22, "onerror handler on <img>"),
    ]
    assert body_at(src, js.calls[1]).startswith('go(&quot;')
    assert body_at(src, js.calls[3]).startswith("f()></form>")


def test_data_url_script_and_srcdoc_are_followed(rec):
    eng, js = rec
    src = ('<script src="data:text/javascript;base64,bWluZXIuc3RhcnQoKQ=="></script>\n'
           '<iframe srcdoc="&lt;script&gt;inner()&lt;/script&gt;"></iframe>\n')
    eng.analyse(src.encode(), "d.html")
    assert [(c["source"].decode(), c["line"]) for c in js.calls] == [("miner.start()", 1), ("inner()", 1)]
    assert js.calls[0]["context"] == "data: URL in <script src> #1 (decoded)"


def test_truncated_script_at_end_of_file_is_analysed(rec):
    eng, js = rec
    eng.analyse(b"<html><script>var miner = new X.Anonymous('k'); miner.st", "t.html")
    assert js.calls[0]["source"] == b"var miner = new X.Anonymous('k'); miner.st"


def test_scripts_beyond_the_parse_limit_are_still_found(rec, monkeypatch):
    eng, js = rec
    monkeypatch.setattr(html_engine, "MAX_PARSE_CHARS", 2000)
    src = "<div>" + "<p>filler</p>\n" * 400 + "<!-- <script>no()</script> --><script>late()</script>"
    res = eng.analyse(src.encode(), "big.html")
    assert [c["source"].decode() for c in js.calls] == ["late()"]
    assert js.calls[0]["line"] == 401
    assert any("parsed as HTML" in n for n in res.notes)


def test_past_the_parse_limit_a_script_body_is_read_once(rec, monkeypatch):
    """The tail scan goes on after each script's body, as a browser does: a `<script` inside a
    body is script text, and an unclosed script runs to the end of the page. Reading from each
    `<script` instead gave every one of them the rest of the page (8 MB of `<script>a<b>`:
    over ten minutes)."""
    eng, js = rec
    monkeypatch.setattr(html_engine, "MAX_PARSE_CHARS", 2000)
    filler = "<div>" + "<p>filler</p>\n" * 400
    eng.analyse((filler + "<script>a<b>" * 300).encode(), "unclosed.html")
    assert len(js.calls) == 1 and js.calls[0]["source"].count(b"<script>") == 299
    js.calls.clear()
    src = filler + '<script>document.write("<script>inner()<" + "/b>")</script><script>late()</script>'
    eng.analyse(src.encode(), "closed.html")
    assert [c["source"].decode() for c in js.calls] == ['document.write("<script>inner()<" + "/b>")', "late()"]


# --- loads ---------------------------------------------------------------------------------


def load_findings(res: Analysis) -> list[tuple[str, str, int, int, str]]:
    return [(f.rule, f.category, f.location.line, f.location.column, f.location.context) for f in res.findings]


def test_third_party_miner_script(rec):
    eng, _ = rec
    src = b'<head>\n  <script async src="https://coinhive.com/lib/x.js"></script>'
    res = eng.analyse(src, "p.html", page_url="https://www.example.org/index.html")
    (f,) = res.findings
    assert (f.rule, f.category, f.location.line, f.location.column) == (
        "domains.coinhive-family", "miner-domain-load", 2, 3)
    assert f.location.context == "<script src> #1, third-party (coinhive.com)"
    assert f.message.startswith("third-party script from coinhive.com")
    assert f.excerpt == "https://coinhive.com/lib/x.js"


def test_first_party_kit_path_and_relative_host_lookalike(rec):
    eng, _ = rec
    src = (b'<script src="/static/lib/coinhive.min.js"></script>'
           b'<script src="coinhive.com/x.js"></script>')
    res = eng.analyse(src, "p.html", page_url="https://shop.example.org/")
    assert [(f.rule, f.location.context) for f in res.findings] == [
        ("domains.kit-paths", "<script src> #1, first-party (example.org)")]
    assert res.findings[0].message.startswith("first-party script from example.org")


def test_other_loaders(rec):
    eng, _ = rec
    src = """<base href="https://cdn.example.net/">
<iframe src="https://authedmine.com/media/miner.html?key=k"></iframe>
<object data="//crypto-loot.com/x.swf"></object>
<embed src="https://webmine.cz/x">
<link rel="modulepreload" href="https://minero.cc/lib/m.js">
<link rel="preload" as="image" href="https://minero.cc/logo.png">
<link rel="stylesheet" href="https://minero.cc/s.css">
<meta http-equiv="refresh" content="0; url='https://cnhv.co/abc'">
<a href="https://coinhive.com/">article link</a>
<img src="https://coinhive.com/logo.png">
<script src="lib/cryptonight.wasm"></script>
"""
    res = eng.analyse(src.encode(), "p.html", page_url="https://www.example.net/")
    got = [(f.rule, f.category, f.location.line, f.location.context) for f in res.findings]
    assert got == [
        ("domains.coinhive-family", "miner-domain-load", 2, "<iframe src>, third-party (authedmine.com)"),
        ("domains.cryptoloot", "miner-domain-load", 3, "<object data>, third-party (crypto-loot.com)"),
        ("domains.mining-services", "miner-domain-load", 4, "<embed src>, third-party (webmine.cz)"),
        ("domains.mining-services", "miner-domain-load", 5, "<link rel=modulepreload>, third-party (minero.cc)"),
        ("domains.mining-services", "miner-domain-mention", 6, "<link rel=preload>, third-party (minero.cc)"),
        ("domains.coinhive-family", "miner-domain-load", 8, "<meta http-equiv=refresh>, third-party (cnhv.co)"),
        # resolved against <base href>: a first-party CDN path with a kit file name
        ("domains.kit-paths", "miner-domain-load", 11, "<script src> #1, first-party (example.net)"),
    ]


def test_no_page_url_means_party_unknown_for_absolute_urls(rec):
    eng, _ = rec
    res = eng.analyse(b'<script src="https://coinhive.com/lib/x.js"></script>', "p.html")
    assert res.findings[0].location.context == "<script src> #1 (coinhive.com)"
    assert res.findings[0].message.startswith("script from coinhive.com")


def test_text_is_not_evidence(rec):
    eng, js = rec
    res = eng.analyse((HTML / "shutdown_notice.html").read_bytes(), "shutdown_notice.html")
    assert res.findings == [] and js.calls == []


def test_data_blocks_only_mention(rec):
    eng, js = rec
    res = eng.analyse(b'<script type="application/ld+json">\n{"url": "https://coinhive.com/x"}</script>', "j.html")
    assert [(f.category, f.location.line, f.location.column) for f in res.findings] == [
        ("miner-domain-mention", 2, 10)]
    assert js.calls == []


# --- decoding and bad input ----------------------------------------------------------------


def test_meta_charset_and_bom(rec):
    eng, js = rec
    eng.analyse(b'<meta charset="windows-1252"><p>caf\xe9</p><script>s("\x80")</script>', "c.html")
    assert js.calls[-1]["source"] == 's("€")'.encode()
    eng.analyse(codecs.BOM_UTF16_LE + "<script>u16()</script>".encode("utf-16-le"), "b.html")
    assert js.calls[-1]["source"] == b"u16()"
    eng.analyse(codecs.BOM_UTF8 + b"<script>bom()</script>", "b8.html")
    assert (js.calls[-1]["source"], js.calls[-1]["column"]) == (b"bom()", 9)


@pytest.mark.parametrize("data, fatal", [
    (b"", None),
    (b"   \n\t ", None),
    (b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0", "not an HTML document: looks like a WebAssembly module"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "not an HTML document: looks like a PNG image"),
    (bytes(range(256)) * 40, "not an HTML document"),
])
def test_empty_and_binary(rec, data, fatal):
    eng, _ = rec
    res = eng.analyse(data, "junk.html")
    if fatal is None:
        assert res.fatal is None and res.findings == [] and res.notes
    else:
        assert res.fatal.startswith(fatal)


@pytest.mark.parametrize("data", [
    b"<html><body><p>caf\xe9 \xff\xfe\xc3</p><script>ok()</script>",  # invalid UTF-8
    b"<scr", b"<script", b"<script src=", b"<div " + b'a="' * 1000, b"<!--", b"<![CDATA[",
    b"<div>" * 30000 + b"<script>deep()</script>",
    b"<iframe srcdoc='<iframe srcdoc=\"<iframe srcdoc=&amp;quot;<script>x()</script>&amp;quot;>\">'>",
    b"<a href='javascript:'>x</a><p onclick=''>y</p><meta http-equiv=refresh content=';url='>",
    b"<script src='data:text/javascript;base64,!!!'></script><script src='data:,'></script>",
    b"<base href='http://['><script src='x.js'></script><iframe src='http://[::1'>",
])
def test_bad_input_never_raises(real, sigs, data):
    res = real.analyse(data, "bad.html", page_url="https://example.org/")
    assert res.fatal is None
    assert judge(res, sigs.verdict).verdict is VerdictLabel.clean


# --- verdicts on the fixtures (real engines) ------------------------------------------------

EXPECTED = {
    "third_party_coinhive.html": VerdictLabel.miner,
    "self_hosted_blob_worker.html": VerdictLabel.miner,
    "iframe_miner.html": VerdictLabel.miner,
    "crlf_offsets.html": VerdictLabel.miner,
    "shutdown_notice.html": VerdictLabel.clean,
    "commented_out.html": VerdictLabel.suspicious,  # a kit call with its key left in a JS comment
    "chat.html": VerdictLabel.clean,
    "anti_miner.html": VerdictLabel.clean,
    "benign_third_party.html": VerdictLabel.clean,
}


def test_every_fixture_has_an_expectation():
    assert {p.name for p in HTML.glob("*.html")} == set(EXPECTED)


@pytest.mark.parametrize("page_url", [None, "https://www.example.com/page.html"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_verdicts(real, sigs, name, page_url):
    path = HTML / name
    report = judge(real.analyse(path.read_bytes(), str(path), page_url=page_url), sigs.verdict, path=str(path))
    assert report.verdict is EXPECTED[name], report.explanation


def test_findings_inside_inline_scripts_have_exact_positions(real):
    res = real.analyse((HTML / "crlf_offsets.html").read_bytes(), "crlf_offsets.html")
    ctor = sorted((f.location.line, f.location.column, f.location.context) for f in res.findings
                  if f.rule == "js.coinhive.anonymous-ctor")
    assert ctor == [(12, 15, "inline <script> #2"), (14, 27, "inline <script> #3")]


def test_third_party_miner_page_names_its_evidence(real, sigs):
    path = HTML / "third_party_coinhive.html"
    res = real.analyse(path.read_bytes(), str(path), page_url="https://streams.example.com/ep12")
    report = judge(res, sigs.verdict, path=str(path))
    load = [f for f in report.findings if f.category == "miner-domain-load"]
    assert load and load[0].location.line == 7
    assert "third-party script from coinhive.com" in load[0].message
    assert any(f.category == "kit-api" and f.location.context == "inline <script> #2" for f in report.findings)


WIDGET = '<div class="kit-miner" style="width:1px" data-key="Zq3LmN8pRt5vXw2yBc7dFg4hJk6sTu9a" data-autostart="true"></div>'


@pytest.mark.parametrize("page, expected", [
    (f"<html><body><p>Hi</p>\n{WIDGET}</body></html>", VerdictLabel.miner),
    (f"<html><body><script>document.write('{WIDGET}');</script></body></html>", VerdictLabel.miner),
    (f"<html><body><!-- {WIDGET} --><noscript>{WIDGET}</noscript></body></html>", VerdictLabel.clean),
    ('<html><body><div class="g-recaptcha" data-sitekey="6LcAAAAAAAAAAAAAAAAAAAAAAAA"></div>'
     '<div class="gold-miner" data-level="2"></div></body></html>', VerdictLabel.clean),
])
def test_kit_widgets_count_where_the_browser_renders_them(real, sigs, page, expected):
    res = real.analyse(page.encode(), "w.html")
    report = judge(res, sigs.verdict, path="w.html")
    assert report.verdict is expected, report.explanation
    if expected is VerdictLabel.miner:
        f = next(f for f in res.findings if f.rule == "js.kit.miner-widget")
        assert f.location.line == (2 if "<p>" in page else 1)
