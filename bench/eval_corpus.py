"""Detection figures of the static scanner on the development corpus (real miners, real
look-alikes; ../shared/corpus, see its README).

The scanner is the same `Scanner` that `webscan scan` uses, built once in this process from the
signatures of the tree that `webscan` is imported from (the header prints both), so the same
script measures an older checkout too:

    python bench/eval_corpus.py                                  # rows kept under files/
    python3 ../shared/corpus/materialize.py bench/.cache/corpus  # once: lay out the npm rows
    python bench/eval_corpus.py --materialized bench/.cache/corpus   # every row
    python bench/eval_corpus.py --details                        # and every wrong verdict
    python bench/eval_corpus.py --json out.json                  # figures for machines
    git worktree add /tmp/ws-base 371c090
    PYTHONPATH=/tmp/ws-base python bench/eval_corpus.py          # an older tree's figures

Each file is scanned in a worker process forked from this one (the Scanner is shared, so a
fresh worker costs milliseconds). A worker that has not answered after --file-timeout seconds
is killed and the file counted as `timeout`, so one slow file cannot stall the run; where the
scanner has its own cooperative budget (webscan.budget) it gets the same number of seconds and
usually stops first with what it found. The corpus is only read; nothing is copied.

Rates: recall is `miner` or `suspicious` on positives; false `miner` and false `suspicious` are
counted on hard negatives and negatives apart and together (a file counts once, by its
verdict). `list` rows (blocklists) are left out. A `timeout` or `error` counts as not flagged.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import json
import multiprocessing as mp
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS_ENV = "WEBSCAN_CORPUS"
POSITIVE = "positive"
BENIGN = ("hard_negative", "negative")
FLAGGED = ("miner", "suspicious")
DEFAULT_FILE_TIMEOUT = 60.0
"""Generous on purpose: the slowest real corpus file takes seconds even on a loaded machine
(see webscan.budget); only a stuck analyser should reach it."""
KILL_GRACE_S = 5.0
"""Beyond --file-timeout, time for the scanner's own budget to stop it and answer."""
TOP_RULES = 3


def default_corpus() -> Path:
    """$WEBSCAN_CORPUS, else ../shared/corpus beside the repository (where CI keeps it)."""
    return Path(os.environ.get(CORPUS_ENV) or ROOT.parent / "shared" / "corpus")


@dataclass(frozen=True)
class Row:
    label: str
    kind: str
    family: str
    source: str
    path: str
    """Relative to files/ (or to the materialized folder)."""
    file: Path
    origin: str
    """`files` (kept in the corpus) or `materialized` (an npm row laid out by materialize.py)."""


@dataclass
class Outcome:
    verdict: str
    """miner, suspicious, clean, error, or timeout."""
    rules: list[str] = field(default_factory=list)
    """The rule ids of the strongest findings, strongest first."""
    error: str | None = None
    seconds: float = 0.0


class CorpusError(Exception):
    """The corpus is missing or not laid out as its README says; the message says what to do."""


