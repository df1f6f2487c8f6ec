"""Which URLs the service may crawl on someone's behalf.

An audit makes the service's browser fetch a URL a stranger chose: without a check, that is a
way into the operator's own network (server-side request forgery) and to the cloud metadata
endpoint that hands out credentials. So an audit target must be http(s) and pass the service's
egress policy (webscan.net.egress): every address its host resolves to must be public, unless
the operator runs with `--allow-private` (tests, an intranet deployment), never in a
`--deny-cidr` range, and never a cloud metadata address. This check refuses a bad target before
it is queued; while the audit runs, the SAME policy is applied by the audit's egress proxy to
every connection the browser makes (the page, its redirects, subresources, frames, workers,
sockets), connecting only to the addresses it checked.

Names are resolved by the `Resolver` the service is given (webscan.net.resolve): the system's
DNS in production, a fixed table for tests and closed networks (`webscan serve --resolve`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from webscan.net.domains import normalise_host
from webscan.net.egress import (METADATA_ADDRESSES, METADATA_HOSTS, EgressPolicy,  # noqa: F401
                                EgressRefused, parse_cidrs)
from webscan.net.registrable import origin_of, registrable_domain
from webscan.net.resolve import (NoSuchHost, Resolver, SystemResolver,  # noqa: F401
                                 TableResolver, resolver_for)

AUDIT_HINT = ("audits only visit public sites (the operator can allow this with "
              "--allow-private)")


class TargetRefused(EgressRefused):
    """The URL may not be audited; the message says why and what would be accepted."""


def audit_policy(resolver: Resolver, *, allow_private: bool,
                 deny: Iterable[str] = ()) -> EgressPolicy:
    """The service's egress policy (`webscan serve --allow-private --deny-cidr ...`)."""
    return EgressPolicy(resolver=resolver, allow_private=allow_private,
                        deny=parse_cidrs(deny), hint=AUDIT_HINT)


@dataclass(frozen=True)
class Target:
    url: str
    origin: str
    domain: str
    host: str
    port: int
    addresses: tuple[str, ...]  # what the host resolved to when it was checked


def split_target(url: str) -> tuple[str, str, str, int]:
    """(origin, registrable domain, host, port) of an http(s) URL, or TargetRefused."""
    if any(c < " " or c == "\x7f" for c in url):
        raise TargetRefused("the URL contains control characters (NUL, tab, newline...); "
                            "percent-encode them as browsers do")
    if "\\" in re.split(r"[/?#]", url.strip().partition("://")[2], maxsplit=1)[0]:
        # Browsers read a backslash there as a slash, urlsplit does not: in
        # http://10.0.0.1\@example.com/ the browser visits 10.0.0.1, the check saw example.com.
        raise TargetRefused("a backslash in the URL's host part is not accepted; browsers "
                            "read it as a slash, so the URL would not reach the host it names")
    if "@" in re.split(r"[/?#]", url.strip().partition("://")[2], maxsplit=1)[0]:
        raise TargetRefused("user names and passwords in URLs are not accepted; send the URL "
                            "without the `user:password@` part")
    origin = origin_of(url)
    if origin is None:
        raise TargetRefused("only absolute http:// or https:// URLs with a host are "
                            "accepted, e.g. https://example.com/")
    parts = urlsplit(url.strip())
    host = normalise_host(parts.hostname or "")
    if not host:
        raise TargetRefused("the URL has no usable host name")
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    return origin, registrable_domain(host) or host, host, port


def check_target(url: str, *, resolver: Resolver, allow_private: bool,
                 deny: Iterable[str] = ()) -> Target:
    """Resolve the URL's host and refuse it unless the service's policy lets every address
    through."""
    origin, domain, host, port = split_target(url)
    policy = audit_policy(resolver, allow_private=allow_private, deny=deny)
    try:
        addresses = policy.resolve(host)
    except EgressRefused as e:
        raise TargetRefused(str(e)) from None
    return Target(url=url, origin=origin, domain=domain, host=host, port=port,
                  addresses=addresses)
