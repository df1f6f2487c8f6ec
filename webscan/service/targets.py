"""Which URLs the service may crawl on someone's behalf.

An audit makes the service's browser fetch a URL a stranger chose: without a check, that is a
way into the operator's own network (server-side request forgery) and to the cloud metadata
endpoint that hands out credentials. So an audit target must be http(s) and every address its
host resolves to must be public, unless the operator runs with `--allow-private` (tests, an
intranet deployment); cloud metadata addresses are refused even then. The browser is then
pinned to the address checked here (Chromium's --host-resolver-rules), so a DNS answer that
changes between check and visit (rebinding) does not reach a private address either.

Names are resolved by a `Resolver` the service is given, not by whatever the process happens to
reach: the system's DNS in production (`system_resolver`), a fixed table for tests and closed
networks (`TableResolver`, `webscan serve --resolve HOST=ADDR`), so a test never sends a query
off the machine and "no such host" does not depend on someone else's DNS server.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from webscan.net.domains import normalise_host
from webscan.net.registrable import origin_of, registrable_domain

METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
    "169.254.170.2",  # AWS ECS task metadata
    "100.100.100.200",  # Alibaba Cloud
    "192.0.0.192",  # Oracle Cloud (classic)
    "fd00:ec2::254",  # AWS over IPv6
))
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})


class TargetRefused(ValueError):
    """The URL may not be audited; the message says why and what would be accepted."""


class NoSuchHost(LookupError):
    """The resolver has no address for the name; the message says why (NXDOMAIN, not in the
    table, no answer in time)."""


class Resolver(Protocol):
    """host name -> its addresses (IP literals never reach a resolver), or NoSuchHost."""

    def __call__(self, host: str) -> list[str]: ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo: /etc/hosts, then DNS), with a deadline:
    a dead DNS server must not hold a request for minutes."""

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s

    def __call__(self, host: str) -> list[str]:
        ex = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        try:
            fut = ex.submit(socket.getaddrinfo, host, None, 0, socket.SOCK_STREAM)
            infos = fut.result(timeout=self.timeout_s)
        except concurrent.futures.TimeoutError:
            raise NoSuchHost(f"no answer from the resolver within {self.timeout_s:.0f} s") \
                from None
        except OSError as e:
            raise NoSuchHost(e.strerror or str(e)) from None
        finally:
            ex.shutdown(wait=False)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


class TableResolver:
    """Answers from a fixed table and nothing else: any other name is no such host, and no
    query leaves the process."""

    def __init__(self, table: Mapping[str, Iterable[str]]) -> None:
        self.table = {normalise_host(name): list(addresses) for name, addresses in table.items()}
        for name, addresses in self.table.items():
            if not addresses:
                raise ValueError(f"the resolver table gives {name} no address")
            for a in addresses:
                ipaddress.ip_address(a)  # ValueError names the bad address

    def __call__(self, host: str) -> list[str]:
        try:
            return list(self.table[host])
        except KeyError:
            raise NoSuchHost("not in this service's resolver table (webscan serve "
                             "--resolve)") from None


def resolver_for(table: Mapping[str, Iterable[str]] | None) -> Resolver:
    """The service's resolver: the table when one is configured (then ONLY the table), else
    the system's."""
    return SystemResolver() if table is None else TableResolver(table)


@dataclass(frozen=True)
class Target:
    url: str
    origin: str
    domain: str
    host: str
    port: int
    addresses: tuple[str, ...]  # what the host resolved to when it was checked


def _forbidden(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_unspecified or ip.is_multicast:
        return "a non-public address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private or (ip.version == 4 and ip in ipaddress.ip_network("100.64.0.0/10")):
        return "a private address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "a non-public address"
    return None


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


def check_target(url: str, *, resolver: Resolver, allow_private: bool) -> Target:
    """Resolve the URL's host and refuse it unless every address is public (or allowed)."""
    origin, domain, host, port = split_target(url)
    if host in METADATA_HOSTS:
        raise TargetRefused(f"{host} is a cloud metadata name, which is never audited")
    if not allow_private and (host.endswith(".internal") or host == "localhost"
                              or host.endswith(".localhost")):
        raise TargetRefused(f"{host} is an internal name; audits only visit public sites "
                            f"(the operator can allow private targets with --allow-private)")
    try:
        addresses = (str(ipaddress.ip_address(host)),)  # a literal needs no resolver
    except ValueError:
        try:
            addresses = tuple(dict.fromkeys(resolver(host)))
        except NoSuchHost as e:
            raise TargetRefused(f"no such host: {host} ({e}); check the host name") from None
    if not addresses:
        raise TargetRefused(f"{host} resolves to no address")
    for a in addresses:
        ip = ipaddress.ip_address(a.split("%")[0])
        if ip in METADATA_ADDRESSES or (ip.version == 6 and ip.ipv4_mapped in METADATA_ADDRESSES):
            raise TargetRefused(f"{host} resolves to {a}, a cloud metadata address, which is "
                                f"never audited")
        if not allow_private:
            why = _forbidden(ip)
            if why:
                raise TargetRefused(f"{host} resolves to {a}, {why}; audits only visit public "
                                    f"sites (the operator can allow this with --allow-private)")
    return Target(url=url, origin=origin, domain=domain, host=host, port=port,
                  addresses=addresses)


def resolver_pin(target: Target) -> str:
    """A Chromium --host-resolver-rules value that pins the audited host to the checked
    address, so the browser cannot be sent elsewhere by a second DNS answer."""
    address = target.addresses[0]
    shown = f"[{address}]" if ":" in address else address
    return f"MAP {target.host} {shown}"
