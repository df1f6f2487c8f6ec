"""Decode and analyse throughput of the Wasm engine, in MB/s (prints figures; not a test).

    python bench/bench_wasm.py [--check] [extra.wasm ...]

Measures the committed fixtures, a large synthetic module (many distinct functions built by
clang, cached under bench/.cache), any .wasm found under bench/.cache (e.g. from the npm
bench's node_modules) and any paths given. Reports best-of-3 wall time per module and a
calibration figure (a bare Python loop) so numbers from different machines can be compared.

Columns: `decode` is `decode()` as shipped; `regex` is the sequential reference path
(`decode(fast=False)`); `path` says which instruction path `decode()` took and, for the
vectorised one, how many bodies it proved (the rest went the regex way). `--check` also
compares the two paths' results on every module (opcodes, counts, constants, errors) and on
byte-mutated copies of the large ones.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webscan.rules.constants import ConstantMatcher  # noqa: E402
from webscan.rules.loader import load_signatures  # noqa: E402
from webscan.wasm.decoder import WasmDecodeError, _Decoder, decode  # noqa: E402
from webscan.wasm.engine import WasmEngine  # noqa: E402

CACHE = ROOT / "bench" / ".cache"


def big_module(functions: int = 4000) -> Path | None:
    """A ~4 MB module of distinct integer/float/memory/branchy functions, built once."""
    out = CACHE / f"synthetic-{functions}.wasm"
    if out.is_file() or not shutil.which("clang"):
        return out if out.is_file() else None
    CACHE.mkdir(parents=True, exist_ok=True)
    parts = ['typedef unsigned int u32; typedef unsigned long long u64;',
             'static u32 mem[65536]; static double fm[4096];']
    for i in range(functions):
        parts.append(f"""
__attribute__((export_name("f{i}"))) u32 f{i}(u32 a, u32 b, int n) {{
  u32 s = a ^ {i * 2654435761 & 0xffffffff}u; double d = b * {i % 97 + 1}.25;
  for (int k = 0; k < n; k++) {{
    switch ((s + k) & 7) {{
      case 0: s += mem[(s + {i}) & 65535] * {i % 13 + 3}; break;
      case 1: s ^= (u32)(fm[(k + {i}) & 4095] * d); break;
      case 2: mem[(k * {i % 7 + 1}) & 65535] = s >> {i % 5 + 1}; break;
      case 3: d = d * 0.5 + (double)(s & 1023); break;
      case 4: s = (s << 3) | (s >> 29); break;
      case 5: fm[(s >> 4) & 4095] += d; break;
      default: s += (u64)s * {i + 17}u >> 7;
    }}
  }}
  return s + (u32)d;
}}""")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "big.c"
        src.write_text("\n".join(parts))
        subprocess.run(["clang", "--target=wasm32", "-O2", "-nostdlib", "-Wl,--no-entry",
                        "-o", str(out), str(src)], check=True)
    return out


def best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def path_used(data: bytes) -> str:
    """Which instruction path decode() takes for this module (as it decides it)."""
    try:
        dec = _Decoder(data)
        m = dec.run()
    except WasmDecodeError:
        return "error"
    if not dec.fast_bodies:
        return "regex"
    return f"fast {dec.fast_bodies}/{len(m.functions)}"


def outcome(data: bytes, fast: bool) -> tuple:
    """Everything decode() reports, in comparable form (or the error)."""
    try:
        m = decode(data, fast=fast)
    except WasmDecodeError as e:
        return ("error", str(e))
    return (+m.opcodes, [(f.index, f.offset, f.size, f.instructions, f.code_offset)
                         for f in m.functions], m.i32_constants, m.i64_constants,
            m.instructions, m.sections, m.imports, m.exports, m.data_segments)


def check(paths: list[Path], mutants: int = 20) -> int:
    """Fast path == regex path on every module and on mutated copies of the large ones."""
    failures = 0
    rng = random.Random(2)
    for p in paths:
        data = p.read_bytes()
        cases = [data]
        if len(data) > 100_000:
            for _ in range(mutants):
                b = bytearray(data)
                for _ in range(rng.randrange(1, 50)):
                    b[rng.randrange(8, len(b))] = rng.randrange(256)
                cases.append(bytes(b))
        for k, case in enumerate(cases):
            if outcome(case, True) != outcome(case, False):
                failures += 1
                print(f"MISMATCH {p} case {k}")
    print(f"check: {failures} mismatches")
    return failures


def main(argv: list[str]) -> None:
    want_check = "--check" in argv
    extra = [a for a in argv if a != "--check"]
    t = time.perf_counter()
    for _ in range(10_000_000):
        pass
    print(f"calibration: bare `for _ in range(10**7): pass` takes {time.perf_counter() - t:.2f} s")
    sigs = load_signatures()
    engine = WasmEngine(sigs, ConstantMatcher(sigs.constants))
    paths = sorted((ROOT / "site_fixtures" / "wasm").glob("*.wasm"))
    big = big_module()
    if big:
        paths.append(big)
    paths += sorted(p for p in CACHE.rglob("*.wasm") if p != big)
    paths += [Path(p) for p in extra]
    seen: set[bytes] = set()
    unique: list[Path] = []
    totals = {"all": [0, 0.0, 0.0, 0.0], "large": [0, 0.0, 0.0, 0.0]}
    print(f"{'module':44} {'KiB':>7} {'decode MB/s':>12} {'regex MB/s':>11} "
          f"{'analyse MB/s':>13}  path")
    for p in paths:
        data = p.read_bytes()
        if data in seen:
            continue
        seen.add(data)
        unique.append(p)
        d = best_of(lambda: decode(data))
        r = best_of(lambda: decode(data, fast=False))
        a = best_of(lambda: engine.analyse(data, str(p)))
        for key in ("all", "large") if len(data) >= LARGE else ("all",):
            acc = totals[key]
            acc[0] += len(data)
            acc[1] += d
            acc[2] += r
            acc[3] += a
        name = str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)
        print(f"{name[-44:]:44} {len(data) / 1024:7.0f} {len(data) / d / 1e6:12.1f} "
              f"{len(data) / r / 1e6:11.1f} {len(data) / a / 1e6:13.1f}  {path_used(data)}")
    for key, label in (("large", f"LARGE (>= {LARGE >> 10} KiB; bytes / summed best times)"),
                       ("all", "ALL (bytes / summed best times)")):
        size, d, r, a = totals[key]
        if size:
            print(f"{label[-44:]:44} {size / 1024:7.0f} {size / d / 1e6:12.1f} "
                  f"{size / r / 1e6:11.1f} {size / a / 1e6:13.1f}")
    if want_check:
        sys.exit(1 if check(unique) else 0)


LARGE = 256 << 10
"""Modules at least this big count as large (the >= 10 MB/s bar is about them)."""


if __name__ == "__main__":
    main(sys.argv[1:])
