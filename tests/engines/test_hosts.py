"""The host guard: only public hosts, or those an operator allows, are ever connected to."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from biconnector.engines.hosts import HostGuard
from biconnector.errors import HostRefused
from tests.conftest import make_settings, production_settings
from tests.support.databases import Database
from tests.support.servers import silent_listener
from tests.support.service import Portal, running_service

# Classified only: the tests never connect to any of these.
REFUSED = [
    "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "127.0.0.1", "224.0.0.1", "240.0.0.1", "::1", "fe80::1", "fc00::1", "ff02::1", "::",
    "::ffff:10.0.0.1", "::ffff:127.0.0.1", "2001:db8::1",
]  # fmt: skip
ALLOWED = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_loopback_private_link_local_reserved_and_multicast_are_refused(address: str) -> None:
    guard = HostGuard.of(production_settings())

    assert not guard.allows(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    guard = HostGuard.of(production_settings())

    assert guard.allows(ipaddress.ip_address(address))


def test_the_allow_list_opens_ranges_and_addresses() -> None:
    settings = production_settings(db_allowed_hosts="10.0.0.0/8, 192.168.1.5")
    guard = HostGuard.of(settings)

    assert guard.allows(ipaddress.ip_address("10.20.30.40"))
    assert guard.allows(ipaddress.ip_address("192.168.1.5"))
    assert not guard.allows(ipaddress.ip_address("192.168.1.6"))


def test_loopback_is_allowed_in_development_and_when_set() -> None:
    loopback = ipaddress.ip_address("127.0.0.1")

    assert HostGuard.of(make_settings(app_env="development")).allows(loopback)
    assert not HostGuard.of(production_settings()).allows(loopback)
    assert HostGuard.of(production_settings(db_allow_loopback=True)).allows(loopback)
    assert not HostGuard.of(make_settings(db_allow_loopback=False)).allows(loopback)


def test_a_host_name_is_checked_by_every_address_it_resolves_to() -> None:
    guard = HostGuard.of(production_settings())

    with pytest.raises(HostRefused, match="DB_ALLOWED_HOSTS"):
        asyncio.run(guard.resolve("localhost", 5432))


def test_a_host_name_on_the_allow_list_is_connected_to_at_the_address_it_resolved_to() -> None:
    guard = HostGuard.of(production_settings(db_allowed_hosts="localhost"))

    address = asyncio.run(guard.resolve("localhost", 5432))

    assert ipaddress.ip_address(address).is_loopback


def test_a_refused_host_is_never_connected_to(db: Database) -> None:
    # Production refuses loopback; the operator allows 127.0.0.1 only. The calls are
    # unsigned, as in a migration window.
    settings = production_settings(db_allowed_hosts="127.0.0.1", allow_unsigned_calls=True)
    with silent_listener("127.0.0.2") as listener, running_service(settings) as url:
        portal = Portal(url, "form")
        assert portal.ok(db.engine, "check", {"connection": db.connection()})["status"] == "ok"

        blocked = db.connection(host="127.0.0.2", port=listener.port)
        response = portal.call(db.engine, "check", {"connection": blocked})

        assert response.status_code == 403
        assert response.json()["error"]["code"] == "host_refused"
        assert "DB_ALLOWED_HOSTS" in response.json()["error"]["message"]
        assert listener.accepted == 0
