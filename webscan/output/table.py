"""The human view: one row per file, then the evidence for every flagged file."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from webscan.model import Finding, Report, VerdictLabel

STYLE = {"miner": "bold red", "suspicious": "yellow", "clean": "green", "error": "magenta"}


def _where(f: Finding) -> str:
    loc = f.location
    if loc.line:
        s = f"{loc.target}:{loc.line}" + (f":{loc.column}" if loc.column else "")
    elif loc.wasm_function is not None:
        s = f"{loc.target} func {loc.wasm_function}" + (
            f" @0x{loc.wasm_offset:x}" if loc.wasm_offset is not None else "")
    else:
        s = loc.target
    return s + (f" ({loc.context})" if loc.context else "")


def _short(f: Finding, limit: int = 90) -> str:
    """The first sentence of the strongest finding: enough to see why at a glance."""
    first = f.message.split(". ")[0].rstrip(".")
    text = f"{f.category}: {first}"
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def render(reports: list[Report], console: Console, *, show_clean: bool = True,
           max_findings: int = 8) -> None:
    table = Table(show_header=True, header_style="bold", expand=False)
    table.add_column("file", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("why", max_width=70)
    for r in reports:
        if not show_clean and r.verdict is VerdictLabel.clean:
            continue
        why = r.error or (_short(r.findings[0]) if r.findings else "")
        table.add_row(r.path or r.url or "?", Text(r.verdict.value, style=STYLE[r.verdict.value]),
                      f"{r.score:.2f}", why)
    console.print(table)
    for r in reports:
        cov = r.runtime.coverage if r.runtime else None
        if r.verdict not in (VerdictLabel.miner, VerdictLabel.suspicious):
            if cov is not None and cov.missed:  # clean, but not fully observed: say so
                console.print(Text(f"\n{r.path or r.url}: {r.verdict.value}, coverage: {cov.saw()}",
                                   style=STYLE[r.verdict.value]))
                for m in cov.missed:
                    console.print(f"  may have missed: {m}", highlight=False, markup=False)
            continue
        console.print(Text(f"\n{r.path or r.url}: {r.verdict.value}", style=STYLE[r.verdict.value]))
        console.print(f"  {r.explanation}", highlight=False, markup=False)
        for f in r.findings[:max_findings]:
            console.print(f"  - [{f.severity.value}] {f.rule}: {f.message}", highlight=False,
                          markup=False)
            console.print(f"      at {_where(f)}", highlight=False)
            if f.excerpt:
                console.print(f"      {f.excerpt}", style="dim", highlight=False, markup=False)
        if len(r.findings) > max_findings:
            console.print(f"  ... and {len(r.findings) - max_findings} more findings "
                          "(use --format json for all)")
        if cov is not None:
            console.print(f"  coverage: {cov.saw()}", highlight=False, markup=False)
            for m in cov.missed:
                console.print(f"  may have missed: {m}", highlight=False, markup=False)
