"""Filter values in the portal's culture read into numbers, dates and date-times."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from biconnector.protocol import literals
from biconnector.protocol.literals import LiteralError

UTC = ZoneInfo("UTC")
MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("31.05.2025", datetime(2025, 5, 31), id="dotted-date"),
        pytest.param("31.05.2025 23:59:59", datetime(2025, 5, 31, 23, 59, 59), id="dotted"),
        pytest.param("1.5.2025 7:05", datetime(2025, 5, 1, 7, 5), id="dotted-short"),
        pytest.param("05/31/2025", datetime(2025, 5, 31), id="us-date"),
        pytest.param("05/31/2025 11:59:59 pm", datetime(2025, 5, 31, 23, 59, 59), id="us-pm"),
        pytest.param("05/31/2025 12:00:00 am", datetime(2025, 5, 31, 0, 0), id="us-midnight"),
        pytest.param("05/31/2025 12:30:00 PM", datetime(2025, 5, 31, 12, 30), id="us-noon"),
        pytest.param("05/31/2025 23:59:59", datetime(2025, 5, 31, 23, 59, 59), id="us-24h"),
        pytest.param("2025-05-31", datetime(2025, 5, 31), id="iso-date"),
        pytest.param("2025-05-31 23:59:59", datetime(2025, 5, 31, 23, 59, 59), id="iso"),
        pytest.param("2025-05-31T23:59:59", datetime(2025, 5, 31, 23, 59, 59), id="iso-t"),
        pytest.param("2025-05-31T23:59:59.999", datetime(2025, 5, 31, 23, 59, 59), id="fraction"),
        pytest.param("2025-05-31T23:00:00Z", datetime(2025, 5, 31, 23), id="iso-z"),
        pytest.param("2025-06-01T01:00:00+02:00", datetime(2025, 5, 31, 23), id="iso-offset"),
        pytest.param("2025-05-31T20:30:00-0230", datetime(2025, 5, 31, 23), id="offset-no-colon"),
        pytest.param(" 2025-05-31 ", datetime(2025, 5, 31), id="spaces"),
    ],
)
def test_datetimes_in_every_culture(text: str, expected: datetime) -> None:
    assert literals.read_datetime(text, "month-first", UTC) == expected


def test_an_offset_is_shown_in_the_export_zone() -> None:
    moment = literals.read_datetime("2025-05-31T21:00:00Z", "month-first", MOSCOW)

    assert moment == datetime(2025, 6, 1, 0, 0)


def test_a_time_without_offset_is_already_in_the_export_zone() -> None:
    moment = literals.read_datetime("31.05.2025 21:00:00", "month-first", MOSCOW)

    assert moment == datetime(2025, 5, 31, 21, 0)


def test_slash_dates_follow_the_configured_order() -> None:
    assert literals.read_date("04/05/2025", "month-first", UTC) == date(2025, 4, 5)
    assert literals.read_date("04/05/2025", "day-first", UTC) == date(2025, 5, 4)
    with pytest.raises(LiteralError):
        literals.read_date("31/05/2025", "month-first", UTC)


def test_a_datetime_counts_by_its_date_part_for_a_date() -> None:
    assert literals.read_date("31.05.2025 23:59:59", "month-first", UTC) == date(2025, 5, 31)


@pytest.mark.parametrize(
    "text",
    ["31.02.2025", "2025-13-01", "yesterday", "2025-05-31 24:00:00", "13/01/2025 1:00 pm",
     "05/31/2025 13:00 pm", "2025-05-31T10:00+24:00", ""],
)  # fmt: skip
def test_impossible_dates_are_refused(text: str) -> None:
    with pytest.raises(LiteralError):
        literals.read_datetime(text, "month-first", UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("42", 42), (" -7 ", -7), ("12.0", 12), ("12.5", Decimal("12.5")), ("1e3", 1000),
     ("18446744073709551615", 2**64 - 1)],
)  # fmt: skip
def test_integers_and_exact_decimals_for_integer_fields(text: str, expected: object) -> None:
    assert literals.read_integer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3.14", "3.14"), ("-0.5", "-0.5"), ("1,5", "1.5"), (".5", "0.5"), ("1e-3", "0.001"),
     ("100", "100")],
)  # fmt: skip
def test_decimals_are_read_exactly(text: str, expected: str) -> None:
    assert literals.read_decimal(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["abc", "1,000.5", "NaN", "inf", "1.2.3", ""])
def test_non_numbers_are_refused(text: str) -> None:
    with pytest.raises(LiteralError):
        literals.read_decimal(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("0", False), ("true", True), ("FALSE", False), ("yes", True)],
)
def test_booleans(text: str, expected: bool) -> None:
    assert literals.read_boolean(text) is expected


def test_a_non_boolean_is_refused() -> None:
    with pytest.raises(LiteralError):
        literals.read_boolean("2")