def load_rows(corpus: Path, materialized: Path | None = None) -> tuple[list[Row], int]:
    """The scorable rows (no `list` rows) whose file is at hand, and how many others are not.

    Without `materialized` only the rows kept under files/ count; with it, also those that
    materialize.py laid out there (the benign npm files)."""
    manifest = corpus / "MANIFEST.tsv"
    if not manifest.is_file():
        raise CorpusError(f"no MANIFEST.tsv in {corpus}: point --corpus or ${CORPUS_ENV} at the "
                          "development corpus (the folder holding MANIFEST.tsv and files/)")
    rows: list[Row] = []
    absent = 0
    with open(manifest, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            if r["kind"] == "list":
                continue
            kept = corpus / "files" / r["path"]
            laid = materialized / r["path"] if materialized else None
            if kept.is_file():
                file, origin = kept, "files"
            elif laid is not None and laid.is_file():
                file, origin = laid, "materialized"
            else:
                absent += 1
                continue
            if file.stat().st_size != int(r["bytes"]):
                raise CorpusError(f"{file} has {file.stat().st_size} bytes, MANIFEST.tsv says "
                                  f"{r['bytes']}: lay the corpus out again (materialize.py)")
            rows.append(Row(r["label"], r["kind"], r["family"], r["source"], r["path"], file,
                            origin))
    if not rows:
        raise CorpusError(f"no corpus file found under {corpus / 'files'}"
                          + (f" or {materialized}" if materialized else ""))
    return rows, absent


# --- scanning -----------------------------------------------------------------------------------

def build_scanner(file_timeout: float) -> Any:
    """The Scanner of `webscan scan`, with the signatures of the tree webscan is imported from
    (not $WEBSCAN_SIGNATURES or an installed copy, so that two trees are compared whole)."""
    import webscan
    from webscan.rules.loader import load_signatures
    from webscan.scanner import Scanner

    sigs = load_signatures([Path(webscan.__file__).resolve().parent.parent / "signatures"])
    if "file_timeout" in inspect.signature(Scanner).parameters:
        return Scanner(sigs, file_timeout=file_timeout)
    return Scanner(sigs)


_SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


def outcome_of(report: Any, seconds: float) -> Outcome:
    ranked = sorted(report.findings, key=lambda f: -_SEVERITY_RANK.get(f.severity.value, 0))
    rules = list(dict.fromkeys(f.rule for f in ranked))[:TOP_RULES]
    return Outcome(report.verdict.value, rules, report.error, round(seconds, 3))


def _serve(conn: Connection, scanner: Any) -> None:
    """A worker's loop: a path in, an Outcome out, until told to stop."""
    while True:
        job = conn.recv()
        if job is None:
            return
        i, path = job
        start = time.perf_counter()
        try:
            out = outcome_of(scanner.scan_path(path), time.perf_counter() - start)
        except BaseException as e:  # noqa: BLE001 - one file, not the run
            out = Outcome("error", error=f"{type(e).__name__}: {e}",
                          seconds=round(time.perf_counter() - start, 3))
        conn.send((i, out))


class _Worker:
    def __init__(self, ctx: Any, scanner: Any) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, scanner), daemon=True)
        self.proc.start()
        child.close()
        self.job: int | None = None
        self.started = 0.0

    def stop(self, *, kill: bool) -> None:
        if kill:
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                self.proc.kill()
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def scan_rows(rows: list[Row], scanner: Any, *, jobs: int, limit: float,
              progress: Callable[[int], None] | None = None) -> list[Outcome]:
    """One Outcome per row, in order, each file in a forked worker killed after `limit` s."""
    ctx = mp.get_context("fork")
    results: list[Outcome | None] = [None] * len(rows)
    todo = list(range(len(rows)))[::-1]
    workers = [_Worker(ctx, scanner) for _ in range(max(1, min(jobs, len(rows))))]
    done = 0
    try:
        while done < len(rows):
            for w in workers:
                if w.job is None and todo:
                    w.job, w.started = todo.pop(), time.monotonic()
                    w.conn.send((w.job, str(rows[w.job].file)))
            busy = [w for w in workers if w.job is not None]
            next_deadline = min(w.started + limit for w in busy)
            ready = wait([w.conn for w in busy], timeout=max(0.0, next_deadline - time.monotonic()))
            for k, w in enumerate(workers):
                if w.job is None:
                    continue
                if w.conn in ready:
                    try:
                        i, out = w.conn.recv()
                    except (EOFError, OSError):
                        i, out = w.job, Outcome("error", error="the worker process died "
                                                f"(exit code {w.proc.exitcode})")
                        workers[k] = _replace(w, ctx, scanner)
                elif time.monotonic() >= w.started + limit:
                    i, out = w.job, Outcome("timeout", error=f"no answer within {limit:g} s")
                    out.seconds = round(limit, 3)
                    workers[k] = _replace(w, ctx, scanner)
                else:
                    continue
                results[i] = out
                w.job = None
                done += 1
                if progress:
                    progress(done)
    finally:
        for w in workers:
            w.stop(kill=w.job is not None)
    return [r for r in results if r is not None]


def _replace(w: _Worker, ctx: Any, scanner: Any) -> _Worker:
    w.stop(kill=True)
    return _Worker(ctx, scanner)


# --- figures ------------------------------------------------------------------------------------

def _rate(n: int, of: int) -> float | None:
    return n / of if of else None


