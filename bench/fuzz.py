"""Coverage-guided fuzzing of the JavaScript, HTML and Wasm analysers with atheris (libFuzzer).

    .venv/bin/python bench/fuzz.py --seconds 600                  # 200 s for each of js, html, wasm
    .venv/bin/python bench/fuzz.py --seconds 300 --target wasm
    .venv/bin/python bench/fuzz.py --seconds 60 --target js --timeout-per-input 5

What counts as a finding:
  * crash: an exception from our code. Every analyser must turn bad input into a result (an
    `Analysis`, with `fatal` set if need be), never raise. `Scanner.analyse_bytes` catches
    everything so one bad file costs one report, which would hide the bug from a fuzzer; so each
    target calls the engine for its kind exactly as `analyse_bytes` dispatches it, without that
    catch-all, and then `judge()` as `scan_bytes` does. The engines have catch-alls of their
    own (the JS and HTML engines, and around nested scripts and modules) that turn an exception
    into an "internal error ..." / "... analysis failed" result or note: those count as crashes
    too (INTERNAL_FAILURE), as the message of an AnalyserBug; replay the input under a debugger
    for the traceback. No time budget (webscan.budget) is set
    either: it would cut a slow pass short and hide it, and a superlinear pass is what a hang
    finding is for.
  * hang: one input running longer than --timeout-per-input (libFuzzer's `-timeout=`).
  * oom: the process growing past --rss-limit-mb (libFuzzer's `-rss_limit_mb=`).
Each finding is saved under bench/.cache/fuzz/findings/ (`<target>-crash-<sha1>`, `-timeout-`,
`-oom-`) and its path printed. Turn it into a regression input under tests/fuzz_regressions/.

Seeds are every .js/.mjs/.html/.htm/.wasm file under site_fixtures/; the writable corpus of a
target lives in bench/.cache/fuzz/<target>/ (or --corpus-dir/<target>/) and grows across runs.
A dictionary of tokens per target (TOKENS) helps mutations build structure (chains, nesting,
decoders), and inputs may grow to --max-len at once (-len_control=0).

Why one subprocess per target, restarted after each finding, rather than libFuzzer's fork mode:
libFuzzer stops at the first crash or hang, and in-process a hang can only end by the process
exiting. A child per target (this same file run with `--worker`) keeps the parent alive whatever
happens, lets it split the time, restart the target with the time that remains after a finding,
and kill a child that overruns its time (a hang stuck where libFuzzer's alarm cannot fire).
Fork mode (`-fork=N`) would also survive findings, but it runs N extra Python interpreters on a
shared 2-core machine, and its merged statistics lose the per-target exec/s this prints.
Only the webscan package is instrumented (atheris.instrument_imports(include=["webscan"])), so
coverage figures are of our code, not of bs4 or the tree-sitter bindings.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "site_fixtures"
CACHE = ROOT / "bench" / ".cache" / "fuzz"
FINDINGS = CACHE / "findings"
TARGETS = ("js", "html", "wasm")
SEED_SUFFIXES = {"js": {".js", ".mjs", ".cjs"}, "html": {".html", ".htm"}, "wasm": {".wasm"}}
NAMES = {"js": "fuzz.js", "html": "fuzz.html", "wasm": "fuzz.wasm"}
TOKENS: dict[str, list[bytes]] = {
    # Byte mutations alone seldom build the shapes that make a pass slow (long `+` chains,
    # deep nesting, layered decoders); libFuzzer splices these tokens in (`-dict=`).
    "js": [t.encode() for t in (
        '"ab" + ', "'a' + ", " + ", "(", ")", "[", "]", "{", "}", "eval(", "atob(", "Function(",
        "new Function(", "String.fromCharCode(", "unescape(", "decodeURIComponent(", r"\x41",
        r"\u0041", r"\u{41}", "var a = ", "function(){", "=>", "return ", ".split('')",
        ".join('')", ".reverse()", "['push']", "['shift']", "while(!![]){", "parseInt(", "0x1f",
        "new Worker(", "WebAssembly.instantiate(", "importScripts(", "`${", "/*", "*/", "//", ",",
        ";", "\n", "new Blob([", "URL.createObjectURL(", "stratum+tcp://", "CoinHive.Anonymous(",
        "CryptoNight", "wss://", "document.write(", 'setTimeout("', r"'\x", "_0x")],
    "html": [t.encode() for t in (
        "<script>", "</script>", '<script src="', '<iframe srcdoc="', '<iframe src="', '">',
        "&lt;script&gt;", "&quot;", "&#x3c;", "&amp;", '<object data="', '<embed src="',
        '<link rel="preload" href="', '<meta http-equiv="refresh" content="0;url=',
        '<base href="', "<noscript>", "<template>", "<textarea>", "<!--", "-->",
        "data:text/html;base64,", "data:text/javascript,", "javascript:", ' onload="',
        "<svg><script>", "<![CDATA[", "<div>", "eval(atob(", '" + "')],
    "wasm": [b"\x00asm\x01\x00\x00\x00", b"\x01", b"\x02", b"\x03", b"\x05", b"\x07", b"\x0a",
             b"\x0b", b"\x00", b"\xff\xff\xff\xff\x0f", b"\x80\x80\x80\x80\x00", b"\x60",
             b"\x7f", b"\x7e", b"\x7b", b"\xfd", b"\xfc", b"\x41", b"\x42", b"\x02\x40",
             b"\x03\x40", b"\x04\x40", b"\x0b\x0b"],
}
MAX_RESTARTS = 50
"""After this many findings in one target the rest of its time is skipped: it keeps tripping."""


INTERNAL_FAILURE = re.compile(r"internal error|analysis failed|matching failed")
"""What the engines' own catch-alls write (as `fatal`, or as a note when a nested script or
module failed) after turning an exception into a result. A bug must never raise out of an
engine, but it is still a bug: the fuzzer counts these as crashes."""


class AnalyserBug(Exception):
    """An engine caught an exception of its own and reported it; the message says which."""


# --------------------------------------------------------------------------- worker (child)

def run_worker(target: str, libfuzzer_args: list[str]) -> None:
    """Fuzz one target in this process until libFuzzer exits (time up or a finding)."""
    import atheris

    with atheris.instrument_imports(include=["webscan"]):
        import webscan.html.engine  # noqa: F401  (Engines imports these lazily: instrument them now)
        import webscan.js.engine  # noqa: F401
        import webscan.wasm.engine  # noqa: F401
        from webscan.scanner import Scanner
        from webscan.verdict import judge

    scanner = Scanner()  # engines built once: compiling the rules is the costly part
    engines, sigs, name = scanner.engines, scanner.sigs, NAMES[target]

    def analyse(data: bytes):
        # The dispatch of Scanner.analyse_bytes, minus its catch-all (see the module docstring).
        if target == "wasm":
            return engines.wasm.analyse(data, name)
        if target == "html":
            return engines.html.analyse(data, name, page_url=scanner.page_url)
        return engines.js.analyse(data, name)

    def test_one_input(data: bytes) -> None:
        analysis = analyse(data)
        for text in (analysis.fatal or "", *analysis.notes):
            if INTERNAL_FAILURE.search(text):
                raise AnalyserBug(text)
        judge(analysis, sigs.verdict, path=name, size=len(data), signatures_version=sigs.version,
              duration_ms=0.0)

    atheris.Setup([sys.argv[0], *libfuzzer_args], test_one_input)
    atheris.Fuzz()


# --------------------------------------------------------------------------- parent

@dataclass
class Stats:
    target: str
    seconds: float = 0.0
    runs: int = 0
    execs: int = 0
    start_cov: int | None = None
    end_cov: int | None = None
    new_units: int = 0
    corpus_files: int = 0
    findings: list[str] = field(default_factory=list)
    deaths: int = 0

    @property
    def exec_per_s(self) -> float:
        return self.execs / self.seconds if self.seconds else 0.0


def seed_corpus(target: str, corpus: Path) -> int:
    """Copy the fixtures of this kind into the corpus, named by content hash (idempotent)."""
    corpus.mkdir(parents=True, exist_ok=True)
    added = 0
    for path in sorted(SEEDS.rglob("*")):
        if path.is_file() and path.suffix.lower() in SEED_SUFFIXES[target]:
            data = path.read_bytes()
            dest = corpus / hashlib.sha1(data).hexdigest()
            if not dest.exists():
                dest.write_bytes(data)
                added += 1
    return added


STAT_RE = re.compile(r"^stat::(\w+):\s+(\d+)")
COV_RE = re.compile(r"^#(\d+)\s+(INITED|DONE|pulse|NEW|REDUCE)\s+cov: (\d+)")
ARTIFACT_RE = re.compile(r"Test unit written to (\S+)")


def dict_entry(token: bytes) -> str:
    """One token in libFuzzer's dictionary syntax: printable ASCII as is, the rest as \\xHH."""
    return "".join(chr(c) if 32 <= c < 127 and c not in b'"\\' else f"\\x{c:02x}"
                   for c in token)


