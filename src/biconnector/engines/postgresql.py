"""PostgreSQL through psycopg 3: catalog, type mapping, read-only sessions, server-side cursors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from biconnector import values
from biconnector.engines import pgcopy
from biconnector.engines.base import BATCH_SIZE, ColumnInfo, Engine, Query, RowChunk, Session
from biconnector.engines.pool import ConnectionHooks, Pools
from biconnector.engines.sql import LIKE_ESCAPE, SqlDialect, select
from biconnector.errors import (
    AuthenticationFailed,
    DatabaseError,
    DatabaseTimeout,
    HostUnreachable,
    TlsRequired,
    UnknownDatabase,
    UnknownSchema,
)
from biconnector.protocol.naming import TableName
from biconnector.protocol.params import ConnectionSettings
from biconnector.settings import Settings

logger = logging.getLogger(__name__)

_SYSTEM_SCHEMA = "(n.nspname = 'information_schema' OR n.nspname ~ '^pg_(catalog$|toast|temp_)')"

# A table is listed when the user may read at least one of its columns; with column grants
# only, the readable columns are the table. A table without columns has nothing to describe.
_TABLES = f"""
SELECT n.nspname, c.relname
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND NOT c.relispartition
  AND NOT {_SYSTEM_SCHEMA}
  AND (%(schema)s::text IS NULL OR n.nspname = %(schema)s::text)
  AND has_schema_privilege(n.oid, 'USAGE')
  AND has_any_column_privilege(c.oid, 'SELECT')
  AND EXISTS (
    SELECT 1 FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  )
ORDER BY n.nspname, c.relname
"""

_SCHEMA = f"""
SELECT {_SYSTEM_SCHEMA}, has_schema_privilege(n.oid, 'USAGE')
FROM pg_catalog.pg_namespace AS n
WHERE n.nspname = %s
"""

# Domains are read as their base type; arrays, enums and composite types as text.
_COLUMNS = """
SELECT a.attname,
       CASE WHEN t.typcategory = 'A' THEN 'array' ELSE base.typname END,
       CASE WHEN base.typname = 'numeric' AND COALESCE(NULLIF(a.atttypmod, -1), t.typtypmod) >= 4
            THEN ((COALESCE(NULLIF(a.atttypmod, -1), t.typtypmod) - 4) >> 16) & 65535 END
FROM pg_catalog.pg_attribute AS a
JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
JOIN pg_catalog.pg_type AS base ON base.oid = COALESCE(NULLIF(t.typbasetype, 0), t.oid)
WHERE a.attrelid = (
    SELECT c.oid FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = %(schema)s AND c.relname = %(name)s
)
  AND a.attnum > 0 AND NOT a.attisdropped
  AND has_column_privilege(a.attrelid, a.attnum, 'SELECT')