def group_figures(outcomes: Iterable[Outcome]) -> dict[str, Any]:
    verdicts = Counter(o.verdict for o in outcomes)
    n = sum(verdicts.values())
    flagged = verdicts["miner"] + verdicts["suspicious"]
    return {"files": n, "verdicts": dict(sorted(verdicts.items())),
            "flagged": flagged, "flagged_rate": _rate(flagged, n),
            "miner": verdicts["miner"], "miner_rate": _rate(verdicts["miner"], n),
            "suspicious": verdicts["suspicious"],
            "suspicious_rate": _rate(verdicts["suspicious"], n)}


def figures(rows: list[Row], outcomes: list[Outcome]) -> dict[str, Any]:
    """Every figure the bench prints, as plain data (the --json output, and the test's input)."""
    by_label: dict[str, list[Outcome]] = defaultdict(list)
    by_family: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    kinds: dict[str, Counter] = defaultdict(Counter)
    for row, out in zip(rows, outcomes, strict=True):
        by_label[row.label].append(out)
        by_family[(row.label, row.family)].append(out)
        kinds[row.kind][row.label] += 1
    pos = group_figures(by_label[POSITIVE])
    benign = {label: group_figures(by_label[label]) for label in BENIGN}
    benign["benign"] = group_figures([o for label in BENIGN for o in by_label[label]])
    return {
        "positive": {"files": pos["files"], "recall": pos["flagged_rate"],
                     "miner_rate": pos["miner_rate"], "flagged": pos["flagged"],
                     "miner": pos["miner"], "verdicts": pos["verdicts"]},
        **{label: {"files": g["files"], "false_miner": g["miner"],
                   "false_miner_rate": g["miner_rate"], "false_suspicious": g["suspicious"],
                   "false_suspicious_rate": g["suspicious_rate"], "verdicts": g["verdicts"]}
           for label, g in benign.items()},
        "families": [{"label": label, "family": family, **group_figures(outs)}
                     for (label, family), outs in sorted(by_family.items())],
        "kinds": {kind: dict(sorted(c.items())) for kind, c in sorted(kinds.items())},
        "origins": dict(Counter(r.origin for r in rows)),
        "timeouts": sum(o.verdict == "timeout" for o in outcomes),
        "errors": sum(o.verdict == "error" for o in outcomes),
    }


def wrong(rows: list[Row], outcomes: list[Outcome]) -> list[tuple[Row, Outcome]]:
    """Positives not flagged, and benign files flagged (as `miner` or `suspicious`)."""
    return [(r, o) for r, o in zip(rows, outcomes, strict=True)
            if (r.label == POSITIVE) != (o.verdict in FLAGGED)]