def write_dict(target: str) -> Path:
    path = CACHE / f"{target}.dict"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f'"{dict_entry(t)}"\n' for t in TOKENS[target]))
    return path


def fuzz_once(target: str, seconds: int, args: argparse.Namespace, corpus: Path,
              stats: Stats) -> bool:
    """Run one child for up to `seconds`; True if it stopped early (a finding, or it died)."""
    FINDINGS.mkdir(parents=True, exist_ok=True)
    lib_args = [str(corpus), f"-max_total_time={seconds}", f"-timeout={args.timeout_per_input}",
                f"-rss_limit_mb={args.rss_limit_mb}", f"-max_len={args.max_len}",
                f"-artifact_prefix={FINDINGS}/{target}-", "-print_final_stats=1",
                f"-dict={write_dict(target)}", "-len_control=0"]
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", target, "--", *lib_args]
    started = time.monotonic()
    # libFuzzer writes everything to stderr; a deadline a little past its own keeps the parent
    # in charge if the child is stuck where libFuzzer's alarm cannot fire.
    deadline = started + seconds + 3 * args.timeout_per_input + 60
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", bufsize=1)
    found = False
    last_unit = final_units = 0  # a child that dies prints no final stats: count its status lines
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            sys.stdout.write(f"[{target}] {line}")
            if (m := COV_RE.match(line)):
                last_unit = int(m.group(1))
                cov = int(m.group(3))
                if stats.start_cov is None and m.group(2) == "INITED":
                    stats.start_cov = cov
                stats.end_cov = cov
            elif (m := STAT_RE.match(line)):
                key, value = m.group(1), int(m.group(2))
                if key == "number_of_executed_units":
                    final_units = value
                elif key == "new_units_added":
                    stats.new_units += value
            elif (m := ARTIFACT_RE.search(line)):
                stats.findings.append(m.group(1))
                found = True
                print(f"FINDING ({target}): {m.group(1)}", flush=True)
                drop_from_corpus(corpus, Path(m.group(1)))
            if time.monotonic() > deadline:
                print(f"[{target}] child overran its time; killing it", flush=True)
                proc.kill()
                break
    finally:
        proc.wait()
        stats.execs += max(final_units, last_unit)
        stats.seconds += time.monotonic() - started
        stats.runs += 1
    if proc.returncode != 0 and not found:
        # died without libFuzzer writing the input (killed from outside, or its crash handler
        # failed): say so and go on, the crash input is in the log's traceback only
        print(f"[{target}] child exited with status {proc.returncode} and no saved input",
              flush=True)
        stats.deaths += 1
    return found or proc.returncode != 0


