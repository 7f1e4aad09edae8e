"""The data endpoint's SELECT as each engine writes it, without a database."""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from biconnector import values
from biconnector.engines.base import ColumnInfo, Ordering, Predicate, Query, Where
from biconnector.engines.mysql import MySQLSql
from biconnector.engines.postgresql import PostgresSql
from biconnector.engines.sql import SqlDialect, contains_pattern, like_pattern, select
from biconnector.protocol.filters import Operator
from biconnector.protocol.naming import TableName

STAGE = ColumnInfo("stage", "string", "value", values.text)
QTY = ColumnInfo("qty", "int", "value", values.integer)
MOMENT = ColumnInfo("moment", "datetime", "temporal", values.datetime_text)
DAY = ColumnInfo("day", "date", "temporal", values.date_text)
INSTANT = ColumnInfo("instant", "datetime", "instant", values.datetime_text)
TABLE = TableName(None, "deals")


def where(*predicates: Predicate, any_of: bool = False) -> Where:
    return Where(any_of, predicates)


def condition(
    column: ColumnInfo, operator: Operator, *values: object, negated: bool = False
) -> Predicate:
    return Predicate("filter[x]", column, operator, negated, values)


def mysql() -> SqlDialect:
    return MySQLSql("shop")


def test_values_are_parameters_never_text() -> None:
    query = Query(TABLE, (STAGE,), where(condition(STAGE, Operator.EQUAL, "x'; DROP TABLE t")))

    statement, params = select(mysql(), query)

    assert statement == "SELECT `stage` FROM `shop`.`deals` WHERE ((`stage` = %s))"
    assert params == ["x'; DROP TABLE t"]


def test_percent_signs_in_names_are_doubled_for_the_placeholder_syntax() -> None:
    column = ColumnInfo("100% sure", "int", "integer", values.integer)

    statement, _ = select(PostgresSql("public"), Query(TableName("public", "a%b"), (column,)))

    assert statement == 'SELECT "100%% sure" FROM "public"."a%%b"'


def test_a_list_is_in_and_negation_keeps_nulls() -> None:
    query = Query(TABLE, (QTY,), where(condition(QTY, Operator.EQUAL, 1, 2, negated=True)))

    statement, params = select(mysql(), query)

    assert statement.endswith("WHERE (((`qty` IN (%s, %s)) IS NOT TRUE))")
    assert params == [1, 2]


def test_several_values_of_a_comparison_mean_any_of_them() -> None:
    query = Query(TABLE, (QTY,), where(condition(QTY, Operator.GREATER, 5, 10)))

    statement, params = select(mysql(), query)

    assert statement.endswith("WHERE (((`qty` > %s) OR (`qty` > %s)))")
    assert params == [5, 10]


def test_groups_nest_with_their_own_logic() -> None:
    inner = where(
        condition(STAGE, Operator.EQUAL, "A"), condition(STAGE, Operator.EQUAL, "B"), any_of=True
    )
    query = Query(TABLE, (QTY,), Where(False, (inner, condition(QTY, Operator.IS_NULL))))

    statement, _ = select(mysql(), query)

    assert statement.endswith("WHERE (((`stage` = %s) OR (`stage` = %s)) AND `qty` IS NULL)")


def test_datetime_bounds_are_whole_seconds() -> None:
    end = datetime(2025, 5, 31, 23, 59, 59)
    query = Query(TABLE, (MOMENT,), where(condition(MOMENT, Operator.LESS_OR_EQUAL, end)))

    statement, params = select(mysql(), query)

    assert statement.endswith("WHERE ((`moment` < %s))")
    assert params == [datetime(2025, 6, 1)]


def test_a_datetime_equal_is_its_second() -> None:
    moment = datetime(2025, 5, 31, 12)
    query = Query(TABLE, (MOMENT,), where(condition(MOMENT, Operator.EQUAL, moment)))

    statement, params = select(mysql(), query)

    assert statement.endswith("WHERE ((`moment` >= %s AND `moment` < %s))")
    assert params == [moment, datetime(2025, 5, 31, 12, 0, 1)]


