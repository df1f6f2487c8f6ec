"""The fixture server (site_fixtures/server) without a browser: pages over HTTP, the stub pool
spoken by a Python WebSocket client, its limits, its loopback-only binding, and the static
intent of each page checked with the real scanner."""

from __future__ import annotations

import http.client
import json
import re
import socket
import sys
import time
from pathlib import Path

import pytest
import wasmtime

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `site_fixtures` is a top-level folder, not an installed package
    sys.path.insert(0, str(ROOT))

from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from site_fixtures.server import FixtureServer, check_loopback  # noqa: E402
from site_fixtures.server.pages import PAGES, WASM  # noqa: E402
from site_fixtures.server.pool import EASY_TARGET, NEW_JOB_EVERY, make_blob  # noqa: E402

SERVER_DIR = ROOT / "site_fixtures" / "server"
CATALOGUE = json.loads((PAGES / "pages.json").read_text())
TEXT_TYPES = {".html": "text/html", ".js": "text/javascript", ".json": "application/json",
              ".md": "text/markdown"}


@pytest.fixture(scope="module")
def srv():
    with FixtureServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_stats(request):
    if "srv" in request.fixturenames:
        request.getfixturevalue("srv").reset_stats()


def get(srv: FixtureServer, path: str, origin: str = "a") -> tuple[int, dict[str, str], bytes]:
    """A raw GET (http.client sends the path exactly as given, no client-side normalising)."""
    port = srv.ports[0] if origin == "a" else srv.ports[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def talk(ws, msg: object, replies: int) -> list[dict]:
    ws.send(json.dumps(msg))
    return [json.loads(ws.recv(timeout=5)) for _ in range(replies)]


# --- pages over HTTP ----------------------------------------------------------------------


def _served_files() -> list[Path]:
    return sorted(p for p in PAGES.rglob("*") if p.is_file())


@pytest.mark.parametrize("path", _served_files(), ids=lambda p: str(p.relative_to(PAGES)))
def test_every_page_file_is_served_on_both_origins(srv, path):
    url_path = "/" + str(path.relative_to(PAGES))
    for origin in ("a", "b"):
        status, headers, body = get(srv, url_path, origin)
        assert status == 200
        assert headers["content-type"].startswith(TEXT_TYPES[path.suffix])
        assert headers["access-control-allow-origin"] == "*"  # third-party kits fetch their Wasm
        text = body.decode("utf-8")
        assert "{{" not in text, "a URL placeholder was left unfilled"
        if path.suffix == ".html":
            assert text.lstrip().lower().startswith("<!doctype html>")


@pytest.mark.parametrize("url_path", [f"/wasm/{p.name}" for p in sorted(WASM.glob("*.wasm"))]
                         + ["/assets/app-core.wasm", "/assets/fx.dat"])
def test_wasm_is_served_as_application_wasm(srv, url_path):
    status, headers, body = get(srv, url_path)
    assert status == 200 and headers["content-type"] == "application/wasm"
    assert body[:4] == b"\x00asm"


def test_bland_names_serve_the_real_miners(srv):
    assert get(srv, "/assets/app-core.wasm")[2] == (WASM / "worker.wasm").read_bytes()
    assert get(srv, "/assets/fx.dat")[2] == (WASM / "worker-lite.wasm").read_bytes()


def test_placeholders_point_at_the_running_server(srv):
    page = get(srv, "/miner/third-party.html")[2].decode()
    assert f'<script src="{srv.url("/lib/ch-kit.js", origin="b")}">' in page
    assert srv.url("/", origin="b") != srv.url("/")
    frame = get(srv, "/miner/iframe.html")[2].decode()
    assert srv.url("/embed/miner-frame.html", origin="b") in frame
    kit = get(srv, "/lib/ch-kit.js")[2].decode()
    assert f'"{srv.pool_url("coinhive")}"' in kit
    assert f'"{srv.pool_url("wmp")}"' in get(srv, "/lib/wmp.js")[2].decode()


@pytest.mark.parametrize("bad", ["/../pyproject.toml", "/%2e%2e/server/app.py",
                                 "/wasm/../server/app.py", "/wasm/%2e%2e/%2e%2e/pyproject.toml",
                                 "/lib/", "/nope.html", "/wasm/src/pow.c/.."])
def test_nothing_outside_the_fixtures_and_missing_files_are_404(srv, bad):
    status, _, body = get(srv, bad)
    assert status == 404, body[:200]


def test_traps_for_crawler_resilience(srv):
    status, headers, _ = get(srv, "/trap/redirect-loop")
    assert status == 302 and headers["location"] == "/trap/redirect-loop"
    status, headers, _ = get(srv, "/trap/download")
    assert status == 200 and headers["content-disposition"].startswith("attachment")
    status, _, body = get(srv, "/trap/slow?ms=50")
    assert status == 200 and body.startswith(b"/*")
    assert get(srv, "/favicon.ico")[0] == 204


def test_index_and_catalogue(srv):
    status, _, body = get(srv, "/")
    assert status == 200
    listed = {e["path"] for e in srv.pages()}
    for path in listed:
        assert f'href="{path}"'.encode() in body
        assert get(srv, path)[0] == 200
    on_disk = {"/" + str(p.relative_to(PAGES)) for d in ("miner", "benign", "egress")
               for p in (PAGES / d).glob("*.html")}
    assert listed == on_disk
    assert all(e["url"].startswith(srv.url("/")) for e in srv.pages())


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda e: e["path"])
def test_each_page_states_the_verdict_it_must_get(entry):
    text = (PAGES / entry["path"].lstrip("/")).read_text()
    assert f"Crawler verdict: {entry['expect']}" in re.sub(r"\s+", " ", text)
    if entry["login"]:  # the pool session of a miner page can be told apart from the others
        assert sum(e["login"] == entry["login"] for e in CATALOGUE) == 1
        assert any(entry["login"] in p.read_text() for p in PAGES.rglob("*.*"))


LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "", "{{ORIGIN_A}}", "{{ORIGIN_B}}", "{{POOL}}",
               "127.0.0.2", "{{ORIGIN_P}}"}  # origin P: the egress pages' "private" loopback


def test_no_external_urls_anywhere():
    """Pages must never reach beyond loopback: every absolute URL is local or a placeholder."""
    url = re.compile(r"\b(?:https?|wss?)://([^/\s\"'`<>)]+)", re.I)
    offenders = []
    for path in [*PAGES.rglob("*"), *SERVER_DIR.rglob("*.py")]:
        if path.is_file():
            for host in url.findall(path.read_text()):
                if host.startswith("{") and not host.startswith("{{"):
                    continue  # a Python f-string building a URL from the bound host
                host = host.split(":")[0].strip("[]")
                if host not in LOCAL_HOSTS:
                    offenders.append(f"{path.relative_to(ROOT)}: {host}")
    assert offenders == []


# --- the stub pool ------------------------------------------------------------------------


def test_coinhive_session(srv):
    with connect(srv.pool_url("coinhive")) as ws:
        authed, job = talk(ws, {"type": "auth", "params": {"site_key": "SKtest", "type": "anonymous",
                                                           "user": None, "goal": 0}}, 2)
        assert authed == {"type": "authed", "params": {"token": "", "hashes": 0}}
        assert job["type"] == "job" and job["params"]["target"] == EASY_TARGET
        params = job["params"]
        assert len(bytes.fromhex(params["blob"])) == 76
        for i in range(NEW_JOB_EVERY):
            (ack, *more) = talk(ws, {"type": "submit", "params": {
                "job_id": params["job_id"], "nonce": f"{i:08x}", "result": "ab" * 32}},
                2 if i == NEW_JOB_EVERY - 1 else 1)
            assert ack == {"type": "hash_accepted", "params": {"hashes": 256 * (i + 1)}}
        assert more[0]["type"] == "job" and more[0]["params"]["job_id"] != params["job_id"]
        (err,) = talk(ws, {"type": "submit", "params": {"job_id": "nope", "nonce": "00000000",
                                                        "result": "ab" * 32}}, 1)
        assert err["type"] == "error"
    stats = srv.pool_stats()["coinhive"]
    assert stats | {"verified": 0} == {"connections": 1, "logins": 1, "jobs": 2,
                                       "submits": NEW_JOB_EVERY + 1, "accepted": NEW_JOB_EVERY,
                                       "rejected": 1, "verified": 0, "keepalives": 0}
    (session,) = srv.pool_sessions(login="SKtest")
    assert session["protocol"] == "coinhive" and session["accepted"] == NEW_JOB_EVERY


