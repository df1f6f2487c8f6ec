"""`webscan extension build`: a valid MV3 manifest with the fewest permissions, no remote
code, the crawler's hook inserted byte for byte, DNR rules that block every known mining host,
rules.json carrying the same signature set, and user mistakes answered without a traceback.
The Firefox build differs only where Firefox reads MV3 differently and passes Mozilla's
`web-ext lint` (the linter addons.mozilla.org runs) without an error."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from node_tools import node_bin

from webscan.browser.hook import hook_source
from webscan.js.engine import JS_LANGUAGE

HOOK = ROOT / "webscan" / "browser" / "hook.js"
PERMISSIONS = {"declarativeNetRequest", "storage", "notifications"}
DNR_RESOURCE_TYPES = {"main_frame", "sub_frame", "stylesheet", "script", "image", "font", "object",
                      "xmlhttprequest", "ping", "csp_report", "media", "websocket", "webtransport",
                      "webbundle", "other"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("ext") / "unpacked"
    zip_path = out.parent / "webscan-extension.zip"
    r = run_cli("extension", "build", "--out", str(out), "--zip", str(zip_path), timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Load unpacked" in r.stderr
    return out, zip_path


def test_manifest_is_mv3_with_the_fewest_permissions(built):
    out, _ = built
    m = json.loads((out / "manifest.json").read_text())
    assert m["manifest_version"] == 3
    from webscan import __version__
    assert m["version"] == __version__
    assert set(m["permissions"]) == PERMISSIONS
    assert "host_permissions" not in m and "optional_permissions" not in m
    assert m["background"] == {"service_worker": "background.js", "type": "module"}
    worlds = [(cs["js"], cs.get("world", "ISOLATED"), cs["run_at"], cs["all_frames"]) for cs in m["content_scripts"]]
    assert worlds == [(["relay.js"], "ISOLATED", "document_start", True),
                      (["page.js"], "MAIN", "document_start", True)]
    # every file the manifest names exists in the build
    named = {m["background"]["service_worker"], m["action"]["default_popup"], m["options_ui"]["page"],
             *m["icons"].values(), *m["action"]["default_icon"].values(),
             *(f for cs in m["content_scripts"] for f in cs["js"]),
             *(r["path"] for r in m["declarative_net_request"]["rule_resources"])}
    for rel in named:
        assert (out / rel).is_file(), rel
    for size, rel in m["icons"].items():
        data = (out / rel).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(data[16:20], "big") == int(size)


def _shape(src: str) -> tuple[list, bool]:
    """The syntax tree without comments: node types, and every token's text."""
    from tree_sitter import Parser

    tree = Parser(JS_LANGUAGE).parse(src.encode("utf-8"))
    out: list = []
    stack = [tree.root_node]
    while stack:
        n = stack.pop()
        if n.type == "comment":
            continue
        out.append((n.type, n.text) if not n.child_count else n.type)
        stack.extend(reversed(n.children))
    return out, tree.root_node.has_error


def test_the_shipped_hook_is_hook_js_without_comments_or_spare_space():
    """The crawler and the extension run hook.js compacted; the compaction must not change one
    token or how the statements split (a dropped line break would change automatic semicolons)."""
    text = HOOK.read_text(encoding="utf-8")
    shipped = hook_source()
    assert len(shipped) < 0.7 * len(text) and "//" not in shipped.replace("://", "")
    assert _shape(shipped) == _shape(text)
    assert _shape(text)[1] is False


