"""A small `deals` table in both engines, with a column of every Bitrix24 type and NULLs.

`ROWS` holds the same rows as Python values, for tests that evaluate a filter themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tests.support.databases import Database, mysql_admin, postgres_admin

COLUMNS = ("id", "stage", "amount", "ratio", "qty", "flag", "day", "moment", "instant", "note")

# The instants are UTC; `moment` keeps fractions of a second, which the export cuts.
ROWS: list[tuple[Any, ...]] = [
    (1, "WON", Decimal("100.50"), 0.5, 3, 1, date(2025, 5, 1),
     datetime(2025, 5, 1, 10), datetime(2025, 5, 1, 10), "First deal"),
    (2, "LOST", Decimal("20.00"), 1.25, 0, 0, date(2025, 5, 31),
     datetime(2025, 5, 31, 23, 59, 59, 750000), datetime(2025, 5, 31, 21), "café au lait"),
    (3, "NEW", None, None, None, None, None, None, None, None),
    (4, None, Decimal("0.00"), -2.5, 10, 1, date(2025, 6, 1),
     datetime(2025, 6, 1), datetime(2025, 6, 1), "CAFE"),
    (5, "Café", Decimal("999999.99"), 1e10, -7, 0, date(2024, 12, 31),
     datetime(2024, 12, 31, 12, 30, 45), datetime(2024, 12, 31, 12, 30, 45),
     "Grüße 100% sure_ok!"),
    (6, "won%_!", Decimal("5.55"), 0.0, 1, 1, date(2025, 5, 15),
     datetime(2025, 5, 15, 8, 0, 0, 1), datetime(2025, 5, 15, 8), "Ünïcode"),
]  # fmt: skip

_POSTGRES = """
CREATE TABLE deals (
    id INT PRIMARY KEY, stage VARCHAR(20), amount NUMERIC(12,2), ratio DOUBLE PRECISION,
    qty INT, flag BOOLEAN, day DATE, moment TIMESTAMP(6), instant TIMESTAMPTZ, note TEXT,
    payload BYTEA
)
"""

_MYSQL = """
CREATE TABLE deals (
    id INT PRIMARY KEY, stage VARCHAR(20), amount DECIMAL(12,2), ratio DOUBLE,
    qty INT, flag BOOLEAN, day DATE, moment DATETIME(6), instant TIMESTAMP(6) NULL, note TEXT,
    payload BLOB
)
"""

# A table without a primary key, whose TEXT column MySQL sorts by a prefix only.
_LOG = "CREATE TABLE deals_log (happened DATE, message TEXT)"
_LOG_ROWS = (
    "INSERT INTO deals_log VALUES ('2025-01-02', 'a'), ('2025-01-01', 'b'), ('2025-01-01', 'a')"
)
# Only the first two deals carry a payload.
_PAYLOAD = "UPDATE deals SET payload = 'x' WHERE id <= 2"


def _postgres_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    flag = None if row[5] is None else bool(row[5])
    instant = None if row[8] is None else row[8].isoformat() + "+00:00"
    return (*row[:5], flag, *row[6:8], instant, row[9])


@contextlib.contextmanager
def deals_tables(pg_db: Database, mysql_db: Database) -> Iterator[None]:
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    insert = f"INSERT INTO deals ({', '.join(COLUMNS)}) VALUES ({placeholders})"
    with postgres_admin(pg_db.name) as admin:
        admin.execute(_POSTGRES.encode())
        admin.execute(_LOG.encode())
        admin.execute(_LOG_ROWS.encode())
        for row in ROWS:
            admin.execute(insert.encode(), _postgres_row(row))
        admin.execute(_PAYLOAD.encode())
    with mysql_admin() as admin:
        admin.execute(f"USE `{mysql_db.name}`")
        admin.execute("SET time_zone = '+00:00'")
        admin.execute(_MYSQL)
        admin.execute(_LOG)
        admin.execute(_LOG_ROWS)
        admin.executemany(insert, ROWS)
        admin.execute(_PAYLOAD)
    try:
        yield
    finally:
        with postgres_admin(pg_db.name) as admin:
            admin.execute(b"DROP TABLE deals, deals_log")
        with mysql_admin() as admin:
            admin.execute(f"DROP TABLE `{mysql_db.name}`.deals, `{mysql_db.name}`.deals_log")
