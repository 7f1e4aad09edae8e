"""MySQL 8 and MariaDB through asyncmy: catalog, type mapping, read-only sessions, streaming.

Where the two servers differ, a `Dialect` chosen from the server's version string holds the
server-specific SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncmy
from asyncmy.cursors import SSCursor
from asyncmy.errors import MySQLError

from biconnector import values
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
)
from biconnector.protocol.naming import TableName
from biconnector.protocol.params import ConnectionSettings
from biconnector.settings import Settings
from biconnector.values import PHP_INT_MAX, SIGNIFICANT_DIGITS, Encoder

logger = logging.getLogger(__name__)

# information_schema shows a table to a user holding any privilege on it, INSERT alone
# included. COLUMNS.PRIVILEGES names what the current user (with its roles) may do with each
# column, so a table is listed when at least one column may be read, and only those columns
# are described. A view whose tables are gone has no columns there, so it is left out too.
#
# information_schema compares names case-insensitively, while a server with
# lower_case_table_names=0 may hold `Users` and `users` side by side: names are compared as
# bytes.
_TABLES = """
SELECT c.TABLE_NAME FROM information_schema.COLUMNS AS c
WHERE c.TABLE_SCHEMA = %s AND FIND_IN_SET('select', c.PRIVILEGES)
  AND EXISTS (
    SELECT 1 FROM information_schema.TABLES AS t
    WHERE t.TABLE_SCHEMA = c.TABLE_SCHEMA
      AND CAST(t.TABLE_NAME AS BINARY) = CAST(c.TABLE_NAME AS BINARY)
      AND t.TABLE_TYPE IN ('BASE TABLE', 'VIEW', 'SYSTEM VERSIONED')
  )
GROUP BY c.TABLE_NAME, CAST(c.TABLE_NAME AS BINARY)
ORDER BY CAST(c.TABLE_NAME AS BINARY)
"""

_COLUMNS = """
SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_OCTET_LENGTH, NUMERIC_PRECISION, IS_NULLABLE,
       COLUMN_TYPE, CHARACTER_SET_NAME, DATETIME_PRECISION
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = %s AND CAST(TABLE_NAME AS BINARY) = CAST(%s AS BINARY)
  AND FIND_IN_SET('select', PRIVILEGES)
ORDER BY ORDINAL_POSITION
"""

_PRIMARY_KEY = """
SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA = %s AND CAST(TABLE_NAME AS BINARY) = CAST(%s AS BINARY)
  AND CONSTRAINT_NAME = 'PRIMARY'
