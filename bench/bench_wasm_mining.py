"""What the nonce-loop search (webscan/wasm/mining.py) costs next to decoding, per module.

The search runs only when a rule asks for it (wasm.pow.nonce-loop: a hashing primitive is
present) and only up to engine.MINING_MAX_CODE_BYTES of code. This prints, for every module
with a primitive, the CPU of `WasmEngine.facts` (decode + constants) and of the search, and the
total over all of them.

    .venv/bin/python bench/bench_wasm_mining.py [FILES_OR_DIRS...]
    (default: site_fixtures/wasm and bench/.cache/corpus)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from webscan.rules.constants import ConstantMatcher
from webscan.rules.loader import load_signatures
from webscan.wasm.decoder import WasmDecodeError
from webscan.wasm.engine import MINING_MAX_CODE_BYTES, WasmEngine
from webscan.wasm.mining import find_mining_loops

ROOT = Path(__file__).resolve().parent.parent


def _modules(args: list[str]) -> list[Path]:
    roots = [Path(a) for a in args] or [ROOT / "site_fixtures" / "wasm", ROOT / "bench" / ".cache" / "corpus"]
    out: list[Path] = []
    for r in roots:
        out.extend(sorted(r.rglob("*.wasm")) if r.is_dir() else [r])
    return out


def main(args: list[str]) -> None:
    sigs = load_signatures()
    engine = WasmEngine(sigs, ConstantMatcher(sigs.constants))
    total_facts = total_search = 0.0
    for path in _modules(args):
        data = path.read_bytes()
        t0 = time.process_time()
        try:
            facts = engine.facts(data)
        except WasmDecodeError:
            continue
        t1 = time.process_time()
        code = sum(f.size for f in facts.module.functions)
        if not facts.primitives or code > MINING_MAX_CODE_BYTES:
            continue
        loops = find_mining_loops(facts.module, facts.primitives.values())
        t2 = time.process_time()
        total_facts += t1 - t0
        total_search += t2 - t1
        print(f"{t1 - t0:7.3f} s facts {t2 - t1:7.3f} s search {len(loops)} loop(s)  "
              f"{code >> 10:6d} KiB code  {path}")
    if total_facts:
        print(f"total: facts {total_facts:.2f} s, search {total_search:.2f} s CPU "
              f"({total_search / total_facts:.2f}x)")


if __name__ == "__main__":
    main(sys.argv[1:])
