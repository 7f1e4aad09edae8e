"""SQL injection payloads through every parameter of every endpoint, on both engines.

After each call the canary table still holds its rows, no table was added or dropped, no
call failed with a 5xx, and a payload used as a filter value matched no row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.databases import Database, execute
from tests.support.deals import deals_tables
from tests.support.service import Portal

PAYLOADS = [
    "'; DROP TABLE canary; --",
    "1; DELETE FROM canary",
    "x' OR '1'='1",
    '" OR 1=1 --',
    "` OR 1=1 #",
    "%' OR 1=1 OR '%'='",
    "\\'; DELETE FROM canary; -- ",
    "deals; DROP TABLE canary",
    "deals WHERE 1=1 UNION SELECT * FROM canary",
    "information_schema.tables",
    "pg_catalog.pg_user",
    "mysql.user",
    "1) OR (1=1",
    "%s %s %%s",
    "$1",
    "0x27",
    "Ω'; SELECT 1; --",
]


@pytest.fixture(scope="module", autouse=True)
def canary(pg_db: Database, mysql_db: Database) -> Iterator[None]:
    for db in (pg_db, mysql_db):
        execute(db, "CREATE TABLE canary (id INT)")
        execute(db, "INSERT INTO canary VALUES (1), (2), (3)")
    try:
        with deals_tables(pg_db, mysql_db):
            yield
    finally:
        for db in (pg_db, mysql_db):
            execute(db, "DROP TABLE canary")


def tables(db: Database) -> set[str]:
    if db.engine == "postgresql":
        found = execute(db, "SELECT relname FROM pg_class WHERE relkind IN ('r', 'v', 'm', 'p')")
    else:
        found = execute(db, "SHOW TABLES")
    return {name for (name,) in found}


def calls(db: Database, payload: str) -> list[tuple[str, dict[str, Any]]]:
    """Every parameter of every endpoint carrying ``payload``, the rest a valid call."""
    connection = db.connection()
    base = {"connection": connection, "table": "deals"}
    return [
        ("check", {"connection": {**connection, "database": payload}}),
        ("check", {"connection": {**connection, "username": payload}}),
        ("check", {"connection": {**connection, "schema": payload}}),
        ("table_list", {"connection": connection, "searchString": payload}),
        ("table_description", {"connection": connection, "table": payload}),
        ("data", {**base, "table": payload}),
        ("data", {**base, "select": ["ID", payload]}),
        ("data", {**base, "select": ["ID"], "mapFields": {payload: "ID", "ID": payload}}),
        ("data", {**base, "order": {payload: "ASC"}}),
        ("data", {**base, "order": {"ID": payload}}),
        ("data", {**base, "limit": payload}),
        ("data", {**base, "offset": payload}),
        ("data", {**base, "filter": {payload: "1"}}),
        ("data", {**base, "filter": {"LOGIC": payload, "=ID": "1"}}),
    ]


# A payload as a filter value is only ever a value: it matches nothing in `deals`.
VALUE_FILTERS = ["=STAGE", "%STAGE", "=%NOTE", "@STAGE", "!=ID", ">=DAY", "><AMOUNT"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_payload_changes_or_reveals_anything(portal: Portal, db: Database, payload: str) -> None:
    before = tables(db)

    for action, params in calls(db, payload):
        response = portal.call(db.engine, action, params)
        assert response.status_code < 500, (action, params, response.text)

    for key in VALUE_FILTERS:
        value: Any = [payload, payload] if key.startswith("><") else payload
        params = {"connection": db.connection(), "table": "deals", "filter": {key: value}}
        response = portal.call(db.engine, "data", params)
        assert response.status_code in (200, 400), (key, response.text)
        if response.status_code == 200 and not key.startswith("!"):
            assert response.json()[1:] == [], (key, payload)

    assert execute(db, "SELECT count(*) FROM canary") == [(3,)]
    assert tables(db) == before
