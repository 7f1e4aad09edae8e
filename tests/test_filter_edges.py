"""Filters at the edges: values exported as null, single precision, summer time, ties, bounds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.support.databases import Database, execute
from tests.support.service import Portal, running_service

# Both engines hold the same four moments of 2025-10-26, when Berlin's clocks go back from
# 03:00 CEST to 02:00 CET: 00:30Z and 00:45Z are 02:30 and 02:45 the first time round, 01:15Z
# and 01:30Z are 02:15 and 02:30 the second time.
_MOMENTS = [
    "2025-10-26 00:30:00",
    "2025-10-26 01:15:00",
    "2025-10-26 01:30:00",
    "2025-10-26 00:45:00",
]

_POSTGRES = [
    "CREATE TABLE edges (id INT PRIMARY KEY, f4 REAL, f8 DOUBLE PRECISION, n NUMERIC, d DATE,"
    " ts TIMESTAMP, moment TIMESTAMPTZ, x XID)",
    "INSERT INTO edges VALUES"
    f" (1, 0.1, 'NaN', 'NaN', 'infinity', 'infinity', '{_MOMENTS[0]}Z', '5'),"
    f" (2, 1.5, 'Infinity', 1.5, '2025-01-01', '2025-01-01', '{_MOMENTS[1]}Z', '7'),"
    f" (3, NULL, NULL, NULL, NULL, NULL, '{_MOMENTS[2]}Z', NULL),"
    f" (4, 2.5, 2.0, 2, '-infinity', '-infinity', '{_MOMENTS[3]}Z', '9')",
]
_MYSQL = [
    "SET SESSION sql_mode = 'ALLOW_INVALID_DATES', time_zone = '+00:00'",
    "CREATE TABLE edges (id INT PRIMARY KEY, f4 FLOAT, d DATE, dt DATETIME, moment TIMESTAMP NULL)",
    f"INSERT INTO edges VALUES (1, 0.1, '0000-00-00', '0000-00-00 00:00:00', '{_MOMENTS[0]}'),"
    f" (2, 1.5, '2025-01-01', '2025-01-01 00:00:00', '{_MOMENTS[1]}'),"
    f" (3, NULL, NULL, NULL, '{_MOMENTS[2]}'),"
    f" (4, 2.5, '2024-02-30', '2024-00-10 00:00:00', '{_MOMENTS[3]}')",
    # No primary key, and words that a _ci collation calls equal.
    "CREATE TABLE ties (word VARCHAR(10))",
    "INSERT INTO ties VALUES " + ", ".join(["('Won'), ('won'), ('WON'), ('wOn')"] * 5),
]


@pytest.fixture(scope="module", autouse=True)
def edges(pg_db: Database, mysql_db: Database) -> Iterator[None]:
    execute(pg_db, *_POSTGRES)
    execute(mysql_db, *_MYSQL)
    try:
        yield
    finally:
        execute(pg_db, "DROP TABLE edges")
        execute(mysql_db, "DROP TABLE edges, ties")


def ids(portal: Portal, db: Database, filter_: Any, table: str = "edges") -> list[int]:
    params = {"connection": db.connection(), "table": table, "select": ["ID"], "filter": filter_}
    response = portal.call(db.engine, "data", params)
    assert response.status_code == 200, response.text
    return sorted(row[0] for row in response.json()[1:])


def refusal(portal: Portal, db: Database, filter_: Any) -> dict[str, str]:
    params = {"connection": db.connection(), "table": "edges", "filter": filter_}
    response = portal.call(db.engine, "data", params)
    assert response.status_code == 400, response.text
    error: dict[str, str] = response.json()["error"]
    return error


IS_NULL = False  # JSON false is IS NULL anywhere (README)

EXPORTED_AS_NULL = {
    "mysql": [
        ("zero-and-impossible-dates-are-null", {"=D": IS_NULL}, [1, 3, 4]),
        ("they-are-not-null-when-negated", {"!=D": IS_NULL}, [2]),
        ("no-comparison-matches-them", {"<=D": "2025-12-31"}, [2]),
        ("a-negated-comparison-keeps-them", {"!<=D": "2025-12-31"}, [1, 3, 4]),
        ("zero-datetimes-are-null", {"=DT": IS_NULL}, [1, 3, 4]),
        ("no-datetime-comparison-matches-them", {"<DT": "2030-01-01"}, [2]),
    ],
    "postgresql": [
        ("nan-and-infinity-are-null", {"=F8": IS_NULL}, [1, 2, 3]),
        ("no-comparison-matches-infinity", {">F8": "0"}, [4]),
        ("numeric-nan-is-null", {"=N": IS_NULL}, [1, 3]),
        ("no-comparison-matches-numeric-nan", {">N": "0"}, [2, 4]),
        ("infinite-dates-are-null", {"=D": IS_NULL}, [1, 3, 4]),
        ("no-comparison-matches-infinite-dates", {">=D": "2025-01-01"}, [2]),
        ("infinite-timestamps-are-null", {"=TS": IS_NULL}, [1, 3, 4]),
        ("a-negated-comparison-keeps-them", {"!>=TS": "2025-01-01"}, [1, 3, 4]),
    ],
}


@pytest.mark.parametrize(
    ("engine", "filter_", "expected"),
    [
        pytest.param(engine, f, e, id=f"{engine}-{name}")
        for engine, cases in EXPORTED_AS_NULL.items()
        for name, f, e in cases
    ],
)
def test_values_exported_as_null_are_null_to_filters(
    service: str, engine: str, filter_: Any, expected: list[int], request: pytest.FixtureRequest
) -> None:
    db: Database = request.getfixturevalue("mysql_db" if engine == "mysql" else "pg_db")

    assert ids(Portal(service, "json"), db, filter_) == expected


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [({"=F4": "0.1"}, [1]), ({"<=F4": "0.1"}, [1]), ({"<F4": "0.1"}, []), ({">F4": "1.5"}, [4])],
    ids=["equal", "at-most", "below", "above"],
)
def test_single_precision_values_match_what_is_exported(
    portal: Portal, db: Database, filter_: Any, expected: list[int]
) -> None:
    assert ids(portal, db, filter_) == expected


def test_postgresql_xid_compares_as_a_number(portal: Portal, pg_db: Database) -> None:
    assert ids(portal, pg_db, {">X": "5"}) == [2, 4]


@pytest.fixture(scope="module")
def berlin() -> Iterator[Portal]:
    with running_service(make_settings(export_timezone="Europe/Berlin")) as url:
        yield Portal(url, "form")


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        # A wall-clock time of the repeated hour names its first occurrence (README).
        pytest.param({"<=MOMENT": "2025-10-26 02:20:00"}, [], id="before-the-first-02-20"),
        pytest.param({"=MOMENT": "2025-10-26 02:30:00"}, [1], id="the-first-02-30"),
        pytest.param({">=MOMENT": "2025-10-26 02:40:00"}, [2, 3, 4], id="from-the-first-02-40"),
        pytest.param({"=MOMENT": "2025-10-26T01:30:00Z"}, [3], id="an-offset-names-the-moment"),
        pytest.param({"=MOMENT": "2025-10-26T02:30:00+01:00"}, [3], id="the-second-02-30"),
        pytest.param({"><MOMENT": ["26.10.2025 02:00:00", "26.10.2025 03:00:00"]}, [1, 2, 3, 4],
                     id="the-whole-repeated-hour"),
    ],
)  # fmt: skip
def test_moments_around_the_change_from_summer_time(
    berlin: Portal, db: Database, filter_: Any, expected: list[int]
) -> None:
    assert ids(berlin, db, filter_) == expected


def test_moments_are_exported_in_the_zone_of_the_export(berlin: Portal, db: Database) -> None:
    params = {"connection": db.connection(), "table": "edges", "select": ["ID", "MOMENT"]}

    answer = berlin.ok(db.engine, "data", params)

    assert sorted(answer[1:]) == [
        [1, "2025-10-26 02:30:00"],
        [2, "2025-10-26 02:15:00"],
        [3, "2025-10-26 02:30:00"],
        [4, "2025-10-26 02:45:00"],
    ]


def test_moments_take_no_contains(portal: Portal, db: Database) -> None:
    error = refusal(portal, db, {"%MOMENT": "02:30"})

    assert error["code"] == "unsupported_parameter"
    assert "MOMENT" in error["message"]


@pytest.mark.parametrize(
    ("filter_", "named"),
    [
        pytest.param(
            {">=MOMENT": "9999-12-31T23:00:00-05:00"}, "filter[>=MOMENT]", id="after-9999"
        ),
        pytest.param({">=MOMENT": "0001-01-01T00:00:00+05:00"}, "filter[>=MOMENT]", id="before-1"),
        pytest.param({"=ID": "1e9999"}, "filter[=ID]", id="huge-integer"),
        pytest.param({"=ID": "123456789012345678901"}, "filter[=ID]", id="beyond-bigint"),
        pytest.param({">=F4": "1e39"}, "filter[>=F4]", id="beyond-single-precision"),
        pytest.param({">=F4": "1e400"}, "filter[>=F4]", id="beyond-double-precision"),
    ],
)
def test_values_beyond_any_column_are_a_400(
    portal: Portal, db: Database, filter_: Any, named: str
) -> None:
    error = refusal(portal, db, filter_)

    assert error["code"] == "invalid_request"
    assert named in error["message"]


def test_a_nul_character_is_a_400(service: str, db: Database) -> None:
    error = refusal(Portal(service, "json"), db, {"=ID": "1\x00"})

    assert "NUL" in error["message"]


def test_an_unpaired_surrogate_is_a_400(service: str, db: Database) -> None:
    body = json.dumps({"connection": db.connection(), "table": "edges", "filter": {"=ID": "x"}})
    body = body.replace('"=ID": "x"', '"=ID": "\\ud800"')

    response = httpx.post(
        f"{service}/connectors/{db.engine}/data",
        content=body.encode(),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )

    assert response.status_code == 400
    assert "surrogate" in response.json()["error"]["message"]


def test_empty_groups_count_against_the_bound(service: str, db: Database) -> None:
    error = refusal(Portal(service, "json"), db, [{}] * 501)

    assert "more than 500 conditions" in error["message"]


def test_offset_pages_of_collation_ties_hold_every_row_once(
    form_portal: Portal, mysql_db: Database
) -> None:
    pages = []
    for offset in range(0, 20, 3):
        params = {
            "connection": mysql_db.connection(),
            "table": "ties",
            "limit": 3,
            "offset": offset,
        }
        pages.extend(form_portal.ok("mysql", "data", params)[1:])

    assert sorted(word for (word,) in pages) == sorted(["Won", "won", "WON", "wOn"] * 5)
