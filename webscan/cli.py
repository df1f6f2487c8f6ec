"""The `webscan` command. It parses arguments, shows progress and writes outputs; every
decision about mining lives in the analysers and webscan.verdict.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from webscan import __version__
from webscan.service import defaults as service_defaults

app = typer.Typer(
    name="webscan",
    help=(
        "Find cryptojacking (in-browser cryptocurrency mining, ATT&CK T1496) in web pages, "
        "JavaScript and WebAssembly, and explain every verdict.\n\n"
        "Start with:  webscan scan site_fixtures/   (or any folder of .js/.html/.wasm files)"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
signatures_app = typer.Typer(help="Inspect, check and import signature sets.", no_args_is_help=True)
app.add_typer(signatures_app, name="signatures")
extension_app = typer.Typer(help="Build the browser extension (Manifest V3).", no_args_is_help=True)
app.add_typer(extension_app, name="extension")

err = Console(stderr=True, highlight=False)


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    sarif = "sarif"


class FailOn(str, Enum):
    miner = "miner"
    suspicious = "suspicious"
    never = "never"


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _load_sigs(dirs: list[Path] | None):
    from webscan.rules.loader import SignatureError, load_signatures

    try:
        return load_signatures(dirs or None)
    except SignatureError as e:
        _fail(f"invalid signatures: {e}")


SigOpt = Annotated[
    Optional[list[Path]],
    typer.Option("--signatures", "-s", help="Signature folder to use instead of the bundled set "
                 "(repeat to add folders; the first needs a manifest.yaml).",
                 envvar="WEBSCAN_SIGNATURES_DIR"),
]


def _file_timeout_help(what: str, on_expiry: str) -> str:
    from webscan.budget import FLOOR_S, PER_MB_S

    return (f"Analysis time budget per {what}, in seconds. Default: {FLOOR_S:g} s, or "
            f"{PER_MB_S:g} s per MB when that is more. {on_expiry}")


FileTimeoutOpt = Annotated[
    Optional[float],
    typer.Option("--file-timeout", min=0.01, metavar="SECONDS", show_default=False,
                 help=_file_timeout_help(
                     "file", "A file that uses it up is judged error (\"analysis time budget "
                     "exceeded after N s\") and keeps the findings made so far, unless those "
                     "already make it a miner: then it stays miner, with a note. The scan goes "
                     "on with the next file; an analyser stuck past the budget (plus a grace "
                     "of 2 s or half the budget) is killed and replaced.")),
]


@app.command()
def scan(
    paths: Annotated[list[str], typer.Argument(
        help="Files or folders. Folders are searched recursively for .js .mjs .cjs .html .htm "
             ".wasm; a file named explicitly is scanned whatever its name.", show_default=False)],
    format: Annotated[Format, typer.Option("--format", "-f", help="table for people; json, "
                      "jsonl (one object per file, streamed) or sarif (2.1.0, for CI code "
                      "scanning) for tools.")] = Format.table,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the report here "
                      "instead of standard output.")] = None,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 when any file is judged "
                       "this or worse: miner, suspicious (includes miner), or never.")] = FailOn.miner,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=0, help="Worker processes; 0 means one "
                    "per core.")] = 0,
    max_size: Annotated[float, typer.Option("--max-size", min=0.001, help="Largest file to read, "
                        "in MB; larger ones get an error verdict.")] = 64.0,
    page_url: Annotated[Optional[str], typer.Option("--page-url", help="URL the scanned HTML is "
                        "served at, to tell first-party from third-party scripts.")] = None,
    show_clean: Annotated[bool, typer.Option("--show-clean/--hide-clean", help="List clean files "
                          "in the table.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
    html_report: Annotated[Optional[Path], typer.Option("--report", help="Also write an HTML report "
                      "a person can read in a browser.")] = None,
    file_timeout: FileTimeoutOpt = None,
    signatures: SigOpt = None,
) -> None:
    """Scan files and folders statically and print a verdict per file with its evidence.

    Verdicts: miner (mining code, ATT&CK T1496), suspicious (signs, not conclusive), clean,
    error (could not be analysed; the reason is given).

    Exit codes: 0 nothing at or above --fail-on, 1 something was, 2 usage or setup error,
    130 interrupted. An `error` file (unreadable, or out of time: see --file-timeout) does not
    change the exit code by itself.

    Examples:

      webscan scan dist/ --format sarif -o webscan.sarif --fail-on suspicious

      webscan scan page.html --page-url https://example.org/ --format json
    """
    from webscan.output.summary import summary_line, verdict_counts
    from webscan.parallel import scan_targets
    from webscan.scanner import iter_targets

    sigs = _load_sigs(signatures)
    targets = list(iter_targets(paths))
    if not targets:
        _fail("no .js, .mjs, .cjs, .html, .htm or .wasm files found under: " + ", ".join(paths)
              + " (name a file explicitly to scan it whatever its suffix)", 2)
    total_bytes = sum(t.size for t in targets)
    show_progress = not quiet and err.is_terminal and len(targets) > 1
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), TextColumn("{task.fields[name]}"),
                        console=err, transient=True, disable=not show_progress)
    out_stream, finish = _open_output(output, format)
    reports = []
    started = time.perf_counter()
    interrupted = False
    try:  # from here a Ctrl-C still writes the report of what was scanned
        with progress:
            task = progress.add_task("scan", total=len(targets), name="")
            for report in scan_targets(targets, sigs=sigs,
                                       sig_dirs=[str(s) for s in signatures] if signatures else None,
                                       jobs=jobs or None, max_bytes=int(max_size * 1e6),
                                       page_url=page_url, file_timeout=file_timeout):
                reports.append(report)
                if format is Format.jsonl:
                    out_stream.write(report.model_dump_json() + "\n")
                    out_stream.flush()
                progress.update(task, advance=1, name=os.path.basename(report.path or "")[:40])
    except KeyboardInterrupt:
        interrupted = True
    elapsed = time.perf_counter() - started
    if format is Format.table:
        from webscan.output.table import render

        render(reports, Console(file=out_stream, highlight=False,
                                force_terminal=None if output is None else False),
               show_clean=show_clean)
    elif format is Format.json:
        doc = {"tool": "webscan", "version": __version__, "signatures_version": sigs.version,
               "summary": verdict_counts(reports),
               "reports": [json.loads(r.model_dump_json()) for r in reports]}
        out_stream.write(json.dumps(doc, indent=2) + "\n")
    elif format is Format.sarif:
        from webscan.output.sarif import to_sarif

        out_stream.write(json.dumps(to_sarif(reports, sigs), indent=2) + "\n")
    finish()
    if html_report is not None:
        _write_html(html_report, reports, "webscan scan")
    if not quiet:
        err.print(summary_line(reports, elapsed, total_bytes))
        if output is not None:
            err.print(f"Report written to {output}")
    if interrupted:
        err.print(f"[yellow]interrupted[/] after {len(reports)} of {len(targets)} files; "
                  "the report holds those scanned so far")
        raise typer.Exit(130)
    _exit_on(fail_on, reports)


def _exit_on(fail_on: FailOn, reports: list) -> None:
    """Exit 1 when any report is judged `fail_on` or worse (scan and crawl share the rule)."""
    from webscan.model import VERDICT_RANK, VerdictLabel

    if fail_on is FailOn.never:
        return
    bar = VERDICT_RANK[VerdictLabel(fail_on.value)]
    if any(VERDICT_RANK.get(r.verdict, -1) >= bar for r in reports):
        raise typer.Exit(1)


def _write_html(path: Path, reports: list, title: str) -> None:
    from webscan.output.html_report import render_html

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(render_html(reports, title=title), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        _fail(f"cannot write the HTML report {path}: {e.strerror or e}")


def _open_output(output: Path | None, format: Format):
    """Standard output, or a file written so that a crash never leaves half a report.

    JSONL is appended line by line (each line complete and flushed); the other formats go to a
    temporary file renamed over the target at the end.
    """
    if output is None:
        return sys.stdout, lambda: sys.stdout.flush()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        if format is Format.jsonl:
            f = open(output, "w", encoding="utf-8")
            return f, f.close
        fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
        f = os.fdopen(fd, "w", encoding="utf-8")
    except OSError as e:
        _fail(f"cannot write {output}: {e.strerror or e}")

    def finish() -> None:
        f.close()
        os.replace(tmp, output)

    return f, finish


class CrawlFormat(str, Enum):
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


@app.command()
def crawl(
    sites: Annotated[Optional[list[str]], typer.Argument(
        help="Sites to visit: URLs, bare domains, or files listing one per line (# comments).",
        show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write results here as they "
                   "finish (JSONL: one object per site; or CSV/Parquet with --format). Default: "
                   "standard output.")] = None,
    format: Annotated[CrawlFormat, typer.Option("--format", "-f", help="jsonl (the full report "
                      "per site), csv (a summary row per site) or parquet (flat columns and the "
                      "full report as JSON, for DuckDB or pandas; needs --out).")
                      ] = CrawlFormat.jsonl,
    report: Annotated[Optional[Path], typer.Option("--report", help="Also write an HTML report "
                      "with the evidence, CPU charts and Wasm fingerprints.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Skip sites already in --out (JSONL) "
                      "and append the rest; a line cut off by a kill is removed first.")] = False,
    window: Annotated[float, typer.Option("--window", min=1.0, help="Seconds to watch each page "
                      "after it loads.")] = 10.0,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=0, help="Sites visited "
                           "at once; 0 chooses from cores and memory (local crawls; workers "
                           "have their own).")] = 0,
    nav_timeout: Annotated[float, typer.Option("--nav-timeout", min=1.0, help="Seconds a page "
                           "may take to load.")] = 20.0,
    browser: Annotated[Optional[str], typer.Option("--browser", envvar="WEBSCAN_CHROMIUM",
                       help="Chromium executable (default: found automatically).")] = None,
    browser_arg: Annotated[Optional[list[str]], typer.Option("--browser-arg", help="Extra "
                           "Chromium switch, repeatable, e.g. "
                           "--browser-arg=--host-resolver-rules='MAP * 127.0.0.1'.")] = None,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 when any site is judged "
                       "this or worse.")] = FailOn.never,
    file_timeout: Annotated[Optional[float], typer.Option(
        "--file-timeout", min=0.01, metavar="SECONDS", show_default=False,
        help=_file_timeout_help(
            "script, document or Wasm module a page loads (its static analysis)",
            "A site where one of them uses it up is judged error (the script is named) with "
            "all other evidence kept, unless that evidence already makes it a miner; the "
            "crawl goes on. The analysis of a whole site is killed past the sum of its "
            "budgets plus a grace.")),
    ] = None,
    broker: Annotated[Optional[str], typer.Option("--broker", metavar="URL", help="Distribute "
                      "the crawl: enqueue the sites on this Redis (redis://HOST:6379/0) for "
                      "`webscan worker`s and collect their results here.")] = None,
    attach: Annotated[Optional[str], typer.Option("--attach", metavar="CRAWL_ID", help="Follow "
                      "a distributed crawl already submitted (after Ctrl-C); results already "
                      "in --out are not written again.")] = None,
    max_deliveries: Annotated[int, typer.Option("--max-deliveries", min=1, help="Distributed: "
                              "a site whose worker dies this many times (a page that crashes "
                              "or exhausts it) is given up as error.")] = 3,
    db: Annotated[Optional[str], typer.Option("--db", metavar="URL", help="Also store each "
                  "result as a finished audit in the verdict service's database (SQLAlchemy "
                  "URL, e.g. postgresql+psycopg://u@h/db).")] = None,
    public_only: Annotated[bool, typer.Option("--public-only", help="Every connection the "
                           "browser makes (pages, redirects, subresources, frames, workers, "
                           "sockets) goes through a local proxy that refuses loopback, private, "
                           "link-local and cloud metadata addresses; refusals are listed in each "
                           "site's report. For lists you do not trust, crawled from inside a "
                           "network.")] = False,
    allow_cidr: Annotated[Optional[list[str]], typer.Option("--allow-cidr", metavar="CIDR",
                          help="With --public-only: treat this range as public (a lab network "
                          "you trust); repeatable. Metadata addresses stay refused.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
    signatures: SigOpt = None,
) -> None:
    """Visit sites in headless Chromium and judge each: Wasm, workers, sockets and CPU are
    watched in every page, frame and worker, and every script the page loads is analysed.

    Example:  webscan crawl sites.txt --out results.jsonl --report report.html

    Distributed:  webscan crawl sites.txt --broker redis://HOST:6379/0 --out results.jsonl
    (with `webscan worker --broker redis://HOST:6379/0` on each machine).

    Exit codes: 0 done (or nothing at --fail-on), 1 a site met --fail-on, 2 usage or setup
    error (no Chromium, bad sites file, broker unreachable), 3 the broker was lost mid-crawl,
    130 interrupted (finished sites are kept).
    """
    import dataclasses

    from webscan.crawl.results import completed_sites
    from webscan.crawl.runner import CrawlOptions
    from webscan.crawl.sinks import SinkError, open_sinks
    from webscan.crawl.sites import SitesError, read_sites

    sigs = _load_sigs(signatures)  # fail early, with the file and rule named
    if attach and not broker:
        _fail("--attach needs --broker URL (the Redis the crawl was submitted to)")
    if attach and sites:
        _fail("--attach follows a submitted crawl: give no sites with it")
    try:
        targets, problems = read_sites(sites or []) if not attach else ([], [])
    except SitesError as e:
        _fail(str(e))
    for p in problems:
        err.print(f"[yellow]skipped[/] {p}", markup=True, highlight=False)
    if resume and (out is None or format is not CrawlFormat.jsonl):
        _fail("--resume needs --out FILE in jsonl format (it reads the sites already done there)")
    if not targets and not attach:
        _fail("no sites to crawl (give URLs, domains or a file listing them)")
    # Attaching to a JSONL file keeps what it holds (those sites are not written again); CSV and
    # Parquet files are written whole from every result the crawl has.
    keep = (resume or attach) and out is not None and format is CrawlFormat.jsonl
    done = completed_sites(out) if keep else set()
    todo = [t for t in targets if t.given not in done]
    options = CrawlOptions(window_s=window, concurrency=concurrency, nav_timeout_s=nav_timeout,
                           browser=None, browser_args=tuple(browser_arg or ()),
                           sig_dirs=tuple(str(x) for x in signatures or ()),
                           file_timeout_s=file_timeout,
                           egress=_crawl_egress(public_only, allow_cidr, broker))
    submitter = None
    if broker:
        submitter = _broker_or_fail(broker)
    else:
        from webscan.browser.launch import ChromiumNotFound, find_chromium

        try:
            options = dataclasses.replace(options, browser=find_chromium(browser))
        except ChromiumNotFound as e:
            _fail(str(e))
    try:
        sinks = open_sinks(out, format.value, append=bool(keep), db=db)
    except SinkError as e:
        _fail(str(e))
    reports = []

    def keep_report(r) -> None:
        # Counts and the exit code need every verdict; the HTML report needs the evidence.
        reports.append(r if report is not None else
                       r.model_copy(update={"findings": r.findings[:1], "runtime": None,
                                            "wasm_modules": []}))

    def write(r) -> None:
        for sink in sinks:
            sink.write(r)

    interrupted = False
    try:
        if submitter is None:
            if done and not quiet:
                err.print(f"resuming: {len(done)} sites already in {out}, {len(todo)} to go")
            interrupted = _crawl_here(todo, options, write, keep_report, quiet)
        else:
            interrupted = _crawl_distributed(submitter, attach, todo, done, options,
                                             max_deliveries, sigs.version, write, keep_report,
                                             quiet, out)
    finally:
        for sink in sinks:
            sink.close()
    if report is not None:
        _write_html(report, reports, "webscan crawl")
    if not quiet:
        _crawl_summary(reports)
    if interrupted:
        if submitter is None:
            err.print(f"[yellow]interrupted[/] after {len(reports)} of {len(todo)} sites; they "
                      "are saved (rerun with --resume to continue)")
        raise typer.Exit(130)
    _exit_on(fail_on, reports)


def _crawl_here(todo: list, options, write, keep_report, quiet: bool) -> bool:  # noqa: ANN001
    """The local crawl; True when interrupted."""
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from webscan.crawl.runner import crawl as run_crawl

    progress = Progress(TextColumn("crawling"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TextColumn("{task.fields[last]}"), console=err,
                        transient=True, disable=quiet or not err.is_terminal)

    def on_report(r) -> None:
        write(r)
        keep_report(r)
        progress.update(task, advance=1, last=f"{r.url[:40]}: {r.verdict.value}")

    with progress:
        task = progress.add_task("crawl", total=len(todo), last="")
        try:
            asyncio.run(run_crawl(todo, options, on_report))
        except KeyboardInterrupt:
            return True
    return False


def _crawl_egress(public_only: bool, allow_cidr: list[str] | None, broker: str | None):  # noqa: ANN202
    """`crawl --public-only [--allow-cidr ...]` as the egress policy, or None."""
    if not public_only:
        if allow_cidr:
            _fail("--allow-cidr only widens --public-only; add --public-only")
        return None
    if broker:
        _fail("--public-only is applied by the local crawler only; distributed workers do not "
              "apply it yet, so crawl without --broker")
    from webscan.net.egress import EgressPolicy, parse_cidrs
    from webscan.net.resolve import SystemResolver

    try:
        allow = parse_cidrs(allow_cidr or (), "--allow-cidr")
    except ValueError as e:
        _fail(str(e))
    return EgressPolicy(resolver=SystemResolver(), allow=allow,
                        hint="--public-only visits public addresses only (a range you trust "
                             "can be allowed with --allow-cidr)")


def _broker_or_fail(broker: str):  # noqa: ANN202
    from webscan.scale.submit import Submitter
    from webscan.scale.worker import WorkerSetupError, check_broker

    try:
        check_broker(broker)
    except WorkerSetupError as e:
        _fail(str(e))
    return Submitter(broker, on_note=lambda note: err.print(f"[yellow]note[/]: {note}",
                                                            highlight=False))


def _crawl_distributed(submitter, attach: str | None, todo: list, done: set, options,  # noqa: ANN001
                       max_deliveries: int, sig_version: str, write, keep_report, quiet: bool,
                       out: Path | None) -> bool:
    """Enqueue (or attach), then write results as they arrive; True when interrupted."""
    from rich.progress import BarColumn, Progress, TextColumn

    from kombu.exceptions import OperationalError
    from redis.exceptions import ConnectionError, TimeoutError

    from webscan.scale.app import task_options
    from webscan.scale.submit import BrokerLost, CrawlNotFound

    hint = "webscan crawl --broker {broker} --attach {id} --out {out}"
    try:
        if attach:
            crawl = submitter.attach(attach)
        else:
            crawl = submitter.create(todo, task_options(options, max_deliveries), sig_version)
        crawl_id = crawl.state.id
        err.print(f"crawl id: {crawl_id} ({len(crawl.sites)} sites"
                  + (f", {len(done)} already in {out}" if done else "") + ")", highlight=False)
        hint = hint.format(broker=submitter.broker, id=crawl_id, out=out or "FILE")
        if not attach:
            submitter.enqueue(crawl, crawl.sites.items())
    except CrawlNotFound as e:
        _fail(str(e))
    except (ConnectionError, TimeoutError, OperationalError) as e:
        _fail(f"lost the broker {submitter.broker} while submitting the crawl: {e}. Once Redis "
              f"is up, `{hint}` finishes the enqueue if Redis kept the crawl; if not, submit "
              "again with --resume and the same --out (sites already there are skipped)")
    except KeyboardInterrupt:
        err.print(f"[yellow]interrupted[/] while enqueueing; finish the enqueue and follow the "
                  f"crawl with:\n  {hint}", highlight=False)
        return True
    if crawl.signatures_version and crawl.signatures_version != sig_version:
        err.print(f"[yellow]note[/]: the crawl was submitted with signatures "
                  f"{crawl.signatures_version}, this machine has {sig_version}")
    progress = Progress(TextColumn("crawling"), BarColumn(),
                        TextColumn("{task.completed}/{task.total} done, {task.fields[failed]} "
                                   "failed, {task.fields[queued]} queued, {task.fields[rate]}"),
                        TextColumn("{task.fields[note]}"), console=err, transient=True,
                        disable=quiet or not err.is_terminal)

    def on_tick(t) -> None:  # noqa: ANN001
        eta = t.eta_s()
        rate = f"{t.rate_per_min():.1f}/min" + (f", ETA {eta / 60:.0f} min" if eta else "")
        progress.update(task, completed=t.done, failed=t.failed, queued=t.queued, rate=rate,
                        note=t.note)

    def on_report(r, new: bool) -> None:  # noqa: ANN001
        if new:
            write(r)
        keep_report(r)

    with progress:
        task = progress.add_task("crawl", total=len(crawl.sites), failed=0,
                                 queued=len(crawl.sites), rate="", note="")
        try:
            submitter.follow(crawl, set(done), on_report, on_tick)
        except KeyboardInterrupt:
            err.print(f"[yellow]detached[/]: crawl {crawl_id} goes on in the workers; its "
                      f"results so far are saved. Pick it up with:\n  {hint}", highlight=False)
            return True
        except BrokerLost as e:
            err.print(f"[bold red]error:[/] {e}", highlight=False)
            raise typer.Exit(3)
    return False


@app.command()
def worker(
    broker: Annotated[str, typer.Option("--broker", metavar="URL", help="The Redis that "
                      "crawls are submitted to, e.g. redis://HOST:6379/0.")],
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=0, help="Visits at "
                           "once in this worker's one browser; 0 chooses from cores and "
                           "memory.")] = 0,
    browser: Annotated[Optional[str], typer.Option("--browser", envvar="WEBSCAN_CHROMIUM",
                       help="Chromium executable (default: found automatically).")] = None,
    visibility_timeout: Annotated[Optional[float], typer.Option(
        "--visibility-timeout", min=5.0, metavar="SECONDS", help="A visit taken by a worker "
        "that died goes back to the queue after this long (live workers renew their running "
        "visits every quarter of it). Use the same value on every worker. Default: 120.")
    ] = None,
    loglevel: Annotated[str, typer.Option("--loglevel", help="Celery log level.")] = "INFO",
    signatures: SigOpt = None,
) -> None:
    """Visit sites for distributed crawls (`webscan crawl --broker`): one browser, a fresh
    context per site, the same verdicts as a local crawl. Run one per machine (or more).

    Ctrl-C or SIGTERM: the visits in flight finish, then the worker stops; a worker killed
    outright has its visits delivered again to another after --visibility-timeout.
    """
    from webscan.browser.launch import ChromiumNotFound, find_chromium
    from webscan.crawl.runner import default_concurrency
    from webscan.scale.app import VISIBILITY_TIMEOUT_S
    from webscan.scale.worker import WorkerSetupError, run_worker

    _load_sigs(signatures)
    try:
        executable = find_chromium(browser)
    except ChromiumNotFound as e:
        _fail(str(e))
    try:
        run_worker(broker, concurrency=concurrency or default_concurrency(),
                   executable=executable, sig_dirs=tuple(str(x) for x in signatures or ()),
                   visibility_timeout_s=visibility_timeout or VISIBILITY_TIMEOUT_S,
                   loglevel=loglevel.upper())
    except WorkerSetupError as e:
        _fail(str(e))


def _crawl_summary(reports: list) -> None:
    from rich.table import Table

    from webscan.output.summary import verdict_counts

    err.print("Crawled " + ", ".join(f"{n} {v}" for v, n in verdict_counts(reports).items()))
    flagged = [r for r in reports if r.verdict.value in ("miner", "suspicious", "error")]
    if not flagged:
        return
    table = Table("site", "verdict", "score", "why", title="flagged sites")
    for r in flagged:
        why = r.error or (r.explanation.split("Evidence: ", 1)[-1][:100])
        table.add_row(r.url or "?", r.verdict.value, f"{r.score:.2f}", why)
    err.print(table)


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on. Keep 127.0.0.1 "
                    "unless a reverse proxy fronts the service.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0 picks a free "
                    "one).")] = 8000,
    db: Annotated[Optional[str], typer.Option("--db", metavar="URL", help="Database URL "
                  "(SQLAlchemy), e.g. sqlite:///webscan.db or postgresql+psycopg://u@h/db. "
                  "Default: webscan.db in your user data directory.")] = None,
    allow_private: Annotated[bool, typer.Option("--allow-private", help="Let audits visit "
                             "loopback, private and link-local addresses (tests, intranets). "
                             "Never on a public service.")] = False,
    api_key: Annotated[Optional[list[str]], typer.Option("--api-key", help="Require this key "
                       "(X-API-Key or Authorization: Bearer) for audits; repeat for several. "
                       "Also read from WEBSCAN_API_KEYS (comma-separated).")] = None,
    rate_limit: Annotated[float, typer.Option("--rate-limit", min=0, help="Reports per minute "
                          "per client address (scans get a quarter of it, audits a twentieth, "
                          "lookups ten times it); 0 turns rate limits off.")] = 120.0,
    confirm_reporters: Annotated[int, typer.Option("--confirm-reporters", min=1, help="How "
                                 "many independent reporters (distinct networks) must see "
                                 "mining before reports alone make a site a miner.")] = 3,
    audit_concurrency: Annotated[int, typer.Option("--audit-concurrency", min=1, max=16,
                                 help="Audit crawls run at once (each is a browser).")] = 1,
    audit_queue: Annotated[int, typer.Option("--audit-queue", min=1, help="Audits that may "
                           "wait; beyond this POST /v1/audits answers 503.")] = 100,
    audit_window: Annotated[float, typer.Option("--audit-window", min=1, help="Seconds each "
                            "audited page is watched.")] = 10.0,
    audit_nav_timeout: Annotated[float, typer.Option("--audit-nav-timeout", min=1, help="Seconds "
                                 "an audited page may take to load; the crawl then judges "
                                 "what it saw.")] = 20.0,
    audit_deadline: Annotated[float, typer.Option("--audit-deadline", min=1, help="Seconds an "
                              "audit crawl may take in all (browser start, load, watch, "
                              "analysis) before it is killed and marked failed.")] = 120.0,
    resolve: Annotated[Optional[list[str]], typer.Option("--resolve", metavar="HOST=ADDR",
                       help="Resolve audit targets' HOST to ADDR from this table instead of "
                       "DNS; repeat for more names (or addresses). With any --resolve, the "
                       "table is the only resolver: other names are refused as no such host "
                       "and no DNS query is made (tests, closed networks).")] = None,
    deny_cidr: Annotated[Optional[list[str]], typer.Option("--deny-cidr", metavar="CIDR",
                         help="Audits never reach this range, not even with --allow-private "
                         "(your own infrastructure, if it has public addresses); repeatable. "
                         "Every connection an audit's browser makes is checked.")] = None,
    trust_proxy: Annotated[bool, typer.Option("--trust-proxy", help="Take the client address "
                           "from X-Forwarded-For (only behind your own reverse proxy).")] = False,
    browser: Annotated[Optional[str], typer.Option("--browser", help="Chromium for audits "
                       "(default: found automatically).")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes "
                       "(one per core for throughput). With more than one, rate limits and "
                       "/metrics are per process.")] = 1,
    monitor_min_interval: Annotated[str, typer.Option("--monitor-min-interval",
                                    metavar="DURATION", help="The shortest schedule a monitor "
                                    "(POST /v1/monitors) may ask for: 30s, 15m, 1h, 1d.")] = (
                                    f"{service_defaults.MONITOR_MIN_INTERVAL_S / 3600:g}h"),
    webhook_timeout: Annotated[float, typer.Option("--webhook-timeout", min=0.1,
                               metavar="SECONDS", help="How long one monitor webhook call may "
                               "take before it counts as failed and is retried.")] = service_defaults.WEBHOOK_TIMEOUT_S,
    webhook_retry: Annotated[float, typer.Option("--webhook-retry", min=0.1, metavar="SECONDS",
                             help="Delay before a failed webhook call's first retry; the "
                             "next ones wait 2.5, 7.5, 30 and 150 times it (6 attempts in "
                             "all).")] = service_defaults.WEBHOOK_RETRY_S,
    file_timeout: Annotated[Optional[float], typer.Option(
        "--file-timeout", min=0.01, metavar="SECONDS", show_default=False,
        help=_file_timeout_help(
            "POST /v1/scan upload", "Scans run in a process of their own, so other requests "
            "are answered meanwhile. An upload that uses it up is answered with verdict error "
            "(\"analysis time budget exceeded after N s\") and the findings made so far, "
            "unless those already make it a miner; a scan stuck past the budget plus a grace "
            "is killed.")),
    ] = None,
    signatures: SigOpt = None,
) -> None:
    """Start the verdict service (FastAPI) with its database.

    Extensions report what they saw (POST /v1/reports), anyone looks up a site's shared
    verdict (GET /v1/verdicts?url=), site owners queue audit crawls (POST /v1/audits), and
    CI uploads files for a static verdict (POST /v1/scan). API docs at http://HOST:PORT/docs;
    Prometheus metrics at /metrics.

    Example: webscan serve --port 8000 --db sqlite:///webscan.db
    """
    import os

    import uvicorn

    from webscan.consensus import ConsensusPolicy
    from webscan.service.app import ServiceConfig, create_app
    from webscan.service.ratelimit import RateLimits
    from webscan.service.store import StoreError

    sigs = _load_sigs(signatures)
    table = _resolver_table(resolve) if resolve else None
    try:
        from webscan.net.egress import parse_cidrs

        parse_cidrs(deny_cidr or ())
    except ValueError as e:
        _fail(str(e))
    from webscan.service.monitors import parse_every

    try:
        min_interval = parse_every(monitor_min_interval)
    except ValueError as e:
        _fail(f"--monitor-min-interval: {e}")
    keys = [k.strip() for k in (api_key or []) + os.environ.get("WEBSCAN_API_KEYS", "").split(",")
            if k.strip()]
    config = ServiceConfig(
        db_url=db, allow_private=allow_private, api_keys=tuple(keys),
        rate_limits=RateLimits(reports=rate_limit, scans=rate_limit / 4,
                               audits=rate_limit / 20, lookups=rate_limit * 10),
        policy=ConsensusPolicy(confirm_reporters=confirm_reporters),
        audit_concurrency=audit_concurrency, audit_queue=audit_queue,
        audit_window_s=audit_window, audit_nav_timeout_s=audit_nav_timeout,
        audit_deadline_s=audit_deadline, resolver_table=table,
        deny_cidrs=tuple(deny_cidr or ()),
        browser=browser, trust_proxy=trust_proxy,
        sig_dirs=tuple(str(d) for d in signatures or ()), scan_timeout_s=file_timeout,
        monitor_min_interval_s=min_interval, webhook_timeout_s=webhook_timeout,
        webhook_retry_s=webhook_retry)
    try:
        if workers == 1:
            application = create_app(sigs=sigs, config=config)
        else:
            # Migrate once here, then each worker builds its own app from the same settings;
            # the database and the files beside it (audit lock, change board) are shared.
            from webscan.service.app import CONFIG_ENV, config_to_env, default_db_url
            from webscan.service.store import Store

            config.db_url = config.db_url or default_db_url()
            Store(config.db_url).close()
            os.environ[CONFIG_ENV] = config_to_env(config)
            application = "webscan.service.app:app_from_env"
    except StoreError as e:
        _fail(f"{e}. Check the --db URL and that its folder is writable.")
    try:
        uvicorn.run(application, host=host, port=port, log_level="info", proxy_headers=False,
                    access_log=False, workers=workers, factory=workers > 1)
    except OSError as e:
        _fail(f"cannot listen on {host}:{port}: {e.strerror or e}")


def _resolver_table(entries: list[str]) -> dict[str, list[str]]:
    """`--resolve HOST=ADDR` options as the service's resolver table (name -> addresses)."""
    import ipaddress

    from webscan.net.domains import normalise_host

    table: dict[str, list[str]] = {}
    for entry in entries:
        host, sep, address = entry.partition("=")
        name = normalise_host(host.strip())
        try:
            address = str(ipaddress.ip_address(address.strip().strip("[]")))
        except ValueError:
            address = ""
        if not sep or not name or not address:
            _fail(f"--resolve {entry!r}: expected HOST=ADDR with an IP address, e.g. "
                  f"--resolve shop.test=127.0.0.1 or --resolve shop.test=::1")
        table.setdefault(name, []).append(address)
    return table


