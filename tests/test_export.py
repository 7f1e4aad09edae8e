"""The data endpoint's stream: keep-alive while the database works, broken streams, read-only."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import make_settings
from tests.support.databases import Database, mysql_admin, postgres_admin
from tests.support.service import running_service

_POSTGRES = [
    "CREATE VIEW slow AS SELECT pg_sleep(1.5)::text AS waited, 1 AS n",
    "CREATE VIEW breaks AS SELECT n, 1 / (n - 150000) AS inverse"
    " FROM generate_series(1, 200000) AS n",
    "CREATE TABLE sink (x INT)",
    "CREATE FUNCTION writes() RETURNS INT LANGUAGE sql"
    " AS 'INSERT INTO sink VALUES (1) RETURNING 1'",
    "CREATE VIEW writer AS SELECT writes() AS w",
]
_MYSQL = [
    "CREATE VIEW slow AS SELECT SLEEP(1.5) AS waited, 1 AS n",
    "CREATE VIEW breaks AS SELECT seq AS n,"
    " IF(seq = 150000, (SELECT 1 UNION SELECT 2), 1) AS inverse FROM seq_1_to_200000",
    "CREATE TABLE sink (x INT)",
    "CREATE FUNCTION writes() RETURNS INT MODIFIES SQL DATA"
    " BEGIN INSERT INTO sink VALUES (1); RETURN 1; END",
    "CREATE VIEW writer AS SELECT writes() AS w",
]


@pytest.fixture(scope="module", autouse=True)
def views(pg_db: Database, mysql_db: Database) -> Iterator[None]:
    with postgres_admin(pg_db.name) as admin:
        for statement in _POSTGRES:
            admin.execute(statement.encode())
    with mysql_admin() as admin:
        admin.execute(f"USE `{mysql_db.name}`")
        for statement in _MYSQL:
            admin.execute(statement)
    try:
        yield
    finally:
        with postgres_admin(pg_db.name) as admin:
            admin.execute(b"DROP VIEW slow, breaks, writer")
            admin.execute(b"DROP FUNCTION writes()")
            admin.execute(b"DROP TABLE sink")
        with mysql_admin() as admin:
            admin.execute(f"USE `{mysql_db.name}`")
            admin.execute("DROP VIEW slow, breaks, writer")
            admin.execute("DROP FUNCTION writes")
            admin.execute("DROP TABLE sink")


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
    if db.engine == "postgresql":
        with postgres_admin(db.name) as admin:
            assert admin.execute(b"SELECT count(*) FROM sink").fetchone() == (0,)
    else:
        with mysql_admin() as admin:
            admin.execute(f"SELECT count(*) FROM `{db.name}`.sink")
            assert admin.fetchone() == (0,)
