"""The rows the database writes as JSON equal the rows Python encodes, column by column."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from decimal import Decimal
from typing import Any

import pytest

from biconnector.engines.base import Engine, Query, Session
from biconnector.engines.mysql import MySQLEngine
from biconnector.engines.postgresql import PostgresEngine
from biconnector.protocol.naming import TableName
from biconnector.protocol.params import read_connection
from tests.conftest import make_settings
from tests.support.databases import Database, mysql_admin
from tests.support.deals import deals_tables

ENGINES = {"mysql": MySQLEngine, "postgresql": PostgresEngine}


_MYSQL_ODD = [
    "CREATE TABLE odd_types (f FLOAT ZEROFILL, i INT ZEROFILL, d DECIMAL(8,2) ZEROFILL,"
    " u FLOAT UNSIGNED, y YEAR, t TEXT CHARACTER SET latin1)",
    "INSERT INTO odd_types VALUES (0.1, 42, 3.5, 3.3, 0, 'caf\u00e9'), (1e-10, 0, 0, 16777217,"
    " 1999, NULL), (NULL, NULL, NULL, NULL, NULL, 'a\tb')",
]


@pytest.fixture(scope="module", autouse=True)
def deals(pg_db: Database, mysql_db: Database) -> Any:
    with mysql_admin() as admin:
        admin.execute(f"USE `{mysql_db.name}`")
        for statement in _MYSQL_ODD:
            admin.execute(statement)
    try:
        with deals_tables(pg_db, mysql_db):
            yield
    finally:
        with mysql_admin() as admin:
            admin.execute(f"DROP TABLE `{mysql_db.name}`.odd_types")


async def parsed(chunks: AsyncGenerator[bytes, None]) -> list[Any]:
    body = b"[" + b",".join([chunk async for chunk in chunks]) + b"]"
    return list(json.loads(body, parse_float=Decimal))


async def compare_every_column(engine: Engine, db: Database) -> list[str]:
    """The columns, as table.column, whose two encodings differ; each compared alone."""
    connection = read_connection({"connection": db.connection()}, engine.default_port)
    differences = []
    try:
        async with engine.session(connection) as session:
            for table in await session.tables():
                for column in await session.columns(table):
                    query = Query(table, (column,))
                    fast = await parsed(session.json_rows(query))
                    reference = await parsed(session.encoded_rows(query))
                    if fast != reference:
                        differences.append(f"{table.name}.{column.name}: {fast} != {reference}")
    finally:
        await engine.close()
    return differences


@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_the_database_writes_every_value_as_python_would(
    engine_name: str, request: pytest.FixtureRequest
) -> None:
    db: Database = request.getfixturevalue("mysql_db" if engine_name == "mysql" else "pg_db")
    engine = ENGINES[engine_name](make_settings())

    assert asyncio.run(compare_every_column(engine, db)) == []


@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_the_same_holds_in_another_time_zone(
    engine_name: str, request: pytest.FixtureRequest
) -> None:
    db: Database = request.getfixturevalue("mysql_db" if engine_name == "mysql" else "pg_db")
    engine = ENGINES[engine_name](make_settings(export_timezone="America/New_York"))

    assert asyncio.run(compare_every_column(engine, db)) == []


async def _path(engine: Engine, db: Database, table: str) -> str:
    connection = read_connection({"connection": db.connection()}, engine.default_port)
    try:
        async with engine.session(connection) as session:
            name = TableName(session.default_schema, table)
            rows = session.json_rows(Query(name, tuple(await session.columns(name))))
            await rows.aclose()
            return str(getattr(rows, "__name__", ""))
    finally:
        await engine.close()


@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_the_database_writes_the_json_of_an_ordinary_table(
    engine_name: str, request: pytest.FixtureRequest
) -> None:
    db: Database = request.getfixturevalue("mysql_db" if engine_name == "mysql" else "pg_db")
    engine = ENGINES[engine_name](make_settings())

    assert asyncio.run(_path(engine, db, "deals")) != Session.encoded_rows.__name__


def test_postgresql_leaves_decimals_of_any_length_to_python(pg_db: Database) -> None:
    engine = PostgresEngine(make_settings())

    assert asyncio.run(_path(engine, pg_db, "all_types")) == Session.encoded_rows.__name__
