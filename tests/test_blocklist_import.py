"""Blocklist import: Adblock/uBlock filters and hosts files become one loadable domains rule."""

from __future__ import annotations

import shutil

import pytest
import yaml

from webscan.net.domains import DomainMatcher
from webscan.rules.importer import BlocklistError, import_blocklist
from webscan.rules.loader import load_signatures

from conftest import ROOT

MIXED = """[Adblock Plus 2.0]
! Title: a miner list
! Homepage: https://example.invalid/
||coinhive.com^
||coinhive.com^$third-party,script
||crypto-loot.com^$script,domain=~example.org
|https://cnhv.co/
|https://cdn.example.net/miner/coinhive.js
||cdn.jsdelivr.net/npm/miner/dist/a.js
coinhive.com##.miner-banner
##.ad-banner
@@||allowed.example.com^
/coinhive\\.min\\.js/
/lib/crypta.js
ads.js
||evil-miner.com^$badfilter
||coin*.com^
0.0.0.0 authedmine.com
127.0.0.1 localhost
::1 ip6-localhost
0.0.0.0 webmine.cz # hosts comment
0.0.0.0 bad_host.com
# a hosts-style comment
plain-miner.example.org
MÜNCHEN-MINER.de
.dotted-miner.com^
||*.minero.cc^
"""


def test_mixed_list_counts_and_hosts():
    r = import_blocklist(MIXED, source="https://example.invalid/lists/nocoin.txt")
    assert r.hosts == ["coinhive.com", "crypto-loot.com", "cnhv.co", "authedmine.com", "webmine.cz",
                       "plain-miner.example.org", "xn--mnchen-miner-dlb.de", "dotted-miner.com",
                       "*.minero.cc"]
    assert r.imported == 9
    assert r.duplicates == 1
    assert r.skipped_by_reason == {
        "list header": 1,
        "comment": 3,
        "rule has a path: importing its host would match more than the list meant": 2,
        "cosmetic filter (hides page elements, names no host to load)": 2,
        "exception rule (@@ allows, it does not block)": 1,
        "regex filter (cannot be reduced to hosts)": 1,
        "path-only rule (no host)": 1,
        "not a host name (unknown top-level domain)": 1,
        "badfilter option (disables another rule)": 1,
        "wildcard in the host (cannot be reduced to hosts)": 1,
        "hosts-file entry for the local machine": 2,
        "invalid host name": 1,
    }
    assert r.skipped == sum(r.skipped_by_reason.values()) == 17
    assert ("@@||allowed.example.com^", "exception rule (@@ allows, it does not block)") in r.examples
    assert "skipped 17 lines" in r.summary()


def test_output_is_a_valid_domains_file():
    r = import_blocklist(MIXED, source="https://example.invalid/lists/nocoin.txt")
    doc = yaml.safe_load(r.yaml_text)
    assert (doc["format"], doc["kind"]) == (1, "domains")
    (rule,) = doc["rules"]
    assert rule["id"] == r.rule_id == "imported.nocoin"
    assert rule["severity"] == "high" and rule["category"] == "miner-domain-load"
    assert rule["references"] == ["https://example.invalid/lists/nocoin.txt"]
    assert "https://example.invalid/lists/nocoin.txt" in rule["description"]
    assert rule["samples"] == {"match": ["coinhive.com"], "no_match": ["example.org"]}


def test_output_loads_through_load_signatures(tmp_path):
    sigdir = tmp_path / "signatures"
    shutil.copytree(ROOT / "signatures", sigdir)
    r = import_blocklist(MIXED, source="nocoin.txt")
    (sigdir / "imported-nocoin.yaml").write_text(r.yaml_text, encoding="utf-8")
    sigs = load_signatures([sigdir])
    rule = sigs.rule("imported.nocoin")
    assert rule.references == []  # a file name is not a reference
    m = DomainMatcher([rule])
    for sample in rule.samples.match:
        assert m.match_url(sample)
    for sample in rule.samples.no_match:
        assert not m.match_url(sample)
    assert m.match_url("wss://ws3.webmine.cz/proxy")
    assert m.match_url("https://eu.minero.cc/x.js") and not m.match_url("https://minero.cc/x.js")
    assert not m.match_url("https://cdn.jsdelivr.net/npm/miner/dist/a.js")


def test_hosts_file():
    text = "# hosts\n127.0.0.1 localhost\n::1 localhost ip6-loopback\n0.0.0.0 a.miner.example.com b.miner.example.net\n" \
           "127.0.0.1\tc.miner.example.org  # tab-separated\n0.0.0.0 0.0.0.0\n"
    r = import_blocklist(text, source="/etc/hosts-miners")
    assert r.hosts == ["a.miner.example.com", "b.miner.example.net", "c.miner.example.org"]
    assert r.rule_id == "imported.hosts-miners"


def test_plain_list_with_duplicates_and_invalid_hosts():
    text = "coinhive.com\nCoinHive.com.\ncoinhive.com\n-bad-.com\nfoo..com\nno_underscore.com\nlocalhost\n10.0.0.5\n"
    r = import_blocklist(text, source="my list.txt")
    assert r.hosts == ["coinhive.com", "10.0.0.5"]
    assert r.duplicates == 2
    assert r.skipped_by_reason["invalid host name"] == 4
    assert r.rule_id == "imported.my-list"


def test_no_match_sample_avoids_listed_hosts():
    r = import_blocklist("||example.org^\n||example.net^\n", source="x.txt")
    doc = yaml.safe_load(r.yaml_text)
    assert doc["rules"][0]["samples"]["no_match"] == ["example.com"]


def test_explicit_rule_id_and_bad_rule_id():
    assert import_blocklist("||coinhive.com^", source="x", rule_id="team.miners").rule_id == "team.miners"
    with pytest.raises(BlocklistError, match="not valid"):
        import_blocklist("||coinhive.com^", source="x", rule_id="Bad Id")


def test_a_list_without_hosts_is_refused_with_a_reason():
    with pytest.raises(BlocklistError, match="no host names found to import.*cosmetic filter"):
        import_blocklist("##.ad\nexample.com##.banner\n! comment\n", source="cosmetic.txt")
    with pytest.raises(BlocklistError):
        import_blocklist("", source="empty.txt")
