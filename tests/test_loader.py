"""A bad signature file must be rejected with its file and rule named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from webscan.rules.loader import SignatureError, load_signatures

from conftest import ROOT

GOOD_RULE = {
    "id": "test.example-domain",
    "description": "A test rule for the loader's own checks.",
    "severity": "high",
    "category": "miner-domain-load",
    "references": [],
    "domains": ["miner.example"],
    "samples": {"match": ["https://miner.example/x.js"], "no_match": ["https://example.org/"]},
}


def _copy(tmp_path: Path) -> Path:
    d = tmp_path / "sigs"
    shutil.copytree(ROOT / "signatures", d)
    return d


def _write(d: Path, name: str, rules: list, kind: str = "domains") -> Path:
    p = d / name
    p.write_text(yaml.safe_dump({"format": 1, "kind": kind, "rules": rules}))
    return p


def test_bundled_set_loads_and_has_every_kind(sigs):
    assert sigs.version
    for kind in ("domains", "js", "constants", "wasm", "protocol"):
        assert getattr(sigs, kind), f"no {kind} rules in the bundled set"
    ids = [r.id for r in sigs.all_rules()]
    assert len(ids) == len(set(ids))
    for r in sigs.all_rules():
        assert r.references or r.category in {"parse"}, f"{r.id} has no references"


def test_extra_rule_file_is_loaded(tmp_path):
    d = _copy(tmp_path)
    _write(d, "extra.yaml", [GOOD_RULE])
    sigs = load_signatures([d])
    assert sigs.rule("test.example-domain").domains == ["miner.example"]


@pytest.mark.parametrize(
    "change, expect",
    [
        ({"severity": "catastrophic"}, "severity"),
        ({"category": "no-such-category"}, "no-such-category"),
        ({"id": "Bad Id"}, "id"),
        ({"domains": ["not a host"], "url_patterns": []}, "not a host"),
        ({"domains": [], "url_patterns": ["(unclosed"]}, "not a valid regex"),
        ({"samples": {"match": [], "no_match": ["x"]}}, "samples"),
        ({"description": "short"}, "description"),
    ],
)
def test_bad_rule_names_file_and_rule(tmp_path, change, expect):
    d = _copy(tmp_path)
    _write(d, "broken.yaml", [{**GOOD_RULE, **change}])
    with pytest.raises(SignatureError) as e:
        load_signatures([d])
    msg = str(e.value)
    assert "broken.yaml" in msg
    assert expect in msg


def test_duplicate_id_is_rejected(tmp_path):
    d = _copy(tmp_path)
    _write(d, "dup.yaml", [GOOD_RULE, GOOD_RULE])
    with pytest.raises(SignatureError, match="already used"):
        load_signatures([d])


def test_unsupported_format_and_bad_yaml(tmp_path):
    d = _copy(tmp_path)
    (d / "future.yaml").write_text("format: 9\nkind: domains\nrules: []\n")
    with pytest.raises(SignatureError, match="format 9"):
        load_signatures([d])
    (d / "future.yaml").write_text("format: 1\nkind: [unclosed\n")
    with pytest.raises(SignatureError, match="future.yaml: not valid YAML"):
        load_signatures([d])


def test_missing_manifest(tmp_path):
    with pytest.raises(SignatureError, match="manifest"):
        load_signatures([tmp_path])
