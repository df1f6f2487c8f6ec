"""Registrable domains and third-party checks, offline, on tldextract's bundled suffix list."""

from __future__ import annotations

import importlib
import socket

import pytest

from webscan.net import registrable
from webscan.net.registrable import is_third_party, registrable_domain


@pytest.mark.parametrize("given, expected", [
    ("coinhive.com", "coinhive.com"),
    ("ws014.coinhive.com", "coinhive.com"),
    ("https://a.b.example.co.uk:8443/x?y", "example.co.uk"),
    ("WWW.Example.COM.", "example.com"),
    ("alice.github.io", "alice.github.io"),  # private suffixes count, as in browsers
    ("co.uk", "co.uk"),
    ("127.0.0.1", "127.0.0.1"),
    ("http://[::1]:8080/", "::1"),
    ("localhost", "localhost"),
    ("http://localhost:3000/app", "localhost"),
    ("a.b.corp-internal", "b.corp-internal"),  # unknown TLD: the list's default `*` rule
    ("cdn.münchen.de", "xn--mnchen-3ya.de"),
    ("wss://pool.supportxmr.com:443", "supportxmr.com"),
])
def test_registrable_domain(given, expected):
    assert registrable_domain(given) == expected


@pytest.mark.parametrize("given", ["", "   ", "/relative/path.js", "data:text/html,x", "javascript:x()",
                                   "http://[", "\x00"])
def test_no_host_gives_none(given):
    assert registrable_domain(given) is None


@pytest.mark.parametrize("url, page, expected", [
    ("https://coinhive.com/lib/coinhive.min.js", "https://www.example.com/", True),
    ("https://static.example.com/app.js", "https://www.example.com/", False),
    ("/js/app.js", "https://www.example.com/a/b.html", False),
    ("js/app.js", "https://www.example.com/a/b.html", False),
    ("//cdn.other.net/x.js", "https://www.example.com/", True),
    ("https://bob.github.io/x.js", "https://alice.github.io/", True),
    ("http://127.0.0.1:8000/x.js", "http://127.0.0.1/", False),
    ("data:text/javascript,1", "https://www.example.com/", False),
    ("https://coinhive.com/x.js", None, None),  # no page: cannot tell
    ("/x.js", None, False),  # relative: the page's own site
])
def test_is_third_party(url, page, expected):
    assert is_third_party(url, page) is expected


def test_extractor_is_configured_never_to_fetch():
    e = registrable.EXTRACTOR
    assert tuple(e.suffix_list_urls) == ()
    assert e.fallback_to_snapshot is True
    assert e._cache.enabled is False  # no cache directory is read or written


def test_works_with_the_network_blocked(monkeypatch):
    """Sockets raise for the whole test: building the extractor and the first lookups
    (which load the suffix list) must not try to connect anywhere."""
    attempts = []

    def refuse(self, address, *a, **k):
        attempts.append(address)
        raise OSError(f"network blocked in test: connect to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: refuse(None, address))
    fresh = importlib.reload(registrable)
    try:
        assert fresh.registrable_domain("a.b.example.co.uk") == "example.co.uk"
        assert fresh.registrable_domain("x.y.blogspot.com") == "y.blogspot.com"
        assert fresh.is_third_party("https://coinhive.com/x.js", "https://www.example.org/") is True
    finally:
        monkeypatch.undo()
        importlib.reload(registrable)
    assert attempts == []
