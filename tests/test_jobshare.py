"""The shape-based job/share recogniser (webscan/net/jobshare.py) on recorded frame sequences.

Positive sequences are recorded from the fixture pool's own sessions (site_fixtures/server/pool.py)
driven by a client that really computes SHA-256d shares, so every share in them was accepted;
negatives are chats, uploads and game sync that carry hex and binary in both directions.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from site_fixtures.server.pool import (HEADER_TARGET, PoolSession, PoolStats,  # noqa: E402
                                       SessionRecord)
from webscan.net.jobshare import Frame, find_cycle  # noqa: E402


def _solve(header: bytes, target: int, start: int = 0) -> tuple[int, bytes]:
    for nonce in itertools.count(start):
        digest = hashlib.sha256(hashlib.sha256(header[:76] + struct.pack("<I", nonce)).digest()).digest()
        if int.from_bytes(digest[28:32], "little") <= target:
            return nonce, digest
    raise AssertionError("unreachable")


def _session(protocol: str) -> tuple[PoolSession, PoolStats]:
    stats = PoolStats()
    return PoolSession(stats, SessionRecord(None, "/", None), None, itertools.count(1)), stats


def _exchange(session: PoolSession, frames: list[Frame], data: str | bytes) -> list[str | bytes]:
    frames.append(Frame("sent", data, len(frames) * 0.1))
    replies = session.handle_frame(data)
    frames.extend(Frame("received", r, len(frames) * 0.1) for r in replies)
    return replies


def record_binary(shares: int = 3) -> tuple[list[Frame], PoolStats]:
    session, stats = _session("bin")
    frames: list[Frame] = []
    login = b"someone"
    job = _exchange(session, frames, b"\x10" + bytes([len(login)]) + login)[0]
    nonce = 0
    for _ in range(shares):
        assert isinstance(job, bytes) and job[0] == 0x21
        job_id, target = struct.unpack("<II", job[1:9])
        nonce, digest = _solve(job[9:89], target, nonce)
        replies = _exchange(session, frames, b"\x32" + job[1:5] + struct.pack("<I", nonce) + digest)
        job = next((r for r in replies if isinstance(r, bytes) and r[0] == 0x21), job)
        nonce += 1
    return frames, stats


def record_socketio(shares: int = 3) -> tuple[list[Frame], PoolStats]:
    session, stats = _session("sio")
    frames: list[Frame] = []
    _exchange(session, frames, "40")
    work = _exchange(session, frames, '42["hello",{"user":"someone","agent":"x/1"}]')[0]
    nonce = 0
    for _ in range(shares):
        event = json.loads(str(work)[2:])[1]
        target = int.from_bytes(bytes.fromhex(event["tgt"]), "little")
        nonce, digest = _solve(bytes.fromhex(event["hdr"]), target, nonce)
        proof = {"seq": event["seq"], "n": struct.pack("<I", nonce).hex(), "h": digest.hex()}
        replies = _exchange(session, frames, "42" + json.dumps(["proof", proof]))
        work = next((r for r in replies if str(r).startswith('42["work"')), work)
        nonce += 1
    return frames, stats


def test_binary_pool_session_is_a_cycle():
    frames, stats = record_binary()
    assert stats.snapshot()["bin"]["accepted"] == 3  # the recording is a real, accepted session
    cycle = find_cycle(frames)
    assert cycle is not None and cycle.framing == "binary"
    assert cycle.shares == 3 and cycle.jobs >= 1
    assert "result at byte 9" in cycle.describe()


def test_socketio_pool_session_is_a_cycle():
    frames, stats = record_socketio()
    assert stats.snapshot()["sio"]["accepted"] == 3
    cycle = find_cycle(frames)
    assert cycle is not None and cycle.framing == "socket.io" and cycle.shares == 3
    assert "$[1].n" in cycle.describe() and "$[1].h" in cycle.describe()


def renamed_json_frames() -> list[Frame]:
    blob = hashlib.sha256(b"job").hexdigest() * 2 + "00000000"
    frames = [Frame("sent", '{"cmd":"hi","who":"w1"}'),
              Frame("received", json.dumps({"cmd": "w", "data": {"header": blob, "diff": 5000, "wid": "q7"}}) + "\n")]
    for i in range(3):
        frames.append(Frame("sent", json.dumps({"cmd": "r", "wid": "q7", "nonceHex": f"{i * 977:08x}",
                                                "digest": hashlib.sha256(bytes([i])).hexdigest()})))
        frames.append(Frame("received", '{"cmd":"good"}\n{"cmd":"stats","n":%d}' % (i + 1)))
    return frames


def test_renamed_json_fields_and_line_delimited_frames():
    cycle = find_cycle(renamed_json_frames())
    assert cycle is not None and cycle.shares == 3 and cycle.framing == "json"


def test_known_protocols_are_cycles_too():
    """A CoinHive-style session (recorded from the fixture pool) has the same shape."""
    session, _ = _session("coinhive")
    frames: list[Frame] = []
    _exchange(session, frames, json.dumps({"type": "auth", "params": {"site_key": "k" * 32, "type": "anonymous", "user": None}}))
    job = next(json.loads(r)["params"] for r in map(str, frames_received(frames)) if '"job"' in r)
    for i in range(2):
        _exchange(session, frames, json.dumps({"type": "submit", "params": {
            "job_id": job["job_id"], "nonce": f"{i * 4099 + 17:08x}", "result": hashlib.sha256(bytes([i])).hexdigest()}}))
    assert find_cycle(frames) is not None


def frames_received(frames: list[Frame]) -> list[str | bytes]:
    return [f.data for f in frames if f.direction == "received"]


def chat_echo_frames() -> list[Frame]:
    """Messages out with a 64-hex id and a 16-hex nonce, messages in with fresh 64-hex ids,
    timestamps and short hex: every part of the shape but the echo of the ids."""
    frames = [Frame("sent", '{"op":"join","room":"general","user":"dana"}'),
              Frame("received", '{"op":"joined","users":3,"room":"general","ts":1765000000,"ver":"0a1b2c3d"}')]
    for i in range(6):
        mid, other = hashlib.sha256(f"m{i}".encode()).hexdigest(), hashlib.sha256(f"o{i}".encode()).hexdigest()
        frames.append(Frame("received", json.dumps({"op": "said", "id": other, "from": "sam", "text": "+1",
                                                    "room": "general", "ts": 1765000000 + i, "ver": "0a1b2c3d"})))
        frames.append(Frame("sent", json.dumps({"op": "say", "room": "general", "id": mid,
                                                "nonce": f"{i:016x}", "text": "hello"})))
        frames.append(Frame("received", json.dumps({"op": "said", "id": mid, "from": "dana", "text": "hello",
                                                    "room": "general", "ts": 1765000000 + i, "ver": "0a1b2c3d"})))
    return frames


def chat_without_echo(frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if not (f.direction == "received" and '"from": "dana"' in str(f.data))]


def test_chat_that_echoes_hex_ids_is_not_a_cycle():
    frames = chat_echo_frames()
    assert find_cycle(frames) is None
    # the control: without the echo the same traffic IS shaped like a pool, so the echo decides
    assert find_cycle(chat_without_echo(frames)) is not None


def upload_frames() -> list[Frame]:
    upload = [Frame("received", '{"upload":"u1","next":0}')]
    for i in range(5):
        upload.append(Frame("sent", json.dumps({"upload": "u1", "chunk": i, "sha256": hashlib.sha256(bytes([i])).hexdigest()})))
        upload.append(Frame("received", json.dumps({"upload": "u1", "next": i + 1})))
    return upload


def plain_chat_frames() -> list[Frame]:
    return [Frame("sent", '42["message",{"text":"hi"}]'), Frame("received", '42["message",{"from":"bot","text":"hi"}]')] * 5


def test_upload_checksums_and_plain_chat_are_not_cycles():
    assert find_cycle(upload_frames()) is None
    assert find_cycle(plain_chat_frames()) is None


def test_binary_game_sync_is_not_a_cycle():
    """Server state of floats in, client input with a constant 32-byte session token out."""
    token = hashlib.sha256(b"session").digest()
    frames = []
    for i in range(8):
        state = b"\x01" + struct.pack("<I", i) + b"".join(struct.pack("<f", (i * 7 + k) * 0.37) for k in range(48))
        frames.append(Frame("received", state))
        frames.append(Frame("sent", b"\x02" + struct.pack("<I", i) + token + struct.pack("<ff", i * 0.5, 1.0)))
    assert find_cycle(frames) is None


def test_one_share_or_a_repeated_result_is_not_a_cycle():
    frames, _ = record_binary(shares=1)
    assert find_cycle(frames) is None
    frames, _ = record_binary(shares=3)
    shares = [f for f in frames if f.direction == "sent" and f.data[:1] == b"\x32"]
    same = [f if f.direction != "sent" or f.data[:1] != b"\x32" else Frame("sent", shares[0].data, f.ts)
            for f in frames]
    assert find_cycle(same) is None
    assert HEADER_TARGET < 1 << 32