ORDER BY ORDINAL_POSITION
"""

# MySQL sorts strings by their first max_sort_length bytes (1024 by default) only.
_MAX_SORT_LENGTH = 1024
_INTEGERS = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year"}
_BINARIES = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}
_GEOMETRIES = {
    "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
    "multipolygon", "geometrycollection", "geomcollection",
}  # fmt: skip


@dataclass(frozen=True)
class Dialect:
    """The SQL on which MySQL and MariaDB disagree."""

    name: str
    timeout_variable: str
    timeout_unit: float

    @classmethod
    def of(cls, server_version: str) -> Dialect:
        if "mariadb" in server_version.lower():
            return cls("MariaDB", "max_statement_time", 1.0)
        return cls("MySQL", "max_execution_time", 1000.0)

    def statement_timeout(self, seconds: float) -> str:
        # Both variables bound every SELECT of the session; MariaDB counts seconds, MySQL ms.
        return f"SET SESSION {self.timeout_variable} = {round(seconds * self.timeout_unit)}"


def quote(identifier: str) -> str:
    return "`" + identifier.replace("`", "``").replace("%", "%%") + "`"


def _column(row: Sequence[Any], timestamps: Encoder) -> ColumnInfo:
    name, data_type, octets, precision, nullable, column_type, charset, fraction = row
    data_type = data_type.lower()
    info = _described(name, data_type, timestamps)
    words = set(column_type.lower().split())
    traits = {word for word in ("unsigned", "zerofill") if word in words}
    if charset == "utf8mb4":
        traits.add("utf8mb4")
    if fraction:
        traits.add("fraction")
    return replace(
        info,
        sql_type=data_type,
        precision=precision if data_type in ("decimal", "numeric") else None,
        exact_order=info.exact_order and (octets is None or octets <= _MAX_SORT_LENGTH),
        nullable=nullable == "YES",
        traits=frozenset(traits),
    )


def _described(name: str, data_type: str, timestamps: Encoder) -> ColumnInfo:
    if data_type in _INTEGERS:
        return ColumnInfo(name, "int", "value", values.integer)
    if data_type == "bit":
        return ColumnInfo(name, "int", "bits", values.bits)
    if data_type in ("float", "double", "real"):
        bits = 32 if data_type == "float" else 64
        return ColumnInfo(name, "double", "value", values.floating, float_bits=bits)
    if data_type in ("decimal", "numeric"):
        return ColumnInfo(name, "double", "value", values.decimal)
    if data_type == "date":
        return ColumnInfo(name, "date", "temporal", values.date_text)
    if data_type == "datetime":
        return ColumnInfo(name, "datetime", "temporal", values.datetime_text)
    if data_type == "timestamp":
        return ColumnInfo(name, "datetime", "instant", timestamps, instant=True)
    if data_type == "time":
        return ColumnInfo(name, "string", "temporal", values.text)
    if data_type in _BINARIES:
        return ColumnInfo(name, "string", "value", values.binary, binary=True)
    if data_type in _GEOMETRIES:
        return ColumnInfo(name, "string", "geometry", values.text, exact_order=False)
    if data_type == "json":
        return ColumnInfo(name, "string", "json", values.text, exact_order=False)
    return ColumnInfo(name, "string", "value", values.text)


def _json_value(column: ColumnInfo, utc: bool) -> str | None:
    """SQL that writes the column's value as JSON text, or None where only Python can.

    The text is what `biconnector.values` would write: the same numbers, strings, base64
    and nulls for impossible dates. A TIMESTAMP shown in another zone than UTC needs time
    zone tables the server may lack, so it is left to Python. Each part is as cheap as the
    column allows (no NULL test on NOT NULL columns, no conversion of utf8mb4 text), since
    building JSON is most of the server's work here.
    """
    if column.sql_type in ("date", "datetime", "timestamp"):
        if column.sql_type == "timestamp" and not utc:
            return None
        # NULL fails the test of validity too, so it needs no test of its own.
        name = quote(column.name)
        shown = f"LEFT({name}, 19)" if "fraction" in column.traits else name
        return f"IF({MySQLSql.valid_date(name)}, CONCAT('\"', {shown}, '\"'), 'null')"
    if column.float_bits == 32 and "zerofill" in column.traits:
        return None  # adding 0 to drop the zeros would widen the FLOAT to a DOUBLE
    text = _json_text(column)
    # Not IFNULL: a value too long for max_allowed_packet is NULL too, and must make the
    # whole row NULL (which stops the export) rather than pass for a NULL value.
    return f"IF({quote(column.name)} IS NULL, 'null', {text})" if column.nullable else text


def _json_text(column: ColumnInfo) -> str:
    name, traits, sql_type = quote(column.name), column.traits, column.sql_type
    # ZEROFILL and YEAR write leading zeros, which JSON numbers may not have, and BIT writes
    # bytes; adding 0 makes each a plain number.
    plain = "zerofill" not in traits and column.kind != "bits" and sql_type != "year"
    number = name if plain else f"({name} + 0)"
    if column.kind == "bits" or (sql_type == "bigint" and "unsigned" in traits):
        return f"IF({number} > {PHP_INT_MAX}, CONCAT('\"', {number}, '\"'), {number})"
    if column.type == "int" or column.float_bits is not None:
        return number
    if sql_type in ("decimal", "numeric"):
        if column.precision is not None and column.precision <= SIGNIFICANT_DIGITS:
            return number
        digits = (
            f"LENGTH(TRIM(TRAILING '0' FROM TRIM(LEADING '0' FROM "
            f"REPLACE(REPLACE(CAST({number} AS CHAR), '-', ''), '.', ''))))"
        )
        return f"IF({digits} <= {SIGNIFICANT_DIGITS}, {number}, CONCAT('\"', {number}, '\"'))"
    if column.binary:
        # TO_BASE64 breaks lines every 76 characters; CHAR without USING would be binary.
        return f"CONCAT('\"', REPLACE(TO_BASE64({name}), CHAR(10 USING utf8mb4), ''), '\"')"
    if column.kind == "geometry":
        return f"JSON_QUOTE(ST_AsText({name}))"
    if column.kind in ("json", "temporal"):
        return f"JSON_QUOTE(CAST({name} AS CHAR))"
    # One collation for every part, so that CONCAT never meets two it cannot combine.
    utf8 = name if "utf8mb4" in traits else f"CONVERT({name} USING utf8mb4)"
    return f"JSON_QUOTE({utf8}) COLLATE utf8mb4_bin"


class MySQLSql(SqlDialect):
    """MySQL's and MariaDB's side of the data endpoint's SELECT."""

    def __init__(self, database: str) -> None:
        self._database = database

    def quote(self, identifier: str) -> str:
        return quote(identifier)

    def table(self, name: TableName) -> str:
        return f"{quote(self._database)}.{quote(name.name)}"

    def export(self, column: ColumnInfo) -> str:
        if column.kind in ("temporal", "instant"):
            return f"CAST({quote(column.name)} AS CHAR)"
        if column.kind == "geometry":
            return f"ST_AsText({quote(column.name)})"
        return quote(column.name)

    def operand(self, column: ColumnInfo) -> str:
        if column.kind in ("geometry", "json"):
            return self.text(column)
        return quote(column.name)

    def text(self, column: ColumnInfo) -> str:
        if column.sql_type in ("datetime", "timestamp"):
            return f"LEFT(CAST({quote(column.name)} AS CHAR), 19)"
        if column.kind == "bits":
            return f"CAST({quote(column.name)} + 0 AS CHAR)"
        if column.kind == "geometry":
            return f"ST_AsText({quote(column.name)})"
        return f"CAST({quote(column.name)} AS CHAR)"

    def like(self, text: str) -> str:
        # The column's own collation usually ignores accents (e = é); the binary collation
        # keeps them, and LOWER on both sides ignores case.
        return (
            f"LOWER(CONVERT({text} USING utf8mb4) COLLATE utf8mb4_bin)"
            f" LIKE LOWER(CONVERT(%s USING utf8mb4) COLLATE utf8mb4_bin) ESCAPE '{LIKE_ESCAPE}'"
        )

    def bounds(self, limit: int | None, offset: int | None) -> str:
        if not offset:
            return "" if limit is None else f"LIMIT {int(limit)}"
        # MySQL has no OFFSET without LIMIT; its manual's idiom is the largest row count.
        count = 2**64 - 1 if limit is None else int(limit)
        return f"LIMIT {count} OFFSET {int(offset)}"

    def parameter(self, column: ColumnInfo, value: Any) -> Any:
        # The session reads TIMESTAMP in UTC; an instant's bound arrives as an aware moment.
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def valid(self, column: ColumnInfo) -> str | None:
        if column.sql_type not in ("date", "datetime", "timestamp"):
            return None
        return self.valid_date(quote(column.name))

    @staticmethod
    def valid_date(name: str) -> str:
        # Date arithmetic gives NULL for zero dates, year 0 and days such as 2024-02-30
        # that ALLOW_INVALID_DATES lets in: those the export writes as null.
        return f"({name} + INTERVAL 0 DAY IS NOT NULL)"

    def tiebreak(self, column: ColumnInfo) -> str:
        # Collations call 'Won' and 'won ' equal; their bytes never are.
        if column.type == "string":
            return f"CAST({self.text(column)} AS BINARY)"
        return self.operand(column)


