"""The service's database: reports, per-site aggregates, reporters by network, audits.

SQLAlchemy Core over any database it speaks (SQLite by default, PostgreSQL through
`--db postgresql+psycopg://...`); the schema is owned by the Alembic migrations next to this
file and is brought to the latest version on open.

Reports are written by ONE writer thread that commits them in groups: each HTTP request waits
for the commit that includes its report, so an acknowledged report is on disk (SQLite WAL with
synchronous=NORMAL survives a killed process), and a burst costs one fsync per group instead of
one per report. Lookups read from a connection pool in parallel (WAL readers never block the
writer). Aggregates are updated in the same transaction as the report, so a lookup is two
indexed reads whatever the number of reports.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import logging
import os
import queue
import tempfile
import threading
import time
import uuid
from concurrent.futures import Future
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text,
                        bindparam, create_engine, delete, event, false, func, select, update)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from webscan.consensus import ScopeFacts
from webscan.model import Audit, AuditStatus, AuditSummary, Finding, Report, VerdictLabel

log = logging.getLogger("webscan.service.store")

MIGRATIONS = Path(__file__).with_name("migrations")
EVIDENCE_KEPT = 20
"""Findings kept per site for display; the full reports stay in their own rows."""

metadata = MetaData()

reports = Table(
    "reports", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", Float, nullable=False),
    Column("url", Text, nullable=False),
    Column("origin", String(300), nullable=False),
    Column("domain", String(255), nullable=False),
    Column("reporter", String(64), nullable=False),
    Column("network", String(64), nullable=False),
    Column("client", String(64), nullable=False),
    Column("local_verdict", String(16), nullable=False),
    Column("verdict", String(16), nullable=False),  # re-judged by the service
    Column("score", Float, nullable=False),
    Column("body", Text, nullable=False),  # the validated PageReport as JSON
    Index("ix_reports_origin", "origin"),
    Index("ix_reports_domain", "domain"),
)

scopes = Table(
    "scopes", metadata,
    Column("key", String(310), primary_key=True),  # "o:<origin>" or "d:<domain>"
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("reports", Integer, nullable=False, server_default="0"),
    Column("evidence", Text),  # findings of the latest flagged report, JSON
    Column("last_audit_id", String(32)),
    Column("miner_audit_id", String(32)),  # the latest audit that found mining, still standing
)

scope_reporters = Table(
    "scope_reporters", metadata,
    Column("scope_key", String(310), primary_key=True),
    Column("network", String(64), primary_key=True),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("last_miner_at", Float),
    Column("last_flag_at", Float),  # miner or suspicious
)

audits = Table(
    "audits", metadata,
    Column("id", String(32), primary_key=True),
    Column("url", Text, nullable=False),
    Column("origin", String(300), nullable=False),
    Column("domain", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("verdict", String(16)),
    Column("error", Text),
    Column("report", Text),  # the crawl's Report as JSON
    Column("evidence", Text),  # its top findings, JSON
    Column("network", String(64), nullable=False),
    Column("stage", String(16)),  # while running: starting, loading, judging
    Index("ix_audits_status", "status", "requested_at"),
    Index("ix_audits_domain", "domain", "requested_at"),
)

monitors = Table(
    "monitors", metadata,
    Column("id", String(32), primary_key=True),
    Column("url", Text, nullable=False),
    Column("origin", String(300), nullable=False),
    Column("domain", String(255), nullable=False),
    Column("every_s", Float, nullable=False),
    Column("webhook", Text, nullable=False),
    Column("secret", String(64), nullable=False),  # the webhook's HMAC key
    Column("paused", Boolean, nullable=False, server_default=false()),
    Column("created_at", Float, nullable=False),
    Column("next_run_at", Float, nullable=False),
    Column("pending_audit_id", String(32)),  # the audit it queued and waits for
    Column("last_audit_id", String(32)),
    Column("last_verdict", String(16)),
    Column("last_checked_at", Float),
    Column("last_error", Text),
    Column("last_delivery", Text),  # how the last webhook call went, in words
    Index("ix_monitors_due", "paused", "next_run_at"),
    Index("ix_monitors_domain", "domain"),
)


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)


def _findings_json(findings: list[Finding]) -> str:
    return json.dumps([f.model_dump(mode="json") for f in findings[:EVIDENCE_KEPT]],
                      separators=(",", ":"))


@dataclass
class ReportRow:
    """One accepted report, already re-judged, ready to store."""

    url: str
    origin: str
    domain: str
    reporter: str
    network: str
    client: str
    local_verdict: str
    verdict: VerdictLabel
    score: float
    body: str
    evidence: list[Finding]


class StoreError(Exception):
    """The database cannot be opened or migrated; the message says what to do."""


class Store:
    def __init__(self, url: str, *, echo: bool = False,
                 on_change: Callable[[list[str]], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.clock = clock
        """Unix seconds for every time the store writes (the service's clock, see create_app)."""
        self.on_change = on_change
        """Called with the scope keys ("o:..", "d:..") a commit changed, before any waiter
        hears of the commit (the service's verdict cache listens)."""
        try:
            self.engine = _engine(url, echo=echo)
            self.dialect = self.engine.dialect.name
            migrate(self.engine)
        except (SQLAlchemyError, ImportError, OSError) as e:
            shown = make_url(url).render_as_string(hide_password=True) \
                if "://" in url else repr(url)
            first = str(e.args[0] if e.args else e).splitlines()[0][:300]
            raise StoreError(f"cannot open or migrate the database {shown}: "
                             f"{e.__class__.__name__}: {first}") from e
        self._statements()
        self._raw = None  # the writer thread's own driver connection (SQLite)
        self._write_lock = -1  # its file lock, shared with other processes' writers
        self._readers = threading.local()
        self._writes: queue.SimpleQueue = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="webscan-db-writer",
                                        daemon=True)
        self._writer.start()

    def shared_path(self, suffix: str) -> Path:
        """A file the service's processes share for this database (the audit runner's lock,
        the verdict cache's change board): beside a SQLite file, or for a server database,
        one per database URL in the temp folder."""
        db_file = self.engine.url.database if self.dialect == "sqlite" else None
        if db_file and db_file != ":memory:":
            return Path(db_file + suffix)
        digest = hashlib.sha256(str(self.url).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"webscan-{digest}{suffix}"

    # -- reports ---------------------------------------------------------------------------
    def add_report(self, row: ReportRow) -> Future:
        """Queue a report; the future resolves with its id once it is committed."""
        fut: Future = Future()
        self._writes.put((row, fut))
        return fut

    def _write_loop(self) -> None:
        while True:
            item = self._writes.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < 512:
                try:
                    nxt = self._writes.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._writes.put(None)
                    break
                batch.append(nxt)
            self._commit(batch)

    def _commit(self, batch: list) -> None:
        rows = [row for row, _ in batch]
        try:
            if self.dialect == "sqlite":
                ids = self._insert_reports_sqlite(rows)
            else:
                with self.engine.begin() as conn:
                    ids = self._insert_reports(conn, rows)
        except Exception as e:  # noqa: BLE001 - isolate the bad report, keep the others
            if len(batch) > 1:
                for one in batch:
                    self._commit([one])
                return
            log.exception("report not stored")
            batch[0][1].set_exception(e)
            return
        self._changed({k for row in rows for k in (f"o:{row.origin}", f"d:{row.domain}")})
        for (_, fut), rid in zip(batch, ids):
            fut.set_result(rid)

    def _changed(self, keys) -> None:  # noqa: ANN001
        if self.on_change is not None:
            try:
                self.on_change(list(keys))
            except Exception:  # noqa: BLE001 - a listener's bug must not lose the commit
                log.exception("change listener failed")

    @staticmethod
    def _group(rows: list[ReportRow], now: float) -> tuple[list[dict], list[dict], list[dict]]:
        """The parameters of one commit group: a row per report, and one aggregate upsert per
        distinct scope (and scope/network) carrying the group's counts, sorted so concurrent
        writers (PostgreSQL, several processes) take row locks in one order."""
        reports_ = [dict(received_at=now, url=r.url, origin=r.origin, domain=r.domain,
                         reporter=r.reporter, network=r.network, client=r.client,
                         local_verdict=r.local_verdict, verdict=r.verdict.value, score=r.score,
                         body=r.body) for r in rows]
        scope_rows: dict[str, dict] = {}
        reporter_rows: dict[tuple[str, str], dict] = {}
        for r in rows:
            miner = r.verdict is VerdictLabel.miner
            flagged = miner or r.verdict is VerdictLabel.suspicious
            evidence = _findings_json(r.evidence) if flagged and r.evidence else None
            for key in (f"o:{r.origin}", f"d:{r.domain}"):
                s = scope_rows.setdefault(key, dict(key=key, now=now, n=0, evidence=None))
                s["n"] += 1
                if evidence is not None:  # the latest flagged report's findings win
                    s["evidence"] = evidence
                p = reporter_rows.setdefault((key, r.network), dict(
                    scope_key=key, network=r.network, now=now, miner_at=None, flag_at=None))
                if miner:
                    p["miner_at"] = now
                if flagged:
                    p["flag_at"] = now
        return (reports_, [scope_rows[k] for k in sorted(scope_rows)],
                [reporter_rows[k] for k in sorted(reporter_rows)])

    def _insert_reports(self, conn: Connection, rows: list[ReportRow]) -> list[int]:
        """Store a group of reports and fold them into the per-site aggregates, with
        statements built once (see _statements) and run with many parameter sets."""
        reports_, scopes_, reporters_ = self._group(rows, self.clock())
        result = conn.execute(self._stmt_reports, reports_)
        ids = [int(x) for x in result.scalars().all()]
        conn.execute(self._stmt_scopes, scopes_)
        conn.execute(self._stmt_reporters, reporters_)
        return ids

    _SQLITE_REPORT = ("INSERT INTO reports (received_at, url, origin, domain, reporter, network, "
                      "client, local_verdict, verdict, score, body) VALUES (:received_at, :url, "
                      ":origin, :domain, :reporter, :network, :client, :local_verdict, :verdict, "
                      ":score, :body)")
    _SQLITE_SCOPE = ("INSERT INTO scopes (key, first_seen, last_seen, reports, evidence) "
                     "VALUES (:key, :now, :now, :n, :evidence) ON CONFLICT (key) DO UPDATE SET "
                     "last_seen = excluded.last_seen, reports = scopes.reports + "
                     "excluded.reports, evidence = coalesce(excluded.evidence, scopes.evidence)")
    _SQLITE_REPORTER = ("INSERT INTO scope_reporters (scope_key, network, first_seen, last_seen, "
                        "last_miner_at, last_flag_at) VALUES (:scope_key, :network, :now, :now, "
                        ":miner_at, :flag_at) ON CONFLICT (scope_key, network) DO UPDATE SET "
                        "last_seen = excluded.last_seen, last_miner_at = "
                        "coalesce(excluded.last_miner_at, scope_reporters.last_miner_at), "
                        "last_flag_at = coalesce(excluded.last_flag_at, "
                        "scope_reporters.last_flag_at)")

    def _insert_reports_sqlite(self, rows: list[ReportRow]) -> list[int]:
        """The same on SQLite through the driver itself, on a connection the writer keeps:
        on the one thread every report waits for, SQLAlchemy's per-statement work cost more
        than SQLite's (measured with bench/bench_service.py)."""
        if self._raw is None:
            self._raw = self.engine.raw_connection()
            self._write_lock = os.open(self.shared_path(".write.lock"), os.O_RDWR | os.O_CREAT,
                                       0o600)
        db = self._raw.driver_connection
        reports_, scopes_, reporters_ = self._group(rows, self.clock())
        cur = db.cursor()
        # Writers in other worker processes queue on a file lock first: the kernel wakes the
        # next one the moment the lock is free, where SQLite's own busy handler would poll
        # with sleeps of up to 100 ms (bench/bench_service.py: p99 and throughput).
        fcntl.flock(self._write_lock, fcntl.LOCK_EX)
        try:
            cur.execute("BEGIN IMMEDIATE")
            ids = []
            for params in reports_:
                cur.execute(self._SQLITE_REPORT, params)
                ids.append(int(cur.lastrowid))
            cur.executemany(self._SQLITE_SCOPE, scopes_)
            cur.executemany(self._SQLITE_REPORTER, reporters_)
            cur.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                cur.execute("ROLLBACK")
            raise
        finally:
            fcntl.flock(self._write_lock, fcntl.LOCK_UN)
            cur.close()
        return ids

    def _statements(self) -> None:
        """The writer's statements, compiled once per process by SQLAlchemy's cache."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        self._stmt_reports = reports.insert().returning(reports.c.id,
                                                        sort_by_parameter_order=True)
        ins = insert(scopes).values(key=bindparam("key"), first_seen=bindparam("now"),
                                    last_seen=bindparam("now"), reports=bindparam("n"),
                                    evidence=bindparam("evidence"))
        self._stmt_scopes = ins.on_conflict_do_update(index_elements=["key"], set_=dict(
            last_seen=ins.excluded.last_seen,
            reports=scopes.c.reports + ins.excluded.reports,
            evidence=func.coalesce(ins.excluded.evidence, scopes.c.evidence)))
        ins = insert(scope_reporters).values(
            scope_key=bindparam("scope_key"), network=bindparam("network"),
            first_seen=bindparam("now"), last_seen=bindparam("now"),
            last_miner_at=bindparam("miner_at", type_=Float),
            last_flag_at=bindparam("flag_at", type_=Float))
        self._stmt_reporters = ins.on_conflict_do_update(
            index_elements=["scope_key", "network"], set_=dict(
                last_seen=ins.excluded.last_seen,
                last_miner_at=func.coalesce(ins.excluded.last_miner_at,
                                            scope_reporters.c.last_miner_at),
                last_flag_at=func.coalesce(ins.excluded.last_flag_at,
                                           scope_reporters.c.last_flag_at)))

    def _upsert(self, conn: Connection, table: Table, keys: list[str], values: dict,
                changes: dict) -> None:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        conn.execute(insert(table).values(**values)
                     .on_conflict_do_update(index_elements=keys, set_=changes))

    # -- lookups ---------------------------------------------------------------------------
    _FACTS = """
        SELECT s.first_seen, s.last_seen, s.reports, s.evidence,
          (SELECT count(*) FROM scope_reporters r WHERE r.scope_key = s.key) AS reporters,
          (SELECT count(*) FROM scope_reporters r WHERE r.scope_key = s.key
             AND r.last_miner_at >= :cutoff) AS miners,
          (SELECT count(*) FROM scope_reporters r WHERE r.scope_key = s.key
             AND r.last_flag_at >= :cutoff) AS flagging,
          a.id, a.status, a.verdict, a.finished_at, a.evidence, s.key,
          m.id, m.finished_at, m.evidence
        FROM scopes s LEFT JOIN audits a ON a.id = s.last_audit_id
          LEFT JOIN audits m ON m.id = s.miner_audit_id
        WHERE s.key IN ({keys})"""

    @functools.lru_cache(maxsize=8)
    def _facts_sql(self, n: int) -> str:
        """The query for n keys (always 2 from the app), in the driver's own parameter style:
        it runs on every lookup, and SQLAlchemy's statement handling cost more than SQLite's
        work here."""
        if self.dialect == "postgresql":
            names = [f"%(k{i})s" for i in range(n)]
            return self._FACTS.replace("{keys}", ", ".join(names)).replace(":cutoff",
                                                                            "%(cutoff)s")
        return self._FACTS.replace("{keys}", ", ".join(f":k{i}" for i in range(n)))

    def facts(self, keys: list[str], cutoff: float) -> list[ScopeFacts]:
        """What is known about each scope key ("o:<origin>", "d:<domain>"), in one query.
        Evidence stays the JSON the writer stored (see consensus.shared_verdict)."""
        if not keys:
            return []
        params = {f"k{i}": key for i, key in enumerate(keys)}
        params["cutoff"] = cutoff
        if self.dialect == "sqlite":
            # a driver connection per reading thread, kept: checking one out of the pool for
            # each lookup cost more than the query
            raw = getattr(self._readers, "raw", None)
            if raw is None:
                raw = self._readers.raw = self.engine.raw_connection()
            cur = raw.driver_connection.execute(self._facts_sql(len(keys)), params)
            found = {row[12]: row for row in cur.fetchall()}
        else:
            with self.engine.connect() as conn:
                found = {row[12]: row for row in
                         conn.exec_driver_sql(self._facts_sql(len(keys)), params)}
        out = []
        for key in keys:
            row = found.get(key)
            out.append(ScopeFacts() if row is None else ScopeFacts(
                reports=row[2], reporters=row[4], miner_reporters=row[5],
                flagging_reporters=row[6], first_seen=_ts(row[0]), last_seen=_ts(row[1]),
                report_evidence=row[3] or "[]",
                last_audit=None if row[7] is None else AuditSummary(
                    id=row[7], status=AuditStatus(row[8]),
                    verdict=VerdictLabel(row[9]) if row[9] else None,
                    finished_at=_ts(row[10])),
                audit_evidence=row[11] or "[]",
                miner_audit=None if row[13] is None or row[14] < cutoff else AuditSummary(
                    id=row[13], status=AuditStatus.done, verdict=VerdictLabel.miner,
                    finished_at=_ts(row[14])),
                miner_audit_evidence=(row[15] or "[]") if row[13] is not None else "[]"))
        return out

    # -- audits ----------------------------------------------------------------------------
    def create_audit(self, url: str, origin: str, domain: str, network: str) -> Audit:
        audit_id = uuid.uuid4().hex
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(audits.insert().values(
                id=audit_id, url=url, origin=origin, domain=domain, network=network,
                status=AuditStatus.queued.value, requested_at=now))
        return Audit(id=audit_id, url=url, status=AuditStatus.queued, requested_at=_ts(now))

    def pending_audits(self) -> list[str]:
        """Audits a previous run accepted but never finished, oldest first: they run again."""
        with self.engine.begin() as conn:
            conn.execute(update(audits).where(audits.c.status == AuditStatus.running.value)
                         .values(status=AuditStatus.queued.value, started_at=None,
                                 stage=None))
            rows = conn.execute(select(audits.c.id)
                                .where(audits.c.status == AuditStatus.queued.value)
                                .order_by(audits.c.requested_at)).all()
        return [r[0] for r in rows]

    def start_audit(self, audit_id: str) -> bool:
        """Mark a queued audit running; False if it is not queued (another runner took it)."""
        with self.engine.begin() as conn:
            done = conn.execute(update(audits)
                                .where(audits.c.id == audit_id)
                                .where(audits.c.status == AuditStatus.queued.value)
                                .values(status=AuditStatus.running.value, stage="starting",
                                        started_at=self.clock()))
            return done.rowcount == 1

    def claim_audit(self) -> str | None:
        """Take the oldest queued audit and mark it running (None when none waits)."""
        for _ in range(10):
            with self.engine.connect() as conn:
                audit_id = conn.execute(select(audits.c.id)
                                        .where(audits.c.status == AuditStatus.queued.value)
                                        .order_by(audits.c.requested_at).limit(1)).scalar()
            if audit_id is None:
                return None
            if self.start_audit(audit_id):
                return audit_id
        return None

    def audit_url(self, audit_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(audits.c.url).where(audits.c.id == audit_id)).scalar()

    def count_queued(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audits)
                                    .where(audits.c.status == AuditStatus.queued.value))
                       .scalar_one())

    def finish_audit(self, audit_id: str, report: Report | None, error: str | None) -> None:
        """Store the crawl's report (or why there is none) and point both scopes at it."""
        now = self.clock()
        status = AuditStatus.done if report is not None else AuditStatus.failed
        with self.engine.begin() as conn:
            row = conn.execute(select(audits.c.origin, audits.c.domain, audits.c.url)
                               .where(audits.c.id == audit_id)).first()
            if row is None:
                return
            conn.execute(update(audits).where(audits.c.id == audit_id).values(
                status=status.value, finished_at=now, error=error, stage=None,
                verdict=report.verdict.value if report is not None else None,
                report=report.model_dump_json() if report is not None else None,
                evidence=_findings_json(report.findings) if report is not None else None))
            if report is not None and report.verdict is not VerdictLabel.error:
                self._fold_audit(conn, audit_id, report, row, now)
        self._changed([f"o:{row[0]}", f"d:{row[1]}"])

    def _fold_audit(self, conn: Connection, audit_id: str, report: Report, row,  # noqa: ANN001
                    now: float) -> None:
        """Point both scopes of a finished audit at it."""
        mined = report.verdict is VerdictLabel.miner
        for key in (f"o:{row[0]}", f"d:{row[1]}"):
            changes = dict(last_seen=now, last_audit_id=audit_id)
            if mined:
                changes["miner_audit_id"] = audit_id
            self._upsert(conn, scopes, ["key"],
                         dict(key=key, first_seen=now, last_seen=now, reports=0,
                              last_audit_id=audit_id,
                              miner_audit_id=audit_id if mined else None),
                         changes)
            if not mined:
                # The page that was caught mining is clean now: the site is cleared. A
                # clean audit of ANOTHER page of the site clears nothing.
                earlier = select(audits.c.id).where(audits.c.url == row[2])
                conn.execute(update(scopes).where(scopes.c.key == key)
                             .where(scopes.c.miner_audit_id.in_(earlier))
                             .values(miner_audit_id=None))

    def get_audit(self, audit_id: str) -> Audit | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(audits).where(audits.c.id == audit_id)).mappings().first()
        if row is None:
            return None
        return Audit(id=row["id"], url=row["url"], status=AuditStatus(row["status"]),
                     stage=row["stage"], requested_at=_ts(row["requested_at"]), started_at=_ts(row["started_at"]),
                     finished_at=_ts(row["finished_at"]),
                     verdict=VerdictLabel(row["verdict"]) if row["verdict"] else None,
                     error=row["error"],
                     report=Report.model_validate_json(row["report"]) if row["report"] else None)

    def set_audit_stage(self, audit_id: str, stage: str) -> None:
        """What a running audit is doing now (the audit job says), for the progress page."""
        with self.engine.begin() as conn:
            conn.execute(update(audits).where(audits.c.id == audit_id)
                         .where(audits.c.status == AuditStatus.running.value)
                         .values(stage=stage))

    def site_audits(self, domain: str, limit: int = 50) -> list[dict]:
        """A registrable domain's audits, newest first (a site's page lists them)."""
        cols = (audits.c.id, audits.c.url, audits.c.origin, audits.c.status, audits.c.verdict,
                audits.c.requested_at, audits.c.finished_at, audits.c.error)
        with self.engine.connect() as conn:
            rows = conn.execute(select(*cols).where(audits.c.domain == domain)
                                .order_by(audits.c.requested_at.desc()).limit(limit)).mappings()
            return [{**r, "requested_at": _ts(r["requested_at"]),
                     "finished_at": _ts(r["finished_at"])} for r in rows]

    # -- monitors (webscan.service.monitors schedules them) ------------------------------------
    def create_monitor(self, row: dict) -> None:
        with self.engine.begin() as conn:
            conn.execute(monitors.insert().values(**row))

    def monitor_rows(self, *, domain: str | None = None,
                     monitor_id: str | None = None) -> list[dict]:
        query = select(monitors).order_by(monitors.c.created_at)
        if domain is not None:
            query = query.where(monitors.c.domain == domain)
        if monitor_id is not None:
            query = query.where(monitors.c.id == monitor_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def update_monitor(self, monitor_id: str, **values: object) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(update(monitors).where(monitors.c.id == monitor_id)
                                .values(**values))
            return done.rowcount == 1

    def delete_monitor(self, monitor_id: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(delete(monitors).where(monitors.c.id == monitor_id)).rowcount == 1

    def due_monitors(self, now: float) -> list[tuple[str, float]]:
        """(id, next_run_at) of active monitors whose time has come and that wait for no audit."""
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(
                select(monitors.c.id, monitors.c.next_run_at)
                .where(monitors.c.paused == false()).where(monitors.c.next_run_at <= now)
                .where(monitors.c.pending_audit_id.is_(None)).order_by(monitors.c.next_run_at)
                .limit(100))]

    def claim_monitor(self, monitor_id: str, seen_next: float, lease_until: float) -> bool:
        """Take one firing of a monitor: a compare-and-set on the row (its next run as read),
        so of several processes that saw it due, exactly one gets it."""
        with self.engine.begin() as conn:
            done = conn.execute(update(monitors).where(monitors.c.id == monitor_id)
                                .where(monitors.c.next_run_at == seen_next)
                                .where(monitors.c.pending_audit_id.is_(None))
                                .values(next_run_at=lease_until))
            return done.rowcount == 1

    def waiting_monitors(self) -> list[tuple[str, str, str | None, str | None]]:
        """(monitor id, audit id, audit status, audit verdict) for monitors waiting for an
        audit they queued."""
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(
                select(monitors.c.id, monitors.c.pending_audit_id, audits.c.status,
                       audits.c.verdict)
                .select_from(monitors.outerjoin(audits,
                                                audits.c.id == monitors.c.pending_audit_id))
                .where(monitors.c.pending_audit_id.is_not(None)))]

    def settle_monitor(self, monitor_id: str, audit_id: str, values: dict) -> dict | None:
        """Record a monitor's finished audit; its row as it was before (None when another
        process settled it first: a compare-and-set on the pending audit)."""
        with self.engine.begin() as conn:
            before = conn.execute(select(monitors).where(monitors.c.id == monitor_id)
                                  .where(monitors.c.pending_audit_id == audit_id)
                                  ).mappings().first()
            if before is None:
                return None
            done = conn.execute(update(monitors).where(monitors.c.id == monitor_id)
                                .where(monitors.c.pending_audit_id == audit_id)
                                .values(pending_audit_id=None, **values))
            return dict(before) if done.rowcount == 1 else None

    def close(self) -> None:
        self._writes.put(None)
        self._writer.join(timeout=30)
        if self._raw is not None:
            self._raw.close()
            os.close(self._write_lock)
        self.engine.dispose()


POOL_SIZE = 16
"""Connections kept open: the app's read threads (8), the writer, audits and some spare.
Connections beyond it are opened and closed per use, which cost more than the query."""


def _engine(url: str, *, echo: bool) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, pool_size=POOL_SIZE, max_overflow=32,
                               connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cur = dbapi_conn.cursor()
            # WAL: readers never block the writer. synchronous=NORMAL in WAL mode: a commit
            # survives the process being killed (not a power cut), at a fraction of FULL's cost.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, echo=echo, pool_size=POOL_SIZE, max_overflow=32,
                         pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (creating it on a new database)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