def test_stratum_session(srv):
    with connect(srv.pool_url("stratum")) as ws:
        (login,) = talk(ws, {"id": 1, "jsonrpc": "2.0", "method": "login",
                             "params": {"login": "4wallet", "pass": "x", "agent": "test/1"}}, 1)
        assert login["id"] == 1 and login["error"] is None and login["result"]["status"] == "OK"
        sid, job = login["result"]["id"], login["result"]["job"]
        assert {"blob", "job_id", "target"} <= set(job)
        for i in range(NEW_JOB_EVERY):
            replies = talk(ws, {"id": 2 + i, "jsonrpc": "2.0", "method": "submit", "params": {
                "id": sid, "job_id": job["job_id"], "nonce": f"{i:08x}", "result": "cd" * 32}},
                2 if i == NEW_JOB_EVERY - 1 else 1)
            assert replies[0] == {"id": 2 + i, "jsonrpc": "2.0", "error": None, "result": {"status": "OK"}}
        pushed = replies[1]
        assert pushed["method"] == "job" and {"blob", "job_id", "target"} <= set(pushed["params"])
        (alive,) = talk(ws, {"id": 9, "jsonrpc": "2.0", "method": "keepalived", "params": {"id": sid}}, 1)
        assert alive["result"] == {"status": "KEEPALIVED"}
        (bad,) = talk(ws, {"id": 10, "method": "submit", "params": {"id": sid, "job_id": job["job_id"],
                                                                    "nonce": "xyz", "result": "00"}}, 1)
        assert bad["error"] and bad["result"] is None
    stats = srv.pool_stats()["stratum"]
    assert (stats["logins"], stats["jobs"], stats["submits"], stats["accepted"], stats["rejected"],
            stats["keepalives"]) == (1, 2, NEW_JOB_EVERY + 1, NEW_JOB_EVERY, 1, 1)


def test_webminerpool_session(srv):
    with connect(srv.pool_url("wmp")) as ws:
        (job,) = talk(ws, {"identifier": "handshake", "pool": "pool.internal", "login": "4wallet",
                           "password": "", "userid": "", "version": 7}, 1)
        assert job["identifier"] == "job" and {"blob", "job_id", "target"} <= set(job)
        (ok,) = talk(ws, {"identifier": "solved", "job_id": job["job_id"], "nonce": "0000002a",
                          "result": "ef" * 32}, 1)
        assert ok == {"identifier": "hashsolved"}
    stats = srv.pool_stats()["wmp"]
    assert (stats["connections"], stats["logins"], stats["jobs"], stats["accepted"]) == (1, 1, 1, 1)


def test_bitcoin_style_session(srv):
    with connect(srv.pool_url("btc")) as ws:
        (sub,) = talk(ws, {"id": 1, "method": "mining.subscribe", "params": ["web/1"]}, 1)
        assert sub["result"][0][1][0] == "mining.notify"
        auth, diff, notify = talk(ws, {"id": 2, "method": "mining.authorize", "params": ["w1", "x"]}, 3)
        assert auth == {"id": 2, "error": None, "result": True}
        assert diff["method"] == "mining.set_difficulty" and notify["method"] == "mining.notify"
        job_id = notify["params"][0]
        (ok,) = talk(ws, {"id": 3, "method": "mining.submit",
                          "params": ["w1", job_id, "00000000", notify["params"][7], "1a2b3c4d"]}, 1)
        assert ok["result"] is True
        (bad,) = talk(ws, {"id": 4, "method": "mining.submit", "params": ["w1", "stale"]}, 1)
        assert bad["result"] is False and bad["error"]
    stats = srv.pool_stats()["btc"]
    counts = (stats["logins"], stats["jobs"], stats["submits"], stats["accepted"], stats["rejected"])
    assert counts == (1, 1, 2, 1, 1)