def test_the_last_second_of_year_9999_has_no_next_second() -> None:
    last = datetime(9999, 12, 31, 23, 59, 59)
    query = Query(TABLE, (MOMENT,), where(condition(MOMENT, Operator.GREATER, last)))

    statement, params = select(mysql(), query)

    assert statement.endswith("WHERE ((1 = 0))")
    assert params == []


def test_mysql_timestamps_are_compared_as_utc_moments() -> None:
    moment = datetime(2025, 6, 1, tzinfo=ZoneInfo("Europe/Moscow"))
    query = Query(TABLE, (INSTANT,), where(condition(INSTANT, Operator.GREATER_OR_EQUAL, moment)))

    _, params = select(MySQLSql("shop"), query)

    assert params == [datetime(2025, 5, 31, 21)]


def test_values_exported_as_null_count_as_null() -> None:
    day = ColumnInfo("day", "date", "temporal", values.date_text, sql_type="date")
    query = Query(TABLE, (day,), where(condition(day, Operator.IS_NULL)))
    statement, _ = select(MySQLSql("shop"), query)
    assert "(`day` IS NULL OR NOT ((`day` + INTERVAL 0 DAY IS NOT NULL)))" in statement

    query = Query(TABLE, (day,), where(condition(day, Operator.LESS, date(2025, 1, 1))))
    statement, _ = select(MySQLSql("shop"), query)
    assert statement.endswith("WHERE (((`day` < %s) AND (`day` + INTERVAL 0 DAY IS NOT NULL)))")


def test_dates_compare_in_their_own_type() -> None:
    query = Query(
        TABLE, (DAY,), where(condition(DAY, Operator.BETWEEN, date(2025, 5, 1), date(2025, 5, 31)))
    )

    statement, params = select(PostgresSql("public"), query)

    assert statement.endswith('WHERE (("day" >= %s AND "day" <= %s))')
    assert params == [date(2025, 5, 1), date(2025, 5, 31)]


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        pytest.param(
            PostgresSql("public"), """("stage")::text ILIKE %s ESCAPE '!'""", id="postgresql"
        ),
        pytest.param(
            MySQLSql("shop"),
            "LOWER(CONVERT(CAST(`stage` AS CHAR) USING utf8mb4) COLLATE utf8mb4_bin) LIKE "
            "LOWER(CONVERT(%s USING utf8mb4) COLLATE utf8mb4_bin) ESCAPE '!'",
            id="mysql",
        ),
    ],
)
def test_contains_is_case_insensitive_and_accent_exact(dialect: SqlDialect, expected: str) -> None:
    query = Query(TABLE, (STAGE,), where(condition(STAGE, Operator.CONTAINS, "50%_off!")))

    statement, params = select(dialect, query)

    assert statement.endswith(f"WHERE (({expected}))")
    assert params == ["%50!%!_off!!%"]


def test_like_keeps_the_clients_wildcards() -> None:
    assert like_pattern("A%_!") == "A%_!!"
    assert contains_pattern("A%_!") == "%A!%!_!!%"


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        pytest.param(PostgresSql("public"), "LIMIT 10 OFFSET 20", id="postgresql"),
        pytest.param(MySQLSql("shop"), "LIMIT 10 OFFSET 20", id="mysql"),
    ],
)
def test_order_then_bounds(dialect: SqlDialect, expected: str) -> None:
    query = Query(TABLE, (QTY,), order=(Ordering(QTY, descending=True),), limit=10, offset=20)

    statement, _ = select(dialect, query)

    assert "ORDER BY " in statement
    assert statement.endswith(f"DESC {expected}")


def test_mysql_offset_without_limit_uses_the_largest_count() -> None:
    statement, _ = select(mysql(), Query(TABLE, (QTY,), offset=5))

    assert statement.endswith(f"LIMIT {2**64 - 1} OFFSET 5")


def test_the_debug_log_shows_the_sql_without_its_values(caplog: pytest.LogCaptureFixture) -> None:
    query = Query(TABLE, (STAGE,), where(condition(STAGE, Operator.EQUAL, "secret-value")))

    with caplog.at_level(logging.DEBUG, logger="biconnector.engines.sql"):
        select(mysql(), query)

    (line,) = [record.getMessage() for record in caplog.records]
    assert "`stage` = %s" in line
    assert "secret-value" not in line
