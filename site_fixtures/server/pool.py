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
Two protocols no signature names, for the shape-based job/share recogniser (SHA-256d over an
80-byte header, nonce little-endian at offset 76; every share is re-hashed with hashlib):
  bin       binary frames: hello 0x10|len|login -> job 0x21|job id u32|target u32|header[80];
            share 0x32|job id|nonce u32|hash[32] -> ack 0x40|accepted u32
  sio       socket.io-style text: "40" -> "40{sid}"; 42["hello",{user,agent}] ->
            42["work",{seq,hdr,tgt}]; 42["proof",{seq,n,h}] -> 42["ok",{n}]; "2" -> "3"
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

PROTOCOLS = ("coinhive", "stratum", "wmp", "btc", "bin", "sio")
# "ffffff7f" read little-endian is 0x7fffffff: about one hash in two meets it, so a miner doing
# a few hashes a second submits within seconds.
EASY_TARGET = "ffffff7f"
BLOB_BYTES = 76
HEADER_BYTES = 80  # the SHA-256d protocols (bin, sio): nonce u32 little-endian at the end
HEADER_TARGET = 0x0003FFFF  # last 4 hash bytes (LE) at most this: about one hash in 16384
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


def make_header(counter: int) -> bytes:
    """A deterministic Bitcoin-like 80-byte header (version, previous hash, merkle root, time,
    bits), nonce zeroed."""
    prev = hashlib.sha256(f"webscan-fixture-prev-{counter}".encode()).digest()
    merkle = hashlib.sha256(f"webscan-fixture-merkle-{counter}".encode()).digest()
    return (b"\x00\x00\x00\x20" + prev + merkle + (1_765_000_000 + counter).to_bytes(4, "little")
            + bytes.fromhex("ffff001d") + b"\x00\x00\x00\x00")


def sha256d_share_ok(header: bytes, nonce: int, digest: bytes) -> bool:
    """Does `digest` = SHA-256d(header with `nonce`) and meet HEADER_TARGET?"""
    full = header[:76] + nonce.to_bytes(4, "little")
    real = hashlib.sha256(hashlib.sha256(full).digest()).digest()
    return real == digest and int.from_bytes(real[28:32], "little") <= HEADER_TARGET


def detect_raw(frame: str | bytes) -> str | None:
    """The protocols recognised before JSON decoding: binary hello, socket.io-style framing."""
    if isinstance(frame, bytes):
        return "bin" if frame[:1] == b"\x10" else None
    if frame == "40" or frame.startswith('42["hello"'):
        return "sio"
    return None


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

    def handle_frame(self, frame: str | bytes) -> list[str | bytes]:
        """One raw frame in, raw frames out: the binary and socket.io protocols are read raw,
        the JSON ones go through handle()."""
        if self.protocol is None and detect_raw(frame):
            self._start(detect_raw(frame) or "")
        if self.protocol == "bin":
            return self._on_bin(frame) if isinstance(frame, bytes) else self._junk()  # type: ignore[return-value]
        if self.protocol == "sio":
            return self._on_sio(frame) if isinstance(frame, str) else self._junk()  # type: ignore[return-value]
        msg = decode_frame(frame)
        return [json.dumps(r) for r in (self._junk() if msg is None else self.handle(msg))]

    def _header_job(self) -> tuple[int, bytes]:
        n = next(self._next_job_id)
        header = make_header(n)
        self.jobs[f"{n:08x}"] = header.hex()
        while len(self.jobs) > 4:
            self.jobs.pop(next(iter(self.jobs)))
        assert self.protocol
        self.stats.bump(self.protocol, "jobs")
        self.record.jobs += 1
        return n, header

    def _header_share(self, job_id: int, nonce: int, digest: bytes) -> bool:
        """Count a SHA-256d share; every one is re-hashed (hashlib is cheap), so accepted ones
        are verified too."""
        assert self.protocol
        self.stats.bump(self.protocol, "submits")
        self.record.submits += 1
        header = self.jobs.get(f"{job_id:08x}") if job_id >= 0 else None
        ok = header is not None and sha256d_share_ok(bytes.fromhex(header), nonce, digest)
        self.stats.bump(self.protocol, "accepted" if ok else "rejected")
        if ok:
            self.record.accepted += 1
            self.record.verified += 1
            self.stats.bump(self.protocol, "verified")
        return ok

    # --- binary ------------------------------------------------------------------------------
    def _bin_job(self) -> bytes:
        n, header = self._header_job()
        return b"\x21" + n.to_bytes(4, "little") + HEADER_TARGET.to_bytes(4, "little") + header

    def _on_bin(self, frame: bytes) -> list[str | bytes]:
        if frame[:1] == b"\x10" and len(frame) >= 2:
            self.stats.bump("bin", "logins")
            self.record.login = frame[2:2 + frame[1]].decode("ascii", "replace")[:120]
            return [self._bin_job()]
        if frame[:1] == b"\x32" and len(frame) == 41:
            ok = self._header_share(int.from_bytes(frame[1:5], "little"),
                                    int.from_bytes(frame[5:9], "little"), frame[9:41])
            out: list[str | bytes] = [b"\x40" + self.record.accepted.to_bytes(4, "little")] if ok else [b"\x4f"]
            if ok and self._maybe_new_job():
                out.append(self._bin_job())
            return out
        return self._junk()  # type: ignore[return-value]

    # --- socket.io-style ---------------------------------------------------------------------
    def _sio_job(self) -> str:
        n, header = self._header_job()
        work = {"seq": f"{n:08x}", "hdr": header.hex(), "tgt": HEADER_TARGET.to_bytes(4, "little").hex()}
        return "42" + json.dumps(["work", work])

    def _on_sio(self, frame: str) -> list[str | bytes]:
        if frame == "40":
            return ["40" + json.dumps({"sid": self.session_id})]
        if frame == "2":
            return ["3"]
        try:
            event = json.loads(frame[2:]) if frame.startswith("42") else None
        except ValueError:
            event = None
        if not (isinstance(event, list) and len(event) == 2 and isinstance(event[1], dict)):
            return self._junk()  # type: ignore[return-value]
        name, data = event
        if name == "hello":
            self.stats.bump("sio", "logins")
            self.record.login = str(data.get("user"))[:120]
            return [self._sio_job()]
        if name == "proof":
            seq, nonce, digest = data.get("seq"), data.get("n"), data.get("h")
            if _is_hex(seq, 8) and _is_hex(nonce, 8) and _is_hex(digest, 64):
                ok = self._header_share(int(seq, 16), int.from_bytes(bytes.fromhex(nonce), "little"),
                                        bytes.fromhex(digest))
            else:
                ok = self._header_share(-1, 0, b"")  # counted, and rejected (no such job)
            out: list[str | bytes] = ["42" + json.dumps(["ok" if ok else "nope", {"n": self.record.accepted}])]
            if ok and self._maybe_new_job():
                out.append(self._sio_job())
            return out
        return self._junk()  # type: ignore[return-value]

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
