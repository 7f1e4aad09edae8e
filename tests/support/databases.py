"""Throwaway databases on the shared servers, filled with names that break every Bitrix24 rule.

Each test session creates its own databases (and roles) with random names and drops them at
the end, so runs never see each other's tables.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pymysql

PG_HOST, PG_PORT, PG_ADMIN = "127.0.0.1", 5432, "postgres"
MYSQL_HOST, MYSQL_PORT, MYSQL_ADMIN = "127.0.0.1", 3306, "root"

LONG_TABLE = "a_table_name_that_is_much_longer_than_sixty_four_characters_in_all"[:62]
LONG_COLUMN_ONE = "a_column_name_that_is_longer_than_thirty_two_characters_one"
LONG_COLUMN_TWO = "a_column_name_that_is_longer_than_thirty_two_characters_two"

# Tables whose names break the dataset naming rule, common to both engines; PostgreSQL adds
# schemas, a materialized view and a partitioned table.
_COMMON_TABLES = """
CREATE TABLE {q}Users{q} (id INT PRIMARY KEY, {q}UserName{q} VARCHAR(50), email VARCHAR(80));
INSERT INTO {q}Users{q} VALUES (1, 'Anna', 'anna@example.com'), (2, 'Boris', NULL);
CREATE TABLE {q}order-items{q} (id INT, {q}order{q} INT, {q}select{q} VARCHAR(10));
INSERT INTO {q}order-items{q} VALUES (1, 10, 'x');
CREATE TABLE {q}Заказы{q} (
    {q}Номер{q} INT, {q}ИмяКлиента{q} VARCHAR(50), {q}Сумма заказа{q} DECIMAL(12,2)
);
INSERT INTO {q}Заказы{q} VALUES (1, 'Иван', 100.50);
CREATE TABLE {q}Café Crème{q} ({q}prénom{q} VARCHAR(20), {q}Größe{q} INT);
INSERT INTO {q}Café Crème{q} VALUES ('Zoë', 3);
CREATE TABLE {q}2024_sales{q} ({q}1st_place{q} VARCHAR(20), amount INT);
CREATE TABLE {q}select{q} ({q}from{q} INT, {q}where{q} VARCHAR(10));
INSERT INTO {q}select{q} VALUES (1, 'here');
CREATE TABLE {q}{long_table}{q} (id INT);
CREATE TABLE {q}InvoiceLine{q} (
    {q}InvoiceLineId{q} INT, created_at DATE, {q}CreatedAt{q} DATE, {q}Created At{q} DATE,
    {q}Created-At{q} DATE, {q}{long_one}{q} INT, {q}{long_two}{q} INT
);
INSERT INTO {q}InvoiceLine{q}
VALUES (1, '2025-01-01', '2025-01-02', '2025-01-03', '2025-01-04', 5, 6);
CREATE VIEW {q}ActiveUsers{q} AS SELECT id, {q}UserName{q} FROM {q}Users{q} WHERE email IS NOT NULL;
"""

PG_EXTRA = """
ALTER TABLE "InvoiceLine" ADD COLUMN "CREATED_AT" DATE;
CREATE TABLE "we""ird`; name" ("co""l`" INT);
INSERT INTO "we""ird`; name" VALUES (1);
CREATE MATERIALIZED VIEW sales_summary AS SELECT count(*) AS users FROM "Users";
CREATE TABLE events (id INT, happened DATE) PARTITION BY RANGE (happened);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO events VALUES (1, '2024-06-01'), (2, '2025-06-01');
CREATE SCHEMA "Sales Data";
CREATE TABLE "Sales Data"."Orders" (id INT, total NUMERIC);
INSERT INTO "Sales Data"."Orders" VALUES (7, 70.5);
CREATE SCHEMA sales;
CREATE TABLE sales."Users" (id INT);
CREATE TABLE empty_table (id INT, name TEXT);
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE DOMAIN positive_int AS INTEGER CHECK (VALUE > 0);
CREATE TABLE all_types (
    id INT PRIMARY KEY,
    c_smallint SMALLINT, c_integer INTEGER, c_bigint BIGINT, c_boolean BOOLEAN,
    c_real REAL, c_double DOUBLE PRECISION, c_numeric NUMERIC(38,10), c_numeric_free NUMERIC,
    c_money MONEY, c_date DATE, c_timestamp TIMESTAMP(6), c_timestamptz TIMESTAMPTZ,
    c_time TIME, c_timetz TIMETZ, c_interval INTERVAL, c_text TEXT, c_varchar VARCHAR(20),
    c_char CHAR(3), c_uuid UUID, c_json JSON, c_jsonb JSONB, c_int_array INTEGER[],
    c_text_array TEXT[], c_bytea BYTEA, c_enum mood, c_inet INET, c_domain positive_int,
    c_bit BIT(4)
);
SET lc_monetary = 'C';
INSERT INTO all_types VALUES (
    1, -32768, 2147483647, 9223372036854775807, true,
    1.5, 3.141592653589793, 1234567890123456789012345678.0123456789, 0.1,
    1234.56, '2025-05-31', '2025-05-31 23:59:59.999999', '2025-05-31 21:00:00+00',
    '23:59:59.5', '12:00:00+03', '1 day 02:03:04', E'Привет, "мир"\\n\\t', 'Ünïcödé',
    'ab', '123e4567-e89b-12d3-a456-426614174000', '{"a": [1, 2]}', '{"b": 1, "a": [1, 2]}',
    '{1,2,3}', '{"a b",c}', '\\x00ff1020', 'happy', '127.0.0.1', 42, B'1010'
), (
    2, 0, 0, -9223372036854775808, false,
    'NaN', 'Infinity', 'NaN', '-Infinity',
    0, 'infinity', '-infinity', 'infinity',
    '00:00', '00:00+00', '0', '', '', '', NULL, 'null', '[]', '{}', '{}', '', 'sad', '::1', 1,
    B'0000'
), (
    3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    '0044-03-15 BC', '0044-03-15 12:00:00 BC', '12345-01-01 00:00:00+00',
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL
), (
    4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
);
"""

MYSQL_EXTRA = """
CREATE TABLE `we"ird``; name` (`co"l``` INT);
INSERT INTO `we"ird``; name` VALUES (1);
CREATE TABLE empty_table (id INT, name TEXT);
CREATE TABLE all_types (
    id INT PRIMARY KEY,
    c_tinyint TINYINT, c_bool TINYINT(1), c_smallint SMALLINT, c_mediumint MEDIUMINT,
    c_int INT, c_int_unsigned INT UNSIGNED, c_bigint BIGINT, c_bigint_unsigned BIGINT UNSIGNED,
    c_bit8 BIT(8), c_bit64 BIT(64), c_float FLOAT, c_double DOUBLE,
    c_decimal DECIMAL(38,10), c_decimal_wide DECIMAL(65,30), c_date DATE, c_datetime DATETIME,
    c_datetime6 DATETIME(6), c_timestamp TIMESTAMP NULL, c_timestamp3 TIMESTAMP(3) NULL,
    c_time TIME, c_year YEAR, c_char CHAR(3), c_varchar VARCHAR(50), c_text TEXT,
    c_enum ENUM('small', 'large'), c_set SET('a', 'b', 'c'), c_json JSON, c_binary BINARY(4),
    c_varbinary VARBINARY(10), c_blob BLOB, c_point POINT, c_uuid UUID
);
SET SESSION sql_mode = 'ALLOW_INVALID_DATES';
SET SESSION time_zone = '+00:00';
INSERT INTO all_types VALUES (
    1, -128, 1, 32767, -8388608, 2147483647, 4294967295, -9223372036854775808,
    18446744073709551615, b'10100101', 18446744073709551615,
    1.5, 3.141592653589793, 1234567890123456789012345678.0123456789, 0.1,
    '2025-05-31', '2025-05-31 23:59:59', '2025-05-31 23:59:59.999999', '2025-05-31 21:00:00',
    '2025-05-31 21:00:00.5', '-838:59:59', 2025, 'abc', 'Привет, "мир"\\n', 'Ünïcödé \\\\ back',
    'large', 'a,c', '{"a": [1, 2]}', X'00FF1020', X'DEADBEEF', 'hello', POINT(1, 2),
    '123e4567-e89b-12d3-a456-426614174000'
), (
    2, 0, 0, 0, 0, 0, 0, 0, 9223372036854775807, b'0', b'0', 0, 0, 0, 0,
    '2024-02-30', '0000-00-00 00:00:00', '2025-00-00 00:00:00', '0000-00-00 00:00:00', NULL,
    '00:00:00', 0, '', '', '', 'small', '', '[]', X'00000000', X'', X'', NULL, NULL
), (
    3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL
);
"""


@dataclass(frozen=True)
class Database:
    """A database the tests made, and how the service should reach it."""

    engine: str
    host: str
    port: int
    name: str
    username: str
    password: str = field(repr=False, default="")
    extra: dict[str, str] = field(default_factory=dict)

    def connection(self, **overrides: Any) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "database": self.name,
            "username": self.username,
            "password": self.password,
            **self.extra,
        }
        settings.update(overrides)
        return settings


def common_tables(quote: str) -> list[str]:
    script = _COMMON_TABLES.format(
        q=quote, long_table=LONG_TABLE, long_one=LONG_COLUMN_ONE, long_two=LONG_COLUMN_TWO
    )
    return _statements(script)


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";\n") if part.strip()]


def unique_name(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


@contextlib.contextmanager
def postgres_database() -> Iterator[Database]:
    name = unique_name("bc_test")
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_ADMIN, dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0".encode())
    try:
        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_ADMIN, dbname=name, autocommit=True
        ) as conn:
            for statement in [*common_tables('"'), *_statements(PG_EXTRA)]:
                conn.execute(statement.encode())
        yield Database("postgresql", PG_HOST, PG_PORT, name, PG_ADMIN)
    finally:
        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_ADMIN, dbname="postgres", autocommit=True
        ) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@contextlib.contextmanager
def mysql_database() -> Iterator[Database]:
    name = unique_name("bc_test")
    with mysql_admin() as admin:
        admin.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        with mysql_admin() as admin:
            admin.execute(f"USE `{name}`")
            for statement in [*common_tables("`"), *_statements(MYSQL_EXTRA)]:
                admin.execute(statement)
        yield Database("mysql", MYSQL_HOST, MYSQL_PORT, name, MYSQL_ADMIN)
    finally:
        with mysql_admin() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS `{name}`")


@contextlib.contextmanager
def mysql_admin() -> Iterator[Any]:
    conn = pymysql.connect(
        host=MYSQL_HOST,
        port=MYSQL_PORT,
        user=MYSQL_ADMIN,
        password="",
        charset="utf8mb4",
        autocommit=True,
    )
    try:
        with conn.cursor() as cursor:
            yield cursor
    finally:
        conn.close()


@contextlib.contextmanager
def postgres_admin(database: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_ADMIN, dbname=database, autocommit=True
    ) as conn:
        yield conn


def execute(db: Database, *statements: str) -> list[Any]:
    """Run ``statements`` as the administrator, in one session on the test database ``db``;
    the rows of the last one."""
    if db.engine == "postgresql":
        with postgres_admin(db.name) as admin:
            cursor = None
            for statement in statements:
                cursor = admin.execute(statement.encode())
            return list(cursor.fetchall()) if cursor is not None and cursor.description else []
    with mysql_admin() as admin:
        admin.execute(f"USE `{db.name}`")
        for statement in statements:
            admin.execute(statement)
        return list(admin.fetchall())


@contextlib.contextmanager
def created(db: Database, create: Sequence[str], drop: Sequence[str]) -> Iterator[None]:
    """Objects made in ``db`` for one test, dropped after it even when it fails."""
    execute(db, *create)
    try:
        yield
    finally:
        execute(db, *drop)
