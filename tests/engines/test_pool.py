"""Connections kept between requests: reused, replaced when broken, closed when idle."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from biconnector.engines.pool import ConnectionHooks, Pools, fingerprint
from biconnector.errors import DatabaseTimeout
from biconnector.protocol.params import ConnectionSettings
from tests.conftest import make_settings
from tests.support.databases import mysql_admin, postgres_admin, unique_name
from tests.support.service import Portal, running_service

SETTINGS = ConnectionSettings("db.example", 5432, "shop", "reader", "s3cret-Passw0rd")


def test_a_fingerprint_never_shows_the_password() -> None:
    key = fingerprint("postgresql", SETTINGS)

    assert "s3cret" not in key
    assert key == fingerprint("postgresql", SETTINGS)
    other = ConnectionSettings("db.example", 5432, "shop", "reader", "wrong")
    assert key != fingerprint("postgresql", other)
    assert key != fingerprint("mysql", SETTINGS)


@pytest.fixture(params=["mysql", "postgresql"])
def databases(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[str]]]:
    """Two empty databases of one engine, with one table each, used by no other test."""
    engine: str = request.param
    names = [unique_name("bc_pool"), unique_name("bc_pool")]
    for name in names:
        if engine == "postgresql":
            with postgres_admin("postgres") as admin:
                admin.execute(f'CREATE DATABASE "{name}"'.encode())
            with postgres_admin(name) as admin:
                admin.execute(b"CREATE TABLE t (id INT)")
        else:
            with mysql_admin() as admin:
                admin.execute(f"CREATE DATABASE `{name}`")
                admin.execute(f"CREATE TABLE `{name}`.t (id INT)")
    try:
        yield engine, names
    finally:
        for name in names:
            if engine == "postgresql":
                with postgres_admin("postgres") as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
            else:
                with mysql_admin() as admin:
                    admin.execute(f"DROP DATABASE IF EXISTS `{name}`")


def connection(engine: str, database: str) -> dict[str, Any]:
    user = "postgres" if engine == "postgresql" else "root"
    return {"host": "127.0.0.1", "database": database, "username": user}


def sessions(engine: str, database: str) -> list[int]:
    """The ids of the database sessions the service holds open on ``database``."""
    if engine == "postgresql":
        with postgres_admin("postgres") as admin:
            found = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s"
                " AND application_name = 'biconnector'",
                (database,),
            ).fetchall()
            return [pid for (pid,) in found]
    with mysql_admin() as admin:
        admin.execute(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID()",
            (database,),
        )
        return [pid for (pid,) in admin.fetchall()]


def kill(engine: str, pid: int) -> None:
    if engine == "postgresql":
        with postgres_admin("postgres") as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    else:
        with mysql_admin() as admin:
            admin.execute(f"KILL {int(pid)}")


def eventually(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_requests_with_the_same_settings_share_one_connection(
    databases: tuple[str, list[str]],
) -> None:
    engine, (name, _) = databases
    with running_service(make_settings()) as url:
        portal = Portal(url, "form")
        for action in ("check", "table_list", "check", "data", "table_description"):
            params = {"connection": connection(engine, name), "table": "t"}
            assert portal.call(engine, action, params).status_code == 200

        assert len(sessions(engine, name)) == 1


def test_a_connection_the_server_dropped_is_replaced(databases: tuple[str, list[str]]) -> None:
    engine, (name, _) = databases
    with running_service(make_settings()) as url:
        portal = Portal(url, "form")
        portal.ok(engine, "check", {"connection": connection(engine, name)})
        (pid,) = sessions(engine, name)

        kill(engine, pid)
        assert eventually(lambda: pid not in sessions(engine, name))

        assert (
            portal.ok(engine, "check", {"connection": connection(engine, name)})["status"] == "ok"
        )
        assert pid not in sessions(engine, name)


def test_idle_connections_are_closed(databases: tuple[str, list[str]]) -> None:
    engine, (name, _) = databases
    with running_service(make_settings(db_pool_idle_timeout=0.3)) as url:
        Portal(url, "form").ok(engine, "check", {"connection": connection(engine, name)})

        assert eventually(lambda: not sessions(engine, name))


def test_the_least_recently_used_pool_is_closed_first(
    databases: tuple[str, list[str]],
) -> None:
    engine, (first, second) = databases
    with running_service(make_settings(db_pools_max=1)) as url:
        portal = Portal(url, "form")
        portal.ok(engine, "check", {"connection": connection(engine, first)})
        portal.ok(engine, "check", {"connection": connection(engine, second)})

        assert eventually(lambda: not sessions(engine, first))
        assert len(sessions(engine, second)) == 1


def test_a_pool_size_of_zero_keeps_nothing(databases: tuple[str, list[str]]) -> None:
    engine, (name, _) = databases
    with running_service(make_settings(db_pool_size=0)) as url:
        Portal(url, "form").ok(engine, "check", {"connection": connection(engine, name)})

        assert eventually(lambda: not sessions(engine, name))


def test_the_service_closes_its_connections_when_it_stops(
    databases: tuple[str, list[str]],
) -> None:
    engine, (name, _) = databases
    with running_service(make_settings()) as url:
        Portal(url, "form").ok(engine, "check", {"connection": connection(engine, name)})
        assert len(sessions(engine, name)) == 1

    assert eventually(lambda: not sessions(engine, name))


def test_a_source_whose_connections_all_stay_busy_gets_a_timeout() -> None:
    async def scenario() -> None:
        async def connect(settings: ConnectionSettings) -> object:
            return object()

        async def yes(*_: object) -> bool:
            return True

        async def close(conn: object) -> None:
            return None

        pools: Pools[object] = Pools(
            "postgresql",
            ConnectionHooks(connect, yes, yes, close),
            size=1,
            idle_timeout=60,
            most=10,
            wait=0.2,
        )
        async with pools.connection(SETTINGS):
            with pytest.raises(DatabaseTimeout, match="stayed busy"):
                async with pools.connection(SETTINGS):
                    pass
        async with pools.connection(SETTINGS):  # free again once the first is given back
            pass
        await pools.close()

    asyncio.run(scenario())
