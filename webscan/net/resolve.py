"""Host names -> addresses, through a resolver the caller is given.

Names are resolved by a `Resolver` handed to whoever checks a destination, not by whatever the
process happens to reach: the system's DNS in production (`SystemResolver`), a fixed table for
tests and closed networks (`TableResolver`, `webscan serve --resolve HOST=ADDR`), so a test
never sends a query off the machine and "no such host" does not depend on someone else's DNS
server. The egress policy (webscan.net.egress) and the service's audit-target check share them.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import socket
from collections.abc import Iterable, Mapping
from typing import Protocol

from webscan.net.domains import normalise_host


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
    """The resolver for a table when one is configured (then ONLY the table), else the
    system's."""
    return SystemResolver() if table is None else TableResolver(table)
