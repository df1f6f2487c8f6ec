"""`webscan extension build`: an unpacked Manifest V3 extension (and optionally a zip) from
extension/ (the source), the crawler's hook and the signature set.

Why a build step: the hook is ONE source shared with the crawler (webscan/browser/hook.js),
so it is inserted into the page-world script here, byte for byte, never copied by hand; and the
signatures are data in signatures/, compiled here into rules.json and the DNR ruleset, so the
extension judges with exactly the rules `webscan scan` uses.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from webscan import __version__
from webscan.browser.hook import hook_source
from webscan.extension.compile import compile_rules, dnr_rules
from webscan.rules.loader import SignatureSet

HOOK_MARK = "/*@webscan-hook@*/"
"""Where page.js takes the hook; the built page.js has hook.js's exact bytes in its place."""
BUILD_INFO = "build-info.json"
SOURCE_FILES = ("background.js", "scorer.js", "wasm.js", "relay.js", "page.js",
                "popup.html", "popup.js", "options.html", "options.js", "ui.css")
ZIP_DATE = (2024, 1, 1, 0, 0, 0)
"""Fixed timestamps: the same inputs give the same zip, byte for byte."""
TARGETS = ("chromium", "firefox")
GECKO_ID = "webscan@extension.webscan"
"""Firefox needs a stable add-on id in the manifest for MV3 storage and DNR to persist."""
FIREFOX_MIN_VERSION = "140.0"
"""Content scripts in world MAIN (the hook must run in the page's world) arrived in Firefox 128;
`data_collection_permissions`, which addons.mozilla.org asks of new add-ons, in 140 (the ESR
since 128's support ended): below it Firefox would ignore the key and `web-ext lint` warns."""
FIREFOX_ANDROID_MIN_VERSION = "142.0"
"""Firefox for Android reads `data_collection_permissions` from 142."""


class ExtensionBuildError(Exception):
    """The build cannot proceed; the message says what is wrong and what to do."""


@dataclass
class BuildResult:
    out: Path
    target: str = "chromium"
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    hook_sha256: str = ""
    dnr_rules: int = 0
    dnr_skipped: list[str] = field(default_factory=list)
    zip_path: Path | None = None
    signatures: str = ""

    def summary(self) -> str:
        z = f", zip {self.zip_path}" if self.zip_path else ""
        how = ("Load it from about:debugging > This Firefox > Load Temporary Add-on (pick its "
               "manifest.json), or sign the zip with `web-ext sign`." if self.target == "firefox" else
               "Load it from chrome://extensions with Developer mode > Load unpacked.")
        return (f"extension {__version__} for {self.target} built in {self.out} ({len(self.files)} files; "
                f"signatures {self.signatures}; {self.dnr_rules} DNR block rules{z}). {how}")


