"""The decoder sandbox (webscan/js/sandbox.py) against hostile slices, and the engine's use of it
on packed scripts: what comes out is scanned again, and the sandbox runs only on packer shapes.

Every hostile slice must end (by itself or by the limits) with a status that says why, must not
reach anything outside V8's builtins and the short whitelist, and must leave the sandbox usable
for the next slice."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from tree_sitter import Parser

from webscan.js import deobfuscate as deob
from webscan.js import sandbox
from webscan.js.engine import JS_LANGUAGE
from webscan.model import VerdictLabel
from webscan.scanner import Scanner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from packers import BENIGN, MINER, PACKERS  # noqa: E402


def run(src: str, **kw) -> sandbox.SandboxResult:
    return sandbox.evaluate_decoder(src, **kw)


def texts(res: sandbox.SandboxResult) -> list[str]:
    return [t for _, t in res.outputs]


# --- the sandbox itself ----------------------------------------------------------------------


def test_eval_and_function_are_recorded_not_run():
    res = run("var n = 0; eval('n = 1; while(1){}'); new Function('a', 'return a'); "
              "Function('x')(); (function(){}).constructor('ctor'); (async function(){}).constructor('actor');"
              "setTimeout('later()', 0); setTimeout(function(){ while(1){} }, 0); document.write('<b>w</b>');"
              "eval(String(n));")
    assert res.status == "ok", res.note
    assert res.outputs == [("eval", "n = 1; while(1){}"), ("Function", "return a"), ("Function", "x"),
                           ("Function", "ctor"), ("Function", "actor"), ("setTimeout", "later()"),
                           ("document.write", "<b>w</b>"), ("eval", "0")]


@pytest.mark.parametrize("src, status", [
    ("while (1) {}", "timeout"),
    ("for (;;) { try { while (1) {} } catch (e) {} }", "timeout"),
    ("var a = []; while (1) a.push(new Array(1000).fill(1.5));", "memory"),
    ("function f() { return f() + 1; } f();", "error"),  # RangeError: call stack
    ("var s = 'x'; while (1) s += s;", "error"),  # RangeError: invalid string length
])
def test_runaway_slices_stop_with_a_reason(src, status):
    res = run(src)
    # the heap limit is checked at garbage collections: the clock may stop a slow heap first
    allowed = {"memory", "timeout", "killed"} if status == "memory" else {status}
    assert res.status in allowed, res.note
    assert res.note and res.outputs == []


def test_a_builtin_that_ignores_termination_gets_the_process_killed():
    """Array.prototype.fill on a dictionary-mode array neither checks V8's termination nor its
    heap limit (in-process it ran on and aborted the whole process): the parent kills the
    child at time_ms + KILL_GRACE_MS and the next slice gets a fresh one."""
    res = run("new Array(1e9).fill(0); eval('never');")
    assert res.status in ("killed", "memory"), res.note
    assert texts(res) == []
    assert run("eval('alive')").outputs == [("eval", "alive")]


def test_outputs_are_capped():
    res = run("eval('x'.repeat(1 << 22)); eval('more')", max_bytes=1000)
    assert res.truncated and sum(len(t) for t in texts(res)) == 1000


def test_no_host_objects_are_reachable():
    probe = ("var names = ['require', 'process', 'fetch', 'XMLHttpRequest', 'WebSocket', 'importScripts',"
             " 'WebAssembly', 'Atomics', 'SharedArrayBuffer', 'console', 'module', 'Deno', 'Bun', 'os'];"
             "eval(names.map(function (n) { return n + ':' + typeof globalThis[n]; }).join(','));"
             "try { require('fs'); } catch (e) { eval(e.name); }"
             "try { process.exit(1); } catch (e) { eval(e.name); }")
    res = run(probe)
    assert res.status == "ok", res.note
    found = dict(p.split(":") for p in texts(res)[0].split(","))
    assert set(found.values()) == {"undefined"}, found
    assert texts(res)[1:] == ["ReferenceError", "ReferenceError"]


def test_getters_proxies_and_globalthis_probing_stay_inside():
    """Everything a slice can touch is its own context: walking the global object, its
    prototypes and getters, or a Proxy trapping every operation, finds nothing but builtins
    and the whitelist, and no Python callback."""
    res = run("""
      var seen = [];
      for (var o = globalThis; o; o = Object.getPrototypeOf(o))
        seen = seen.concat(Object.getOwnPropertyNames(o));
      var trap = new Proxy({}, {get: function (t, k) { return function () { return this; }; }});
      var g = Object.getOwnPropertyDescriptor(globalThis, 'document');
      eval(seen.filter(function (n) { return /python|py_|mini|racer|host|callback/i.test(n); }).join() || 'none');
      eval(String(typeof trap.anything));
      eval(String(typeof this) + ':' + (this === globalThis));
      eval(Object.keys(g.value).join());
    """)
    assert res.status == "ok", res.note
    assert texts(res) == ["none", "function", "object:true", "write,writeln"]


def test_a_fresh_context_per_evaluation():
    run("globalThis.leak = 'from the first slice'; Object.prototype.polluted = 1;")
    res = run("eval(typeof leak + ':' + typeof ({}).polluted)")
    assert texts(res) == ["undefined:undefined"]


def test_a_slice_cannot_take_over_the_record():
    """The record lives in the prelude's closure; replacing intrinsics after the fact changes
    nothing the parent reads, and forging the take function is refused."""
    res = run("eval('first'); Array.prototype.push = null; JSON.stringify = function () { return '[]'; };"
              "try { globalThis.__webscan_take = function () { return 'forged'; }; } catch (e) {}"
              "eval('second');")
    assert texts(res) == ["first", "second"]


def test_a_slice_that_evals_an_infinite_loop_ends_at_once():
    res = run("function d(s) { return s.split('').reverse().join(''); } eval(d('}{)1(elihw'));")
    assert res.status == "ok" and texts(res) == ["while(1){}"]


def test_atob_btoa_whitelist():
    res = run("eval(atob(btoa('CoinHive \\u00e9')) + '|' + btoa('ab'))")
    assert texts(res) == ["CoinHive \u00e9|YWI="]


# --- packer shapes -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner()


@pytest.mark.parametrize("packer", sorted(PACKERS))
def test_packed_miner_is_reached(scanner, packer):
    src = PACKERS[packer](MINER).encode()
    assert b"CoinHive.Anonymous" not in src  # (p,a,c,k,e,d keeps the words, in its dictionary)
    report = scanner.scan_bytes(src, f"{packer}.js")
    assert report.verdict == VerdictLabel.miner, report.explanation
    rules = {f.rule for f in report.findings}
    assert "js.deobfuscate.sandbox-unpacked" in rules
    kit = [f for f in report.findings if f.category == "kit-api"]
    assert kit and all("decoded from sandbox:" in (f.location.context or "") for f in kit)


@pytest.mark.parametrize("packer", sorted(PACKERS))
def test_packed_benign_script_stays_clean(scanner, packer):
    report = scanner.scan_bytes(PACKERS[packer](BENIGN).encode(), f"{packer}.js")
    assert report.verdict == VerdictLabel.clean, report.explanation


def test_packed_inline_script_in_a_page(scanner):
    """Small inline scripts are cleared in batches (html engine + JsEngine.quiet); a packed one
    is not quiet (its eval call is a match) and gets its own analysis, sandbox included."""
    page = ("<!doctype html><html><head><script>var a = 1;</script></head><body><p>hello</p>\n"
            f"<script>{PACKERS['xor-base64'](MINER)}</script><script>var b = 2;</script></body></html>")
    report = scanner.scan_bytes(page.encode(), "page.html")
    assert report.verdict == VerdictLabel.miner, report.explanation
    kit = [f for f in report.findings if f.category == "kit-api"]
    assert kit and all("decoded from sandbox:" in (f.location.context or "") for f in kit)


def test_packer_shape_finding_without_the_sandbox(scanner, monkeypatch):
    """When the sandbox cannot help (here: unavailable), the packing itself is still reported
    by its rule, and a note says why the payload was not reached."""
    monkeypatch.setattr(sandbox, "evaluate_decoder",
                        lambda *a, **k: sandbox.SandboxResult(status="unavailable", detail="test"))
    a = scanner.analyse_bytes(PACKERS["lzw"](MINER).encode(), "lzw.js")
    rules = {f.rule for f in a.findings}
    assert "js.obfuscation.local-decoder-eval" in rules and "js.deobfuscate.sandbox-unpacked" not in rules
    assert any("sandbox is unavailable" in n for n in a.notes), a.notes


def test_packed_payload_that_loops_is_noted_not_fatal(scanner):
    """A decoder that never returns costs one slice and leaves a note."""
    src = ("function dec(s) { while (true) {} return s; }\n"
           f"eval(dec('{'A' * 200}'));\n").encode()
    a = scanner.analyse_bytes(src, "loop.js")
    assert any("ran out of time" in n or "killed" in n for n in a.notes), a.notes
    assert not a.fatal


def _slice_of(src: str) -> deob.PackerSlice | None:
    parser = Parser(JS_LANGUAGE)
    root = parser.parse(src.encode()).root_node
    calls = []
    stack = [root]
    while stack:
        n = stack.pop()
        if n.type in ("call_expression", "new_expression"):
            fn = n.child_by_field_name("function") or n.child_by_field_name("constructor")
            if fn is not None and fn.text in (b"eval", b"Function", b"setTimeout"):
                calls.append(n)
        stack.extend(n.named_children)
    out = None
    for c in calls:
        args = c.child_by_field_name("arguments")
        if args is not None and args.named_children:
            arg = args.named_children[-1] if c.type == "new_expression" else args.named_children[0]
            out = out or deob.packer_slice(c, arg)
    return out


@pytest.mark.parametrize("src", [
    "eval(getScript());",  # a name from elsewhere
    "function run(s){ return s; } eval(run(code));",  # its input is not in the file
    "function t(s){ return s; } eval(t('short'));",  # no long data
    "setTimeout(wrap(function(){ alert('" + "a long message that is only a message, " * 3 + "'); }), 10);",
    "eval(localStorage.getItem('" + "k" * 60 + "'));",  # a host object
    "var x = '" + "y" * 80 + "'; eval(x);",  # a literal: folded statically, no engine needed
    "var T = ['" + "z" * 60 + "']; setInterval(this[T[0]].bind(this), 50);",  # a bound callback
    "var T = ['" + "z" * 60 + "']; setInterval(this[T[0]][T[1]](this), 50);",
])
def test_not_packer_shapes(src):
    assert _slice_of(src) is None


def test_slice_is_minimal():
    src = ("var unrelated = document.body.innerHTML;\n"
           "function helper(c) { return String.fromCharCode(c - 1); }\n"
           "function dec(s) { var r = ''; for (var i = 0; i < s.length; i++) r += helper(s.charCodeAt(i)); return r; }\n"
           "function other() { fetch('/x'); }\n"
           f"eval(dec('{'b' * 60}'));\n")
    sl = _slice_of(src)
    assert sl is not None
    assert "helper" in sl.source and "function dec" in sl.source
    assert "unrelated" not in sl.source and "fetch" not in sl.source


def test_plain_large_script_never_starts_the_sandbox(scanner, monkeypatch):
    """A big ordinary bundle (with eval/Function calls that are not packers) never reaches the
    sandbox: the evaluation function is replaced by one that fails the test if called."""
    def forbidden(*a, **k):
        raise AssertionError("the sandbox ran on a plain script")

    monkeypatch.setattr(sandbox, "evaluate_decoder", forbidden)
    parts = []
    for i in range(3000):
        parts.append(f"function f{i}(a, b) {{ var s = 'item {i} of the list'; return a + b + s.length; }}\n"
                     f"var r{i} = f{i}({i}, 2); if (r{i} > 1e9) {{ eval('r{i}'); }}\n")
    parts.append("var g = new Function('return this')(); setTimeout(function () { f1(1, 2); }, 10);\n")
    src = "".join(parts).encode()
    assert len(src) > 200_000
    a = scanner.analyse_bytes(src, "bundle.js")
    assert not a.fatal
    assert "js.deobfuscate.sandbox-unpacked" not in {f.rule for f in a.findings}


def test_sandbox_dies_with_its_parent():
    """The child asks the kernel to kill it when its parent goes (PR_SET_PDEATHSIG), so a worker
    killed for overrunning its budget leaves no V8 process behind."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports its sandbox's pid, then dies hard
        os.close(r)
        sandbox._child = None
        sandbox.evaluate_decoder("eval('x')")
        os.write(w, str(sandbox._child.proc.pid).encode())
        os._exit(0)
    os.close(w)
    child_pid = int(os.read(r, 64) or b"0")
    os.close(r)
    os.waitpid(pid, 0)
    assert child_pid
    for _ in range(200):
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            break
        try:  # reap it if it was re-parented to us (subreaper) rather than to init
            os.waitpid(child_pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    else:
        pytest.fail(f"sandbox process {child_pid} outlived its parent")


def _record_slice_calls(monkeypatch) -> list[tuple]:
    """Every packer_slice call's (tables, budget), the real function still doing the work."""
    seen: list[tuple] = []
    real = deob.packer_slice

    def recording(call, arg, tables=None, budget=None):
        seen.append((tables, budget))
        return real(call, arg, tables, budget)

    monkeypatch.setattr(deob, "packer_slice", recording)
    return seen


def test_packer_shape_checks_are_bounded_per_script(scanner, monkeypatch):
    """Thousands of eval(f(x)) call sites buy at most MAX_SLICE_TRIES shape checks, and each
    block's declarations are read once for all of them."""
    from webscan.js import engine as js_engine

    seen = _record_slice_calls(monkeypatch)
    src = "function f(x) { return x; }\n" + "".join(f"eval(f(x{i}));\n" for i in range(3000))
    scanner.analyse_bytes(src.encode(), "many.js")
    calls = [tables for tables, _ in seen]
    assert len(calls) == js_engine.MAX_SLICE_TRIES
    assert all(t is calls[0] for t in calls) and len(calls[0]) == 1  # one table: the program's


def test_packer_shape_walks_share_one_node_budget_per_script(scanner, monkeypatch):
    """In `eval(eval(eval(...)))` every call's subtree holds the next calls: the walks of all
    the call sites of a script share MAX_SLICE_NODES, so the nest costs one budget, not one
    walk of the whole nest per call site (64 of them)."""
    seen = _record_slice_calls(monkeypatch)
    src = "x = " + "eval(" * 20_000 + '"1"' + ")" * 20_000 + ";\n"
    scanner.analyse_bytes(src.encode(), "nest.js")
    budgets = [budget for _, budget in seen]
    assert len(budgets) > 1 and all(b is budgets[0] for b in budgets)
    assert 0 <= budgets[0].nodes < deob.MAX_SLICE_NODES  # used, and never past its end