def evaluate(corpus: Path, materialized: Path | None = None, *, jobs: int = 1,
             file_timeout: float = DEFAULT_FILE_TIMEOUT,
             progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Scan the corpus and return the figures, the rows, their outcomes and the run's timing."""
    rows, absent = load_rows(corpus, materialized)
    scanner = build_scanner(file_timeout)
    start = time.perf_counter()
    outcomes = scan_rows(rows, scanner, jobs=jobs, limit=file_timeout + KILL_GRACE_S,
                         progress=progress)
    wall = time.perf_counter() - start
    out = figures(rows, outcomes)
    out.update(absent=absent, wall_s=round(wall, 2), files_per_s=round(len(rows) / wall, 2),
               jobs=jobs, file_timeout=file_timeout)
    return {"figures": out, "rows": rows, "outcomes": outcomes}


# --- printing -----------------------------------------------------------------------------------

def _pct(x: float | None) -> str:
    return "   n/a" if x is None else f"{100 * x:5.1f}%"


def print_report(f: dict[str, Any], rows: list[Row], outcomes: list[Outcome],
                 details: bool) -> None:
    p = f["positive"]
    print(f"\npositives: {p['files']} files   recall (miner|suspicious) {_pct(p['recall'])} "
          f"({p['flagged']})   miner {_pct(p['miner_rate'])} ({p['miner']})")
    print(f"{'benign':<14} {'files':>5}  {'false miner':>17}  {'false suspicious':>17}")
    for label in (*BENIGN, "benign"):
        g = f[label]
        print(f"{label:<14} {g['files']:>5}  {_pct(g['false_miner_rate']):>9} "
              f"({g['false_miner']:>4})  {_pct(g['false_suspicious_rate']):>9} "
              f"({g['false_suspicious']:>4})")
    print(f"\n{'label':<13} {'family':<28} {'files':>5} {'miner':>6} {'susp':>5} {'clean':>6} "
          f"{'err/to':>6}  flagged")
    for fam in f["families"]:
        v = fam["verdicts"]
        print(f"{fam['label']:<13} {fam['family']:<28} {fam['files']:>5} {v.get('miner', 0):>6} "
              f"{v.get('suspicious', 0):>5} {v.get('clean', 0):>6} "
              f"{v.get('error', 0) + v.get('timeout', 0):>6}  {_pct(fam['flagged_rate'])}")
    print("\nfiles per kind: " + "; ".join(
        f"{kind} {sum(c.values())} (" + ", ".join(f"{k} {n}" for k, n in c.items()) + ")"
        for kind, c in f["kinds"].items()))
    if details:
        bad = wrong(rows, outcomes)
        print(f"\nwrong verdicts ({len(bad)}):")
        for r, o in sorted(bad, key=lambda ro: (ro[0].label, ro[0].family, ro[0].path)):
            note = f"  [{o.error}]" if o.error else ""
            print(f"  {r.label:<13} {r.family:<24} {o.verdict:<10} {r.path}  "
                  f"{', '.join(o.rules) or '-'}{note}")
        failed = [(r, o) for r, o in zip(rows, outcomes, strict=True)
                  if o.verdict in ("error", "timeout")]
        print(f"\nerrors and timeouts ({len(failed)}):")
        for r, o in failed:
            print(f"  {r.label:<13} {r.family:<24} {o.verdict:<10} {r.path}  {o.error}")
    slow = sorted(zip(rows, outcomes, strict=True), key=lambda ro: -ro[1].seconds)[:3]
    print("\nslowest: " + "; ".join(f"{r.path} {o.seconds:.1f} s" for r, o in slow))
    print(f"timeouts {f['timeouts']}, errors {f['errors']}; wall {f['wall_s']:.1f} s, "
          f"{f['files_per_s']:.1f} files/s with {f['jobs']} worker(s)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=default_corpus(),
                    help=f"the corpus folder (default: ${CORPUS_ENV} or ../shared/corpus)")
    ap.add_argument("--materialized", type=Path, metavar="DIR",
                    help="also score the npm rows that materialize.py laid out in DIR")
    ap.add_argument("--details", action="store_true", help="list every wrong verdict")
    ap.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="worker processes (default: up to 2)")
    ap.add_argument("--file-timeout", type=float, default=DEFAULT_FILE_TIMEOUT, metavar="S",
                    help=f"seconds per file before it counts as `timeout` "
                         f"(default {DEFAULT_FILE_TIMEOUT:g})")
    args = ap.parse_args()
    if args.materialized and not (args.materialized / "MANIFEST.tsv").is_file():
        print(f"error: {args.materialized} is not laid out; run "
              f"`python3 {args.corpus / 'materialize.py'} {args.materialized}` first",
              file=sys.stderr)
        return 2
    try:
        import webscan
    except ImportError:
        sys.path.insert(0, str(ROOT))
        import webscan
    print(f"webscan: {webscan.__file__}")
    print(f"corpus: {args.corpus}" + (f" + {args.materialized}" if args.materialized else ""))
    tty = sys.stderr.isatty()
    try:
        result = evaluate(args.corpus, args.materialized, jobs=args.jobs,
                          file_timeout=args.file_timeout,
                          progress=(lambda n: print(f"\r{n} files", end="", file=sys.stderr))
                          if tty else None)
    except CorpusError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if tty:
        print(file=sys.stderr)
    f = result["figures"]
    print(f"{sum(f['origins'].values())} files scanned ("
          + ", ".join(f"{n} from {o}" for o, n in f["origins"].items())
          + f"); {f['absent']} rows not at hand" + ("" if args.materialized else
                                                     " (the npm rows: see --materialized)"))
    print_report(f, result["rows"], result["outcomes"], args.details)
    if args.json:
        f = {**f, "webscan": webscan.__file__, "wrong": [
            {"path": r.path, "label": r.label, "family": r.family, **asdict(o)}
            for r, o in wrong(result["rows"], result["outcomes"])]}
        args.json.write_text(json.dumps(f, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
