"""Pages of many `<iframe srcdoc>` documents: the small scripts of nested documents join the
enclosing page's batch, plain documents are read without the HTML parser, and neither changes
what is found nor where (issue 11: html-many-srcdoc went over the time budget). Also cut start
tags: a quote still open at the cut is read as before, in one look at each byte.

Real engines throughout; the JS engine counts its calls (CountingJs, see test_html_batching).
"""

from __future__ import annotations

import html as htmllib

import pytest

from test_html_batching import MINER, engine, keyed, unbatched  # noqa: F401 - engine: a fixture
from webscan.html import positions
from webscan.html.engine import MAX_NESTING, HtmlEngine
from webscan.html.plain import plain_scripts

COINHIVE_SRC = "https://coinhive.com/lib/coinhive.min.js"


@pytest.fixture()
def engines(engine, sigs):  # noqa: F811 - the fixture imported above
    """(engine reading plain documents raw, engine parsing every document, the counting JS)."""
    html, js = engine
    return html, HtmlEngine(sigs, js=js, domains=html.domains, plain_reader=False), js


def srcdoc(doc: str) -> str:
    return '<iframe srcdoc="' + htmllib.escape(doc, quote=True) + '"></iframe>'


def frames(docs: list[str]) -> str:
    return "<!doctype html>\n<html><body>\n" + "".join(f"  <p>x</p>{srcdoc(d)}\n" for d in docs) + "</body></html>\n"


def line_col_of_nth(text: str, needle: str, n: int) -> tuple[int, int]:
    off = -1
    for _ in range(n):
        off = text.index(needle, off + 1)
    return text.count("\n", 0, off) + 1, off - (text.rfind("\n", 0, off) + 1) + 1


def test_many_tiny_srcdoc_documents_cost_a_few_batches(engines):
    html, _, js = engines
    res = html.analyse(frames([f"<script>var a{i}={i};</script>" for i in range(300)]).encode(), "p.html")
    assert res.findings == [] and res.fatal is None
    assert js.single == 0
    assert 1 <= js.batches <= 3


def test_a_miner_in_one_srcdoc_among_many_keeps_its_frame_and_label(engines):
    html, parsed, js = engines
    docs = [f"<script>var a{i} = {i};</script>" for i in range(12)]
    docs[6] = f"<html><body><script>var b = 2;</script>\n<script>{MINER}</script></body></html>"
    text = frames(docs)
    res = html.analyse(text.encode(), "p.html")
    assert res.findings, "the miner in the seventh frame is found"
    line, col = line_col_of_nth(text, "<iframe", 7)
    for f in res.findings:
        assert (f.location.line, f.location.column) == (line, col)
        assert f.location.context.startswith(f"<iframe srcdoc> at line {line}: inline <script> #2")
    assert js.single < len(docs) // 2  # the quiet scripts were mostly cleared in batches
    assert keyed(res) == keyed(unbatched(html, text)) == keyed(parsed.analyse(text.encode(), "p.html"))


def test_a_miner_two_documents_deep_is_relocated_twice_and_a_third_is_not_followed(engines):
    html, _, _ = engines
    inner = [f"<script>var c{i}={i};</script>" for i in range(5)] + [f"<script>{MINER}</script>"]
    text = frames(["<script>var a=1;</script>", frames(inner)])
    res = html.analyse(text.encode(), "p.html")
    assert res.findings
    outer_line, _ = line_col_of_nth(text, "<iframe", 2)
    inner_line, _ = line_col_of_nth(frames(inner), "<iframe", 6)
    want = f"<iframe srcdoc> at line {outer_line}: <iframe srcdoc> at line {inner_line}: inline <script> #1"
    assert {f.location.context for f in res.findings} == {want}
    assert keyed(res) == keyed(unbatched(html, text))

    deep = f"<script>{MINER}</script>"
    for _ in range(MAX_NESTING + 1):
        deep = srcdoc(deep)
    assert html.analyse(deep.encode(), "deep.html").findings == []
    assert html.analyse(srcdoc(srcdoc(f"<script>{MINER}</script>")).encode(), "two.html").findings


