"""The data endpoint's stream: keep-alive while the database works, broken streams, read-only."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from biconnector.portal.store import Portal, Portals, Tokens
from tests.conftest import make_settings
from tests.support.databases import (
    Database,
    created,
    execute,
    mysql_admin,
    postgres_admin,
    unique_name,
)
from tests.support.service import running_service

_POSTGRES = [
    "CREATE VIEW slow AS SELECT pg_sleep(1.5)::text AS waited, 1 AS n",
    "CREATE VIEW sleepy AS SELECT pg_sleep(60)::text AS waited",
    "CREATE VIEW breaks AS SELECT n, 1 / (n - 150000) AS inverse"
    " FROM generate_series(1, 200000) AS n",
    "CREATE TABLE sink (x INT)",
    "CREATE FUNCTION writes() RETURNS INT LANGUAGE sql"
    " AS 'INSERT INTO sink VALUES (1) RETURNING 1'",
    "CREATE VIEW writer AS SELECT writes() AS w",
]
_MYSQL = [
    "CREATE VIEW slow AS SELECT SLEEP(1.5) AS waited, 1 AS n",
    "CREATE VIEW sleepy AS SELECT SLEEP(60) AS waited",
    "CREATE VIEW breaks AS SELECT seq AS n,"
    " IF(seq = 150000, (SELECT 1 UNION SELECT 2), 1) AS inverse FROM seq_1_to_200000",
    "CREATE TABLE sink (x INT)",
    "CREATE FUNCTION writes() RETURNS INT MODIFIES SQL DATA"
    " BEGIN INSERT INTO sink VALUES (1); RETURN 1; END",
    "CREATE VIEW writer AS SELECT writes() AS w",
]


@pytest.fixture(scope="module", autouse=True)
def views(pg_db: Database, mysql_db: Database) -> Iterator[None]:
    execute(pg_db, *_POSTGRES)
    execute(mysql_db, *_MYSQL)
    try:
        yield
    finally:
        execute(pg_db, "DROP VIEW slow, sleepy, breaks, writer", "DROP FUNCTION writes()")
        execute(mysql_db, "DROP VIEW slow, sleepy, breaks, writer", "DROP FUNCTION writes")
        for db in (pg_db, mysql_db):
            execute(db, "DROP TABLE sink")


@pytest.fixture(scope="module")
def impatient() -> Iterator[str]:
    """A service that sends a keep-alive after 0.3 seconds without rows."""
    with running_service(make_settings(data_keepalive_interval=0.3)) as url:
        yield url


def raw_body(url: str, db: Database, table: str) -> tuple[int, bytes]:
    params = {"connection": db.connection(), "table": table}
    with httpx.stream("POST", f"{url}/connectors/{db.engine}/data", json=params, timeout=60) as r:
        received = b""
        try:
            for chunk in r.iter_raw():
                received += chunk
        except httpx.RemoteProtocolError:
            pass  # the service broke the connection off: what came is what we judge
        return r.status_code, received


def test_a_slow_query_keeps_the_connection_busy_and_the_body_parses(
    impatient: str, db: Database
) -> None:
    status, body = raw_body(impatient, db, "slow")

    header = b'[["WAITED", "N"]'
    assert status == 200
    assert body.startswith(header + b" ")  # a keep-alive came before the row
    assert json.loads(body)[0] == ["WAITED", "N"]
    assert json.loads(body)[1][1] == 1


def test_a_query_that_fails_midway_never_gives_a_complete_array(service: str, db: Database) -> None:
    status, body = raw_body(service, db, "breaks")

    assert status == 200  # rows were already on their way
    assert body.startswith(b'[["N", "INVERSE"],[1,')
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


def test_the_database_refuses_writes_through_the_services_sessions(
    service: str, db: Database
) -> None:
    status, body = raw_body(service, db, "writer")

    # PostgreSQL refuses the INSERT; MariaDB refuses even to open the view in a read-only
    # session, so it is never listed.
    expected = {"postgresql": (502, "database_error"), "mysql": (404, "not_found")}[db.engine]
    assert (status, json.loads(body)["error"]["code"]) == expected
    assert execute(db, "SELECT count(*) FROM sink") == [(0,)]


def test_a_client_that_leaves_a_slow_query_cancels_it(impatient: str, db: Database) -> None:
    params = {"connection": db.connection(), "table": "sleepy"}
    url = f"{impatient}/connectors/{db.engine}/data"
    with httpx.stream("POST", url, json=params, timeout=30) as response:
        assert next(response.iter_raw()).startswith(b'[["WAITED"]')  # after a keep-alive

    deadline = time.monotonic() + 20
    while _sleeping(db) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _sleeping(db), "the query went on after the client left"


def _sleeping(db: Database) -> bool:
    """Whether the service's query on the view `sleepy` still runs in the database."""
    if db.engine == "postgresql":
        with postgres_admin(db.name) as admin:
            found = admin.execute(
                b"SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                b" AND query LIKE '%sleepy%' AND application_name = 'biconnector'"
            ).fetchone()
        return bool(found and found[0])
    with mysql_admin() as admin:
        admin.execute(
            "SELECT count(*) FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query'"
            " AND INFO LIKE '%%sleepy%%' AND ID <> CONNECTION_ID()"
        )
        return bool(admin.fetchone()[0])


