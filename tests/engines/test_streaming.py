"""A paused export holds one batch, not the rest of the result, on both engines."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import pytest

from biconnector.engines.base import Engine, Query
from biconnector.engines.mysql import MySQLEngine
from biconnector.engines.postgresql import PostgresEngine
from biconnector.protocol.naming import TableName
from biconnector.protocol.params import read_connection
from tests.conftest import make_settings
from tests.support.databases import Database, mysql_admin, postgres_admin

ROWS = 200_000
WIDTH = 250  # bytes of text a row: the whole result is about 50 MB on the wire
PAUSE = 1.0  # seconds in which a driver without flow control would read tens of MB
BOUND = 16 * 2**20  # what the paused export may hold: a batch and the driver's buffers


@pytest.fixture(scope="module")
def wide_table(pg_db: Database, mysql_db: Database) -> Iterator[dict[str, Database]]:
    with postgres_admin(pg_db.name) as admin:
        admin.execute(
            f"CREATE TABLE wide AS SELECT i AS id, repeat('x', {WIDTH}) AS filler "
            f"FROM generate_series(1, {ROWS}) AS i".encode()
        )
    with mysql_admin() as admin:
        admin.execute(f"CREATE TABLE `{mysql_db.name}`.wide (id INT, filler TEXT)")
        admin.execute("SET SESSION max_recursive_iterations = 1000000")
        admin.execute(
            f"INSERT INTO `{mysql_db.name}`.wide WITH RECURSIVE s(i) AS "
            f"(SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {ROWS}) "
            f"SELECT i, REPEAT('x', {WIDTH}) FROM s"
        )
    try:
        yield {"postgresql": pg_db, "mysql": mysql_db}
    finally:
        with postgres_admin(pg_db.name) as admin:
            admin.execute(b"DROP TABLE wide")
        with mysql_admin() as admin:
            admin.execute(f"DROP TABLE `{mysql_db.name}`.wide")


async def _held_while_paused(engine: Engine, db: Database, path: str) -> int:
    connection = read_connection({"connection": db.connection()}, engine.default_port)
    try:
        async with engine.session(connection) as session:
            table = TableName(session.default_schema, "wide")
            query = Query(table, tuple(await session.columns(table)))
            rows: AsyncGenerator[Any, None] = getattr(session, path)(query)
            first = await anext(rows)
            tracemalloc.start()
            try:
                await asyncio.sleep(PAUSE)  # the client stops reading
                held = tracemalloc.get_traced_memory()[0]
            finally:
                tracemalloc.stop()
            await rows.aclose()
    finally:
        await engine.close()
    assert len(first) > 0
    return held


@pytest.mark.parametrize("path", ["rows", "json_rows"], ids=["driver-values", "database-json"])
@pytest.mark.parametrize("engine_class", [MySQLEngine, PostgresEngine], ids=["mysql", "postgresql"])
def test_a_paused_export_does_not_pull_the_rest_of_the_result(
    wide_table: dict[str, Database], engine_class: type[Engine], path: str
) -> None:
    engine = engine_class(make_settings())

    held = asyncio.run(_held_while_paused(engine, wide_table[engine.name], path))

    assert held < BOUND, f"{held / 2**20:.0f} MB read ahead while the client paused"
