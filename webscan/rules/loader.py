"""Load and validate the signature set.

A broken rule must name itself (file and id) at load time: a scanner that silently skips a
rule misses miners without anyone noticing.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from webscan.rules.schema import (
    FORMAT_VERSION,
    RULE_MODEL,
    ConstantSet,
    DomainRule,
    JsRule,
    ProtocolRule,
    RuleFile,
    VerdictConfig,
    WasmRule,
)

ENV_VAR = "WEBSCAN_SIGNATURES"


class SignatureError(Exception):
    """A signature file or rule is invalid; the message names the file and rule."""


@dataclass
class SignatureSet:
    version: str
    digest: str
    verdict: VerdictConfig
    domains: list[DomainRule] = field(default_factory=list)
    js: list[JsRule] = field(default_factory=list)
    constants: list[ConstantSet] = field(default_factory=list)
    wasm: list[WasmRule] = field(default_factory=list)
    protocol: list[ProtocolRule] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # rule id -> file it came from

    def all_rules(self) -> list:
        return [*self.domains, *self.js, *self.constants, *self.wasm, *self.protocol]

    def rule(self, rule_id: str):
        for r in self.all_rules():
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def default_signature_dirs() -> list[Path]:
    """Where the bundled signatures live: inside the installed package, or the source tree."""
    env = os.environ.get(ENV_VAR)
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_signatures", here.parent / "signatures"):
        if (candidate / "manifest.yaml").is_file():
            return [candidate]
    raise SignatureError(
        "cannot find the bundled signatures (no webscan/_signatures or ./signatures with a "
        f"manifest.yaml); reinstall webscan or point {ENV_VAR} at a signatures folder"
    )


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> object:
    try:
        # libyaml's loader where PyYAML has it: the same documents, a fifth of the start-up
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except OSError as e:
        raise SignatureError(f"{path}: cannot read: {e.strerror or e}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise SignatureError(f"{path}: not valid YAML: {e}") from None


def _explain(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        where = ".".join(str(x) for x in e["loc"]) or "(top level)"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


def load_signatures(dirs: list[Path] | None = None) -> SignatureSet:
    """Load every *.yaml under the given folders (the first needs a manifest.yaml)."""
    dirs = list(dirs) if dirs else default_signature_dirs()
    base = dirs[0]
    manifest = _read_yaml(base / "manifest.yaml") if (base / "manifest.yaml").is_file() else None
    if not isinstance(manifest, dict) or "version" not in manifest:
        raise SignatureError(f"{base / 'manifest.yaml'}: missing, or has no `version`")
    digest = hashlib.sha256()
    verdict: VerdictConfig | None = None
    out: dict[str, list] = {k: [] for k in RULE_MODEL}
    sources: dict[str, str] = {}
    files = []
    for d in dirs:
        if not d.is_dir():
            raise SignatureError(f"{d}: not a folder of signature files")
        files += sorted(p for p in d.rglob("*.yaml") if p.name != "manifest.yaml")
    for path in files:
        raw = _read_yaml(path)
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
        if not isinstance(raw, dict):
            raise SignatureError(f"{path}: expected a mapping with `format`, `kind` and `rules`")
        rules_raw = raw.get("rules") or []
        try:
            header = RuleFile.model_validate({**raw, "rules": []})
        except ValidationError as e:
            raise SignatureError(f"{path}: {_explain(e)}") from None
        if header.format != FORMAT_VERSION:
            raise SignatureError(
                f"{path}: format {header.format} is not supported (this webscan reads format "
                f"{FORMAT_VERSION}); upgrade webscan or convert the file"
            )
        if header.kind == "verdict":
            if header.verdict is None:
                raise SignatureError(f"{path}: a verdict file needs a `verdict` section")
            verdict = header.verdict
            continue
        if not isinstance(rules_raw, list):
            raise SignatureError(f"{path}: `rules` must be a list")
        model = RULE_MODEL[header.kind]
        for i, r in enumerate(rules_raw):
            rid = r.get("id", f"#{i + 1}") if isinstance(r, dict) else f"#{i + 1}"
            try:
                rule = model.model_validate(r)
            except ValidationError as e:
                raise SignatureError(f"{path}: rule {rid}: {_explain(e)}") from None
            if rule.id in sources:
                raise SignatureError(
                    f"{path}: rule {rule.id}: id already used in {sources[rule.id]}"
                )
            sources[rule.id] = str(path)
            out[header.kind].append(rule)
    if verdict is None:
        raise SignatureError(f"{base}: no verdict file (kind: verdict) among the signatures")
    for kind, rules in out.items():
        for rule in rules:
            if rule.category not in verdict.categories:
                raise SignatureError(
                    f"{sources[rule.id]}: rule {rule.id}: category {rule.category!r} is not "
                    f"defined in the verdict file (known: {', '.join(sorted(verdict.categories))})"
                )
    js_ids = {r.id for r in out["js"]}
    for rule in out["js"]:
        for req in rule.requires:
            if req not in js_ids:
                raise SignatureError(f"{sources[rule.id]}: rule {rule.id}: requires unknown rule {req}")
    shape_ids = {r.id for r in out["protocol"] if r.shape is not None}
    for rule in out["protocol"]:
        for req in rule.all_of:
            if req not in shape_ids:
                raise SignatureError(f"{sources[rule.id]}: rule {rule.id}: all_of names {req}, "
                                     "which is not a protocol rule with a shape")
    primitives = {c.primitive for c in out["constants"]}
    for rule in out["wasm"]:
        for p in (*rule.primitives_all, *rule.primitives_any):
            if p not in primitives:
                raise SignatureError(
                    f"{sources[rule.id]}: rule {rule.id}: primitive {p!r} has no constant set"
                )
    return SignatureSet(
        version=str(manifest["version"]),
        digest=digest.hexdigest()[:16],
        verdict=verdict,
        sources=sources,
        **out,
    )
