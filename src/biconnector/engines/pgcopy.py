"""PostgreSQL rows as JSON text that the server writes itself, through COPY.

``COPY (SELECT ...) TO STDOUT (FORMAT csv, ESCAPE '\\', NULL 'null', FORCE_QUOTE (...))``
writes every row as the inside of a JSON array: numbers bare, text in double quotes with
its ``"`` and ``\\`` escaped by a backslash, NULL as ``null``. The SELECT formats each
column as `biconnector.values` would (booleans as 0/1, date-times cut to seconds in the
session's time zone, NaN and impossible dates as NULL), so the service only adds brackets.
CSV leaves control characters raw; a batch holding any is escaped row by row.

libpq hands COPY data over one row at a time; reading them through psycopg's low-level
connection (`psycopg.pq`) instead of its COPY object keeps the per-row cost to one C call,
and libpq still does the reading, so TLS works as on any other query.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Any

import psycopg
from psycopg import pq

from biconnector.engines.base import ColumnInfo, RowChunk
from biconnector.engines.sql import SqlDialect
from biconnector.values import SIGNIFICANT_DIGITS

# A chunk of the response holds rows up to about this many bytes.
CHUNK_BYTES = 512 * 1024

# Control characters but the newline that ends each row; deleting them is the fastest way
# to learn that a block holds none (a regular expression costs ten times as much).
_CONTROLS = bytes(range(0x0A)) + bytes(range(0x0B, 0x20))
_ANY_CONTROL = re.compile(rb"[\x00-\x1f]")
_ESCAPES = {0x08: b"\\b", 0x09: b"\\t", 0x0A: b"\\n", 0x0C: b"\\f", 0x0D: b"\\r"}


def json_column(dialect: SqlDialect, column: ColumnInfo) -> tuple[str, bool] | None:
    """The column as COPY should write it, and whether CSV must quote it.

    None when the server cannot write it exactly: a decimal that may need more than 15
    digits is a JSON number or a string depending on its value, which CSV cannot decide.
    What the dialect does not call valid (NaN, infinities, dates outside years 1 to 9999)
    is written as NULL, as filters see it.
    """
    name = dialect.quote(column.name)
    if column.kind == "integer":
        return (f"{name}::text" if column.sql_type in ("xid", "cid") else name), False
    if column.kind == "boolean":
        return f"{name}::int", False
    if column.kind == "numeric":
        if column.sql_type != "numeric" or not column.precision:
            return None
        if column.precision > SIGNIFICANT_DIGITS:
            return None
        # A constrained numeric holds NaN but no infinity.
        return f"NULLIF({name}, 'NaN')", False
    if column.kind == "float":
        return f"CASE WHEN {dialect.valid(column)} THEN {name} END", False
    if column.sql_type in ("date", "timestamp", "timestamptz"):
        # timestamptz is shown as the session's wall-clock time, the export time zone.
        local = f"{name}::timestamp" if column.sql_type == "timestamptz" else name
        text = (
            f"{local}::text"
            if column.sql_type == "date"
            else f"date_trunc('second', {local})::text"
        )
        return f"CASE WHEN {dialect.valid(column)} THEN {text} END", True
    if column.kind == "binary":
        return f"translate(encode({name}, 'base64'), E'\\n', '')", True
    return f"{name}::text", True


def copy_statement(select: str, quoted: Sequence[int]) -> str:
    options = "FORMAT csv, ESCAPE E'\\\\', NULL 'null'"
    if quoted:
        options += ", FORCE_QUOTE (" + ", ".join(f"c{index}" for index in quoted) + ")"
    return f"COPY ({select}) TO STDOUT ({options})"


async def copy_json(
    conn: psycopg.AsyncConnection[Any], statement: bytes
) -> AsyncGenerator[RowChunk, None]:
    """Run the COPY and yield its rows as ``[..],[..]`` chunks of about `CHUNK_BYTES`.

    A reader that leaves early (a client gone) leaves the connection mid-COPY; the engine
    sees it when the session ends, cancels the statement and closes the connection.
    """
    pgconn = conn.pgconn
    async with conn.lock:
        pgconn.send_query(statement)
        while pgconn.flush():
            await _ready(pgconn.socket, write=True)
        result = await _result(pgconn)
        if result is None or result.status != pq.ExecStatus.COPY_OUT:
            await _finish(pgconn, result)
            raise psycopg.DatabaseError("COPY did not start")
        async with aclosing(_chunks(pgconn)) as chunks:
            async for chunk in chunks:
                yield chunk
        await _finish(pgconn, await _result(pgconn))


async def _chunks(pgconn: pq.abc.PGconn) -> AsyncGenerator[RowChunk, None]:
    rows: list[bytes | memoryview] = []
    size = 0
    while True:
        nbytes, data = pgconn.get_copy_data(1)
        if nbytes > 0:
            rows.append(data)
            size += nbytes
            if size >= CHUNK_BYTES:
                yield _arrays(rows)
                rows, size = [], 0
        elif nbytes == 0:
            await _ready(pgconn.socket)
            pgconn.consume_input()
        else:
            break
    if rows:
        yield _arrays(rows)


def _arrays(rows: list[bytes | memoryview]) -> RowChunk:
    return RowChunk.of(_joined(rows), len(rows))


def _joined(rows: list[bytes | memoryview]) -> bytes:
    block = b"".join(rows)
    # Each message is one row ending in a newline; any other newline or control character
    # is inside a text value, where JSON needs it escaped.
    clean = len(block.translate(None, _CONTROLS)) == len(block)
    if clean and block.count(b"\n") == len(rows):
        return b"[" + block[:-1].replace(b"\n", b"],[") + b"]"
    return b",".join(b"[" + _ANY_CONTROL.sub(_escape, row[:-1]) + b"]" for row in rows)


def _escape(match: re.Match[bytes]) -> bytes:
    code = match.group(0)[0]
    return _ESCAPES.get(code) or b"\\u%04x" % code


async def _result(pgconn: pq.abc.PGconn) -> pq.abc.PGresult | None:
    while True:
        pgconn.consume_input()
        if not pgconn.is_busy():
            return pgconn.get_result()
        await _ready(pgconn.socket)


async def _finish(pgconn: pq.abc.PGconn, result: pq.abc.PGresult | None) -> None:
    """Read the results up to the end of the statement; raise the first error among them."""
    error = None
    while result is not None:
        if error is None and result.status == pq.ExecStatus.FATAL_ERROR:
            error = result
        result = await _result(pgconn)
    if error is not None:
        sqlstate = (error.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
        message = (error.error_message or b"").decode(errors="replace").strip()
        try:
            kind: type[psycopg.Error] = psycopg.errors.lookup(sqlstate)
        except KeyError:
            kind = psycopg.DatabaseError
        raise kind(message)


async def _ready(fd: int, write: bool = False) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    if write:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)
