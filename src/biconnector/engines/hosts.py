"""The host guard: which database hosts the service may connect to.

A request names the host to connect to, so without a guard the service is a proxy into
the network it runs in. The host is resolved once; every address it resolves to must be
public, or allowed by DB_ALLOWED_HOSTS (host names, addresses and CIDR ranges), or
loopback where loopback is allowed; the connection then goes to the checked address, so
that a second lookup cannot answer differently.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

from biconnector.errors import HostRefused, HostUnreachable
from biconnector.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class HostGuard:
    names: frozenset[str]
    networks: tuple[IPNetwork, ...]
    loopback: bool

    @classmethod
    def of(cls, settings: Settings) -> HostGuard:
        names, networks = set(), []
        for entry in settings.db_allowed_hosts_list:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.add(entry.lower().rstrip("."))
        return cls(frozenset(names), tuple(networks), settings.loopback_allowed)

    async def resolve(self, host: str, port: int) -> str:
        """The address to connect to for ``host``; refused unless every address is allowed."""
        by_name = host.lower().rstrip(".") in self.names
        addresses = await _addresses(host, port)
        if not by_name:
            refused = [address for address in addresses if not self.allows(address)]
            if refused:
                raise HostRefused(
                    f"The service may not connect to {host!r} ({refused[0]}): it is a "
                    "loopback, private, link-local or reserved address. Its operator can "
                    "allow it with DB_ALLOWED_HOSTS."
                )
        return str(addresses[0])

    def allows(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.networks):
            return True
        if address.is_loopback:
            return self.loopback
        return address.is_global and not address.is_multicast


async def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise HostUnreachable(f"The host name {host!r} could not be resolved.") from exc
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses
