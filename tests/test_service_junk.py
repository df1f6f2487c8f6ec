"""Junk to every endpoint of a real `webscan serve` process (--allow-private, no rate limits).

Each piece of junk must be refused with a 4xx whose JSON `detail` says what is wrong, never a
5xx, and nothing may be half-written: after all of it the database has no reports or audits
(checked with sqlite3 near the end of the module, then one valid report proves the check
reads the right file). Tests in a module run in file order; the database check relies on it.

The HTTP parser in front of the app (uvicorn's httptools) refuses broken framing and method
names it does not know with a plain-text 400 before the app sees them; those cases are
tested separately (refused, connection closed, the service still answers).
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service_support import ServeProcess, sqlite_url

REPORT_LIMIT = 256 * 1024
AUDIT_LIMIT = 16 * 1024
UPLOAD_LIMIT = 5_000_000
GOOD_REPORT = {"url": "https://junk-test.example/page", "reporter": "junkreporter000001",
               "client": "webscan-junk-test/1", "local_verdict": "clean"}
FINDING = {"rule": "js.coinhive", "kind": "js", "category": "miner-library",
           "severity": "high", "message": "m", "location": {"target": "https://x.example/a.js"}}
PATHS = ["/healthz", "/v1/reports", "/v1/verdicts", "/v1/audits", "/v1/audits/" + "0" * 32,
         "/v1/scan", "/v1/signatures"]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[ServeProcess, Path]]:
    db = tmp_path_factory.mktemp("junk") / "junk.db"
    with ServeProcess("--db", sqlite_url(db), "--allow-private", "--rate-limit", "0") as s:
        yield s, db


@pytest.fixture(scope="module")
def client(served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[0].base, timeout=60) as c:
        yield c


def refused(r: httpx.Response, *statuses: int, says: tuple[str, ...] = ()) -> str:
    """A 4xx (one of `statuses` if given) with a JSON detail mentioning one of `says`."""
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:500])
    if statuses:
        assert r.status_code in statuses, (r.status_code, r.text[:500])
    assert r.headers.get("content-type", "").startswith("application/json"), r.text[:500]
    detail = r.json()["detail"]
    assert detail, r.text
    text = json.dumps(detail).lower()
    if says:
        assert any(s.lower() in text for s in says), (says, text[:500])
    return text


def raw_exchange(base: str, data: bytes, *, then: bytes | None = None) -> bytes:
    """Send raw bytes, read one response (headers and its Content-Length of body)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as s:
        s.sendall(data)
        reply = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
            head, sep, body = reply.partition(b"\r\n\r\n")
            if sep:
                lengths = [ln.split(b":", 1)[1] for ln in head.split(b"\r\n")
                           if ln.lower().startswith(b"content-length:")]
                if lengths and len(body) >= int(lengths[0]):
                    break
        if then is not None:
            try:
                s.sendall(then)
            except OSError:
                pass
    return reply