def drop_from_corpus(corpus: Path, artifact: Path) -> None:
    """Remove a finding's input from the corpus, or every restart would trip on it again.

    A hang can sit in the corpus when an input that once ran just under the timeout runs over
    it on a busier machine (or a seed hangs); it is found by content, as seeds keep any name.
    """
    try:
        digest = hashlib.sha1(artifact.read_bytes()).hexdigest()
    except OSError:
        return
    for path in corpus.iterdir():
        if path.is_file() and (path.name == digest
                               or hashlib.sha1(path.read_bytes()).hexdigest() == digest):
            print(f"[{corpus.name}] dropped {path} from the corpus (it is the finding)", flush=True)
            path.unlink(missing_ok=True)


def fuzz_target(target: str, seconds: int, args: argparse.Namespace) -> Stats:
    corpus = Path(args.corpus_dir) / target
    stats = Stats(target)
    added = seed_corpus(target, corpus)
    print(f"== {target}: {seconds} s, corpus {corpus} ({added} new seeds)", flush=True)
    end = time.monotonic() + seconds
    restarts = 0
    while (left := int(end - time.monotonic())) >= 5:
        if not fuzz_once(target, left, args, corpus, stats):
            break
        restarts += 1
        if restarts >= MAX_RESTARTS:
            print(f"[{target}] {restarts} restarts; skipping the rest of its time", flush=True)
            break
    stats.corpus_files = sum(1 for p in corpus.iterdir() if p.is_file())
    return stats