class MySQLSession(Session):
    default_schema = None

    def __init__(self, connection: Any, database: str, timestamps: Encoder, utc: bool) -> None:
        self._connection = connection
        self._database = database
        self._timestamps = timestamps
        self._utc = utc

    async def ping(self) -> None:
        await self._fetch("SELECT 1")

    async def tables(self) -> list[TableName]:
        found = await self._fetch(_TABLES, self._database)
        return [TableName(None, name) for (name,) in found]

    async def columns(self, table: TableName) -> list[ColumnInfo]:
        found = await self._fetch(_COLUMNS, self._database, table.name)
        return [_column(row, self._timestamps) for row in found]

    async def primary_key(self, table: TableName) -> list[str]:
        found = await self._fetch(_PRIMARY_KEY, self._database, table.name)
        return [name for (name,) in found]

    def rows(self, query: Query) -> AsyncGenerator[Sequence[Sequence[Any]], None]:
        return self._stream(*select(MySQLSql(self._database), query))

    def json_rows(self, query: Query) -> AsyncGenerator[RowChunk, None]:
        values = [_json_value(column, self._utc) for column in query.columns]
        if any(value is None for value in values):
            return self.encoded_rows(query)
        row = "CONCAT('[', " + ", ',', ".join(value for value in values if value) + ", ']')"
        return self._joined(self._stream(*select(MySQLSql(self._database), query, [row])))

    async def _joined(
        self, batches: AsyncGenerator[Sequence[Sequence[Any]], None]
    ) -> AsyncGenerator[RowChunk, None]:
        async with aclosing(batches):
            async for batch in batches:
                texts = [text for (text,) in batch]
                if None in texts:
                    # CONCAT gives NULL for a result longer than max_allowed_packet.
                    raise DatabaseError(
                        "A row is larger than the database's max_allowed_packet allows to "
                        "send; the export stopped before it."
                    )
                yield RowChunk.of(",".join(texts).encode(), len(texts))

    async def _stream(
        self, statement: str, params: list[Any]
    ) -> AsyncGenerator[Sequence[Sequence[Any]], None]:
        # asyncmy's protocol reads the socket for as long as the server sends, without flow
        # control, so a client slower than the database would pile the whole result up in
        # memory. Reading only while a batch is fetched leaves the rest in the kernel's
        # buffers and makes the server wait, as a blocking driver would.
        cursor = self._connection.cursor(SSCursor)
        await cursor.execute(statement, params)
        finished = False
        try:
            while True:
                self._read_socket(True)
                batch = await cursor.fetchmany(BATCH_SIZE)
                self._read_socket(False)
                if not batch:
                    finished = True
                    break
                yield batch
        finally:
            self._read_socket(True)
            if finished:
                await cursor.close()
            else:
                # Closing an unbuffered cursor would read the rest of the result first; a
                # reader that left early (a client gone) drops the connection instead, and
                # the server ends the query when it can no longer send.
                self._connection.close()

    def _read_socket(self, reading: bool) -> None:
        transport = getattr(self._connection, "_transport", None)
        if transport is None:
            return
        if reading:
            transport.resume_reading()
        else:
            transport.pause_reading()

    async def _fetch(self, query: str, *args: Any) -> list[Any]:
        async with self._connection.cursor() as cursor:
            await cursor.execute(query, args or None)
            return list(await cursor.fetchall())


