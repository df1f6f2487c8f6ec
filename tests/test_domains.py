"""DomainMatcher: hosts match themselves and subdomains, URL patterns match kit paths, text scans
give exact offsets, and nothing a page can contain makes it raise."""

from __future__ import annotations

import pytest

from webscan.net.domains import DomainMatcher, host_of, normalise_host
from webscan.rules.schema import DomainRule


def rule(rid: str, domains=(), patterns=()) -> DomainRule:
    return DomainRule.model_validate({
        "id": rid, "description": "test rule for the domain matcher", "severity": "high",
        "category": "miner-domain-load", "domains": list(domains), "url_patterns": list(patterns),
        "samples": {"match": ["x"], "no_match": ["y"]},
    })


@pytest.fixture(scope="module")
def dm(sigs):
    return DomainMatcher(sigs.domains)


def ids(hits) -> set[str]:
    return {h.rule.id for h in hits}


@pytest.mark.parametrize("url", [
    "https://coinhive.com/lib/coinhive.min.js",
    "https://WWW.CoinHive.COM./lib/x.js",
    "https://user:pass@coinhive.com:8443/x",
    "//coinhive.com/lib/x.js",
    "wss://ws005.coinhive.com/proxy",
    "ws://coinhive.com:80/",
    "coinhive.com",
    "coinhive.com:443/path",
    "blob:https://coinhive.com/5f1d",
    "  https://coinhive.com/  ",
    "https:\\\\coinhive.com\\lib",
])
def test_host_and_subdomains_match(dm, url):
    assert "domains.coinhive-family" in ids(dm.match_url(url))


@pytest.mark.parametrize("url", [
    "https://coinhive.com.example.org/x.js",
    "https://notcoinhive.com/",
    "https://example.org/?ref=coinhive.com",
    "https://example.org/coinhive.com/x",
    "mailto:support@coinhive.com",
    "data:text/plain,coinhive.com",
    "/assets/app.js",
])
def test_lookalikes_and_non_hosts_do_not_match(dm, url):
    assert "domains.coinhive-family" not in ids(dm.match_url(url))


def test_hit_names_the_matching_host(dm):
    (hit,) = [h for h in dm.match_url("wss://WS1.coinhive.com:443/proxy") if h.rule.id == "domains.coinhive-family"]
    assert hit.host == "ws1.coinhive.com"
    assert hit.url == "wss://WS1.coinhive.com:443/proxy"


def test_kit_paths_match_relative_and_absolute_urls(dm):
    for url in ("/lib/coinhive.min.js", "./js/cryptonight.wasm", "https://cdn.example.com/x/webmr.js?v=1"):
        hits = dm.match_url(url)
        assert "domains.kit-paths" in ids(hits), url
    (rel,) = dm.match_url("cryptonight.wasm")
    assert rel.host is None  # a file name is not a host
    assert not dm.match_url("/lib/coinhive-blocker.js")
    assert not dm.match_url("/js/coinhive.min.js.map")


def test_idna_hosts_compare_in_punycode():
    m = DomainMatcher([rule("t.idn", domains=["xn--mnchen-3ya.de"])])
    assert normalise_host("MÜNCHEN.de.") == "xn--mnchen-3ya.de"
    assert ids(m.match_url("https://cdn.münchen.de/x.js")) == {"t.idn"}
    assert ids(m.match_url("https://cdn.xn--mnchen-3ya.de/x.js")) == {"t.idn"}
    assert [h.host for h, _, _ in m.find_in_text('load("https://münchen.de/m.js")')] == ["xn--mnchen-3ya.de"]


def test_wildcards_and_ip_rules():
    m = DomainMatcher([rule("t.sub", domains=["*.pool.example"]), rule("t.glob", domains=["*miner.example"]),
                       rule("t.ip", domains=["10.1.2.3"])])
    assert ids(m.match_url("wss://eu.pool.example/")) == {"t.sub"}
    assert not m.match_url("wss://pool.example/")  # `*.` means subdomains only
    assert ids(m.match_url("https://webminer.example/")) == {"t.glob"}
    assert ids(m.match_url("http://10.1.2.3:3333/")) == {"t.ip"}
    assert [(s, e) for _, s, e in m.find_in_text("x = '10.1.2.3'; y = 110.1.2.34")] == [(5, 13)]


def test_patterns_with_backreferences_and_inline_flags_still_work():
    m = DomainMatcher([rule("t.backref", patterns=[r"/(miner|coin)/\1\.js"]),
                       rule("t.flags", patterns=[r"(?i)/MinerKit\.JS"]),
                       rule("t.plain", patterns=[r"/lib/crypta\.js"])])
    assert ids(m.match_url("/miner/miner.js")) == {"t.backref"}
    assert not m.match_url("/miner/coin.js")
    assert ids(m.match_url("/x/minerkit.js")) == {"t.flags"}
    assert ids(m.match_url("/lib/crypta.js")) == {"t.plain"}


def test_find_in_text_offsets(dm):
    text = ('var a = "wss://ws1.coinhive.com/proxy"; var b = "crypto-loot.com";\n'
            'el.src = "/lib/coinhive.min.js"; // e.exports.com is not a host\n')
    hits = [(h.rule.id, text[s:e]) for h, s, e in dm.find_in_text(text)]
    assert hits == [
        ("domains.coinhive-family", "wss://ws1.coinhive.com/proxy"),
        ("domains.cryptoloot", "crypto-loot.com"),
        ("domains.kit-paths", "/lib/coinhive.min.js"),
    ]


def test_find_in_text_ignores_lookalikes_emails_and_property_chains(dm):
    text = ("coinhive.com.example.org support@coinhive.com window.location.href a.b.c.com "
            "mycoinhive.com e.cc.exports")
    assert dm.find_in_text(text) == []


def test_find_in_text_in_multi_megabyte_text(dm):
    filler = "function f(a){return a.b.c.d+e.com.x(\"//cdn.example.com/x.js\")};" * 60000
    text = filler + 'new WebSocket("wss://pool.supportxmr.com:443");'
    hits = dm.find_in_text(text)
    assert [(h.rule.id, h.host) for h, _, _ in hits] == [("domains.monero-pools", "pool.supportxmr.com")]
    (_, s, e), = hits
    assert text[s:e] == "wss://pool.supportxmr.com:443"


@pytest.mark.parametrize("junk", [
    "", " ", "http://", "http://[", "http://[::1", "://", "//", "https://a..b/", "\x00\x01",
    "https://" + "a" * 100000 + ".com/", "ws://%zz/", "javascript:alert(1)", "https://xn--/",
    "https://\udcff.com/", "https://ex ample.com/", "http://:80/", "😀.com",
])
def test_bad_urls_never_raise(dm, junk):
    assert isinstance(dm.match_url(junk), list)
    assert isinstance(dm.find_in_text(junk), list)
    host_of(junk)


def test_non_string_input_matches_nothing(dm):
    assert dm.match_url(None) == []  # type: ignore[arg-type]
    assert dm.find_in_text(None) == []  # type: ignore[arg-type]


def test_find_in_text_offsets_past_a_character_whose_lower_case_is_longer(dm):
    """U+0130 lowers to two characters; offsets after it still point at the host."""
    text = "var a = '\u0130stanbul \u0130'; var u = 'wss://COINHIVE.com/proxy';"
    assert [text[s:e] for _, s, e in dm.find_in_text(text)] == ["wss://COINHIVE.com/proxy"]