@pytest.mark.parametrize("path, first, protocol", [
    ("/pool", {"type": "auth", "params": {"site_key": "k", "type": "anonymous", "user": None}}, "coinhive"),
    ("/proxy0", {"id": 1, "method": "login", "params": {"login": "w", "pass": "x", "agent": "a"}}, "stratum"),
    ("/ws", {"identifier": "handshake", "pool": "p", "login": "w", "password": ""}, "wmp"),
    ("/", {"id": 1, "method": "mining.subscribe", "params": []}, "btc"),
])
def test_protocol_detected_by_first_message_on_other_paths(srv, path, first, protocol):
    pool = srv.pool_url("x").rsplit("/pool/", 1)[0]
    with connect(pool + path) as ws:
        assert talk(ws, first, 1)
    assert srv.pool_stats()[protocol]["connections"] == 1
    assert srv.pool_stats()["total"]["connections"] == 1


def test_pool_is_reachable_on_the_page_origins_too(srv):
    """Self-hosted miners talk to a 'first-party proxy' on their own origin."""
    same_origin = srv.url("/pool/stratum").replace("http://", "ws://")
    with connect(same_origin, origin=srv.url("").rstrip("/")) as ws:
        talk(ws, {"id": 1, "method": "login", "params": {"login": "w", "pass": "x", "agent": "a"}}, 1)
    (session,) = srv.pool_sessions()
    assert session["origin"] == srv.url("").rstrip("/") and session["protocol"] == "stratum"


def test_chat_is_not_a_pool(srv):
    with connect(srv.chat_url()) as ws:
        (welcome,) = talk(ws, {"type": "auth", "params": {"token": "t", "name": "ann"}}, 1)
        assert welcome["type"] == "welcome"
        mine, bot = talk(ws, {"type": "message", "params": {"text": "hi"}}, 2)
        assert mine["params"] == {"from": "ann", "text": "hi"} and bot["params"]["from"] == "bot"
    stats = srv.pool_stats()
    assert stats["chat"] == {"connections": 1, "messages": 2}
    assert stats["total"]["connections"] == 0 and srv.pool_sessions() == []