def source_dir() -> Path:
    """The extension's source: inside the installed package, or extension/ in the source tree."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_extension", here.parent / "extension"):
        if (candidate / "manifest.json").is_file():
            return candidate
    raise ExtensionBuildError("cannot find the extension's source (no webscan/_extension or "
                              "./extension with a manifest.json); reinstall webscan")


def _prepare_out(out: Path) -> None:
    """An empty folder, or one of our earlier builds (cleared); anything else is refused."""
    if out.exists() and not out.is_dir():
        raise ExtensionBuildError(f"{out} exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()):
        if not (out / BUILD_INFO).is_file():
            raise ExtensionBuildError(f"{out} is not empty and holds no earlier extension build; "
                                      "choose an empty or new folder for --out")
        for child in out.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)


def for_target(manifest: dict, target: str) -> dict:
    """The source manifest (written for Chromium) as the target browser reads MV3.

    Firefox: a background event page (`background.scripts`, still an ES module) instead of a
    service worker, which Firefox does not run for extensions; an add-on id, a minimum version
    and the data it may send (none required; the opt-in reports are website activity) under
    `browser_specific_settings.gecko`; no `minimum_chrome_version`. Everything else (content
    scripts in world MAIN at document_start, declarativeNetRequest, action, storage,
    notifications, chrome.* with promises) Firefox reads the same."""
    if target not in TARGETS:
        raise ExtensionBuildError(f"unknown --target {target!r}; choose one of {', '.join(TARGETS)}")
    m = json.loads(json.dumps(manifest))
    if target == "firefox":
        bg = m.get("background", {})
        m["background"] = {"scripts": [bg.get("service_worker", "background.js")],
                           **({"type": bg["type"]} if "type" in bg else {})}
        m.pop("minimum_chrome_version", None)
        m["browser_specific_settings"] = {"gecko": {
            "id": GECKO_ID, "strict_min_version": FIREFOX_MIN_VERSION,
            # reports to a webscan service are off unless the user turns them on (options page)
            "data_collection_permissions": {"required": ["none"], "optional": ["websiteActivity"]}},
            "gecko_android": {"strict_min_version": FIREFOX_ANDROID_MIN_VERSION}}
    return m


def _json(data: object) -> bytes:
    return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def build(out: Path, sigs: SignatureSet, *, zip_path: Path | None = None,
          source: Path | None = None, target: str = "chromium") -> BuildResult:
    """Write the unpacked extension for `target` (chromium or firefox) to `out` (and a zip of
    it to `zip_path`)."""
    src = source or source_dir()
    manifest_path = src / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ExtensionBuildError(f"{manifest_path}: cannot read it as JSON: {e}") from None
    manifest["version"] = __version__
    manifest = for_target(manifest, target)
    hook = hook_source()
    outputs: dict[str, bytes] = {}
    for name in SOURCE_FILES:
        try:
            outputs[name] = (src / "src" / name).read_bytes()
        except OSError as e:
            raise ExtensionBuildError(f"{src / 'src' / name}: {e.strerror or e}; the extension "
                                      "source is incomplete, reinstall webscan") from None
    page = outputs["page.js"].decode("utf-8")
    if page.count(HOOK_MARK) != 1:
        raise ExtensionBuildError(f"{src / 'src' / 'page.js'} must hold {HOOK_MARK} exactly once")
    outputs["page.js"] = page.replace(HOOK_MARK, hook).encode("utf-8")
    for icon in sorted((src / "icons").glob("*.png")):
        outputs[f"icons/{icon.name}"] = icon.read_bytes()
    outputs["manifest.json"] = _json(manifest)
    outputs["rules.json"] = _json(compile_rules(sigs))
    rules, skipped = dnr_rules(sigs)
    outputs["dnr-bundled.json"] = _json(rules)

    _prepare_out(out)
    result = BuildResult(out=out, target=target, hook_sha256=hashlib.sha256(hook.encode("utf-8")).hexdigest(),
                         dnr_rules=len(rules), dnr_skipped=skipped,
                         signatures=f"{sigs.version} ({sigs.digest})")
    for rel, data in sorted(outputs.items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        result.files[rel] = hashlib.sha256(data).hexdigest()
    info = {"webscan": __version__, "target": target, "signatures": {"version": sigs.version, "digest": sigs.digest},
            "hook_sha256": result.hook_sha256, "dnr_rules": len(rules), "dnr_hosts_not_blocked": skipped,
            "files": result.files}
    (out / BUILD_INFO).write_bytes(_json(info))
    if zip_path is not None:
        _zip(out, zip_path)
        result.zip_path = zip_path
    return result


def _zip(folder: Path, zip_path: Path) -> None:
    """A reproducible zip with manifest.json at its root (what the Chrome Web Store expects)."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_name(zip_path.name + ".tmp")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                z.writestr(info, path.read_bytes())
        tmp.replace(zip_path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ExtensionBuildError(f"cannot write {zip_path}: {e.strerror or e}") from None
