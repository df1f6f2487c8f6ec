"""Recognise a mining pool's job / share cycle on one connection by its shape, not its names.

webscan/net/protocol.py knows the messages of four pool protocols by their keys. A pool the
rule set has never seen still has to do the same thing: hand out work and take results. So,
whatever the fields are called and however the frames are wrapped (plain JSON, line-delimited
JSON, socket.io `42["event", {...}]`, or binary):

  a JOB comes in: a blob or header (hex of 32+ bytes, or a binary frame with a hash-like run
    of 32 bytes) that the client never sent, next to a target or difficulty (a short hex value
    or a number);
  a SHARE goes out: a fresh hash-sized result (64 hex chars, or a hash-like 32-byte run in a
    binary frame) that the server never sends back, a nonce-sized field (8 or 16 hex chars) and
    a value echoed from a job (its id), so it answers that job;
  and the cycle repeats: two or more shares with different results.

Each condition alone is common (chats carry hex ids, uploads send checksums); the echo and
freshness checks are what keep a chat that reflects its message ids from looking like a pool.
Pure functions over recorded frames, so the tests feed them recorded sequences.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

MAX_FRAMES = 5000  # per connection
MAX_LEAVES = 64  # values looked at per message
MAX_DEPTH = 6
MIN_SHARES = 2
RECENT_JOBS = 8  # a share may answer any of the last few jobs (a slow worker, a stale job)
HASH_HEX = 64
NONCE_HEX = (8, 16)
TARGET_HEX = range(4, 17)
HASH_BYTES = 32
MIN_DISTINCT_IN_HASH = 20  # of 32 random bytes about 30 are distinct; counters, text, floats fewer
MAX_SHARE_BYTES = 256
MAX_SAME_IN_HASHES = 8  # two hashes agree in about 32/256 positions; a token in all 32

_HEX = re.compile(r"[0-9a-fA-F]+")
_SOCKETIO = re.compile(r"^(\d+)(?=[\[{])")


@dataclass(frozen=True)
class Frame:
    """One WebSocket (or long-poll) message as recorded: text as text, binary as bytes."""

    direction: str  # sent | received
    data: str | bytes
    ts: float = 0.0


@dataclass
class JobShareCycle:
    """A recognised cycle: how many jobs and shares, the framing, and what made them so."""

    jobs: int
    shares: int
    framing: str  # json | socket.io | binary
    first_job_ts: float
    last_share_ts: float
    job_example: str
    share_example: str
    fields: list[str] = field(default_factory=list)  # where the blob, nonce and result sat

    def describe(self) -> str:
        return (f"{self.jobs} job(s) in and {self.shares} share(s) out ({self.framing} framing; "
                + "; ".join(self.fields) + ")")


# --- reading values out of frames ----------------------------------------------------------


def _leaves(obj: object) -> Iterator[tuple[str, object]]:
    """(path, value) of the scalar values of a decoded message, bounded in depth and count."""
    stack: list[tuple[str, object, int]] = [("$", obj, 0)]
    n = 0
    while stack and n < MAX_LEAVES:
        path, node, depth = stack.pop()
        if isinstance(node, dict):
            if depth < MAX_DEPTH:
                stack.extend((f"{path}.{k}", v, depth + 1) for k, v in reversed(list(node.items())[:MAX_LEAVES]))
        elif isinstance(node, list):
            if depth < MAX_DEPTH:
                stack.extend((f"{path}[{i}]", v, depth + 1) for i, v in reversed(list(enumerate(node[:MAX_LEAVES]))))
        elif isinstance(node, (str, int, float)) and not isinstance(node, bool):
            n += 1
            yield path, node


def decode_text(text: str) -> tuple[str, list[object]]:
    """(framing, JSON values) of a text frame: plain JSON, socket.io `42[...]`, or one value per
    line (stratum); no values when it carries no JSON."""
    t = text.strip()
    if not t or t[0] not in "[{0123456789":
        return "json", []
    m = _SOCKETIO.match(t)
    framing = "socket.io" if m else "json"
    if m:
        t = t[m.end():]
    try:
        return framing, [json.loads(t)]
    except ValueError:
        pass
    out: list[object] = []
    for line in t.splitlines()[:64]:
        line = line.strip()
        if line[:1] in ("{", "["):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return framing, out


def _is_hex(v: object) -> bool:
    return isinstance(v, str) and bool(_HEX.fullmatch(v))


def _hash_like(window: bytes) -> bool:
    return len(set(window)) >= MIN_DISTINCT_IN_HASH


@dataclass
class _Msg:
    direction: str
    ts: float
    framing: str
    raw: str | bytes
    leaves: list[tuple[str, object]]


def _messages(frames: Iterable[Frame]) -> list[_Msg]:
    out: list[_Msg] = []
    for i, f in enumerate(frames):
        if i >= MAX_FRAMES:
            break
        if isinstance(f.data, bytes):
            out.append(_Msg(f.direction, f.ts, "binary", f.data, []))
            continue
        framing, values = decode_text(f.data)
        leaves = [leaf for v in values for leaf in _leaves(v)]
        if leaves:
            out.append(_Msg(f.direction, f.ts, framing, f.data, leaves))
    return out


def _excerpt(raw: str | bytes, limit: int = 160) -> str:
    if isinstance(raw, bytes):
        return f"[binary {len(raw)} bytes] {raw[:48].hex()}"
    return raw if len(raw) <= limit else raw[: limit - 1] + "\u2026"


# --- JSON and socket.io ------------------------------------------------------------------------


def _json_cycle(msgs: list[_Msg]) -> JobShareCycle | None:
    sent_values = set()
    received_values = set()
    for m in msgs:
        values = {str(v).lower() for _, v in m.leaves}
        (sent_values if m.direction == "sent" else received_values).update(values)
    jobs: list[tuple[_Msg, str, set[str]]] = []  # message, blob path, echoable values
    shares: list[tuple[_Msg, str, str, str]] = []  # message, hash value, nonce path, hash path
    job_count = 0
    first_job_ts = 0.0
    sent_so_far: set[str] = set()
    for m in msgs:
        if m.direction == "received":
            blob = next(((p, v) for p, v in m.leaves if _is_hex(v) and len(v) >= HASH_HEX  # type: ignore[arg-type]
                         and v.lower() not in sent_so_far), None)  # type: ignore[union-attr]
            if blob is None:
                continue
            target = any((_is_hex(v) and len(v) in TARGET_HEX) or isinstance(v, (int, float))  # type: ignore[arg-type]
                         for p, v in m.leaves if p != blob[0])
            if not target:
                continue
            echoable = {str(v).lower() for p, v in m.leaves if p != blob[0] and len(str(v)) >= 2}
            jobs.append((m, blob[0], echoable))
            jobs = jobs[-RECENT_JOBS:]
            first_job_ts = m.ts if job_count == 0 else first_job_ts
            job_count += 1
            continue
        values = {str(v).lower() for _, v in m.leaves}
        if jobs:
            share = _json_share(m, jobs, received_values)
            if share is not None:
                shares.append(share)
        sent_so_far |= values
    if job_count == 0 or len(shares) < MIN_SHARES:
        return None
    if len({h for _, h, _, _ in shares}) < MIN_SHARES:
        return None  # the same "result" every time is an id, not work
    share_msg, _, nonce_path, hash_path = shares[-1]
    return JobShareCycle(
        jobs=job_count, shares=len(shares), framing=share_msg.framing, first_job_ts=first_job_ts,
        last_share_ts=share_msg.ts, job_example=_excerpt(jobs[-1][0].raw),
        share_example=_excerpt(share_msg.raw),
        fields=[f"blob at {jobs[-1][1]}", f"nonce at {nonce_path}", f"result at {hash_path}"])


def _json_share(m: _Msg, jobs: list[tuple[_Msg, str, set[str]]], received_values: set[str]
                ) -> tuple[_Msg, str, str, str] | None:
    result = next(((p, v.lower()) for p, v in m.leaves  # type: ignore[union-attr]
                   if _is_hex(v) and len(v) == HASH_HEX  # type: ignore[arg-type]
                   and v.lower() not in received_values), None)  # type: ignore[union-attr]
    if result is None:
        return None
    echoable = set().union(*(e for _, _, e in jobs))
    nonce = next((p for p, v in m.leaves if p != result[0] and _is_hex(v)
                  and len(v) in NONCE_HEX and v.lower() not in echoable), None)  # type: ignore[arg-type,union-attr]
    if nonce is None:
        return None
    echoes = any(p not in (result[0], nonce) and str(v).lower() in echoable for p, v in m.leaves)
    if not echoes:
        return None
    return m, result[1], nonce, result[0]


# --- binary ------------------------------------------------------------------------------------


def _hash_windows(data: bytes) -> Iterator[tuple[int, bytes]]:
    for i in range(0, len(data) - HASH_BYTES + 1):
        w = data[i:i + HASH_BYTES]
        if _hash_like(w):
            yield i, w


def _echoes(outside: bytes, jobs: list[_Msg]) -> bool:
    """Does a part of a share beside its result repeat 4 bytes (not one byte value four
    times) of a recent job: its id, or part of its header?"""
    for i in range(len(outside) - 3):
        part = outside[i:i + 4]
        if len(set(part)) >= 2 and any(part in j.raw for j in jobs):  # type: ignore[operator]
            return True
    return False


def _binary_cycle(msgs: list[_Msg]) -> JobShareCycle | None:
    received = [m.raw for m in msgs if m.direction == "received" and isinstance(m.raw, bytes)]
    jobs: list[_Msg] = []
    job_count = 0
    first_job_ts = 0.0
    sent_so_far: list[bytes] = []
    shares: list[tuple[_Msg, set[int]]] = []  # a share-like frame and where its result may sit
    for m in msgs:
        raw = m.raw
        if not isinstance(raw, bytes):
            continue
        if m.direction == "received":
            if len(raw) >= HASH_BYTES + 4 and any(True for _ in _hash_windows(raw)) \
                    and not any(raw in s for s in sent_so_far):
                jobs = (jobs + [m])[-RECENT_JOBS:]
                first_job_ts = m.ts if job_count == 0 else first_job_ts
                job_count += 1
            continue
        sent_so_far.append(raw)
        if not jobs or not (HASH_BYTES + 4 <= len(raw) <= MAX_SHARE_BYTES):
            continue
        at = {i for i, w in _hash_windows(raw)  # fresh, with a job value echoed beside it
              if not any(w in r for r in received)
              and (_echoes(raw[:i], jobs) or _echoes(raw[i + HASH_BYTES:], jobs))}
        if at:
            shares.append((m, at))
    if job_count == 0 or len(shares) < MIN_SHARES:
        return None
    # The result: one offset where every share has a hash-like run that changes almost wholly
    # from one share to the next (a constant token beside a counter does not).
    for offset in sorted(shares[-1][1], reverse=True):
        runs = [(m, m.raw[offset:offset + HASH_BYTES]) for m, at in shares if offset in at]
        changed = [sum(a != b for a, b in zip(x, y)) >= HASH_BYTES - MAX_SAME_IN_HASHES
                   for (_, x), (_, y) in zip(runs, runs[1:])]
        if len(runs) >= MIN_SHARES and all(changed):
            last = runs[-1][0]
            return JobShareCycle(
                jobs=job_count, shares=len(runs), framing="binary", first_job_ts=first_job_ts,
                last_share_ts=last.ts, job_example=_excerpt(jobs[-1].raw),
                share_example=_excerpt(last.raw),
                fields=[f"job of {len(jobs[-1].raw)} bytes", f"share of {len(last.raw)} bytes",
                        f"result at byte {offset}, a job value echoed"])
    return None


def find_cycle(frames: Iterable[Frame]) -> JobShareCycle | None:
    """The job/share cycle on one connection's frames (in order), or None."""
    msgs = _messages(frames)
    return _json_cycle(msgs) or _binary_cycle(msgs)
