"""Every encoder writes a JSON fragment: the exact text is pinned, and so is what it parses to."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from biconnector import values
from biconnector.values import PHP_INT_MAX, Encoder

MOSCOW = values.utc_datetime_in(ZoneInfo("Europe/Moscow"))
NEW_YORK = values.utc_datetime_in(ZoneInfo("America/New_York"))


def assert_fragment(fragment: str, expected_text: str, expected_value: Any) -> None:
    assert fragment == expected_text
    assert json.loads(fragment) == expected_value


@pytest.mark.parametrize(
    ("value", "expected_text", "expected_value"),
    [
        pytest.param(0, "0", 0, id="zero"),
        pytest.param(42, "42", 42, id="positive"),
        pytest.param(-17, "-17", -17, id="negative"),
        pytest.param(PHP_INT_MAX, "9223372036854775807", PHP_INT_MAX, id="php-int-max-as-number"),
        pytest.param(-(2**63), "-9223372036854775808", -(2**63), id="php-int-min-as-number"),
        pytest.param(
            PHP_INT_MAX + 1, '"9223372036854775808"', "9223372036854775808", id="above-max-as-text"
        ),
        pytest.param(
            2**64 - 1, '"18446744073709551615"', "18446744073709551615", id="unsigned-max-as-text"
        ),
        pytest.param(
            -(2**63) - 1, '"-9223372036854775809"', "-9223372036854775809", id="below-min-as-text"
        ),
        pytest.param(None, "null", None, id="null"),
    ],
)
def test_integer_is_a_number_within_php_range_and_text_beyond(
    value: int | None, expected_text: str, expected_value: Any
) -> None:
    assert_fragment(values.integer(value), expected_text, expected_value)


@pytest.mark.parametrize(
    ("value", "expected_text", "expected_value"),
    [
        pytest.param(True, "1", 1, id="true-is-one"),
        pytest.param(False, "0", 0, id="false-is-zero"),
        pytest.param(1, "1", 1, id="tinyint-one"),
        pytest.param(0, "0", 0, id="tinyint-zero"),
        pytest.param(None, "null", None, id="null"),
    ],
)
def test_boolean_is_zero_or_one(value: Any, expected_text: str, expected_value: Any) -> None:
    assert_fragment(values.boolean(value), expected_text, expected_value)


@pytest.mark.parametrize(
    ("value", "expected_text", "expected_value"),
    [
        pytest.param(b"\x00", "0", 0, id="zero-byte"),
        pytest.param(b"\xa5", "165", 165, id="one-byte"),
        pytest.param(b"\x01\x00", "256", 256, id="big-endian"),
        pytest.param(
            b"\x7f" + b"\xff" * 7, "9223372036854775807", PHP_INT_MAX, id="63-bits-as-number"
        ),
        pytest.param(
            b"\xff" * 8, '"18446744073709551615"', "18446744073709551615", id="64-bits-as-text"
        ),
        pytest.param(bytearray(b"\x02"), "2", 2, id="bytearray"),
        pytest.param(None, "null", None, id="null"),
    ],
)
def test_bits_are_the_big_endian_integer(
    value: bytes | bytearray | None, expected_text: str, expected_value: Any
) -> None:
    assert_fragment(values.bits(value), expected_text, expected_value)


@pytest.mark.parametrize(
    ("value", "expected_text", "expected_value"),
    [
        pytest.param(1.5, "1.5", 1.5, id="one-and-a-half"),
        pytest.param(0.1, "0.1", 0.1, id="shortest-repr"),
        pytest.param(2.0, "2.0", 2.0, id="whole-keeps-its-dot"),
        pytest.param(-0.25, "-0.25", -0.25, id="negative"),
        pytest.param(1e300, "1e+300", 1e300, id="huge-with-exponent"),
        pytest.param(float("nan"), "null", None, id="nan-is-null"),
        pytest.param(float("inf"), "null", None, id="infinity-is-null"),
        pytest.param(float("-inf"), "null", None, id="minus-infinity-is-null"),
        pytest.param(None, "null", None, id="null"),
    ],
)
def test_floating_is_the_shortest_repr_or_null(
    value: float | None, expected_text: str, expected_value: Any
) -> None:
    assert_fragment(values.floating(value), expected_text, expected_value)


@pytest.mark.parametrize(
    ("value", "expected_text", "expected_value"),
    [
        pytest.param(Decimal("1.5000000000"), "1.5000000000", 1.5, id="trailing-zeros-kept"),
        pytest.param(Decimal("0.1"), "0.1", 0.1, id="one-tenth"),
        pytest.param(
            Decimal("1234567890123456789012345678.0123456789"),
            '"1234567890123456789012345678.0123456789"',
            "1234567890123456789012345678.0123456789",
            id="numeric-38-10-as-text",
        ),
        pytest.param(Decimal("1E+3"), "1000", 1000, id="exponent-written-out"),
        pytest.param(Decimal("1E-7"), "0.0000001", 1e-7, id="small-exponent-written-out"),
        pytest.param(Decimal("-0"), "-0", 0, id="negative-zero"),
        pytest.param(Decimal("-0.00"), "-0.00", 0.0, id="negative-zero-with-scale"),
        pytest.param(
            Decimal("123456789012345"), "123456789012345", 123456789012345, id="15-digits-number"
        ),
        pytest.param(
            Decimal("1234567890123456789"),
            '"1234567890123456789"',
            "1234567890123456789",
            id="19-digits-text",
        ),
        pytest.param(
            Decimal("0.30000000000000004"),
            '"0.30000000000000004"',
            "0.30000000000000004",
            id="16-digits-text-even-when-a-double-would-hold-it",
        ),
        pytest.param(Decimal("100.50"), "100.50", 100.5, id="trailing-zero-not-significant"),
        pytest.param(
            Decimal("99999999999999999999.9999999999"),
            '"99999999999999999999.9999999999"',
            "99999999999999999999.9999999999",
            id="30-nines-text-not-rounded-first",
        ),
        pytest.param(
            Decimal("9007199254740993"),
            '"9007199254740993"',
            "9007199254740993",
            id="just-past-float-precision-text",
        ),
        pytest.param(Decimal("NaN"), "null", None, id="nan-is-null"),
        pytest.param(Decimal("Infinity"), "null", None, id="infinity-is-null"),
        pytest.param(Decimal("-Infinity"), "null", None, id="minus-infinity-is-null"),
        pytest.param(7, "7", 7, id="plain-int"),
        pytest.param(None, "null", None, id="null"),
    ],
)
def test_decimal_is_exact_as_number_or_as_text(
    value: Decimal | int | None, expected_text: str, expected_value: Any
) -> None:
    assert_fragment(values.decimal(value), expected_text, expected_value)


def test_decimal_kept_as_number_parses_to_the_same_digits() -> None:
    fragment = values.decimal(Decimal("1.5000000000"))

    assert json.loads(fragment, parse_float=Decimal) == Decimal("1.5000000000")
    assert str(json.loads(fragment, parse_float=Decimal)) == "1.5000000000"


@pytest.mark.parametrize(
    ("value", "expected_text", "expected_value"),
    [
        pytest.param(b"", '""', "", id="empty"),
        pytest.param(b"\x00\xff", '"AP8="', "AP8=", id="padded"),
        pytest.param(b"abc", '"YWJj"', "YWJj", id="unpadded"),
        pytest.param(memoryview(b"\x01\x02\x03"), '"AQID"', "AQID", id="memoryview"),
        pytest.param(None, "null", None, id="null"),
    ],
)
def test_binary_is_base64_text(
    value: bytes | memoryview | None, expected_text: str, expected_value: Any
) -> None:
    assert_fragment(values.binary(value), expected_text, expected_value)


@pytest.mark.parametrize(
    ("value", "expected_text", "expected_value"),
    [
        pytest.param("plain", '"plain"', "plain", id="plain"),
        pytest.param('say "hi"', '"say \\"hi\\""', 'say "hi"', id="quotes-escaped"),
        pytest.param("back\\slash", '"back\\\\slash"', "back\\slash", id="backslash-escaped"),
        pytest.param("a\nb\tc", '"a\\nb\\tc"', "a\nb\tc", id="newline-and-tab-escaped"),
        pytest.param("\x00\x1f", '"\\u0000\\u001f"', "\x00\x1f", id="control-chars-escaped"),
        pytest.param("Сделка", '"Сделка"', "Сделка", id="cyrillic-kept-unescaped"),
        pytest.param("", '""', "", id="empty"),
        pytest.param("Привет".encode(), '"Привет"', "Привет", id="utf8-bytes-decoded"),
        pytest.param(b"a\xffb", '"a\ufffdb"', "a\ufffdb", id="invalid-utf8-replaced"),
        pytest.param(
            UUID("12345678-1234-5678-1234-567812345678"),
            '"12345678-1234-5678-1234-567812345678"',
            "12345678-1234-5678-1234-567812345678",
            id="uuid-as-its-text",
        ),
        pytest.param(None, "null", None, id="null"),
    ],
)
def test_text_is_a_json_string(value: Any, expected_text: str, expected_value: Any) -> None:
    assert_fragment(values.text(value), expected_text, expected_value)


@pytest.mark.parametrize(
    ("value", "expected_text", "expected_value"),
    [
        pytest.param("2025-05-31", '"2025-05-31"', "2025-05-31", id="iso-date"),
        pytest.param("0001-01-01", '"0001-01-01"', "0001-01-01", id="first-day-of-year-one"),
        pytest.param("9999-12-31", '"9999-12-31"', "9999-12-31", id="last-four-digit-day"),
        pytest.param("0000-00-00", "null", None, id="mysql-zero-date"),
        pytest.param("2025-00-10", "null", None, id="zero-month"),
        pytest.param("2025-05-00", "null", None, id="zero-day"),
        pytest.param("2024-02-30", "null", None, id="mysql-invalid-day"),
        pytest.param("2023-02-29", "null", None, id="no-leap-day"),
        pytest.param("2024-02-29", '"2024-02-29"', "2024-02-29", id="leap-day"),
        pytest.param("infinity", "null", None, id="infinity"),
        pytest.param("-infinity", "null", None, id="minus-infinity"),
        pytest.param("0044-03-15 BC", "null", None, id="before-christ"),
        pytest.param("12345-01-01", "null", None, id="five-digit-year"),
        pytest.param(None, "null", None, id="null"),
    ],
)
def test_date_text_is_iso_or_null(
    value: str | None, expected_text: str, expected_value: Any
) -> None:
    assert_fragment(values.date_text(value), expected_text, expected_value)


@pytest.mark.parametrize(
    ("value", "expected_text", "expected_value"),
    [
        pytest.param(
            "2025-05-31 23:59:59", '"2025-05-31 23:59:59"', "2025-05-31 23:59:59", id="whole-second"
        ),
        pytest.param(
            "2025-05-31 23:59:59.999999",
            '"2025-05-31 23:59:59"',
            "2025-05-31 23:59:59",
            id="fraction-cut-not-rounded",
        ),
        pytest.param(
            "2025-05-31T23:59:59",
            '"2025-05-31 23:59:59"',
            "2025-05-31 23:59:59",
            id="t-separator-becomes-space",
        ),
        pytest.param(
            "2025-05-31 21:00:00+03",
            '"2025-05-31 21:00:00"',
            "2025-05-31 21:00:00",
            id="timestamptz-offset-dropped",
        ),
        pytest.param(
            "2025-05-31 21:00:00.5+05:30",
            '"2025-05-31 21:00:00"',
            "2025-05-31 21:00:00",
            id="fraction-and-offset-dropped",
        ),
        pytest.param("0000-00-00 00:00:00", "null", None, id="mysql-zero-datetime"),
        pytest.param("2025-00-10 10:00:00", "null", None, id="zero-month"),
        pytest.param("2025-05-00 10:00:00", "null", None, id="zero-day"),
        pytest.param("2024-02-31 10:00:00", "null", None, id="mysql-invalid-day"),
        pytest.param("0044-03-15 12:00:00 BC", "null", None, id="before-christ"),
        pytest.param("0044-03-15 12:00:00+00 BC", "null", None, id="timestamptz-before-christ"),
        pytest.param("infinity", "null", None, id="infinity"),
        pytest.param("-infinity", "null", None, id="minus-infinity"),
        pytest.param("12345-01-01 00:00:00", "null", None, id="five-digit-year"),
        pytest.param(None, "null", None, id="null"),
    ],
)
def test_datetime_text_is_cut_to_seconds_and_never_rezoned(
    value: str | None, expected_text: str, expected_value: Any
) -> None:
    assert_fragment(values.datetime_text(value), expected_text, expected_value)


@pytest.mark.parametrize(
    ("encoder", "value", "expected_text"),
    [
        pytest.param(MOSCOW, "2025-05-31 21:00:00", '"2025-06-01 00:00:00"', id="moscow-next-day"),
        pytest.param(
            MOSCOW, "2025-05-31 21:00:00+00", '"2025-06-01 00:00:00"', id="moscow-utc-offset-text"
        ),
        pytest.param(
            MOSCOW, "2025-05-31 20:59:59.999999", '"2025-05-31 23:59:59"', id="moscow-fraction-cut"
        ),
        pytest.param(MOSCOW, "0000-00-00 00:00:00", "null", id="moscow-zero-is-null"),
        pytest.param(MOSCOW, "infinity", "null", id="moscow-infinity-is-null"),
        pytest.param(MOSCOW, None, "null", id="moscow-null"),
        pytest.param(
            NEW_YORK, "2025-03-09 06:59:59", '"2025-03-09 01:59:59"', id="new-york-before-spring"
        ),
        pytest.param(
            NEW_YORK, "2025-03-09 07:00:00", '"2025-03-09 03:00:00"', id="new-york-after-spring"
        ),
        pytest.param(
            NEW_YORK, "2025-11-02 05:30:00", '"2025-11-02 01:30:00"', id="new-york-before-fall"
        ),
        pytest.param(
            NEW_YORK, "2025-11-02 06:30:00", '"2025-11-02 01:30:00"', id="new-york-after-fall"
        ),
    ],
)
def test_utc_datetime_is_shown_as_wall_clock_of_the_zone(
    encoder: Encoder, value: str | None, expected_text: str
) -> None:
    fragment = encoder(value)

    assert fragment == expected_text
    assert json.loads(fragment) == (None if expected_text == "null" else expected_text[1:-1])


@pytest.mark.parametrize(
    ("encoder", "value"),
    [
        pytest.param(MOSCOW, "9999-12-31 23:59:59", id="moscow-past-year-9999"),
        pytest.param(NEW_YORK, "0001-01-01 00:00:00", id="new-york-before-year-one"),
    ],
)
def test_utc_datetime_whose_local_time_leaves_years_1_to_9999_is_null(
    encoder: Encoder, value: str
) -> None:
    # Like dates beyond 9999 or before Christ, a local time outside years 1..9999 has no
    # YYYY-MM-DD form; it must become null rather than stop the export.
    assert encoder(value) == "null"
