"""Where a crawl's reports go: JSONL, CSV, Parquet, and the verdict service's database.

Every sink takes the same Report (webscan.model), one at a time as sites finish, so a local
crawl and a distributed one write identical files. JSONL is appended and fsynced line by line
(resumable, see webscan.crawl.results); CSV is flushed row by row; Parquet cannot be appended,
so rows are written in row groups to a temporary file renamed over the target when the crawl
ends (an interrupted crawl still closes it properly); the database gets one finished audit per
site, the shape the service stores its own audits in.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Protocol

from webscan.crawl.results import ResultsWriter
from webscan.model import Report

CSV_HEADER = ["url", "verdict", "score", "cpu_seconds", "peak_cpu_share", "pool_submits", "why"]


class SinkError(Exception):
    """An output that cannot be opened or written; the message names it."""


class Sink(Protocol):
    def write(self, report: Report) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    def __init__(self, out: Path | None, *, append: bool) -> None:
        self._file = ResultsWriter(out, append=append) if out is not None else None

    def write(self, report: Report) -> None:
        if self._file is not None:
            self._file.write(report)
        else:
            sys.stdout.write(report.model_dump_json() + "\n")
            sys.stdout.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class CsvSink:
    def __init__(self, out: Path | None) -> None:
        self._stream: IO[str] = open(out, "w", newline="", encoding="utf-8") if out else sys.stdout
        self._csv = csv.writer(self._stream)
        self._csv.writerow(CSV_HEADER)

    def write(self, r: Report) -> None:
        rt = r.runtime
        self._csv.writerow([r.url, r.verdict.value, f"{r.score:.3f}",
                            f"{rt.cpu_seconds:.2f}" if rt else "",
                            f"{rt.peak_cpu_share:.2f}" if rt else "",
                            rt.pool_submits if rt else "",
                            r.error or (r.findings[0].message[:120] if r.findings else "")])
        self._stream.flush()

    def close(self) -> None:
        if self._stream is not sys.stdout:
            self._stream.close()


def parquet_row(r: Report) -> dict:
    """Flat columns for DuckDB or pandas, and the whole report as JSON for anything else."""
    rt = r.runtime
    return {
        "url": r.url, "verdict": r.verdict.value, "score": r.score, "error": r.error,
        "technique": r.technique, "rule_ids": sorted({f.rule for f in r.findings}),
        "findings": len(r.findings), "wasm_modules": len(r.wasm_modules),
        "window_s": rt.window_s if rt else None, "cpu_seconds": rt.cpu_seconds if rt else None,
        "peak_cpu_share": rt.peak_cpu_share if rt else None,
        "workers": rt.workers if rt else None, "sockets": rt.sockets if rt else [],
        "pool_jobs": rt.pool_jobs if rt else None, "pool_submits": rt.pool_submits if rt else None,
        "final_url": rt.final_url if rt else None, "duration_ms": r.duration_ms,
        "signatures_version": r.signatures_version, "scanned_at": r.scanned_at,
        "report_json": r.model_dump_json(),
    }


class ParquetSink:
    ROW_GROUP = 1000

    def __init__(self, out: Path) -> None:
        import pyarrow as pa

        self._pa = pa
        self._out = out
        self._schema = pa.schema([
            ("url", pa.string()), ("verdict", pa.string()), ("score", pa.float64()),
            ("error", pa.string()), ("technique", pa.string()), ("rule_ids", pa.list_(pa.string())),
            ("findings", pa.int32()), ("wasm_modules", pa.int32()), ("window_s", pa.float64()),
            ("cpu_seconds", pa.float64()), ("peak_cpu_share", pa.float64()),
            ("workers", pa.int32()), ("sockets", pa.list_(pa.string())),
            ("pool_jobs", pa.int32()), ("pool_submits", pa.int32()), ("final_url", pa.string()),
            ("duration_ms", pa.float64()), ("signatures_version", pa.string()),
            ("scanned_at", pa.timestamp("us", tz="UTC")), ("report_json", pa.string()),
        ])
        fd, self._tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
        os.close(fd)
        self._writer = None
        self._rows: list[dict] = []

    def write(self, report: Report) -> None:
        self._rows.append(parquet_row(report))
        if len(self._rows) >= self.ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow.parquet as pq

        if self._writer is None:
            self._writer = pq.ParquetWriter(self._tmp, self._schema, compression="zstd")
        if self._rows:
            self._writer.write_table(self._pa.Table.from_pylist(self._rows, schema=self._schema))
            self._rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
        os.replace(self._tmp, self._out)


class DbSink:
    """Each report as a finished audit in the service's database (same schema and
    migrations), so the service's verdict lookups see the crawl's sites."""

    NETWORK = "crawl"

    def __init__(self, url: str) -> None:
        from webscan.service.store import Store, StoreError

        try:
            self._store = Store(url)
        except StoreError as e:
            raise SinkError(str(e)) from None

    def write(self, report: Report) -> None:
        from webscan.crawl.sites import to_url
        from webscan.service.targets import TargetRefused, split_target

        try:
            origin, domain, _, _ = split_target(to_url(report.url or ""))
        except (TargetRefused, ValueError):
            origin = domain = (report.url or "?")[:255]
        audit = self._store.create_audit(report.url or "", origin[:300], domain[:255],
                                         self.NETWORK)
        self._store.finish_audit(audit.id, report, None)

    def close(self) -> None:
        self._store.close()


def open_sinks(out: Path | None, format: str, *, append: bool, db: str | None) -> list[Sink]:
    """The sinks a crawl writes to, or SinkError naming the one that cannot be opened."""
    sinks: list[Sink] = []
    try:
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
        if format == "parquet":
            if out is None:
                raise SinkError("--format parquet needs --out FILE (Parquet is not a stream)")
            sinks.append(ParquetSink(out))
        elif format == "csv":
            sinks.append(CsvSink(out))
        elif out is not None or db is None:
            sinks.append(JsonlSink(out, append=append))
        if db is not None:
            sinks.append(DbSink(db))
    except OSError as e:
        for s in sinks:
            s.close()
        raise SinkError(f"cannot write {out}: {e.strerror or e}") from None
    except SinkError:
        for s in sinks:
            s.close()
        raise
    return sinks
