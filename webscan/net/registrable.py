"""Registrable domains (eTLD+1) and first- versus third-party, offline.

A miner loaded from the page's own site (self-hosted, first-party proxy) and one loaded from a
mining service read differently to a site owner, so findings say which it is. tldextract is
built on its BUNDLED public suffix list and told never to fetch: a scanner in CI or behind a
firewall must give the same answer every time and never stall on the network.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urljoin

import tldextract

from webscan.net.domains import host_of, normalise_host

EXTRACTOR = tldextract.TLDExtract(
    suffix_list_urls=(),  # never fetch a fresh list
    cache_dir=None,  # never read or write a cache directory
    fallback_to_snapshot=True,  # the suffix list snapshot shipped inside the package
    include_psl_private_domains=True,  # a.github.io and b.github.io are different sites, as in browsers
)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


@lru_cache(maxsize=4096)
def registrable_domain(host_or_url: str) -> str | None:
    """The registrable domain (eTLD+1) of a host or URL, or None when there is no host.

    IP addresses and single-label hosts (localhost, intranet names) are their own site. A TLD the
    suffix list does not know is treated as a public suffix (the list's default `*` rule), so
    `a.b.internal` belongs to `b.internal`. A host that IS a public suffix (`co.uk`) is its own site.
    """
    if not isinstance(host_or_url, str) or not host_or_url.strip():
        return None
    s = host_or_url.strip()
    host = host_of(s) if ("/" in s or ":" in s) and not _is_ip(s.strip("[]")) else normalise_host(s)
    if not host:
        return None
    if _is_ip(host) or "." not in host:
        return host
    ext = EXTRACTOR(host)
    if ext.suffix and ext.domain:
        return f"{ext.domain}.{ext.suffix}"
    if ext.suffix:  # the host is itself a public suffix
        return ext.suffix
    labels = host.split(".")
    return ".".join(labels[-2:])


def is_third_party(url: str, page_url: str | None) -> bool | None:
    """Whether `url` is served by another site than `page_url` (by registrable domain).

    Relative URLs resolve against the page and are first-party; `data:`, `blob:` of the page and
    `javascript:` URLs are first-party too. None when it cannot be told (no page URL for an
    absolute URL, or a URL without a host).
    """
    if not isinstance(url, str):
        return None
    u = url.strip()
    low = u.lower()
    if low.startswith(("data:", "javascript:", "about:", "srcdoc")):
        return False
    if not page_url:
        return None if host_of(u) else False
    try:
        absolute = urljoin(page_url, u)
    except ValueError:
        return None
    mine = registrable_domain(page_url)
    theirs = registrable_domain(absolute)
    if mine is None or theirs is None:
        return None
    return mine != theirs


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """The web origin (`scheme://host[:port]`) of an absolute http(s) URL, normalised as
    browsers do (lower case, IDNA host, default port dropped); None for anything else."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = normalise_host(parts.hostname)
    if not host:
        return None
    shown = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        shown += f":{port}"
    return f"{scheme}://{shown}"
