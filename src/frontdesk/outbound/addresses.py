"""Which addresses frontdesk may connect to on its own initiative (tools, webhooks, channels).

Only globally routable unicast addresses, unless the operator allows a host or network. The
test is `ipaddress`'s `is_global` plus the ranges it lets through or that an older Python
counts as global: shared address space (100.64.0.0/10, where 100.100.100.200 is a cloud
metadata service), IETF protocol assignments (192.0.0.0/24), reserved, multicast,
link-local (169.254.169.254), the unspecified address, and known metadata services at global
addresses (Azure's WireServer, 168.63.129.16). IPv4 addresses mapped into IPv6
(::ffff:a.b.c.d) and 6to4 (2002::/16) are judged by the IPv4 address inside them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], Awaitable[list[str]]]

_NOT_GLOBAL = [
    ipaddress.ip_network("100.64.0.0/10"),  # shared address space (carrier-grade NAT)
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments
]


# Cloud instance metadata services (where a machine's credentials are served) outside the
# link-local ranges, and the names they answer to: Alibaba Cloud, AWS over IPv6, Azure's
# WireServer; GCP's and AWS's names.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("100.100.100.200", "fd00:ec2::254", "168.63.129.16")
)
METADATA_HOSTS = frozenset(
    {"metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"}
)


class AddressRefused(OSError):
    """A connection refused by the address policy. An OSError, so callers that already handle
    a failed connection (webhook retries, channel posts) handle this one too."""


async def resolve(host: str) -> list[str]:
    """The host's addresses, from the system resolver (off the event loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _embedded(address: IPAddress) -> list[IPAddress]:
    """The addresses to judge: a mapped IPv4 address stands for itself (the socket reaches
    the IPv4 host); a 6to4 address is judged with the IPv4 address inside it."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return [address.ipv4_mapped]
        if address.sixtofour is not None:
            return [address, address.sixtofour]
    return [address]


def is_global(address: IPAddress) -> bool:
    """True only for an address anyone on the internet could reach."""
    for candidate in _embedded(address):
        if (
            not candidate.is_global
            or candidate.is_private
            or candidate.is_loopback
            or candidate.is_link_local
            or candidate.is_multicast
            or candidate.is_reserved
            or candidate.is_unspecified
            or any(candidate in network for network in _NOT_GLOBAL)
            or candidate in METADATA_ADDRESSES  # Azure's WireServer is a global address
        ):
            return False
    return True


def is_link_local_or_metadata(address: IPAddress) -> bool:
    """A link-local address (169.254.0.0/16, fe80::/10: where 169.254.169.254 serves cloud
    credentials) or a known metadata service. Loopback and private addresses are not."""
    return any(
        candidate.is_link_local or candidate in METADATA_ADDRESSES
        for candidate in _embedded(address)
    )


def parse_address(host: str) -> IPAddress | None:
    """The host as an IP address when it is one (brackets and an IPv6 zone dropped)."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


class AddressPolicy:
    """Global addresses, plus the hosts and networks in `allow` (the operator's own)."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.hosts: set[str] = set()
        self.networks: list[Network] = []
        for entry in allow:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.strip().lower().rstrip("."))

    def allowed(self, host: str, address: IPAddress) -> bool:
        if host.lower().rstrip(".") in self.hosts:
            return True
        if any(candidate in n for n in self.networks for candidate in _embedded(address)):
            return True
        return is_global(address)

    async def addresses(self, host: str, resolver: Resolver = resolve) -> list[IPAddress]:
        """The host's addresses, resolved once; refused unless every one is allowed (a name
        that also points at a private address is refused, whichever one a connection would
        pick)."""
        literal = parse_address(host)
        if literal is not None:
            found = [literal]
        else:
            # An unknown name raises the resolver's own OSError (socket.gaierror).
            found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in await resolver(host)]
        if not found:
            raise AddressRefused(f"{host} has no address")
        for address in found:
            if not self.allowed(host, address):
                raise AddressRefused(self.refusal(host, address))
        return found

    def refusal(self, host: str, address: IPAddress) -> str:
        return (
            f"refusing {host} ({address}): not a public internet address (private, "
            "loopback, link-local, shared or reserved); add the host or its network "
            "to `allow` if it is your own service"
        )

    async def check(self, host: str, resolver: Resolver = resolve) -> None:
        await self.addresses(host, resolver)


def configured_hosts(urls: Iterable[str]) -> list[str]:
    """The hosts of URLs the operator wrote in the configuration (webhook receivers, the
    help desk, channel APIs): trusted as written, even on a private network. Where they
    redirect, and URLs their answers hand back, are judged like any other address."""
    return sorted({host for url in urls if (host := urlsplit(url).hostname)})