@app.command()
def schema() -> None:
    """Print the JSON Schema of a report (one per file or site): the model every output,
    the service and the extension share."""
    from webscan.model import Report

    typer.echo(json.dumps(Report.model_json_schema(), indent=2))


@signatures_app.command("list")
def signatures_list(signatures: SigOpt = None) -> None:
    """List every rule with its id, kind, category and severity."""
    from rich.table import Table

    sigs = _load_sigs(signatures)
    table = Table("id", "kind", "category", "severity", "description")
    for kind in ("domains", "js", "protocol", "constants", "wasm"):
        for r in getattr(sigs, kind):
            table.add_row(r.id, kind, r.category, r.severity.value, r.description[:80])
    Console(highlight=False).print(table)
    err.print(f"signature set {sigs.version} ({sigs.digest}), {len(sigs.all_rules())} rules")


@signatures_app.command("check")
def signatures_check(signatures: SigOpt = None) -> None:
    """Validate a signature set and run every rule's must-match and must-not-match samples."""
    from webscan.rules.samples import run_samples

    sigs = _load_sigs(signatures)
    from webscan.rules.loader import default_signature_dirs

    base = (signatures[0] if signatures else default_signature_dirs()[0]).resolve().parent
    failures = run_samples(sigs, base=base)
    for f in failures:
        err.print(f"[red]FAIL[/] {f}")
    if failures:
        raise typer.Exit(1)
    err.print(f"signature set {sigs.version}: {len(sigs.all_rules())} rules, all samples behave")


