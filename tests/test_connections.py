"""check and every other endpoint against databases that refuse, vanish or stay silent."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ENGINES
from tests.support.databases import Database, mysql_admin, unique_name
from tests.support.servers import (
    PasswordPostgres,
    password_postgres,
    silent_listener,
    tcp_forwarder,
)
from tests.support.service import Portal

ACTIONS = ["check", "table_list", "table_description", "data"]
WRONG_PASSWORD = "not-the-password-0xC0FFEE"


def params(connection: dict[str, Any]) -> dict[str, Any]:
    return {"connection": connection, "table": "users"}


def assert_error(response: Any, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    for word in words:
        assert word in error["message"]


def test_check_accepts_working_credentials(portal: Portal, db: Database) -> None:
    answer = portal.ok(db.engine, "check", {"connection": db.connection()})

    assert answer["status"] == "ok"


def test_check_at_the_php_implementations_address(form_portal: Portal, db: Database) -> None:
    response = form_portal.call(db.engine, "check", {"connection": db.connection()}, legacy=True)

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.fixture(scope="module")
def pg_with_passwords() -> Iterator[PasswordPostgres]:
    with password_postgres() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def mysql_user() -> Iterator[tuple[str, str, str]]:
    """A MariaDB user with a password, allowed to read one table of a fresh database."""
    user, password, database = unique_name("bc_user"), "Secret-pw-42", unique_name("bc_pw")
    with mysql_admin() as admin:
        admin.execute(f"CREATE DATABASE `{database}`")
        admin.execute(f"CREATE TABLE `{database}`.users (id INT)")
        admin.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        admin.execute(f"GRANT SELECT ON `{database}`.users TO '{user}'@'%'")
    try:
        yield user, password, database
    finally:
        with mysql_admin() as admin:
            admin.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            admin.execute(f"DROP DATABASE IF EXISTS `{database}`")


@pytest.fixture(params=ENGINES)
def password_server(
    request: pytest.FixtureRequest,
) -> dict[str, Any]:
    """Connection settings with the right password, on a server that really checks it."""
    if request.param == "postgresql":
        cluster: PasswordPostgres = request.getfixturevalue("pg_with_passwords")
        return {
            "engine": "postgresql",
            "host": cluster.host,
            "port": cluster.port,
            "database": "postgres",
            "username": cluster.user,
            "password": cluster.password,
        }
    user, password, database = request.getfixturevalue("mysql_user")
    return {
        "engine": "mysql",
        "host": "127.0.0.1",
        "port": 3306,
        "database": database,
        "username": user,
        "password": password,
    }


def test_the_right_password_is_accepted(portal: Portal, password_server: dict[str, Any]) -> None:
    engine, connection = _split(password_server)

    assert portal.ok(engine, "check", {"connection": connection})["status"] == "ok"


@pytest.mark.parametrize("action", ACTIONS)
def test_a_wrong_password_fails_on_every_endpoint(
    portal: Portal, password_server: dict[str, Any], action: str
) -> None:
    engine, connection = _split(password_server)
    connection["password"] = WRONG_PASSWORD

    response = portal.call(engine, action, params(connection))

    assert_error(response, 422, "authentication_failed", connection["username"], "password")
    assert WRONG_PASSWORD not in response.text


def test_an_empty_password_is_refused_too(
    form_portal: Portal, password_server: dict[str, Any]
) -> None:
    engine, connection = _split(password_server)
    connection["password"] = ""

    response = form_portal.call(engine, "check", {"connection": connection})

    assert_error(response, 422, "authentication_failed")


def test_an_unknown_database_is_named(portal: Portal, db: Database) -> None:
    response = portal.call(db.engine, "check", {"connection": db.connection(database="no_such_db")})

    assert_error(response, 422, "unknown_database", "'no_such_db'")


@pytest.mark.parametrize(
    "database",
    ["db?host=/var/run/postgresql", "postgres host=127.0.0.2", "x' port=1 dbname='postgres"],
    ids=["url-query", "conninfo-keywords", "quoted-conninfo"],
)
def test_a_database_name_cannot_carry_connection_options(
    form_portal: Portal, db: Database, database: str
) -> None:
    response = form_portal.call(
        db.engine, "check", {"connection": db.connection(database=database)}
    )

    assert_error(response, 422, "unknown_database", repr(database))


def test_an_unreachable_port_is_reported(portal: Portal, db: Database) -> None:
    closed_port = _free_port()

    response = portal.call(db.engine, "check", {"connection": db.connection(port=closed_port)})

    assert_error(response, 502, "host_unreachable", str(closed_port))


def test_an_unresolvable_host_is_reported(form_portal: Portal, db: Database) -> None:
    connection = db.connection(host="no-such-host.invalid")

    response = form_portal.call(db.engine, "check", {"connection": connection})

    assert_error(response, 502, "host_unreachable", "no-such-host.invalid")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_silent_server_cannot_hold_the_request(form_portal: Portal, engine: str) -> None:
    with silent_listener() as listener:
        connection = {
            "host": "127.0.0.1",
            "port": listener.port,
            "database": "x",
            "username": "u",
        }

        response = form_portal.call(engine, "check", {"connection": connection})

        assert listener.accepted == 1
    assert_error(response, 504, "timeout", "3 seconds")


def test_ipv6_hosts_are_reached(portal: Portal, db: Database) -> None:
    with tcp_forwarder(db.host, db.port, listen_host="::1") as port:
        for host in ("::1", "[::1]"):
            connection = db.connection(host=host, port=port)

            assert portal.ok(db.engine, "check", {"connection": connection})["status"] == "ok"


@pytest.mark.parametrize(
    "host",
    ["/var/run/postgresql", "127.0.0.1,127.0.0.2", "db.example.com:5432", "http://db", ""],
    ids=["socket-path", "host-list", "with-port", "url", "empty"],
)
def test_a_host_must_be_a_name_or_an_address(form_portal: Portal, db: Database, host: str) -> None:
    response = form_portal.call(db.engine, "check", {"connection": db.connection(host=host)})

    assert_error(response, 400, "invalid_request", "connection[host]")


def test_an_unknown_sslmode_is_refused(form_portal: Portal, db: Database) -> None:
    connection = db.connection(sslmode="sometimes")

    response = form_portal.call(db.engine, "check", {"connection": connection})

    assert_error(response, 400, "invalid_request", "sslmode")


def test_sslmode_disable_connects_in_plain_text(form_portal: Portal, db: Database) -> None:
    connection = db.connection(sslmode="disable")

    assert form_portal.ok(db.engine, "check", {"connection": connection})["status"] == "ok"


def test_sslmode_require_fails_against_a_server_without_tls(
    form_portal: Portal, db: Database
) -> None:
    # Neither shared server here has a certificate, so requiring TLS must fail, not fall back.
    connection = db.connection(sslmode="require")

    response = form_portal.call(db.engine, "check", {"connection": connection})

    assert_error(response, 422, "tls_failed", "sslmode=require")


def _split(server: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    connection = dict(server)
    return connection.pop("engine"), connection


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
