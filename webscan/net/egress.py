"""Where a browser working for someone else may connect: ONE policy for every connection.

An audit (and a `webscan crawl --public-only`) makes our browser fetch what a stranger's page
asks for: the page itself, its redirects, scripts, frames, workers and their imports, sockets,
prefetches. Each of those is a way into the operator's own network (server-side request
forgery) or to the cloud metadata endpoint that hands out credentials, so each is held to the
same rule, decided here: resolve the host with the resolver we were given, refuse cloud
metadata names and addresses always, refuse loopback, private, link-local and other non-public
addresses unless private targets are allowed, and refuse the operator's `--deny-cidr` ranges
even then (their own infrastructure may have public addresses). A name passes only when EVERY
address it resolves to passes, and the caller then connects to one of exactly those addresses:
there is no second resolution for a rebinding DNS server to answer differently.

The policy is applied by the egress proxy (webscan.net.proxy), which the browser is forced to
use for all its traffic; the service's audit-target check (webscan.service.targets) uses the
same object before an audit is even queued.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from webscan.net.resolve import NoSuchHost, Resolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
    "169.254.170.2",  # AWS ECS task metadata
    "100.100.100.200",  # Alibaba Cloud
    "192.0.0.192",  # Oracle Cloud (classic)
    "fd00:ec2::254",  # AWS over IPv6
))
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)


class EgressRefused(ValueError):
    """The destination may not be reached; the message says why and what would be accepted."""


def _plain(ip: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is the IPv4 address it carries."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def non_public(ip: IPAddress) -> str | None:
    """What kind of non-public address `ip` is ("a loopback address", ...), or None if public."""
    ip = _plain(ip)
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_unspecified or ip.is_multicast:
        return "a non-public address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private or (ip.version == 4 and ip in SHARED_ADDRESS_SPACE):
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a non-public address"
    return None


def parse_cidrs(values: Iterable[str], option: str = "--deny-cidr") -> tuple[IPNetwork, ...]:
    """CIDR ranges as given on the command line (a bare address is a /32 or /128), or a
    ValueError whose message names the bad value and shows a good one."""
    out: list[IPNetwork] = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{option} {value!r}: expected an address range such as "
                             f"10.20.0.0/16, 203.0.113.7/32 or 2001:db8::/32") from None
    return tuple(out)


@dataclass(frozen=True)
class EgressPolicy:
    """`resolver` answers names; `allow_private` lets loopback, private and link-local
    addresses through; `allow` ranges count as public (a lab network a researcher trusts);
    `deny` ranges are refused whatever else is set; metadata is refused always. `hint` ends a
    refusal about a non-public address with how to allow it, in the words of the command that
    set the policy."""

    resolver: Resolver
    allow_private: bool = False
    deny: tuple[IPNetwork, ...] = ()
    allow: tuple[IPNetwork, ...] = ()
    hint: str = "only public addresses are reached"

    def check_name(self, host: str) -> None:
        """Names refused before any resolution (metadata names; internal names unless private
        targets are allowed)."""
        if host in METADATA_HOSTS:
            raise EgressRefused(f"{host} is a cloud metadata name, which is never visited")
        if not self.allow_private and (host.endswith(".internal") or host == "localhost"
                                       or host.endswith(".localhost")):
            raise EgressRefused(f"{host} is an internal name; {self.hint}")

    def check_address(self, ip: IPAddress, host: str | None = None) -> None:
        """Refuse `ip` (reached as `host`) unless this policy lets it through."""
        lead = f"{ip} is" if host in (None, str(ip)) else f"{host} resolves to {ip},"
        plain = _plain(ip)
        if plain in METADATA_ADDRESSES:
            raise EgressRefused(f"{lead} a cloud metadata address, which is never visited")
        for net in self.deny:
            if plain in net or ip in net:
                raise EgressRefused(f"{lead} in {net}, a range refused by --deny-cidr")
        if self.allow_private or any(plain in net or ip in net for net in self.allow):
            return
        why = non_public(ip)
        if why:
            raise EgressRefused(f"{lead} {why}; {self.hint}")

    def resolve(self, host: str) -> tuple[str, ...]:
        """Every address `host` (a normalised host name or IP literal) may be reached at, all
        of them checked; EgressRefused when the name or any address is refused, or the name
        does not resolve."""
        self.check_name(host)
        try:
            addresses: tuple[str, ...] = (str(ipaddress.ip_address(host)),)
        except ValueError:
            try:
                addresses = tuple(dict.fromkeys(self.resolver(host)))
            except NoSuchHost as e:
                raise EgressRefused(f"no such host: {host} ({e}); check the host name") \
                    from None
        if not addresses:
            raise EgressRefused(f"{host} resolves to no address")
        for a in addresses:
            self.check_address(ipaddress.ip_address(a.split("%")[0]), host)
        return addresses
