"""Small inline scripts cleared in batches (HtmlEngine._flush, JsEngine.quiet): a page of many
tiny scripts costs one JS analysis per batch, and a script with something to show is still
analysed alone, so its findings keep its own line, column and `inline <script> #N` label.

Real engines throughout; the JS engine is subclassed only to count the calls it receives.
"""

from __future__ import annotations

import pytest

from webscan.html import engine as html_engine
from webscan.html.engine import HtmlEngine
from webscan.js.engine import JsEngine
from webscan.net.domains import DomainMatcher
from webscan.net.protocol import ProtocolMatcher
from webscan.rules.constants import ConstantMatcher
from webscan.wasm.engine import WasmEngine

MINER = 'var miner = new CoinHive.Anonymous("SITEKEYSITEKEYSITEKEYSITEKEY12"); miner.start();'


class CountingJs(JsEngine):
    """The real JS engine, counting single-script analyses and batch clearances."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.single = 0
        self.batches = 0

    def analyse(self, source, target, **kw):
        self.single += 1
        return super().analyse(source, target, **kw)

    def quiet(self, source, target):
        self.batches += 1
        return super().quiet(source, target)


@pytest.fixture()
def engine(sigs):
    domains = DomainMatcher(sigs.domains)
    constants = ConstantMatcher(sigs.constants)
    js = CountingJs(sigs, domains=domains, constants=constants,
                    protocol=ProtocolMatcher(sigs.protocol), wasm=WasmEngine(sigs, constants))
    return HtmlEngine(sigs, js=js, domains=domains), js


def page(bodies: list[str]) -> str:
    return "<!doctype html>\n<html><body>\n" + "".join(
        f"  <p>x</p><script>{b}</script>\n" for b in bodies) + "</body></html>\n"


def position_of(text: str, needle: str) -> tuple[int, int]:
    off = text.index(needle)
    line = text.count("\n", 0, off) + 1
    return line, off - (text.rfind("\n", 0, off) + 1) + 1


def keyed(analysis) -> list[tuple]:
    return [(f.rule, f.location.line, f.location.column, f.location.context, f.message)
            for f in analysis.findings]


def test_many_clean_scripts_cost_a_few_batches_not_one_analysis_each(engine):
    html, js = engine
    res = html.analyse(page(["var a=1;"] * 400).encode(), "p.html")
    assert res.findings == [] and res.fatal is None
    assert js.single == 0
    assert 1 <= js.batches <= 3


def test_miner_in_the_seventh_script_keeps_its_line_column_and_label(engine):
    html, js = engine
    bodies = [f"var a{i} = {i};" for i in range(12)]
    bodies[6] = MINER
    text = page(bodies)
    res = html.analyse(text.encode(), "p.html")
    mine = [f for f in res.findings if f.location.context == "inline <script> #7"]
    assert mine, keyed(res)
    assert all(f.location.context == "inline <script> #7" for f in res.findings)
    at = {(f.location.line, f.location.column) for f in mine}
    assert position_of(text, "new CoinHive.Anonymous") in at or position_of(text, MINER) in at
    assert js.single == 1  # the other eleven were cleared in batches
    assert keyed(unbatched(html, text)) == keyed(res)


def unbatched(html: HtmlEngine, text: str):
    """The page analysed script by script, as before batching."""
    saved = html_engine.BATCH_PART_BYTES
    html_engine.BATCH_PART_BYTES = -1
    try:
        return html.analyse(text.encode(), "p.html")
    finally:
        html_engine.BATCH_PART_BYTES = saved


def test_a_script_that_does_not_parse_is_analysed_alone_with_its_findings(engine):
    html, js = engine
    bodies = ["var a=1;"] * 10
    bodies[3] = "var broken = ;\n" + MINER
    bodies[8] = MINER
    text = page(bodies)
    res = html.analyse(text.encode(), "p.html")
    by_ctx: dict[str, set[str]] = {}
    for f in res.findings:
        by_ctx.setdefault(f.location.context, set()).add(f.rule)
    assert set(by_ctx) == {"inline <script> #4", "inline <script> #9"}
    assert "js.parse.syntax-error" in by_ctx["inline <script> #4"]
    assert by_ctx["inline <script> #4"] - {"js.parse.syntax-error"} == by_ctx["inline <script> #9"]
    syntax = next(f for f in res.findings if f.rule == "js.parse.syntax-error")
    assert syntax.location.line == position_of(text, "var broken")[0]
    assert js.single < len(bodies) // 2  # the clean ones were mostly cleared in batches
    assert keyed(unbatched(html, text)) == keyed(res)


def test_modules_and_big_scripts_are_not_batched(engine):
    html, js = engine
    text = ('<script type="module">var a=1;</script><script type="module">var b=2;</script>'
            f'<script>var big = "{"x" * 5000}";</script><script>var c=3;</script>')
    html.analyse(text.encode(), "p.html")
    assert js.single == 4  # two modules, the big script, and a batch of one, analysed as usual
    assert js.batches == 0  # nothing was joined


def test_findings_keep_page_order_around_a_batch(engine):
    html, js = engine
    text = (f"<script>{MINER}</script><script>var a=1;</script>"
            '<script src="https://coinhive.com/lib/coinhive.min.js"></script>'
            f"<script>var b=2;</script><script>{MINER}</script>")
    res = html.analyse(text.encode(), "p.html")
    order = [f.location.context.split(",")[0] for f in res.findings]
    assert order == sorted(order, key=lambda c: int(c.split("#")[1].split()[0]))
    assert "<script src> #3 (coinhive.com)" in order
    assert keyed(unbatched(html, text)) == keyed(res)
