"""The filter dialect, sorting and pagination on the real servers, against rows written by hand.

The rows of `deals` are in tests/support/deals.py; each case names the ids it must return.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.support.databases import Database
from tests.support.deals import deals_tables
from tests.support.service import Portal, running_service


@pytest.fixture(scope="module", autouse=True)
def deals(pg_db: Database, mysql_db: Database) -> Iterator[None]:
    with deals_tables(pg_db, mysql_db):
        yield


def call(portal: Portal, db: Database, **params: Any) -> Any:
    response = portal.call(db.engine, "data", {"connection": db.connection(), **params})
    assert response.status_code == 200, response.text
    return response.json()


def ids(portal: Portal, db: Database, filter_: Any, **params: Any) -> list[int]:
    answer = call(portal, db, table="deals", select=["ID"], filter=filter_, **params)
    assert answer[0] == ["ID"]
    return sorted(row[0] for row in answer[1:])


def refusal(portal: Portal, db: Database, **params: Any) -> dict[str, str]:
    params = {"connection": db.connection(), "table": "deals", **params}
    response = portal.call(db.engine, "data", params)
    assert response.status_code == 400, response.text
    error: dict[str, str] = response.json()["error"]
    return error


CASES = [
    # strings
    ("equal", {"=STAGE": "WON"}, [1]),
    ("no-prefix-is-equal", {"STAGE": "LOST"}, [2]),
    ("equal-list-is-in", {"=STAGE": ["WON", "LOST"]}, [1, 2]),
    ("not-equal-keeps-null", {"!=STAGE": "LOST"}, [1, 3, 4, 5, 6]),
    ("not-list", {"!STAGE": ["WON", "LOST"]}, [3, 4, 5, 6]),
    ("in", {"@STAGE": ["WON", "NEW"]}, [1, 3]),
    ("not-in", {"!@STAGE": ["WON", "NEW"]}, [2, 4, 5, 6]),
    ("string-greater", {">STAGE": "M"}, [1, 3, 6]),
    ("contains-ignores-case", {"%STAGE": "won"}, [1, 6]),
    ("contains-wildcards-are-literal", {"%STAGE": "%_"}, [6]),
    ("contains-is-accent-exact", {"%STAGE": "cafe"}, []),
    ("contains-folds-accented-case", {"%STAGE": "CAFÉ"}, [5]),
    ("contains-any-value", {"%STAGE": ["LO", "NE"]}, [2, 3]),
    ("not-contains-keeps-null", {"!%STAGE": "o"}, [3, 4, 5]),
    ("like-underscore", {"=%STAGE": "W_N"}, [1]),
    ("like-percent", {"=%STAGE": "w%"}, [1, 6]),
    ("like-other-spelling", {"%=STAGE": "%!"}, [6]),
    ("not-like", {"!=%STAGE": "w%"}, [2, 3, 4, 5]),
    ("contains-text", {"%NOTE": "CAFÉ"}, [2]),
    ("contains-percent", {"%NOTE": "100%"}, [5]),
    ("contains-umlauts", {"%NOTE": "ÜNÏ"}, [6]),
    ("contains-underscore", {"%NOTE": "_ok!"}, [5]),
    # integers
    ("greater", {">QTY": 0}, [1, 4, 6]),
    ("greater-or-equal", {">=QTY": "0"}, [1, 2, 4, 6]),
    ("less", {"<QTY": 1}, [2, 5]),
    ("less-or-equal-any", {"<=QTY": ["-7", "0"]}, [2, 5]),
    ("between", {"><QTY": [0, 3]}, [1, 2, 6]),
    ("not-between-keeps-null", {"!><QTY": [0, 3]}, [3, 4, 5]),
    ("top-level-zero-is-zero", {"=QTY": "0"}, [2]),
    ("not-greater-keeps-null", {"!>QTY": 0}, [2, 3, 5]),
    ("integral-decimal", {"=QTY": "3.0"}, [1]),
    ("fraction-against-integers", {">QTY": "2.5"}, [1, 4]),
    ("contains-digits", {"%QTY": "1"}, [4, 6]),
    # decimals and doubles
    ("numeric-greater", {">AMOUNT": "20"}, [1, 5]),
    ("numeric-equal", {"=AMOUNT": "20"}, [2]),
    ("decimal-comma", {"=AMOUNT": "5,55"}, [6]),
    ("numeric-less-or-equal", {"<=AMOUNT": "5.55"}, [4, 6]),
    ("double-negative", {"<RATIO": 0}, [4]),
    ("double-equal", {"=RATIO": "1.25"}, [2]),
    ("double-exponent", {">=RATIO": "1e10"}, [5]),
    # booleans
    ("flag-one", {"=FLAG": 1}, [1, 4, 6]),
    ("flag-zero", {"=FLAG": "0"}, [2, 5]),
    ("flag-not-one-keeps-null", {"!FLAG": "1"}, [2, 3, 5]),
    ("flag-true", {"=FLAG": "true"}, [1, 4, 6]),
    # dates
    ("report-range", {">=DAY": "01.05.2025", "<=DAY": "31.05.2025 23:59:59"}, [1, 2, 6]),
    ("old-portal-range", {">=DAY": "01.05.2025", "<=DAY": "31.05.2025"}, [1, 2, 6]),
    ("us-date", {"=DAY": "05/31/2025"}, [2]),
    ("date-less", {"<DAY": "2025-01-01"}, [5]),
    ("date-between", {"><DAY": ["2025-05-15", "2025-06-01"]}, [2, 4, 6]),
    ("date-not-equal", {"!=DAY": "2025-05-31"}, [1, 3, 4, 5, 6]),
    ("datetime-against-date", {">DAY": "2025-05-31T23:59:59"}, [4]),
    # date-times: the stored fractions of a second are cut, as in the export
    ("datetime-equal-cuts-fraction", {"=MOMENT": "31.05.2025 23:59:59"}, [2]),
    ("datetime-end-bound", {"<=MOMENT": "2025-05-31 23:59:59"}, [1, 2, 5, 6]),
    ("datetime-after-end", {">MOMENT": "2025-05-31 23:59:59"}, [4]),
    ("date-is-midnight", {">=MOMENT": "2025-05-31"}, [2, 4]),
    ("datetime-iso-t", {"=MOMENT": "2025-05-15T08:00:00"}, [6]),
    ("datetime-us-am", {"<MOMENT": "05/15/2025 08:00:00 am"}, [1, 5]),
    (
        "datetime-report-range",
        {">=MOMENT": "01.05.2025 00:00:00", "<=MOMENT": "31.05.2025 23:59:59"},
        [1, 2, 6],
    ),
    ("instant", {">=INSTANT": "2025-05-31 21:00:00"}, [2, 4]),
    ("instant-with-offset", {"=INSTANT": "2025-06-01T00:00:00+03:00"}, [2]),
    # groups and logic
    ("or-keys", {"LOGIC": "OR", "=STAGE": "WON", ">QTY": 5}, [1, 4]),
    (
        "portal-dimension-groups",
        {
            "0": {"LOGIC": "OR", "0": {"=STAGE": ["WON"]}, "1": {"=STAGE": ["LOST"]}},
            "1": {"LOGIC": "OR", "0": {">QTY": ["0"]}},
        },
        [1],
    ),
    ("is-null-in-a-group", {"0": {"LOGIC": "OR", "0": {"=QTY": "0"}}}, [3]),
    ("exclude-is-null", {"0": {"LOGIC": "OR", "0": {"!=QTY": "0"}}}, [1, 2, 4, 5, 6]),
    ("deep-groups", {"0": {"0": {"0": {"LOGIC": "OR", "=QTY": "10", "=STAGE": "NEW"}}}}, [3, 4]),
    ("binary-is-null", {"0": {"=PAYLOAD": "0"}}, [3, 4, 5, 6]),
    ("binary-is-not-null", {"0": {"!=PAYLOAD": "0"}}, [1, 2]),
    ("real-names-ignoring-case", {"=stage": "WON"}, [1]),
]


@pytest.mark.parametrize(
    ("filter_", "expected"), [pytest.param(f, e, id=name) for name, f, e in CASES]
)
def test_every_operator_on_every_type(
    portal: Portal, db: Database, filter_: dict[str, Any], expected: list[int]
) -> None:
    assert ids(portal, db, filter_) == expected


def test_false_is_null_in_json_and_a_form_zero_at_the_top_is_zero(
    service: str, db: Database
) -> None:
    # PHP's form encoding writes false as "0": at the top level that is a person's zero.
    assert ids(Portal(service, "json"), db, {"=QTY": False}) == [3]
    assert ids(Portal(service, "form"), db, {"=QTY": False}) == [2]


def test_filters_name_dataset_fields_through_map_fields(portal: Portal, db: Database) -> None:
    found = ids(portal, db, {"=SUMMA": "20"}, mapFields={"AMOUNT": "SUMMA"})

    assert found == [2]


def test_a_portals_report_call_through_the_form_encoding(form_portal: Portal, db: Database) -> None:
    answer = call(
        form_portal,
        db,
        table="deals",
        select=["DEAL_ID", "STAGE", "DAY"],
        mapFields={"ID": "DEAL_ID", "STAGE": "STAGE", "DAY": "DAY"},
        filter={
            ">=DAY": "01.05.2025 00:00:00",
            "<=DAY": "31.05.2025 23:59:59",
            "0": {"LOGIC": "OR", "0": {"=STAGE": ["WON", "LOST", "won%_!"]}},
            "1": {"LOGIC": "OR", "0": {"!%STAGE": ["LOST"]}},
        },
        limit=1000,
    )

    assert sorted(answer[1:]) == [[1, "WON", "2025-05-01"], [6, "won%_!", "2025-05-15"]]
    assert answer[0] == ["DEAL_ID", "STAGE", "DAY"]


def test_instants_are_filtered_in_the_export_time_zone(db: Database) -> None:
    with running_service(make_settings(export_timezone="Europe/Moscow")) as url:
        portal = Portal(url, "form")
        assert ids(portal, db, {"=INSTANT": "01.06.2025 00:00:00"}) == [2]
        assert ids(portal, db, {"<INSTANT": "01.05.2025 13:00:00"}) == [5]


def test_slash_dates_can_be_day_first(db: Database) -> None:
    with running_service(make_settings(slash_date_order="day-first")) as url:
        assert ids(Portal(url, "form"), db, {"=DAY": "31/05/2025"}) == [2]


REFUSALS = [
    ("unknown-field", {"=NOPE": "1"}, "filter[=NOPE]"),
    ("unknown-operator", {"~STAGE": "x"}, "filter[~STAGE]"),
    ("not-a-number", {">QTY": "abc"}, "filter[>QTY]"),
    ("no-such-day", {"=DAY": "31.02.2025"}, "filter[=DAY]"),
    ("between-one-value", {"><QTY": ["1"]}, "filter[><QTY]"),
    ("bad-logic", {"LOGIC": "NOR"}, "filter[LOGIC]"),
    ("in-a-group", {"0": {"LOGIC": "OR", "0": {"=QTY": ["x"]}}}, "filter[0][0][=QTY]"),
]


@pytest.mark.parametrize(
    ("filter_", "named"), [pytest.param(f, n, id=name) for name, f, n in REFUSALS]
)
def test_what_cannot_be_applied_is_a_400_naming_the_key(
    portal: Portal, db: Database, filter_: dict[str, Any], named: str
) -> None:
    error = refusal(portal, db, filter=filter_)

    assert error["code"] == "invalid_request"
    assert named in error["message"]


def test_a_binary_field_takes_no_filter_but_is_null(portal: Portal, db: Database) -> None:
    error = refusal(portal, db, filter={"=PAYLOAD": "abc"})

    assert error["code"] == "unsupported_parameter"
    assert "PAYLOAD" in error["message"]


def test_a_filter_too_deep_is_refused(portal: Portal, db: Database) -> None:
    filter_: dict[str, Any] = {"=QTY": "1"}
    for _ in range(9):
        filter_ = {"0": filter_}

    assert "deeper than" in refusal(portal, db, filter=filter_)["message"]


def ordered_ids(portal: Portal, db: Database, **params: Any) -> list[int]:
    answer = call(portal, db, table="deals", select=["ID"], **params)
    return [row[0] for row in answer[1:]]


def test_order_sorts_descending_with_nulls_last(portal: Portal, db: Database) -> None:
    assert ordered_ids(portal, db, order={"QTY": "DESC"}) == [4, 1, 6, 2, 5, 3]


def test_order_sorts_ascending_with_nulls_first(portal: Portal, db: Database) -> None:
    assert ordered_ids(portal, db, order={"QTY": "asc"}) == [3, 5, 2, 6, 1, 4]


def test_order_by_several_fields(portal: Portal, db: Database) -> None:
    assert ordered_ids(portal, db, order={"FLAG": "DESC", "ID": "DESC"}) == [6, 4, 1, 5, 2, 3]


def test_offset_pages_are_deterministic_and_complete(portal: Portal, db: Database) -> None:
    # Many rows share a flag; the primary key decides between them.
    pages = [ordered_ids(portal, db, order={"FLAG": "ASC"}, limit=2, offset=n) for n in (0, 2, 4)]

    assert pages == [[3, 2], [5, 1], [4, 6]]


def test_offset_applies_after_the_filter(portal: Portal, db: Database) -> None:
    found = ordered_ids(portal, db, filter={">QTY": 0}, limit=10, offset=1)

    assert found == [4, 6]


def test_offset_without_a_primary_key_orders_by_every_column(
    form_portal: Portal, pg_db: Database
) -> None:
    answer = call(form_portal, pg_db, table="deals_log", limit=2, offset=1)

    assert answer == [["HAPPENED", "MESSAGE"], ["2025-01-01", "b"], ["2025-01-02", "a"]]


def test_offset_is_refused_where_no_order_is_deterministic(
    form_portal: Portal, mysql_db: Database
) -> None:
    error = refusal(form_portal, mysql_db, table="deals_log", offset=10)

    assert error["code"] == "unsupported_parameter"
    assert "MESSAGE" in error["message"]


@pytest.mark.parametrize(
    ("order", "named"),
    [({"NOPE": "ASC"}, "order[NOPE]"), ({"QTY": "UP"}, "order[QTY]")],
    ids=["unknown-field", "unknown-direction"],
)
def test_a_bad_order_is_a_400_naming_the_key(
    portal: Portal, db: Database, order: dict[str, str], named: str
) -> None:
    assert named in refusal(portal, db, order=order)["message"]