def test_real_share_is_verified_with_the_wasm_miner():
    """A real hash counts as verified and a well-formed fake does not. The server checks shares
    on one thread in arrival order, so the fake is sent first (on its own connection): once the
    real share, sent after it, is counted, the fake has been judged too."""
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    ex = wasmtime.Instance(store, wasmtime.Module.from_file(engine, str(WASM / "worker.wasm")),
                           []).exports(store)
    auth = {"type": "auth", "params": {"site_key": "", "type": "anonymous", "user": None}}
    with FixtureServer(verify_shares=True) as server, \
            connect(server.pool_url("coinhive")) as real_ws, \
            connect(server.pool_url("coinhive")) as fake_ws:
        _, job = talk(real_ws, auth | {"params": auth["params"] | {"site_key": "real"}}, 2)
        _, fake_job = talk(fake_ws, auth | {"params": auth["params"] | {"site_key": "fake"}}, 2)
        params = job["params"]
        mem = ex["memory"]
        mem.write(store, bytes.fromhex(params["blob"]), ex["c"](store))
        nonce = ex["a"](store, 7, 1)
        result = bytes(mem.read(store, ex["d"](store), ex["d"](store) + 32)).hex()
        nonce_hex = nonce.to_bytes(4, "little").hex()
        talk(fake_ws, {"type": "submit", "params": {"job_id": fake_job["params"]["job_id"],
                                                    "nonce": nonce_hex, "result": "00" * 32}}, 1)
        talk(real_ws, {"type": "submit", "params": {"job_id": params["job_id"], "nonce": nonce_hex,
                                                    "result": result}}, 1)
        deadline = time.monotonic() + 15
        while server.pool_stats()["coinhive"]["verified"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        stats = server.pool_stats()["coinhive"]
        assert (stats["accepted"], stats["verified"]) == (2, 1)
        (real,) = server.pool_sessions(login="real")
        (fake,) = server.pool_sessions(login="fake")
        assert (real["verified"], fake["verified"]) == (1, 0)
    assert params["blob"] == make_blob(1)  # jobs are deterministic per server run


# --- robustness and limits ----------------------------------------------------------------


def test_junk_frames_do_not_break_the_session(srv):
    deep = "[" * 30_000 + "]" * 30_000  # under the 64 KiB frame limit, over Python's recursion limit
    with connect(srv.pool_url("coinhive")) as ws:
        for junk in ["not json", b"\x00\xff binary", "[1,2,3]", "null", '{"type": 5}', deep,
                     "\ud7ff"]:
            ws.send(junk)
        ws.send('{"type":"auth","params":"x"}')  # not junk: a lenient pool answers it
        replies = talk(ws, {"type": "auth", "params": {"site_key": "k", "type": "anonymous",
                                                       "user": None}}, 4)
        assert [r["type"] for r in replies] == ["authed", "job", "authed", "job"]
    assert srv.pool_stats()["junk"] == 7


def test_a_flood_of_junk_closes_only_that_socket(srv):
    with connect(srv.pool_url("stratum")) as ws:
        with pytest.raises(ConnectionClosed):
            for _ in range(500):
                ws.send("garbage")
            ws.recv(timeout=5)
    deadline = time.monotonic() + 5
    while not srv.pool_sessions() or srv.pool_sessions()[0]["closed"] is None:
        assert time.monotonic() < deadline, "the server never closed the junk socket"
        time.sleep(0.02)
    assert 50 < srv.pool_sessions()[0]["junk"] < 500
    with connect(srv.pool_url("stratum")) as ws:
        assert talk(ws, {"id": 1, "method": "login", "params": {"login": "w", "pass": "x", "agent": "a"}}, 1)


def test_oversized_frame_closes_that_socket_and_the_server_lives(srv):
    with connect(srv.pool_url("coinhive"), max_size=None) as ws:
        ws.send(json.dumps({"type": "auth", "params": {"site_key": "x" * 200_000}}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 1009
    deadline = time.monotonic() + 5  # the server's side of the close finishes on its own thread
    while srv.pool_stats()["oversized"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.pool_stats()["oversized"] == 1
    assert get(srv, "/miner/first-party.html")[0] == 200
    with connect(srv.pool_url("coinhive")) as ws:
        assert talk(ws, {"type": "auth", "params": {"site_key": "k", "type": "t", "user": None}}, 2)


def test_raw_garbage_on_the_http_port_does_not_kill_the_server(srv):
    for payload in [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(200),  # a TLS hello
                    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
                    b"GET " + b"A" * 20_000 + b" HTTP/1.1\r\n\r\n", b"\r\n\r\n", b""]:
        with socket.create_connection(("127.0.0.1", srv.ports[0]), timeout=5) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            try:
                s.recv(4096)
            except OSError:
                pass
    assert get(srv, "/")[0] == 200


def test_socket_limit_refuses_politely():
    with FixtureServer(max_sockets=2) as server:
        with connect(server.pool_url("coinhive")), connect(server.pool_url("coinhive")):
            with pytest.raises(InvalidStatus) as refused:
                connect(server.pool_url("coinhive"))
            assert refused.value.response.status_code == 503
        assert server.pool_stats()["refused"] == 1
        for _ in range(50):  # slots are given back when sockets close
            with connect(server.pool_url("coinhive")):
                pass


# --- loopback only ------------------------------------------------------------------------


def test_listens_on_loopback_only(srv):
    assert [host for host, _ in srv.addresses()] == ["127.0.0.1"] * 3 + ["127.0.0.2"]  # + origin P
    others = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    for address in others - {"127.0.0.1"}:
        if address.startswith("127."):
            continue  # 127.0.1.1 and friends are loopback too
        with pytest.raises(OSError):
            socket.create_connection((address, srv.ports[0]), timeout=2).close()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", ""])
def test_refuses_non_loopback_hosts(host):
    with pytest.raises(ValueError, match="loopback"):
        check_loopback(host)
    with pytest.raises(ValueError, match="loopback"):
        FixtureServer(host=host)


def test_cli_refuses_a_public_host():
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "site_fixtures.server", "--host", "0.0.0.0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "loopback" in proc.stderr


def test_cli_prints_its_urls_and_serves():
    import subprocess
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "site_fixtures.server", "--json"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert info["origin_a"].startswith("http://127.0.0.1:") and info["pool"].startswith("ws://127.0.0.1:")
        first = next(p for p in info["pages"] if p["path"] == "/miner/first-party.html")
        with urllib.request.urlopen(first["url"], timeout=10) as resp:
            assert resp.status == 200 and b"CH.Anonymous" in resp.read()
    finally:
        proc.terminate()
        proc.wait(10)


# --- static intent, with the real scanner -------------------------------------------------

# The verdict `webscan scan` gives each file as served (site_fixtures/pages/README.md): the kits,
# the pages and frames that call them, and the stratum worker are miners; every other page and
# worker is clean, among them the miner pages whose miner lives elsewhere (in a frame, in a
# worker), which only the crawler can catch.
STATIC = {
    "/lib/ch-kit.js": "miner", "/lib/wmp.js": "miner", "/lib/sync-worker.js": "miner",
    "/miner/first-party.html": "miner", "/miner/third-party.html": "miner",
    "/miner/throttled.html": "miner", "/miner/delayed.html": "miner",
    "/miner/on-click.html": "miner", "/miner/on-interaction.html": "miner",
    "/miner/webdriver-shy.html": "miner", "/miner/webminerpool.html": "miner",
    "/embed/miner-frame.html": "miner", "/embed/ad-frame.html": "miner",
    "/miner/iframe.html": "clean", "/miner/self-hosted-stratum.html": "clean",
    "/miner/slow-page-ad.html": "clean", "/lib/wmp-worker.js": "clean",
    "/benign/busy-loop.html": "clean", "/benign/wasm-physics.html": "clean",
    "/benign/hash-file.html": "clean", "/benign/chat.html": "clean",
    "/benign/mdn-example.html": "clean", "/lib/physics-worker.js": "clean",
    "/lib/checksum-worker.js": "clean", "/index.html": "clean",
    "/trap/dialogs.html": "clean", "/trap/popups.html": "clean",
    "/trap/never-loads.html": "clean", "/trap/download.html": "clean",
    "/egress/every-route.html": "clean", "/egress/worker.js": "clean",
    "/egress/sw.js": "clean", "/egress/leak.js": "clean",
    # runtime-only miners (SHA-256d, unknown pool protocols) and their benign look-alikes
    "/miner/binary-pool.html": "clean", "/miner/socketio-proxy.html": "clean",
    "/lib/hdr-worker.js": "clean", "/benign/wasm-game.html": "clean",
    "/lib/game-worker.js": "clean", "/benign/wasm-file-hash.html": "clean",
    "/lib/filehash-worker.js": "clean", "/benign/hex-chat.html": "clean",
    "/lib/hdr-miner.js": "clean",
    # miners that hide from crawlers (issue 13) and their look-alikes
    "/miner/shared-worker.html": "clean", "/miner/service-worker.html": "clean",
    "/lib/pool-worker.js": "miner", "/miner/late-start.html": "clean",
    "/miner/focus-only.html": "clean", "/miner/automation-shy.html": "clean",
    "/miner/consent.html": "clean", "/benign/late-game.html": "clean",
    "/benign/consent-game.html": "clean", "/gpu/webgpu-miner.html": "clean",
}


def test_every_served_script_and_page_has_a_static_verdict():
    assert {"/" + p.relative_to(PAGES).as_posix() for p in _served_files()
            if p.suffix in (".html", ".js")} == set(STATIC)


@pytest.mark.parametrize("path", sorted(STATIC))
def test_served_page_gets_its_static_verdict(srv, scanner, path):
    report = scanner.scan_bytes(get(srv, path)[2], path)
    assert report.verdict.value == STATIC[path], report.explanation


@pytest.mark.parametrize("path, expect", [("/assets/app-core.wasm", "miner"), ("/assets/fx.dat", "miner"),
                                          ("/wasm/nbody.wasm", "clean"), ("/wasm/sha3lib.wasm", "clean"),
                                          ("/wasm/blake2b.wasm", "clean")])
def test_served_wasm_keeps_its_static_verdict(srv, scanner, path, expect):
    report = scanner.scan_bytes(get(srv, path)[2], path)
    assert report.verdict.value == expect, report.explanation
