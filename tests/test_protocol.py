"""Pool protocol shapes: live frames and static token presence."""

from __future__ import annotations

import json

import pytest

from webscan.net.protocol import ProtocolMatcher
from webscan.rules.loader import load_signatures
from webscan.rules.schema import ProtocolRule


def _rule(rid, shape, direction="client"):
    return ProtocolRule(id=rid, description="a protocol rule for a test", severity="high",
                        category="pool-protocol", protocol="p", direction=direction, message="m",
                        shape=shape, samples={"match": ["{}"], "no_match": ["{}"]})


@pytest.fixture(scope="module")
def matcher() -> ProtocolMatcher:
    return ProtocolMatcher([
        _rule("p.login", {"method": "login", "params": {"login": "*", "pass": "*"}}),
        _rule("p.any", {"method": "mining.subscribe", "params": "*"}),
        _rule("p.list", {"params": ["*"], "kind": "batch"}),
    ])


def ids(rules):
    return {r.id for r in rules}


def test_match_message_by_shape(matcher):
    assert ids(matcher.match_message({"id": 1, "method": "login", "params": {"login": "w", "pass": "x", "agent": "a"}})) == {"p.login"}
    assert ids(matcher.match_message({"method": "login", "params": {"login": "w"}})) == set()  # key missing
    assert ids(matcher.match_message({"method": "logout", "params": {"login": "w", "pass": "x"}})) == set()
    assert ids(matcher.match_message({"method": "login", "params": "login pass"})) == set()  # not an object
    assert ids(matcher.match_message({"method": "mining.subscribe", "params": None})) == {"p.any"}
    assert ids(matcher.match_message({"kind": "batch", "params": [1, 2]})) == {"p.list"}
    assert ids(matcher.match_message({"kind": "batch", "params": {"a": 1}})) == set()


def test_match_message_accepts_batches_and_junk(matcher):
    batch = [{"x": 1}, {"method": "mining.subscribe", "params": []}]
    assert ids(matcher.match_message(batch)) == {"p.any"}
    for junk in [None, 3, "login", [], {}, [[]], {"method": ["login"]}]:
        assert matcher.match_message(junk) == []


def test_match_tokens_needs_every_key_and_value(matcher):
    toks = {"method", "login", "params", "pass"}
    assert ids(matcher.match_tokens(toks)) == {"p.login"}
    assert ids(matcher.match_tokens(toks - {"pass"})) == set()
    # fixed values must occur as strings when the caller says which tokens were strings
    assert ids(matcher.match_tokens(toks, strings={"pass"})) == set()
    assert ids(matcher.match_tokens(toks, strings={"login"})) == {"p.login"}


def test_vocabulary_and_tokens_of(matcher):
    assert {"method", "login", "params", "pass", "mining.subscribe", "kind", "batch"} <= matcher.vocabulary
    assert "*" not in matcher.vocabulary
    assert matcher.fixed_values == {"login", "mining.subscribe", "batch"}
    keys, values = matcher.tokens_of(matcher.rules[0])
    assert keys == {"method", "params", "login", "pass"} and values == {"login"}


def test_bundled_protocol_samples():
    """Every bundled rule matches its own samples (the lead's sample test does this for all kinds)."""
    sigs = load_signatures()
    m = ProtocolMatcher(sigs.protocol)
    assert sigs.protocol
    for rule in sigs.protocol:
        for s in rule.samples.match:
            assert rule in m.match_message(json.loads(s)), (rule.id, s)
        for s in rule.samples.no_match:
            assert rule not in m.match_message(json.loads(s)), (rule.id, s)


def test_chat_messages_are_not_pool_messages():
    m = ProtocolMatcher(load_signatures().protocol)
    for frame in [{"type": "auth", "params": {"token": "t"}}, {"type": "message", "params": {"text": "hi"}},
                  {"method": "login", "params": {"username": "a", "password": "b"}}]:
        assert m.match_message(frame) == []