@signatures_app.command("import")
def signatures_import(
    file: Annotated[Path, typer.Argument(help="An Adblock/uBlock filter list, a hosts file or a "
                                         "plain list of hosts.", show_default=False)],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the signature file "
                   "here (put it in a folder passed with --signatures, or in signatures/).")] = None,
    rule_id: Annotated[Optional[str], typer.Option("--id", help="Rule id to give the imported "
                       "list (default: derived from the file name).")] = None,
) -> None:
    """Convert a public blocklist into webscan's domain signature format.

    Example:  webscan signatures import nocoin.txt -o mysigs/nocoin.yaml
    """
    from webscan.rules.importer import BlocklistError, import_blocklist

    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        _fail(f"cannot read {file}: {e.strerror or e}")
    try:
        result = import_blocklist(text, source=file.name, rule_id=rule_id)
    except BlocklistError as e:
        _fail(f"{file}: {e}")
    if out is None:
        typer.echo(result.yaml_text, nl=False)
    else:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(result.yaml_text, encoding="utf-8")
        except OSError as e:
            _fail(f"cannot write {out}: {e.strerror or e}")
    err.print(result.summary(), markup=False)


@extension_app.command("build")
def extension_build(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the unpacked "
                   "extension to (empty, new, or an earlier build).", show_default=False)],
    zip_file: Annotated[Optional[Path], typer.Option("--zip", help="Also write a zip of it "
                        "(for the Chrome Web Store or to share).")] = None,
    signatures: SigOpt = None,
    target: Annotated[str, typer.Option("--target", help="Browser to build for: chromium (Chrome, "
                      "Edge, Brave...) or firefox (140 or later).")] = "chromium",
) -> None:
    """Build the extension: the crawler's hook, the signatures compiled for its scorer, and
    declarativeNetRequest rules blocking known mining domains.

    Example:  webscan extension build --out dist/extension --zip dist/webscan-extension.zip
              webscan extension build --target firefox --out dist/firefox
    """
    from webscan.extension.build import ExtensionBuildError, build
    from webscan.extension.compile import RuleCompileError

    sigs = _load_sigs(signatures)
    try:
        result = build(out, sigs, zip_path=zip_file, target=target)
    except (ExtensionBuildError, RuleCompileError) as e:
        _fail(str(e))
    except OSError as e:
        _fail(f"cannot write {out}: {e.strerror or e}")
    err.print(result.summary(), markup=False)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"webscan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    pass


def main() -> None:
    app()


if __name__ == "__main__":
    main()
