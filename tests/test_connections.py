"""check and every other endpoint against databases that refuse, vanish or stay silent."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ENGINES
from tests.support.databases import Database, mysql_admin, postgres_admin, unique_name
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
    """A MariaDB user with a password, allowed to read one table of a fresh database.

    The password is not ASCII: servers compare the UTF-8 bytes a client sends.
    """
    user, password, database = unique_name("bc_user"), "Пароль-café-42", unique_name("bc_pw")
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


@pytest.mark.parametrize(
    "database",
    ["no_such_db", "user_roles", "ssl_certificate"],
    ids=["plain", "name-with-role", "name-with-ssl"],
)
def test_an_unknown_database_is_named(portal: Portal, db: Database, database: str) -> None:
    # The server's message repeats the name; only the server's own words may decide.
    response = portal.call(db.engine, "check", {"connection": db.connection(database=database)})

    assert_error(response, 422, "unknown_database", repr(database))


# Each name would connect successfully, or somewhere else, if it were pasted into a URL or a
# connection string; passed as its own parameter it is just a database that does not exist.
URL_OPTION = {"postgresql": "application_name=x", "mysql": "charset=utf8mb4"}


@pytest.mark.parametrize(
    "template",
    ["{name}?{url_option}", "{name} host=127.0.0.2", "x' port=1 dbname='{name}"],
    ids=["url-query", "conninfo-keywords", "quoted-conninfo"],
)
def test_a_database_name_cannot_carry_connection_options(
    form_portal: Portal, db: Database, template: str
) -> None:
    database = template.format(name=db.name, url_option=URL_OPTION[db.engine])

    response = form_portal.call(
        db.engine, "check", {"connection": db.connection(database=database)}
    )

    assert_error(response, 422, "unknown_database", repr(database))


@pytest.fixture
def pg_without_connect(pg_db: Database) -> Iterator[dict[str, Any]]:
    """A PostgreSQL database whose CONNECT privilege was taken from everyone but its owner."""
    database, user = unique_name("bc_closed"), unique_name("bc_outsider")
    with postgres_admin("postgres") as admin:
        admin.execute(f"CREATE DATABASE {database}".encode())
        admin.execute(f"REVOKE CONNECT ON DATABASE {database} FROM PUBLIC".encode())
        admin.execute(f"CREATE ROLE {user} LOGIN".encode())
    try:
        yield pg_db.connection(database=database, username=user)
    finally:
        with postgres_admin("postgres") as admin:
            admin.execute(f"DROP DATABASE {database} WITH (FORCE)".encode())
            admin.execute(f"DROP ROLE {user}".encode())


def test_a_database_the_user_may_not_connect_to_is_named(
    portal: Portal, pg_without_connect: dict[str, Any]
) -> None:
    response = portal.call("postgresql", "check", {"connection": pg_without_connect})

    assert_error(response, 422, "unknown_database", pg_without_connect["database"], "CONNECT")


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ("no_such_schema", ["'no_such_schema'", "case-sensitive"]),
        ("sales data", ["'sales data'", "case-sensitive"]),
        ("pg_catalog", ["system schema"]),
    ],
    ids=["unknown", "wrong-case", "system"],
)
@pytest.mark.parametrize("action", ACTIONS)
def test_a_schema_that_would_list_nothing_is_refused(
    form_portal: Portal, pg_db: Database, schema: str, words: list[str], action: str
) -> None:
    connection = pg_db.connection(schema=schema)

    response = form_portal.call("postgresql", action, params(connection))

    assert_error(response, 422, "unknown_schema", *words)


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
