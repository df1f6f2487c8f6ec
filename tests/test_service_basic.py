"""The service's first slice, spoken to over real HTTP on 127.0.0.1 (uvicorn in a thread)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from service_support import TEST_NAMES, LiveServer, resolve_args, sqlite_url
from tests.conftest import FIXTURES
from webscan.service.ratelimit import RateLimits

SMALL_LIMIT = 4096  # a second app with a tiny upload limit, so "oversized" stays cheap to send


@pytest.fixture(scope="module")
def apps(sigs, tmp_path_factory):
    from webscan.service.app import ServiceConfig, create_app

    d = tmp_path_factory.mktemp("db")

    def config(name: str) -> ServiceConfig:
        return ServiceConfig(db_url=sqlite_url(d / name), rate_limits=RateLimits(0, 0, 0, 0),
                             resolver_table=TEST_NAMES)

    small = create_app(sigs=sigs, config=config("small.db"), max_upload_bytes=SMALL_LIMIT)

    def boom() -> None:  # a real route that fails, to exercise the app's catch-all handler
        raise RuntimeError("secret-detail from a bug")

    small.add_api_route("/test-only/boom", boom)
    return create_app(sigs=sigs, config=config("main.db")), small


@pytest.fixture(scope="module")
def base(apps) -> Iterator[str]:
    with LiveServer(apps[0]) as url:
        yield url


@pytest.fixture(scope="module")
def small_base(apps) -> Iterator[str]:
    with LiveServer(apps[1]) as url:
        yield url


@pytest.fixture()
def client(base) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=60) as c:
        yield c


def post_raw(client: httpx.Client, data: bytes, name: str | None = None, **kw) -> httpx.Response:
    params = {"name": name} if name is not None else None
    headers = {"Content-Type": "application/octet-stream", **kw.pop("headers", {})}
    return client.post("/v1/scan", content=data, params=params, headers=headers, **kw)


def test_healthz(client, sigs):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "version": __import__("webscan").__version__,
                        "signatures_version": sigs.version}


def test_scan_miner_raw_body(client, sigs):
    data = (FIXTURES / "js" / "coinhive-style-page.js").read_bytes()
    r = post_raw(client, data, "coinhive-style-page.js")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"] == "miner"
    assert body["findings"]
    assert body["path"] == "coinhive-style-page.js"
    assert body["size"] == len(data)
    assert body["signatures_version"] == sigs.version
    assert body["technique"]


def test_scan_miner_multipart(client):
    data = (FIXTURES / "js" / "coinhive-style-page.js").read_bytes()
    r = client.post("/v1/scan", files={"file": ("page.js", data, "application/javascript")})
    assert r.status_code == 200, r.text
    assert r.json()["verdict"] == "miner"
    assert r.json()["path"] == "page.js"


@pytest.mark.parametrize("fixture", ["js/benign-chat-websocket.js", "js/benign-anti-miner.js",
                                     "html/chat.html"])
def test_scan_benign_is_clean(client, fixture):
    data = (FIXTURES / fixture).read_bytes()
    r = post_raw(client, data, fixture.split("/")[-1])
    assert r.status_code == 200, r.text
    assert r.json()["verdict"] == "clean", r.json()["findings"]


def test_scan_default_name(client):
    r = post_raw(client, b"console.log('hello');\n")
    assert r.status_code == 200
    assert r.json()["path"] == "upload.js"
    assert r.json()["verdict"] == "clean"


def test_scan_empty_body_is_400(client):
    r = post_raw(client, b"", "empty.js")
    assert r.status_code == 400
    assert "empty" in r.json()["detail"]


def test_scan_junk_bytes_is_error_verdict(client):
    junk = bytes(range(256)) * 8
    r = post_raw(client, junk, "junk.js")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"] == "error"
    assert body["error"]


def test_scan_oversized_raw_is_413(small_base):
    with httpx.Client(base_url=small_base, timeout=60) as c:
        ok = post_raw(c, b"var a = 1;\n" * (SMALL_LIMIT // 11), "fits.js")
        assert ok.status_code == 200, ok.text
        r = post_raw(c, b"x" * (SMALL_LIMIT + 1), "big.js")
        assert r.status_code == 413
        assert str(SMALL_LIMIT) in r.json()["detail"]


def test_scan_oversized_chunked_body_is_413(small_base):
    """No Content-Length at all: the limit must hold while the body streams in."""
    def chunks():
        for _ in range(4):
            yield b"y" * 2048

    with httpx.Client(base_url=small_base, timeout=60) as c:
        r = c.post("/v1/scan", content=chunks(),
                   headers={"Content-Type": "application/octet-stream"})
        assert "content-length" not in {k.lower() for k in r.request.headers}
        assert r.status_code == 413


def test_scan_huge_declared_length_is_refused_before_the_body(small_base):
    """A declared Content-Length over the limit is answered at once, without waiting for it."""
    host, port = small_base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b"POST /v1/scan HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream"
                  b"\r\nContent-Length: 1000000000\r\n\r\n" + b"q" * 100)
        reply = s.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413")


def test_unexpected_error_is_json_500_without_traceback(small_base):
    with httpx.Client(base_url=small_base, timeout=60) as c:
        r = c.get("/test-only/boom")
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error; the operator's log has the details"}
    assert "Traceback" not in r.text and "secret-detail" not in r.text


def test_scan_oversized_multipart_is_413(small_base):
    with httpx.Client(base_url=small_base, timeout=60) as c:
        r = c.post("/v1/scan", files={"file": ("big.js", b"w" * (SMALL_LIMIT + 1))})
        assert r.status_code == 413


@pytest.mark.parametrize("headers,content", [
    ({"Content-Type": "multipart/form-data; boundary=XYZ"}, b"this is not multipart at all"),
    ({"Content-Type": "multipart/form-data"}, b"--XYZ\r\n\r\nno boundary declared\r\n--XYZ--\r\n"),
    ({"Content-Type": "multipart/form-data; boundary=XYZ"},
     b'--XYZ\r\nContent-Disposition: form-data; name="other"\r\n\r\nvalue\r\n--XYZ--\r\n'),
])
def test_scan_bad_multipart_is_400(client, headers, content):
    r = client.post("/v1/scan", content=content, headers=headers)
    assert r.status_code == 400, r.text
    assert "multipart" in r.json()["detail"]


def test_scan_wrong_content_type_is_415(client):
    r = client.post("/v1/scan", json={"file": "var a;"})
    assert r.status_code == 415
    assert "Content-Type" in r.json()["detail"]


@pytest.mark.parametrize("name", ["", "a" * 300, "bad\nname.js"])
def test_scan_bad_name_is_422(client, name):
    r = post_raw(client, b"var a;", name)
    assert r.status_code == 422
    assert r.json()["detail"]


def test_unknown_route_and_method_are_json_4xx(client):
    assert client.get("/v1/nope").status_code == 404
    r = client.get("/v1/scan")
    assert r.status_code == 405
    assert r.json()["detail"]


def test_signatures_feed_etag_and_304(client, sigs):
    r = client.get("/v1/signatures")
    assert r.status_code == 200
    etag = r.headers["etag"]
    assert etag == f'"{sigs.digest}"'
    doc = r.json()
    assert doc["version"] == sigs.version and doc["digest"] == sigs.digest
    assert {rule["id"] for rule in doc["rules"]} == {rule.id for rule in sigs.all_rules()}
    assert set(doc["verdict"]["categories"]) == set(sigs.verdict.categories)

    again = client.get("/v1/signatures", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    weak = client.get("/v1/signatures", headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    stale = client.get("/v1/signatures", headers={"If-None-Match": '"0000"'})
    assert stale.status_code == 200 and stale.json()["digest"] == sigs.digest


def test_metrics_count_scan_route(client):
    post_raw(client, b"var ok = 1;\n", "ok.js")
    client.get("/v1/this-route-does-not-exist-12345")
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert "# TYPE webscan_http_requests_total counter" in text
    counters = [line for line in text.splitlines()
                if line.startswith('webscan_http_requests_total{route="/v1/scan",method="POST",'
                                   'status="200"}')]
    assert counters and int(counters[0].rsplit(" ", 1)[1]) >= 1
    assert 'webscan_http_request_duration_seconds_count{route="/v1/scan",method="POST"}' in text
    assert 'webscan_scans_total{verdict="clean"}' in text
    assert "this-route-does-not-exist" not in text  # raw paths never become labels


def test_openapi_documents_scan_body(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/scan"]["post"]["requestBody"]["content"]
    assert {"application/octet-stream", "multipart/form-data"} <= set(body)


def test_webscan_serve_command_starts_the_service(tmp_path):
    """`webscan serve` as a user runs it: a real process, a real port, then /healthz."""
    import os
    import socket
    import subprocess
    import sys
    import urllib.request

    from conftest import ROOT

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "webscan", "serve", "--port", str(port),
                             "--db", f"sqlite:///{tmp_path / 'w.db'}",
                             *resolve_args(TEST_NAMES)],
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = r.read()
            except OSError:
                time.sleep(0.2)
        assert body is not None and b'"ok"' in body
    finally:
        proc.terminate()
        proc.wait(timeout=20)
