"""Run a packer's decoder in a sandboxed JavaScript engine and keep what it would have run.

Static folding (deobfuscate.py) stops where a payload needs a real interpreter: an LZW or XOR
decoder, a custom base64, a char-code shift, written as a small function of the same file and
fed a long literal (`new Function(lzw(atob("...")))()`). The engine (engine.py) finds that
shape, cuts the minimal slice (the decoder definitions the call needs, plus the call itself;
see `deobfuscate.packer_slice`) and hands it here. Nothing else ever reaches this module.

Threat model. The slice is hostile: anyone can publish a page whose "decoder" loops forever,
allocates without end, probes for host objects or tries to get its code run outside.

- Where it runs: V8 (PyPI `mini-racer`) inside a CHILD PROCESS of its own, started on the first
  packer shape and reused, never inside the scanning process. Measured reason: mini-racer's
  timeout returns to Python on time but does not stop a long C++ builtin
  (`new Array(1e9).fill(0)` kept running, then aborted the whole process with a V8 fatal
  out-of-memory), so only a process we can kill gives a hard limit.
- Time: the child stops the script at `time_ms` (V8 TerminateExecution); the parent kills the
  child (SIGKILL) if no answer came `KILL_GRACE_MS` later, and starts a fresh one on the next
  need. A hostile slice costs at most `time_ms + KILL_GRACE_MS` of wall time, plus a restart.
- Memory: V8's heap limit for the context (`memory` bytes; measured overshoot up to ~1.5x, the
  limit is checked at garbage collections), and RLIMIT_DATA of `CHILD_DATA_LIMIT` on the whole
  child as the backstop (V8 then aborts the child, which the parent reports). No core dumps,
  no files written (RLIMIT_CORE = RLIMIT_FSIZE = 0); the child dies with its parent
  (PR_SET_PDEATHSIG).
- What the script can reach: a fresh isolate and context per evaluation (nothing survives from
  one slice to the next) with ECMAScript builtins only (no `require`, `process`, `fetch`,
  `XMLHttpRequest`, DOM, I/O, timers that fire, WebAssembly, Atomics, SharedArrayBuffer) plus a
  short whitelist written in JavaScript here: `atob`, `btoa`, `window`/`self` (the global
  itself) and a `document` whose only methods are `write`/`writeln`. No Python function is
  ever exposed to the script; the only channel back is one JSON string the parent reads and
  validates (a list of [kind, text] pairs), which a hostile script may forge: its content is
  only ever scanned as text by the static engine, never run.
- What is left: a memory-safety bug in V8 itself, exploited by the slice, would run code in the
  child with the user's rights (no seccomp or namespaces here). Narrowed by a current V8
  (14.4 in mini-racer 0.14), `--jitless` (no generated machine code, no writable-executable
  memory; measured as fast as the JIT on decoders, which run milliseconds), a process apart
  from the scanner and its files, and the rlimits above.
- What runs the payload: nobody. `eval`, `Function` (also reached as `(function(){}).constructor`
  and its async/generator kin), `setTimeout`/`setInterval`/`setImmediate`/`execScript` with a
  string and `document.write` are replaced by functions that RECORD their string argument and
  return (a no-op function for `Function`), so what we get is the decoder's output, not its
  effect. Recording is capped at `max_bytes` characters in total.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

SLICE_MS = 500
"""Time one evaluation may take in V8. Decoders of packed libraries take milliseconds to a few
hundred (bench/bench_sandbox.py, quiet machine: LZW over 64 KB 21 ms, p,a,c,k,e,d over 91 KB
40 ms, XOR over a 200 KB library 142 ms; the XOR decoder of an 80 KB file took 356 ms on this
2-core machine at a load average near 9), so 500 keeps real libraries in reach on a loaded
machine while a hostile slice still costs half a second."""
SLICE_MEMORY = 64 * 1024 * 1024
"""V8 heap for one evaluation: a decoder holds its input, a dictionary and its output (a few
times the library's size, a few MB); 64 MB is an order of magnitude more."""
MAX_OUTPUT = 4 * 1024 * 1024
"""Characters recorded per evaluation, all outputs together (= deobfuscate.MAX_DECODED)."""
KILL_GRACE_MS = 500
"""Beyond `time_ms`, how long the parent waits for an answer before it kills the child: covers
making the fresh context (~5-50 ms) and V8 stopping by itself (measured < 10 ms)."""
START_TIMEOUT_S = 10.0
"""How long the child may take to start Python and V8 (measured 0.1-0.5 s)."""
CHILD_DATA_LIMIT = 1 << 30
"""RLIMIT_DATA of the child: V8 needs a few hundred MB of reservations to start (512 MB is too
little to start it), a hostile slice is stopped by the heap limit long before this."""
_HEADER = struct.Struct(">I")


@dataclass
class SandboxResult:
    """What one evaluation recorded, and how it ended.

    `status`: "ok" (the slice ran to its end), "error" (it threw: a ReferenceError for a host
    object it expected, a RangeError for a runaway recursion), "timeout", "memory" (the heap
    limit stopped it), "killed" (no answer in time, or the child died: it was replaced),
    "unavailable" (the engine could not start). Outputs recorded before a stop are kept.
    """

    outputs: list[tuple[str, str]] = field(default_factory=list)
    """(how it was to be run, text): how is "eval", "Function", "setTimeout", "document.write"..."""
    status: str = "ok"
    detail: str = ""
    truncated: bool = False
    elapsed_ms: float = 0.0

    @property
    def note(self) -> str:
        """One line for a person: how the evaluation ended, when it did not end normally."""
        if self.status == "ok":
            return "the decoder ran to its end" + (" (output capped)" if self.truncated else "")
        what = {"error": "the decoder threw", "timeout": "the decoder ran out of time",
                "memory": "the decoder hit the sandbox's memory limit",
                "killed": "the sandbox process was killed and replaced",
                "unavailable": "the JavaScript sandbox is unavailable"}.get(self.status, self.status)
        return f"{what}: {self.detail}" if self.detail else what


def evaluate_decoder(source: str, *, time_ms: int = SLICE_MS, memory: int = SLICE_MEMORY,
                     max_bytes: int = MAX_OUTPUT) -> SandboxResult:
    """Run `source` (a decoder slice) in the sandbox; see the module docstring for the limits.

    Never raises for anything the script does; a failure to start the engine is a result with
    status "unavailable" (the caller notes it and carries on statically)."""
    start = time.monotonic()
    with _LOCK:
        res = _run(source, time_ms, memory, max_bytes)
    res.elapsed_ms = (time.monotonic() - start) * 1000
    return res


# --- the parent side -------------------------------------------------------------------------

_LOCK = threading.Lock()
_child: "_Child | None" = None


class _Child:
    """The sandbox process and its pipes, owned by the process that started it."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            close_fds=True)
        hello = self.read(time.monotonic() + START_TIMEOUT_S)
        if not isinstance(hello, dict) or hello.get("ready") is not True:
            err = hello.get("error") if isinstance(hello, dict) else None
            self.kill()
            raise OSError(err or "the sandbox process did not start")

    def send(self, msg: dict) -> None:
        data = json.dumps(msg).encode("utf-8", "surrogatepass")
        assert self.proc.stdin is not None
        self.proc.stdin.write(_HEADER.pack(len(data)) + data)
        self.proc.stdin.flush()

    def read(self, deadline: float) -> object:
        """One message, or None when the deadline passed or the child closed its pipe."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        head = self._read_exactly(fd, _HEADER.size, deadline)
        if head is None:
            return None
        (n,) = _HEADER.unpack(head)
        if n > 8 * MAX_OUTPUT + 65536:
            return None
        body = self._read_exactly(fd, n, deadline)
        try:
            return None if body is None else json.loads(body)
        except ValueError:
            return None

    @staticmethod
    def _read_exactly(fd: int, n: int, deadline: float) -> bytes | None:
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, min(n - len(buf), 1 << 20))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass

    def close(self) -> None:
        """Let the child end by itself (EOF on its stdin), else kill it."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=1)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


def _run(source: str, time_ms: int, memory: int, max_bytes: int) -> SandboxResult:
    global _child
    if _child is not None and _child.pid != os.getpid():
        _child = None  # inherited through a fork: the parent's pipes, not ours to use
    if _child is None:
        try:
            _child = _Child()
        except OSError as e:
            return SandboxResult(status="unavailable", detail=str(e))
    child = _child
    try:
        child.send({"src": source, "time_ms": int(time_ms), "memory": int(memory),
                    "max_bytes": int(max_bytes)})
    except (OSError, ValueError):
        child.kill()
        _child = None
        return SandboxResult(status="killed", detail="the sandbox process had gone; it was replaced")
    reply = child.read(time.monotonic() + (time_ms + KILL_GRACE_MS) / 1000)
    if not isinstance(reply, dict):
        died = child.proc.poll() is not None
        child.kill()
        _child = None
        why = ("the sandbox process died (out of memory or a V8 abort)" if died else
               f"no answer within {time_ms + KILL_GRACE_MS} ms")
        return SandboxResult(status="killed", detail=why)
    return _result_of(reply, max_bytes)


def _result_of(reply: dict, max_bytes: int) -> SandboxResult:
    """The child's answer, validated: the outputs part was written by the sandboxed script's
    world and is trusted for nothing but being a list of short (kind, text) pairs."""
    outputs: list[tuple[str, str]] = []
    total = 0
    raw = reply.get("outputs")
    for item in raw if isinstance(raw, list) else ():
        if (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], str) and len(item[0]) <= 32):
            text = item[1][:max(0, max_bytes - total)]
            total += len(text)
            outputs.append((item[0], text))
    status = reply.get("status")
    status = status if status in ("ok", "error", "timeout", "memory") else "error"
    detail = reply.get("detail")
    return SandboxResult(outputs=outputs, status=status,
                         detail=detail[:300] if isinstance(detail, str) else "",
                         truncated=bool(reply.get("truncated")) or total >= max_bytes)


@atexit.register
def _shutdown() -> None:
    if _child is not None and _child.pid == os.getpid():
        _child.close()


# --- the child side --------------------------------------------------------------------------

# The global object a decoder sees. Runs before the slice, in the slice's fresh context; what it
# keeps for itself (the record, the intrinsics it uses) lives in this closure, out of reach.
PRELUDE = r"""
(function () {
  'use strict';
  var g = globalThis, MAX = %(max)d;
  var apply = Reflect.apply, defProp = Object.defineProperty, getProto = Object.getPrototypeOf;
  var slice = String.prototype.slice, stringify = JSON.stringify, fromCharCode = String.fromCharCode;
  var out = [], total = 0, truncated = false;
  function rec(kind, v) {
    if (typeof v !== 'string') return;
    if (total >= MAX) { truncated = true; return; }
    if (v.length > MAX - total) { v = apply(slice, v, [0, MAX - total]); truncated = true; }
    total += v.length;
    defProp(out, out.length, {value: [kind, v], enumerable: true, writable: true, configurable: true});
  }
  var noop = function () {};
  function Fn() {
    var n = arguments.length;
    rec('Function', n ? '' + arguments[n - 1] : '');
    return function () {};
  }
  defProp(Fn, 'prototype', {value: Function.prototype});
  [function () {}, async function () {}, function* () {}, async function* () {}].forEach(function (f) {
    defProp(getProto(f), 'constructor', {value: Fn, writable: true, configurable: true});
  });
  function later(kind) {
    return function (code) { if (typeof code === 'string') rec(kind, code); return 1; };
  }
  var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  function atob(s) {
    s = ('' + s).replace(/[\t\n\f\r ]+/g, '');
    if (s.length %% 4 === 0) s = s.replace(/==?$/, '');
    if (s.length %% 4 === 1 || /[^A-Za-z0-9+\/]/.test(s)) throw new Error('InvalidCharacterError');
    var r = '', bits = 0, acc = 0;
    for (var i = 0; i < s.length; i++) {
      acc = (acc << 6) | B64.indexOf(s.charAt(i)); bits += 6;
      if (bits >= 8) { bits -= 8; r += fromCharCode((acc >> bits) & 255); }
    }
    return r;
  }
  function btoa(s) {
    s = '' + s; var r = '';
    for (var i = 0; i < s.length; i += 3) {
      var a = s.charCodeAt(i), b = s.charCodeAt(i + 1), c = s.charCodeAt(i + 2);
      if (a > 255 || b > 255 || c > 255) throw new Error('InvalidCharacterError');
      var n = (a << 16) | ((b | 0) << 8) | (c | 0);
      r += B64.charAt(n >> 18) + B64.charAt((n >> 12) & 63)
        + (i + 1 < s.length ? B64.charAt((n >> 6) & 63) : '=') + (i + 2 < s.length ? B64.charAt(n & 63) : '=');
    }
    return r;
  }
  ['console', 'setTimeout', 'clearTimeout', '__timer_manager', 'WebAssembly', 'Atomics',
   'SharedArrayBuffer', 'FinalizationRegistry', 'WeakRef'].forEach(function (k) { if (!Reflect.deleteProperty(g, k)) g[k] = undefined; });
  var put = function (k, v) {  // mini-racer's own timers are `var`s: not configurable, writable
    try { defProp(g, k, {value: v, writable: true, configurable: true}); } catch (e) { g[k] = v; }
  };
  put('eval', function (code) { rec('eval', code); });
  put('Function', Fn);
  put('setTimeout', later('setTimeout'));
  put('setInterval', later('setInterval'));
  put('setImmediate', later('setImmediate'));
  put('execScript', later('execScript'));
  put('clearTimeout', noop);
  put('clearInterval', noop);
  put('atob', atob);
  put('btoa', btoa);
  put('window', g);
  put('self', g);
  put('document', {write: function () { for (var i = 0; i < arguments.length; i++) rec('document.write', '' + arguments[i]); },
                   writeln: function () { for (var i = 0; i < arguments.length; i++) rec('document.write', '' + arguments[i]); }});
  defProp(g, '__webscan_take', {value: function () {
    return stringify({outputs: out, truncated: truncated});
  }, writable: false, configurable: false, enumerable: false});
})();
"""


def _child_main() -> None:
    """The sandbox process: answer one evaluation per message until stdin closes."""
    import ctypes
    import resource
    import signal

    try:  # die with the process that started us (a worker killed for overrunning)
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    for lim, value in ((resource.RLIMIT_DATA, CHILD_DATA_LIMIT), (resource.RLIMIT_CORE, 0),
                       (resource.RLIMIT_FSIZE, 0)):
        try:
            resource.setrlimit(lim, (value, value))
        except (ValueError, OSError):
            pass
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer

    def send(msg: dict) -> None:
        data = json.dumps(msg).encode("utf-8", "surrogatepass")
        stdout.write(_HEADER.pack(len(data)) + data)
        stdout.flush()

    try:
        import py_mini_racer as mr
        mr.init_mini_racer(flags=("--single-threaded", "--jitless"), ignore_duplicate_init=True)
        with mr.MiniRacer() as probe:  # the first context loads ICU and V8's snapshot
            probe.eval("1")
    except Exception as e:  # noqa: BLE001 - say why in the hello
        send({"ready": False, "error": f"cannot start V8 (mini-racer): {type(e).__name__}: {e}"})
        return
    send({"ready": True})
    while True:
        head = stdin.read(_HEADER.size)
        if len(head) < _HEADER.size:
            return
        (n,) = _HEADER.unpack(head)
        try:
            job = json.loads(stdin.read(n))
            send(_evaluate(mr, job["src"], job["time_ms"], job["memory"], job["max_bytes"]))
        except (ValueError, KeyError, TypeError) as e:
            send({"status": "error", "detail": f"bad request: {e}"})
        except Exception as e:  # noqa: BLE001 - the sandbox's own failure, reported per job
            send({"status": "error", "detail": f"sandbox failure: {type(e).__name__}: {e}"[:300]})


def _evaluate(mr: object, src: str, time_ms: int, memory: int, max_bytes: int) -> dict:
    status, detail = "ok", ""
    with mr.MiniRacer() as ctx:  # type: ignore[attr-defined]
        ctx.set_hard_memory_limit(memory)
        ctx.eval(PRELUDE % {"max": max_bytes})
        t0 = time.monotonic()
        try:
            ctx.eval(src + "\n;void 0", timeout_sec=time_ms / 1000)
        except mr.JSTimeoutException:  # type: ignore[attr-defined]
            status, detail = "timeout", f"stopped after {time_ms} ms"
        except mr.JSOOMException:  # type: ignore[attr-defined]
            status, detail = "memory", f"over {memory >> 20} MB of heap"
        except mr.JSEvalException as e:  # type: ignore[attr-defined]
            status, detail = "error", str(e).splitlines()[0][:300] if str(e) else type(e).__name__
        except Exception as e:  # noqa: BLE001 - e.g. a result that does not convert
            status, detail = "error", f"{type(e).__name__}: {e}"[:300]
        if status == "memory" or ctx.was_hard_memory_limit_reached():
            status = "memory" if status != "ok" else status
        left = max(0.05, time_ms / 1000 - (time.monotonic() - t0))
        try:
            taken = json.loads(ctx.eval("__webscan_take()", timeout_sec=left))
        except Exception:  # noqa: BLE001 - a stopped isolate may refuse: keep the status
            taken = {}
    if not isinstance(taken, dict):
        taken = {}
    return {"status": status, "detail": detail, "outputs": taken.get("outputs"),
            "truncated": taken.get("truncated")}


if __name__ == "__main__":
    _child_main()