def parse_reply(reply: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in
               (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
    return status, headers, body


def json_refusal(reply: bytes, status: int, says: str) -> None:
    code, headers, body = parse_reply(reply)
    assert code == status, reply[:500]
    assert headers["content-type"].startswith("application/json")
    assert says in json.loads(body)["detail"]


# -- malformed JSON ---------------------------------------------------------------------------

MALFORMED = [
    (b'{"url": ', ("json",)),
    (b"{'url': 'https://a.example/'}", ("json",)),
    (b'{"url": "https://a.example/",}', ("json",)),
    (b"\xff\xfe\x00{", ("json",)),
    (b"[" * 10_000, ("json", "pars")),  # nesting deeper than the decoder's recursion limit
    (b"", ("required",)),
    (b"null", ("dictionary", "object")),
    (b"[]", ("dictionary", "object")),
    (b'"https://a.example/"', ("dictionary", "object")),
    (b"12345", ("dictionary", "object")),
    (b'{"url": "https://a.example/"} trailing', ("json",)),
]


@pytest.mark.parametrize("path", ["/v1/reports", "/v1/audits"])
@pytest.mark.parametrize("body,says", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_json(client, path, body, says):
    r = client.post(path, content=body, headers={"Content-Type": "application/json"})
    refused(r, 400, 422, says=says)


# -- wrong types, missing and extra fields ---------------------------------------------------

REPORT_FIELD_JUNK = [
    ("url", 12345), ("url", None), ("url", ["https://a.example/"]), ("url", {"href": "x"}),
    ("url", True), ("reporter", 1234567890123456789), ("reporter", None),
    ("reporter", ["junkreporter000001"]), ("reporter", "short"), ("reporter", "bad chars!" * 3),
    ("client", 7), ("client", ""), ("client", "has space"), ("client", "x" * 65),
    ("local_verdict", "maybe"), ("local_verdict", 1), ("local_verdict", None),
    ("score", "0.5"), ("score", None), ("score", 2), ("score", -0.1), ("score", [0.1]),
    ("findings", "none"), ("findings", {"rule": "x"}), ("findings", [1, 2]),
    ("findings", [FINDING] * 101), ("findings", [{**FINDING, "severity": "apocalyptic"}]),
    ("findings", [{**FINDING, "location": "here"}]),
    ("findings", [{**FINDING, "location": {"target": "t", "line": 0}}]),
    ("findings", [{**FINDING, "excerpt": "e" * 401}]),
    ("wasm_modules", [{"sha256": "x"}]), ("runtime", []), ("runtime", "busy"),
    ("runtime", {"window_s": -1, "cpu_seconds": 0, "peak_cpu_share": 0}),
    ("observed_at", "yesterday"), ("observed_at", []), ("observed_at", {"t": 1}),
]


@pytest.mark.parametrize("field,value", REPORT_FIELD_JUNK,
                         ids=[f"{f}-{i}" for i, (f, _) in enumerate(REPORT_FIELD_JUNK)])
def test_report_wrong_types(client, field, value):
    r = client.post("/v1/reports", json={**GOOD_REPORT, field: value})
    text = refused(r, 422)
    assert field in text  # the detail's `loc` names the field


@pytest.mark.parametrize("field", ["url", "reporter", "client", "local_verdict"])
def test_report_missing_field(client, field):
    body = {k: v for k, v in GOOD_REPORT.items() if k != field}
    text = refused(client.post("/v1/reports", json=body), 422, says=("required",))
    assert field in text


@pytest.mark.parametrize("body", [
    {**GOOD_REPORT, "is_admin": True},
    {**GOOD_REPORT, "findings": [{**FINDING, "extra": 1}]},
    {**GOOD_REPORT, "findings": [{**FINDING, "location": {"target": "t", "x": 1}}]},
    {**GOOD_REPORT, "runtime": {"window_s": 1, "cpu_seconds": 0, "peak_cpu_share": 0,
                                "cookies": "secret"}},
], ids=["top", "finding", "location", "runtime"])
def test_report_extra_fields(client, body):
    refused(client.post("/v1/reports", json=body), 422, says=("extra",))


@pytest.mark.parametrize("value", [12345, None, ["https://a.example/"], {"u": 1}, True, 1.5])
def test_audit_wrong_types(client, value):
    text = refused(client.post("/v1/audits", json={"url": value}), 422)
    assert "url" in text


def test_audit_missing_and_extra_fields(client):
    refused(client.post("/v1/audits", json={}), 422, says=("required",))
    refused(client.post("/v1/audits", json={"url": "http://127.0.0.1:9/", "priority": 1}), 422,
            says=("extra",))


def test_lone_surrogate_in_report_text(client):
    """JSON may spell "\\ud800"; it decodes to a str that cannot be stored as UTF-8."""
    body = json.dumps({**GOOD_REPORT, "findings": [{**FINDING, "message": "\ud800"}]})
    r = client.post("/v1/reports", content=body.encode(),
                    headers={"Content-Type": "application/json"})
    refused(r, 422, says=("unicode", "surrogate", "escape"))


# -- invalid URLs ------------------------------------------------------------------------------

BAD_URLS = [
    "javascript:alert(1)",
    "javascript://example.com/%0Aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "ftp://example.com/file",
    "file:///etc/passwd",
    "example.com/page",
    "//example.com/page",
    "http://",
    "http:///path-only",
    "https://:443/",
    "http://[::1/",
    "http://example.com:99999/",
    "https://example.com/" + "a" * 10_000,
    "http://exa mple.com/",
    "https://example.com/\x00",
    "https://exa\x01mple.com/",
    "https://example.com/\x7f",
    "https://example.com/\r\nX-Injected: 1",
    "https://example.com/\tx",
    "http://127.0.0.1\\@localhost/",  # a browser visits 127.0.0.1; urlsplit sees localhost
    "https://user:secret@example.com/",  # credentials never stored
    "http://169.254.169.254\\@localhost/latest/meta-data/",
]


@pytest.mark.parametrize("url", BAD_URLS, ids=range(len(BAD_URLS)))
def test_report_with_invalid_url(client, url):
    r = client.post("/v1/reports", json={**GOOD_REPORT, "url": url})
    refused(r, 422, says=("url", "pattern", "characters", "host"))


@pytest.mark.parametrize("url", BAD_URLS, ids=range(len(BAD_URLS)))
def test_audit_with_invalid_url(client, url):
    r = client.post("/v1/audits", json={"url": url})
    refused(r, 400, 422, says=("url", "pattern", "characters", "host", "backslash"))


@pytest.mark.parametrize("url", BAD_URLS, ids=range(len(BAD_URLS)))
def test_verdict_lookup_with_invalid_url(client, url):
    refused(client.get("/v1/verdicts", params={"url": url}), 422,
            says=("url", "characters", "host", "backslash"))


@pytest.mark.parametrize("url", ["http://127.0.0.1\\@localhost/",
                                 "http://169.254.169.254\\@localhost/latest/meta-data/"])
def test_backslash_in_host_part_is_refused_for_audits(client, url):
    """Browsers read `\\` as `/`, so the crawl would go to the address before it while the
    check resolved the name after `@`: refused even with --allow-private."""
    refused(client.post("/v1/audits", json={"url": url}), 400, says=("backslash",))


def test_verdict_lookup_without_url(client):
    refused(client.get("/v1/verdicts"), 422, says=("required",))
    refused(client.get("/v1/verdicts", params={"url": ""}), 422, says=("at least",))


# -- oversized bodies ------------------------------------------------------------------------

def test_report_over_the_limit_with_content_length(client):
    body = json.dumps({**GOOD_REPORT, "findings": [{**FINDING, "message": "m" * 200}] * 1500})
    assert len(body) > REPORT_LIMIT
    r = client.post("/v1/reports", content=body.encode(),
                    headers={"Content-Type": "application/json"})
    refused(r, 413, says=(str(REPORT_LIMIT),))


@pytest.mark.parametrize("path,limit", [("/v1/reports", REPORT_LIMIT),
                                        ("/v1/audits", AUDIT_LIMIT),
                                        ("/v1/scan", UPLOAD_LIMIT)])
def test_declared_length_over_the_limit_is_refused_before_the_body(served, path, limit):
    ctype = b"application/octet-stream" if path == "/v1/scan" else b"application/json"
    reply = raw_exchange(served[0].base,
                         b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         + ctype + b"\r\nContent-Length: 999999999999\r\n\r\n{\"url\":")
    json_refusal(reply, 413, str(limit))


def _chunked(path: str, ctype: bytes, total: int, piece: int = 65536) -> bytes:
    """A chunked request of `total` body bytes, without the final 0-chunk: the server must
    answer once the count passes its limit, however long the body would go on."""
    out = [b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctype
           + b"\r\nTransfer-Encoding: chunked\r\n\r\n"]
    sent = 0
    while sent < total:
        n = min(piece, total - sent)
        out.append(b"%x\r\n" % n + b" " * n + b"\r\n")
        sent += n
    return b"".join(out)


@pytest.mark.parametrize("path,limit", [("/v1/reports", REPORT_LIMIT),
                                        ("/v1/audits", AUDIT_LIMIT),
                                        ("/v1/scan", UPLOAD_LIMIT)])
def test_chunked_body_over_the_limit(served, path, limit):
    ctype = b"application/octet-stream" if path == "/v1/scan" else b"application/json"
    reply = raw_exchange(served[0].base, _chunked(path, ctype, limit + 1))
    json_refusal(reply, 413, str(limit))


def test_chunked_report_over_the_limit_with_httpx(client):
    def pieces():
        yield json.dumps(GOOD_REPORT)[:-1].encode() + b', "pad": "'
        for _ in range(5):
            yield b"p" * 60_000  # 300 KB in all, never a Content-Length

    r = client.post("/v1/reports", content=pieces(),
                    headers={"Content-Type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    refused(r, 413, says=(str(REPORT_LIMIT),))


def test_content_length_shorter_than_the_body(served):
    """A lying (short) Content-Length: only the declared bytes are the body, the rest is
    not stitched onto it."""
    doc = json.dumps(GOOD_REPORT).encode()
    head = (b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 20\r\n\r\n")
    reply = raw_exchange(served[0].base, head + doc[:20], then=doc[20:])
    code, headers, body = parse_reply(reply)
    assert code == 422 and headers["content-type"].startswith("application/json")
    assert "json" in body.decode().lower()


# -- junk bytes, wrong Content-Type -------------------------------------------------------------

JUNK = bytes(range(256)) * 16


@pytest.mark.parametrize("ctype", ["image/png", "text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=zz", None])
@pytest.mark.parametrize("path", ["/v1/reports", "/v1/audits"])
def test_json_endpoints_with_junk_bytes_and_wrong_type(client, path, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    refused(client.post(path, content=JUNK, headers=headers), 400, 415, 422)


@pytest.mark.parametrize("path", ["/v1/reports", "/v1/audits"])
def test_json_endpoints_with_json_sent_as_text(client, path):
    body = json.dumps(GOOD_REPORT if path == "/v1/reports" else {"url": "http://127.0.0.1:9/"})
    refused(client.post(path, content=body.encode(), headers={"Content-Type": "text/plain"}),
            415, 422)


@pytest.mark.parametrize("ctype", ["image/png", "application/json", "application/pdf; x=1",
                                   "text/css"])
def test_scan_with_unsupported_type(client, ctype):
    refused(client.post("/v1/scan", content=JUNK, headers={"Content-Type": ctype}), 415,
            says=("content-type",))


@pytest.mark.parametrize("body", [
    JUNK,
    b"--zz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nno end boundary",
    b"--zz--\r\n",
    b"--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.js\"\r\n\r\nx\r\n"
    b"--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.js\"\r\n\r\ny\r\n"
    b"--zz--\r\n",
], ids=["junk", "unterminated", "empty", "two-files"])
def test_scan_with_broken_multipart(client, body):
    r = client.post("/v1/scan", content=body,
                    headers={"Content-Type": "multipart/form-data; boundary=zz"})
    refused(r, 400, 413, says=("multipart", "file"))


@pytest.mark.parametrize("name", ["", "a" * 256, "bad\x00name.js", "new\nline.js", "\x7f"])
def test_scan_with_bad_name(client, name):
    r = client.post("/v1/scan", params={"name": name}, content=b"var a;",
                    headers={"Content-Type": "application/octet-stream"})
    text = refused(r, 422)
    assert "name" in text


# -- bad audit ids, unknown routes and methods --------------------------------------------------

@pytest.mark.parametrize("audit_id", [
    "x", "0" * 31, "0" * 33, "A" * 32, "g" * 32, "0" * 10_000, "%00" * 32, "%ff%fe",
    "..%2f..%2fhealthz", "%2e%2e", "' OR 1=1 --", "0" * 31 + "%0a", "\u00e9" * 32,
    "00000000-0000-0000-0000-000000000000",
])
def test_bad_audit_id(client, audit_id):
    r = client.get("/v1/audits/" + audit_id)
    refused(r, 404, 422, says=("audit_id", "not found", "pattern"))


def test_unknown_audit_id_is_404(client):
    refused(client.get("/v1/audits/" + "0" * 32), 404, says=("no audit",))


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND",
                                    "PURGE"])
@pytest.mark.parametrize("path", PATHS)
def test_wrong_method(client, path, method):
    refused(client.request(method, path, content=b"{}"), 405, says=("method",))


@pytest.mark.parametrize("path", ["/v1/nope", "/v1/reports/1", "/v1//reports", "/v2/reports",
                                  "/v1/audits/%2e%2e", "/" + "x" * 5000])
def test_unknown_route(client, path):
    refused(client.post(path, json=GOOD_REPORT), 404, 405)


@pytest.mark.parametrize("request_bytes", [
    b"BREW /v1/reports HTTP/1.1\r\nHost: x\r\n\r\n",  # a method name the parser does not know
    b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
    b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}",
    b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 9\r\n\r\n{}",
    b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n",
    b"GET /v1/audits/\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
], ids=["unknown-method", "length-abc", "length-negative", "two-lengths", "length-and-chunked",
        "bad-chunk", "nul-in-path"])
def test_broken_http_is_refused_before_the_app(served, client, request_bytes):
    """uvicorn's parser answers these with a plain-text 400 and closes; the app never runs."""
    code, headers, _ = parse_reply(raw_exchange(served[0].base, request_bytes))
    assert code == 400
    assert headers.get("connection") == "close"
    assert client.get("/healthz").status_code == 200


# -- nothing was stored ---------------------------------------------------------------------

def test_no_junk_reached_the_database(served, client):
    server, db = served
    assert not [ln for ln in server.log if "unhandled error" in ln or "Traceback" in ln], \
        "".join(server.log)[-5000:]
    with sqlite3.connect(db) as conn:
        reports, audits = (conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                           for t in ("reports", "audits"))
        scopes = conn.execute("SELECT count(*) FROM scopes").fetchone()[0]
    conn.close()
    assert (reports, audits, scopes) == (0, 0, 0)

    # The control: a valid report does land in this very file.
    r = client.post("/v1/reports", json=GOOD_REPORT)
    assert r.status_code == 200, r.text
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT url, reporter FROM reports").fetchall()
    conn.close()
    assert rows == [(GOOD_REPORT["url"], GOOD_REPORT["reporter"])]


# -- numbers a JSON parser accepts but the model must not ------------------------------------

@pytest.mark.parametrize("extra", [
    b'"runtime": {"window_s": Infinity, "cpu_seconds": 0, "peak_cpu_share": 0}',
    b'"runtime": {"window_s": 1e400, "cpu_seconds": 0, "peak_cpu_share": 0}',
    b'"wasm_modules": [{"sha256": "x", "size": 1, "location": {"target": "t"}, '
    b'"xor_share": NaN}]',
], ids=["infinity", "overflow", "nan"])
def test_non_finite_numbers_are_refused(client, extra):
    body = json.dumps({**GOOD_REPORT, "reporter": "knowngapreporter01"})[:-1].encode()
    r = client.post("/v1/reports", content=body + b", " + extra + b"}",
                    headers={"Content-Type": "application/json"})
    refused(r, 422)


def test_negative_wasm_sizes_are_refused(client):
    body = {**GOOD_REPORT, "reporter": "knowngapreporter01",
            "wasm_modules": [{"sha256": "x", "size": -5, "functions": -1,
                              "location": {"target": "t"}}]}
    refused(client.post("/v1/reports", json=body), 422)
