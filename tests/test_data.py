"""The data endpoint: previews every portal accepts, selects, limits and every value's format."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.support import acceptance
from tests.support.databases import Database, mysql_admin, postgres_admin
from tests.support.service import Portal, running_service

# What every column of all_types must export, row by row, written by hand from the INSERTs
# in tests/support/databases.py and the rules in the README.
PG_EXPECTED: dict[str, list[Any]] = {
    "ID": [1, 2, 3, 4],
    "C_SMALLINT": [-32768, 0, None, None],
    "C_INTEGER": [2147483647, 0, None, None],
    "C_BIGINT": [9223372036854775807, -9223372036854775808, None, None],
    "C_BOOLEAN": [1, 0, None, None],
    "C_REAL": [1.5, None, None, None],
    "C_DOUBLE": [3.141592653589793, None, None, None],
    "C_NUMERIC": ["1234567890123456789012345678.0123456789", None, None, None],
    "C_NUMERIC_FREE": [0.1, None, None, None],
    "C_MONEY": [1234.56, 0, None, None],
    "C_DATE": ["2025-05-31", None, None, None],
    "C_TIMESTAMP": ["2025-05-31 23:59:59", None, None, None],
    "C_TIMESTAMPTZ": ["2025-05-31 21:00:00", None, None, None],
    "C_TIME": ["23:59:59.5", "00:00:00", None, None],
    "C_TIMETZ": ["12:00:00+03", "00:00:00+00", None, None],
    "C_INTERVAL": ["1 day 02:03:04", "00:00:00", None, None],
    "C_TEXT": ['Привет, "мир"\n\t', "", None, None],
    "C_VARCHAR": ["Ünïcödé", "", None, None],
    "C_CHAR": ["ab", "", None, None],
    "C_UUID": ["123e4567-e89b-12d3-a456-426614174000", None, None, None],
    "C_JSON": ['{"a": [1, 2]}', "null", None, None],
    "C_JSONB": ['{"a": [1, 2], "b": 1}', "[]", None, None],
    "C_INT_ARRAY": ["{1,2,3}", "{}", None, None],
    "C_TEXT_ARRAY": ['{"a b",c}', "{}", None, None],
    "C_BYTEA": ["AP8QIA==", "", None, None],
    "C_ENUM": ["happy", "sad", None, None],
    "C_INET": ["127.0.0.1/32", "::1/128", None, None],
    "C_DOMAIN": [42, 1, None, None],
    "C_BIT": ["1010", "0000", None, None],
}
PG_TYPES = {
    "ID": "int", "C_SMALLINT": "int", "C_INTEGER": "int", "C_BIGINT": "int", "C_BOOLEAN": "int",
    "C_REAL": "double", "C_DOUBLE": "double", "C_NUMERIC": "double", "C_NUMERIC_FREE": "double",
    "C_MONEY": "double", "C_DATE": "date", "C_TIMESTAMP": "datetime", "C_TIMESTAMPTZ": "datetime",
    "C_DOMAIN": "int",
}  # fmt: skip

MYSQL_EXPECTED: dict[str, list[Any]] = {
    "ID": [1, 2, 3],
    "C_TINYINT": [-128, 0, None],
    "C_BOOL": [1, 0, None],
    "C_SMALLINT": [32767, 0, None],
    "C_MEDIUMINT": [-8388608, 0, None],
    "C_INT": [2147483647, 0, None],
    "C_INT_UNSIGNED": [4294967295, 0, None],
    "C_BIGINT": [-9223372036854775808, 0, None],
    "C_BIGINT_UNSIGNED": ["18446744073709551615", 9223372036854775807, None],
    "C_BIT8": [165, 0, None],
    "C_BIT64": ["18446744073709551615", 0, None],
    "C_FLOAT": [1.5, 0.0, None],
    "C_DOUBLE": [3.141592653589793, 0.0, None],
    "C_DECIMAL": ["1234567890123456789012345678.0123456789", 0, None],
    "C_DECIMAL_WIDE": [0.1, 0, None],
    "C_DATE": ["2025-05-31", None, None],
    "C_DATETIME": ["2025-05-31 23:59:59", None, None],
    "C_DATETIME6": ["2025-05-31 23:59:59", None, None],
    "C_TIMESTAMP": ["2025-05-31 21:00:00", None, None],
    "C_TIMESTAMP3": ["2025-05-31 21:00:00", None, None],
    "C_TIME": ["-838:59:59", "00:00:00", None],
    "C_YEAR": [2025, 0, None],
    "C_CHAR": ["abc", "", None],
    "C_VARCHAR": ['Привет, "мир"\n', "", None],
    "C_TEXT": ["Ünïcödé \\ back", "", None],
    "C_ENUM": ["large", "small", None],
    "C_SET": ["a,c", "", None],
    "C_JSON": ['{"a": [1, 2]}', "[]", None],
    "C_BINARY": ["AP8QIA==", "AAAAAA==", None],
    "C_VARBINARY": ["3q2+7w==", "", None],
    "C_BLOB": ["aGVsbG8=", "", None],
    "C_POINT": ["POINT(1 2)", None, None],
    "C_UUID": ["123e4567-e89b-12d3-a456-426614174000", None, None],
}
MYSQL_TYPES = {
    "ID": "int", "C_TINYINT": "int", "C_BOOL": "int", "C_SMALLINT": "int", "C_MEDIUMINT": "int",
    "C_INT": "int", "C_INT_UNSIGNED": "int", "C_BIGINT": "int", "C_BIGINT_UNSIGNED": "int",
    "C_BIT8": "int", "C_BIT64": "int", "C_FLOAT": "double", "C_DOUBLE": "double",
    "C_DECIMAL": "double", "C_DECIMAL_WIDE": "double", "C_DATE": "date", "C_DATETIME": "datetime",
    "C_DATETIME6": "datetime", "C_TIMESTAMP": "datetime", "C_TIMESTAMP3": "datetime",
    "C_YEAR": "int",
}  # fmt: skip


def data(portal: Portal, db: Database, table: str, **params: Any) -> list[list[Any]]:
    answer: list[list[Any]] = portal.ok(
        db.engine, "data", {"connection": db.connection(), "table": table, **params}
    )
    return answer


def describe(portal: Portal, db: Database, table: str) -> list[dict[str, str]]:
    params = {"connection": db.connection(), "table": table}
    answer: list[dict[str, str]] = portal.ok(db.engine, "table_description", params)
    return answer


def expected_values(db: Database) -> dict[str, list[Any]]:
    return PG_EXPECTED if db.engine == "postgresql" else MYSQL_EXPECTED


def test_every_table_previews_the_way_bitrix24_reads_it(portal: Portal, db: Database) -> None:
    tables = portal.ok(db.engine, "table_list", {"connection": db.connection()})

    for table in tables:
        fields = describe(portal, db, table["code"])
        answer = data(portal, db, table["code"], limit=20)

        acceptance.check_preview(fields, answer)
        assert answer[0] == [field["code"] for field in fields]


def test_every_type_maps_to_its_bitrix24_type(form_portal: Portal, db: Database) -> None:
    declared = PG_TYPES if db.engine == "postgresql" else MYSQL_TYPES

    types = {field["code"]: field["type"] for field in describe(form_portal, db, "all_types")}

    assert list(types) == list(expected_values(db))
    assert {code: kind for code, kind in types.items() if kind != "string"} == declared


def test_every_value_is_exported_exactly(portal: Portal, db: Database) -> None:
    answer = data(portal, db, "all_types")

    header, rows = answer[0], answer[1:]
    columns = {code: [row[i] for row in rows] for i, code in enumerate(header)}
    assert columns == expected_values(db)


def test_numbers_a_php_float_cannot_hold_travel_as_exact_text(
    form_portal: Portal, db: Database
) -> None:
    params = {
        "connection": db.connection(),
        "table": "all_types",
        "select": ["C_NUMERIC" if db.engine == "postgresql" else "C_DECIMAL"],
        "limit": 1,
    }

    response = form_portal.call(db.engine, "data", params)

    assert '"1234567890123456789012345678.0123456789"' in response.text


@pytest.fixture(scope="module")
def moscow_portal() -> Iterator[Portal]:
    with running_service(make_settings(export_timezone="Europe/Moscow")) as base_url:
        yield Portal(base_url, "form")


def test_instants_are_shown_in_the_configured_time_zone(
    moscow_portal: Portal, db: Database
) -> None:
    instant, wall_clock = (
        ("C_TIMESTAMPTZ", "C_TIMESTAMP")
        if db.engine == "postgresql"
        else ("C_TIMESTAMP", "C_DATETIME")
    )

    answer = data(moscow_portal, db, "all_types", select=[instant, wall_clock], limit=1)

    # Moscow is UTC+3 all year; a value without a zone is never re-zoned.
    stored = "2025-05-31 23:59:59"
    assert answer == [[instant, wall_clock], ["2025-06-01 00:00:00", stored]]


def test_the_header_is_present_when_no_row_matches(portal: Portal, db: Database) -> None:
    assert data(portal, db, "empty_table") == [["ID", "NAME"]]
    assert data(portal, db, "users", limit=0) == [["ID", "USER_NAME", "EMAIL"]]


def test_without_a_limit_every_row_comes(portal: Portal, db: Database) -> None:
    assert len(data(portal, db, "all_types")) == len(expected_values(db)["ID"]) + 1


def test_limit_bounds_the_rows(portal: Portal, db: Database) -> None:
    assert len(data(portal, db, "all_types", limit=2)) == 3


def test_select_repeats_the_requested_names_in_order(portal: Portal, db: Database) -> None:
    answer = data(portal, db, "users", select=["EMAIL", "ID"])

    assert answer == [["EMAIL", "ID"], ["anna@example.com", 1], [None, 2]]


def test_select_accepts_real_names_ignoring_case(portal: Portal, db: Database) -> None:
    answer = data(portal, db, "users", select=["username", "Id"], limit=1)

    assert answer == [["username", "Id"], ["Anna", 1]]


def test_map_fields_lead_renamed_dataset_fields_back_to_columns(
    portal: Portal, db: Database
) -> None:
    map_fields = {"USER_NAME": "CUSTOMER", "ID": "ID", "EMAIL": "MAIL"}

    answer = data(portal, db, "users", select=["CUSTOMER", "MAIL"], mapFields=map_fields, limit=1)

    assert answer == [["CUSTOMER", "MAIL"], ["Anna", "anna@example.com"]]


def test_a_portals_report_call_reads_its_selected_fields(form_portal: Portal, db: Database) -> None:
    # What a report sends without filters: dataset names in select, mapFields, and a limit.
    map_fields = {"NOMER": "NOMER", "IMYA_KLIENTA": "IMYA_KLIENTA", "SUMMA_ZAKAZA": "SUMMA"}

    answer = data(
        form_portal,
        db,
        "zakazy",
        select=["SUMMA", "IMYA_KLIENTA"],
        mapFields=map_fields,
        limit=100,
    )

    assert answer == [["SUMMA", "IMYA_KLIENTA"], [100.5, "Иван"]]


def test_an_unknown_field_is_named(portal: Portal, db: Database) -> None:
    params = {"connection": db.connection(), "table": "users", "select": ["ID", "NOPE"]}

    response = portal.call(db.engine, "data", params)

    assert response.status_code == 400
    assert "'NOPE'" in response.json()["error"]["message"]


@pytest.mark.parametrize("limit", ["-1", "ten", "1.5"], ids=["negative", "word", "fraction"])
def test_a_bad_limit_is_refused(form_portal: Portal, db: Database, limit: str) -> None:
    params = {"connection": db.connection(), "table": "users", "limit": limit}

    response = form_portal.call(db.engine, "data", params)

    assert response.status_code == 400
    assert "limit" in response.json()["error"]["message"]


def test_views_and_partitioned_tables_export_their_rows(
    form_portal: Portal, pg_db: Database
) -> None:
    assert data(form_portal, pg_db, "events") == [
        ["ID", "HAPPENED"],
        [1, "2024-06-01"],
        [2, "2025-06-01"],
    ]
    assert data(form_portal, pg_db, "sales_data__orders") == [["ID", "TOTAL"], [7, 70.5]]
    assert data(form_portal, pg_db, "active_users") == [["ID", "USER_NAME"], [1, "Anna"]]


def test_quotes_and_semicolons_in_names_are_only_names(portal: Portal, db: Database) -> None:
    assert describe(portal, db, "we_ird_name") == [{"code": "CO_L", "name": 'co"l`', "type": "int"}]
    assert data(portal, db, "we_ird_name") == [["CO_L"], [1]]


@pytest.fixture(scope="module")
def endless(pg_db: Database, mysql_db: Database) -> Iterator[None]:
    """A view in each database whose rows do not run out within any test's lifetime."""
    with postgres_admin(pg_db.name) as admin:
        admin.execute(b"CREATE VIEW endless AS SELECT generate_series(1, 10000000000) AS n")
    with mysql_admin() as admin:
        database = f"`{mysql_db.name}`"
        admin.execute(
            f"CREATE VIEW {database}.endless AS SELECT seq AS n"
            f" FROM {database}.seq_1_to_10000000000"
        )
    try:
        yield
    finally:
        with postgres_admin(pg_db.name) as admin:
            admin.execute(b"DROP VIEW endless")
        with mysql_admin() as admin:
            admin.execute(f"DROP VIEW `{mysql_db.name}`.endless")


def _export_sessions(db: Database) -> int:
    """How many of the service's queries on ``endless`` the database is still running."""
    if db.engine == "postgresql":
        with postgres_admin(db.name) as admin:
            found = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
                " AND application_name = 'biconnector' AND query LIKE '%%endless%%'",
                (db.name,),
            ).fetchone()
            return int(found[0]) if found else 0
    with mysql_admin() as admin:
        admin.execute(
            "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = %s"
            " AND INFO LIKE '%%endless%%' AND ID <> CONNECTION_ID()",
            (db.name,),
        )
        return int(admin.fetchone()[0])


def test_a_client_that_goes_away_ends_the_export(service: str, db: Database, endless: None) -> None:
    params = {"connection": db.connection(), "table": "endless"}
    url = f"{service}/connectors/{db.engine}/data"

    with httpx.stream("POST", url, json=params, timeout=30) as response:
        assert response.status_code == 200
        assert next(response.iter_raw()).startswith(b'[["N"]')
    deadline = time.monotonic() + 30
    while _export_sessions(db) and time.monotonic() < deadline:
        time.sleep(0.1)

    assert _export_sessions(db) == 0, "the query went on after the client left"
    assert httpx.get(f"{service}/health", timeout=5).status_code == 200
