"""Database values to the JSON text Bitrix24 parses, one encoder per kind of column.

Each encoder returns a JSON fragment rather than a Python object, so that a numeric value can
be written digit for digit (the standard encoder has no way to write a Decimal exactly).
The rules for every edge are listed in the README's "Types and values" section.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

Encoder = Callable[[Any], str]

NULL = "null"

# PHP, which Bitrix24 runs on, reads JSON integers exactly up to this bound and turns larger
# ones into floats; larger values are therefore sent as strings of their exact digits.
PHP_INT_MAX = 2**63 - 1

# Decimal digits a PHP float (an IEEE double) represents exactly.
SIGNIFICANT_DIGITS = 15

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")


def text(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).decode("utf-8", errors="replace")
    return json.dumps(str(value), ensure_ascii=False)


def integer(value: Any) -> str:
    if value is None:
        return NULL
    number = int(value)
    return str(number) if -PHP_INT_MAX - 1 <= number <= PHP_INT_MAX else f'"{number}"'


def boolean(value: Any) -> str:
    return NULL if value is None else ("1" if value else "0")


def bits(value: Any) -> str:
    """MySQL BIT(n) arrives as big-endian bytes."""
    return NULL if value is None else integer(int.from_bytes(bytes(value), "big"))


def floating(value: Any) -> str:
    if value is None:
        return NULL
    number = float(value)
    # JSON has no NaN or infinity, and Bitrix24 would store neither: they become null.
    return repr(number) if math.isfinite(number) else NULL


def decimal(value: Any) -> str:
    if value is None:
        return NULL
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        return NULL
    plain = format(number, "f")
    # A double holds every decimal of up to 15 significant digits exactly (DBL_DIG), so such
    # a value travels as a JSON number; a longer one is sent as a string of its digits, so
    # nothing is lost on the wire. The engines write the same rule in SQL.
    return plain if significant_digits(number) <= SIGNIFICANT_DIGITS else f'"{plain}"'


def significant_digits(number: Decimal) -> int:
    """Digits between the first and the last that are not zero (``normalize`` would round
    to the context's 28 digits first)."""
    digits = "".join(str(digit) for digit in number.as_tuple().digits).strip("0")
    return max(len(digits), 1)


def binary(value: Any) -> str:
    return NULL if value is None else f'"{base64.b64encode(bytes(value)).decode("ascii")}"'


def date_text(value: Any) -> str:
    """A date from the database's ISO text; impossible, BC and 5-digit-year dates are null."""
    return _iso_text(value, _DATE)


def datetime_text(value: Any) -> str:
    """A date and time from ISO text, cut to whole seconds, never re-zoned."""
    return _iso_text(value, _DATETIME)


def utc_datetime_in(zone: tzinfo) -> Encoder:
    """An encoder for UTC date-time text shown as the wall-clock time of ``zone``."""

    def encode(value: Any) -> str:
        formatted = datetime_text(value)
        if formatted == NULL:
            return formatted
        try:
            moment = datetime.fromisoformat(formatted[1:-1]).replace(tzinfo=UTC).astimezone(zone)
        except OverflowError:
            # The local time falls outside years 1 to 9999, which Bitrix24 cannot store either.
            return NULL
        return f'"{moment.replace(tzinfo=None).isoformat(" ", "seconds")}"'

    return encode


def _iso_text(value: Any, pattern: re.Pattern[str]) -> str:
    if value is None:
        return NULL
    raw = str(value)
    match = pattern.match(raw)
    if match is None or raw.endswith(" BC") or not _is_calendar_date(match):
        return NULL
    return f'"{match.group(0).replace("T", " ")}"'


def _is_calendar_date(match: re.Match[str]) -> bool:
    # MySQL stores '0000-00-00', dates with a zero month or day and, under ALLOW_INVALID_DATES,
    # days such as 2024-02-31; PHP would reject or roll them over. PostgreSQL writes years
    # beyond 9999 with more digits (which the pattern refuses), BC dates with " BC", and
    # infinity as words.
    year, month, day = (int(part) for part in match.groups()[:3])
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True
