"""The benchmark's table: 1,000,000 rows of ten mixed-type columns, some NULL, in both engines."""

from __future__ import annotations

import psycopg
import pymysql

DATABASE = "bc_bench"
TABLE = "bench_rows"
ROWS = 1_000_000

_POSTGRES = f"""
CREATE TABLE {TABLE} AS
SELECT n::bigint AS id,
       (n % 1000)::int AS quantity,
       CASE WHEN n % 10 = 0 THEN NULL ELSE n::bigint * 7919 END AS reference,
       round((n % 100000) / 7.0, 2)::numeric(12, 2) AS amount,
       (n / 3.0)::float8 AS ratio,
       'customer ' || (n % 5000) AS customer,
       CASE WHEN n % 7 = 0 THEN NULL ELSE 'Заметка "' || n || '" и текст' END AS note,
       (DATE '2020-01-01' + (n % 2000)) AS day,
       (TIMESTAMP '2020-01-01 00:00:00' + n * INTERVAL '37 seconds'
        + (n % 1000) * INTERVAL '1 millisecond') AS moment,
       (n % 2 = 0) AS flag
FROM generate_series(1, {ROWS}) AS n
"""

_MYSQL = f"""
CREATE TABLE {TABLE} AS
SELECT seq AS id,
       CAST(seq % 1000 AS SIGNED) AS quantity,
       IF(seq % 10 = 0, NULL, seq * 7919) AS reference,
       CAST(ROUND((seq % 100000) / 7.0, 2) AS DECIMAL(12, 2)) AS amount,
       CAST(seq / 3.0 AS DOUBLE) AS ratio,
       CONCAT('customer ', seq % 5000) AS customer,
       IF(seq % 7 = 0, NULL, CONCAT('Заметка "', seq, '" и текст')) AS note,
       DATE('2020-01-01') + INTERVAL (seq % 2000) DAY AS day,
       TIMESTAMP('2020-01-01 00:00:00') + INTERVAL (seq * 37) SECOND AS moment,
       seq % 2 = 0 AS flag
FROM seq_1_to_{ROWS}
"""


def ensure_postgres() -> None:
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            c.execute(f"CREATE DATABASE {DATABASE}".encode())
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=DATABASE, autocommit=True) as c:
        found = c.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone()
        if found and found[0]:
            return
        c.execute(_POSTGRES.encode())
        c.execute(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (id)".encode())
        c.execute(f"VACUUM ANALYZE {TABLE}".encode())


def ensure_mysql() -> None:
    conn = pymysql.connect(
        host="127.0.0.1", user="root", password="", charset="utf8mb4", autocommit=True
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE} CHARACTER SET utf8mb4")
            cursor.execute(f"USE {DATABASE}")
            cursor.execute("SHOW TABLES LIKE %s", (TABLE,))
            if cursor.fetchone():
                return
            cursor.execute(_MYSQL)
            cursor.execute(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (id)")
    finally:
        conn.close()


if __name__ == "__main__":
    ensure_postgres()
    ensure_mysql()
