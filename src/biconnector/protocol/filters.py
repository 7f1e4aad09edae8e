"""The `filter` parameter, read into a tree of groups and conditions (PROTOCOL.md).

Bitrix24 sends a Bitrix ORM filter: keys of one map are AND-ed unless the map holds
``LOGIC => OR``; a key is an optional operator prefix followed by a field name; integer keys
hold nested groups. This module only reads the shape. Field names and values stay as the
client sent them; `biconnector.query` resolves them against the table's columns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeAlias

from biconnector.errors import InvalidRequest

# Bounds on what one request may ask the database to evaluate; a report's filter has a few
# dozen conditions, so these leave room for generated ones while keeping the SQL small.
MAX_DEPTH = 8
MAX_CONDITIONS = 500
MAX_VALUES = 10_000
MAX_TEXT = 10_000

Scalar: TypeAlias = str | int | float | bool | None


class Operator(Enum):
    EQUAL = "="
    LESS = "<"
    LESS_OR_EQUAL = "<="
    GREATER = ">"
    GREATER_OR_EQUAL = ">="
    BETWEEN = "><"
    CONTAINS = "%"
    LIKE = "=%"
    IN = "@"
    IS_NULL = "is null"


# Longest first, so that ">=" is not read as ">" followed by a field named "=...".
_PREFIXES: tuple[tuple[str, Operator], ...] = (
    ("><", Operator.BETWEEN),
    (">=", Operator.GREATER_OR_EQUAL),
    ("<=", Operator.LESS_OR_EQUAL),
    ("=%", Operator.LIKE),
    ("%=", Operator.LIKE),
    ("=", Operator.EQUAL),
    (">", Operator.GREATER),
    ("<", Operator.LESS),
    ("%", Operator.CONTAINS),
    ("@", Operator.IN),
)

_INTEGER_KEY = re.compile(r"^\d+$")


@dataclass(frozen=True)
class Condition:
    """One key of a filter: ``field <operator> values``, negated by a leading ``!``.

    ``path`` is where the key stood in the request (``filter[0][=STAGE]``), for messages.
    """

    path: str
    field: str
    operator: Operator
    negated: bool
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class Group:
    """Conditions and groups joined by AND, or by OR when the map held ``LOGIC => OR``."""

    any_of: bool
    items: tuple[Node, ...]


Node: TypeAlias = Condition | Group


def read_filter(value: Any) -> Group | None:
    """The filter as a tree, or None when the request has none."""
    if value in (None, "", [], {}):
        return None
    counter = _Counter()
    return _group(value, "filter", 0, counter)


class _Counter:
    """Conditions (groups count as one) and values read so far, against the bounds."""

    def __init__(self) -> None:
        self.conditions = 0
        self.values = 0

    def add(self, key: str, values: int) -> None:
        self.conditions += 1
        self.values += values
        if self.conditions > MAX_CONDITIONS:
            raise InvalidRequest(
                f"The filter has more than {MAX_CONDITIONS} conditions (at {key}); "
                "split the request or narrow the filter."
            )
        if self.values > MAX_VALUES:
            raise InvalidRequest(
                f"The filter has more than {MAX_VALUES} values in all (at {key}); "
                "split the request or narrow the filter."
            )


def _group(value: Any, path: str, depth: int, counter: _Counter) -> Group:
    if depth > MAX_DEPTH:
        raise InvalidRequest(f"{path} is nested deeper than {MAX_DEPTH} groups.")
    entries = _entries(value, path)
    # An empty group restricts nothing, as in Bitrix's ORM; it still counts against the bound.
    counter.add(path, 0)
    any_of = False
    items: list[Node] = []
    for key, item in entries:
        if len(key) > MAX_TEXT:
            raise InvalidRequest(f"{path} holds a key longer than {MAX_TEXT} characters.")
        where = f"{path}[{key}]"
        if key.upper() == "LOGIC":
            any_of = _logic(item, where)
        elif _INTEGER_KEY.match(key):
            items.append(_group(item, where, depth + 1, counter))
        else:
            condition = _condition(key, item, where, depth > 0)
            counter.add(where, len(condition.values))
            items.append(condition)
    return Group(any_of, tuple(items))


def _entries(value: Any, path: str) -> list[tuple[str, Any]]:
    # JSON may carry a group's nested groups as a list; forms always give a map.
    if isinstance(value, Mapping):
        return [(str(key), item) for key, item in value.items()]
    if isinstance(value, list):
        return [(str(index), item) for index, item in enumerate(value)]
    raise InvalidRequest(f"{path} must be a map of conditions, not {_kind(value)}.")


def _logic(value: Any, where: str) -> bool:
    if isinstance(value, str) and value.strip().upper() in ("AND", "OR"):
        return value.strip().upper() == "OR"
    raise InvalidRequest(f"{where} must be AND or OR; got {value!r}.")


def _condition(key: str, value: Any, where: str, in_group: bool) -> Condition:
    negated = key.startswith("!")
    rest = key[1:] if negated else key
    operator, field = _split_prefix(rest)
    if not field:
        raise InvalidRequest(f"{where} names no field after its operator.")

    if _means_is_null(operator, value, in_group):
        return Condition(where, field, Operator.IS_NULL, negated, ())
    values = _values(value, where)
    if not values:
        raise InvalidRequest(f"{where} has an empty list of values.")
    if operator is Operator.BETWEEN and len(values) != 2:
        raise InvalidRequest(
            f"{where} needs exactly two values, the lower and the upper bound; got {len(values)}."
        )
    return Condition(where, field, operator, negated, values)


def _split_prefix(rest: str) -> tuple[Operator, str]:
    for prefix, operator in _PREFIXES:
        if rest.startswith(prefix):
            return operator, rest[len(prefix) :]
    return Operator.EQUAL, rest


def _means_is_null(operator: Operator, value: Any, in_group: bool) -> bool:
    """Bitrix24's IS_NULL is ``=FIELD => false`` (PROTOCOL.md).

    JSON keeps ``false`` (and ``null``), so they always mean IS NULL. PHP's form encoding
    writes false as the scalar ``0``: inside a portal's dimension group EQUALS always carries
    a list, so a scalar ``0`` there can only be IS_NULL, while at the top level a person's
    ``FIELD=0`` means equal to zero.
    """
    if operator is not Operator.EQUAL:
        return False
    if value is None or value is False:
        return True
    return in_group and value == "0"


def _values(value: Any, where: str) -> tuple[Scalar, ...]:
    if isinstance(value, Mapping):
        items = list(value.values())
    elif isinstance(value, list):
        items = value
    else:
        items = [value]
    for item in items:
        if isinstance(item, Mapping | list):
            raise InvalidRequest(f"{where} must hold single values, not {_kind(item)}.")
        if item is None:
            raise InvalidRequest(f"{where} holds null among its values; use IS NULL instead.")
        if isinstance(item, str) and len(item) > MAX_TEXT:
            raise InvalidRequest(f"{where} holds a value longer than {MAX_TEXT} characters.")
    return tuple(items)


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a map"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