def test_findings_keep_page_order_around_nested_documents(engines):
    html, parsed, _ = engines
    text = (srcdoc(f"<script>var a=1;</script><script>{MINER}</script>")
            + f'<script src="{COINHIVE_SRC}"></script>'
            + srcdoc("<script>var b=2;</script>") + srcdoc(f"<script>{MINER}</script>")
            + f"<script>{MINER}</script>")
    res = html.analyse(text.encode(), "p.html")
    order = [f.location.line and f.location.context.split(":")[0].split(",")[0] for f in res.findings]
    assert order[0].startswith("<iframe srcdoc>") and order[-1] == "inline <script> #2"
    assert any(c.startswith("<script src> #1") for c in order)
    assert keyed(res) == keyed(unbatched(html, text)) == keyed(parsed.analyse(text.encode(), "p.html"))


PLAIN = [
    f"<script>{MINER}</script>",
    f"<!DOCTYPE html>\n<html><head></head><body>\n<p>hello</p><script>{MINER}</script>\n</body></html>",
    f'<script src="{COINHIVE_SRC}" async></script><SCRIPT type=text/javascript>{MINER}</SCRIPT>',
    f"<script type='module'>{MINER}</script><script onload='{MINER}' src=x.js></script>",
    f"<script>document.write('<\\/script>'); {MINER}</script>",
    f'<script type="application/ld+json">{{"u": "{COINHIVE_SRC}"}}</script>',
    f"text only, {MINER}",
    f"<div><script\n  data-x='1'\n>\n{MINER}\n</script></div>",
]
NOT_PLAIN = [
    f"<!-- <script>{MINER}</script> -->",
    f"<noscript><script>{MINER}</script></noscript>",
    f"<script class=a>{MINER}</script>",
    f'<script src="a&amp;b.js">{MINER}</script>',
    f"<script>document.write('</p>'); {MINER}</script>",
    f"<script src=a/>{MINER}</script>",
    f"<script>{MINER}</script >",
    f"<script\u00a0src=x.js>{MINER}</script>",
    f"<script src=a.js src=b.js>{MINER}</script>",
    f"<style>p{{}}</style><script>{MINER}</script>",
    f"<div id=a><script>{MINER}</script></div>",
    f"<script>{MINER}",
    f"<script/>{MINER}</script>",
]


@pytest.mark.parametrize("doc", PLAIN + NOT_PLAIN)
def test_a_plain_document_read_raw_gives_what_the_parser_gives(engines, doc):
    html, parsed, _ = engines
    assert (plain_scripts(doc) is not None) == (doc in PLAIN)
    for text in (doc, frames([doc, doc])):
        assert keyed(html.analyse(text.encode(), "p.html")) == keyed(parsed.analyse(text.encode(), "p.html"))


def test_plain_documents_show_their_scripts_in_order():
    doc = "<html><body>a<script>one()</script>b<script src=x.js defer></script></body></html>"
    (first, a1), (second, a2) = plain_scripts(doc)
    assert (a1, a2) == ({}, {"src": "x.js", "defer": ""})
    assert doc[first.start:first.end] == "<script>" and doc[second.start:second.end] == "<script src=x.js defer>"


def test_a_cut_start_tag_with_an_open_quote_reads_as_before(monkeypatch):
    """The open quote starts an unquoted value (up to a space), and reading goes on after it."""
    monkeypatch.setattr(positions, "MAX_START_TAG", 64)
    text = '<iframe srcdoc="<b a=1' + " name='n' x" * 10 + '">' + "y" * 100
    tag = positions.read_start_tag(text, 0)
    assert tag.end == 64
    assert text[slice(*tag.values["srcdoc"])] == '"<b'
    assert text[slice(*tag.values["a"])] == "1"
    assert text[slice(*tag.values["name"])] == "n"
    early = positions.read_start_tag(text.replace("a=1", "a=1>"), 0)
    assert early.end == text.index("a=1") + 4, "a `>` after the open quote ends the tag, as before"


def test_an_ordinary_start_tag_reads_every_kind_of_value():
    text = """<script  SRC="a.js" data-x='b c' defer type=module onload = "f(1)" src='dup'>"""
    tag = positions.read_start_tag(text, 0)
    got = {k: text[a:b] for k, (a, b) in tag.values.items()}
    assert got == {"src": "a.js", "data-x": "b c", "type": "module", "onload": "f(1)"}
    assert tag.end == len(text)