ORDER BY a.attnum
"""

_PRIMARY_KEY = """
SELECT a.attname
FROM pg_catalog.pg_index AS i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
JOIN pg_catalog.pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indisprimary AND i.indrelid = (
    SELECT c.oid FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = %(schema)s AND c.relname = %(name)s
)
ORDER BY k.position
"""

# libpq reads ~/.pgpass when a password is empty; pointing it at a path that cannot exist
# keeps the credentials of the account the service runs under out of every connection.
_NO_PASSFILE = "/nonexistent/biconnector/.pgpass"

_INTEGERS = {"int2", "int4", "int8", "oid", "xid", "cid"}
_FLOATS = {"float4", "float8"}


def _column(name: str, type_name: str, precision: int | None) -> ColumnInfo:
    info = _described(name, type_name)
    return replace(info, sql_type=type_name, precision=precision)


def _described(name: str, type_name: str) -> ColumnInfo:
    if type_name in _INTEGERS:
        return ColumnInfo(name, "int", "integer", values.integer)
    if type_name == "bool":
        return ColumnInfo(name, "int", "boolean", values.boolean)
    if type_name in _FLOATS:
        # real is read as its own shortest text (0.1), not as the double it widens to.
        bits = 32 if type_name == "float4" else 64
        return ColumnInfo(name, "double", "float", values.floating, float_bits=bits)
    if type_name in ("numeric", "money"):
        return ColumnInfo(name, "double", "numeric", values.decimal)
    if type_name == "date":
        return ColumnInfo(name, "date", "temporal", values.date_text)
    if type_name in ("timestamp", "timestamptz"):
        # The session's TimeZone is the export time zone, so timestamptz text is already the
        # wall-clock time there, and timestamp text is printed as stored.
        instant = type_name == "timestamptz"
        return ColumnInfo(name, "datetime", "temporal", values.datetime_text, instant=instant)
    if type_name == "bytea":
        return ColumnInfo(name, "string", "binary", values.binary, binary=True)
    return ColumnInfo(name, "string", "text", values.text)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""').replace("%", "%%") + '"'


class PostgresSql(SqlDialect):
    """PostgreSQL's side of the data endpoint's SELECT."""

    def __init__(self, default_schema: str) -> None:
        self._default_schema = default_schema

    def quote(self, identifier: str) -> str:
        return quote(identifier)

    def table(self, name: TableName) -> str:
        return f"{quote(name.schema or self._default_schema)}.{quote(name.name)}"

    def export(self, column: ColumnInfo) -> str:
        if column.kind in ("text", "temporal") or column.float_bits == 32:
            return f"{quote(column.name)}::text"
        return self.operand(column)

    def operand(self, column: ColumnInfo) -> str:
        name = quote(column.name)
        # Types without an order of their own (json, point...) compare as their text.
        if column.kind == "text":
            return f"{name}::text"
        if column.kind == "numeric":
            return f"{name}::numeric"
        if column.sql_type in ("xid", "cid"):
            return f"{name}::text::bigint"
        return name

    def text(self, column: ColumnInfo) -> str:
        name = quote(column.name)
        if column.kind == "boolean":
            return f"{name}::int::text"
        if column.sql_type == "timestamp":
            return f"date_trunc('second', {name})::text"
        return f"({self.operand(column)})::text"

    def like(self, text: str) -> str:
        # ILIKE folds case by the database's LC_CTYPE and leaves accents as they are.
        return f"{text} ILIKE %s ESCAPE '{LIKE_ESCAPE}'"

    def bounds(self, limit: int | None, offset: int | None) -> str:
        parts = []
        if limit is not None:
            parts.append(f"LIMIT {int(limit)}")
        if offset:
            parts.append(f"OFFSET {int(offset)}")
        return " ".join(parts)

    def valid(self, column: ColumnInfo) -> str | None:
        name = quote(column.name)
        if column.kind == "float":
            # x - x is 0 for every finite value and NaN for NaN and both infinities.
            return f"{name} - {name} = 0"
        if column.kind == "numeric":
            return f"{name}::text NOT IN ('NaN', 'Infinity', '-Infinity')"
        if column.sql_type == "date":
            return f"{name} BETWEEN '0001-01-01' AND '9999-12-31'"
        if column.sql_type in ("timestamp", "timestamptz"):
            # Years outside 1-9999 of the exported wall-clock time are null.
            local = f"{name}::timestamp" if column.sql_type == "timestamptz" else name
            return f"({local} >= '0001-01-01' AND {local} < '10000-01-01')"
        return None

    def tiebreak(self, column: ColumnInfo) -> str:
        # Text compares by its bytes, which no collation can call equal when they differ.
        if column.kind == "text":
            return f"convert_to({quote(column.name)}::text, 'UTF8')"
        return self.operand(column)


class PostgresSession(Session):
    default_schema: str

    def __init__(self, connection: psycopg.AsyncConnection[Any], schema: str | None) -> None:
        self._connection = connection
        self._schema_filter = schema
        self.default_schema = schema or "public"

    async def ping(self) -> None:
        await self._connection.execute("SELECT 1")

    async def tables(self) -> list[TableName]:
        cursor = await self._connection.execute(_TABLES, {"schema": self._schema_filter})
        return [TableName(schema, name) for schema, name in await cursor.fetchall()]

    async def columns(self, table: TableName) -> list[ColumnInfo]:
        params = {"schema": table.schema, "name": table.name}
        cursor = await self._connection.execute(_COLUMNS, params)
        return [
            _column(name, type_name, precision)
            for name, type_name, precision in await cursor.fetchall()
        ]

    async def primary_key(self, table: TableName) -> list[str]:
        params = {"schema": table.schema or self.default_schema, "name": table.name}
        cursor = await self._connection.execute(_PRIMARY_KEY, params)
        return [name for (name,) in await cursor.fetchall()]

    def json_rows(self, query: Query) -> AsyncGenerator[RowChunk, None]:
        dialect = PostgresSql(self.default_schema)
        formats = [pgcopy.json_column(dialect, column) for column in query.columns]
        if any(found is None for found in formats):
            return self.encoded_rows(query)
        columns = [found for found in formats if found is not None]
        expressions = [f"{sql} AS c{index}" for index, (sql, _) in enumerate(columns)]
        statement, params = select(dialect, query, expressions)
        # COPY takes no parameters: psycopg writes each value as a quoted, typed literal, as
        # its client-side cursors do.
        literal = psycopg.AsyncClientCursor(self._connection).mogrify(statement, params)
        quoted = [index for index, (_, needs_quotes) in enumerate(columns) if needs_quotes]
        copy = pgcopy.copy_statement(literal, quoted)
        return pgcopy.copy_json(self._connection, copy.encode())

    async def rows(self, query: Query) -> AsyncGenerator[Sequence[Sequence[Any]], None]:
        statement, params = select(PostgresSql(self.default_schema), query)
        async with self._connection.cursor(name="biconnector_export") as cursor:
            await cursor.execute(statement, params)
            while batch := await cursor.fetchmany(BATCH_SIZE):
                yield batch


class PostgresEngine(Engine):
    name = "postgresql"
    default_port = 5432
    driver_errors = (psycopg.Error,)

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        hooks = ConnectionHooks(self._connect, self._alive, self._settle, _close)
        self._pools = Pools.of(self.name, hooks, settings)

    @asynccontextmanager
    async def session(self, connection: ConnectionSettings) -> AsyncIterator[Session]:
        async with self._pools.connection(connection) as conn:
            if connection.schema is not None:
                await _require_schema(conn, connection)
            yield PostgresSession(conn, connection.schema)

    async def close(self) -> None:
        await self._pools.close()

    async def _alive(self, conn: psycopg.AsyncConnection[Any]) -> bool:
        try:
            async with asyncio.timeout(self.settings.db_connection_timeout):
                await conn.execute("SELECT 1")
                await conn.rollback()
        except (psycopg.Error, TimeoutError):
            return False
        return True

    async def _settle(
        self, conn: psycopg.AsyncConnection[Any], settings: ConnectionSettings
    ) -> bool:
        """Whether the connection can serve another request: its transaction ended, no
        statement or COPY left running (as after a client that went away)."""
        status = conn.pgconn.transaction_status
        if conn.closed or status == TransactionStatus.UNKNOWN:
            return False
        if status == TransactionStatus.ACTIVE:
            # A statement still running (its reader left) would go on until it next writes,
            # or until the statement timeout: the server is asked to cancel it.
            with contextlib.suppress(psycopg.Error, TimeoutError):
                await conn.cancel_safe(timeout=self.settings.db_connection_timeout)
            return False
        try:
            async with asyncio.timeout(self.settings.db_connection_timeout):
                await conn.rollback()
        except (psycopg.Error, TimeoutError):
            return False
        return conn.pgconn.transaction_status == TransactionStatus.IDLE

    async def _connect(self, connection: ConnectionSettings) -> psycopg.AsyncConnection[Any]:
        timeout = self.settings.db_connection_timeout
        try:
            async with asyncio.timeout(timeout):
                address = await self.hosts.resolve(connection.host, connection.port)
                parameters = self._parameters(connection)
                # The checked address is where libpq connects; the name stays for TLS.
                conn = await psycopg.AsyncConnection.connect(**parameters, hostaddr=address)
                try:
                    await self._prepare(conn)
                except BaseException:
                    await conn.close()
                    raise
                return conn
        except TimeoutError as exc:
            raise DatabaseTimeout(
                f"PostgreSQL at {connection.host}:{connection.port} did not complete the login "
                f"within {timeout:g} seconds: check the host and port, and that a firewall lets "
                "the connection through."
            ) from exc
        except psycopg.Error as exc:
            raise _translate(exc, connection) from exc

    def _parameters(self, connection: ConnectionSettings) -> dict[str, Any]:
        # Every setting is its own keyword: psycopg quotes each value into the connection
        # string, so a database name cannot smuggle in options.
        return {
            "host": connection.host,
            "port": connection.port,
            "dbname": connection.database,
            "user": connection.username,
            "password": connection.password,
            "sslmode": connection.sslmode,
            **_trust(connection.sslmode, self.settings.db_ssl_ca_file),
            "connect_timeout": max(2, round(self.settings.db_connection_timeout)),
            "passfile": _NO_PASSFILE,
            "application_name": "biconnector",
            # COPY writes text in the client encoding, whatever the database's own is.
            "client_encoding": "utf8",
            "autocommit": False,
        }

    async def _prepare(self, conn: psycopg.AsyncConnection[Any]) -> None:
        timeout_ms = round(self.settings.db_statement_timeout * 1000)
        await conn.execute(
            sql.SQL(
                "SELECT set_config('default_transaction_read_only', 'on', false),"
                " set_config('statement_timeout', {}, false),"
                " set_config('TimeZone', {}, false),"
                " set_config('DateStyle', 'ISO, YMD', false),"
                " set_config('IntervalStyle', 'postgres', false),"
                # Any value above 0 prints the shortest text that reads back exactly.
                " set_config('extra_float_digits', '1', false)"
            ).format(sql.Literal(str(timeout_ms)), sql.Literal(self.settings.export_timezone))
        )
        await conn.commit()


def _trust(sslmode: str, ca_file: Path | None) -> dict[str, str]:
    """The CAs that verify the server: DB_SSL_CA_FILE, or the system's (libpq would look
    in the service account's ~/.postgresql/root.crt, which verify-ca still does without
    DB_SSL_CA_FILE, because libpq allows the system's store with verify-full only)."""
    if sslmode not in ("verify-ca", "verify-full"):
        return {}
    if ca_file is not None:
        return {"sslrootcert": str(ca_file)}
    return {"sslrootcert": "system"} if sslmode == "verify-full" else {}


