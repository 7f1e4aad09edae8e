"""A data call's filter and order, resolved against the table's columns.

Every field name becomes a column of the catalog and every value the column's own type, so
nothing the client sent reaches SQL but as a typed parameter. What cannot be applied exactly
is refused with a message that names the key.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from biconnector.catalog import Column, Fields
from biconnector.engines.base import ColumnInfo, Ordering, Predicate, Where
from biconnector.errors import InvalidRequest, UnsupportedParameter
from biconnector.protocol import literals
from biconnector.protocol.filters import Condition, Group, Operator, Scalar
from biconnector.settings import Settings

_TEXT_OPERATORS = (Operator.CONTAINS, Operator.LIKE)
# Beyond every integer column of both engines (BIGINT UNSIGNED ends below 2^64).
_INTEGER_BOUND = 10**20


def resolve_filter(group: Group | None, fields: Fields, settings: Settings) -> Where | None:
    if group is None:
        return None
    return _where(group, fields, settings)


def resolve_order(order: Sequence[tuple[str, bool]], fields: Fields) -> tuple[Ordering, ...]:
    resolved = []
    for name, descending in order:
        column = fields.find(name)
        if column is None:
            raise InvalidRequest(
                f"order[{name}] names an unknown field: use a code from table_description."
            )
        resolved.append(Ordering(column.info, descending))
    return tuple(resolved)


def deterministic_order(
    order: tuple[Ordering, ...], columns: Sequence[Column], primary_key: Sequence[str]
) -> tuple[Ordering, ...]:
    """The order completed so that every page of an offset is the same on every call.

    The primary key decides ties when the user may read all of it. Otherwise every column
    does, by its exact value (text by its bytes, which no collation can call equal), which
    is deterministic because rows equal in every column are exported alike.
    """
    by_name = {column.info.name: column.info for column in columns}
    if primary_key and all(name in by_name for name in primary_key):
        ordered = {item.column.name for item in order}
        keys = [by_name[name] for name in primary_key if name not in ordered]
        return order + tuple(Ordering(info) for info in keys)
    inexact = [column for column in columns if not column.info.exact_order]
    if inexact:
        raise UnsupportedParameter(
            "offset needs a deterministic order, and this table has no primary key the user "
            f"may read while field {inexact[0].code} can only be sorted by a prefix of its "
            "values: leave out offset, or add a primary key."
        )
    return order + tuple(Ordering(column.info, tiebreak=True) for column in columns)


def _where(group: Group, fields: Fields, settings: Settings) -> Where:
    items: list[Predicate | Where] = []
    for item in group.items:
        if isinstance(item, Group):
            items.append(_where(item, fields, settings))
        else:
            items.append(_predicate(item, fields, settings))
    return Where(group.any_of, tuple(items))


def _predicate(condition: Condition, fields: Fields, settings: Settings) -> Predicate:
    column = fields.find(condition.field)
    if column is None:
        raise InvalidRequest(
            f"{condition.path} names an unknown field {condition.field!r}, or an unknown "
            "operator: use a code from table_description after one of the prefixes = ! < <= "
            "> >= >< !>< % !% =% @ !@."
        )
    info = column.info
    if info.binary and condition.operator is not Operator.IS_NULL:
        raise UnsupportedParameter(
            f"{condition.path}: field {column.code} holds binary data, which takes no filter "
            "but IS NULL."
        )
    values = tuple(_typed(condition, column, value, settings) for value in condition.values)
    return Predicate(condition.path, info, condition.operator, condition.negated, values)


def _typed(condition: Condition, column: Column, value: Scalar, settings: Settings) -> Any:
    text = _text(value)
    if "\x00" in text:
        raise InvalidRequest(f"{condition.path} holds a NUL character, which no field can match.")
    info = column.info
    if condition.operator in _TEXT_OPERATORS:
        if info.instant:
            # The database sees the moment in UTC; only the export shows it in the zone.
            raise UnsupportedParameter(
                f"{condition.path}: field {column.code} holds moments in time, which take "
                "comparisons but no contains or LIKE."
            )
        return text
    try:
        return _convert(info, text, settings)
    except literals.LiteralError as exc:
        raise InvalidRequest(
            f"{condition.path}: {text!r} does not fit field {column.code} of type {info.type}: "
            f"{exc}."
        ) from exc


def _convert(info: ColumnInfo, text: str, settings: Settings) -> Any:
    order, zone = settings.slash_date_order, settings.timezone
    if info.type == "int":
        if info.kind == "boolean":
            return literals.read_boolean(text)
        integer = literals.read_integer(text)
        if not -_INTEGER_BOUND < integer < _INTEGER_BOUND:
            raise literals.LiteralError("the number is beyond the range of any integer column")
        return integer
    if info.type == "double":
        number = literals.read_decimal(text)
        return number if info.float_bits is None else _floating(number, info.float_bits)
    if info.type == "date":
        return literals.read_date(text, order, zone)
    if info.type == "datetime":
        if info.instant:
            return literals.read_instant(text, order, zone)
        return literals.read_datetime(text, order, zone)
    return text


def _floating(number: Decimal, bits: int) -> float:
    """The bound as the column's own floating-point type holds it.

    A REAL column stores 0.1 as 0.100000001...: exported as 0.1, it must equal 0.1.
    """
    value = float(number)
    if bits == 32 and math.isfinite(value):
        try:
            (value,) = struct.unpack("f", struct.pack("f", value))
        except OverflowError:  # older Pythons refuse to round what a float32 cannot hold
            value = math.inf
    if not math.isfinite(value):
        raise literals.LiteralError("the number is beyond the range of the field's type")
    return value


def _text(value: Scalar) -> str:
    # PHP's form encoding writes true as 1 and false as 0; JSON keeps them as booleans.
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value)


__all__ = ["deterministic_order", "resolve_filter", "resolve_order"]