class MySQLEngine(Engine):
    name = "mysql"
    default_port = 3306
    driver_errors = (MySQLError,)

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        hooks = ConnectionHooks(self._connect, self._alive, self._settle, _close)
        self._pools = Pools.of(self.name, hooks, settings)

    @asynccontextmanager
    async def session(self, connection: ConnectionSettings) -> AsyncIterator[Session]:
        async with self._pools.connection(connection) as conn:
            utc = self.settings.export_timezone == "UTC"
            yield MySQLSession(conn, connection.database, self._timestamp_encoder(), utc)

    async def close(self) -> None:
        await self._pools.close()

    async def _settle(self, conn: Any, settings: ConnectionSettings) -> bool:
        if conn.connected:
            return True
        # A reader that left an export early dropped the connection (MySQLSession._stream,
        # or asyncmy when a read was cancelled). A statement still computing its first row
        # would not notice until it writes, so it is killed through a connection of its own.
        with contextlib.suppress(DatabaseError, MySQLError, OSError, TimeoutError):
            killer = await self._connect(settings)
            try:
                async with killer.cursor() as cursor:
                    await cursor.execute(f"KILL QUERY {int(conn.thread_id())}")
            finally:
                killer.close()
        return False

    async def _alive(self, conn: Any) -> bool:
        if not conn.connected:
            return False
        try:
            async with asyncio.timeout(self.settings.db_connection_timeout):
                await conn.ping(reconnect=False)
        except (MySQLError, OSError, TimeoutError):
            return False
        return True

    def _timestamp_encoder(self) -> Encoder:
        # TIMESTAMP holds an instant: the session reads it in UTC and the encoder shows it in
        # the export time zone, which needs no time zone tables on the server.
        if self.settings.export_timezone == "UTC":
            return values.datetime_text
        return values.utc_datetime_in(self.settings.timezone)

    async def _connect(self, connection: ConnectionSettings) -> Any:
        timeout = self.settings.db_connection_timeout
        try:
            async with asyncio.timeout(timeout):
                address = await self.hosts.resolve(connection.host, connection.port)
                tls = _tls_context(
                    connection.sslmode, connection.host, self.settings.db_ssl_ca_file
                )
                try:
                    return await self._open(connection, address, tls)
                except (MySQLError, ssl.SSLError) as exc:
                    # asyncmy starts TLS whenever it is given a context, even with a server
                    # that offers none; "prefer" and "allow" then fall back to plain text.
                    if connection.sslmode not in ("allow", "prefer") or not _tls_failed(exc):
                        raise
                return await self._open(connection, address, None)
        except TimeoutError as exc:
            raise DatabaseTimeout(
                f"MySQL at {connection.host}:{connection.port} did not complete the login within "
                f"{timeout:g} seconds: check the host and port, and that a firewall lets the "
                "connection through."
            ) from exc
        except (MySQLError, OSError, ssl.SSLError) as exc:
            raise _translate(exc, connection) from exc

    async def _open(
        self, connection: ConnectionSettings, address: str, tls: ssl.SSLContext | None
    ) -> Any:
        conn = await asyncmy.connect(
            host=address,  # checked by the host guard; TLS still verifies the name
            port=connection.port,
            user=connection.username,
            # asyncmy would encode a text password as Latin-1; servers expect UTF-8.
            password=connection.password.encode(),
            database=connection.database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=self.settings.db_connection_timeout,
            ssl=tls,
        )
        try:
            await self._prepare(conn, connection)
        except BaseException:
            conn.close()
            raise
        return conn

    async def _prepare(self, conn: Any, connection: ConnectionSettings) -> None:
        dialect = Dialect.of(conn.get_server_info())
        async with conn.cursor() as cursor:
            await cursor.execute("SET SESSION TRANSACTION READ ONLY")
            await cursor.execute("SET time_zone = '+00:00'")
            await cursor.execute(dialect.statement_timeout(self.settings.db_statement_timeout))
            if connection.sslmode in ("require", "verify-ca", "verify-full"):
                await cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
                row = await cursor.fetchone()
                if not row or not row[1]:
                    raise TlsRequired(
                        f"MySQL at {connection.host}:{connection.port} does not offer TLS, "
                        f"but sslmode={connection.sslmode} requires it."
                    )