def test_no_remote_code(built):
    out, _ = built
    m = json.loads((out / "manifest.json").read_text())
    csp = m["content_security_policy"]["extension_pages"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp and "http" not in csp
    for path in out.rglob("*"):
        if path.suffix not in (".js", ".html"):
            continue
        text = path.read_text()
        assert not re.search(r"<script[^>]+src=[\"']?(?:https?:)?//", text), path
        assert not re.search(r"\bimport\s*(?:\(|[^;]*from)\s*[\"'](?:https?:)?//", text), path
        assert not re.search(r"importScripts\([\"']https?:", text), path
        if path.name != "page.js":  # the hook builds Blob workers from its own source, nothing else
            assert not re.search(r"\beval\s*\(|new Function\s*\(", text), path


def test_hook_is_the_crawlers_hook_byte_for_byte(built):
    out, zip_path = built
    hook = hook_source().encode("utf-8")
    page = (out / "page.js").read_bytes()
    assert page.count(hook) == 1
    source = (ROOT / "extension" / "src" / "page.js").read_bytes()
    assert page == source.replace(b"/*@webscan-hook@*/", hook)
    info = json.loads((out / "build-info.json").read_text())
    assert info["hook_sha256"] == hashlib.sha256(hook).hexdigest()
    with zipfile.ZipFile(zip_path) as z:
        assert z.read("page.js") == page
        assert "manifest.json" in z.namelist()
        assert sorted(z.namelist()) == sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def test_dnr_rules_are_valid_and_block_every_rule_host(built, sigs):
    out, _ = built
    rules = json.loads((out / "dnr-bundled.json").read_text())
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i >= 1 for i in ids)
    blocked: set[str] = set()
    for r in rules:
        assert set(r) == {"id", "priority", "action", "condition"}
        assert r["action"] == {"type": "block"} and r["priority"] >= 1
        cond = r["condition"]
        assert set(cond["excludedResourceTypes"]) <= DNR_RESOURCE_TYPES
        assert "main_frame" in cond["excludedResourceTypes"]
        for host in cond["requestDomains"]:
            assert re.fullmatch(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?", host) and "." in host
        blocked |= set(cond["requestDomains"])
    expected = {d for r in sigs.domains for d in r.domains if "*" not in d}
    assert blocked == expected and len(blocked) > 20


def test_rules_json_carries_the_signature_set(built, sigs):
    out, _ = built
    doc = json.loads((out / "rules.json").read_text())
    assert (doc["version"], doc["digest"]) == (sigs.version, sigs.digest)
    assert {k: v["weight"] for k, v in doc["verdict"]["categories"].items()} == \
        {k: v.weight for k, v in sigs.verdict.categories.items()}
    assert doc["verdict"]["miner_threshold"] == sigs.verdict.miner_threshold
    assert [r["id"] for r in doc["protocol"]] == [r.id for r in sigs.protocol]
    assert [r["id"] for r in doc["wasm"]] == [r.id for r in sigs.wasm]
    # 64-bit constants survive as exact hex (JSON numbers would lose them in JavaScript)
    keccak = next(c for c in doc["constants"] if c["id"] == "constants.keccak-f1600.round-constants")
    assert "0x800000000000808A" in keccak["values"]
    assert set(doc["runtime"]["rules"]) == {
        "runtime.cpu.sustained", "runtime.worker.blob", "runtime.worker.pool",
        "runtime.wasm.compiled", "runtime.websocket.open", "runtime.wasm.hot-export",
        "runtime.pow.hash-loop", "runtime.pow.hash-loop-multicore", "runtime.pool.job-share",
        "runtime.pool.job-share-cpu", "runtime.pow.loop-and-cycle"}


def test_rebuild_into_the_same_folder_and_refuse_a_foreign_one(built, tmp_path):
    out, _ = built
    (out / "stale.txt").write_text("left over")
    r = run_cli("extension", "build", "--out", str(out), timeout=120)
    assert r.returncode == 0, r.stderr
    assert not (out / "stale.txt").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    r = run_cli("extension", "build", "--out", str(foreign), timeout=120)
    assert r.returncode == 2
    assert "not empty" in r.stderr and "Traceback" not in r.stderr
    assert (foreign / "notes.txt").read_text() == "keep me"
    bad_sigs = tmp_path / "sigs"
    bad_sigs.mkdir()
    r = run_cli("extension", "build", "--out", str(tmp_path / "x"), "-s", str(bad_sigs), timeout=120)
    assert r.returncode == 2 and "manifest.yaml" in r.stderr and "Traceback" not in r.stderr


def test_zip_is_reproducible(built, tmp_path):
    _, zip_path = built
    again = tmp_path / "again.zip"
    r = run_cli("extension", "build", "--out", str(tmp_path / "o"), "--zip", str(again), timeout=120)
    assert r.returncode == 0, r.stderr
    assert again.read_bytes() == Path(zip_path).read_bytes()


@pytest.fixture(scope="module")
def firefox(tmp_path_factory):
    out = tmp_path_factory.mktemp("ff") / "unpacked"
    r = run_cli("extension", "build", "--target", "firefox", "--out", str(out), timeout=120)
    assert r.returncode == 0, r.stderr
    assert "about:debugging" in r.stderr
    return out


def test_firefox_build_differs_only_where_firefox_reads_mv3_differently(built, firefox):
    chromium, ff = (json.loads((d / "manifest.json").read_text()) for d in (built[0], firefox))
    assert ff["background"] == {"scripts": ["background.js"], "type": "module"}  # no extension service workers
    gecko = ff["browser_specific_settings"]["gecko"]
    assert re.fullmatch(r"[\w.-]+@[\w.-]+", gecko["id"]) and gecko["strict_min_version"] == "140.0"
    assert gecko["data_collection_permissions"]["required"] == ["none"]  # reports are opt-in
    assert "minimum_chrome_version" not in ff and "minimum_chrome_version" in chromium
    moved = {"background", "browser_specific_settings", "minimum_chrome_version"}
    assert {k: v for k, v in ff.items() if k not in moved} == {k: v for k, v in chromium.items() if k not in moved}
    files = lambda d: {p.relative_to(d).as_posix(): p.read_bytes() for p in d.rglob("*")
                       if p.is_file() and p.name not in ("manifest.json", "build-info.json")}
    assert files(firefox) == files(built[0])  # the same scorer, hook and rules in both
    assert json.loads((firefox / "build-info.json").read_text())["target"] == "firefox"


def test_firefox_build_passes_mozillas_web_ext_lint(firefox):
    r = subprocess.run([str(node_bin("web-ext")), "lint", "--source-dir", str(firefox), "--output", "json",
                        "--no-config-discovery"], capture_output=True, text=True, timeout=300)
    report = json.loads(r.stdout)
    assert report["errors"] == [], report["errors"]
    # The one warning left is about our own data: rules.json names mining services (to block them).
    assert {w["code"] for w in report["warnings"]} <= {"COINMINER_USAGE_DETECTED"}, report["warnings"]
    assert all(w["file"] == "rules.json" for w in report["warnings"])


def test_an_unknown_target_is_refused_with_the_choices(tmp_path):
    r = run_cli("extension", "build", "--target", "safari", "--out", str(tmp_path / "x"), timeout=120)
    assert r.returncode == 2 and "chromium, firefox" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x").exists()
