"""Filter values as the portal writes them, read into numbers, dates and date-times.

Portals write dates in their culture (PROTOCOL.md): ``31.05.2025`` and
``31.05.2025 23:59:59`` in Russian and most European ones, ``05/31/2025`` and
``05/31/2025 11:59:59 pm`` in US ones, ISO from people. A slash date is ambiguous, so the
order of its day and month is a setting.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Literal

from biconnector.values import significant_digits

SlashOrder = Literal["month-first", "day-first"]

_ISO = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"(?:[ T](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,]\d+)?)?"
    r"\s*(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_DOTTED = re.compile(
    r"(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})"
    r"(?:\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?"
)
_SLASHED = re.compile(
    r"(?P<first>\d{1,2})/(?P<second_part>\d{1,2})/(?P<year>\d{4})"
    r"(?:\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    r"(?:\s*(?P<meridiem>[aApP][mM]))?)?"
)
_INTEGER = re.compile(r"[+-]?\d{1,20}")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,4})?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_LARGEST_EXPONENT = 64
_MOST_DIGITS = 65


class LiteralError(ValueError):
    """A value that does not read as what the field holds; the message says what was expected."""


def read_integer(text: str) -> int | Decimal:
    """An integer, or the exact decimal a comparison with an integer field may use.

    ``true`` and ``false`` are 1 and 0, as PHP writes them and as MySQL stores BOOLEAN.
    """
    stripped = text.strip()
    if stripped.lower() in ("true", "false"):
        return int(read_boolean(stripped))
    if _INTEGER.fullmatch(stripped):
        return int(stripped)
    number = read_decimal(stripped)
    return int(number) if number == number.to_integral_value() else number


def read_decimal(text: str) -> Decimal:
    """An exact decimal; ``1,5`` is read as 1.5. Beyond 65 digits or 10^±64 it is refused,
    which no database column holds and no driver binds reliably."""
    stripped = text.strip()
    if _DECIMAL_COMMA.fullmatch(stripped):
        stripped = stripped.replace(",", ".")
    if not _DECIMAL.fullmatch(stripped):
        raise LiteralError("expected a number such as 42 or 3.14")
    try:
        number = Decimal(stripped)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise LiteralError("expected a number such as 42 or 3.14") from exc
    too_long = significant_digits(number) > _MOST_DIGITS
    if number and (abs(number.adjusted()) > _LARGEST_EXPONENT or too_long):
        raise LiteralError(f"expected at most {_MOST_DIGITS} digits and a magnitude within 10^±64")
    return number


def read_boolean(text: str) -> bool:
    folded = text.strip().lower()
    if folded in ("1", "true", "y", "yes"):
        return True
    if folded in ("0", "false", "n", "no"):
        return False
    raise LiteralError("expected 1 or 0 (true or false)")


def read_datetime(text: str, slash_order: SlashOrder, zone: tzinfo) -> datetime:
    """A wall-clock date-time in ``zone``; a date alone is its midnight, seconds are whole.

    A value with an offset or ``Z`` names an instant and is shown in ``zone``, the time zone
    the service exports date-times in.
    """
    try:
        moment = read_instant(text, slash_order, zone).astimezone(zone)
    except OverflowError as exc:
        raise LiteralError("the moment falls outside the years 1 to 9999") from exc
    return moment.replace(tzinfo=None)


def read_instant(text: str, slash_order: SlashOrder, zone: tzinfo) -> datetime:
    """The moment a value names, as an aware date-time in UTC.

    A value without an offset is a wall-clock time in ``zone``; in the hour a change from
    summer time repeats, it is the first of the two moments, and a time the change to summer
    time skips is read with the offset in force before it.
    """
    stripped = text.strip()
    for parse in (_iso, _dotted, _slashed):
        found = parse(stripped, slash_order)
        if found is not None:
            moment, offset = found
            try:
                return moment.replace(tzinfo=offset or zone).astimezone(UTC)
            except OverflowError as exc:
                raise LiteralError("the moment falls outside the years 1 to 9999") from exc
    raise LiteralError(
        "expected a date such as 2025-05-31, 31.05.2025 or 05/31/2025, optionally with a time "
        "such as 23:59:59"
    )


def read_date(text: str, slash_order: SlashOrder, zone: tzinfo) -> date:
    """A date; a date-time counts by its date part (PROTOCOL.md)."""
    return read_datetime(text, slash_order, zone).date()


_Found = tuple[datetime, tzinfo | None] | None


def _iso(text: str, _: SlashOrder) -> _Found:
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    parts = match.groupdict()
    moment = _moment(parts["year"], parts["month"], parts["day"], parts)
    return moment, _offset(parts["zone"])


def _dotted(text: str, _: SlashOrder) -> _Found:
    match = _DOTTED.fullmatch(text)
    if match is None:
        return None
    parts = match.groupdict()
    return _moment(parts["year"], parts["month"], parts["day"], parts), None


def _slashed(text: str, slash_order: SlashOrder) -> _Found:
    match = _SLASHED.fullmatch(text)
    if match is None:
        return None
    parts = match.groupdict()
    first, second = parts["first"], parts["second_part"]
    month, day = (first, second) if slash_order == "month-first" else (second, first)
    meridiem = (parts["meridiem"] or "").lower()
    if meridiem and parts["hour"] is not None:
        hour = int(parts["hour"])
        if not 1 <= hour <= 12:
            raise LiteralError("a time with am or pm has an hour from 1 to 12")
        parts["hour"] = str(hour % 12 + (12 if meridiem == "pm" else 0))
    return _moment(parts["year"], month, day, parts), None


def _moment(year: str, month: str, day: str, parts: dict[str, str | None]) -> datetime:
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
        )
    except ValueError as exc:
        raise LiteralError(f"no such date or time ({exc})") from exc


def _offset(zone: str | None) -> tzinfo | None:
    if zone is None:
        return None
    if zone == "Z":
        return UTC
    digits = zone[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    if delta >= timedelta(hours=24):
        raise LiteralError(f"no such offset from UTC ({zone})")
    return timezone(delta if zone[0] == "+" else -delta)