async def _close(conn: Any) -> None:
    conn.close()


def _tls_context(sslmode: str, host: str, ca_file: Path | None) -> ssl.SSLContext | None:
    if sslmode == "disable":
        return None
    context = _NamedContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
    else:
        context.load_default_certs()
    context.server_name = host
    if sslmode in ("allow", "prefer", "require"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif sslmode == "verify-ca":
        context.check_hostname = False
    return context


class _NamedContext(ssl.SSLContext):
    """A TLS context that verifies the host name the user gave, while asyncmy connects to
    the address the host guard checked (and would otherwise verify that address)."""

    server_name: str

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        return super().wrap_bio(incoming, outgoing, server_side, self.server_name, session)


def _tls_failed(exc: Exception) -> bool:
    return isinstance(exc, ssl.SSLError) or "SSL" in str(exc)


_AUTHENTICATION = {1045, 1130, 1251, 1698}
# 1102: a name MySQL cannot hold (a trailing space, too long)
_DATABASE = {1044, 1049, 1102}
_UNREACHABLE = {2002, 2003, 2005, 2006, 2013}


def _translate(exc: Exception, connection: ConnectionSettings) -> DatabaseError:
    """A driver error as a message the user can act on; the driver's text goes to the log."""
    logger.info("mysql connection failed: %r", exc)
    where = f"MySQL at {connection.host}:{connection.port}"
    errno = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    if errno in _AUTHENTICATION:
        return AuthenticationFailed(
            f"{where} refused the user name or the password for user "
            f"{connection.username!r} (or does not accept this user from this service's host): "
            "check both in the source's settings."
        )
    if errno in _DATABASE:
        return UnknownDatabase(
            f"{where} has no database named {connection.database!r} that user "
            f"{connection.username!r} may use: check its spelling and the user's privileges."
        )
    if _tls_failed(exc) or errno == 2026:
        return TlsRequired(
            f"{where} could not establish TLS with sslmode={connection.sslmode}: check the "
            "server's TLS configuration or choose another sslmode."
        )
    if isinstance(exc, socket.gaierror):
        return HostUnreachable(f"The host name {connection.host!r} could not be resolved.")
    if errno in _UNREACHABLE or isinstance(exc, OSError):
        return HostUnreachable(
            f"Nothing accepted a MySQL connection at {connection.host}:{connection.port}: "
            "check the host, the port and that the server accepts TCP connections."
        )
    return DatabaseError(f"{where} refused the connection; check the source's settings.")
