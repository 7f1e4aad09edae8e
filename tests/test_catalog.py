"""table_list and table_description on databases whose names break every Bitrix24 rule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import acceptance
from tests.support.databases import (
    LONG_COLUMN_ONE,
    LONG_TABLE,
    Database,
    created,
    mysql_admin,
    postgres_admin,
    unique_name,
)
from tests.support.service import Portal

COMMON_CODES = {
    "Users": "users",
    "order-items": "order_items",
    "Заказы": "zakazy",
    "Café Crème": "cafe_creme",
    "2024_sales": "t_2024_sales",
    "select": "select",
    "InvoiceLine": "invoice_line",
    "ActiveUsers": "active_users",
    LONG_TABLE: LONG_TABLE,
}


def table_list(portal: Portal, db: Database, **extra: Any) -> list[dict[str, str]]:
    answer: list[dict[str, str]] = portal.ok(
        db.engine, "table_list", {"connection": db.connection(), **extra}
    )
    return answer


def describe(portal: Portal, db: Database, table: str, **connection: Any) -> list[dict[str, str]]:
    params = {"connection": db.connection(**connection), "table": table}
    answer: list[dict[str, str]] = portal.ok(db.engine, "table_description", params)
    return answer


def test_every_table_gets_a_code_bitrix24_accepts(portal: Portal, db: Database) -> None:
    items = table_list(portal, db)

    acceptance.check_table_list(items)
    titles = {item["title"]: item["code"] for item in items}
    assert {title: titles.get(title) for title in COMMON_CODES} == COMMON_CODES


def test_postgresql_lists_views_materialized_views_partitioned_parents_and_schemas(
    form_portal: Portal, pg_db: Database
) -> None:
    titles = {item["title"]: item["code"] for item in table_list(form_portal, pg_db)}

    assert titles["sales_summary"] == "sales_summary"
    assert titles["events"] == "events"
    assert "events_2024" not in titles
    assert "events_2025" not in titles
    assert titles["Sales Data.Orders"] == "sales_data__orders"
    assert titles["sales.Users"] == "sales__users"
    assert titles["Users"] == "users"


def test_a_schema_setting_restricts_postgresql_to_that_schema(
    form_portal: Portal, pg_db: Database
) -> None:
    params = {"connection": pg_db.connection(schema="Sales Data")}

    items = form_portal.ok("postgresql", "table_list", params)

    assert items == [{"code": "orders", "title": "Orders"}]


@pytest.mark.parametrize(
    ("search", "expected"),
    [("USERS", {"users", "active_users"}), ("заказ", {"zakazy"}), ("crème", {"cafe_creme"}),
     ("invoice_", {"invoice_line"})],
    ids=["code-any-case", "cyrillic-title", "accented-title", "code-with-underscore"],
)  # fmt: skip
def test_search_string_narrows_by_code_or_title(
    portal: Portal, db: Database, search: str, expected: set[str]
) -> None:
    items = table_list(portal, db, searchString=search)

    codes = {item["code"] for item in items}
    assert expected <= codes
    assert all(search.casefold() in (i["code"] + " " + i["title"]).casefold() for i in items)


def test_an_empty_search_string_lists_everything(portal: Portal, db: Database) -> None:
    assert table_list(portal, db, searchString="") == table_list(portal, db)


def test_codes_are_the_same_on_every_call(form_portal: Portal, db: Database) -> None:
    assert table_list(form_portal, db) == table_list(form_portal, db)


def test_every_table_is_described_in_a_way_bitrix24_accepts(portal: Portal, db: Database) -> None:
    for item in table_list(portal, db):
        acceptance.check_description(describe(portal, db, item["code"]))


def test_columns_come_in_order_with_their_real_names(form_portal: Portal, db: Database) -> None:
    fields = describe(form_portal, db, "invoice_line")

    names = [field["name"] for field in fields]
    assert names[:7] == [
        "InvoiceLineId", "created_at", "CreatedAt", "Created At", "Created-At", LONG_COLUMN_ONE,
        LONG_COLUMN_ONE[:-3] + "two",
    ]  # fmt: skip
    codes = {field["name"]: field["code"] for field in fields}
    assert codes["InvoiceLineId"] == "INVOICE_LINE_ID"
    assert codes["CreatedAt"].startswith("CREATED_AT_")
    assert codes["Created At"].startswith("CREATED_AT_")
    assert len(codes[LONG_COLUMN_ONE]) == 32
    assert codes[LONG_COLUMN_ONE] != codes[LONG_COLUMN_ONE[:-3] + "two"]


def test_a_case_only_variant_of_a_code_wins_the_collision(
    form_portal: Portal, mysql_db: Database
) -> None:
    codes = {f["name"]: f["code"] for f in describe(form_portal, mysql_db, "invoice_line")}

    assert codes["created_at"] == "CREATED_AT"


def test_a_column_named_exactly_like_a_code_keeps_it(form_portal: Portal, pg_db: Database) -> None:
    codes = {field["name"]: field["code"] for field in describe(form_portal, pg_db, "invoice_line")}

    assert codes["CREATED_AT"] == "CREATED_AT"
    assert codes["created_at"].startswith("CREATED_AT_")


def test_cyrillic_and_accented_columns(form_portal: Portal, db: Database) -> None:
    orders = describe(form_portal, db, "zakazy")
    cafe = describe(form_portal, db, "cafe_creme")

    assert [(f["code"], f["name"]) for f in orders] == [
        ("NOMER", "Номер"), ("IMYA_KLIENTA", "ИмяКлиента"), ("SUMMA_ZAKAZA", "Сумма заказа")
    ]  # fmt: skip
    assert [f["code"] for f in cafe] == ["PRENOM", "GROSSE"]
    assert [f["type"] for f in orders] == ["int", "string", "double"]


def test_leading_digits_and_reserved_words(form_portal: Portal, db: Database) -> None:
    sales = describe(form_portal, db, "t_2024_sales")
    reserved = describe(form_portal, db, "select")

    assert [f["code"] for f in sales] == ["F_1ST_PLACE", "AMOUNT"]
    assert [f["code"] for f in reserved] == ["FROM", "WHERE"]


def test_a_table_is_found_by_its_real_name_too(form_portal: Portal, db: Database) -> None:
    assert describe(form_portal, db, "Café Crème") == describe(form_portal, db, "cafe_creme")


def test_an_unknown_table_is_a_clear_404(portal: Portal, db: Database) -> None:
    params = {"connection": db.connection(), "table": "no_such_table"}

    response = portal.call(db.engine, "table_description", params)

    assert response.status_code == 404
    assert "'no_such_table'" in response.json()["error"]["message"]


def test_a_system_table_is_not_described(form_portal: Portal, db: Database) -> None:
    table = "pg_class" if db.engine == "postgresql" else "user"
    params = {"connection": db.connection(), "table": table}

    assert form_portal.call(db.engine, "table_description", params).status_code == 404


@pytest.fixture(scope="module")
def reader(pg_db: Database, mysql_db: Database) -> Iterator[dict[str, dict[str, Any]]]:
    """A user of each engine with every way of being allowed, or not, to read a table.

    It may read ``Users`` by a grant of its own, ``select`` through a role, one column of
    ``Café Crème``, and may only insert into ``order-items``; on MySQL a view it may read has
    lost its table.
    """
    name, role = unique_name("bc_reader"), unique_name("bc_role")
    with postgres_admin(pg_db.name) as admin:
        admin.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'reader-pw-4417'".encode())
        admin.execute(f"CREATE ROLE {role}".encode())
        admin.execute(f"GRANT {role} TO {name}".encode())
        admin.execute(f'GRANT SELECT ON "Users" TO {name}'.encode())
        admin.execute(f'GRANT SELECT ON "select" TO {role}'.encode())
        admin.execute(f'GRANT SELECT ("prénom") ON "Café Crème" TO {name}'.encode())
        admin.execute(f'GRANT INSERT ON "order-items" TO {name}'.encode())
    with mysql_admin() as admin:
        db = f"`{mysql_db.name}`"
        admin.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY 'reader-pw-4417'")
        admin.execute(f"CREATE ROLE {role}")
        admin.execute(f"GRANT {role} TO '{name}'@'%'")
        admin.execute(f"SET DEFAULT ROLE {role} FOR '{name}'@'%'")
        admin.execute(f"GRANT SELECT ON {db}.`Users` TO '{name}'@'%'")
        admin.execute(f"GRANT SELECT ON {db}.`select` TO {role}")
        admin.execute(f"GRANT SELECT (`prénom`) ON {db}.`Café Crème` TO '{name}'@'%'")
        admin.execute(f"GRANT INSERT ON {db}.`order-items` TO '{name}'@'%'")
        admin.execute(f"CREATE TABLE {db}.doomed (id INT)")
        admin.execute(f"CREATE VIEW {db}.broken_view AS SELECT id FROM {db}.doomed")
        admin.execute(f"DROP TABLE {db}.doomed")
        admin.execute(f"GRANT SELECT ON {db}.broken_view TO '{name}'@'%'")
    try:
        yield {
            "postgresql": pg_db.connection(username=name, password="reader-pw-4417"),
            "mysql": mysql_db.connection(username=name, password="reader-pw-4417"),
        }
    finally:
        with postgres_admin(pg_db.name) as admin:
            admin.execute(f"DROP OWNED BY {name}, {role}".encode())
            admin.execute(f"DROP ROLE {name}".encode())
            admin.execute(f"DROP ROLE {role}".encode())
        with mysql_admin() as admin:
            admin.execute(f"DROP VIEW `{mysql_db.name}`.broken_view")
            admin.execute(f"DROP USER '{name}'@'%'")
            admin.execute(f"DROP ROLE {role}")


def test_tables_the_user_may_not_read_are_not_listed(
    form_portal: Portal, db: Database, reader: dict[str, dict[str, Any]]
) -> None:
    items = form_portal.ok(db.engine, "table_list", {"connection": reader[db.engine]})

    assert sorted(item["code"] for item in items) == ["cafe_creme", "select", "users"]


def test_a_schema_the_user_may_not_use_is_refused(
    portal: Portal, reader: dict[str, dict[str, Any]]
) -> None:
    connection = {**reader["postgresql"], "schema": "Sales Data"}

    response = portal.call("postgresql", "check", {"connection": connection})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_schema"
    assert "GRANT USAGE" in response.json()["error"]["message"]


def test_only_the_columns_the_user_may_read_are_described_and_exported(
    portal: Portal, db: Database, reader: dict[str, dict[str, Any]]
) -> None:
    params = {"connection": reader[db.engine], "table": "cafe_creme"}

    fields = portal.ok(db.engine, "table_description", params)
    rows = portal.ok(db.engine, "data", {**params, "limit": 20})

    assert [field["code"] for field in fields] == ["PRENOM"]
    assert rows == [["PRENOM"], ["Zoë"]]


def test_a_table_the_user_may_only_write_is_not_found(
    form_portal: Portal, db: Database, reader: dict[str, dict[str, Any]]
) -> None:
    params = {"connection": reader[db.engine], "table": "order_items"}

    assert form_portal.call(db.engine, "data", params).status_code == 404


@pytest.fixture
def case_twins(mysql_db: Database) -> Iterator[Database]:
    """Two MySQL tables whose names differ only by case (lower_case_table_names=0)."""
    tables = ["CREATE TABLE `CaseTwin` (upper_col INT)", "CREATE TABLE `casetwin` (lower_col INT)"]
    with created(mysql_db, tables, ["DROP TABLE `CaseTwin`, `casetwin`"]):
        yield mysql_db


def test_mysql_tables_that_differ_only_by_case_are_both_listed(
    form_portal: Portal, case_twins: Database
) -> None:
    items = form_portal.ok("mysql", "table_list", {"connection": case_twins.connection()})
    twins = {item["title"]: item["code"] for item in items if item["title"].lower() == "casetwin"}

    assert twins.keys() == {"CaseTwin", "casetwin"}
    assert twins["casetwin"] == "casetwin"
    assert describe(form_portal, case_twins, twins["CaseTwin"]) == [
        {"code": "UPPER_COL", "name": "upper_col", "type": "int"}
    ]
    assert describe(form_portal, case_twins, "casetwin") == [
        {"code": "LOWER_COL", "name": "lower_col", "type": "int"}
    ]


def test_a_postgresql_table_without_columns_is_not_listed(
    form_portal: Portal, pg_db: Database
) -> None:
    with postgres_admin(pg_db.name) as admin:
        admin.execute(b"CREATE TABLE no_columns ()")
    try:
        items = form_portal.ok("postgresql", "table_list", {"connection": pg_db.connection()})
    finally:
        with postgres_admin(pg_db.name) as admin:
            admin.execute(b"DROP TABLE no_columns")

    assert "no_columns" not in {item["code"] for item in items}
