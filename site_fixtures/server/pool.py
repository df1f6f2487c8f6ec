"""A stub mining pool: speaks four pool protocols by message shape, hands out easy jobs.

It exists so synthetic miners in a real browser go through a whole session (login, job, submit,
accepted) within seconds and so tests can count what happened. It never mines and, unless share
verification is on, never checks proof of work: a submit is accepted when it is well formed.

Protocols (shapes from signatures/protocol.yaml and /work/shared/FIELD.md):
  coinhive  {type:"auth"} -> authed + job {blob, job_id, target}; {type:"submit"} -> hash_accepted
  stratum   {method:"login"} -> result {id, job, status}; pushed {method:"job"};
            {method:"submit"} -> result {status:"OK"}; {method:"keepalived"} -> KEEPALIVED
  wmp       {identifier:"handshake"} -> {identifier:"job"}; {identifier:"solved"} -> hashsolved
  btc       mining.subscribe / mining.authorize (-> set_difficulty + notify) / mining.submit
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

PROTOCOLS = ("coinhive", "stratum", "wmp", "btc")
# "ffffff7f" read little-endian is 0x7fffffff: about one hash in two meets it, so a miner doing
# a few hashes a second submits within seconds.
EASY_TARGET = "ffffff7f"
BLOB_BYTES = 76
NONCE_OFFSET = 39
NEW_JOB_EVERY = 4  # accepted shares per pushed job: sessions see more than one job
MAX_JUNK_PER_CONNECTION = 50
_HEX = re.compile(r"[0-9a-fA-F]+")

Reply = dict[str, Any]


def _is_hex(value: object, length: int | None = None) -> bool:
    return (isinstance(value, str) and bool(_HEX.fullmatch(value))
            and (length is None or len(value) == length))


def make_blob(counter: int) -> str:
    """A deterministic 76-byte Monero-like blob (major/minor version first, nonce zeroed)."""
    body = hashlib.sha256(f"webscan-fixture-job-{counter}".encode()).digest() * 3
    blob = bytearray(b"\x07\x07" + body[: BLOB_BYTES - 2])
    blob[NONCE_OFFSET:NONCE_OFFSET + 4] = b"\x00\x00\x00\x00"
    return blob.hex()


def detect_protocol(msg: object) -> str | None:
    """Which protocol a first frame speaks, from its shape alone (never from the URL host)."""
    if not isinstance(msg, dict):
        return None
    if msg.get("type") in {"auth", "submit"} and isinstance(msg.get("params"), dict):
        return "coinhive"
    if msg.get("identifier") in {"handshake", "solved"}:
        return "wmp"
    method = msg.get("method")
    if isinstance(method, str) and method.startswith("mining."):
        return "btc"
    if method in {"login", "submit", "keepalived", "getjob"}:
        return "stratum"
    return None


@dataclass
class Counters:
    connections: int = 0
    logins: int = 0
    jobs: int = 0
    submits: int = 0
    accepted: int = 0
    rejected: int = 0
    verified: int = 0
    keepalives: int = 0


@dataclass
class SessionRecord:
    """One pool connection, so a test can tie pool traffic to the page that caused it."""

    protocol: str | None
    path: str
    origin: str | None
    login: str | None = None
    jobs: int = 0
    submits: int = 0
    accepted: int = 0
    verified: int = 0
    junk: int = 0
    opened: float = field(default_factory=time.time)
    closed: float | None = None


class PoolStats:
    """Thread-safe counters: the server loop writes, tests read from another thread."""

    def __init__(self, keep_sessions: int = 2000) -> None:
        self._lock = threading.Lock()
        self._by_protocol = {p: Counters() for p in PROTOCOLS}
        self._sessions: deque[SessionRecord] = deque(maxlen=keep_sessions)
        self.junk = 0
        self.oversized = 0
        self.refused = 0
        self.chat_connections = 0
        self.chat_messages = 0
        self.generation = 0  # bumped by reset(), so late results from before it are dropped

    def bump(self, protocol: str, name: str, by: int = 1) -> None:
        with self._lock:
            counters = self._by_protocol[protocol]
            setattr(counters, name, getattr(counters, name) + by)

    def add(self, name: str, by: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + by)

    def open_session(self, path: str, origin: str | None) -> SessionRecord:
        record = SessionRecord(protocol=None, path=path, origin=origin)
        with self._lock:
            self._sessions.append(record)
        return record

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {p: asdict(c) for p, c in self._by_protocol.items()}
            out["total"] = {k: sum(getattr(c, k) for c in self._by_protocol.values())
                            for k in asdict(Counters())}
            out.update(junk=self.junk, oversized=self.oversized, refused=self.refused,
                       chat={"connections": self.chat_connections,
                             "messages": self.chat_messages})
            return out

    def sessions(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(s) for s in self._sessions]

    def reset(self) -> None:
        with self._lock:
            self._by_protocol = {p: Counters() for p in PROTOCOLS}
            self._sessions.clear()
            self.junk = self.oversized = self.refused = 0
            self.chat_connections = self.chat_messages = 0
            self.generation += 1


class ShareVerifier:
    """Recomputes submitted hashes with the real fixture Wasm miners (optional, needs wasmtime).

    A verified share proves the browser ran site_fixtures/wasm/worker*.wasm on the job we sent,
    not just that a script posted well-formed hex. Runs on one worker thread (wasmtime stores
    are not shared across threads); ~0.1-0.2 s per check, so the caller samples.
    """

    def __init__(self, wasm_paths: list[str]) -> None:
        try:
            import wasmtime  # test-only dependency; imported lazily on purpose
        except ImportError as e:
            raise RuntimeError("verify_shares needs wasmtime: pip install -e '.[test]' "
                               "(or run without share verification)") from e

        self._wasmtime = wasmtime
        self._paths = wasm_paths
        self._instances: list[tuple[Any, Any]] | None = None

    def _load(self) -> list[tuple[Any, Any]]:
        if self._instances is None:
            wt = self._wasmtime
            engine = wt.Engine()
            self._instances = []
            for path in self._paths:
                store = wt.Store(engine)
                inst = wt.Instance(store, wt.Module.from_file(engine, path), [])
                self._instances.append((store, inst.exports(store)))
        return self._instances

    def check(self, blob_hex: str, nonce_hex: str, result_hex: str) -> bool:
        blob = bytearray.fromhex(blob_hex)
        blob[NONCE_OFFSET:NONCE_OFFSET + 4] = bytes.fromhex(nonce_hex)
        nonce = int.from_bytes(blob[NONCE_OFFSET:NONCE_OFFSET + 4], "little")
        for store, ex in self._load():
            mem, blob_ptr, out_ptr = ex["memory"], ex["c"](store), ex["d"](store)
            mem.write(store, bytes(blob), blob_ptr)
            ex["a"](store, nonce, 1)
            if bytes(mem.read(store, out_ptr, out_ptr + 32)).hex() == result_hex.lower():
                return True
        return False


class PoolSession:
    """The protocol state of one connection: feed it decoded frames, send back what it returns.

    Pure logic (no I/O), so the same code serves every transport and is easy to test.
    """

    def __init__(self, stats: PoolStats, record: SessionRecord, protocol: str | None,
                 job_counter: Any) -> None:
        self.stats = stats
        self.record = record
        self.protocol = protocol
        self._next_job_id = job_counter
        self.jobs: dict[str, str] = {}  # job_id -> blob hex, to check (and verify) submits
        self.session_id = f"s{id(self) & 0xFFFFFF:06x}"
        self.to_verify: list[tuple[str, str, str]] = []
        if protocol:
            self._start(protocol)

    def _start(self, protocol: str) -> None:
        self.protocol = self.record.protocol = protocol
        self.stats.bump(protocol, "connections")

    def _job(self) -> dict[str, str]:
        n = next(self._next_job_id)
        job_id = f"{n:08x}"
        blob = make_blob(n)
        # Keep the last few jobs only: a slow worker may submit for the previous one.
        self.jobs[job_id] = blob
        while len(self.jobs) > 4:
            self.jobs.pop(next(iter(self.jobs)))
        self.stats.bump(self.protocol or "coinhive", "jobs")
        self.record.jobs += 1
        return {"blob": blob, "job_id": job_id, "target": EASY_TARGET}

    def _junk(self) -> list[Reply]:
        self.stats.add("junk")
        self.record.junk += 1
        return []

    def _share(self, job_id: object, nonce: object, result: object) -> bool:
        """Count a submit; accept it when it names a live job with 8-hex nonce, 64-hex result."""
        assert self.protocol
        self.stats.bump(self.protocol, "submits")
        self.record.submits += 1
        ok = (isinstance(job_id, str) and job_id in self.jobs and _is_hex(nonce, 8)
              and _is_hex(result, 64))
        self.stats.bump(self.protocol, "accepted" if ok else "rejected")
        if ok:
            self.record.accepted += 1
            self.to_verify.append((self.jobs[job_id], nonce, result))  # type: ignore[index]
        return ok

    def _maybe_new_job(self) -> bool:
        return self.record.accepted > 0 and self.record.accepted % NEW_JOB_EVERY == 0

    def handle(self, msg: object) -> list[Reply]:
        if self.protocol is None:
            protocol = detect_protocol(msg)
            if protocol is None:
                return self._junk()
            self._start(protocol)
        if not isinstance(msg, dict):
            return self._junk()
        return getattr(self, f"_on_{self.protocol}")(msg)

    # --- CoinHive-style ---------------------------------------------------------------------
    def _on_coinhive(self, msg: dict[str, Any]) -> list[Reply]:
        params = msg.get("params") if isinstance(msg.get("params"), dict) else {}
        kind = msg.get("type")
        if kind == "auth":
            self.stats.bump("coinhive", "logins")
            self.record.login = str(params.get("site_key"))[:100]
            return [{"type": "authed", "params": {"token": "", "hashes": 0}},
                    {"type": "job", "params": self._job()}]
        if kind == "submit":
            if not self._share(params.get("job_id"), params.get("nonce"), params.get("result")):
                return [{"type": "error", "params": {"error": "invalid_job_id or malformed share"}}]
            out: list[Reply] = [{"type": "hash_accepted", "params": {"hashes": self.record.accepted * 256}}]
            if self._maybe_new_job():
                out.append({"type": "job", "params": self._job()})
            return out
        return self._junk()

    # --- Monero stratum (JSON-RPC) ----------------------------------------------------------
    def _on_stratum(self, msg: dict[str, Any]) -> list[Reply]:
        rpc_id = msg.get("id")
        params = msg.get("params") if isinstance(msg.get("params"), dict) else {}
        method = msg.get("method")

        def result(value: Any, error: Any = None) -> Reply:
            return {"id": rpc_id, "jsonrpc": "2.0", "error": error, "result": value}

        if method == "login":
            self.stats.bump("stratum", "logins")
            self.record.login = str(params.get("login"))[:120]
            job = {**self._job(), "id": self.session_id}
            return [result({"id": self.session_id, "job": job, "status": "OK"})]
        if method == "getjob":
            return [result({**self._job(), "id": self.session_id})]
        if method == "submit":
            if not self._share(params.get("job_id"), params.get("nonce"), params.get("result")):
                return [result(None, {"code": -1, "message": "Invalid job id or malformed share"})]
            out = [result({"status": "OK"})]
            if self._maybe_new_job():
                out.append({"jsonrpc": "2.0", "method": "job",
                            "params": {**self._job(), "id": self.session_id}})
            return out
        if method == "keepalived":
            self.stats.bump("stratum", "keepalives")
            return [result({"status": "KEEPALIVED"})]
        return self._junk()

    # --- webminerpool-style -----------------------------------------------------------------
    def _on_wmp(self, msg: dict[str, Any]) -> list[Reply]:
        ident = msg.get("identifier")
        if ident == "handshake":
            self.stats.bump("wmp", "logins")
            self.record.login = str(msg.get("login"))[:120]
            return [{"identifier": "job", "algo": "cn", "variant": 1, **self._job()}]
        if ident == "solved":
            if not self._share(msg.get("job_id"), msg.get("nonce"), msg.get("result")):
                return [{"identifier": "error", "param": "malformed share"}]
            out: list[Reply] = [{"identifier": "hashsolved"}]
            if self._maybe_new_job():
                out.append({"identifier": "job", "algo": "cn", "variant": 1, **self._job()})
            return out
        return self._junk()

    # --- Bitcoin-style stratum --------------------------------------------------------------
    def _notify(self) -> Reply:
        job = self._job()
        return {"id": None, "method": "mining.notify",
                "params": [job["job_id"], "00" * 32, job["blob"][:64], job["blob"][64:],
                           [], "20000000", "1d00ffff", f"{int(time.time()):08x}", True]}

    def _on_btc(self, msg: dict[str, Any]) -> list[Reply]:
        rpc_id, method = msg.get("id"), msg.get("method")
        params = msg.get("params") if isinstance(msg.get("params"), list) else []
        if method == "mining.subscribe":
            return [{"id": rpc_id, "error": None,
                     "result": [[["mining.set_difficulty", self.session_id],
                                 ["mining.notify", self.session_id]], "08000002", 4]}]
        if method == "mining.authorize":
            self.stats.bump("btc", "logins")
            self.record.login = str(params[0])[:120] if params else None
            return [{"id": rpc_id, "error": None, "result": True},
                    {"id": None, "method": "mining.set_difficulty", "params": [0.0001]},
                    self._notify()]
        if method == "mining.submit":
            self.stats.bump("btc", "submits")
            self.record.submits += 1
            ok = len(params) >= 5 and params[1] in self.jobs and _is_hex(params[4], 8)
            self.stats.bump("btc", "accepted" if ok else "rejected")
            if ok:
                self.record.accepted += 1
            out: list[Reply] = [{"id": rpc_id, "error": None if ok else [23, "Invalid share", None],
                                 "result": ok}]
            if ok and self._maybe_new_job():
                out.append(self._notify())
            return out
        return self._junk()


def decode_frame(frame: str | bytes) -> object | None:
    """JSON from a text frame; None for binary or malformed frames (both count as junk)."""
    if isinstance(frame, bytes):
        return None
    try:
        return json.loads(frame)
    except (ValueError, RecursionError):
        return None


def path_protocol(path: str) -> str | None:
    """`/pool/<protocol>` fixes the protocol; any other path is detected by the first frame."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    if len(parts) == 2 and parts[0] == "pool" and parts[1] in PROTOCOLS:
        return parts[1]
    return None