@pytest.fixture
def win1251() -> Iterator[Database]:
    """A PostgreSQL database in a legacy encoding, with Cyrillic names and values."""
    name = unique_name("bc_win")
    with postgres_admin("postgres") as admin:
        admin.execute(
            f"CREATE DATABASE {name} ENCODING 'WIN1251' LC_COLLATE 'C' LC_CTYPE 'C'"
            " TEMPLATE template0".encode()
        )
    try:
        with postgres_admin(name) as admin:
            # Text, not bytes: psycopg encodes it in the database's encoding.
            admin.execute("CREATE TABLE люди (имя TEXT)")
            admin.execute("INSERT INTO люди VALUES ('Иван')")
        yield Database("postgresql", "127.0.0.1", 5432, name, "postgres")
    finally:
        with postgres_admin("postgres") as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())


def test_a_database_in_another_encoding_exports_utf8(service: str, win1251: Database) -> None:
    status, body = raw_body(service, win1251, "lyudi")

    assert status == 200, body
    assert json.loads(body) == [["IMYA"], ["Иван"]]


@pytest.fixture
def huge_blob(mysql_db: Database) -> Iterator[Database]:
    table = ["CREATE TABLE huge (id INT, data LONGBLOB)",
             "INSERT INTO huge VALUES (1, REPEAT('a', 13000000))"]  # fmt: skip
    with created(mysql_db, table, ["DROP TABLE huge"]):
        yield mysql_db


def test_a_row_too_large_for_mysql_is_an_error_never_a_null(
    service: str, huge_blob: Database
) -> None:
    status, body = raw_body(service, huge_blob, "huge")

    assert status == 502
    assert "max_allowed_packet" in json.loads(body)["error"]["message"]


def test_exports_beyond_the_hosts_limit_get_a_429(db: Database) -> None:
    settings = make_settings(max_exports_per_host=1, data_keepalive_interval=0.2)
    with running_service(settings) as url:
        params = {"connection": db.connection(), "table": "slow"}
        endpoint = f"{url}/connectors/{db.engine}/data"
        with httpx.stream("POST", endpoint, json=params, timeout=30) as first:
            chunks = first.iter_raw()  # kept: a dropped iterator would close the response
            received = next(chunks)  # the first export is under way

            second = httpx.post(endpoint, json=params, timeout=30)

            assert second.status_code == 429
            assert second.json()["error"]["code"] == "too_many_exports"
            assert "MAX_EXPORTS_PER_HOST" in second.json()["error"]["message"]
            assert json.loads(received + b"".join(chunks))[1][1] == 1
        assert httpx.post(endpoint, json=params, timeout=30).status_code == 200


def test_exports_beyond_the_portals_limit_get_a_429(db: Database, tmp_path: Path) -> None:
    settings = make_settings(
        max_exports_per_portal=1,
        data_keepalive_interval=0.2,
        app_database_url=f"sqlite:///{tmp_path / 'state.sqlite3'}",
    )
    with running_service(settings) as url:
        portals = Portals.of(settings)
        portal = Portal(
            member_id="c0ffee00c0ffee00c0ffee00c0ffee00",
            domain="example.bitrix24.com",
            client_endpoint="https://example.bitrix24.com/rest/",
            scope="biconnector",
            tokens=Tokens("access", "refresh", int(time.time()) + 3600),
            installed_at=datetime.datetime.now(datetime.UTC),
        )
        portals.save(portal, "application-token")
        signed = urlencode(portals.keys.credential(portal.member_id))
        portals.close()
        params = {"connection": db.connection(), "table": "slow"}
        endpoint = f"{url}/connectors/{db.engine}/data"
        with httpx.stream("POST", f"{endpoint}?{signed}", json=params, timeout=30) as first:
            chunks = first.iter_raw()
            received = next(chunks)

            second = httpx.post(f"{endpoint}?{signed}", json=params, timeout=30)
            unsigned = httpx.post(endpoint, json=params, timeout=30)

            assert second.status_code == 429
            assert "MAX_EXPORTS_PER_PORTAL" in second.json()["error"]["message"]
            # Unsigned calls (allowed in development) belong to no portal.
            assert unsigned.status_code == 200
            assert json.loads(received + b"".join(chunks))[1][1] == 1