def print_summary(all_stats: list[Stats]) -> None:
    print("\n== fuzzing summary")
    print(f"{'target':<6} {'time s':>8} {'inputs':>10} {'exec/s':>8} {'cov start':>10} "
          f"{'cov end':>8} {'new units':>10} {'corpus':>7} {'findings':>9}")
    for s in all_stats:
        print(f"{s.target:<6} {s.seconds:>8.0f} {s.execs:>10} {s.exec_per_s:>8.1f} "
              f"{s.start_cov if s.start_cov is not None else '-':>10} "
              f"{s.end_cov if s.end_cov is not None else '-':>8} {s.new_units:>10} "
              f"{s.corpus_files:>7} {len(s.findings):>9}"
              + (f"  ({s.deaths} child deaths without a saved input)" if s.deaths else ""))
    findings = list(dict.fromkeys(f for s in all_stats for f in s.findings))
    if findings:
        print("\nfindings (add each to tests/fuzz_regressions/<target>/):")
        for f in findings:
            print(f"  {f}")
    else:
        print("\nno findings")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        target, rest = argv[1], argv[2:]
        run_worker(target, rest[1:] if rest[:1] == ["--"] else rest)
        return 0
    p = argparse.ArgumentParser(
        description="Coverage-guided fuzzing of webscan's JS, HTML and Wasm analysers (atheris). "
                    "Reports crashes (an analyser raised), hangs and memory blow-ups, saving each "
                    "input under bench/.cache/fuzz/findings/.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Each target runs in its own libFuzzer child and is restarted after a finding,\n"
               "so the run always lasts --seconds. The exit status is 1 if anything was found.\n"
               "Turn each finding into a regression input: copy it to\n"
               "tests/fuzz_regressions/<target>/<what-it-did>.<ext> (tests/test_fuzz_regressions.py\n"
               "runs them all). Replay one by hand with:\n"
               "  .venv/bin/python bench/fuzz.py --worker js -- bench/.cache/fuzz/findings/js-crash-...\n"
               "Run it niced on a shared machine: nice -n 19 .venv/bin/python bench/fuzz.py ...")
    p.add_argument("--seconds", type=int, required=True,
                   help="total fuzzing time; split evenly across targets with --target all")
    p.add_argument("--target", choices=[*TARGETS, "all"], default="all",
                   help="which analyser to fuzz (default: all)")
    p.add_argument("--timeout-per-input", type=int, default=10, metavar="S",
                   help="an input running longer than S seconds is a hang (default: 10)")
    p.add_argument("--rss-limit-mb", type=int, default=2048,
                   help="memory past which an input is an oom finding (default: 2048)")
    p.add_argument("--max-len", type=int, default=16384,
                   help="largest input libFuzzer makes, in bytes (default: 16384)")
    p.add_argument("--corpus-dir", default=str(CACHE),
                   help="where each target's corpus lives, as DIR/<target>/ (default: %(default)s)")
    args = p.parse_args(argv)
    if args.seconds < 5:
        p.error("--seconds must be at least 5 (libFuzzer needs time to load the corpus)")
    targets = list(TARGETS) if args.target == "all" else [args.target]
    share = args.seconds // len(targets)
    all_stats = [fuzz_target(t, share, args) for t in targets]
    print_summary(all_stats)
    return 1 if any(s.findings for s in all_stats) else 0


if __name__ == "__main__":
    sys.exit(main())