async def _close(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.close()


async def _require_schema(
    conn: psycopg.AsyncConnection[Any], connection: ConnectionSettings
) -> None:
    """Refuse a ``schema`` setting that would leave the source silently empty."""
    cursor = await conn.execute(_SCHEMA, (connection.schema,))
    found = await cursor.fetchone()
    where = f"database {connection.database!r} at {connection.host}:{connection.port}"
    if found is None:
        raise UnknownSchema(
            f"The {where} has no schema named {connection.schema!r}: check its spelling "
            "(schema names are case-sensitive), or leave the setting empty to list every schema."
        )
    is_system, usable = found
    if is_system:
        raise UnknownSchema(
            f"{connection.schema!r} is a system schema of PostgreSQL; name a schema that holds "
            "your own tables, or leave the setting empty to list every schema."
        )
    if not usable:
        raise UnknownSchema(
            f"User {connection.username!r} may not use schema {connection.schema!r} in the "
            f"{where}: the database administrator must GRANT USAGE on it."
        )


_BAD_CREDENTIALS = ("password authentication failed", "no password supplied")
_UNREACHABLE = (
    "Connection refused",
    "No route to host",
    "Network is unreachable",
    "could not connect",
    "server closed the connection unexpectedly",
)


def _mentions(detail: str, *words: str) -> bool:
    return all(word in detail for word in words)


def _server_words(detail: str, connection: ConnectionSettings) -> str:
    """The message without the names the client chose, which libpq repeats in quotes.

    A database called ``roles`` or a host called ``ssl.example`` must not read as the
    server's own words.
    """
    for value in (connection.host, connection.database, connection.username):
        detail = detail.replace(f'"{value}"', '""')
    return detail


def _translate(exc: psycopg.Error, connection: ConnectionSettings) -> DatabaseError:
    """A driver error as a message the user can act on; the driver's text goes to the log."""
    logger.info("postgresql connection failed: %s", exc)
    detail = _server_words(str(exc), connection)
    where = f"PostgreSQL at {connection.host}:{connection.port}"
    if any(sign in detail for sign in _BAD_CREDENTIALS) or _mentions(
        detail, "role", "does not exist"
    ):
        return AuthenticationFailed(
            f"{where} refused the user name or the password for user "
            f"{connection.username!r}: check both in the source's settings."
        )
    if _mentions(detail, "database", "does not exist"):
        return UnknownDatabase(
            f"{where} has no database named {connection.database!r}: check its spelling."
        )
    if _mentions(detail, "permission denied for database"):
        return UnknownDatabase(
            f"{where} does not let user {connection.username!r} connect to database "
            f"{connection.database!r}: the database administrator must GRANT CONNECT on it."
        )
    if "no pg_hba.conf entry" in detail:
        return AuthenticationFailed(
            f"{where} does not accept connections from this service for user "
            f"{connection.username!r} and database {connection.database!r}; its administrator "
            "must allow them in pg_hba.conf (or the server requires TLS: set sslmode)."
        )
    if "SSL" in detail or "certificate" in detail:
        return TlsRequired(
            f"{where} could not establish TLS with sslmode={connection.sslmode}: check the "
            "server's TLS configuration or choose another sslmode."
        )
    if "resolve host" in detail or "translate host name" in detail:
        return HostUnreachable(f"The host name {connection.host!r} could not be resolved.")
    if "timeout expired" in detail:
        return DatabaseTimeout(f"{where} did not answer in time: check the host and port.")
    if any(sign in detail for sign in _UNREACHABLE):
        return HostUnreachable(
            f"Nothing accepted a PostgreSQL connection at {connection.host}:{connection.port}: "
            "check the host, the port and that the server accepts TCP connections."
        )
    return DatabaseError(f"{where} refused the connection; check the source's settings.")
